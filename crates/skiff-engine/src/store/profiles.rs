//! Saved hosts ("profiles"): one JSON file, `hosts.json`, in Skiff's config folder.
//!
//! This module owns that file's format (`{"version":1,"hosts":[…]}`), its validation and its
//! atomic replacement (temp file + rename, mode 0600, folder 0700), plus importing hosts from
//! an `ssh_config` file (`engine::Reach` turns a profile into connection settings). It holds no secret:
//! passwords and passphrases live in the OS keyring (`store::secrets`), keyed by profile id.
//! A `hosts.json` that cannot be read or parsed is an error naming the file; it is never
//! overwritten silently.
//!
//! The API is synchronous; async callers wrap calls in `spawn_blocking`. Writers within one
//! process are serialised; two processes saving at the same instant may lose one update
//! (the file itself is never torn).

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::ssh::SshConfig;

/// The file, inside [`Profiles::dir`].
const HOSTS_FILE: &str = "hosts.json";

/// The format version written; files with a higher one are refused (not downgraded).
const FORMAT_VERSION: u32 = 1;

/// How a profile authenticates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AuthKind {
    /// Like OpenSSH: ssh-agent, the configured or default keys, then password prompts.
    Auto,
    /// Only the key file in [`Profile::key_path`] (its passphrase, if any, in the keyring).
    Key,
    /// Only password / keyboard-interactive (the password in the keyring).
    Password,
}

/// A saved host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    /// Stable id; empty for a profile not saved yet ([`Profiles::save`] assigns one).
    pub id: String,
    /// What the person calls it.
    pub name: String,
    /// A host name, an address, or an `~/.ssh/config` alias (resolved when connecting).
    pub host: String,
    pub port: u16,
    pub user: String,
    pub auth: AuthKind,
    /// The private key for [`AuthKind::Key`].
    pub key_path: Option<PathBuf>,
    /// Folder the local pane opens at.
    pub local_start: Option<String>,
    /// Folder the remote pane opens at (default: the login folder).
    pub remote_start: Option<String>,
    /// A known_hosts file of its own (the local sandbox uses this); None = the usual ones.
    #[serde(default)]
    pub known_hosts: Option<PathBuf>,
}

/// What `hosts.json` holds.
#[derive(Debug, Serialize, Deserialize)]
struct HostsFile {
    version: u32,
    hosts: Vec<Profile>,
}

/// The saved hosts in one folder.
#[derive(Debug)]
pub struct Profiles {
    dir: PathBuf,
    /// Serialises read-modify-write cycles within this process.
    lock: Mutex<()>,
}

impl Profiles {
    /// `$SKIFF_CONFIG_DIR`, else `$XDG_CONFIG_HOME/skiff` (absolute only), else
    /// `~/.config/skiff`.
    pub fn default_dir() -> PathBuf {
        let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
        if let Some(dir) = var("SKIFF_CONFIG_DIR") {
            return dir;
        }
        if let Some(xdg) = var("XDG_CONFIG_HOME").filter(|p| p.is_absolute()) {
            return xdg.join("skiff");
        }
        let home = var("HOME").or_else(|| var("USERPROFILE")).unwrap_or_else(std::env::temp_dir);
        home.join(".config").join("skiff")
    }

    /// Use `dir`, creating it (mode 0700) when missing.
    pub fn open(dir: &Path) -> Result<Profiles> {
        if !dir.is_dir() {
            let mut builder = fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::DirBuilderExt;
                builder.mode(0o700);
            }
            builder.create(dir).map_err(|e| {
                Error::local_io("create config folder", dir, &e)
                    .hint("check that the folder can be created, or set SKIFF_CONFIG_DIR")
            })?;
        }
        Ok(Profiles { dir: dir.to_path_buf(), lock: Mutex::new(()) })
    }

    /// The folder holding `hosts.json`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn file(&self) -> PathBuf {
        self.dir.join(HOSTS_FILE)
    }

    /// All saved hosts, sorted by name (case-insensitive).
    pub fn list(&self) -> Result<Vec<Profile>> {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut hosts = self.load()?;
        sort(&mut hosts);
        Ok(hosts)
    }

    /// The host with this id.
    pub fn get(&self, id: &str) -> Result<Option<Profile>> {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        Ok(self.load()?.into_iter().find(|p| p.id == id))
    }

    /// Save `p`: a new id when `p.id` is empty, else replace the profile with that id (or add
    /// it). Returns what was saved (trimmed, with its id).
    pub fn save(&self, p: Profile) -> Result<Profile> {
        let p = validate(p)?;
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut hosts = self.load()?;
        let p = self.put(&mut hosts, p);
        self.store(&hosts)?;
        Ok(p)
    }

    /// Remove the host with this id (NotFound when there is none). Its keyring secrets are
    /// the caller's to delete.
    pub fn delete(&self, id: &str) -> Result<()> {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut hosts = self.load()?;
        let before = hosts.len();
        hosts.retain(|p| p.id != id);
        if hosts.len() == before {
            return Err(not_found(id));
        }
        self.store(&hosts)
    }

    /// Save a copy of the host with this id under a new id, named "NAME (copy)" (then
    /// "NAME (copy 2)", …). Keyring secrets are not copied.
    pub fn duplicate(&self, id: &str) -> Result<Profile> {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut hosts = self.load()?;
        let original = hosts.iter().find(|p| p.id == id).cloned().ok_or_else(|| not_found(id))?;
        let taken = |name: &str| hosts.iter().any(|p| p.name.eq_ignore_ascii_case(name));
        let mut name = format!("{} (copy)", original.name);
        let mut n = 2;
        while taken(&name) {
            name = format!("{} (copy {n})", original.name);
            n += 1;
        }
        let copy = Profile { id: String::new(), name, ..original };
        let copy = self.put(&mut hosts, copy);
        self.store(&hosts)?;
        Ok(copy)
    }

    /// Save the concrete hosts of an ssh_config file (`Host` names without wildcards or
    /// negations, including those of `Include`d files) as profiles, resolved the way OpenSSH
    /// would (HostName, Port, User, IdentityFile). Each profile's name *and* host is the
    /// alias, so the config's other settings (ProxyJump, HostName, …) apply when connecting
    /// through `~/.ssh/config`; importing from another file keeps port, user and key but
    /// not those. Auth is [`AuthKind::Key`] (with the first IdentityFile) when the config sets
    /// an IdentityFile, else [`AuthKind::Auto`]. Aliases already saved (same name, or same
    /// host + port + user) are skipped. Returns the new profiles.
    pub fn import_ssh_config(&self, config: &Path) -> Result<Vec<Profile>> {
        let cfg = SshConfig::load(config).map_err(|e| {
            Error::new(ErrorKind::Config, "import ssh config", e.to_string())
                .path(config.display().to_string())
                .hint("fix the ssh_config file, or pick another one")
        })?;
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut hosts = self.load()?;
        let mut added = Vec::new();
        for alias in cfg.host_aliases() {
            let h = cfg.resolve(&alias);
            let exists = hosts.iter().any(|p| {
                p.name.eq_ignore_ascii_case(&alias)
                    || (p.host.eq_ignore_ascii_case(&alias) && p.port == h.port && p.user == h.user)
            });
            if exists {
                continue;
            }
            let key = h.identity_files_explicit.then(|| h.identity_files.first().cloned()).flatten();
            let candidate = Profile {
                id: String::new(),
                name: alias.clone(),
                host: alias.clone(),
                port: h.port,
                user: h.user.clone(),
                auth: if key.is_some() { AuthKind::Key } else { AuthKind::Auto },
                key_path: key,
                local_start: None,
                remote_start: None,
                known_hosts: None,
            };
            match validate(candidate) {
                Ok(p) => added.push(self.put(&mut hosts, p)),
                Err(e) => tracing::warn!(alias, error = %e, "ssh_config host not imported"),
            }
        }
        if !added.is_empty() {
            self.store(&hosts)?;
        }
        Ok(added)
    }

    /// Insert or replace `p` in `hosts`, giving it an id when it has none.
    fn put(&self, hosts: &mut Vec<Profile>, mut p: Profile) -> Profile {
        if p.id.is_empty() {
            p.id = new_id(hosts);
        }
        match hosts.iter_mut().find(|h| h.id == p.id) {
            Some(slot) => *slot = p.clone(),
            None => hosts.push(p.clone()),
        }
        p
    }

    /// Read `hosts.json`; a missing file is no hosts.
    fn load(&self) -> Result<Vec<Profile>> {
        let path = self.file();
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::local_io("read saved hosts", &path, &e)),
        };
        let corrupt = |why: String| {
            Error::new(ErrorKind::Config, "read saved hosts", why)
                .path(path.display().to_string())
                .hint("the file was left as it is: fix it or move it away (Skiff then starts with no saved hosts)")
        };
        let file: HostsFile =
            serde_json::from_slice(&bytes).map_err(|e| corrupt(format!("the file is not valid saved-hosts JSON ({e})")))?;
        if file.version > FORMAT_VERSION {
            return Err(corrupt(format!(
                "the file has format version {}, newer than this Skiff understands ({FORMAT_VERSION})",
                file.version
            ))
            .hint("update Skiff; the file was left as it is"));
        }
        Ok(file.hosts)
    }

    /// Replace `hosts.json` atomically: write a temp file (0600) beside it, sync, rename.
    fn store(&self, hosts: &[Profile]) -> Result<()> {
        let mut hosts = hosts.to_vec();
        sort(&mut hosts);
        let file = HostsFile { version: FORMAT_VERSION, hosts };
        let mut json = serde_json::to_vec_pretty(&file)
            .map_err(|e| Error::new(ErrorKind::Config, "save hosts", e.to_string()))?;
        json.push(b'\n');
        let path = self.file();
        let tmp = self.dir.join(format!(".{HOSTS_FILE}.{}.{:08x}.tmp", std::process::id(), rand::random::<u32>()));
        let write = || -> io::Result<()> {
            let mut opts = fs::OpenOptions::new();
            opts.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                opts.mode(0o600);
            }
            let mut f = opts.open(&tmp)?;
            f.write_all(&json)?;
            f.sync_all()?;
            drop(f);
            fs::rename(&tmp, &path)?;
            // Make the rename itself durable; not all platforms can open a directory.
            if let Ok(d) = fs::File::open(&self.dir) {
                let _ = d.sync_all();
            }
            Ok(())
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            Error::local_io("save hosts", &path, &e).hint("check that the config folder is writable and the disk not full")
        })
    }
}

fn sort(hosts: &mut [Profile]) {
    hosts.sort_by(|a, b| a.name.to_lowercase().cmp(&b.name.to_lowercase()).then_with(|| a.id.cmp(&b.id)));
}

fn not_found(id: &str) -> Error {
    Error::new(ErrorKind::NotFound, "find saved host", format!("there is no saved host with id {id:?}"))
        .hint("reload the host list; it may have been deleted")
}

/// 12 random hex digits, unique among `hosts`.
fn new_id(hosts: &[Profile]) -> String {
    loop {
        let bytes: [u8; 6] = rand::random();
        let id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        if !hosts.iter().any(|p| p.id == id) {
            return id;
        }
    }
}

/// Trim and check a profile before it is saved.
fn validate(mut p: Profile) -> Result<Profile> {
    let bad = |what: &str| Error::new(ErrorKind::Config, "save host", what.to_string());
    p.id = p.id.trim().to_string();
    p.host = p.host.trim().to_string();
    p.user = p.user.trim().to_string();
    p.name = p.name.trim().to_string();
    if p.host.is_empty() {
        return Err(bad("the host is empty").hint("enter a host name, an address or an ~/.ssh/config alias"));
    }
    if p.host.chars().any(|c| c.is_whitespace() || c.is_control()) || p.host.starts_with('-') {
        return Err(bad(&format!("{:?} is not a host name", p.host)).hint("enter a host name without spaces"));
    }
    if p.port == 0 {
        return Err(bad("the port is 0").hint("SSH usually listens on port 22"));
    }
    if p.user.is_empty() {
        return Err(bad("the user name is empty").hint("enter the user to log in as"));
    }
    if p.user.chars().any(|c| c.is_control()) {
        return Err(bad("the user name holds control characters").hint("enter the user to log in as"));
    }
    if p.id.chars().any(|c| c.is_control() || c == ':') {
        return Err(bad("the id holds ':' or control characters").hint("leave the id empty for a new host"));
    }
    if p.auth == AuthKind::Key && p.key_path.as_ref().is_none_or(|k| k.as_os_str().is_empty()) {
        return Err(bad("key authentication needs a key file").hint("choose a private key file, or pick Auto"));
    }
    if p.key_path.as_ref().is_some_and(|k| k.as_os_str().is_empty()) {
        p.key_path = None;
    }
    for start in [&mut p.local_start, &mut p.remote_start] {
        if start.as_deref().is_some_and(|s| s.trim().is_empty()) {
            *start = None;
        }
    }
    if p.name.is_empty() {
        p.name = if p.port == 22 { format!("{}@{}", p.user, p.host) } else { format!("{}@{}:{}", p.user, p.host, p.port) };
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(name: &str) -> Profile {
        Profile {
            id: String::new(),
            name: name.into(),
            host: "example.com".into(),
            port: 22,
            user: "alice".into(),
            auth: AuthKind::Auto,
            key_path: None,
            local_start: None,
            remote_start: Some("/srv".into()),
            known_hosts: None,
        }
    }

    fn open() -> (tempfile::TempDir, Profiles) {
        let tmp = tempfile::tempdir().unwrap();
        let p = Profiles::open(&tmp.path().join("cfg/skiff")).unwrap();
        (tmp, p)
    }

    #[test]
    fn save_list_get_delete_round_trip() {
        let (_tmp, store) = open();
        assert!(store.list().unwrap().is_empty());
        let b = store.save(sample("beta")).unwrap();
        let a = store.save(sample("Alpha")).unwrap();
        assert_eq!(a.id.len(), 12);
        assert!(a.id.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a.id, b.id);
        let names: Vec<String> = store.list().unwrap().into_iter().map(|p| p.name).collect();
        assert_eq!(names, ["Alpha", "beta"]);
        assert_eq!(store.get(&a.id).unwrap(), Some(a.clone()));
        assert_eq!(store.get("nope").unwrap(), None);

        // Replace by id.
        let renamed = store.save(Profile { name: "gamma".into(), port: 2222, ..a.clone() }).unwrap();
        assert_eq!(renamed.id, a.id);
        let all = store.list().unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(store.get(&a.id).unwrap().unwrap().port, 2222);

        store.delete(&a.id).unwrap();
        assert_eq!(store.list().unwrap(), vec![b]);
        assert_eq!(store.delete(&a.id).unwrap_err().kind, ErrorKind::NotFound);
    }

    #[test]
    fn file_format_and_modes() {
        let (_tmp, store) = open();
        let p = store.save(Profile { known_hosts: Some("/k".into()), ..sample("x") }).unwrap();
        let text = fs::read_to_string(store.dir().join("hosts.json")).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["version"], 1);
        let h = &v["hosts"][0];
        assert_eq!(h["id"], p.id.as_str());
        assert_eq!(h["auth"], "auto");
        assert_eq!(h["remoteStart"], "/srv");
        assert_eq!(h["knownHosts"], "/k");
        assert!(h["keyPath"].is_null());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&store.dir().join("hosts.json")), 0o600);
            assert_eq!(mode(store.dir()), 0o700);
        }
        // No temp files left behind.
        assert_eq!(fs::read_dir(store.dir()).unwrap().count(), 1);
        // knownHosts may be absent (older files).
        fs::write(
            store.dir().join("hosts.json"),
            r#"{"version":1,"hosts":[{"id":"abc","name":"n","host":"h","port":22,"user":"u","auth":"key","keyPath":"/id","localStart":null,"remoteStart":null}]}"#,
        )
        .unwrap();
        let got = store.get("abc").unwrap().unwrap();
        assert_eq!(got.auth, AuthKind::Key);
        assert_eq!(got.known_hosts, None);
    }

    #[test]
    fn validation() {
        let (_tmp, store) = open();
        for bad in [
            Profile { host: " ".into(), ..sample("a") },
            Profile { host: "a b".into(), ..sample("a") },
            Profile { port: 0, ..sample("a") },
            Profile { user: "".into(), ..sample("a") },
            Profile { auth: AuthKind::Key, key_path: None, ..sample("a") },
        ] {
            let e = store.save(bad.clone()).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Config, "{bad:?}");
            assert!(e.hint.is_some());
        }
        assert!(store.list().unwrap().is_empty());
        let p = store.save(Profile { name: " ".into(), host: " h ".into(), port: 2200, ..sample("") }).unwrap();
        assert_eq!((p.name.as_str(), p.host.as_str()), ("alice@h:2200", "h"));
    }

    #[test]
    fn corrupt_file_is_reported_and_kept() {
        let (_tmp, store) = open();
        let path = store.dir().join("hosts.json");
        fs::write(&path, "{ not json").unwrap();
        let e = store.list().unwrap_err();
        assert_eq!(e.kind, ErrorKind::Config);
        assert!(e.to_string().contains(&path.display().to_string()), "{e}");
        assert!(store.save(sample("x")).is_err());
        assert_eq!(fs::read_to_string(&path).unwrap(), "{ not json");

        fs::write(&path, r#"{"version":7,"hosts":[]}"#).unwrap();
        let e = store.list().unwrap_err();
        assert!(e.detail.contains("version 7"), "{e}");
    }

    #[test]
    fn duplicate_names_copies() {
        let (_tmp, store) = open();
        let a = store.save(sample("web")).unwrap();
        let c1 = store.duplicate(&a.id).unwrap();
        let c2 = store.duplicate(&a.id).unwrap();
        let c3 = store.duplicate(&a.id).unwrap();
        assert_eq!(c1.name, "web (copy)");
        assert_eq!(c2.name, "web (copy 2)");
        assert_eq!(c3.name, "web (copy 3)");
        assert_ne!(c1.id, a.id);
        assert_eq!(Profile { id: a.id.clone(), name: a.name.clone(), ..c1 }, a);
        assert_eq!(store.list().unwrap().len(), 4);
        assert_eq!(store.duplicate("missing").unwrap_err().kind, ErrorKind::NotFound);
    }

    #[test]
    fn import_from_ssh_config() {
        let (tmp, store) = open();
        let cfg = tmp.path().join("ssh_config");
        fs::write(
            &cfg,
            "Host web web2 *.corp !bad\n  HostName web.example.com\n  Port 2022\n  User deploy\n\
             Host db\n  IdentityFile /keys/db\n\
             Host already\n  User x\n\
             Host *\n  User fallback\n",
        )
        .unwrap();
        store.save(Profile { name: "already".into(), host: "other".into(), ..sample("") }).unwrap();
        let added = store.import_ssh_config(&cfg).unwrap();
        let names: Vec<&str> = added.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["web", "web2", "db"]);
        let web = &added[0];
        assert_eq!((web.host.as_str(), web.port, web.user.as_str()), ("web", 2022, "deploy"));
        assert_eq!(web.auth, AuthKind::Auto);
        assert_eq!(web.key_path, None);
        let db = &added[2];
        assert_eq!((db.auth.clone(), db.key_path.clone()), (AuthKind::Key, Some(PathBuf::from("/keys/db"))));
        assert_eq!(db.user, "fallback");
        assert_eq!(store.list().unwrap().len(), 4);
        // A second import adds nothing.
        assert!(store.import_ssh_config(&cfg).unwrap().is_empty());

        fs::write(&cfg, "Host x\n  Port nope\n").unwrap();
        let e = store.import_ssh_config(&cfg).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Config);
        assert!(e.to_string().contains("ssh_config"), "{e}");
    }

    #[test]
    fn default_dir_prefers_skiff_config_dir() {
        // Only checks the shape: the environment is shared with other tests.
        let d = Profiles::default_dir();
        assert!(d.ends_with("skiff") || std::env::var_os("SKIFF_CONFIG_DIR").is_some(), "{}", d.display());
    }
}

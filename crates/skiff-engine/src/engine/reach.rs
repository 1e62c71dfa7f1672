//! How to reach a server: a saved host ([`Profile`]) or an address with the connection
//! overrides a person gave, and the one place either becomes [`ConnectOptions`] through
//! ssh_config. Browsing sessions, `skiff cp` and every job (whichever front end queued it and
//! whichever resumes it) resolve through here, so a job connects the same way everywhere.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, ErrorKind, Result};
use crate::job::JobSpec;
use crate::ssh::{Account, ConnectOptions, Overrides, Prompter, SshConfig};
use crate::store::profiles::{AuthKind, Profile, Profiles};

/// An address as typed (`[user@]host[:port]`, the host maybe an ssh_config alias) with what
/// was said on top of ssh_config.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Address {
    pub host: String,
    pub user: Option<String>,
    pub port: Option<u16>,
    /// The ssh_config file to read instead of the default (`-F`).
    pub ssh_config: Option<PathBuf>,
    pub overrides: Overrides,
}

impl From<crate::address::Address> for Address {
    /// A parsed `[user@]host[:port]`, with nothing said on top of ssh_config.
    fn from(a: crate::address::Address) -> Address {
        Address { host: a.host, user: a.user, port: a.port, ..Address::default() }
    }
}

/// How to reach a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    Profile(Profile),
    Address(Address),
}

/// The ssh_config file a person's hosts are imported from: [`default_ssh_config`], else
/// `~/.ssh/config`.
pub fn import_ssh_config_path() -> PathBuf {
    default_ssh_config().or_else(SshConfig::default_path).unwrap_or_else(|| PathBuf::from(".ssh").join("config"))
}

/// The ssh_config file addresses and saved hosts resolve through when no `-F` is given:
/// `$SKIFF_SSH_CONFIG` when set, else `None` (`~/.ssh/config`).
pub fn default_ssh_config() -> Option<PathBuf> {
    std::env::var_os("SKIFF_SSH_CONFIG").filter(|v| !v.is_empty()).map(PathBuf::from)
}

fn load_ssh_config(path: Option<&Path>, host: &str) -> Result<SshConfig> {
    match path {
        Some(p) => SshConfig::load(p),
        None => SshConfig::load_default(),
    }
    .map_err(|e| Error::new(ErrorKind::Config, "read ssh config", e.to_string()).host(host).hint("fix the ssh_config file (Skiff reads it for host aliases)"))
}

impl Reach {
    /// Connection settings: the host resolved through ssh_config (`default_config` unless an
    /// address names its own), then what the profile or the address says on top.
    pub fn resolve(&self, default_config: Option<&Path>, prompter: Arc<dyn Prompter>) -> Result<ConnectOptions> {
        match self {
            Reach::Profile(p) => resolve_profile(p, default_config, prompter),
            Reach::Address(a) => {
                let config = load_ssh_config(a.ssh_config.as_deref().or(default_config), &a.host)?;
                let mut hc = config.resolve(&a.host);
                if let Some(u) = a.user.as_ref().filter(|u| !u.is_empty()) {
                    hc.user = u.clone();
                }
                a.overrides.apply(&mut hc).map_err(|e| e.host(a.host.clone()))?;
                if let Some(p) = a.port {
                    hc.port = p;
                }
                let mut opts = ConnectOptions::new(hc, prompter, Arc::new(config));
                opts.accept_new = a.overrides.accept_new;
                Ok(opts)
            }
        }
    }

    /// [`Reach::resolve`] through [`default_ssh_config`].
    pub fn connect_options(&self, prompter: Arc<dyn Prompter>) -> Result<ConnectOptions> {
        self.resolve(default_ssh_config().as_deref(), prompter)
    }

    /// The account this logs in to (whose secrets it uses), resolved like a login is; the
    /// saved host's or address's own fields when ssh_config cannot be read.
    pub fn account(&self) -> Account {
        match self.connect_options(Arc::new(crate::ssh::NoPrompter)) {
            Ok(o) => o.account(),
            Err(_) => match self {
                Reach::Profile(p) => Account::new(p.user.clone(), p.host.clone(), p.port),
                Reach::Address(a) => Account::new(a.user.clone().unwrap_or_default(), a.host.clone(), a.port.unwrap_or(22)),
            },
        }
    }

    /// The saved host's id, when this is one.
    pub fn profile_id(&self) -> Option<&str> {
        match self {
            Reach::Profile(p) => Some(&p.id),
            Reach::Address(_) => None,
        }
    }

    /// The way back here as a job records it: the saved host's id (with its host, user and
    /// port, for people reading the queue), or the address and its overrides as given.
    pub fn fill_spec(&self, spec: &mut JobSpec) {
        match self {
            Reach::Profile(p) => {
                spec.host = p.host.clone();
                spec.user = Some(p.user.clone());
                spec.port = Some(p.port);
                spec.ssh_config = None;
                spec.profile_id = Some(p.id.clone());
                spec.overrides = Overrides::default();
            }
            Reach::Address(a) => {
                spec.host = a.host.clone();
                spec.user = a.user.clone();
                spec.port = a.port;
                spec.ssh_config = a.ssh_config.clone();
                spec.profile_id = None;
                spec.overrides = a.overrides.clone();
            }
        }
    }

    /// How a stored job reaches its server: through the saved host it names; a job queued
    /// before jobs named their saved host goes through the saved host with its host, user
    /// and port; otherwise (or when that saved host was deleted) its address and overrides.
    pub fn of_job(spec: &JobSpec, profiles: &[Profile]) -> Reach {
        let by_id = spec.profile_id.as_deref().and_then(|id| profiles.iter().find(|p| p.id == id));
        let legacy = || {
            spec.profile_id.is_none().then(|| {
                profiles.iter().find(|p| p.host == spec.host && spec.port == Some(p.port) && spec.user.as_deref() == Some(p.user.as_str()))
            })?
        };
        match by_id.or_else(legacy) {
            Some(p) => Reach::Profile(p.clone()),
            None => Reach::Address(Address {
                host: spec.host.clone(),
                user: spec.user.clone(),
                port: spec.port,
                ssh_config: spec.ssh_config.clone(),
                overrides: spec.overrides.clone(),
            }),
        }
    }

    /// [`Reach::of_job`] over the saved hosts in `profiles` (an unreadable hosts file is
    /// logged and taken as none).
    pub fn of_job_in(spec: &JobSpec, profiles: &Profiles) -> Reach {
        let all = profiles.list().unwrap_or_else(|e| {
            tracing::warn!("{e}");
            Vec::new()
        });
        Reach::of_job(spec, &all)
    }
}

/// How to connect to a saved host: its host resolved through ssh_config (so an alias gets
/// its HostName, ProxyJump, …), then the profile's port and user; for [`AuthKind::Key`] its
/// key file is the only identity (no agent), for [`AuthKind::Password`] no key is tried; a
/// profile's own known_hosts file replaces the usual ones.
fn resolve_profile(profile: &Profile, default_config: Option<&Path>, prompter: Arc<dyn Prompter>) -> Result<ConnectOptions> {
    let config = load_ssh_config(default_config, &profile.host)?;
    let mut hc = config.resolve(profile.host.trim());
    if profile.port != 0 {
        hc.port = profile.port;
    }
    if !profile.user.trim().is_empty() {
        hc.user = profile.user.trim().to_string();
    }
    match profile.auth {
        AuthKind::Auto => {}
        AuthKind::Key => {
            let key = profile.key_path.as_ref().filter(|k| !k.as_os_str().is_empty()).ok_or_else(|| {
                Error::new(ErrorKind::Config, "connect", "key authentication is chosen but no key file is set")
                    .host(profile.host.clone())
                    .hint("edit the saved host and choose a private key file")
            })?;
            hc.identity_files = vec![expand_tilde(key)];
            hc.identity_files_explicit = true;
            hc.identities_only = true;
        }
        AuthKind::Password => {
            hc.identity_files.clear();
            hc.identity_files_explicit = false;
            hc.identities_only = true;
        }
    }
    if let Some(kh) = profile.known_hosts.as_ref().filter(|k| !k.as_os_str().is_empty()) {
        hc.user_known_hosts_files = vec![expand_tilde(kh)];
    }
    Ok(ConnectOptions::new(hc, prompter, Arc::new(config)))
}

/// `~/x` → `$HOME/x`.
fn expand_tilde(p: &Path) -> PathBuf {
    match p.to_str() {
        Some(s) => crate::ssh::overrides::expand_tilde(s),
        None => p.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::{Direction, JobKind, OverwritePolicy};
    use crate::ssh::NoPrompter;

    fn profile(id: &str) -> Profile {
        Profile {
            id: id.into(),
            name: format!("n{id}"),
            host: "example.com".into(),
            port: 2200,
            user: "alice".into(),
            auth: AuthKind::Key,
            key_path: Some("/keys/id".into()),
            local_start: None,
            remote_start: None,
            known_hosts: Some("/kh".into()),
        }
    }

    fn spec() -> JobSpec {
        JobSpec {
            kind: JobKind::Copy,
            direction: Direction::Upload,
            host: String::new(),
            user: None,
            port: None,
            ssh_config: None,
            profile_id: None,
            overrides: Overrides::default(),
            local_path: "/l".into(),
            remote_path: "r".into(),
            recursive: false,
            overwrite: OverwritePolicy::Overwrite,
            preserve_mtime: true,
            preserve_permissions: true,
            speed_limit: None,
        }
    }

    fn empty_config() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        std::fs::write(&path, "").unwrap();
        (dir, path)
    }

    #[test]
    fn a_profile_resolves_to_its_key_port_user_and_known_hosts() {
        let (_d, cfg) = empty_config();
        let o = Reach::Profile(profile("1")).resolve(Some(&cfg), Arc::new(NoPrompter)).unwrap();
        assert_eq!((o.host.port, o.host.user.as_str()), (2200, "alice"));
        assert_eq!(o.host.identity_files, vec![PathBuf::from("/keys/id")]);
        assert!(o.host.identities_only);
        assert_eq!(o.host.user_known_hosts_files, vec![PathBuf::from("/kh")]);
        let pw = Profile { auth: AuthKind::Password, ..profile("1") };
        let o = Reach::Profile(pw).resolve(Some(&cfg), Arc::new(NoPrompter)).unwrap();
        assert!(o.host.identity_files.is_empty() && o.host.identities_only);
    }

    #[test]
    fn an_address_takes_its_overrides_and_port_last() {
        let (_d, cfg) = empty_config();
        let a = Address {
            host: "h".into(),
            user: Some("u".into()),
            port: Some(2222),
            ssh_config: Some(cfg),
            overrides: Overrides { identity: vec!["/k".into()], options: vec!["Port=1".into()], accept_new: true },
        };
        let o = Reach::Address(a).resolve(None, Arc::new(NoPrompter)).unwrap();
        assert_eq!((o.host.port, o.host.user.as_str()), (2222, "u"));
        assert_eq!(o.host.identity_files, vec![PathBuf::from("/k")]);
        assert!(o.accept_new);
    }

    #[test]
    fn the_account_is_the_resolved_login_or_the_fields_given() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("config");
        std::fs::write(&cfg, "Host alias\n  HostName real.example\n  User carol\n  Port 2022\n").unwrap();
        let a = Address { host: "alias".into(), ssh_config: Some(cfg), ..Address::default() };
        assert_eq!(Reach::Address(a).account(), Account::new("carol", "real.example", 2022));
        // ssh_config that cannot be read: the address's own fields.
        let broken = Address { host: "h".into(), user: Some("u".into()), port: Some(2), ssh_config: Some(dir.path().join("missing")), ..Address::default() };
        assert_eq!(Reach::Address(broken).account(), Account::new("u", "h", 2));
    }

    #[test]
    fn a_job_finds_its_way_back() {
        let profiles = vec![profile("1"), Profile { id: "2".into(), user: "bob".into(), ..profile("2") }];
        // A job that names its saved host goes through it, even when host/user/port differ.
        let mut s = spec();
        Reach::Profile(profiles[1].clone()).fill_spec(&mut s);
        assert_eq!(s.profile_id.as_deref(), Some("2"));
        assert_eq!(Reach::of_job(&s, &profiles), Reach::Profile(profiles[1].clone()));
        // A job from before profile ids: matched by host, port and user.
        let legacy = JobSpec { profile_id: None, host: "example.com".into(), user: Some("alice".into()), port: Some(2200), ..spec() };
        assert_eq!(Reach::of_job(&legacy, &profiles), Reach::Profile(profiles[0].clone()));
        // A saved host deleted since: the address it recorded, not some other saved host.
        let gone = JobSpec { profile_id: Some("9".into()), ..legacy.clone() };
        assert!(matches!(Reach::of_job(&gone, &profiles), Reach::Address(a) if a.host == "example.com" && a.port == Some(2200)));
        // An address job keeps its overrides.
        let a = Address { host: "h".into(), overrides: Overrides { identity: vec!["/k".into()], ..Overrides::default() }, ..Address::default() };
        let mut s = spec();
        Reach::Address(a.clone()).fill_spec(&mut s);
        assert_eq!(Reach::of_job(&s, &profiles), Reach::Address(a));
    }
}

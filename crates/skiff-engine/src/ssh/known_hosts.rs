//! OpenSSH `known_hosts` files: parsing, host-key checks and appending new entries.
//!
//! This module owns the known_hosts *format* and the decision "is this key trusted for this
//! host": plain and comma-separated host lists, `[host]:port` entries, `*`/`?` wildcards,
//! `!negation`, hashed names (`|1|salt|hmac`, HMAC-SHA1), the `@revoked` marker, comments and
//! blank lines. `@cert-authority` lines are read and skipped: host certificates are not
//! checked here.
//!
//! It does no network I/O and never prompts; the connection code asks [`KnownHosts::check`]
//! before any credential is sent and decides what to do with the answer. The only file
//! writes are [`KnownHosts::append`], which adds one line and never rewrites existing ones.

use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use russh::keys::{Algorithm, HashAlg, PublicKey};
use sha1::Sha1;

/// The default SSH port: a host on this port is written as the bare name.
const DEFAULT_PORT: u16 = 22;

/// Length of the salt OpenSSH uses for hashed host names (the SHA-1 digest length).
const HASH_SALT_LEN: usize = 20;

/// Host keys from one or more known_hosts files, each remembering where it came from.
#[derive(Debug, Clone, Default)]
pub struct KnownHosts {
    entries: Vec<Entry>,
}

/// The answer to "may we trust this key for this host".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostKeyStatus {
    /// A line for this host carries exactly this key.
    Trusted,
    /// The host is not listed at all.
    Unknown,
    /// No line for this host has a key of this algorithm, but keys of other types are
    /// listed for it (OpenSSH's "keys of different type are already known for this host").
    /// A server that offers only a type we have never seen for it, while we hold another,
    /// may be an impostor that lacks the known key: never saved without a person's yes.
    OtherTypeKnown { known: Vec<KnownKey> },
    /// The host is known with a different key of the same algorithm: possible
    /// man-in-the-middle. `line` is 1-based; `old_fingerprint` is `SHA256:...`.
    Changed {
        path: PathBuf,
        line: usize,
        old_key_type: String,
        old_fingerprint: String,
    },
    /// The key is listed under `@revoked` for this host. Takes precedence over everything.
    Revoked { path: PathBuf, line: usize },
}

/// A key listed for a host, as reported in [`HostKeyStatus::OtherTypeKnown`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownKey {
    /// `ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa`, ...
    pub key_type: String,
    /// `SHA256:...`.
    pub fingerprint: String,
    pub path: PathBuf,
    /// 1-based.
    pub line: usize,
}

/// The SHA-256 fingerprint of `key` as `ssh-keygen -lf` prints it: `SHA256:` + unpadded base64.
pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// One parsed line.
#[derive(Debug, Clone)]
struct Entry {
    marker: Marker,
    hosts: HostField,
    key: PublicKey,
    path: PathBuf,
    line: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Marker {
    None,
    Revoked,
}

/// The first field of a line: who the key belongs to.
#[derive(Debug, Clone)]
enum HostField {
    /// `|1|salt|hmac`: HMAC-SHA1 of the host string keyed by the salt.
    Hashed { salt: Vec<u8>, hmac: Vec<u8> },
    /// Comma-separated patterns, each possibly `!negated`, with `*` and `?` wildcards.
    Patterns(Vec<String>),
}

impl HostField {
    /// Whether `host_string` (`host` or `[host]:port`, lowercased) is named by this field.
    fn matches(&self, host_string: &str) -> bool {
        match self {
            HostField::Hashed { salt, hmac } => hash_host(salt, host_string) == *hmac,
            HostField::Patterns(patterns) => {
                let mut matched = false;
                for pattern in patterns {
                    let (negated, pattern) = match pattern.strip_prefix('!') {
                        Some(rest) => (true, rest),
                        None => (false, pattern.as_str()),
                    };
                    if wildcard_match(&pattern.to_ascii_lowercase(), host_string) {
                        if negated {
                            // A negated match excludes the line whatever else matches.
                            return false;
                        }
                        matched = true;
                    }
                }
                matched
            }
        }
    }
}

/// Why a line was skipped (for the debug log only).
#[derive(Debug)]
enum SkipReason {
    UnknownMarker(String),
    CertAuthority,
    MissingKey,
    BadHashedName,
    BadKey(String),
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::UnknownMarker(m) => write!(f, "unknown marker {m}"),
            SkipReason::CertAuthority => write!(f, "@cert-authority lines are not used"),
            SkipReason::MissingKey => write!(f, "no key on the line"),
            SkipReason::BadHashedName => write!(f, "malformed hashed host name"),
            SkipReason::BadKey(e) => write!(f, "unparsable key: {e}"),
        }
    }
}

impl KnownHosts {
    /// Read every file in `paths`, in order. A missing file counts as empty; any other
    /// read error is returned. Lines that cannot be parsed are skipped (logged at debug).
    pub fn load(paths: &[PathBuf]) -> io::Result<KnownHosts> {
        let mut known = KnownHosts::default();
        for path in paths {
            match fs::read(path) {
                Ok(bytes) => {
                    let text = String::from_utf8_lossy(&bytes);
                    known.entries.extend(KnownHosts::parse(&text, path).entries);
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    tracing::debug!(path = %path.display(), "known_hosts file missing, treated as empty");
                }
                Err(e) => {
                    return Err(io::Error::new(
                        e.kind(),
                        format!("reading known_hosts file {}: {e}", path.display()),
                    ))
                }
            }
        }
        Ok(known)
    }

    /// Parse the contents of one known_hosts file; `source` is remembered for reports.
    pub fn parse(text: &str, source: &Path) -> KnownHosts {
        let mut entries = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            match parse_line(raw) {
                Ok(None) => {}
                Ok(Some((marker, hosts, key))) => entries.push(Entry {
                    marker,
                    hosts,
                    key,
                    path: source.to_path_buf(),
                    line,
                }),
                Err(SkipReason::CertAuthority) => {}
                Err(reason) => {
                    tracing::debug!(path = %source.display(), line, %reason, "skipping known_hosts line");
                }
            }
        }
        KnownHosts { entries }
    }

    /// Number of usable entries (revoked ones included).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no usable entry was found.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Check `key` presented by `host` on `port`.
    ///
    /// For port 22 the plain host name is looked up; for any other port only
    /// `[host]:port` entries match (as OpenSSH does). Names are compared case-insensitively.
    pub fn check(&self, host: &str, port: u16, key: &PublicKey) -> HostKeyStatus {
        let host_string = host_port_string(host, port);
        let matching: Vec<&Entry> = self
            .entries
            .iter()
            .filter(|e| e.hosts.matches(&host_string))
            .collect();

        if let Some(revoked) = matching
            .iter()
            .find(|e| e.marker == Marker::Revoked && same_key(&e.key, key))
        {
            return HostKeyStatus::Revoked {
                path: revoked.path.clone(),
                line: revoked.line,
            };
        }

        let plain = || matching.iter().filter(|e| e.marker == Marker::None);
        if plain().any(|e| same_key(&e.key, key)) {
            return HostKeyStatus::Trusted;
        }
        if let Some(old) = plain().find(|e| e.key.algorithm() == key.algorithm()) {
            return HostKeyStatus::Changed {
                path: old.path.clone(),
                line: old.line,
                old_key_type: old.key.algorithm().as_str().to_string(),
                old_fingerprint: fingerprint(&old.key),
            };
        }
        let known: Vec<KnownKey> = plain()
            .map(|e| KnownKey {
                key_type: e.key.algorithm().as_str().to_string(),
                fingerprint: fingerprint(&e.key),
                path: e.path.clone(),
                line: e.line,
            })
            .collect();
        if known.is_empty() {
            HostKeyStatus::Unknown
        } else {
            HostKeyStatus::OtherTypeKnown { known }
        }
    }

    /// The key algorithms listed (not revoked) for `host` on `port`, in file order, each
    /// once: what the key exchange should ask the server for first.
    pub fn key_types(&self, host: &str, port: u16) -> Vec<Algorithm> {
        let host_string = host_port_string(host, port);
        let mut types: Vec<Algorithm> = Vec::new();
        for e in self.entries.iter().filter(|e| e.marker == Marker::None && e.hosts.matches(&host_string)) {
            let a = e.key.algorithm();
            if !types.contains(&a) {
                types.push(a);
            }
        }
        types
    }

    /// Append an entry for `host`/`port` to `path` in OpenSSH format: `host` for port 22,
    /// `[host]:port` otherwise, or `|1|salt|hmac` of that string when `hash` is true.
    ///
    /// Creates the parent directory (0700 on unix) and the file (0600 on unix) if missing.
    /// Existing lines are never rewritten.
    pub fn append(
        path: &Path,
        host: &str,
        port: u16,
        key: &PublicKey,
        hash: bool,
    ) -> io::Result<()> {
        let host_string = host_port_string(host, port);
        let host_field = if hash {
            let salt: [u8; HASH_SALT_LEN] = rand::random();
            hashed_host_field(&salt, &host_string)
        } else {
            host_string
        };
        let line = format!("{host_field} {}\n", key_text(key)?);

        if let Some(parent) = path.parent() {
            if !parent.as_os_str().is_empty() && !parent.exists() {
                create_private_dir(parent)?;
            }
        }

        let needs_newline = match fs::read(path) {
            Ok(existing) => existing.last().is_some_and(|b| *b != b'\n'),
            Err(e) if e.kind() == io::ErrorKind::NotFound => false,
            Err(e) => return Err(e),
        };

        let mut options = fs::OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(path).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "opening known_hosts file {} to add {host}: {e}",
                    path.display()
                ),
            )
        })?;
        let mut out = String::with_capacity(line.len() + 1);
        if needs_newline {
            out.push('\n');
        }
        out.push_str(&line);
        file.write_all(out.as_bytes())?;
        file.flush()
    }
}

/// OpenSSH's `order_hostkeyalgs` (sshconnect2.c): the host-key algorithms of `preferred`
/// whose key type is already in known_hosts for the host (`known`) first, the others after,
/// each group in `preferred`'s order. So a host known by its ed25519 key is asked for that
/// key even if it would rather show its RSA one, and "unknown key" is not reported for a
/// host we do know. Every RSA signature algorithm (`rsa-sha2-512`, `rsa-sha2-256`,
/// `ssh-rsa`) counts as the `ssh-rsa` key type.
pub fn order_host_key_algorithms(preferred: &[Algorithm], known: &[Algorithm]) -> Vec<Algorithm> {
    let is_known = |a: &Algorithm| {
        known.iter().any(|k| match (k, a) {
            (Algorithm::Rsa { .. }, Algorithm::Rsa { .. }) => true,
            (k, a) => k == a,
        })
    };
    let (mut first, rest): (Vec<Algorithm>, Vec<Algorithm>) = preferred.iter().cloned().partition(|a| is_known(a));
    first.extend(rest);
    first
}

/// `host` for the default port, `[host]:port` otherwise; lowercased like OpenSSH does.
fn host_port_string(host: &str, port: u16) -> String {
    let host = host.to_ascii_lowercase();
    if port == DEFAULT_PORT {
        host
    } else {
        format!("[{host}]:{port}")
    }
}

/// `algorithm base64` without the comment.
fn key_text(key: &PublicKey) -> io::Result<String> {
    let mut bare = key.clone();
    bare.set_comment("");
    let text = bare.to_openssh().map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("encoding host key: {e}"),
        )
    })?;
    Ok(text.trim_end().to_string())
}

/// HMAC-SHA1 of `host_string` keyed by `salt`.
fn hash_host(salt: &[u8], host_string: &str) -> Vec<u8> {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(salt).expect("HMAC takes any key length");
    mac.update(host_string.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// `|1|base64(salt)|base64(hmac)`.
fn hashed_host_field(salt: &[u8], host_string: &str) -> String {
    format!(
        "|1|{}|{}",
        BASE64.encode(salt),
        BASE64.encode(hash_host(salt, host_string))
    )
}

/// Keys are the same when algorithm and key data are; the comment does not count.
fn same_key(a: &PublicKey, b: &PublicKey) -> bool {
    a.key_data() == b.key_data()
}

/// Parse one line: `Ok(None)` for blank lines and comments.
fn parse_line(raw: &str) -> Result<Option<(Marker, HostField, PublicKey)>, SkipReason> {
    let line = raw.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let (mut first, mut rest) = split_field(line);
    let marker = if first.starts_with('@') {
        let marker = match first {
            "@revoked" => Marker::Revoked,
            "@cert-authority" => return Err(SkipReason::CertAuthority),
            other => return Err(SkipReason::UnknownMarker(other.to_string())),
        };
        (first, rest) = split_field(rest);
        marker
    } else {
        Marker::None
    };
    if first.is_empty() || rest.is_empty() {
        return Err(SkipReason::MissingKey);
    }
    let hosts = parse_host_field(first)?;
    let key = PublicKey::from_openssh(rest).map_err(|e| SkipReason::BadKey(e.to_string()))?;
    Ok(Some((marker, hosts, key)))
}

/// Split off the first whitespace-separated field; the rest is trimmed.
fn split_field(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    match s.find([' ', '\t']) {
        Some(i) => (&s[..i], s[i..].trim()),
        None => (s, ""),
    }
}

fn parse_host_field(field: &str) -> Result<HostField, SkipReason> {
    if let Some(hashed) = field.strip_prefix("|1|") {
        let (salt, hmac) = hashed.split_once('|').ok_or(SkipReason::BadHashedName)?;
        let salt = BASE64.decode(salt).map_err(|_| SkipReason::BadHashedName)?;
        let hmac = BASE64.decode(hmac).map_err(|_| SkipReason::BadHashedName)?;
        if salt.is_empty() || hmac.len() != 20 {
            return Err(SkipReason::BadHashedName);
        }
        return Ok(HostField::Hashed { salt, hmac });
    }
    if field.starts_with('|') {
        return Err(SkipReason::BadHashedName);
    }
    Ok(HostField::Patterns(
        field
            .split(',')
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect(),
    ))
}

/// Glob match with `*` (any run, possibly empty) and `?` (exactly one character).
fn wildcard_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("creating directory {} for known_hosts: {e}", dir.display()),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // Generated with `ssh-keygen -t ed25519 -N '' -C test@skiff` (K1, K2) and
    // `ssh-keygen -t ecdsa` (K3); fingerprints from `ssh-keygen -lf`.
    const K1: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPNfwFchYINQYCPIc6BTNLZbc7U8TilZ46UN0uj8Ok2g";
    const K1_FP: &str = "SHA256:RhF5jYMCkLIIVkDBBSDw1kXJnhTGLiTTtAoko+AhwSI";
    const K2: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHb3IN1AfAb7uIMLQtOpIvk33IyqtuaPDmq9Hy4hk2GT";
    const K2_FP: &str = "SHA256:H6YHNpGYSTIjJKOTqgt1pxlcqcFQ/VPxrXC8Yz29c6k";
    const K3: &str = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBAh+7YboOB9wMr8Kzqjqq+BNKVNqn/X5hIX2tNdyUmjakRdq5FRGz+0hOLbPVUZChaago2TMWxygfVJdofwlvBA=";
    const K3_FP: &str = "SHA256:Y9rul9UkyrrzaREwFasJhqnQHs1Qyes3vh5sZmHl4gU";
    // `ssh-keygen -t rsa -b 2048`.
    const RSA: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDCJG2TGkPZMDoGsIlMym9iamn3JgQXCGk28SHorFAeei8rSzYM/tV/L662ib/Eh5fthb7sqDZVTtQ58WO4i2/ByY837t5N/uFMeIPLembU0UpqyCU5U1AFJgCYeYoGYT0eG9fmrcvkpao/mNM6zPBY4InV0/KgPZtX2Mc6aixfXm5APmCaapsosRtKv+VoLDgVz6yUfcMnVdf5kAXMzT60f9BXUEN3Opa0mYbsneMNYOjfPaAhzjrmV90tiT/MNX/KBAt0r/Y409Vy/kIx/Y9rzz1D6e1vCKjtwQBKvl0A85F5bph+06a4ONp1tmalrjKJvde+9YXdp6hErneg59yv";

    // `printf 'example.com K1\n[example.com]:2222 K1\n' > kh; ssh-keygen -H -f kh`
    const HASHED_22: &str = "|1|mgZu6CGyVeiK5/JrhygK4mDHbBk=|Llg+9X2KlKMleRUqia6d5KQTu2I= ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPNfwFchYINQYCPIc6BTNLZbc7U8TilZ46UN0uj8Ok2g";
    const HASHED_2222: &str = "|1|bzboZ5X5/r6T2TYuB0XKkENrwbQ=|GneHEFO/Lev61F4ckrwpuvVqNQQ= ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPNfwFchYINQYCPIc6BTNLZbc7U8TilZ46UN0uj8Ok2g";

    fn key(text: &str) -> PublicKey {
        PublicKey::from_openssh(text).unwrap()
    }

    fn kh(text: &str) -> KnownHosts {
        KnownHosts::parse(text, Path::new("/kh"))
    }

    #[test]
    fn fingerprint_matches_ssh_keygen() {
        assert_eq!(fingerprint(&key(K1)), K1_FP);
        assert_eq!(fingerprint(&key(K2)), K2_FP);
        assert_eq!(fingerprint(&key(K3)), K3_FP);
    }

    #[test]
    fn plain_host_trusted_and_unknown() {
        let known = kh(&format!("example.com {K1} comment here\n"));
        assert_eq!(
            known.check("example.com", 22, &key(K1)),
            HostKeyStatus::Trusted
        );
        assert_eq!(
            known.check("EXAMPLE.com", 22, &key(K1)),
            HostKeyStatus::Trusted
        );
        assert_eq!(
            known.check("other.com", 22, &key(K1)),
            HostKeyStatus::Unknown
        );
        // A non-default port only matches `[host]:port`.
        assert_eq!(
            known.check("example.com", 2222, &key(K1)),
            HostKeyStatus::Unknown
        );
    }

    #[test]
    fn comment_does_not_matter() {
        let known = kh(&format!("example.com {K1} someone@else\n"));
        let mut presented = key(K1);
        presented.set_comment("different");
        assert_eq!(
            known.check("example.com", 22, &presented),
            HostKeyStatus::Trusted
        );
    }

    #[test]
    fn bracketed_port_entry() {
        let known = kh(&format!("[example.com]:2222 {K1}\n"));
        assert_eq!(
            known.check("example.com", 2222, &key(K1)),
            HostKeyStatus::Trusted
        );
        assert_eq!(
            known.check("example.com", 22, &key(K1)),
            HostKeyStatus::Unknown
        );
        assert_eq!(
            known.check("example.com", 2200, &key(K1)),
            HostKeyStatus::Unknown
        );
    }

    #[test]
    fn comma_separated_host_list() {
        let known = kh(&format!("a.example,192.0.2.7,[b.example]:2022 {K1}\n"));
        assert_eq!(
            known.check("a.example", 22, &key(K1)),
            HostKeyStatus::Trusted
        );
        assert_eq!(
            known.check("192.0.2.7", 22, &key(K1)),
            HostKeyStatus::Trusted
        );
        assert_eq!(
            known.check("b.example", 2022, &key(K1)),
            HostKeyStatus::Trusted
        );
        assert_eq!(
            known.check("b.example", 22, &key(K1)),
            HostKeyStatus::Unknown
        );
    }

    #[test]
    fn wildcards_and_negation() {
        let known = kh(&format!("*.example.com,!bad.example.com,host?.lan {K1}\n"));
        assert_eq!(
            known.check("www.example.com", 22, &key(K1)),
            HostKeyStatus::Trusted
        );
        assert_eq!(
            known.check("bad.example.com", 22, &key(K1)),
            HostKeyStatus::Unknown
        );
        assert_eq!(
            known.check("host1.lan", 22, &key(K1)),
            HostKeyStatus::Trusted
        );
        assert_eq!(
            known.check("host12.lan", 22, &key(K1)),
            HostKeyStatus::Unknown
        );
        assert_eq!(
            known.check("example.com", 22, &key(K1)),
            HostKeyStatus::Unknown
        );
        // Negation only excludes; alone it matches nothing.
        let only_negated = kh(&format!("!foo {K1}\n"));
        assert_eq!(
            only_negated.check("bar", 22, &key(K1)),
            HostKeyStatus::Unknown
        );
    }

    #[test]
    fn wildcard_matcher() {
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match("a*b*c", "aXXbYYc"));
        assert!(wildcard_match("a*b", "abab"));
        assert!(!wildcard_match("a*b", "abac"));
        assert!(wildcard_match("??", "ab"));
        assert!(!wildcard_match("??", "abc"));
        assert!(wildcard_match("[*]:2222", "[h]:2222"));
    }

    #[test]
    fn hashed_lines_from_ssh_keygen() {
        let known = kh(&format!("{HASHED_22}\n{HASHED_2222}\n"));
        assert_eq!(known.len(), 2);
        assert_eq!(
            known.check("example.com", 22, &key(K1)),
            HostKeyStatus::Trusted
        );
        assert_eq!(
            known.check("example.com", 2222, &key(K1)),
            HostKeyStatus::Trusted
        );
        assert_eq!(
            known.check("example.com", 2223, &key(K1)),
            HostKeyStatus::Unknown
        );
        assert_eq!(
            known.check("example.org", 22, &key(K1)),
            HostKeyStatus::Unknown
        );
    }

    #[test]
    fn hashing_reproduces_ssh_keygen_vector() {
        let salt = BASE64.decode("mgZu6CGyVeiK5/JrhygK4mDHbBk=").unwrap();
        let field = hashed_host_field(&salt, "example.com");
        assert_eq!(
            field,
            "|1|mgZu6CGyVeiK5/JrhygK4mDHbBk=|Llg+9X2KlKMleRUqia6d5KQTu2I="
        );
        let salt = BASE64.decode("bzboZ5X5/r6T2TYuB0XKkENrwbQ=").unwrap();
        let field = hashed_host_field(&salt, &host_port_string("example.com", 2222));
        assert_eq!(
            field,
            "|1|bzboZ5X5/r6T2TYuB0XKkENrwbQ=|GneHEFO/Lev61F4ckrwpuvVqNQQ="
        );
    }

    #[test]
    fn changed_reports_line_and_old_fingerprint() {
        let text = format!("# header\n\nother.com {K2}\nexample.com {K1}\n");
        let known = kh(&text);
        assert_eq!(
            known.check("example.com", 22, &key(K2)),
            HostKeyStatus::Changed {
                path: PathBuf::from("/kh"),
                line: 4,
                old_key_type: "ssh-ed25519".into(),
                old_fingerprint: K1_FP.into(),
            }
        );
    }

    #[test]
    fn other_algorithm_is_another_type_known_not_changed() {
        let known = kh(&format!("# ed25519 first\nexample.com {K1}\n"));
        assert_eq!(
            known.check("example.com", 22, &key(K3)),
            HostKeyStatus::OtherTypeKnown {
                known: vec![KnownKey {
                    key_type: "ssh-ed25519".into(),
                    fingerprint: K1_FP.into(),
                    path: PathBuf::from("/kh"),
                    line: 2,
                }]
            }
        );
        // Another host, or the same host on another port, knows nothing: plain unknown.
        assert_eq!(known.check("other.com", 22, &key(K3)), HostKeyStatus::Unknown);
        assert_eq!(known.check("example.com", 2222, &key(K3)), HostKeyStatus::Unknown);
        // A revoked key of another type does not make the host "known".
        let revoked = kh(&format!("@revoked example.com {K1}\n"));
        assert_eq!(revoked.check("example.com", 22, &key(K3)), HostKeyStatus::Unknown);
        // Every known type is listed, in file order.
        let both = kh(&format!("example.com {K1}\nexample.com {K3}\n"));
        let rsa = key(RSA);
        match both.check("example.com", 22, &rsa) {
            HostKeyStatus::OtherTypeKnown { known } => {
                let types: Vec<&str> = known.iter().map(|k| k.key_type.as_str()).collect();
                assert_eq!(types, ["ssh-ed25519", "ecdsa-sha2-nistp256"]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn key_types_for_a_host_in_file_order_once() {
        let known = kh(&format!(
            "example.com {K3}\nexample.com,other {K1}\n[example.com]:2222 {RSA}\nexample.com {K2}\n@revoked example.com {RSA}\n"
        ));
        let ecdsa = Algorithm::Ecdsa { curve: russh::keys::EcdsaCurve::NistP256 };
        assert_eq!(known.key_types("example.com", 22), vec![ecdsa.clone(), Algorithm::Ed25519]);
        assert_eq!(known.key_types("example.com", 2222), vec![Algorithm::Rsa { hash: None }]);
        assert_eq!(known.key_types("nowhere", 22), vec![]);
    }

    #[test]
    fn host_key_algorithms_prefer_known_types_like_openssh() {
        use russh::keys::EcdsaCurve::NistP256;
        let preferred = russh::Preferred::DEFAULT.key.to_vec();
        // Nothing known: the default order.
        assert_eq!(order_host_key_algorithms(&preferred, &[]), preferred);
        // RSA known: all three RSA signature algorithms first, in their order.
        let ordered = order_host_key_algorithms(&preferred, &[Algorithm::Rsa { hash: None }]);
        let names: Vec<String> = ordered.iter().map(|a| a.to_string()).collect();
        assert_eq!(
            names,
            [
                "rsa-sha2-512",
                "rsa-sha2-256",
                "ssh-rsa",
                "ssh-ed25519",
                "ecdsa-sha2-nistp256",
                "ecdsa-sha2-nistp384",
                "ecdsa-sha2-nistp521"
            ]
        );
        // Two known types keep the default order between them; nothing is lost.
        let ordered = order_host_key_algorithms(&preferred, &[Algorithm::Ecdsa { curve: NistP256 }, Algorithm::Ed25519]);
        assert_eq!(ordered[0], Algorithm::Ed25519);
        assert_eq!(ordered[1], Algorithm::Ecdsa { curve: NistP256 });
        assert_eq!(ordered.len(), preferred.len());
    }

    #[test]
    fn any_matching_line_with_the_key_is_trusted() {
        // Two keys of the same type for one host (e.g. during rotation): either is fine.
        let known = kh(&format!("example.com {K2}\nexample.com {K1}\n"));
        assert_eq!(
            known.check("example.com", 22, &key(K1)),
            HostKeyStatus::Trusted
        );
        assert_eq!(
            known.check("example.com", 22, &key(K2)),
            HostKeyStatus::Trusted
        );
    }

    #[test]
    fn revoked_takes_precedence() {
        let text = format!("example.com {K1}\n@revoked * {K1}\n");
        let known = kh(&text);
        assert_eq!(
            known.check("example.com", 22, &key(K1)),
            HostKeyStatus::Revoked {
                path: PathBuf::from("/kh"),
                line: 2
            }
        );
        // A revoked key does not make other keys changed or trusted.
        assert_eq!(known.check("other", 22, &key(K2)), HostKeyStatus::Unknown);
    }

    #[test]
    fn cert_authority_comments_and_garbage_skipped() {
        let text = format!(
            "# comment\n   \n@cert-authority *.example.com {K1}\n@bogus x {K1}\nexample.com\nexample.com ssh-ed25519 !!!notbase64\n|1|zzz {K1}\n\texample.com\t{K2}\n"
        );
        let known = kh(&text);
        assert_eq!(known.len(), 1);
        assert_eq!(
            known.check("www.example.com", 22, &key(K1)),
            HostKeyStatus::Unknown
        );
        assert_eq!(
            known.check("example.com", 22, &key(K2)),
            HostKeyStatus::Trusted
        );
    }

    #[test]
    fn load_missing_file_is_empty_and_concatenates() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        fs::write(&a, format!("one.example {K1}\n")).unwrap();
        fs::write(&b, format!("# x\ntwo.example {K1}\n")).unwrap();
        let known = KnownHosts::load(&[dir.path().join("missing"), a.clone(), b.clone()]).unwrap();
        assert_eq!(known.len(), 2);
        assert_eq!(
            known.check("two.example", 22, &key(K1)),
            HostKeyStatus::Trusted
        );
        match known.check("two.example", 22, &key(K2)) {
            HostKeyStatus::Changed { path, line, .. } => {
                assert_eq!(path, b);
                assert_eq!(line, 2);
            }
            other => panic!("expected Changed, got {other:?}"),
        }
    }

    #[test]
    fn append_then_check() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new/.ssh/known_hosts");
        KnownHosts::append(&path, "example.com", 22, &key(K1), false).unwrap();
        KnownHosts::append(&path, "example.com", 2222, &key(K2), false).unwrap();
        KnownHosts::append(&path, "hashed.example", 22, &key(K3), true).unwrap();
        KnownHosts::append(&path, "hashed.example", 8022, &key(K1), true).unwrap();

        let text = fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], format!("example.com {K1}"));
        assert_eq!(lines[1], format!("[example.com]:2222 {K2}"));
        assert!(lines[2].starts_with("|1|") && lines[2].ends_with(K3));
        assert!(!text.contains("hashed.example"));

        let known = KnownHosts::load(std::slice::from_ref(&path)).unwrap();
        assert_eq!(
            known.check("example.com", 22, &key(K1)),
            HostKeyStatus::Trusted
        );
        assert_eq!(
            known.check("example.com", 2222, &key(K2)),
            HostKeyStatus::Trusted
        );
        assert_eq!(
            known.check("hashed.example", 22, &key(K3)),
            HostKeyStatus::Trusted
        );
        assert_eq!(
            known.check("hashed.example", 8022, &key(K1)),
            HostKeyStatus::Trusted
        );
        // hashed.example:22 is known by another key type (K3): its own case.
        assert!(matches!(known.check("hashed.example", 22, &key(K1)), HostKeyStatus::OtherTypeKnown { .. }));

        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
            let dir_mode = fs::metadata(path.parent().unwrap())
                .unwrap()
                .permissions()
                .mode()
                & 0o777;
            assert_eq!(dir_mode, 0o700);
        }
    }

    #[test]
    fn append_after_file_without_trailing_newline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("known_hosts");
        fs::write(&path, format!("old.example {K2}")).unwrap();
        KnownHosts::append(&path, "new.example", 22, &key(K1), false).unwrap();
        let known = KnownHosts::load(&[path]).unwrap();
        assert_eq!(known.len(), 2);
        assert_eq!(
            known.check("old.example", 22, &key(K2)),
            HostKeyStatus::Trusted
        );
        assert_eq!(
            known.check("new.example", 22, &key(K1)),
            HostKeyStatus::Trusted
        );
    }
}

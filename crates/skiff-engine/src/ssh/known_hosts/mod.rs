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
mod tests;

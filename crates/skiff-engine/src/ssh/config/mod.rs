//! `~/.ssh/config`: turning the alias the user typed into the settings a connection needs.
//!
//! This module owns reading the OpenSSH client configuration (through the `ssh2-config`
//! crate, which handles `Host` patterns, negation, `Include` with globs and OpenSSH's
//! "first obtained value wins" rule) and the few keywords that crate leaves unparsed
//! (`StrictHostKeyChecking`, `UserKnownHostsFile`, `IdentitiesOnly`), plus `~` and `%`
//! token expansion. It resolves to a plain [`HostConfig`]; it never opens a socket, reads a
//! key or consults known_hosts.
//!
//! `Match` blocks are not evaluated: their options are ignored (never applied to the wrong
//! host) in the top-level file. Unknown keywords never fail the parse; a known keyword with
//! a bad value (`Port abc`) does, with the file named in the error.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ssh2_config::{HostParams, ParseRule};

use crate::address::Address;

/// Default SSH port.
const DEFAULT_PORT: u16 = 22;

/// Identity files OpenSSH tries when the config names none (relative to `~/.ssh`).
const DEFAULT_IDENTITY_FILES: [&str; 3] = ["id_ed25519", "id_ecdsa", "id_rsa"];

/// Known-hosts files OpenSSH uses when the config names none (relative to `~/.ssh`).
const DEFAULT_KNOWN_HOSTS_FILES: [&str; 2] = ["known_hosts", "known_hosts2"];

/// Everything needed to connect to one host, resolved from the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostConfig {
    /// What the user typed.
    pub alias: String,
    /// `HostName` (with `%h` expanded), or the alias.
    pub host_name: String,
    /// `Port`, default 22.
    pub port: u16,
    /// `User`, else the local user name.
    pub user: String,
    /// `IdentityFile` entries with `~` and tokens expanded; OpenSSH's defaults when none.
    pub identity_files: Vec<PathBuf>,
    /// Whether `identity_files` came from the config (false: they are the defaults).
    pub identity_files_explicit: bool,
    /// `IdentitiesOnly`.
    pub identities_only: bool,
    /// `UserKnownHostsFile`, default `~/.ssh/known_hosts` and `~/.ssh/known_hosts2`.
    pub user_known_hosts_files: Vec<PathBuf>,
    /// `StrictHostKeyChecking`, default `Ask`.
    pub strict_host_key_checking: StrictHostKeyChecking,
    /// `ProxyJump` hops in order; empty for none.
    pub proxy_jump: Vec<JumpHost>,
    /// `ConnectTimeout`.
    pub connect_timeout: Option<Duration>,
}

/// One `ProxyJump` hop: `[user@]host[:port]` or `ssh://[user@]host[:port]`, parsed by
/// [`Address::parse`] (OpenSSH's rules: the user ends at the last `@`, IPv6 with a port in
/// brackets).
pub type JumpHost = Address;

/// `StrictHostKeyChecking`: what to do with an unknown host key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StrictHostKeyChecking {
    /// Refuse unknown keys.
    Yes,
    /// Accept and record any unknown key (changed keys are still refused).
    No,
    /// Accept and record unknown keys without asking; refuse changed keys.
    AcceptNew,
    /// Ask the user.
    #[default]
    Ask,
}

impl StrictHostKeyChecking {
    fn parse(value: &str) -> Option<StrictHostKeyChecking> {
        match value.to_ascii_lowercase().as_str() {
            "yes" | "true" => Some(StrictHostKeyChecking::Yes),
            "no" | "false" | "off" => Some(StrictHostKeyChecking::No),
            "accept-new" => Some(StrictHostKeyChecking::AcceptNew),
            "ask" => Some(StrictHostKeyChecking::Ask),
            _ => None,
        }
    }
}

/// Reading the config failed.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read ssh config {}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("cannot parse ssh config {} (or a file it includes): {source}; fix the line or remove it", path.display())]
    Parse {
        path: PathBuf,
        source: ssh2_config::SshParserError,
    },
}

/// A parsed `ssh_config` file (with its includes), ready to resolve aliases.
#[derive(Debug, Clone)]
pub struct SshConfig {
    inner: ssh2_config::SshConfig,
    home: Option<PathBuf>,
    local_user: String,
}

impl SshConfig {
    /// Parse `path`; `~` and relative `Include`s resolve against `$HOME`. A missing file
    /// is an empty config.
    pub fn load(path: &Path) -> Result<SshConfig, ConfigError> {
        SshConfig::load_inner(path, home_dir())
    }

    /// Like [`SshConfig::load`], with `home` standing in for the home directory (`~`, `%d`,
    /// relative `Include`s, default identity and known_hosts files).
    pub fn load_with_home(path: &Path, home: &Path) -> Result<SshConfig, ConfigError> {
        SshConfig::load_inner(path, Some(home.to_path_buf()))
    }

    /// `~/.ssh/config`, when there is a home directory.
    pub fn default_path() -> Option<PathBuf> {
        home_dir().map(|home| home.join(".ssh").join("config"))
    }

    /// Parse `~/.ssh/config` (empty when missing or when there is no home directory).
    pub fn load_default() -> Result<SshConfig, ConfigError> {
        match (SshConfig::default_path(), home_dir()) {
            (Some(path), home @ Some(_)) => SshConfig::load_inner(&path, home),
            _ => Ok(SshConfig::empty()),
        }
    }

    /// A config with no entries: every alias resolves to defaults.
    pub fn empty() -> SshConfig {
        SshConfig {
            inner: ssh2_config::SshConfig::default(),
            home: home_dir(),
            local_user: local_user_name(),
        }
    }

    fn load_inner(path: &Path, home: Option<PathBuf>) -> Result<SshConfig, ConfigError> {
        let text = match fs::read(path) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
            Err(source) => {
                return Err(ConfigError::Io {
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        let text = neutralise_match_blocks(&text);
        let mut parser = ssh2_config::SshConfig::default();
        if let Some(home) = &home {
            parser = parser.home_dir(home.clone());
        }
        let inner = parser
            .parse(
                &mut text.as_bytes(),
                ParseRule::ALLOW_UNKNOWN_FIELDS | ParseRule::ALLOW_UNSUPPORTED_FIELDS,
            )
            .map_err(|source| ConfigError::Parse {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(SshConfig {
            inner,
            home,
            local_user: local_user_name(),
        })
    }

    /// Resolve `alias` the way `ssh alias` would.
    pub fn resolve(&self, alias: &str) -> HostConfig {
        let params = self.inner.query(alias);

        let host_name = params
            .host_name
            .as_deref()
            .map(|h| expand_host_name(h, alias))
            .unwrap_or_else(|| alias.to_string());
        let port = params.port.unwrap_or(DEFAULT_PORT);
        let user = params
            .user
            .clone()
            .unwrap_or_else(|| self.local_user.clone());

        let tokens = Tokens {
            alias,
            host_name: &host_name,
            port,
            remote_user: &user,
            local_user: &self.local_user,
            home: self.home.as_deref(),
        };

        let configured_identities: Vec<PathBuf> = params
            .identity_file
            .iter()
            .flatten()
            .filter(|p| p.as_os_str() != "none")
            .map(|p| tokens.expand_path(&p.to_string_lossy()))
            .collect();
        let identity_files_explicit = !configured_identities.is_empty();
        let identity_files = if identity_files_explicit {
            configured_identities
        } else {
            self.in_ssh_dir(&DEFAULT_IDENTITY_FILES)
        };

        let identities_only = unsupported(&params, "identitiesonly")
            .and_then(|args| args.first())
            .map(|v| matches!(v.to_ascii_lowercase().as_str(), "yes" | "true"))
            .unwrap_or(false);

        let user_known_hosts_files = match unsupported(&params, "userknownhostsfile") {
            Some(args) if !args.is_empty() => args
                .iter()
                .map(|a| unquote(a))
                .filter(|a| !a.is_empty() && !a.eq_ignore_ascii_case("none"))
                .map(|a| tokens.expand_path(a))
                .collect(),
            _ => self.in_ssh_dir(&DEFAULT_KNOWN_HOSTS_FILES),
        };

        let strict_host_key_checking = unsupported(&params, "stricthostkeychecking")
            .and_then(|args| args.first())
            .and_then(|v| {
                let parsed = StrictHostKeyChecking::parse(unquote(v));
                if parsed.is_none() {
                    tracing::warn!(alias, value = %v, "unknown StrictHostKeyChecking value, using ask");
                }
                parsed
            })
            .unwrap_or_default();

        let proxy_jump = match &params.proxy_jump {
            None => Vec::new(),
            Some(hops)
                if hops
                    .first()
                    .is_some_and(|h| h.trim().eq_ignore_ascii_case("none")) =>
            {
                Vec::new()
            }
            Some(hops) => hops
                .iter()
                .map(|h| h.trim())
                .filter(|h| !h.is_empty())
                .map(|h| {
                    JumpHost::parse(h).unwrap_or_else(|e| {
                        // Keep the hop rather than silently connecting directly; the
                        // connection then fails naming what the user wrote.
                        tracing::warn!(alias, hop = h, "ProxyJump hop is not [user@]host[:port]: {e}");
                        JumpHost {
                            user: None,
                            host: h.to_string(),
                            port: None,
                        }
                    })
                })
                .collect(),
        };

        HostConfig {
            alias: alias.to_string(),
            host_name,
            port,
            user,
            identity_files,
            identity_files_explicit,
            identities_only,
            user_known_hosts_files,
            strict_host_key_checking,
            proxy_jump,
            connect_timeout: params.connect_timeout.filter(|d| !d.is_zero()),
        }
    }

    /// All concrete (non-wildcard, non-negated) `Host` aliases, in file order, without
    /// duplicates. Includes hosts from included files.
    pub fn host_aliases(&self) -> Vec<String> {
        let mut aliases: Vec<String> = Vec::new();
        for host in self.inner.get_hosts() {
            for clause in &host.pattern {
                if clause.negated || clause.pattern.contains(['*', '?']) {
                    continue;
                }
                if !aliases.contains(&clause.pattern) {
                    aliases.push(clause.pattern.clone());
                }
            }
        }
        aliases
    }

    /// `~/.ssh/<name>` for each name (relative `.ssh/<name>` without a home directory).
    fn in_ssh_dir(&self, names: &[&str]) -> Vec<PathBuf> {
        let ssh_dir = match &self.home {
            Some(home) => home.join(".ssh"),
            None => PathBuf::from(".ssh"),
        };
        names.iter().map(|n| ssh_dir.join(n)).collect()
    }
}

/// The raw arguments of a keyword `ssh2-config` parses but does not interpret.
fn unsupported<'a>(params: &'a HostParams, keyword: &str) -> Option<&'a Vec<String>> {
    params.unsupported_fields.get(keyword)
}

fn unquote(s: &str) -> &str {
    s.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(s)
}

/// Values for `%` tokens in path options.
struct Tokens<'a> {
    alias: &'a str,
    host_name: &'a str,
    port: u16,
    remote_user: &'a str,
    local_user: &'a str,
    home: Option<&'a Path>,
}

impl Tokens<'_> {
    /// Expand a leading `~` and the tokens `%%`, `%d`, `%h`, `%n`, `%p`, `%r`, `%u`.
    /// Unknown tokens are left as they are.
    fn expand_path(&self, raw: &str) -> PathBuf {
        let tilde = expand_tilde(raw, self.home);
        let mut out = String::with_capacity(tilde.len());
        let mut chars = tilde.chars();
        while let Some(c) = chars.next() {
            if c != '%' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('%') => out.push('%'),
                Some('d') => match self.home {
                    Some(home) => out.push_str(&home.to_string_lossy()),
                    None => out.push_str("%d"),
                },
                Some('h') => out.push_str(self.host_name),
                Some('n') => out.push_str(self.alias),
                Some('p') => out.push_str(&self.port.to_string()),
                Some('r') => out.push_str(self.remote_user),
                Some('u') => out.push_str(self.local_user),
                Some(other) => {
                    tracing::debug!(path = raw, token = %other, "unsupported % token left as is");
                    out.push('%');
                    out.push(other);
                }
                None => out.push('%'),
            }
        }
        PathBuf::from(out)
    }
}

/// `HostName` accepts `%h` (the alias) and `%%`.
fn expand_host_name(raw: &str, alias: &str) -> String {
    if !raw.contains('%') {
        return raw.to_string();
    }
    let mut out = String::with_capacity(raw.len() + alias.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('h') => out.push_str(alias),
            Some('%') => out.push('%'),
            Some(other) => {
                out.push('%');
                out.push(other);
            }
            None => out.push('%'),
        }
    }
    out
}

/// `~` or `~/rest` → home; anything else unchanged.
fn expand_tilde(raw: &str, home: Option<&Path>) -> String {
    let Some(home) = home else {
        return raw.to_string();
    };
    if raw == "~" {
        return home.to_string_lossy().into_owned();
    }
    match raw.strip_prefix("~/") {
        Some(rest) => home.join(rest).to_string_lossy().into_owned(),
        None => raw.to_string(),
    }
}

/// `ssh2-config` does not know `Match`; left alone, the lines under a `Match` would be
/// applied to the preceding `Host` block. Turn each `Match` line into a `Host` line that
/// matches nothing so those options are ignored instead.
fn neutralise_match_blocks(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let trimmed = line.trim_start();
        let keyword_end = trimmed
            .find(|c: char| c.is_whitespace() || c == '=')
            .unwrap_or(trimmed.len());
        if trimmed[..keyword_end].eq_ignore_ascii_case("match") {
            tracing::debug!(line, "ssh config Match block ignored");
            out.push_str("Host !*");
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

fn home_dir() -> Option<PathBuf> {
    ["HOME", "USERPROFILE"]
        .iter()
        .filter_map(std::env::var_os)
        .find(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// The local user name from the environment (`USER`, `LOGNAME`, `USERNAME`).
fn local_user_name() -> String {
    ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .filter_map(|k| std::env::var(k).ok())
        .find(|v| !v.is_empty())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;

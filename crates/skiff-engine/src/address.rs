//! `[user@]host[:port]`: the one parser of the addresses people type, following OpenSSH.
//!
//! Used for the window's quick-connect box, `ProxyJump` hops and the `user@host` part of
//! scp-style locations ([`crate::remote`]). The rules are OpenSSH's (`parse_user_host_port`
//! and `parse_ssh_uri` in its misc.c):
//! - the user name is everything before the **last** `@` (user names may hold `@`:
//!   `me@corp.example@host` is user `me@corp.example`);
//! - an IPv6 address takes a port only in brackets, `[::1]:2222`; a bare `::1` is a host;
//! - an `ssh://` or `sftp://` prefix and one trailing `/` are accepted;
//! - the port is 1–65535; an empty user, an empty host, a host starting with `-` (it would
//!   read as an option) and spaces are refused, each with an error saying what is wrong.
//!
//! Pure string handling; [`Address`]'s `Display` writes the form `parse` reads back.

use std::fmt;

/// A parsed `[user@]host[:port]`; unset parts are left to ssh_config and defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub user: Option<String>,
    /// A host name, alias or IP address, without brackets.
    pub host: String,
    pub port: Option<u16>,
}

/// What is wrong with an address; every message quotes what was typed and the expected form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("the address is empty; type [user@]host[:port]")]
    Empty,
    #[error("{0:?} holds spaces; type [user@]host[:port]")]
    Spaces(String),
    #[error("{0:?} has an empty user name before '@'; type user@host or leave the user out")]
    EmptyUser(String),
    #[error("{0:?} has no host name; type [user@]host[:port]")]
    NoHost(String),
    #[error("{0:?} lacks the closing ']' of the address; type [v6addr]:port")]
    UnclosedBracket(String),
    #[error("{0:?}: expected ':port' after ']'; type [v6addr]:port")]
    AfterBracket(String),
    #[error("{port:?} in {address:?} is not a port number (1–65535)")]
    BadPort { address: String, port: String },
    #[error("{0:?} is not a host name (it would read as an option)")]
    OptionLike(String),
}

impl Address {
    /// Parse `[user@]host[:port]`, `[user@][v6addr][:port]`, optionally as an `ssh://` or
    /// `sftp://` URI with a trailing `/`. Surrounding spaces are ignored.
    pub fn parse(address: &str) -> Result<Address, AddressError> {
        let s = address.trim();
        let s = s.strip_prefix("ssh://").or_else(|| s.strip_prefix("sftp://")).unwrap_or(s);
        let s = s.strip_suffix('/').unwrap_or(s);
        if s.is_empty() {
            return Err(AddressError::Empty);
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(AddressError::Spaces(s.to_string()));
        }
        let (user, rest) = split_user(s)?;
        let (host, port) = if let Some(bracketed) = rest.strip_prefix('[') {
            let (host, after) = bracketed.split_once(']').ok_or_else(|| AddressError::UnclosedBracket(s.to_string()))?;
            match after {
                "" => (host, None),
                _ => (host, Some(after.strip_prefix(':').ok_or_else(|| AddressError::AfterBracket(s.to_string()))?)),
            }
        } else if rest.matches(':').count() > 1 {
            // A bare IPv6 address: no port possible without brackets.
            (rest, None)
        } else {
            match rest.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (rest, None),
            }
        };
        let host = check_host(host, s)?;
        let port = port.map(|p| parse_port(p, s)).transpose()?;
        Ok(Address { user, host, port })
    }
}

/// Split `user@host` at the last `@`, as OpenSSH does; `rest` is everything after it.
pub(crate) fn split_user(s: &str) -> Result<(Option<String>, &str), AddressError> {
    match s.rsplit_once('@') {
        Some(("", _)) => Err(AddressError::EmptyUser(s.to_string())),
        Some((user, rest)) => Ok((Some(user.to_string()), rest)),
        None => Ok((None, s)),
    }
}

/// A host part without brackets: not empty, not option-like.
pub(crate) fn check_host(host: &str, whole: &str) -> Result<String, AddressError> {
    if host.is_empty() {
        return Err(AddressError::NoHost(whole.to_string()));
    }
    if host.starts_with('-') {
        return Err(AddressError::OptionLike(host.to_string()));
    }
    Ok(host.to_string())
}

fn parse_port(port: &str, whole: &str) -> Result<u16, AddressError> {
    match port.parse::<u16>() {
        Ok(n) if n > 0 && port.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
        _ => Err(AddressError::BadPort { address: whole.to_string(), port: port.to_string() }),
    }
}

impl fmt::Display for Address {
    /// `user@host:port` with the unset parts left out; IPv6 addresses in brackets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(user) = &self.user {
            write!(f, "{user}@")?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]", self.host)?;
        } else {
            write!(f, "{}", self.host)?;
        }
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(user: Option<&str>, host: &str, port: Option<u16>) -> Address {
        Address { user: user.map(str::to_string), host: host.to_string(), port }
    }

    #[test]
    fn parses_like_openssh() {
        assert_eq!(Address::parse("example.com"), Ok(a(None, "example.com", None)));
        assert_eq!(Address::parse(" bob@example.com "), Ok(a(Some("bob"), "example.com", None)));
        assert_eq!(Address::parse("host:22"), Ok(a(None, "host", Some(22))));
        assert_eq!(Address::parse("bob@host:2222"), Ok(a(Some("bob"), "host", Some(2222))));
        assert_eq!(Address::parse("[::1]:2222"), Ok(a(None, "::1", Some(2222))));
        assert_eq!(Address::parse("u@[fe80::1]"), Ok(a(Some("u"), "fe80::1", None)));
        assert_eq!(Address::parse("::1"), Ok(a(None, "::1", None)));
        assert_eq!(Address::parse("sftp://u@h:23/"), Ok(a(Some("u"), "h", Some(23))));
        assert_eq!(Address::parse("ssh://h"), Ok(a(None, "h", None)));
        // The user is everything before the LAST '@' (an e-mail address as user name).
        assert_eq!(Address::parse("a@b@host"), Ok(a(Some("a@b"), "host", None)));
        assert_eq!(Address::parse("me@corp.example@[::1]:2200"), Ok(a(Some("me@corp.example"), "::1", Some(2200))));
    }

    #[test]
    fn bad_addresses_say_why() {
        let err = |s: &str| Address::parse(s).unwrap_err();
        assert_eq!(err(""), AddressError::Empty);
        assert_eq!(err("  "), AddressError::Empty);
        assert_eq!(err("@host"), AddressError::EmptyUser("@host".into()));
        assert_eq!(err("u@"), AddressError::NoHost("u@".into()));
        assert_eq!(err(":22"), AddressError::NoHost(":22".into()));
        assert_eq!(err("[]:22"), AddressError::NoHost("[]:22".into()));
        for bad_port in ["host:", "host:0", "host:70000", "host:ssh", "host:+22", "[::1]:x"] {
            assert!(matches!(err(bad_port), AddressError::BadPort { .. }), "{bad_port}");
        }
        assert_eq!(err("a b"), AddressError::Spaces("a b".into()));
        assert_eq!(err("[::1"), AddressError::UnclosedBracket("[::1".into()));
        assert_eq!(err("[::1]x"), AddressError::AfterBracket("[::1]x".into()));
        assert_eq!(err("-oProxyCommand=x"), AddressError::OptionLike("-oProxyCommand=x".into()));
        let shown = err("host:70000").to_string();
        assert!(shown.contains("\"70000\"") && shown.contains("\"host:70000\"") && shown.contains("1–65535"), "{shown}");
    }

    #[test]
    fn display_reads_back() {
        for s in ["h", "u@h:22", "u@[::1]:2222", "[fe80::1]", "a@b@host:1"] {
            let parsed = Address::parse(s).unwrap();
            assert_eq!(parsed.to_string(), s);
            assert_eq!(Address::parse(&parsed.to_string()), Ok(parsed));
        }
    }
}

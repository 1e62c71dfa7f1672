//! Parsing scp-style locations: `[user@]host:path` is remote, anything else is local.
//!
//! Where the host part ends is scp's rule (its `colon()`): the first `:` outside brackets,
//! unless a `/` comes first (`./a:b` and `/abs/a:b` stay local) or the string starts with
//! `:`; `[user@][v6addr]:path` brackets an IPv6 address. The `[user@]host` before that colon
//! is parsed by [`crate::address`], so the user is everything before its last `@`
//! (`me@corp.example@host:path`), and an empty user or host is an error rather than a guess.
//! Pure string handling.

use crate::address::{Address, AddressError};

/// A location on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Local(String),
    Remote { user: Option<String>, host: String, path: String },
}

impl Location {
    /// Local or remote; an error only for a remote-looking location whose `user@host` part
    /// is malformed (`@host:x`, `u@:x`, `-oX:y`).
    pub fn parse(s: &str) -> Result<Location, AddressError> {
        let Some(colon) = host_colon(s) else { return Ok(Location::Local(s.to_string())) };
        let Address { user, host, .. } = Address::parse(&s[..colon])?;
        Ok(Location::Remote { user, host, path: s[colon + 1..].to_string() })
    }

    pub fn is_remote(&self) -> bool {
        matches!(self, Location::Remote { .. })
    }
}

/// The index of the `:` ending the host part, as scp's `colon()` finds it; `None`: local.
fn host_colon(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    if bytes.first() == Some(&b':') {
        return None;
    }
    let mut in_brackets = bytes.first() == Some(&b'[');
    for (i, &b) in bytes.iter().enumerate() {
        let next = bytes.get(i + 1).copied();
        if b == b'@' && next == Some(b'[') {
            in_brackets = true;
        }
        if b == b']' && next == Some(b':') && in_brackets {
            return Some(i + 1);
        }
        if b == b':' && !in_brackets {
            return Some(i);
        }
        if b == b'/' {
            return None;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(user: Option<&str>, host: &str, path: &str) -> Location {
        Location::Remote { user: user.map(str::to_string), host: host.into(), path: path.into() }
    }

    fn parse(s: &str) -> Location {
        Location::parse(s).unwrap()
    }

    #[test]
    fn parses_like_scp() {
        assert_eq!(parse("host:/srv/x"), r(None, "host", "/srv/x"));
        assert_eq!(parse("bob@host:x"), r(Some("bob"), "host", "x"));
        assert_eq!(parse("host:"), r(None, "host", ""));
        assert_eq!(parse("[::1]:/tmp"), r(None, "::1", "/tmp"));
        assert_eq!(parse("u@[::1]:/tmp"), r(Some("u"), "::1", "/tmp"));
        assert_eq!(parse("./a:b"), Location::Local("./a:b".into()));
        assert_eq!(parse("/abs/a:b"), Location::Local("/abs/a:b".into()));
        assert_eq!(parse("plain"), Location::Local("plain".into()));
        assert_eq!(parse(":x"), Location::Local(":x".into()));
        assert_eq!(parse("[::1]x:y"), Location::Local("[::1]x:y".into()));
    }

    #[test]
    fn the_user_ends_at_the_last_at_sign_before_the_colon() {
        assert_eq!(parse("a@b@host:p"), r(Some("a@b"), "host", "p"));
        assert_eq!(parse("me@corp.example@[::1]:/x"), r(Some("me@corp.example"), "::1", "/x"));
        // An '@' or ':' in the path is the path's.
        assert_eq!(parse("host:/a@b:c"), r(None, "host", "/a@b:c"));
        assert_eq!(parse("u@host:22:x"), r(Some("u"), "host", "22:x"));
        // An '@' after a slash makes it a local path.
        assert_eq!(parse("dir/u@host:x"), Location::Local("dir/u@host:x".into()));
    }

    #[test]
    fn a_malformed_user_or_host_is_an_error() {
        assert_eq!(Location::parse("@host:x"), Err(AddressError::EmptyUser("@host".into())));
        assert_eq!(Location::parse("u@:x"), Err(AddressError::NoHost("u@".into())));
        assert_eq!(Location::parse("-oProxyCommand=y:x"), Err(AddressError::OptionLike("-oProxyCommand=y".into())));
    }
}

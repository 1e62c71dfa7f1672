//! Parsing scp-style locations: `[user@]host:path` is remote, anything else is local.
//! A colon after a slash (`./a:b`) and Windows-free absolute paths (`/a:b`) stay local, as in
//! scp. `[user@][v6addr]:path` is accepted. Pure string handling.

/// A location on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Local(String),
    Remote { user: Option<String>, host: String, path: String },
}

impl Location {
    pub fn parse(s: &str) -> Location {
        // `[v6]:path`
        let (userpart, rest) = match s.find('@') {
            Some(at) if !s[..at].contains('/') && !s[..at].contains(':') => (Some(&s[..at]), &s[at + 1..]),
            _ => (None, s),
        };
        if let Some(stripped) = rest.strip_prefix('[') {
            if let Some(end) = stripped.find("]:") {
                return Location::Remote {
                    user: userpart.map(str::to_string),
                    host: stripped[..end].to_string(),
                    path: stripped[end + 2..].to_string(),
                };
            }
        }
        match rest.find(':') {
            Some(colon) if colon > 0 && !rest[..colon].contains('/') => Location::Remote {
                user: userpart.map(str::to_string),
                host: rest[..colon].to_string(),
                path: rest[colon + 1..].to_string(),
            },
            _ => Location::Local(s.to_string()),
        }
    }

    pub fn is_remote(&self) -> bool {
        matches!(self, Location::Remote { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(user: Option<&str>, host: &str, path: &str) -> Location {
        Location::Remote { user: user.map(str::to_string), host: host.into(), path: path.into() }
    }

    #[test]
    fn parses_like_scp() {
        assert_eq!(Location::parse("host:/srv/x"), r(None, "host", "/srv/x"));
        assert_eq!(Location::parse("bob@host:x"), r(Some("bob"), "host", "x"));
        assert_eq!(Location::parse("host:"), r(None, "host", ""));
        assert_eq!(Location::parse("[::1]:/tmp"), r(None, "::1", "/tmp"));
        assert_eq!(Location::parse("u@[::1]:/tmp"), r(Some("u"), "::1", "/tmp"));
        assert_eq!(Location::parse("./a:b"), Location::Local("./a:b".into()));
        assert_eq!(Location::parse("/abs/a:b"), Location::Local("/abs/a:b".into()));
        assert_eq!(Location::parse("plain"), Location::Local("plain".into()));
        assert_eq!(Location::parse(":x"), Location::Local(":x".into()));
    }
}

//! The one error type that leaves the engine.
//!
//! Every error carries what a person needs to act on it: the operation, the host, the path,
//! what went wrong and what to do about it. Errors are *classified* ([`ErrorKind`]), and the
//! one classification of what a failure calls for is [`ErrorKind::recovery`]: transfers, the
//! scheduler and sessions all ask it (reconnect? fail this entry? stop the job?) instead of
//! matching kinds or strings of their own (rclone's `fs/accounting` lesson). This module owns
//! formatting and classification; it performs no I/O.

use std::fmt;

use skiff_sftp::StatusCode;

/// What class of failure this is; drives retry decisions and CLI exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The network dropped, timed out or refused: worth reconnecting and retrying.
    Network,
    /// Credentials were rejected or none were available.
    Auth,
    /// The server's host key is not in known_hosts and the caller did not accept it.
    HostKeyUnknown,
    /// The server's host key differs from the one in known_hosts: possible attack.
    HostKeyChanged,
    /// The path does not exist.
    NotFound,
    /// The server or the local OS denied access.
    PermissionDenied,
    /// A file was expected but a directory was found (or the other way round).
    WrongType,
    /// A local file-system error (read-only, I/O error, ...).
    LocalIo,
    /// The local disk is full: nothing more can land, so a job stops instead of failing
    /// every remaining file.
    DiskFull,
    /// The server answered with an SFTP failure status not covered above.
    Remote,
    /// The peer broke the protocol (malformed packet, unknown request id, ...).
    Protocol,
    /// The server does not offer what we need (no sftp subsystem, missing extension).
    Unsupported,
    /// Bad configuration or command-line input.
    Config,
    /// The operation was cancelled by the user.
    Cancelled,
    /// The OS keyring (Secret Service, Keychain, Credential Manager) is missing, locked or
    /// refused to keep a secret.
    Keyring,
}

/// What a failure calls for. The one answer to "try again?" in the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovery {
    /// The connection broke: reconnect after a backoff (from the job's
    /// [`RetryBudget`](crate::retry::RetryBudget)) and carry on.
    Reconnect,
    /// This file or folder failed; the other entries of the job go on, and a retry of the
    /// job tries it again.
    FailEntry,
    /// Nothing else in the job can succeed now (the disk is full, credentials or the host
    /// key were refused, the keyring failed, the person cancelled): stop the job.
    StopJob,
}

impl ErrorKind {
    /// What a failure of this kind calls for.
    pub fn recovery(self) -> Recovery {
        match self {
            ErrorKind::Network => Recovery::Reconnect,
            ErrorKind::NotFound
            | ErrorKind::PermissionDenied
            | ErrorKind::WrongType
            | ErrorKind::LocalIo
            | ErrorKind::Remote
            | ErrorKind::Protocol
            | ErrorKind::Unsupported
            // A refused link, a file the policy says to ask about with nobody to ask: that
            // entry. (A bad ssh_config fails the connect, and so the job, anyway.)
            | ErrorKind::Config => Recovery::FailEntry,
            ErrorKind::DiskFull
            | ErrorKind::Auth
            | ErrorKind::HostKeyUnknown
            | ErrorKind::HostKeyChanged
            | ErrorKind::Cancelled
            | ErrorKind::Keyring => Recovery::StopJob,
        }
    }
}

/// An engine error: kind, operation, host, path, detail and a hint for the person.
#[derive(Debug, Clone)]
pub struct Error {
    pub kind: ErrorKind,
    /// What we were doing, e.g. "download", "open", "connect".
    pub op: String,
    /// `user@host:port` or just the host alias, when known.
    pub host: Option<String>,
    /// The remote or local path involved, when there is one.
    pub path: Option<String>,
    /// What went wrong, in words.
    pub detail: String,
    /// What the person can do about it.
    pub hint: Option<String>,
    /// The SFTP status code, when the server sent one.
    pub status: Option<StatusCode>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, op: impl Into<String>, detail: impl Into<String>) -> Self {
        Error {
            kind,
            op: op.into(),
            host: None,
            path: None,
            detail: detail.into(),
            hint: None,
            status: None,
        }
    }

    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = Some(host.into());
        self
    }

    /// Set the host only if none is set yet (inner layers know better).
    pub fn or_host(mut self, host: &str) -> Self {
        if self.host.is_none() {
            self.host = Some(host.to_string());
        }
        self
    }

    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }

    pub fn or_path(mut self, path: &str) -> Self {
        if self.path.is_none() {
            self.path = Some(path.to_string());
        }
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Replace the operation name (an outer layer knows the user-level operation).
    pub fn op(mut self, op: impl Into<String>) -> Self {
        self.op = op.into();
        self
    }

    /// What this failure calls for (see [`ErrorKind::recovery`]).
    pub fn recovery(&self) -> Recovery {
        self.kind.recovery()
    }

    /// Worth reconnecting and trying again ([`Recovery::Reconnect`]).
    pub fn wants_reconnect(&self) -> bool {
        self.recovery() == Recovery::Reconnect
    }

    /// Build from an SFTP status reply.
    pub fn from_status(op: &str, code: StatusCode, message: &[u8]) -> Self {
        let (kind, hint) = match code {
            StatusCode::NoSuchFile => (ErrorKind::NotFound, "check the path and its spelling"),
            StatusCode::PermissionDenied => (
                ErrorKind::PermissionDenied,
                "check the file's permissions and the user you log in as",
            ),
            StatusCode::OpUnsupported => (ErrorKind::Unsupported, "the server does not support this operation"),
            StatusCode::NoConnection | StatusCode::ConnectionLost => {
                (ErrorKind::Network, "the connection was lost; try again")
            }
            StatusCode::BadMessage => (ErrorKind::Protocol, "the server did not understand a request; report this as a bug"),
            _ => (ErrorKind::Remote, "the server refused the operation"),
        };
        let text = String::from_utf8_lossy(message);
        let detail = if text.trim().is_empty() {
            code.to_string()
        } else {
            format!("{} ({})", text.trim(), code)
        };
        let mut e = Error::new(kind, op, detail).hint(hint);
        e.status = Some(code);
        e
    }

    /// Build from a local I/O error.
    pub fn local_io(op: &str, path: &std::path::Path, err: &std::io::Error) -> Self {
        use std::io::ErrorKind as K;
        let (kind, hint) = match err.kind() {
            K::NotFound => (ErrorKind::NotFound, "check the local path"),
            K::PermissionDenied => (ErrorKind::PermissionDenied, "check the local file's permissions"),
            K::IsADirectory => (ErrorKind::WrongType, "give a file, or use -r for a directory"),
            K::StorageFull => (ErrorKind::DiskFull, "free some disk space and retry; files already copied are intact"),
            _ => (ErrorKind::LocalIo, "check the local disk and path"),
        };
        Error::new(kind, op, err.to_string())
            .path(path.display().to_string())
            .hint(hint)
    }

    pub fn network(op: &str, detail: impl Into<String>) -> Self {
        Error::new(ErrorKind::Network, op, detail)
            .hint("check the network; Skiff retries transient failures by itself")
    }

    pub fn protocol(op: &str, detail: impl Into<String>) -> Self {
        Error::new(ErrorKind::Protocol, op, detail)
            .hint("the server sent something malformed; the connection was closed")
    }

    pub fn cancelled(op: &str) -> Self {
        Error::new(ErrorKind::Cancelled, op, "cancelled")
    }
}

/// Every field is escaped ([`crate::text::escape`]): paths, hosts and details carry what the
/// server said (names, status texts), and this is the one place every printed error passes.
impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::text::Escaped as E;
        write!(f, "{}", E(&self.op))?;
        match (&self.host, &self.path) {
            (Some(h), Some(p)) => write!(f, " {}:{}", E(h), E(p))?,
            (Some(h), None) => write!(f, " {}", E(h))?,
            (None, Some(p)) => write!(f, " {}", E(p))?,
            (None, None) => {}
        }
        write!(f, ": {}", E(&self.detail))?;
        if let Some(hint) = &self.hint {
            write!(f, " — {}", E(hint))?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_operation_host_path_and_hint() {
        let e = Error::from_status("open", StatusCode::NoSuchFile, b"No such file")
            .host("alice@example:22")
            .path("/srv/x");
        let s = e.to_string();
        assert_eq!(
            s,
            "open alice@example:22:/srv/x: No such file (no such file or directory) — check the path and its spelling"
        );
        assert_eq!(e.kind, ErrorKind::NotFound);
        assert_eq!(e.recovery(), Recovery::FailEntry);
    }

    #[test]
    fn display_escapes_what_the_server_said() {
        let e = Error::from_status("open", StatusCode::Failure, b"no \x1b[2J way")
            .host("alice@example:22")
            .path("/srv/\x1b]0;owned\x07\u{202e}txt.exe");
        let s = e.to_string();
        assert!(!s.chars().any(crate::text::is_unsafe), "{s:?}");
        assert!(s.starts_with("open alice@example:22:/srv/\\x1b]0;owned\\x07\\u{202e}txt.exe: no \\x1b[2J way"), "{s}");
    }

    #[test]
    fn what_failures_call_for() {
        assert!(Error::network("read", "reset").wants_reconnect());
        assert_eq!(Error::protocol("read", "bad").recovery(), Recovery::FailEntry);
        assert_eq!(Error::local_io("write", "/x".as_ref(), &std::io::Error::from(std::io::ErrorKind::StorageFull)).recovery(), Recovery::StopJob);
        assert_eq!(Error::local_io("open", "/x".as_ref(), &std::io::Error::from(std::io::ErrorKind::PermissionDenied)).recovery(), Recovery::FailEntry);
        for kind in [ErrorKind::Auth, ErrorKind::HostKeyChanged, ErrorKind::HostKeyUnknown, ErrorKind::Cancelled, ErrorKind::Keyring] {
            assert_eq!(kind.recovery(), Recovery::StopJob, "{kind:?}");
        }
    }

    #[test]
    fn or_host_keeps_inner_host() {
        let e = Error::network("x", "y").host("inner").or_host("outer");
        assert_eq!(e.host.as_deref(), Some("inner"));
    }
}

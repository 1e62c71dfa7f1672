//! Errors as they cross to the window: every engine [`Error`] becomes an [`AppError`] with a
//! stable camelCase `code` (from its [`ErrorKind`], or `keyring` for the OS keyring) and the
//! engine's own message, which names the host, the path and the operation and says what to
//! do. This module owns that mapping and the few errors the app crate makes itself; it never
//! puts a secret into a message (the engine's messages never hold one either).

use skiff_engine::{Error, ErrorKind};

use crate::ipc::AppError;

/// What every command returns.
pub type AppResult<T> = Result<T, AppError>;

/// The wire code of an engine error kind (listed in `ipc::AppError`).
pub fn code_of(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Network => "network",
        ErrorKind::Auth => "auth",
        ErrorKind::HostKeyUnknown => "hostKeyUnknown",
        ErrorKind::HostKeyChanged => "hostKeyChanged",
        ErrorKind::NotFound => "notFound",
        ErrorKind::PermissionDenied => "permissionDenied",
        ErrorKind::WrongType => "wrongType",
        ErrorKind::LocalIo => "localIo",
        ErrorKind::DiskFull => "diskFull",
        ErrorKind::Remote => "remote",
        ErrorKind::Protocol => "protocol",
        ErrorKind::Unsupported => "unsupported",
        ErrorKind::Config => "config",
        ErrorKind::Cancelled => "cancelled",
    }
}

impl From<Error> for AppError {
    fn from(e: Error) -> Self {
        // The keyring's failures are local I/O to the engine; the window tells them apart
        // (it offers to continue without saving the secret).
        let code = if e.op == "keyring" {
            "keyring"
        } else {
            code_of(e.kind)
        };
        AppError {
            code: code.to_string(),
            message: e.to_string(),
        }
    }
}

impl AppError {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        AppError {
            code: code.to_string(),
            message: message.into(),
        }
    }

    /// Bad input from the window (an unknown id, a malformed address, …).
    pub fn config(message: impl Into<String>) -> Self {
        AppError::new("config", message)
    }

    /// A session id that is not (or no longer) connected.
    pub fn no_session(id: &str) -> Self {
        AppError::new(
            "notFound",
            format!("use connection {id}: it is not connected — connect again"),
        )
    }
}

/// A blocking task that panicked or was cancelled (not expected; reported, never unwrapped).
pub fn join_error(op: &str, e: tokio::task::JoinError) -> AppError {
    AppError::new(
        "localIo",
        format!("{op}: the background task failed ({e}) — try again"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_the_kinds_and_messages_name_host_path_and_hint() {
        let all = [
            (ErrorKind::Network, "network"),
            (ErrorKind::Auth, "auth"),
            (ErrorKind::HostKeyUnknown, "hostKeyUnknown"),
            (ErrorKind::HostKeyChanged, "hostKeyChanged"),
            (ErrorKind::NotFound, "notFound"),
            (ErrorKind::PermissionDenied, "permissionDenied"),
            (ErrorKind::WrongType, "wrongType"),
            (ErrorKind::LocalIo, "localIo"),
            (ErrorKind::DiskFull, "diskFull"),
            (ErrorKind::Remote, "remote"),
            (ErrorKind::Protocol, "protocol"),
            (ErrorKind::Unsupported, "unsupported"),
            (ErrorKind::Config, "config"),
            (ErrorKind::Cancelled, "cancelled"),
        ];
        for (kind, code) in all {
            let e = Error::new(kind, "open", "it broke")
                .host("alice@example:22")
                .path("/srv/x")
                .hint("do this");
            let a = AppError::from(e);
            assert_eq!(a.code, code);
            assert_eq!(
                a.message,
                "open alice@example:22:/srv/x: it broke — do this"
            );
        }
    }

    #[test]
    fn a_changed_host_key_keeps_the_engines_message() {
        let e = Error::new(
            ErrorKind::HostKeyChanged,
            "verify host key",
            "REMOTE HOST IDENTIFICATION HAS CHANGED: … /home/a/.ssh/known_hosts line 3 holds …",
        )
        .host("a@h:22");
        let a = AppError::from(e);
        assert_eq!(a.code, "hostKeyChanged");
        assert!(a.message.contains("known_hosts line 3"), "{}", a.message);
    }

    #[test]
    fn keyring_failures_have_their_own_code() {
        let e = Error::new(
            ErrorKind::LocalIo,
            "keyring",
            "cannot store the password of saved host p1 in the OS keyring: locked",
        );
        assert_eq!(AppError::from(e).code, "keyring");
    }
}

//! Errors as they cross to the window: every engine [`Error`] becomes an [`AppError`] with an
//! [`ErrorCode`] (from its [`ErrorKind`] by an exhaustive match) and the engine's own
//! message, which names the host, the path and the operation and says what to
//! do. This module owns that mapping and the few errors the app crate makes itself; it never
//! puts a secret into a message (the engine's messages never hold one either).

use skiff_engine::{Error, ErrorKind};

use crate::ipc::{AppError, ErrorCode};

/// What every command returns.
pub type AppResult<T> = Result<T, AppError>;

/// The code of an engine error kind. Exhaustive on purpose: a new kind does not compile
/// until it has a code (and so a member of the window's `ErrorCode` union).
pub fn code_of(kind: ErrorKind) -> ErrorCode {
    match kind {
        ErrorKind::Network => ErrorCode::Network,
        ErrorKind::Auth => ErrorCode::Auth,
        ErrorKind::HostKeyUnknown => ErrorCode::HostKeyUnknown,
        ErrorKind::HostKeyChanged => ErrorCode::HostKeyChanged,
        ErrorKind::NotFound => ErrorCode::NotFound,
        ErrorKind::PermissionDenied => ErrorCode::PermissionDenied,
        ErrorKind::WrongType => ErrorCode::WrongType,
        ErrorKind::LocalIo => ErrorCode::LocalIo,
        ErrorKind::DiskFull => ErrorCode::DiskFull,
        ErrorKind::Remote => ErrorCode::Remote,
        ErrorKind::Protocol => ErrorCode::Protocol,
        ErrorKind::Unsupported => ErrorCode::Unsupported,
        ErrorKind::Config => ErrorCode::Config,
        ErrorKind::Cancelled => ErrorCode::Cancelled,
        // The window offers to go on without saving the secret.
        ErrorKind::Keyring => ErrorCode::Keyring,
    }
}

impl From<Error> for AppError {
    fn from(e: Error) -> Self {
        AppError {
            code: code_of(e.kind),
            message: e.to_string(),
        }
    }
}

impl AppError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        AppError {
            code,
            message: message.into(),
        }
    }

    /// Bad input from the window (an unknown id, a malformed address, …).
    pub fn config(message: impl Into<String>) -> Self {
        AppError::new(ErrorCode::Config, message)
    }

    /// Something the window named that is not there (a saved host, an open question, …).
    pub fn not_found(message: impl Into<String>) -> Self {
        AppError::new(ErrorCode::NotFound, message)
    }

    /// A session id that is not (or no longer) connected.
    pub fn no_session(id: &str) -> Self {
        AppError::not_found(format!(
            "use connection {id}: it is not connected — connect again"
        ))
    }
}

/// A blocking task that panicked or was cancelled (not expected; reported, never unwrapped).
/// It is the app's own failure, not the disk's: `internal`.
pub fn join_error(op: &str, e: tokio::task::JoinError) -> AppError {
    AppError::new(
        ErrorCode::Internal,
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
        for (kind, wire) in all {
            let e = Error::new(kind, "open", "it broke")
                .host("alice@example:22")
                .path("/srv/x")
                .hint("do this");
            let a = AppError::from(e);
            assert_eq!(a.code, code_of(kind));
            assert_eq!(
                serde_json::to_value(&a).unwrap(),
                serde_json::json!({"code": wire, "message": "open alice@example:22:/srv/x: it broke — do this"})
            );
        }
    }

    #[tokio::test]
    async fn the_app_crates_own_codes_are_camel_case_on_the_wire() {
        for (code, wire) in [(ErrorCode::Keyring, "keyring"), (ErrorCode::Internal, "internal")] {
            assert_eq!(serde_json::to_value(code).unwrap(), serde_json::json!(wire));
        }
        let task = tokio::spawn(std::future::pending::<()>());
        task.abort();
        let e = join_error("list hosts", task.await.unwrap_err());
        assert_eq!(e.code, ErrorCode::Internal);
        assert!(e.message.starts_with("list hosts: the background task failed"), "{}", e.message);
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
        assert_eq!(a.code, ErrorCode::HostKeyChanged);
        assert!(a.message.contains("known_hosts line 3"), "{}", a.message);
    }

    #[test]
    fn keyring_failures_have_their_own_code() {
        let e = Error::new(
            ErrorKind::Keyring,
            "keyring",
            "cannot store the password of saved host p1 in the OS keyring: locked",
        );
        assert_eq!(AppError::from(e).code, ErrorCode::Keyring);
    }
}

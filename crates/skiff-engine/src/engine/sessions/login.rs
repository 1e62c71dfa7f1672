//! One login of a browsing session: connect with the front end's prompter, start SFTP, then
//! let the front end keep what logged in (the window keeps the secrets that worked for this
//! run, and in the keyring when the person asked for it).

use std::sync::Arc;

use futures::future::BoxFuture;

use crate::error::Result;
use crate::sftp::{InFlightBudget, SftpSession};
use crate::ssh::{ConnectOptions, Connection, Prompter};

/// Bytes of SFTP requests a browsing session keeps in flight.
pub const BROWSE_BUDGET: u32 = 16 * 1024 * 1024;

/// Which login of a session this is, for a front end that answers differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// The first login, which the person watches: a stored secret may be offered once and,
    /// when it is wrong, the person asked.
    Connect,
    /// Logging in again after the connection dropped, with the same settings: what was
    /// given before may be offered every time, so the person is asked at most once.
    Reconnect,
}

/// What happens once a login worked.
type LoggedIn = Box<dyn FnOnce() -> BoxFuture<'static, ()> + Send>;

/// A front end's part in one login of a session: the prompter that answers its questions,
/// and what to do once it succeeded.
pub struct SessionLogin {
    pub prompter: Arc<dyn Prompter>,
    logged_in: Option<LoggedIn>,
}

impl SessionLogin {
    /// A login that only needs `prompter`.
    pub fn new(prompter: Arc<dyn Prompter>) -> SessionLogin {
        SessionLogin { prompter, logged_in: None }
    }

    /// Run `then` after the login succeeded (connected and SFTP started); not after a
    /// failed one.
    pub fn then(self, then: impl FnOnce() -> BoxFuture<'static, ()> + Send + 'static) -> SessionLogin {
        SessionLogin { logged_in: Some(Box::new(then)), ..self }
    }
}

/// Connect with `opts` (whose prompter is `login`'s), start SFTP, then run what the front
/// end wants done after a successful login.
pub(crate) async fn log_in(opts: &ConnectOptions, login: SessionLogin) -> Result<(Connection, SftpSession)> {
    let conn = Connection::connect(opts).await?;
    let sftp = conn.open_sftp(InFlightBudget::new(BROWSE_BUDGET)).await?;
    if let Some(then) = login.logged_in {
        then().await;
    }
    Ok((conn, sftp))
}

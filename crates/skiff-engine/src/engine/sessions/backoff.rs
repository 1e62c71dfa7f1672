//! Reconnecting in the background after a session's connection dropped: the first try at
//! once, then with the waits of the engine's one retry policy ([`SESSION_RETRY`]); only
//! failures whose [`Recovery`](crate::error::Recovery) is Reconnect are worth another try. When every try failed (or one failed for a reason retrying cannot fix: a
//! refused login, a changed host key, a cancelled question) the session is given up with an
//! error that names the host and says what to do ([`given_up`]). Closing the session
//! abandons it at once, even in the middle of a wait.

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;

use crate::error::Error;
use crate::retry::RetryPolicy;

/// The tries after a browsing session's first reconnect failed, and the waits before them
/// (1, 2, 4, 8 s): a person is looking at the pane, so it gives up within 15 s and says so.
pub const SESSION_RETRY: RetryPolicy =
    RetryPolicy { attempts: 4, first_backoff: Duration::from_secs(1), max_backoff: Duration::from_secs(8) };

/// Whether a failed reconnect is worth another try: a network failure may pass, anything
/// else (the login refused, the host key changed, a question cancelled) will not.
pub fn worth_another_try(e: &Error) -> bool {
    e.wants_reconnect()
}

/// How reconnecting ended.
#[derive(Debug)]
pub enum Outcome<T> {
    /// Logged in again.
    Back(T),
    /// Given up: the error for the person ([`given_up`]).
    GaveUp(Error),
    /// The session was closed meanwhile.
    Abandoned,
}

/// Try `log_in` at once, then after each wait of [`SESSION_RETRY`] until it works, fails for a reason
/// retrying cannot fix, or every try failed; abandoned as soon as `ended` turns true.
/// `label` names the session's account in the log and in the error.
pub async fn reconnect<T, F, Fut>(label: &str, ended: &mut watch::Receiver<bool>, mut log_in: F) -> Outcome<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = crate::Result<T>>,
{
    let mut tries = 0;
    let budget = SESSION_RETRY.budget();
    let mut delay = Duration::ZERO;
    let last = loop {
        let attempt = async {
            tokio::time::sleep(delay).await;
            log_in().await
        };
        let result = tokio::select! {
            _ = ended.wait_for(|e| *e) => return Outcome::Abandoned,
            r = attempt => r,
        };
        tries += 1;
        match result {
            Ok(back) => return Outcome::Back(back),
            Err(e) => {
                tracing::info!("reconnecting to {label} (try {tries}): {e}");
                match worth_another_try(&e).then(|| budget.take()).flatten() {
                    Some(next) => delay = next.wait,
                    None => break e,
                }
            }
        }
    };
    Outcome::GaveUp(given_up(label, tries, &last))
}

/// The error a session is given up with after `tries` failed reconnects, the last with
/// `last`: of `last`'s kind, naming the account and saying what to do (`last`'s own hint
/// when it is not a network failure).
pub fn given_up(label: &str, tries: usize, last: &Error) -> Error {
    let retried = if tries > 1 { format!(" after {tries} tries") } else { String::new() };
    // A network error's own hint speaks of retrying by itself, which is over now.
    let first = match &last.hint {
        Some(h) if !worth_another_try(last) => h.as_str(),
        _ => "check that the server is up and reachable",
    };
    Error::new(
        last.kind,
        "reconnect",
        format!("lost the connection and could not reconnect{retried} ({}: {})", last.op, last.detail),
    )
    .host(label)
    .hint(format!("{first}, then reconnect"))
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tokio::time::Instant;

    use super::*;
    use crate::error::ErrorKind;

    /// A log-in that fails with each of `failures` in turn, then succeeds; it records when
    /// it was tried (relative to the start).
    fn scripted(failures: Vec<Error>, tried: Arc<Mutex<Vec<Duration>>>) -> impl FnMut() -> futures::future::BoxFuture<'static, crate::Result<&'static str>> {
        let start = Instant::now();
        let mut failures = failures.into_iter();
        move || {
            tried.lock().unwrap().push(start.elapsed());
            let next = failures.next();
            Box::pin(async move {
                match next {
                    Some(e) => Err(e),
                    None => Ok("back"),
                }
            })
        }
    }

    fn refused() -> Error {
        Error::network("connect", "connection refused").host("u@h:22")
    }

    fn secs(s: &[u64]) -> Vec<Duration> {
        s.iter().map(|&s| Duration::from_secs(s)).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn network_failures_are_tried_again_with_growing_waits_then_given_up() {
        let tried = Arc::new(Mutex::new(Vec::new()));
        let (_keep, mut ended) = watch::channel(false);
        let out = reconnect("u@h:22", &mut ended, scripted(vec![refused(); 9], tried.clone())).await;
        // At once, then after 1, 2, 4 and 8 more seconds.
        assert_eq!(*tried.lock().unwrap(), secs(&[0, 1, 3, 7, 15]));
        let Outcome::GaveUp(e) = out else { panic!("{out:?}") };
        assert_eq!(e.kind, ErrorKind::Network);
        let text = e.to_string();
        assert!(text.contains("u@h:22") && text.contains("after 5 tries") && text.contains("connection refused"), "{text}");
        assert!(text.ends_with("check that the server is up and reachable, then reconnect"), "{text}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_try_that_works_ends_the_waits() {
        let tried = Arc::new(Mutex::new(Vec::new()));
        let (_keep, mut ended) = watch::channel(false);
        let out = reconnect("u@h:22", &mut ended, scripted(vec![refused(), refused()], tried.clone())).await;
        assert!(matches!(out, Outcome::Back("back")), "{out:?}");
        assert_eq!(*tried.lock().unwrap(), secs(&[0, 1, 3]));
    }

    #[tokio::test(start_paused = true)]
    async fn a_failure_retrying_cannot_fix_gives_up_at_once_with_its_own_hint() {
        let tried = Arc::new(Mutex::new(Vec::new()));
        let (_keep, mut ended) = watch::channel(false);
        let denied = Error::new(ErrorKind::Auth, "log in", "the server refused every key").hint("check the saved host's key");
        let out = reconnect("u@h:22", &mut ended, scripted(vec![denied], tried.clone())).await;
        assert_eq!(tried.lock().unwrap().len(), 1);
        let Outcome::GaveUp(e) = out else { panic!("{out:?}") };
        assert_eq!(e.kind, ErrorKind::Auth);
        let text = e.to_string();
        assert!(!text.contains("tries"), "{text}");
        assert!(text.contains("u@h:22") && text.contains("log in: the server refused every key"), "{text}");
        assert!(text.ends_with("check the saved host's key, then reconnect"), "{text}");
    }

    #[tokio::test(start_paused = true)]
    async fn closing_the_session_abandons_a_wait_at_once() {
        let tried = Arc::new(Mutex::new(Vec::new()));
        let (end, mut ended) = watch::channel(false);
        let closer = tokio::spawn(async move {
            // During the wait before the third try (due at 3 s).
            tokio::time::sleep(Duration::from_millis(1500)).await;
            end.send_replace(true);
            Instant::now()
        });
        let out = reconnect("u@h:22", &mut ended, scripted(vec![refused(); 9], tried.clone())).await;
        let closed_at = closer.await.unwrap();
        assert!(matches!(out, Outcome::Abandoned), "{out:?}");
        assert_eq!(Instant::now(), closed_at, "no wait after the close");
        assert_eq!(*tried.lock().unwrap(), secs(&[0, 1]));
    }

    #[test]
    fn only_network_failures_are_worth_another_try() {
        assert!(worth_another_try(&refused()));
        for kind in [ErrorKind::Auth, ErrorKind::HostKeyChanged, ErrorKind::Cancelled, ErrorKind::Config] {
            assert!(!worth_another_try(&Error::new(kind, "connect", "x")), "{kind:?}");
        }
    }
}

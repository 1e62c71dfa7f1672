//! The connect timeout that counts the network's time only: [`PromptClock`] records how long
//! a connection attempt waited for a person (the "trust this host key?" question, asked from
//! inside the SSH handshake), and [`within`] pushes its deadline back by exactly that much.
//! So a person reading a fingerprint for a minute does not time the connection out, while a
//! server that stops answering still does after `ConnectTimeout` of its own silence.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// Time spent waiting for answers from a person, shared by one connection attempt.
#[derive(Clone, Default)]
pub struct PromptClock(Arc<Mutex<Waits>>);

#[derive(Default)]
struct Waits {
    /// Questions open now (normally 0 or 1).
    open: u32,
    /// Since when at least one question is open.
    since: Option<Instant>,
    /// Time spent with a question open, not counting the current one.
    total: Duration,
}

impl PromptClock {
    /// Run `ask` (a question to a person); the time it takes does not count against
    /// [`within`]'s limit. A dropped `ask` stops the clock too.
    pub async fn waiting<T>(&self, ask: impl Future<Output = T>) -> T {
        struct Open<'a>(&'a PromptClock);
        impl Drop for Open<'_> {
            fn drop(&mut self) {
                let mut w = self.0.lock();
                w.open -= 1;
                if w.open == 0 {
                    if let Some(t) = w.since.take() {
                        w.total += t.elapsed();
                    }
                }
            }
        }
        {
            let mut w = self.lock();
            w.open += 1;
            if w.open == 1 {
                w.since = Some(Instant::now());
            }
        }
        let _open = Open(self);
        ask.await
    }

    /// Time spent waiting for a person so far, including a question open now.
    pub fn waited(&self) -> Duration {
        let w = self.lock();
        w.total + w.since.map_or(Duration::ZERO, |t| t.elapsed())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Waits> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// `fut`'s output, or `None` once it has run for `limit` *not counting* the time `clock`
/// recorded as waiting for a person.
pub async fn within<T>(limit: Duration, clock: &PromptClock, fut: impl Future<Output = T>) -> Option<T> {
    let start = Instant::now();
    let mut fut = std::pin::pin!(fut);
    loop {
        let active = start.elapsed().saturating_sub(clock.waited());
        if active >= limit {
            return None;
        }
        tokio::select! {
            biased;
            out = &mut fut => return Some(out),
            // Wakes when the limit would pass if nobody waited meanwhile; then looks again.
            _ = tokio::time::sleep(limit - active) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::atomic::{AtomicBool, Ordering};

    use futures::future::BoxFuture;

    use super::*;
    use crate::sandbox::Sandbox;
    use crate::ssh::prompt::{Account, HostKeyDecision, InteractivePrompt, Prompter, Secret, UnknownHostKey};
    use crate::ssh::{Connection, StrictHostKeyChecking};
    use crate::engine::Reach;

    #[tokio::test(start_paused = true)]
    async fn time_waiting_for_a_person_does_not_count_but_the_rest_does() {
        let clock = PromptClock::default();
        let c = clock.clone();
        let got = within(Duration::from_secs(1), &clock, async move {
            tokio::time::sleep(Duration::from_millis(600)).await;
            c.waiting(tokio::time::sleep(Duration::from_secs(30))).await;
            tokio::time::sleep(Duration::from_millis(300)).await;
            7
        })
        .await;
        assert_eq!(got, Some(7));

        let clock = PromptClock::default();
        let c = clock.clone();
        let started = Instant::now();
        let got = within(Duration::from_secs(1), &clock, async move {
            c.waiting(tokio::time::sleep(Duration::from_secs(5))).await;
            tokio::time::sleep(Duration::from_secs(60)).await;
        })
        .await;
        assert_eq!(got, None);
        assert_eq!(started.elapsed(), Duration::from_secs(6), "5 s asking + 1 s of silence");
    }

    /// Trusts the host key once, after `delay` (a person reading the fingerprint).
    struct SlowPerson {
        delay: Duration,
        asked: AtomicBool,
    }

    impl Prompter for SlowPerson {
        fn password<'a>(&'a self, _: &'a Account, _: usize) -> BoxFuture<'a, Option<Secret>> {
            Box::pin(async { None })
        }
        fn passphrase<'a>(&'a self, _: &'a Account, _: &'a Path) -> BoxFuture<'a, Option<Secret>> {
            Box::pin(async { None })
        }
        fn keyboard_interactive<'a>(&'a self, _: &'a Account, _: &'a str, _: &'a str, _: &'a [InteractivePrompt]) -> BoxFuture<'a, Option<Vec<Secret>>> {
            Box::pin(async { None })
        }
        fn unknown_host_key<'a>(&'a self, _: &'a UnknownHostKey) -> BoxFuture<'a, HostKeyDecision> {
            Box::pin(async move {
                self.asked.store(true, Ordering::SeqCst);
                tokio::time::sleep(self.delay).await;
                HostKeyDecision::TrustOnce
            })
        }
    }

    #[tokio::test]
    async fn a_slow_host_key_answer_does_not_time_out_the_connection() {
        if !Path::new("/usr/sbin/sshd").exists() {
            eprintln!("skipped: no /usr/sbin/sshd");
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let state = tmp.path().join("sandbox");
        let sandbox = tokio::task::spawn_blocking(move || Sandbox::start(&state)).await.unwrap().unwrap();
        let mut profile = sandbox.profile();
        // A known_hosts without the server's key: the host-key question is asked.
        let empty = tmp.path().join("known_hosts");
        std::fs::write(&empty, "").unwrap();
        profile.known_hosts = Some(empty);
        let person = Arc::new(SlowPerson { delay: Duration::from_secs(2), asked: AtomicBool::new(false) });
        let mut opts = Reach::Profile(profile).connect_options(person.clone()).unwrap();
        opts.host.strict_host_key_checking = StrictHostKeyChecking::Ask;
        opts.connect_timeout = Duration::from_secs(1);
        let conn = Connection::connect(&opts)
            .await
            .unwrap_or_else(|e| panic!("a 2 s answer under a 1 s connect timeout: {e}\n{}", sandbox.log_contents()));
        assert!(person.asked.load(Ordering::SeqCst), "the host key question was asked");
        conn.disconnect().await;
    }

    #[tokio::test]
    async fn a_silent_server_still_times_out() {
        // Accepts the TCP connection and never says a word.
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let hold = tokio::spawn(async move {
            let conn = listener.accept().await;
            tokio::time::sleep(Duration::from_secs(30)).await;
            drop(conn);
        });
        let mut host = crate::ssh::SshConfig::empty().resolve("127.0.0.1");
        host.port = port;
        let mut opts = crate::ssh::ConnectOptions::new(host, Arc::new(crate::ssh::NoPrompter), Arc::new(crate::ssh::SshConfig::empty()));
        opts.connect_timeout = Duration::from_millis(500);
        let started = std::time::Instant::now();
        let err = Connection::connect(&opts).await.err().expect("a server that never answers");
        assert!(err.to_string().contains("no answer within"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(5));
        hold.abort();
    }
}

//! The adapters end to end against a real server: the engine's sandbox (the system's own
//! sshd on 127.0.0.1). The engine's sessions logging in with the window's logins and a
//! saved profile, listing in chunks over a channel,
//! reconnecting once when the session dropped, and a queued job finding its saved host again
//! through the runner; the watcher reconnecting a connection that dropped while idle, giving
//! up with what to do, and stopping when the session is closed. Skipped (with a note) where
//! there is no sshd.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use skiff_engine::sandbox::Sandbox;
use skiff_engine::engine::{default_ssh_config, Connector, Copy, Reach, Session, Sessions};
use skiff_engine::job::{Direction, JobState};
use skiff_engine::store::profiles::Profiles;
use skiff_engine::store::secrets::Secrets;
use skiff_engine::store::Queue;
use tauri::ipc::{Channel, InvokeResponseBody};

use crate::events::{forward, EventHub, UiSink};
use crate::ipc::{ConnectionState, ListingChunk, Settings, UiEvent};
use crate::prompter::{KnownSecrets, PromptBroker, PromptContext};
use crate::sessions::{forward_events, WindowLogins};

#[derive(Clone, Default)]
struct Events(Arc<Mutex<Vec<UiEvent>>>);

impl UiSink for Events {
    fn deliver(&self, event: UiEvent) -> bool {
        self.0.lock().unwrap().push(event);
        true
    }
}

/// The engine's session table with the window's logins through `ctx`, its state changes
/// told to `ctx`'s hub (as in the app).
fn window_sessions(ctx: &PromptContext) -> Sessions {
    let logins = Arc::new(WindowLogins { prompts: ctx.clone() });
    let sessions = Sessions::new(Arc::new(Connector::new(None, default_ssh_config(), logins)));
    forward_events(ctx.hub.clone(), &sessions);
    sessions
}

/// The sandbox runs the system's OpenSSH sshd: without it these tests fail, saying so.
fn need_sshd() {
    assert!(
        std::path::Path::new("/usr/sbin/sshd").exists(),
        "/usr/sbin/sshd is not installed: install it (apt-get install openssh-server, or `make deps`)"
    );
}

/// A channel on the Rust side that collects what the command sends.
fn chunk_collector() -> (Channel<ListingChunk>, Arc<Mutex<Vec<ListingChunk>>>) {
    let got = Arc::new(Mutex::new(Vec::new()));
    let sink = got.clone();
    let channel = Channel::new(move |body| {
        if let InvokeResponseBody::Json(json) = body {
            sink.lock()
                .unwrap()
                .push(serde_json::from_str(&json).expect("a ListingChunk"));
        }
        Ok(())
    });
    (channel, got)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_in_list_reconnect_and_run_a_job_against_the_sandbox() {
    need_sshd();
    let tmp = tempfile::tempdir().unwrap();
    let mut sandbox = Sandbox::start(&tmp.path().join("sandbox")).expect("sandbox starts");
    let profiles = Arc::new(Profiles::open(&tmp.path().join("cfg")).unwrap());
    let profile = profiles.save(sandbox.profile()).unwrap();

    let (hub, inputs) = EventHub::new();
    tokio::spawn(forward(inputs));
    let events = Events::default();
    hub.subscribe(events.clone());
    let ctx = PromptContext {
        hub,
        broker: Arc::new(PromptBroker::default()),
        secrets: Secrets::with_service("skiff-test"),
        known: KnownSecrets::default(),
    };

    // Log in with the saved profile (its own key and known_hosts: no question asked).
    let reach = Reach::Profile(profile.clone());
    let sessions = window_sessions(&ctx);
    let session = sessions.connect(&reach).await.expect("login");
    assert!(session.label().contains("127.0.0.1"), "{}", session.label());
    let root = sandbox.remote_root.clone();
    let id = session.id().to_string();
    assert!(sessions.get(&id).is_some());

    // A listing arrives in chunks, each naming the resolved folder, then a last "done" one.
    let list = |channel: Channel<ListingChunk>| {
        let sent = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let s2 = sent.clone();
        let root = root.clone();
        let session = session.clone();
        async move {
            session
                .with_sftp(
                    |sftp| {
                        crate::commands::browse::list_remote(
                            sftp,
                            root.clone(),
                            channel.clone(),
                            sent.clone(),
                        )
                    },
                    || !s2.load(std::sync::atomic::Ordering::Relaxed),
                )
                .await
        }
    };
    let (channel, got) = chunk_collector();
    let resolved = list(channel).await.expect("listing");
    let chunks = got.lock().unwrap().clone();
    assert!(!chunks.is_empty());
    assert!(chunks.iter().all(|c| c.path == resolved));
    let names: Vec<String> = chunks
        .iter()
        .flat_map(|c| c.entries.iter().map(|e| e.name.clone()))
        .collect();
    assert!(names.contains(&"README.txt".to_string()), "{names:?}");

    // The session drops: the next request reconnects once, and the window is told (after
    // the first login's Connecting and Connected).
    session.current_sftp().await.close();
    let (channel, got) = chunk_collector();
    list(channel).await.expect("listing after a reconnect");
    assert!(!got.lock().unwrap().is_empty());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let states: Vec<ConnectionState> = events
        .0
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            UiEvent::Connection {
                session_id, state, ..
            } if *session_id == id => Some(*state),
            _ => None,
        })
        .collect();
    assert_eq!(
        states,
        [
            ConnectionState::Connecting,
            ConnectionState::Connected,
            ConnectionState::Reconnecting,
            ConnectionState::Connected
        ]
    );

    // A queued download finds the saved host from its spec (host, port, user) and runs.
    let queue = Arc::new(Queue::open(&tmp.path().join("queue.sqlite3")).unwrap());
    let settings = Arc::new(Mutex::new(Settings::default()));
    let (engine, _task) =
        crate::state::start_engine(queue, profiles.clone(), ctx.clone(), settings).unwrap();
    let sched = engine.scheduler().clone();
    let dest = tmp.path().join("down");
    std::fs::create_dir(&dest).unwrap();
    let copy = Copy::new(
        Direction::Download,
        dest.join("README.txt"),
        format!("{root}/README.txt"),
        false,
    );
    let job = engine.enqueue(&reach, &[copy]).unwrap()[0];
    tokio::time::timeout(Duration::from_secs(30), sched.idle())
        .await
        .expect("the job ends");
    let record = sched
        .jobs()
        .unwrap()
        .into_iter()
        .find(|j| j.id == job)
        .unwrap();
    assert_eq!(record.state, JobState::Done, "{:?}", record.error);
    assert_eq!(
        std::fs::read(dest.join("README.txt")).unwrap(),
        std::fs::read(sandbox.root.join("README.txt")).unwrap()
    );
    sched.shutdown();
    sandbox.stop();
}

/// Answers host-key questions with "trust and save", and records every event.
#[derive(Clone)]
struct TrustingWindow {
    broker: Arc<PromptBroker>,
    events: Events,
}

impl UiSink for TrustingWindow {
    fn deliver(&self, event: UiEvent) -> bool {
        if let UiEvent::Prompt {
            prompt: crate::ipc::Prompt::HostKeyUnknown { id, .. },
        } = &event
        {
            let (broker, id) = (self.broker.clone(), *id);
            tokio::spawn(async move {
                broker
                    .answer(crate::ipc::PromptAnswer::HostKey {
                        id,
                        decision: crate::ipc::HostKeyChoice::TrustAndSave,
                    })
                    .unwrap();
            });
        }
        self.events.deliver(event)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_keys_unknown_are_asked_and_changed_ones_refused() {
    need_sshd();
    let tmp = tempfile::tempdir().unwrap();
    let sandbox = Sandbox::start(&tmp.path().join("sandbox")).expect("sandbox starts");
    let (hub, inputs) = EventHub::new();
    tokio::spawn(forward(inputs));
    let broker = Arc::new(PromptBroker::default());
    let events = Events::default();
    hub.subscribe(TrustingWindow {
        broker: broker.clone(),
        events: events.clone(),
    });
    let ctx = PromptContext {
        hub,
        broker,
        secrets: Secrets::with_service("skiff-test"),
        known: KnownSecrets::default(),
    };

    // A quick connection resolved through an ssh_config of its own (as $SKIFF_SSH_CONFIG
    // would name), with an empty known_hosts.
    let known_hosts = tmp.path().join("known_hosts");
    let config = tmp.path().join("ssh_config");
    std::fs::write(
        &config,
        format!(
            "Host sandbox\n  HostName 127.0.0.1\n  Port {}\n  User {}\n  IdentityFile {}\n  IdentitiesOnly yes\n  UserKnownHostsFile {}\n",
            sandbox.port,
            sandbox.user,
            sandbox.key_path.display(),
            known_hosts.display()
        ),
    )
    .unwrap();
    let reach = Reach::Address(skiff_engine::engine::Address {
        ssh_config: Some(config),
        ..skiff_engine::engine::Address {
            host: "sandbox".into(),
            ..Default::default()
        }
    });
    let sessions = window_sessions(&ctx);
    let session = sessions
        .connect(&reach)
        .await
        .expect("login after trusting the key");
    assert!(sessions.close(session.id()).await);
    let asked = events
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|e| matches!(e, UiEvent::Prompt { .. }))
        .count();
    assert_eq!(asked, 1);
    let saved = std::fs::read_to_string(&known_hosts).unwrap();
    assert!(
        saved.contains(&format!("[127.0.0.1]:{}", sandbox.port)),
        "{saved}"
    );

    // The same host with another key on file: refused, no question, the file and line named.
    let other_key = std::fs::read_to_string(sandbox.key_path.with_extension("pub")).unwrap();
    let other_key: Vec<&str> = other_key.split_whitespace().take(2).collect();
    std::fs::write(
        &known_hosts,
        format!("[127.0.0.1]:{} {}\n", sandbox.port, other_key.join(" ")),
    )
    .unwrap();
    events.0.lock().unwrap().clear();
    let e = sessions
        .connect(&reach)
        .await
        .err()
        .expect("a changed key is refused");
    let e = crate::ipc::AppError::from(e);
    assert_eq!(e.code, crate::ipc::ErrorCode::HostKeyChanged);
    assert!(
        e.message.contains(&known_hosts.display().to_string()) && e.message.contains("line 1"),
        "{}",
        e.message
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(events
        .0
        .lock()
        .unwrap()
        .iter()
        .all(|e| !matches!(e, UiEvent::Prompt { .. })));
}

/// A test's window: a context whose events are recorded.
fn recording_context() -> (PromptContext, Events) {
    let (hub, inputs) = EventHub::new();
    tokio::spawn(forward(inputs));
    let events = Events::default();
    hub.subscribe(events.clone());
    let ctx = PromptContext {
        hub,
        broker: Arc::new(PromptBroker::default()),
        secrets: Secrets::with_service("skiff-test"),
        known: KnownSecrets::default(),
    };
    (ctx, events)
}

/// The connection states told about session `id` so far (with their errors).
fn states_of(events: &Events, id: &str) -> Vec<(ConnectionState, Option<crate::ipc::AppError>)> {
    events
        .0
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            UiEvent::Connection {
                session_id,
                state,
                error,
                ..
            } if session_id == id => Some((*state, error.clone())),
            _ => None,
        })
        .collect()
}

/// Wait (up to `secs`) until session `id` has been told `n` states.
async fn wait_for_states(events: &Events, id: &str, n: usize, secs: u64) -> Vec<ConnectionState> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let got: Vec<ConnectionState> = states_of(events, id).into_iter().map(|s| s.0).collect();
        if got.len() >= n || tokio::time::Instant::now() >= deadline {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The processes sshd started for the connections to the sandbox (its descendants).
fn connection_processes(sandbox: &Sandbox) -> Vec<u32> {
    fn children(pid: u32) -> Vec<u32> {
        let mut found = Vec::new();
        if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
            for t in tasks.flatten() {
                if let Ok(list) = std::fs::read_to_string(t.path().join("children")) {
                    found.extend(
                        list.split_whitespace()
                            .filter_map(|p| p.parse::<u32>().ok()),
                    );
                }
            }
        }
        found
    }
    let mut all = Vec::new();
    let mut todo = children(sandbox.pid().expect("the sandbox runs"));
    while let Some(p) = todo.pop() {
        todo.extend(children(p));
        all.push(p);
    }
    all
}

/// Drop connections the way a crash or a cut cable would: SIGKILL their sshd processes.
fn kill_all(pids: &[u32]) {
    for p in pids {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &p.to_string()])
            .status();
    }
}

/// Drop every connection to the sandbox (the listening sshd stays up); how many processes
/// died.
fn cut_connections(sandbox: &Sandbox) -> usize {
    let pids = connection_processes(sandbox);
    kill_all(&pids);
    pids.len()
}

/// List `root` through the session, as a pane would; the names found.
async fn list_names(session: &Session, root: &str) -> Vec<String> {
    let (channel, got) = chunk_collector();
    let sent = Arc::new(std::sync::atomic::AtomicBool::new(false));
    session
        .with_sftp(
            |sftp| {
                crate::commands::browse::list_remote(
                    sftp,
                    root.to_string(),
                    channel.clone(),
                    sent.clone(),
                )
            },
            || false,
        )
        .await
        .expect("listing");
    let chunks = got.lock().unwrap().clone();
    chunks
        .iter()
        .flat_map(|c| c.entries.iter().map(|e| e.name.clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_dropped_while_idle_reconnects_in_the_background() {
    need_sshd();
    let tmp = tempfile::tempdir().unwrap();
    let mut sandbox = Sandbox::start(&tmp.path().join("sandbox")).expect("sandbox starts");
    let profiles = Profiles::open(&tmp.path().join("cfg")).unwrap();
    let reach = Reach::Profile(profiles.save(sandbox.profile()).unwrap());
    let root = sandbox.remote_root.clone();
    let (ctx, events) = recording_context();
    let sessions = window_sessions(&ctx);
    let session = sessions.connect(&reach).await.expect("login");
    let id = session.id().to_string();
    assert_eq!(session.start_path(), root);
    let before = session.current_sftp().await;
    let connected = [ConnectionState::Connecting, ConnectionState::Connected];
    assert_eq!(wait_for_states(&events, &id, 2, 5).await, connected);

    // The connection drops while nobody uses it: without any request, the window hears
    // Reconnecting, then Connected, within a few seconds.
    assert!(cut_connections(&sandbox) > 0, "no sshd child to kill");
    let states = wait_for_states(&events, &id, 4, 10).await;
    assert_eq!(
        states[2..],
        [ConnectionState::Reconnecting, ConnectionState::Connected],
        "{:?}",
        states_of(&events, &id)
    );
    // A listing afterwards works, on the new connection, without another reconnect.
    assert!(before.is_dead());
    assert!(!session.current_sftp().await.is_dead());
    let names = list_names(&session, &root).await;
    assert!(names.contains(&"README.txt".to_string()), "{names:?}");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(states_of(&events, &id).len(), 4);

    // Closed by the person: Disconnected without an error, the watcher stops, and a drop
    // afterwards is not reconnected.
    assert!(sessions.close(&id).await);
    assert!(session.is_ended() && sessions.get(&id).is_none());
    cut_connections(&sandbox);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let told = states_of(&events, &id);
    assert_eq!(told.len(), 5, "{told:?}");
    assert!(matches!(told[4], (ConnectionState::Disconnected, None)), "{told:?}");
    sandbox.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnecting_gives_up_with_what_to_do_and_closing_abandons_it() {
    need_sshd();
    let tmp = tempfile::tempdir().unwrap();
    let mut sandbox = Sandbox::start(&tmp.path().join("sandbox")).expect("sandbox starts");
    let profiles = Profiles::open(&tmp.path().join("cfg")).unwrap();
    let reach = Reach::Profile(profiles.save(sandbox.profile()).unwrap());
    let (ctx, events) = recording_context();
    let sessions = window_sessions(&ctx);
    let closed = sessions.connect(&reach).await.expect("login");
    let kept = sessions.connect(&reach).await.expect("login");

    // The server goes away for good: both sessions start reconnecting, and every try is
    // refused.
    let pids = connection_processes(&sandbox);
    assert!(!pids.is_empty(), "no sshd child to kill");
    sandbox.stop();
    kill_all(&pids);
    for s in [&closed, &kept] {
        let states = wait_for_states(&events, s.id(), 3, 5).await;
        assert_eq!(
            states,
            [
                ConnectionState::Connecting,
                ConnectionState::Connected,
                ConnectionState::Reconnecting
            ]
        );
    }

    // One is closed while it waits to try again: that ends at once, and nothing more is told.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = std::time::Instant::now();
    assert!(sessions.close(closed.id()).await);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );

    // The other gives up after its tries: Disconnected, naming the host and what to do.
    let states = wait_for_states(&events, kept.id(), 4, 40).await;
    assert_eq!(
        states[2..],
        [ConnectionState::Reconnecting, ConnectionState::Disconnected]
    );
    let (_, error) = states_of(&events, kept.id()).pop().unwrap();
    let error = error.expect("an error with the Disconnected");
    assert_eq!(error.code, crate::ipc::ErrorCode::Network, "{}", error.message);
    assert!(
        error.message.contains(kept.label())
            && error.message.contains("then reconnect")
            && error.message.contains("tries"),
        "{}",
        error.message
    );
    assert!(kept.is_ended());
    // A request after that does not reconnect, and says what to do.
    let e = kept
        .with_sftp(|sftp| async move { sftp.realpath(".").await }, || true)
        .await
        .unwrap_err();
    let e = e.to_string();
    assert!(e.contains(kept.label()) && e.contains("then reconnect"), "{e}");
    // The closed one was told Disconnected (no error) when it was closed, and nothing since.
    let closed_told = states_of(&events, closed.id());
    assert_eq!(closed_told.len(), 4, "{closed_told:?}");
    assert!(matches!(closed_told[3], (ConnectionState::Disconnected, None)), "{closed_told:?}");
    assert_eq!(states_of(&events, kept.id()).len(), 4);
}

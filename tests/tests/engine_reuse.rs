//! SSH connection reuse across jobs, against a real sshd behind a counting relay: many
//! single-file jobs through the scheduler make only a handful of connections and every file
//! arrives intact; a handed-back connection carries a full set of new channels at once
//! (its old channels were really closed); an expired or closed idle connection is never
//! handed out again.
//!
//! `cargo test --release -p skiff-tests --test engine_reuse -- --ignored --nocapture`
//! measures 300 single-file jobs with and without reuse.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use skiff_engine::job::{Direction, JobKind, JobSpec, JobState, OverwritePolicy};
use skiff_engine::scheduler::{Config, ConnectFor, Scheduler, SftpJobRunner};
use skiff_engine::ssh::{ConnectOptions, ConnectionCache, NoPrompter, SshConfig};
use skiff_engine::store::Queue;
use skiff_engine::transfer::{ChannelPool, TransferOptions, TreeOptions};
use skiff_tests::relay::{Relay, RelayOptions};
use skiff_tests::sshd::{Sshd, SshdOptions};

const ALIAS: &str = "skiff-relayed";

/// The fixture's server behind a relay that counts the TCP (so SSH) connections made.
fn relayed(sshd: &Sshd) -> (Relay, Arc<SshConfig>) {
    let relay = Relay::start(sshd.addr, RelayOptions::default()).expect("start the relay");
    let cfg = sshd.client_config_for_port(ALIAS, relay.port).expect("write a client config for the relay");
    (relay, Arc::new(SshConfig::load(&cfg).expect("read the relay's ssh_config")))
}

fn options(config: &Arc<SshConfig>, cache: Option<Arc<ConnectionCache>>) -> ConnectOptions {
    let mut opts = ConnectOptions::new(config.resolve(ALIAS), Arc::new(NoPrompter), config.clone());
    opts.reuse = cache;
    opts
}

fn connections(relay: &Relay) -> usize {
    relay.stats().connections.load(Ordering::SeqCst)
}

fn spec(direction: Direction, local: &Path, remote: &str) -> JobSpec {
    JobSpec {
        kind: JobKind::Copy,
        direction,
        host: ALIAS.into(),
        user: None,
        port: None,
        ssh_config: None,
        profile_id: None,
        overrides: Default::default(),
        local_path: local.to_path_buf(),
        remote_path: remote.into(),
        recursive: false,
        overwrite: OverwritePolicy::Overwrite,
        preserve_mtime: true,
        preserve_permissions: true,
        speed_limit: None,
    }
}

fn content(i: usize) -> Vec<u8> {
    (0..1024 + i % 13).map(|k| (k * 31 + i * 7) as u8).collect()
}

/// Run `specs` through a scheduler with the real runner and `cache`; every job must end Done.
async fn run_jobs(config: &Arc<SshConfig>, cache: Arc<ConnectionCache>, specs: &[JobSpec]) {
    let config = config.clone();
    #[allow(clippy::result_large_err)] // the engine's own error type
    let connect: ConnectFor = Arc::new(move |_spec: &JobSpec| Ok(options(&config, Some(cache.clone()))));
    let runner = Arc::new(SftpJobRunner { connect, transfer: TransferOptions::default(), tree: TreeOptions::default() });
    let queue = Arc::new(Queue::open_in_memory().expect("open a queue in memory"));
    let (sched, task) = Scheduler::start(queue, runner, Config::default()).expect("start the scheduler");
    let ids: Vec<_> = specs.iter().map(|s| sched.add(s, 0).expect("add a job")).collect();
    sched.idle().await;
    for id in ids {
        let outcome = sched.take_outcome(id).unwrap_or_else(|| panic!("job {id} did not run"));
        assert_eq!(outcome.state, JobState::Done, "job {id}: {:?}", outcome.error.map(|e| e.to_string()));
    }
    sched.shutdown();
    let _ = task.await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_single_file_jobs_share_a_few_connections() {
    let sshd = Sshd::start().expect("start sshd");
    let (relay, config) = relayed(&sshd);
    let local = tempfile::tempdir().unwrap();
    let back = tempfile::tempdir().unwrap();
    let remote = sshd.root.join("up");
    std::fs::create_dir(&remote).unwrap();
    const JOBS: usize = 120;
    let mut specs = Vec::new();
    for i in 0..JOBS {
        let p = local.path().join(format!("f{i:03}.bin"));
        std::fs::write(&p, content(i)).unwrap();
        specs.push(spec(Direction::Upload, &p, &format!("{}/f{i:03}.bin", remote.display())));
    }
    for i in 0..JOBS / 2 {
        specs.push(spec(Direction::Download, &back.path().join(format!("g{i:03}.bin")), &format!("{}/f{i:03}.bin", remote.display())));
    }
    let cache = ConnectionCache::new();
    // Uploads first (the downloads read what they wrote), then the downloads.
    run_jobs(&config, cache.clone(), &specs[..JOBS]).await;
    run_jobs(&config, cache.clone(), &specs[JOBS..]).await;

    for i in 0..JOBS {
        assert_eq!(std::fs::read(remote.join(format!("f{i:03}.bin"))).unwrap(), content(i), "uploaded file {i}");
    }
    for i in 0..JOBS / 2 {
        assert_eq!(std::fs::read(back.path().join(format!("g{i:03}.bin"))).unwrap(), content(i), "downloaded file {i}");
    }
    // The scheduler runs up to 3 jobs on one host at once (Limits::default), each on one
    // connection: without reuse this would be 180 connections.
    let per_host = skiff_engine::scheduler::Limits::default().max_jobs_per_host;
    let made = connections(&relay);
    assert!(made <= 2 * per_host, "{made} SSH connections for {} jobs", specs.len());
    assert!(cache.idle() >= 1, "the connections wait in the cache after the jobs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handed_back_connection_opens_a_full_set_of_channels_at_once() {
    // MaxSessions 4 and pools of 2 channels: sshd may still be reaping the previous pool's
    // sftp processes (at most 2 slots) when the next pool opens, which leaves 2 free. Had
    // the channels been dropped rather than closed, the third round would find none.
    let sshd = Sshd::start_with(SshdOptions { extra_config: vec!["MaxSessions 4".into()], ..SshdOptions::default() }).expect("start sshd");
    let (relay, config) = relayed(&sshd);
    let cache = ConnectionCache::with_idle_timeout(Duration::from_secs(3600));
    let opts = options(&config, Some(cache.clone()));
    let root = sshd.root.display().to_string();
    for round in 0..6 {
        let pool = ChannelPool::open(&opts, 1, 2, 1 << 20).await.expect("open a pool");
        assert_eq!(pool.reused(), usize::from(round > 0), "round {round}");
        assert_eq!(pool.sessions().len(), 2, "round {round}: channels that opened");
        for s in pool.sessions() {
            assert!(s.stat(&root).await.expect("stat the data root").is_dir());
        }
        pool.close().await;
        assert_eq!(cache.idle(), 1, "round {round}: handed back");
    }
    assert_eq!(connections(&relay), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_or_closed_connections_are_not_reused() {
    let sshd = Sshd::start().expect("start sshd");
    let root = sshd.root.display().to_string();

    // Expired: a cache that keeps nothing idle at all closes what it is handed.
    let (relay, config) = relayed(&sshd);
    let expiring = ConnectionCache::with_idle_timeout(Duration::ZERO);
    let opts = options(&config, Some(expiring.clone()));
    ChannelPool::open(&opts, 1, 1, 1 << 20).await.expect("open a pool").close().await;
    assert_eq!(expiring.idle(), 0, "an expired connection stays idle");
    let pool = ChannelPool::open(&opts, 1, 1, 1 << 20).await.expect("open a pool");
    assert_eq!(pool.reused(), 0);
    assert_eq!(connections(&relay), 2, "the second pool connected anew");
    pool.close().await;

    // Closed: the network drops an idle connection; it is pruned, never handed out.
    let keeping = ConnectionCache::with_idle_timeout(Duration::from_secs(3600));
    let opts = options(&config, Some(keeping.clone()));
    ChannelPool::open(&opts, 1, 1, 1 << 20).await.expect("open a pool").close().await;
    assert_eq!(keeping.idle(), 1);
    drop(relay); // closes every connection through it
    let deadline = Instant::now() + Duration::from_secs(20);
    while keeping.idle() > 0 {
        assert!(Instant::now() < deadline, "the closed connection was never noticed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let label = opts.label();
    assert!(keeping.take(&label).is_none());
    // A pool through a new relay connects anew and works.
    let (relay2, config2) = relayed(&sshd);
    let opts2 = options(&config2, Some(keeping.clone()));
    let pool = ChannelPool::open(&opts2, 1, 1, 1 << 20).await.expect("open a pool");
    assert_eq!(pool.reused(), 0);
    assert!(pool.first().stat(&root).await.unwrap().is_dir());
    assert_eq!(connections(&relay2), 1);
    pool.close().await;
}

/// Not a check: how long 300 single-file jobs take with and without reuse.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement; run with --ignored --nocapture"]
async fn measure_300_single_file_jobs() {
    let sshd = Sshd::start().expect("start sshd");
    let (relay, config) = relayed(&sshd);
    let local = tempfile::tempdir().unwrap();
    const JOBS: usize = 300;
    let mut specs = Vec::new();
    for i in 0..JOBS {
        let p = local.path().join(format!("f{i:03}.bin"));
        std::fs::write(&p, content(i)).unwrap();
        specs.push(spec(Direction::Upload, &p, &format!("{}/f{i:03}.bin", sshd.root.display())));
    }
    for (name, cache) in [("without reuse", ConnectionCache::with_idle_timeout(Duration::ZERO)), ("with reuse", ConnectionCache::new())] {
        let before = connections(&relay);
        let t = Instant::now();
        run_jobs(&config, cache, &specs).await;
        println!("{JOBS} single-file jobs (1 KiB) {name}: {:.2} s, {} SSH connections", t.elapsed().as_secs_f64(), connections(&relay) - before);
    }
}

//! A job resumes in whichever front end comes next, connecting the way it was queued. A
//! download queued through the engine API the window uses (`engine-front`, with a saved host
//! that needs its own key) is killed halfway and finished by `skiff queue resume`; an upload
//! queued by `skiff cp -i KEY -P PORT -o UserKnownHostsFile=…` is killed halfway and finished
//! by the engine as the window runs it. In both, the default keys cannot log in (checked),
//! and the bytes through the project's relay in both runs together stay under 1.3× the file
//! (the second run continues the partial file, it does not start over).

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;
use skiff_engine::store::profiles::{AuthKind, Profile, Profiles};
use skiff_tests::relay::{Relay, RelayOptions};
use skiff_tests::sshd::Sshd;

/// Big enough that what is in flight when a run is killed (the pipelines' requests, the
/// last half second before a checkpoint) is small beside it.
const SIZE: u64 = 256 << 20;
/// Bytes per second the first run is held to, so that it can be killed a quarter in.
const SLOW: u64 = 32 << 20;

struct World {
    sshd: Sshd,
    relay: Relay,
    /// `$HOME` of every process: no keys, no ssh_config, no known_hosts of its own.
    home: tempfile::TempDir,
    config_dir: tempfile::TempDir,
    db: PathBuf,
}

fn world() -> World {
    let sshd = Sshd::start().unwrap();
    let relay = Relay::start(sshd.addr, RelayOptions::default()).unwrap();
    // Adds the relay's `[127.0.0.1]:port` line to the fixture's known_hosts.
    sshd.client_config_for_port("unused", relay.port).unwrap();
    let home = tempfile::tempdir().unwrap();
    let config_dir = tempfile::tempdir().unwrap();
    let db = home.path().join("queue.sqlite3");
    World { sshd, relay, home, config_dir, db }
}

impl World {
    fn command(&self, program: &Path) -> Command {
        let mut cmd = Command::new(program);
        cmd.env("HOME", self.home.path())
            .env("SKIFF_CONFIG_DIR", self.config_dir.path())
            .env("SKIFF_QUEUE_DB", &self.db)
            .env_remove("SKIFF_SSH_CONFIG")
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("SSH_AUTH_SOCK")
            .env_remove("SKIFF_PASSWORD")
            .env_remove("SKIFF_PASSPHRASE")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        cmd
    }

    fn skiff(&self) -> Command {
        self.command(&skiff_bin())
    }

    fn front(&self) -> Command {
        self.command(Path::new(env!("CARGO_BIN_EXE_engine-front")))
    }

    fn login(&self) -> String {
        format!("{}@127.0.0.1", self.sshd.user)
    }

    fn through_relay(&self) -> u64 {
        let st = self.relay.stats();
        st.bytes_up.load(std::sync::atomic::Ordering::Relaxed) + st.bytes_down.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The default keys (none in `$HOME`, no agent) do not get in: only the job's own key does.
    fn assert_default_keys_refused(&self) {
        let o = run(self.skiff().args(["ls", "-P", &self.relay.port.to_string(), "-o"]).arg(format!("UserKnownHostsFile={}", self.sshd.known_hosts.display())).arg(format!("{}:", self.login())));
        assert_eq!(o.status.code(), Some(4), "without the key the login must fail as auth: {}", String::from_utf8_lossy(&o.stderr));
    }

    fn assert_resent_little(&self, what: &str, first: u64) {
        let total = self.through_relay();
        let ratio = total as f64 / SIZE as f64;
        eprintln!("{what}: {first} bytes through the relay before the kill, {total} in all: {ratio:.2}x the file");
        assert!(ratio < 1.3, "{what}: {ratio:.2}x the file crossed the relay (the resume started over?)");
    }
}

fn run(cmd: &mut Command) -> Output {
    let child = cmd.stdout(Stdio::piped()).spawn().expect("start");
    wait_bounded(child, Duration::from_secs(120))
}

fn wait_bounded(mut child: Child, limit: Duration) -> Output {
    let deadline = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let o = child.wait_with_output().unwrap();
            panic!("hung for {limit:?}; stderr: {}", String::from_utf8_lossy(&o.stderr));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn assert_success(what: &str, o: &Output) {
    assert!(o.status.success(), "{what} failed ({}): {}", o.status, String::from_utf8_lossy(&o.stderr));
}

/// Data bytes of the file at `path` (allocated, so a sparse temp file counts what it holds).
fn held(path: &Path) -> u64 {
    std::fs::symlink_metadata(path).map(|m| m.blocks() * 512).unwrap_or(0)
}

/// `kill -9` of `child` once `part` holds a quarter of the file.
fn kill_at_a_quarter(mut child: Child, part: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while held(part) < SIZE / 4 {
        if let Some(status) = child.try_wait().unwrap() {
            let o = child.wait_with_output().unwrap();
            panic!("the first run ended ({status}) before it was killed: {}", String::from_utf8_lossy(&o.stderr));
        }
        assert!(Instant::now() < deadline, "{} never got to a quarter of the file", part.display());
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
}

fn random_file(path: &Path) {
    use rand::RngCore;
    use std::io::Write;
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut block = vec![0u8; 1 << 20];
    for _ in 0..SIZE >> 20 {
        rand::thread_rng().fill_bytes(&mut block);
        f.write_all(&block).unwrap();
    }
    f.flush().unwrap();
}

#[test]
fn a_window_job_from_a_saved_host_with_its_own_key_is_finished_by_skiff_queue_resume() {
    let w = world();
    let profiles = Profiles::open(w.config_dir.path()).unwrap();
    let profile = profiles
        .save(Profile {
            id: String::new(),
            name: "needs its key".into(),
            host: "127.0.0.1".into(),
            port: w.relay.port,
            user: w.sshd.user.clone(),
            auth: AuthKind::Key,
            key_path: Some(w.sshd.user_key.clone()),
            local_start: None,
            remote_start: None,
            known_hosts: Some(w.sshd.known_hosts.clone()),
        })
        .unwrap();
    w.assert_default_keys_refused();
    let src = w.sshd.root.join("big.bin");
    random_file(&src);
    let dest = w.home.path().join("down");
    std::fs::create_dir(&dest).unwrap();

    let front = w.front().args(["enqueue", &profile.id, s(&src), s(&dest), &SLOW.to_string()]).spawn().unwrap();
    kill_at_a_quarter(front, &dest.join("big.bin.skiffpart"));
    assert!(!dest.join("big.bin").exists(), "the file must not be complete when killed");
    let first = w.through_relay();

    let o = run(w.skiff().args(["queue", "resume", "-q"]));
    assert_success("skiff queue resume", &o);
    assert_eq!(std::fs::read(dest.join("big.bin")).unwrap(), std::fs::read(&src).unwrap(), "the resumed download differs");
    w.assert_resent_little("window get, CLI resume", first);
}

#[test]
fn a_cli_job_with_key_port_and_options_is_finished_by_the_engine_as_the_window_runs_it() {
    let w = world();
    w.assert_default_keys_refused();
    let src = w.home.path().join("up.bin");
    random_file(&src);
    let kh = format!("UserKnownHostsFile={}", w.sshd.known_hosts.display());
    let dest = format!("{}:{}/", w.login(), s(&w.sshd.root));
    let cp = w
        .skiff()
        .args(["cp", "-q", "--limit", &SLOW.to_string(), "-i", s(&w.sshd.user_key), "-P", &w.relay.port.to_string(), "-o", &kh, s(&src), &dest])
        .spawn()
        .unwrap();
    kill_at_a_quarter(cp, &w.sshd.root.join("up.bin.skiffpart"));
    assert!(!w.sshd.root.join("up.bin").exists(), "the file must not be complete when killed");
    let first = w.through_relay();

    let o = run(w.front().arg("run"));
    assert_success("the engine's run", &o);
    assert_eq!(std::fs::read(w.sshd.root.join("up.bin")).unwrap(), std::fs::read(&src).unwrap(), "the resumed upload differs");
    w.assert_resent_little("CLI put, window resume", first);
}

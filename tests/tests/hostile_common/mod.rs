//! Shared by the `hostile_*` end-to-end tests: a real sshd whose sftp subsystem is the
//! hostile server started with chosen cases, `skiff cp` runs under a deadline and a memory
//! cap, the checks every run must pass (a failure names host, path and a hint), and the
//! engine path the window takes, run in a child process.
//!
//! # The engine driver
//! A job that spins or hangs inside the engine cannot be stopped from inside the same
//! process (a busy runtime thread ignores timeouts, and the runtime's drop waits for it).
//! So an engine test re-runs its own test executable, filtered to itself, with
//! `SKIFF_HOSTILE_DRIVE` naming a request file. In that child [`drive_if_child`] (the first
//! line of every engine test) enqueues the jobs the way the window's `enqueue` command does
//! (STAT the download source to choose file or tree; a file lands as `DEST/NAME`), runs them
//! on a [`Scheduler`] configured like the window's (`can_ask`, every job, default limits
//! and retries), waits at most the job bound, writes what happened as JSON and exits. The
//! parent kills the child at the bound plus a margin, and does all the checking.

#![allow(dead_code)]

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use skiff_engine::job::{Direction, JobKind, JobSpec, OverwritePolicy};
use skiff_engine::scheduler::{Config, ConnectFor, Scheduler, Scope, SftpJobRunner};
use skiff_engine::sftp::InFlightBudget;
use skiff_engine::ssh::{ConnectOptions, Connection, NoPrompter, SshConfig};
use skiff_engine::store::Queue;
use skiff_engine::transfer::{join_remote, remote_basename, TransferOptions, TreeOptions};
use skiff_tests::hostile::bounded::{self, Run, DATA_LIMIT};
use skiff_tests::hostile::{hostile_sshd_options_with, require_hostile_server_binary, Case};
use skiff_tests::sshd::{Sshd, HOST_ALIAS};

/// Every `skiff` run and every engine job must end within this.
pub const BOUND: Duration = Duration::from_secs(30);

/// Peak resident size allowed for a transfer that was told a huge size.
pub const RSS_BOUND_KIB: u64 = 200 * 1024;

/// A real sshd running the hostile server with `cases` as its sftp subsystem.
pub fn hostile_sshd(cases: &[Case]) -> Sshd {
    require_hostile_server_binary();
    Sshd::start_with(hostile_sshd_options_with(cases)).expect("start sshd with the hostile sftp subsystem")
}

/// How skiff names this server in its messages.
pub fn host_label(sshd: &Sshd) -> String {
    format!("{}@127.0.0.1:{}", sshd.user, sshd.port)
}

/// `HOST:PATH` for skiff.
pub fn remote(path: &Path) -> String {
    format!("{HOST_ALIAS}:{}", path.display())
}

/// `skiff cp -q -F CONFIG ARGS...` under [`BOUND`] and the memory cap.
pub fn cp(sshd: &Sshd, args: &[&str]) -> Run {
    cp_bounded(sshd, args, BOUND)
}

pub fn cp_bounded(sshd: &Sshd, args: &[&str], bound: Duration) -> Run {
    let mut full: Vec<OsString> = vec!["cp".into(), "-q".into(), "-F".into(), sshd.ssh_config.clone().into()];
    full.extend(args.iter().map(OsString::from));
    let cmd = bounded::skiff_command(&full, sshd.dir.path());
    bounded::run(&cmd, bound, DATA_LIMIT)
}

/// Failures collected across the sub-cases of one test, reported together at the end so
/// one failing sub-case does not hide the others.
#[derive(Default)]
pub struct Checks(Vec<String>);

impl Checks {
    pub fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            self.0.push(what());
        }
    }

    pub fn fail(&mut self, what: String) {
        self.0.push(what);
    }

    /// Panics listing every failed check.
    pub fn finish(self) {
        if !self.0.is_empty() {
            panic!("{} check(s) failed:\n\n{}", self.0.len(), self.0.join("\n\n"));
        }
    }
}

/// Whether `text` names the server (by `user@127.0.0.1:PORT` or the alias).
pub fn names_host(text: &str, sshd: &Sshd) -> bool {
    text.contains(&host_label(sshd)) || text.contains(HOST_ALIAS)
}

/// A failure message fit for a person: it names the host, every one of `names` (paths,
/// the refused link, ...) and says what to do (the engine's ` — hint`).
pub fn clear_message(text: &str, sshd: &Sshd, names: &[&str]) -> Result<(), String> {
    let mut missing = Vec::new();
    if !names_host(text, sshd) {
        missing.push(format!("the host ({})", host_label(sshd)));
    }
    for n in names {
        if !text.contains(n) {
            missing.push(format!("{n:?}"));
        }
    }
    if !text.contains(" — ") {
        missing.push("a hint (what to do, after \" — \")".into());
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!("the message lacks {}", missing.join(", ")))
    }
}

/// Which front end a scenario goes through.
#[derive(Debug, Clone, Copy)]
pub enum Via {
    /// `skiff cp`.
    Cli,
    /// The window's path (enqueue + scheduler) in a driver child; the calling test's name.
    Window(&'static str),
}

/// How one transfer ended, whichever front end ran it.
#[derive(Debug)]
pub struct Outcome {
    pub ended: bool,
    /// Exit 0 / job done with no entry errors.
    pub ok: bool,
    /// What a person is shown: stderr, or the job's error and entry errors.
    pub message: String,
    pub peak_rss_kib: u64,
    /// Everything, for an assertion message.
    pub detail: String,
}

impl From<Run> for Outcome {
    fn from(r: Run) -> Self {
        Outcome { ended: !r.timed_out(), ok: r.success(), message: r.stderr.clone(), peak_rss_kib: r.peak_rss_kib, detail: r.describe() }
    }
}

impl From<EngineRun> for Outcome {
    fn from(e: EngineRun) -> Self {
        let job = e.jobs.first().cloned();
        Outcome {
            ended: e.ended(),
            ok: job.as_ref().is_some_and(|j| j.done() && j.entry_errors.is_empty()),
            message: job.as_ref().map(JobResult::all_errors).unwrap_or_default(),
            peak_rss_kib: e.child.peak_rss_kib,
            detail: e.describe(),
        }
    }
}

/// Download remote `source` into the local folder `dest_dir` (a tree with `recursive`).
pub fn download(via: Via, sshd: &Sshd, source: &Path, dest_dir: &Path, recursive: bool, overwrite: &str) -> Outcome {
    match via {
        Via::Cli => {
            let src = remote(source);
            let mut args = vec!["--overwrite", overwrite];
            if recursive {
                args.push("-r");
            }
            args.extend([src.as_str(), dest_dir.to_str().unwrap()]);
            cp(sshd, &args).into()
        }
        Via::Window(test) => {
            let job = WindowJob::Download {
                source: source.display().to_string(),
                dest_dir: dest_dir.to_path_buf(),
                overwrite: overwrite.parse().expect("a policy"),
            };
            engine_jobs(test, sshd, &[job]).into()
        }
    }
}

/// Upload local `source` (a file or a folder) into the remote folder `dest_dir`.
pub fn upload(via: Via, sshd: &Sshd, source: &Path, dest_dir: &Path, overwrite: &str) -> Outcome {
    match via {
        Via::Cli => {
            let dst = remote(dest_dir);
            let mut args = vec!["--overwrite", overwrite];
            if source.is_dir() {
                args.push("-r");
            }
            args.extend([source.to_str().unwrap(), dst.as_str()]);
            cp(sshd, &args).into()
        }
        Via::Window(test) => {
            let job = WindowJob::Upload {
                source: source.to_path_buf(),
                dest_dir: dest_dir.display().to_string(),
                overwrite: overwrite.parse().expect("a policy"),
            };
            engine_jobs(test, sshd, &[job]).into()
        }
    }
}

/// The transfer ended within its bound (with any result).
pub fn check_ended(c: &mut Checks, case: &str, o: &Outcome) {
    c.check(o.ended, || format!("[{case}] no end within the bound: {}", o.detail));
}

/// The transfer ended and succeeded.
pub fn check_ok(c: &mut Checks, case: &str, o: &Outcome) {
    if !o.ended {
        return c.fail(format!("[{case}] expected success, got no end within the bound: {}", o.detail));
    }
    c.check(o.ok, || format!("[{case}] expected success: {}", o.detail));
}

/// The transfer ended, failed, and told a person why: host, every one of `names`, a hint.
pub fn check_clear_failure(c: &mut Checks, case: &str, o: &Outcome, sshd: &Sshd, names: &[&str]) {
    if !o.ended {
        return c.fail(format!("[{case}] expected a clear failure, got no end within the bound: {}", o.detail));
    }
    if o.ok {
        return c.fail(format!("[{case}] expected a failure, got success: {}", o.detail));
    }
    if let Err(why) = clear_message(&o.message, sshd, names) {
        c.fail(format!("[{case}] {why}: {}", o.detail));
    }
}

/// Either success, or a clear failure naming `names`: for lies where both are right.
pub fn check_ok_or_clear_failure(c: &mut Checks, case: &str, o: &Outcome, sshd: &Sshd, names: &[&str]) {
    if !o.ended {
        return c.fail(format!("[{case}] no end within the bound: {}", o.detail));
    }
    if !o.ok {
        if let Err(why) = clear_message(&o.message, sshd, names) {
            c.fail(format!("[{case}] failed, and {why}: {}", o.detail));
        }
    }
}

/// The run's peak resident size stayed under [`RSS_BOUND_KIB`].
pub fn check_rss(c: &mut Checks, case: &str, o: &Outcome) {
    c.check(o.peak_rss_kib <= RSS_BOUND_KIB, || {
        format!("[{case}] peak RSS {} MiB > {} MiB: {}", o.peak_rss_kib / 1024, RSS_BOUND_KIB / 1024, o.detail)
    });
}

/// `path` is a regular file (not a link) holding exactly `want`.
pub fn check_regular(c: &mut Checks, case: &str, path: &Path, want: &[u8]) {
    match std::fs::symlink_metadata(path) {
        Err(e) => c.fail(format!("[{case}] {} is missing: {e}", path.display())),
        Ok(m) if !m.is_file() => c.fail(format!("[{case}] {} is not a regular file: {:?}", path.display(), m.file_type())),
        Ok(_) => {
            let got = std::fs::read(path).unwrap_or_default();
            c.check(got == want, || {
                format!("[{case}] {} has {} bytes, not the {} served (first difference at {:?})", path.display(), got.len(), want.len(), first_difference(&got, want))
            });
        }
    }
}

pub fn first_difference(a: &[u8], b: &[u8]) -> Option<usize> {
    a.iter().zip(b).position(|(x, y)| x != y).or((a.len() != b.len()).then(|| a.len().min(b.len())))
}

/// `n` bytes of a fixed pattern seeded by `seed`.
pub fn pattern(n: usize, seed: u8) -> Vec<u8> {
    (0..n).map(|i| ((i * 131 + i / 251) as u8).wrapping_add(seed)).collect()
}

// -------------------------------------------------------------------------------------
// The engine path the window takes.

const DRIVE_ENV: &str = "SKIFF_HOSTILE_DRIVE";

/// One transfer as the window's `enqueue` gets it: sources and a destination folder.
#[derive(Debug, Clone)]
pub enum WindowJob {
    /// Download remote `source` into the local folder `dest_dir`.
    Download { source: String, dest_dir: PathBuf, overwrite: OverwritePolicy },
    /// Upload local `source` into the remote folder `dest_dir`.
    Upload { source: PathBuf, dest_dir: String, overwrite: OverwritePolicy },
}

/// What became of one job in the engine.
#[derive(Debug, Clone)]
pub struct JobResult {
    /// `done`, `failed`, ... or `enqueue failed` (the window's enqueue itself refused).
    pub state: String,
    pub error: Option<String>,
    /// Errors of single entries of a tree (the rest of the job went on).
    pub entry_errors: Vec<String>,
    pub files: u64,
    pub skipped: u64,
    /// Still not finished at the job bound.
    pub hung: bool,
}

impl JobResult {
    /// Every error text the window would show for this job.
    pub fn all_errors(&self) -> String {
        self.error.iter().chain(&self.entry_errors).cloned().collect::<Vec<_>>().join("\n")
    }

    pub fn done(&self) -> bool {
        self.state == "done"
    }
}

/// The child process and what its jobs did (empty when it wrote no result).
pub struct EngineRun {
    pub child: Run,
    pub jobs: Vec<JobResult>,
}

impl EngineRun {
    pub fn describe(&self) -> String {
        format!("engine jobs: {:#?}\nengine driver child: {}", self.jobs, self.child.describe())
    }

    /// Every job reported an end within the bound.
    pub fn ended(&self) -> bool {
        !self.child.timed_out() && !self.jobs.is_empty() && self.jobs.iter().all(|j| !j.hung)
    }
}

/// Run `jobs` through the window's engine path in a child (see the module docs); `test` is
/// the calling test's name (the child runs it filtered with `--exact`).
pub fn engine_jobs(test: &str, sshd: &Sshd, jobs: &[WindowJob]) -> EngineRun {
    let dir = tempfile::tempdir().expect("a temp dir for the driver");
    let req = dir.path().join("request.json");
    let result = dir.path().join("result.json");
    let jobs_json: Vec<Value> = jobs
        .iter()
        .map(|j| match j {
            WindowJob::Download { source, dest_dir, overwrite } => {
                json!({"way": "download", "source": source, "dest": dest_dir, "overwrite": overwrite.to_string()})
            }
            WindowJob::Upload { source, dest_dir, overwrite } => {
                json!({"way": "upload", "source": source, "dest": dest_dir, "overwrite": overwrite.to_string()})
            }
        })
        .collect();
    let body = json!({
        "ssh_config": sshd.ssh_config,
        "alias": HOST_ALIAS,
        "bound_ms": BOUND.as_millis() as u64,
        "result": result,
        "jobs": jobs_json,
    });
    std::fs::write(&req, body.to_string()).expect("write the driver request");
    let mut cmd = Command::new(std::env::current_exe().expect("the test executable"));
    cmd.args([test, "--exact", "--nocapture", "--test-threads=1"]).env(DRIVE_ENV, &req).env_remove("SSH_AUTH_SOCK");
    let child = bounded::run(&cmd, BOUND + Duration::from_secs(20), DATA_LIMIT);
    let jobs = std::fs::read_to_string(&result)
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .map(|v| v.as_array().cloned().unwrap_or_default().iter().map(job_result).collect())
        .unwrap_or_default();
    EngineRun { child, jobs }
}

fn job_result(v: &Value) -> JobResult {
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    JobResult {
        state: s("state").unwrap_or_default(),
        error: s("error"),
        entry_errors: v
            .get("entry_errors")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|e| e.as_str().map(str::to_string)).collect())
            .unwrap_or_default(),
        files: v.get("files").and_then(Value::as_u64).unwrap_or(0),
        skipped: v.get("skipped").and_then(Value::as_u64).unwrap_or(0),
        hung: v.get("hung").and_then(Value::as_bool).unwrap_or(false),
    }
}

/// In the driver child: run the request, write the result and exit the process. In a
/// normal test run it returns at once. The first line of every `Via::Window` test.
pub fn drive_if_child() {
    let Some(req) = std::env::var_os(DRIVE_ENV) else { return };
    let text = std::fs::read_to_string(&req).expect("read the driver request");
    let req: Value = serde_json::from_str(&text).expect("parse the driver request");
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a runtime");
    let results = rt.block_on(drive(&req));
    let out = req["result"].as_str().expect("result path");
    std::fs::write(out, Value::Array(results).to_string()).expect("write the driver result");
    // Do not wait for a job that may still spin on a runtime thread.
    std::process::exit(0);
}

async fn drive(req: &Value) -> Vec<Value> {
    let config = SshConfig::load(Path::new(req["ssh_config"].as_str().unwrap())).expect("read the fixture's ssh_config");
    let alias = req["alias"].as_str().unwrap().to_string();
    let opts = ConnectOptions::new(config.resolve(&alias), Arc::new(NoPrompter), Arc::new(config));
    let bound = Duration::from_millis(req["bound_ms"].as_u64().unwrap());
    let runner_opts = opts.clone();
    #[allow(clippy::result_large_err)] // the engine's own error type
    let connect: ConnectFor = Arc::new(move |_: &JobSpec| Ok(runner_opts.clone()));
    let runner = Arc::new(SftpJobRunner { connect, transfer: TransferOptions::default(), tree: TreeOptions::default() });
    let queue = Arc::new(Queue::open_in_memory().expect("an in-memory queue"));
    // The window's scheduler: it can ask, runs every job, default limits and retries.
    let config = Config { can_ask: true, scope: Scope::All, ..Config::default() };
    let (sched, _task) = Scheduler::start(queue, runner, config).expect("start the scheduler");

    let mut results: Vec<Option<Value>> = Vec::new();
    let mut ids = Vec::new();
    for job in req["jobs"].as_array().unwrap() {
        match window_spec(&opts, &alias, job).await {
            Ok(spec) => {
                ids.push(Some(sched.add(&spec, 0).expect("add the job")));
                results.push(None);
            }
            Err(e) => {
                ids.push(None);
                results.push(Some(json!({"state": "enqueue failed", "error": e})));
            }
        }
    }
    let idle = tokio::time::timeout(bound, sched.idle()).await.is_ok();
    let records = sched.jobs().unwrap_or_default();
    for (slot, id) in results.iter_mut().zip(&ids) {
        let Some(id) = *id else { continue };
        *slot = Some(match sched.take_outcome(id) {
            Some(o) => {
                let report = o.report.as_ref();
                json!({
                    "state": o.state.as_str(),
                    "error": o.error.as_ref().map(|e| e.to_string()),
                    "entry_errors": report.map(|r| r.errors.iter().map(|e| e.to_string()).collect::<Vec<_>>()).unwrap_or_default(),
                    "files": report.map(|r| r.files).unwrap_or(0),
                    "skipped": report.map(|r| r.skipped).unwrap_or(0),
                    "hung": false,
                })
            }
            None => {
                let rec = records.iter().find(|r| r.id == id);
                json!({
                    "state": rec.map(|r| r.state.as_str()).unwrap_or("unknown"),
                    "error": rec.and_then(|r| r.error.clone()).map(|e| format!("{e} (retries so far: {})", rec.map(|r| r.retries).unwrap_or(0))),
                    "hung": true,
                })
            }
        });
    }
    let _ = idle;
    results.into_iter().map(|r| r.unwrap_or(Value::Null)).collect()
}

/// The job spec the window's `enqueue` makes (`src-tauri/src/commands/queue.rs`).
async fn window_spec(opts: &ConnectOptions, alias: &str, job: &Value) -> Result<JobSpec, String> {
    let overwrite: OverwritePolicy = job["overwrite"].as_str().unwrap().parse().map_err(|e| format!("{e}"))?;
    let source = job["source"].as_str().unwrap().to_string();
    let dest = job["dest"].as_str().unwrap().to_string();
    let mut spec = JobSpec {
        kind: JobKind::Copy,
        direction: Direction::Download,
        host: alias.to_string(),
        user: None,
        port: None,
        ssh_config: None,
        profile_id: None,
        overrides: Default::default(),
        local_path: PathBuf::new(),
        remote_path: String::new(),
        recursive: false,
        overwrite,
        preserve_mtime: true,
        preserve_permissions: true,
        speed_limit: None,
    };
    if job["way"] == "upload" {
        let local = PathBuf::from(&source);
        let meta = std::fs::metadata(&local).map_err(|e| format!("queue upload {source}: {e}"))?;
        spec.direction = Direction::Upload;
        spec.recursive = meta.is_dir();
        let name = local.file_name().and_then(|n| n.to_str()).ok_or("a UTF-8 name")?;
        spec.remote_path = if spec.recursive { dest } else { join_remote(&dest, name) };
        spec.local_path = local;
    } else {
        let stat = tokio::time::timeout(Duration::from_secs(15), async {
            let conn = Connection::connect(opts).await?;
            let sess = conn.open_sftp(InFlightBudget::new(16 * 1024 * 1024)).await?;
            let attrs = sess.stat(&source).await.map_err(|e| e.op("queue download"));
            conn.disconnect().await;
            attrs
        })
        .await
        .map_err(|_| "queue download: the STAT did not answer within 15 s".to_string())?
        .map_err(|e| e.to_string())?;
        spec.recursive = stat.is_dir();
        let dest = PathBuf::from(dest);
        spec.local_path = if spec.recursive { dest } else { dest.join(remote_basename(&source).map_err(|e| e.to_string())?) };
        spec.remote_path = source;
    }
    Ok(spec)
}

/// One transfer of a batch run by [`transfers`].
#[derive(Debug, Clone)]
pub enum Xfer {
    Down { source: PathBuf, dest_dir: PathBuf, recursive: bool, overwrite: &'static str },
    Up { source: PathBuf, dest_dir: PathBuf, overwrite: &'static str },
}

/// Run every transfer at once: `skiff cp` processes side by side, or one window driver
/// child with all the jobs in its queue. One outcome per transfer, in order.
pub fn transfers(via: Via, sshd: &Sshd, xfers: &[Xfer]) -> Vec<Outcome> {
    match via {
        Via::Cli => std::thread::scope(|s| {
            let runs: Vec<_> = xfers
                .iter()
                .map(|x| {
                    s.spawn(move || match x {
                        Xfer::Down { source, dest_dir, recursive, overwrite } => download(Via::Cli, sshd, source, dest_dir, *recursive, overwrite),
                        Xfer::Up { source, dest_dir, overwrite } => upload(Via::Cli, sshd, source, dest_dir, overwrite),
                    })
                })
                .collect();
            runs.into_iter().map(|h| h.join().expect("a transfer thread")).collect()
        }),
        Via::Window(test) => {
            let jobs: Vec<WindowJob> = xfers
                .iter()
                .map(|x| match x {
                    Xfer::Down { source, dest_dir, overwrite, .. } => WindowJob::Download {
                        source: source.display().to_string(),
                        dest_dir: dest_dir.clone(),
                        overwrite: overwrite.parse().expect("a policy"),
                    },
                    Xfer::Up { source, dest_dir, overwrite } => WindowJob::Upload {
                        source: source.clone(),
                        dest_dir: dest_dir.display().to_string(),
                        overwrite: overwrite.parse().expect("a policy"),
                    },
                })
                .collect();
            let run = engine_jobs(test, sshd, &jobs);
            let detail = run.describe();
            (0..xfers.len())
                .map(|i| {
                    let job = run.jobs.get(i).cloned();
                    Outcome {
                        ended: !run.child.timed_out() && job.as_ref().is_some_and(|j| !j.hung),
                        ok: job.as_ref().is_some_and(|j| j.done() && j.entry_errors.is_empty()),
                        message: job.as_ref().map(JobResult::all_errors).unwrap_or_default(),
                        peak_rss_kib: run.child.peak_rss_kib,
                        detail: format!("job {i} of this batch; {detail}"),
                    }
                })
                .collect()
        }
    }
}

/// SHA-256 of a file's content, or "" when it cannot be read.
pub fn digest(path: &Path) -> String {
    skiff_tests::files::sha256_file(path).unwrap_or_default()
}

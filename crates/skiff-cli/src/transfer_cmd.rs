//! `skiff cp` and `skiff ls`: turn command-line locations into engine calls and show progress.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use skiff_engine::remote::Location;
use skiff_engine::sftp::InFlightBudget;
use skiff_engine::ssh::{ConnectOptions, Connection};
use skiff_engine::transfer::{self, Progress, TransferOptions, TreeOptions, TreeReport};
use skiff_engine::{Error, ErrorKind, Result};

use crate::{jobs, CpArgs, LsArgs, TuneArgs};
use skiff_engine::store::Direction;

fn usage(detail: impl Into<String>) -> Error {
    Error::new(ErrorKind::Config, "cp", detail).hint("see `skiff cp --help`")
}

fn transfer_options(t: &TuneArgs) -> TransferOptions {
    let mut o = TransferOptions::default();
    if let Some(n) = t.requests {
        o.max_requests = n.max(1);
    }
    o.block_size = t.block_size;
    if let Some(n) = t.channels {
        o.channels = n.max(1);
    }
    if let Some(n) = t.connections {
        o.connections = n.max(1);
    }
    if let Some(n) = t.retries {
        o.retries = n;
    }
    o
}

/// A progress bar on a terminal, nothing otherwise.
pub struct Display {
    bar: Option<ProgressBar>,
    quiet: bool,
}

impl Display {
    pub fn new(quiet: bool) -> Self {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let b = ProgressBar::new(0);
            b.set_style(
                ProgressStyle::with_template(
                    "{msg:30!} {bar:30.cyan/blue} {bytes:>10}/{total_bytes:10} {binary_bytes_per_sec:>12} {eta:>4}",
                )
                .expect("valid template"),
            );
            b
        });
        Display { bar, quiet }
    }

    pub async fn track<T>(&self, name: &str, progress: Arc<Progress>, work: impl std::future::Future<Output = Result<T>>) -> Result<T> {
        let Some(bar) = &self.bar else { return work.await };
        bar.reset();
        bar.set_message(name.to_string());
        let ticker = {
            let bar = bar.clone();
            let p = progress.clone();
            tokio::spawn(async move {
                loop {
                    bar.set_length(p.total());
                    bar.set_position(p.done());
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            })
        };
        let r = work.await;
        ticker.abort();
        bar.set_length(progress.total());
        bar.set_position(progress.done());
        r
    }

    fn done(&self, files: usize, bytes: u64, started: Instant) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        if !self.quiet && std::io::stderr().is_terminal() {
            let secs = started.elapsed().as_secs_f64().max(1e-6);
            eprintln!(
                "{files} file(s), {:.1} MB in {secs:.2} s ({:.1} MB/s)",
                bytes as f64 / 1e6,
                bytes as f64 / 1e6 / secs
            );
        }
    }
}

pub async fn cp(args: CpArgs) -> Result<()> {
    let (dst, srcs) = args.paths.split_last().ok_or_else(|| usage("give at least one source and a destination"))?;
    let dst = Location::parse(dst);
    let srcs: Vec<Location> = srcs.iter().map(|s| Location::parse(s)).collect();
    let topts = transfer_options(&args.tune);
    let display = Display::new(args.quiet);
    let started = Instant::now();
    let mut files = 0usize;
    let mut bytes = 0u64;

    match &dst {
        Location::Remote { user, host, path } => {
            if srcs.iter().any(Location::is_remote) {
                return Err(usage("copying between two remote hosts is not supported; copy to a local folder first"));
            }
            let opts = args.conn.connect_options(user.as_deref(), host)?;
            let remote_dir = if path.is_empty() { "." } else { path.as_str() };
            if srcs.len() > 1 {
                ensure_remote_dir(&opts, remote_dir).await?;
            }
            for src in &srcs {
                let Location::Local(local) = src else { unreachable!() };
                let local = Path::new(local);
                if local.is_dir() {
                    if !args.recursive {
                        return Err(Error::new(ErrorKind::WrongType, "upload", "this is a directory")
                            .path(local.display().to_string())
                            .hint("use -r to copy a directory"));
                    }
                    let (f, b) = upload_tree(&args, user.as_deref(), host, &opts, local, remote_dir, &topts, &display).await?;
                    files += f;
                    bytes += b;
                } else {
                    let progress = Arc::new(Progress::new());
                    let name = local.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                    let r = display
                        .track(&name, progress.clone(), transfer::upload_file(&opts, local, remote_dir, &topts, progress))
                        .await?;
                    files += 1;
                    bytes += r.bytes;
                }
            }
        }
        Location::Local(local_dst) => {
            let mut host_of_all: Option<(Option<String>, String)> = None;
            for s in &srcs {
                match s {
                    Location::Remote { user, host, .. } => {
                        if let Some((u, h)) = &host_of_all {
                            if h != host || u != user {
                                return Err(usage("all remote sources must be on the same host"));
                            }
                        }
                        host_of_all = Some((user.clone(), host.clone()));
                    }
                    Location::Local(l) => {
                        return Err(usage(format!("{l} and the destination are both local; use cp")));
                    }
                }
            }
            let (user, host) = host_of_all.ok_or_else(|| usage("no remote source"))?;
            let opts = args.conn.connect_options(user.as_deref(), &host)?;
            let local_dst = PathBuf::from(local_dst);
            if srcs.len() > 1 && !local_dst.is_dir() {
                return Err(Error::new(ErrorKind::WrongType, "download", "with several sources the destination must be a directory")
                    .path(local_dst.display().to_string()));
            }
            for src in &srcs {
                let Location::Remote { path, .. } = src else { unreachable!() };
                let path = if path.is_empty() { "." } else { path.as_str() };
                let (f, b) = download_any(&args, user.as_deref(), &host, &opts, path, &local_dst, &topts, &display).await?;
                files += f;
                bytes += b;
            }
        }
    }
    display.done(files, bytes, started);
    Ok(())
}

async fn connect_one(opts: &ConnectOptions) -> Result<(Connection, skiff_engine::sftp::SftpSession)> {
    let conn = Connection::connect(opts).await?;
    let sess = conn.open_sftp(InFlightBudget::new(16 * 1024 * 1024)).await?;
    Ok((conn, sess))
}

async fn ensure_remote_dir(opts: &ConnectOptions, dir: &str) -> Result<()> {
    let (conn, sess) = connect_one(opts).await?;
    let r = match sess.try_stat(dir).await? {
        Some(a) if a.is_dir() => Ok(()),
        _ => Err(Error::new(ErrorKind::WrongType, "upload", "with several sources the destination must be an existing directory")
            .host(opts.label())
            .path(dir)),
    };
    conn.disconnect().await;
    r
}

/// Download a file, or with `recursive` a directory tree. Returns (files, bytes).
/// Download one file, with a progress bar. Returns (files, bytes).
async fn download_one(
    opts: &ConnectOptions,
    path: &str,
    local_dst: &Path,
    topts: &TransferOptions,
    display: &Display,
) -> Result<(usize, u64)> {
    let progress = Arc::new(Progress::new());
    let name = transfer::remote_basename(path).unwrap_or(path).to_string();
    let r = display
        .track(&name, progress.clone(), transfer::download_file(opts, path, local_dst, topts, progress))
        .await?;
    Ok((1, r.bytes))
}

#[allow(clippy::too_many_arguments)]
async fn download_any(
    args: &CpArgs,
    user: Option<&str>,
    host: &str,
    opts: &ConnectOptions,
    path: &str,
    local_dst: &Path,
    topts: &TransferOptions,
    display: &Display,
) -> Result<(usize, u64)> {
    if !args.recursive {
        // One connection for the whole file: no probe connection first.
        return download_one(opts, path, local_dst, topts, display).await;
    }
    let mut spec = jobs::tree_spec(Direction::Download, &args.conn, user, host, &absolute(local_dst), path);
    spec.overwrite = overwrite_policy(args)?;
    let tree_opts = TreeOptions { overwrite: spec.overwrite, ..tree_options(topts) };
    let tree = jobs::run_tree_job(jobs::open_queue(), None, &spec, opts, topts, tree_opts, display).await;
    match tree {
        // `-r` on a plain file copies the file, as scp does.
        Err(e) if e.kind == ErrorKind::WrongType => download_one(opts, path, local_dst, topts, display).await,
        other => tree_outcome(other?),
    }
}

pub fn tree_options(t: &TransferOptions) -> TreeOptions {
    let mut o = TreeOptions::default();
    if let Some(n) = std::env::var("SKIFF_FILES_IN_FLIGHT").ok().and_then(|v| v.parse().ok()) {
        o.files_in_flight = n;
    }
    o.connections = o.connections.min(t.connections.max(1));
    o
}

/// Report entries that failed; the job as a whole fails if any did.
fn tree_outcome(report: TreeReport) -> Result<(usize, u64)> {
    for e in &report.errors {
        eprintln!("skiff: {e}");
    }
    if let Some(first) = report.errors.first() {
        let n = report.errors.len();
        return Err(first.clone().hint(format!(
            "{n} entr{} failed (listed above); {} file(s) were copied",
            if n == 1 { "y" } else { "ies" },
            report.files
        )));
    }
    Ok((report.files as usize, report.bytes))
}

/// Upload a directory tree into `remote_dir`, recorded in the queue. Returns (files, bytes).
#[allow(clippy::too_many_arguments)]
async fn upload_tree(
    args: &CpArgs,
    user: Option<&str>,
    host: &str,
    opts: &ConnectOptions,
    local: &Path,
    remote_dir: &str,
    topts: &TransferOptions,
    display: &Display,
) -> Result<(usize, u64)> {
    let mut spec = jobs::tree_spec(Direction::Upload, &args.conn, user, host, &absolute(local), remote_dir);
    spec.overwrite = overwrite_policy(args)?;
    let tree = TreeOptions { overwrite: spec.overwrite, ..tree_options(topts) };
    let report = jobs::run_tree_job(jobs::open_queue(), None, &spec, opts, topts, tree, display).await?;
    tree_outcome(report)
}

fn overwrite_policy(args: &CpArgs) -> Result<skiff_engine::store::OverwritePolicy> {
    args.overwrite.parse().map_err(|e| usage(format!("--overwrite: {e}")))
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

pub async fn ls(args: LsArgs) -> Result<()> {
    let Location::Remote { user, host, path } = Location::parse(&args.target) else {
        return Err(Error::new(ErrorKind::Config, "ls", format!("{} is not a remote location", args.target))
            .hint("use HOST:PATH, e.g. myserver:/srv"));
    };
    let opts = args.conn.connect_options(user.as_deref(), &host)?;
    let path = if path.is_empty() { "." } else { path.as_str() };
    let (conn, sess) = connect_one(&opts).await?;
    let attrs = sess.stat(path).await.map_err(|e| e.op("ls"))?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    use std::io::Write;
    if !attrs.is_dir() {
        writeln!(out, "{path}").ok();
    } else {
        let mut rd = sess.read_dir(path).await.map_err(|e| e.op("ls"))?;
        while let Some(batch) = rd.next_batch().await? {
            let mut batch = batch;
            batch.sort_by(|a, b| a.filename.cmp(&b.filename));
            for e in batch {
                let name = String::from_utf8_lossy(&e.filename);
                if !args.all && name.starts_with('.') {
                    continue;
                }
                if args.long {
                    writeln!(out, "{}", String::from_utf8_lossy(&e.longname)).ok();
                } else {
                    writeln!(out, "{name}").ok();
                }
            }
        }
    }
    out.flush().ok();
    drop(out);
    conn.disconnect().await;
    Ok(())
}

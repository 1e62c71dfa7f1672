//! `skiff cp` and `skiff ls`: turn command-line locations into engine calls and show progress.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::broadcast::error::RecvError;
use skiff_engine::job::{Direction, OverwritePolicy};
use skiff_engine::remote::Location;
use skiff_engine::retry::RetryPolicy;
use skiff_engine::sftp::InFlightBudget;
use skiff_engine::ssh::{ConnectOptions, Connection};
use skiff_engine::engine::Copy;
use skiff_engine::scheduler::{Event, Scheduler};
use skiff_engine::transfer::{RateLimit, Throttle, TransferOptions, TreeOptions};
use skiff_engine::{text, Error, ErrorKind, Result};

use crate::{jobs, CpArgs, LsArgs, TuneArgs};

fn usage(detail: impl Into<String>) -> Error {
    Error::new(ErrorKind::Config, "cp", detail).hint("see `skiff cp --help`")
}

/// A command-line location; a remote one with a malformed `user@host` part is an error of `op`.
fn location(op: &str, s: &str) -> Result<Location> {
    Location::parse(s).map_err(|e| {
        Error::new(ErrorKind::Config, op, format!("{s:?} is not a valid location: {e}")).hint("use [user@]host:path for a remote location, or ./path for a local one")
    })
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
        o.retry = RetryPolicy::attempts(n);
    }
    if let Some(rate) = t.limit.filter(|&r| r > 0) {
        o.throttle = Throttle::with(RateLimit::new(Some(rate)));
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

    /// Show the running jobs' progress, as the scheduler's ordered stream tells it, until
    /// the scheduler is idle.
    pub async fn track_jobs(&self, sched: &Scheduler) {
        let Some(bar) = &self.bar else { return sched.idle().await };
        bar.reset();
        let mut names = jobs::names(sched);
        let mut events = sched.subscribe();
        let idle = sched.idle();
        tokio::pin!(idle);
        loop {
            let snap = tokio::select! {
                _ = &mut idle => break,
                e = events.recv() => match e {
                    Ok(Event::Progress { snapshot }) => snapshot,
                    Ok(_) | Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => break,
                },
            };
            let Some(first) = snap.jobs.first() else { continue };
            if !names.contains_key(&first.id) {
                names = jobs::names(sched);
            }
            let name = names.get(&first.id).map(|n| text::escape(n).into_owned()).unwrap_or_default();
            let more = snap.jobs.len() - 1;
            bar.set_message(if more > 0 { format!("{name} (+{more})") } else { name });
            bar.set_length(snap.bytes_total);
            bar.set_position(snap.bytes_done);
        }
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

/// `skiff cp`: one queued job per source, run through the scheduler.
pub async fn cp(args: CpArgs) -> Result<()> {
    let (dst, srcs) = args.paths.split_last().ok_or_else(|| usage("give at least one source and a destination"))?;
    let dst = location("cp", dst)?;
    let srcs: Vec<Location> = srcs.iter().map(|s| location("cp", s)).collect::<Result<_>>()?;
    let topts = transfer_options(&args.tune);
    let policy = overwrite_policy(&args)?;
    let display = Display::new(args.quiet);
    let started = Instant::now();
    let mut copies = Vec::new();
    let copy = |direction, local: &Path, remote: &str, recursive| Copy {
        overwrite: policy,
        preserve_mtime: !args.no_times,
        preserve_permissions: !args.no_perms,
        ..Copy::new(direction, absolute(local), remote, recursive)
    };

    let reach = match &dst {
        Location::Remote { user, host, path } => {
            if srcs.iter().any(Location::is_remote) {
                return Err(usage("copying between two remote hosts is not supported; copy to a local folder first"));
            }
            let reach = args.conn.reach(user.as_deref(), host);
            let opts = crate::connect_options(&reach)?;
            let remote_dir = if path.is_empty() { "." } else { path.as_str() };
            if srcs.len() > 1 {
                ensure_remote_dir(&opts, remote_dir).await?;
            }
            for src in &srcs {
                let Location::Local(local) = src else { unreachable!() };
                let local = Path::new(local);
                let is_dir = local.is_dir();
                if is_dir && !args.recursive {
                    return Err(Error::new(ErrorKind::WrongType, "upload", "this is a directory")
                        .path(local.display().to_string())
                        .hint("use -r to copy a directory"));
                }
                copies.push(copy(Direction::Upload, local, remote_dir, is_dir));
            }
            reach
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
            let reach = args.conn.reach(user.as_deref(), &host);
            crate::connect_options(&reach)?;
            let local_dst = PathBuf::from(local_dst);
            if srcs.len() > 1 && !local_dst.is_dir() {
                return Err(Error::new(ErrorKind::WrongType, "download", "with several sources the destination must be a directory")
                    .path(local_dst.display().to_string()));
            }
            for src in &srcs {
                let Location::Remote { path, .. } = src else { unreachable!() };
                let path = if path.is_empty() { "." } else { path.as_str() };
                copies.push(copy(Direction::Download, &local_dst, path, args.recursive));
            }
            reach
        }
    };
    let totals = jobs::run_new_jobs(&reach, &copies, &topts, tree_options(&topts), &display).await?;
    display.done(totals.files, totals.bytes, started);
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

pub fn tree_options(t: &TransferOptions) -> TreeOptions {
    let mut o = TreeOptions::default();
    if let Some(n) = std::env::var("SKIFF_FILES_IN_FLIGHT").ok().and_then(|v| v.parse().ok()) {
        o.files_in_flight = n;
    }
    o.connections = o.connections.min(t.connections.max(1));
    o
}

fn overwrite_policy(args: &CpArgs) -> Result<OverwritePolicy> {
    args.overwrite.parse().map_err(|e| usage(format!("--overwrite: {e}")))
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

pub async fn ls(args: LsArgs) -> Result<()> {
    let Location::Remote { user, host, path } = location("ls", &args.target)? else {
        return Err(Error::new(ErrorKind::Config, "ls", format!("{} is not a remote location", args.target))
            .hint("use HOST:PATH, e.g. myserver:/srv"));
    };
    let opts = crate::connect_options(&args.conn.reach(user.as_deref(), &host))?;
    let path = if path.is_empty() { "." } else { path.as_str() };
    let (conn, sess) = connect_one(&opts).await?;
    let attrs = sess.stat(path).await.map_err(|e| e.op("ls"))?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    use std::io::Write;
    // Names, long lines and the path itself come from the server: escaped, never raw.
    if !attrs.is_dir() {
        writeln!(out, "{}", text::escape(path)).ok();
    } else {
        let mut rd = sess.read_dir(path).await.map_err(|e| e.op("ls"))?;
        while let Some(batch) = rd.next_batch().await? {
            let mut batch = batch;
            batch.sort_by(|a, b| a.filename.cmp(&b.filename));
            for e in batch {
                if !args.all && e.filename.starts_with(b".") {
                    continue;
                }
                if args.long {
                    writeln!(out, "{}", text::escape_bytes(&e.longname)).ok();
                } else {
                    writeln!(out, "{}", text::escape_bytes(&e.filename)).ok();
                }
            }
        }
    }
    out.flush().ok();
    drop(out);
    conn.disconnect().await;
    Ok(())
}

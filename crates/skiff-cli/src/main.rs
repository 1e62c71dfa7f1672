//! `skiff`: scp-like, script-friendly command line over skiff-engine.
//!
//! ```text
//! skiff cp [-r] [options] SRC... DST     copy files; remote locations are [user@]host:path
//! skiff ls [-l] [options] HOST:PATH      list a remote directory
//! ```
//! Exit codes (stable, for scripts): 0 ok, 1 remote or other failure, 2 usage or config,
//! 3 network, 4 authentication, 5 host key unknown or changed, 6 not found,
//! 7 permission denied, 8 local I/O, 130 cancelled.

// The engine's `Error` is large by design (see skiff-engine's lib.rs).
#![allow(clippy::result_large_err)]

mod jobs;
mod prompt;
mod rate;
mod transfer_cmd;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use skiff_engine::engine::{default_ssh_config, Address, Connector, KeyringFirst, Logins, Reach};
use skiff_engine::ssh::{ConnectOptions, Overrides, Prompter};
use skiff_engine::store::secrets::Secrets;
use skiff_engine::{Error, ErrorKind};

/// The environment variables, for `--help`.
const ENVIRONMENT: &str = "Environment:
  SKIFF_PASSWORD    password for the target host only (the user@host:port named on the
                    command line), offered once; ProxyJump hosts are never sent it and ask
                    on the terminal for their own password (or use keys)
  SKIFF_PASSPHRASE  passphrase of an encrypted private key (it only unlocks the local key
                    file and is never sent to a server)
  SKIFF_LOG         log filter (default: warn)";

#[derive(Parser)]
#[command(name = "skiff", version, about = "Fast SFTP transfers", propagate_version = true, after_help = ENVIRONMENT)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Copy files to or from a server: skiff cp [-r] SRC... DST
    Cp(CpArgs),
    /// List a remote directory: skiff ls HOST:PATH
    Ls(LsArgs),
    /// The persisted queue of jobs: list, resume, pause, retry, cancel, move, priority, clear.
    Queue(QueueArgs),
}

#[derive(Args)]
pub struct QueueArgs {
    /// No progress bar.
    #[arg(short = 'q', long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    action: Option<QueueAction>,
}

#[derive(Subcommand, Clone, Copy)]
pub enum QueueAction {
    /// List the jobs (the default).
    List,
    /// Run every unfinished job (after a crash, a kill or a reboot), skipping finished files.
    Resume,
    /// Hold a queued job, or stop a running one (in whichever skiff process runs it).
    Pause { id: i64 },
    /// Queue a failed, cancelled or paused job again.
    Retry { id: i64 },
    /// Cancel a job (a running one stops within half a second).
    Cancel { id: i64 },
    /// Move a job within its priority: up, down, top or bottom.
    Move {
        id: i64,
        #[arg(value_enum)]
        to: MoveTo,
    },
    /// Set a job's priority (higher runs first; default 0).
    Priority {
        id: i64,
        #[arg(allow_negative_numbers = true)]
        priority: i32,
    },
    /// Pause every queued and running job.
    PauseAll,
    /// Queue every paused job again (`resume` then runs them).
    UnpauseAll,
    /// Remove finished and cancelled jobs.
    Clear,
}

/// Where `skiff queue move` puts a job.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum MoveTo {
    Up,
    Down,
    Top,
    Bottom,
}

/// How to reach the server (shared by every subcommand).
#[derive(Args, Clone)]
pub struct ConnArgs {
    /// Port to connect to (overrides ~/.ssh/config).
    #[arg(short = 'P', long)]
    pub port: Option<u16>,
    /// ssh_config file to read instead of ~/.ssh/config.
    #[arg(short = 'F', long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Private key to try first (repeatable).
    #[arg(short = 'i', long = "identity", value_name = "FILE")]
    pub identity: Vec<PathBuf>,
    /// ssh_config option as KEY=VALUE: User, Port, IdentityFile, IdentitiesOnly,
    /// UserKnownHostsFile, StrictHostKeyChecking, ConnectTimeout (repeatable).
    #[arg(short = 'o', value_name = "KEY=VALUE")]
    pub options: Vec<String>,
    /// Accept and save an unknown host key (like StrictHostKeyChecking=accept-new).
    #[arg(long)]
    pub accept_new: bool,
}

#[derive(Args)]
pub struct TuneArgs {
    /// Requests in flight per channel (the pipeline grows up to this).
    #[arg(long, value_name = "N")]
    requests: Option<u32>,
    /// Bytes per read/write request (default: the server's maximum, 255 KiB on OpenSSH).
    #[arg(long, value_name = "BYTES")]
    block_size: Option<u32>,
    /// SFTP channels a large file is spread over.
    #[arg(long, value_name = "N")]
    channels: Option<u32>,
    /// SSH connections those channels are spread over.
    #[arg(long, value_name = "N")]
    connections: Option<u32>,
    /// Reconnect attempts after a dropped connection.
    #[arg(long, value_name = "N")]
    retries: Option<u32>,
    /// Speed limit in bytes per second, with an optional K, M or G (powers of 1024):
    /// 500K, 10M, 1.5M. 0 means no limit.
    #[arg(long, value_name = "RATE", value_parser = rate::parse_rate)]
    limit: Option<u64>,
}

#[derive(Args)]
pub struct CpArgs {
    /// Copy directories recursively.
    #[arg(short = 'r', long)]
    recursive: bool,
    /// No progress bar and no summary.
    #[arg(short = 'q', long)]
    quiet: bool,
    /// What to do with a destination file that already exists (a single file, or each file
    /// of a -r tree): overwrite, skip, overwrite-if-newer, overwrite-if-size-differs, resume
    /// (send only the rest of a shorter copy; skip same size) or rename ("name (1).ext").
    #[arg(long, value_name = "POLICY", default_value = "overwrite")]
    overwrite: String,
    /// Do not give copies the source's modification time.
    #[arg(long)]
    no_times: bool,
    /// Do not give copies the source's permission bits (the destination's defaults apply).
    #[arg(long)]
    no_perms: bool,
    #[command(flatten)]
    conn: ConnArgs,
    #[command(flatten)]
    tune: TuneArgs,
    /// Sources, then the destination.
    #[arg(required = true, num_args = 2.., value_name = "SRC... DST")]
    paths: Vec<String>,
}

#[derive(Args)]
pub struct LsArgs {
    /// Long listing: type, permissions, size, modification time.
    #[arg(short = 'l')]
    long: bool,
    /// Show entries starting with a dot.
    #[arg(short = 'a')]
    all: bool,
    #[command(flatten)]
    conn: ConnArgs,
    /// HOST:PATH
    target: String,
}

/// Exit code for an engine error (documented in the module docs and README).
pub fn exit_code(e: &Error) -> u8 {
    match e.kind {
        ErrorKind::Remote | ErrorKind::Protocol | ErrorKind::Unsupported | ErrorKind::WrongType => 1,
        ErrorKind::Config => 2,
        ErrorKind::Network => 3,
        ErrorKind::Auth => 4,
        ErrorKind::HostKeyUnknown | ErrorKind::HostKeyChanged => 5,
        ErrorKind::NotFound => 6,
        ErrorKind::PermissionDenied => 7,
        ErrorKind::LocalIo | ErrorKind::DiskFull | ErrorKind::Keyring => 8,
        ErrorKind::Cancelled => 130,
    }
}

impl ConnArgs {
    /// `[user@]host` with the command line's overrides: how the engine reaches it, and what a
    /// queued job records (so `skiff queue resume` and the window connect it the same way).
    pub fn reach(&self, user: Option<&str>, host: &str) -> Reach {
        Reach::Address(Address {
            host: host.to_string(),
            user: user.map(str::to_string),
            port: self.port,
            ssh_config: self.config.clone(),
            overrides: Overrides { identity: self.identity.clone(), options: self.options.clone(), accept_new: self.accept_new },
        })
    }
}

/// The command line's logins: the terminal asks (`SKIFF_PASSWORD` answers for the target).
pub struct TerminalLogins;

impl Logins for TerminalLogins {
    /// The terminal; for a saved host (a job the window queued), its keyring secrets first.
    fn prompter(&self, reach: &Reach, resolved: &ConnectOptions) -> Arc<dyn Prompter> {
        let terminal: Arc<dyn Prompter> = Arc::new(prompt::TerminalPrompter::from_env(resolved.account()));
        match reach {
            Reach::Profile(_) => Arc::new(KeyringFirst::new(terminal, Secrets::new())),
            Reach::Address(_) => terminal,
        }
    }
}

/// Settings for `reach` with the terminal as prompter.
pub fn connect_options(reach: &Reach) -> Result<ConnectOptions, Error> {
    Connector::new(None, default_ssh_config(), Arc::new(TerminalLogins)).options(reach)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SKIFF_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("skiff")
        .build()
        .expect("tokio runtime");
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Cp(args) => transfer_cmd::cp(args).await,
            Command::Ls(args) => transfer_cmd::ls(args).await,
            Command::Queue(args) => jobs::queue_cmd(args.action.unwrap_or(QueueAction::List), args.quiet).await,
        }
    });
    // Don't wait for lingering connection tasks.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("skiff: {e}");
            ExitCode::from(exit_code(&e))
        }
    }
}

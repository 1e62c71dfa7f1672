//! [`Engine`]: the one object a front end holds. It owns the saved hosts, the persisted
//! queue and the scheduler that runs it, the browsing sessions ([`sessions`]: connect,
//! supervise, reconnect), and how every job and session reaches its server
//! ([`reach`]: a saved host or an address with its overrides, resolved through ssh_config in
//! one place). A front end brings only what it alone can do: answering a login's questions
//! and keeping what logged in ([`Logins`]) and the transfer settings a person chose ([`Tuning`]). The window and the
//! command line run jobs the same way, so a job queued by one resumes in the other with the
//! same key, port and known_hosts.
//!
//! # Layout
//! - [`reach`]: [`Reach`], [`Address`]; a stored job back to its way of connecting.
//! - [`copy`]: [`Copy`], the one place a copy job's spec is made, and the "into this folder"
//!   rule the window's panes and drag and drop use.
//! - [`saved_secrets`]: [`KeyringFirst`], a saved host's keyring secrets offered before a
//!   front end is asked (a job from a saved host resumes anywhere without typing).
//! - [`sessions`]: [`Sessions`], the browsing sessions by id: logging in, each session's
//!   watcher and background reconnect with backoff, a request's one reconnect, closing; their
//!   state changes as [`SessionEvent`]s.

pub mod copy;
pub mod reach;
pub mod saved_secrets;
pub mod sessions;

use std::path::PathBuf;
use std::sync::Arc;

use futures::future::BoxFuture;
use tokio::task::JoinHandle;

use crate::error::Result;
use crate::job::{JobId, JobRecord, JobSpec};
use crate::scheduler::{self, ConnectFor, JobContext, JobReport, JobRunner, Scheduler, SftpJobRunner};
use crate::ssh::{ConnectOptions, NoPrompter, Prompter};
use crate::store::profiles::Profiles;
use crate::store::Queue;
use crate::transfer::{TransferOptions, TreeOptions};

pub use copy::Copy;
pub use reach::{default_ssh_config, import_ssh_config_path, Address, Reach};
pub use saved_secrets::KeyringFirst;
pub use sessions::{Attempt, Session, SessionEvent, SessionLogin, SessionState, Sessions};

/// How a front end answers what a login asks (passwords, passphrases, unknown host keys).
pub trait Logins: Send + Sync + 'static {
    /// The prompter for a job's connection to `reach`, whose settings (and so whose account)
    /// are `resolved`.
    fn prompter(&self, reach: &Reach, resolved: &ConnectOptions) -> Arc<dyn Prompter>;

    /// The front end's part in a browsing session's login to `reach` (`resolved` as for
    /// [`Logins::prompter`]): which login it is may change how stored secrets are offered,
    /// and what logged in may be kept. By default, the job prompter and nothing kept.
    fn session_login(&self, reach: &Reach, resolved: &ConnectOptions, attempt: Attempt) -> SessionLogin {
        let _ = attempt;
        SessionLogin::new(self.prompter(reach, resolved))
    }
}

/// Nobody to ask: keys and agents only; an unknown host key is refused.
pub struct NoLogins;

impl Logins for NoLogins {
    fn prompter(&self, _: &Reach, _: &ConnectOptions) -> Arc<dyn Prompter> {
        Arc::new(NoPrompter)
    }
}

/// The transfer settings for the next job run, read when it starts (so a setting changed in
/// the window applies to the next job without a restart).
pub type Tuning = Arc<dyn Fn() -> (TransferOptions, TreeOptions) + Send + Sync>;

/// What an engine is made of.
pub struct EngineConfig {
    pub queue: Arc<Queue>,
    /// The saved hosts jobs may name; `None` when they cannot be read (jobs that name one
    /// then connect by their recorded address).
    pub profiles: Option<Arc<Profiles>>,
    /// The ssh_config file for addresses and saved hosts without a `-F` of their own
    /// (`None`: `~/.ssh/config`); see [`default_ssh_config`].
    pub ssh_config: Option<PathBuf>,
    pub logins: Arc<dyn Logins>,
    pub scheduler: scheduler::Config,
    pub tuning: Tuning,
}

/// Turns a way of reaching a server into connection settings with the front end's
/// prompter: what sessions and every job connect through.
pub struct Connector {
    profiles: Option<Arc<Profiles>>,
    ssh_config: Option<PathBuf>,
    logins: Arc<dyn Logins>,
}

impl Connector {
    pub fn new(profiles: Option<Arc<Profiles>>, ssh_config: Option<PathBuf>, logins: Arc<dyn Logins>) -> Connector {
        Connector { profiles, ssh_config, logins }
    }

    /// Settings for `reach`, with the front end's prompter for that account.
    pub fn options(&self, reach: &Reach) -> Result<ConnectOptions> {
        let probe = reach.resolve(self.ssh_config.as_deref(), Arc::new(NoPrompter))?;
        let prompter = self.logins.prompter(reach, &probe);
        Ok(ConnectOptions { prompter, ..probe })
    }

    /// Settings for a browsing session's login to `reach`, with the front end's part in it.
    pub fn session_options(&self, reach: &Reach, attempt: Attempt) -> Result<(ConnectOptions, SessionLogin)> {
        let probe = reach.resolve(self.ssh_config.as_deref(), Arc::new(NoPrompter))?;
        let login = self.logins.session_login(reach, &probe, attempt);
        Ok((ConnectOptions { prompter: login.prompter.clone(), ..probe }, login))
    }

    /// How a stored job reaches its server (see [`Reach::of_job`]).
    pub fn reach_of(&self, spec: &JobSpec) -> Reach {
        match &self.profiles {
            Some(p) => Reach::of_job_in(spec, p),
            None => Reach::of_job(spec, &[]),
        }
    }

    /// Settings for a stored job.
    pub fn job_options(&self, spec: &JobSpec) -> Result<ConnectOptions> {
        self.options(&self.reach_of(spec))
    }
}

/// The engine: see the module docs.
#[derive(Clone)]
pub struct Engine {
    connector: Arc<Connector>,
    queue: Arc<Queue>,
    scheduler: Scheduler,
    sessions: Sessions,
}

impl Engine {
    /// Build the engine and start its scheduler over the queue (which, with
    /// [`scheduler::Scope::All`], picks up the unfinished jobs of earlier runs). Must run inside
    /// the async runtime; the handle ends after [`Scheduler::shutdown`].
    pub fn start(config: EngineConfig) -> Result<(Engine, JoinHandle<()>)> {
        let connector = Arc::new(Connector::new(config.profiles, config.ssh_config, config.logins));
        let runner = Arc::new(EngineRunner { connector: connector.clone(), tuning: config.tuning });
        let (scheduler, task) = Scheduler::start(config.queue.clone(), runner, config.scheduler)?;
        let sessions = Sessions::new(connector.clone());
        Ok((Engine { connector, queue: config.queue, scheduler, sessions }, task))
    }

    pub fn scheduler(&self) -> &Scheduler {
        &self.scheduler
    }

    /// The browsing sessions (see [`sessions`]).
    pub fn sessions(&self) -> &Sessions {
        &self.sessions
    }

    pub fn queue(&self) -> &Arc<Queue> {
        &self.queue
    }

    /// Settings for `reach`, with the front end's prompter.
    pub fn connect_options(&self, reach: &Reach) -> Result<ConnectOptions> {
        self.connector.options(reach)
    }

    /// Queue `copies` to run over `reach`, in order, at the default priority.
    pub fn enqueue(&self, reach: &Reach, copies: &[Copy]) -> Result<Vec<JobId>> {
        copies.iter().map(|c| self.scheduler.add(&c.spec(reach), 0)).collect()
    }
}

/// The engine's job runner: the front end's tuning as it is when the job starts, and the
/// job's own way of connecting.
struct EngineRunner {
    connector: Arc<Connector>,
    tuning: Tuning,
}

impl JobRunner for EngineRunner {
    fn run(&self, job: JobRecord, ctx: JobContext) -> BoxFuture<'static, Result<JobReport>> {
        let (transfer, tree) = (self.tuning)();
        let connector = self.connector.clone();
        let connect: ConnectFor = Arc::new(move |spec: &JobSpec| connector.job_options(spec));
        SftpJobRunner { connect, transfer, tree }.run(job, ctx)
    }
}

//! SSH: `~/.ssh/config` resolution, known_hosts, authentication and connections (russh).
//!
//! Nothing here knows SFTP packets or files; `Connection::open_sftp` hands a channel to
//! `crate::sftp`.

mod auth;
pub mod config;
pub mod connect;
mod deadline;
pub mod known_hosts;
pub mod overrides;
pub mod prompt;
pub mod reuse;

pub use config::{HostConfig, SshConfig, StrictHostKeyChecking};
pub use connect::{ConnectOptions, Connection};
pub use overrides::Overrides;
pub use known_hosts::{fingerprint, HostKeyStatus, KnownHosts, KnownKey};
pub use prompt::{is_password_round, Account, FixedPrompter, HostKeyDecision, InteractivePrompt, NoPrompter, Prompter, Secret, UnknownHostKey, Zeroizing};
pub use reuse::ConnectionCache;

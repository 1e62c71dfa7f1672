//! [`Connection`]: one authenticated SSH connection (russh), reached directly or through
//! ProxyJump hosts, with the host key checked against known_hosts *before* any credential is
//! sent. Opens SFTP sessions on it. Authentication lives in `auth.rs`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use russh::client::{self, Handle};
use russh::keys::{PublicKey, PublicKeyOrCertificate};
use russh::{cipher, Preferred};

use super::auth;
use super::deadline::{within, PromptClock};
use super::config::{HostConfig, JumpHost, SshConfig, StrictHostKeyChecking};
use super::known_hosts::{fingerprint, HostKeyStatus, KnownHosts};
use super::prompt::{HostKeyDecision, Prompter, UnknownHostKey};
use crate::error::{Error, ErrorKind, Result};
use crate::sftp::{InFlightBudget, SftpSession};

/// How long a server may take to start the sftp subsystem and answer INIT.
const SFTP_START_TIMEOUT: Duration = Duration::from_secs(30);

/// How to reach and trust a host. Built from a resolved [`HostConfig`].
#[derive(Clone)]
pub struct ConnectOptions {
    pub host: HostConfig,
    /// Accept and save an unknown host key (like `StrictHostKeyChecking accept-new`).
    pub accept_new: bool,
    pub prompter: Arc<dyn Prompter>,
    /// The SSH receive window we advertise per channel; big windows make downloads fast.
    pub window_size: u32,
    pub connect_timeout: Duration,
    /// The config the ProxyJump hosts are resolved through.
    pub ssh_config: Arc<SshConfig>,
    /// Where transfers take idle connections from and hand them back to (None: every pool
    /// connects and disconnects its own).
    pub reuse: Option<Arc<super::ConnectionCache>>,
}

impl ConnectOptions {
    pub fn new(host: HostConfig, prompter: Arc<dyn Prompter>, ssh_config: Arc<SshConfig>) -> Self {
        let connect_timeout = host.connect_timeout.unwrap_or(Duration::from_secs(15));
        ConnectOptions {
            host,
            accept_new: false,
            prompter,
            window_size: 64 * 1024 * 1024,
            connect_timeout,
            ssh_config,
            reuse: None,
        }
    }

    /// `user@host:port`, used in every message about this connection.
    pub fn label(&self) -> String {
        format!("{}@{}:{}", self.host.user, self.host.host_name, self.host.port)
    }
}

/// The russh handler: checks the server key and remembers why it refused one.
pub struct ClientHandler {
    opts: ConnectOptions,
    refusal: Arc<Mutex<Option<Error>>>,
    /// Time spent asking about the host key: not part of the connect timeout.
    asking: PromptClock,
}

impl ClientHandler {
    async fn check(&self, key: &PublicKey) -> Result<()> {
        let h = &self.opts.host;
        let label = self.opts.label();
        let known = KnownHosts::load(&h.user_known_hosts_files).map_err(|e| {
            Error::new(ErrorKind::Config, "read known_hosts", e.to_string()).host(label.clone())
        })?;
        match known.check(&h.host_name, h.port, key) {
            HostKeyStatus::Trusted => Ok(()),
            HostKeyStatus::Revoked { path, line } => Err(Error::new(
                ErrorKind::HostKeyChanged,
                "verify host key",
                format!(
                    "the server's {} key {} is marked @revoked in {} line {line}",
                    key.algorithm(),
                    fingerprint(key),
                    path.display()
                ),
            )
            .host(label)
            .hint("do not connect; ask the server's administrator for its current key")),
            HostKeyStatus::Changed { path, line, old_key_type, old_fingerprint } => Err(Error::new(
                ErrorKind::HostKeyChanged,
                "verify host key",
                format!(
                    "REMOTE HOST IDENTIFICATION HAS CHANGED: the server offered {} key {}, but {} line {line} holds {old_key_type} key {old_fingerprint}; \
                     no credentials were sent",
                    key.algorithm(),
                    fingerprint(key),
                    path.display()
                ),
            )
            .host(label)
            .hint(format!(
                "someone may be intercepting the connection; if the server's key really changed, remove line {line} of {} (ssh-keygen -R)",
                path.display()
            ))),
            HostKeyStatus::Unknown => {
                let save = |this: &Self| -> Result<()> {
                    let path = this.opts.host.user_known_hosts_files.first().cloned().ok_or_else(|| {
                        Error::new(ErrorKind::Config, "save host key", "no known_hosts file is configured")
                    })?;
                    KnownHosts::append(&path, &h.host_name, h.port, key, false).map_err(|e| {
                        Error::local_io("save host key", &path, &e).host(this.opts.label())
                    })
                };
                let unknown = || {
                    Error::new(
                        ErrorKind::HostKeyUnknown,
                        "verify host key",
                        format!(
                            "the server's {} key {} is not in known_hosts",
                            key.algorithm(),
                            fingerprint(key)
                        ),
                    )
                    .host(label.clone())
                    .hint("check the fingerprint with the server's administrator, then connect with --accept-new (or StrictHostKeyChecking accept-new)")
                };
                if self.opts.accept_new {
                    return save(self);
                }
                match h.strict_host_key_checking {
                    StrictHostKeyChecking::No => Ok(()),
                    StrictHostKeyChecking::AcceptNew => save(self),
                    StrictHostKeyChecking::Yes => Err(unknown()),
                    StrictHostKeyChecking::Ask => {
                        let question = UnknownHostKey {
                            host: h.host_name.clone(),
                            port: h.port,
                            key_type: key.algorithm().to_string(),
                            fingerprint: fingerprint(key),
                        };
                        match self.asking.waiting(self.opts.prompter.unknown_host_key(&question)).await {
                            HostKeyDecision::TrustAndSave => save(self),
                            HostKeyDecision::TrustOnce => Ok(()),
                            HostKeyDecision::Reject => Err(unknown()),
                        }
                    }
                }
            }
        }
    }
}

impl client::Handler for ClientHandler {
    type Error = russh::Error;

    async fn check_server_key(&mut self, server_key: &PublicKeyOrCertificate) -> Result<bool, Self::Error> {
        let key = match server_key {
            PublicKeyOrCertificate::PublicKey { key, .. } => key.clone(),
            PublicKeyOrCertificate::Certificate(cert) => PublicKey::new(cert.public_key().clone(), ""),
        };
        match self.check(&key).await {
            Ok(()) => Ok(true),
            Err(e) => {
                *self.refusal.lock().expect("refusal poisoned") = Some(e);
                Ok(false)
            }
        }
    }
}

/// One authenticated SSH connection.
pub struct Connection {
    handle: Handle<ClientHandler>,
    label: String,
    host: HostConfig,
    /// Keeps the jump host's connection alive while this one runs through it.
    _jump: Option<Box<Connection>>,
}

fn russh_config(window_size: u32) -> client::Config {
    let aes = aes_hardware();
    let ciphers: &'static [cipher::Name] = if aes {
        &[cipher::AES_256_GCM, cipher::AES_128_GCM, cipher::CHACHA20_POLY1305, cipher::AES_256_CTR, cipher::AES_128_CTR]
    } else {
        &[cipher::CHACHA20_POLY1305, cipher::AES_256_GCM, cipher::AES_128_GCM, cipher::AES_256_CTR, cipher::AES_128_CTR]
    };
    client::Config {
        window_size,
        maximum_packet_size: 65535,
        channel_buffer_size: 4096,
        preferred: Preferred { cipher: std::borrow::Cow::Borrowed(ciphers), ..Preferred::DEFAULT },
        keepalive_interval: Some(Duration::from_secs(15)),
        keepalive_max: 3,
        nodelay: true,
        ..Default::default()
    }
}

/// Whether the CPU has AES instructions (then AES-GCM beats ChaCha20-Poly1305).
fn aes_hardware() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("aes") && std::arch::is_x86_feature_detected!("pclmulqdq")
    }
    #[cfg(target_arch = "aarch64")]
    {
        std::arch::is_aarch64_feature_detected!("aes")
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        false
    }
}

impl Connection {
    /// Connect, verify the host key, authenticate.
    pub async fn connect(opts: &ConnectOptions) -> Result<Connection> {
        Box::pin(Self::connect_inner(opts)).await
    }

    async fn connect_inner(opts: &ConnectOptions) -> Result<Connection> {
        let label = opts.label();
        let config = Arc::new(russh_config(opts.window_size));
        let refusal = Arc::new(Mutex::new(None));
        let asking = PromptClock::default();
        let handler = ClientHandler { opts: opts.clone(), refusal: refusal.clone(), asking: asking.clone() };
        let h = &opts.host;

        let (handle, jump) = if let Some((first, rest)) = h.proxy_jump.split_first() {
            // Connect to the first jump host (itself possibly jumping through the rest), then
            // tunnel to the target through a direct-tcpip channel.
            let _ = rest;
            let jump_opts = jump_options(opts, first, rest);
            let jump_conn = Connection::connect(&jump_opts).await?;
            let channel = jump_conn
                .handle
                .channel_open_direct_tcpip(h.host_name.clone(), u32::from(h.port), "127.0.0.1", 0)
                .await
                .map_err(|e| {
                    Error::network("connect through ProxyJump", format!("{} could not reach the target: {e}", jump_conn.label))
                        .host(label.clone())
                })?;
            let stream = channel.into_stream();
            let handle = within(opts.connect_timeout, &asking, client::connect_stream(config, stream, handler))
                .await
                .ok_or_else(|| timeout_error(&label, opts.connect_timeout))?
                .map_err(|e| handshake_error(&label, e, &refusal))?;
            (handle, Some(Box::new(jump_conn)))
        } else {
            let addr = (h.host_name.as_str(), h.port);
            let tcp = tokio::time::timeout(opts.connect_timeout, tokio::net::TcpStream::connect(addr))
                .await
                .map_err(|_| timeout_error(&label, opts.connect_timeout))?
                .map_err(|e| {
                    Error::network("connect", e.to_string())
                        .host(label.clone())
                        .hint("check the host name and port, and that the server is running")
                })?;
            let _ = tcp.set_nodelay(true);
            // The handshake includes the host-key check, which may wait for a person: that
            // time does not count.
            let handle = within(opts.connect_timeout, &asking, client::connect_stream(config, tcp, handler))
                .await
                .ok_or_else(|| timeout_error(&label, opts.connect_timeout))?
                .map_err(|e| handshake_error(&label, e, &refusal))?;
            (handle, None)
        };

        let mut conn = Connection { handle, label: label.clone(), host: h.clone(), _jump: jump };
        auth::authenticate(&mut conn.handle, opts).await?;
        Ok(conn)
    }

    pub fn label(&self) -> &str {
        &self.label
    }

    pub fn host(&self) -> &HostConfig {
        &self.host
    }

    pub fn is_closed(&self) -> bool {
        self.handle.is_closed()
    }

    /// Open a new channel and start SFTP on it.
    pub async fn open_sftp(&self, budget: InFlightBudget) -> Result<SftpSession> {
        self.open_sftp_with(budget, None).await
    }

    /// Like [`Connection::open_sftp`], reusing limits another session already learned.
    pub async fn open_sftp_with(&self, budget: InFlightBudget, known_limits: Option<skiff_sftp::Limits>) -> Result<SftpSession> {
        let channel = self.handle.channel_open_session().await.map_err(|e| {
            Error::network("open channel", e.to_string()).host(self.label.clone())
        })?;
        tokio::time::timeout(SFTP_START_TIMEOUT, SftpSession::start(channel, &self.label, budget, known_limits))
            .await
            .map_err(|_| {
                Error::network("start sftp", format!("the server did not start SFTP within {} s", SFTP_START_TIMEOUT.as_secs()))
                    .host(self.label.clone())
            })?
    }

    pub async fn disconnect(&self) {
        let _ = self
            .handle
            .disconnect(russh::Disconnect::ByApplication, "bye", "en")
            .await;
    }
}

fn jump_options(opts: &ConnectOptions, first: &JumpHost, rest: &[JumpHost]) -> ConnectOptions {
    let mut host = opts.ssh_config.resolve(&first.host);
    if let Some(u) = &first.user {
        host.user = u.clone();
    }
    if let Some(p) = first.port {
        host.port = p;
    }
    host.proxy_jump = rest.to_vec();
    ConnectOptions { host, window_size: 2 * 1024 * 1024, ..opts.clone() }
}

fn timeout_error(label: &str, after: Duration) -> Error {
    Error::network("connect", format!("no answer within {} s", after.as_secs()))
        .host(label)
        .hint("check the host name, port and firewall")
}

fn handshake_error(label: &str, e: russh::Error, refusal: &Mutex<Option<Error>>) -> Error {
    if let Some(refused) = refusal.lock().expect("refusal poisoned").take() {
        return refused;
    }
    match e {
        russh::Error::UnknownKey => Error::new(ErrorKind::HostKeyUnknown, "verify host key", "the host key was refused")
            .host(label),
        other => Error::network("ssh handshake", other.to_string())
            .host(label)
            .hint("check that the port speaks SSH and the server is healthy"),
    }
}

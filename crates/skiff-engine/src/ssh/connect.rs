//! [`Connection`]: one authenticated SSH connection (russh), reached directly or through
//! ProxyJump hosts, with the host key checked against known_hosts *before* any credential is
//! sent. Opens SFTP sessions on it. Authentication lives in `auth.rs`.
//!
//! ProxyJump goes like OpenSSH's: `ProxyJump a,b` is me → a → b → target. The last hop is
//! reached through the ones before it (recursively), each hop is its own login (its own
//! `Host` block's user, port and identities, its host key checked before any credential is
//! sent to it), and the target is reached through a direct-tcpip channel of the last hop.
//! The host-key algorithms offered in key exchange prefer the key types known_hosts already
//! holds for the host (OpenSSH's `order_hostkeyalgs`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use russh::client::{self, Handle};
use russh::keys::{PublicKey, PublicKeyOrCertificate};
use russh::{cipher, Preferred};

use super::auth;
use super::deadline::{within, PromptClock};
use super::config::{HostConfig, JumpHost, SshConfig, StrictHostKeyChecking};
use super::known_hosts::{fingerprint, order_host_key_algorithms, HostKeyStatus, KnownHosts, KnownKey};
use super::prompt::{Account, HostKeyDecision, Prompter, UnknownHostKey};
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

    /// Whose secrets this login uses: the only account they may be offered to.
    pub fn account(&self) -> Account {
        Account::new(self.host.user.clone(), self.host.host_name.clone(), self.host.port)
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
            HostKeyStatus::Unknown => self.unknown(key, Vec::new()).await,
            HostKeyStatus::OtherTypeKnown { known } => self.unknown(key, known).await,
        }
    }

    /// A key not in known_hosts: saved, trusted once or refused by StrictHostKeyChecking,
    /// --accept-new or the person. `other_known` (keys of other types known for the host)
    /// makes it its own case: the server did not show the key we know for it, which is what
    /// an impostor lacking that key would do. Unlike OpenSSH (which adds it with a
    /// "Permanently added" warning), accept-new does not save such a key unasked: only a
    /// person's yes (StrictHostKeyChecking ask) or StrictHostKeyChecking no lets it in.
    async fn unknown(&self, key: &PublicKey, other_known: Vec<KnownKey>) -> Result<()> {
        let h = &self.opts.host;
        let label = self.opts.label();
        let save = || -> Result<()> {
            let path = h.user_known_hosts_files.first().cloned().ok_or_else(|| {
                Error::new(ErrorKind::Config, "save host key", "no known_hosts file is configured")
                    .host(label.clone())
                    .hint("set UserKnownHostsFile in ssh_config")
            })?;
            KnownHosts::append(&path, &h.host_name, h.port, key, false)
                .map_err(|e| Error::local_io("save host key", &path, &e).host(label.clone()))
        };
        let refused = || host_key_refusal(&label, key, &other_known);
        let another_type = !other_known.is_empty();
        if self.opts.accept_new && !another_type {
            return save();
        }
        match h.strict_host_key_checking {
            StrictHostKeyChecking::No => Ok(()),
            StrictHostKeyChecking::AcceptNew if !another_type => save(),
            StrictHostKeyChecking::AcceptNew | StrictHostKeyChecking::Yes => Err(refused()),
            StrictHostKeyChecking::Ask => {
                let question = UnknownHostKey {
                    host: h.host_name.clone(),
                    port: h.port,
                    key_type: key.algorithm().to_string(),
                    fingerprint: fingerprint(key),
                    other_known: other_known.clone(),
                };
                match self.asking.waiting(self.opts.prompter.unknown_host_key(&question)).await {
                    HostKeyDecision::TrustAndSave => save(),
                    HostKeyDecision::TrustOnce => Ok(()),
                    HostKeyDecision::Reject => Err(refused()),
                }
            }
        }
    }
}

/// Why an unknown host key was not trusted; says what to check and how to go on.
fn host_key_refusal(label: &str, key: &PublicKey, other_known: &[KnownKey]) -> Error {
    if other_known.is_empty() {
        return Error::new(
            ErrorKind::HostKeyUnknown,
            "verify host key",
            format!("the server's {} key {} is not in known_hosts", key.algorithm(), fingerprint(key)),
        )
        .host(label)
        .hint("check the fingerprint with the server's administrator, then connect with --accept-new (or StrictHostKeyChecking accept-new)");
    }
    let known: Vec<String> = other_known
        .iter()
        .map(|k| format!("{} key {} ({} line {})", k.key_type, k.fingerprint, k.path.display(), k.line))
        .collect();
    Error::new(
        ErrorKind::HostKeyUnknown,
        "verify host key",
        format!(
            "another key type is known for this host: {}; the server offered {} key {} instead, which is not in known_hosts; no credentials were sent",
            known.join(", "),
            key.algorithm(),
            fingerprint(key)
        ),
    )
    .host(label)
    .hint(
        "a server that hides the key you know may be an impostor: check the new fingerprint with the server's administrator; \
         if it is right, connect once with StrictHostKeyChecking ask and answer yes (--accept-new does not add a key of another type)",
    )
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

fn russh_config(window_size: u32, host_keys: Vec<russh::keys::Algorithm>) -> client::Config {
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
        preferred: Preferred {
            cipher: std::borrow::Cow::Borrowed(ciphers),
            key: std::borrow::Cow::Owned(host_keys),
            ..Preferred::DEFAULT
        },
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
        let config = Arc::new(russh_config(opts.window_size, host_key_order(opts)?));
        let refusal = Arc::new(Mutex::new(None));
        let asking = PromptClock::default();
        let handler = ClientHandler { opts: opts.clone(), refusal: refusal.clone(), asking: asking.clone() };
        let h = &opts.host;

        let (handle, jump) = if let Some((last, before)) = h.proxy_jump.split_last() {
            // `ProxyJump a,b`: log in to b through a (recursively), then tunnel to the target
            // through a direct-tcpip channel of b. Like OpenSSH, b is reached with `-J a`.
            let jump_opts = jump_options(opts, last, before);
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

/// The login to the hop `hop`, itself reached through the hops `before` it: its own `Host`
/// block (user, port, identities, known_hosts), overridden by `user@` and `:port` written in
/// the ProxyJump line. Its secrets are asked for its own account, never the target's.
fn jump_options(opts: &ConnectOptions, hop: &JumpHost, before: &[JumpHost]) -> ConnectOptions {
    let mut host = opts.ssh_config.resolve(&hop.host);
    if let Some(u) = &hop.user {
        host.user = u.clone();
    }
    if let Some(p) = hop.port {
        host.port = p;
    }
    host.proxy_jump = before.to_vec();
    let connect_timeout = host.connect_timeout.unwrap_or(opts.connect_timeout);
    ConnectOptions { host, window_size: 2 * 1024 * 1024, connect_timeout, ..opts.clone() }
}

/// The host-key algorithms to offer `opts`'s host: russh's default order with the types
/// known_hosts holds for it first.
fn host_key_order(opts: &ConnectOptions) -> Result<Vec<russh::keys::Algorithm>> {
    let h = &opts.host;
    let known = KnownHosts::load(&h.user_known_hosts_files).map_err(|e| {
        Error::new(ErrorKind::Config, "read known_hosts", e.to_string())
            .host(opts.label())
            .hint("fix or remove the unreadable known_hosts file")
    })?;
    Ok(order_host_key_algorithms(&Preferred::DEFAULT.key, &known.key_types(&h.host_name, h.port)))
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

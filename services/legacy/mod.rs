//! The legacy adapter: the seed's raw-TCP text and binary protocols, each on its own port,
//! as front doors to the same services the gRPC port serves.
//!
//! This room knows wire formats and nothing of storage: every command becomes a call on a
//! service ([`KvService`], the chat [`ChatRoom`], [`EchoService`], or, for binary call
//! frames, the whole gRPC stack with its tower layers), so a telnet client and a gRPC client
//! see the same data and get the same validation.
//!
//! Each connection is a task holding a permit of one [`Semaphore`] shared by every legacy
//! listener, and a per-address slot of a [`PeerLimiter`]: at either cap, a new connection is
//! told so (text protocols) and closed at once, rather than left waiting in the accept
//! backlog. A connection task ends when its client leaves, on a deadline, on input that cannot
//! be resynchronised, or when the server stops: then the task's future is dropped (which
//! releases whatever it held: a chat member leaves the room) and a text client is sent its
//! protocol's goodbye line before the socket closes.

pub mod binary;
mod chat_text;
mod echo_text;
pub mod grpc_call;
mod kv_text;
pub mod lines;

use std::{
    fmt,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use prometheus::IntGaugeVec;
use tokio::{
    io::{AsyncWrite, AsyncWriteExt, BufWriter},
    net::{TcpListener, TcpStream},
    sync::{Semaphore, watch},
    task::{JoinHandle, JoinSet},
};
use tracing::Instrument as _;

pub use self::grpc_call::{GrpcGateway, GrpcService};
use crate::{chat::room::ChatRoom, echo::EchoService, kv::KvService, peer_limit::PeerLimiter};

/// The legacy protocols, one listener each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// The seed's KV text protocol (`SET`/`GET`/`DELETE`/`KEYS`/`QUIT`).
    Kv,
    /// The seed's telnet chat room.
    Chat,
    /// The seed's line echo.
    Echo,
    /// The seed's length-prefixed binary frames, plus gRPC call frames.
    Binary,
}

impl Protocol {
    pub const ALL: [Protocol; 4] = [Protocol::Kv, Protocol::Chat, Protocol::Echo, Protocol::Binary];

    fn is_text(self) -> bool {
        !matches!(self, Protocol::Binary)
    }

    /// What a client is told when the server shuts down under it: the seed's own farewell
    /// where the protocol has one. Binary frames have no such message: the socket closes.
    fn goodbye(self) -> Option<&'static [u8]> {
        match self {
            Protocol::Kv | Protocol::Echo => Some(b"Goodbye!\n"),
            Protocol::Chat => Some(b"*** Server shutting down, goodbye ***\n"),
            Protocol::Binary => None,
        }
    }

    /// The `protocol` label of the open-connections metric.
    fn metric_label(self) -> &'static str {
        match self {
            Protocol::Kv => "legacy_kv",
            Protocol::Chat => "legacy_chat",
            Protocol::Echo => "legacy_echo",
            Protocol::Binary => "legacy_binary",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Kv => "kv",
            Protocol::Chat => "chat",
            Protocol::Echo => "echo",
            Protocol::Binary => "binary",
        })
    }
}

/// What the legacy protocols are adapters for. The same instances the gRPC port serves.
#[derive(Clone)]
pub struct Services {
    pub kv: KvService,
    pub room: Arc<ChatRoom>,
    pub echo: EchoService,
    pub grpc: GrpcGateway,
}

/// Limits and deadlines of legacy connections.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Connections open at once, over every legacy protocol.
    pub max_connections: usize,
    /// Connections open at once from one IP address; 0 for no per-address cap.
    pub max_connections_per_peer: usize,
    /// Silence (KV, echo, binary) or an unread reply (every protocol) for this long closes
    /// the connection.
    pub idle_timeout: Duration,
    /// Time a chat client has to answer the name prompt.
    pub handshake_timeout: Duration,
    /// Longest line of the text protocols, terminator excluded.
    pub max_line_bytes: usize,
    /// Time a binary frame may take once its length has arrived.
    pub frame_timeout: Duration,
    /// Bytes of binary frames being received at once, over every connection.
    pub frame_buffer_bytes: usize,
}

/// What `read` gives, if it comes within `idle`; else the connection is idle.
pub(crate) async fn within_idle<T>(
    idle: Duration,
    read: impl std::future::Future<Output = std::io::Result<T>>,
) -> Result<T, ConnectionError> {
    match tokio::time::timeout(idle, read).await {
        Ok(result) => Ok(result?),
        Err(_elapsed) => Err(ConnectionError::Idle(idle)),
    }
}

#[cfg(test)]
impl Settings {
    /// One connection, 10 s for everything, lines up to `max_line_bytes`: the connection
    /// loops' tests.
    pub(crate) fn for_tests(max_line_bytes: usize) -> Self {
        Self {
            max_connections: 1,
            max_connections_per_peer: 0,
            idle_timeout: Duration::from_secs(10),
            handshake_timeout: Duration::from_secs(10),
            max_line_bytes,
            frame_timeout: Duration::from_secs(10),
            frame_buffer_bytes: 1 << 20,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("cannot listen for legacy {protocol} clients on {addr}: {source}")]
pub struct BindError {
    pub protocol: Protocol,
    pub addr: SocketAddr,
    pub source: std::io::Error,
}

/// Why a legacy connection ended early. Logged at debug level: all of these are the
/// client's doing.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    #[error("no input for {0:?}")]
    Idle(Duration),
    #[error("a frame did not arrive whole within {0:?}")]
    FrameStalled(Duration),
    #[error("the client did not read a reply for {0:?}")]
    WriteStalled(Duration),
    #[error("no name within {0:?}")]
    Handshake(Duration),
    #[error(transparent)]
    Frame(#[from] binary::FrameError),
}

/// The running legacy listeners.
pub struct Legacy {
    addrs: Vec<(Protocol, SocketAddr)>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// Binds every configured listener, then starts accepting on all of them.
pub async fn start(
    listen: &[(Protocol, Option<SocketAddr>)],
    services: Services,
    settings: Settings,
    open_connections: IntGaugeVec,
) -> Result<Legacy, BindError> {
    let mut listeners = Vec::new();
    for &(protocol, addr) in listen {
        match addr {
            Some(addr) => {
                let bound = async {
                    let listener = TcpListener::bind(addr).await?;
                    let local = listener.local_addr()?;
                    Ok((listener, local))
                };
                let (listener, local) = bound.await.map_err(|source| BindError { protocol, addr, source })?;
                tracing::info!(%protocol, addr = %local, "legacy listener ready");
                listeners.push((protocol, listener, local));
            }
            None => tracing::info!(%protocol, "legacy listener off"),
        }
    }

    let (stop, _) = watch::channel(false);
    let shared = Arc::new(Shared {
        services,
        settings,
        permits: Arc::new(Semaphore::new(settings.max_connections)),
        frame_budget: binary::FrameBudget::new(settings.frame_buffer_bytes),
        peers: (settings.max_connections_per_peer > 0).then(|| PeerLimiter::new(settings.max_connections_per_peer)),
        open_connections,
    });
    let mut addrs = Vec::new();
    let mut tasks = Vec::new();
    for (protocol, listener, local) in listeners {
        addrs.push((protocol, local));
        tasks.push(tokio::spawn(accept_loop(protocol, listener, Arc::clone(&shared), stop.subscribe())));
    }
    Ok(Legacy { addrs, stop, tasks })
}

impl Legacy {
    /// Where `protocol` listens, or `None` when it is off.
    pub fn addr(&self, protocol: Protocol) -> Option<SocketAddr> {
        self.addrs.iter().find(|(p, _)| *p == protocol).map(|(_, addr)| *addr)
    }

    /// Closes the listeners and every legacy connection, waiting at most `grace` for their
    /// tasks to end.
    pub async fn shutdown(&mut self, grace: Duration) {
        self.stop.send_replace(true);
        let deadline = tokio::time::Instant::now() + grace;
        for mut task in std::mem::take(&mut self.tasks) {
            if tokio::time::timeout_at(deadline, &mut task).await.is_err() {
                tracing::warn!("a legacy listener outlived the shutdown grace; aborting it");
                task.abort();
            }
        }
    }
}

impl Drop for Legacy {
    fn drop(&mut self) {
        // Dropped without shutdown() (a test that panicked): the tasks still end.
        self.stop.send_replace(true);
    }
}

struct Shared {
    services: Services,
    settings: Settings,
    permits: Arc<Semaphore>,
    /// The bytes of binary frames being received: what stalled senders can hold.
    frame_budget: Arc<binary::FrameBudget>,
    peers: Option<PeerLimiter>,
    open_connections: IntGaugeVec,
}

static NEXT_CONNECTION: AtomicU64 = AtomicU64::new(1);

async fn accept_loop(protocol: Protocol, listener: TcpListener, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let mut connections = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|stopped| *stopped) => break,
        };
        // Reap finished connections so the set holds only live ones.
        while connections.try_join_next().is_some() {}
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Typically out of file descriptors: back off instead of spinning.
                tracing::warn!(%protocol, %error, "legacy accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&shared.permits).try_acquire_owned() else {
            refuse(protocol, &stream, peer, "ERROR: Too many connections, try again later\n");
            continue;
        };
        let peer_permit = match &shared.peers {
            Some(peers) => match peers.try_acquire(peer.ip()) {
                Some(peer_permit) => Some(peer_permit),
                None => {
                    refuse(protocol, &stream, peer, "ERROR: Too many connections from your address\n");
                    continue;
                }
            },
            None => None,
        };
        let _ = stream.set_nodelay(true);
        // A second handle on the same socket, so the goodbye can still be written after the
        // protocol's task (which owns the stream) has been dropped at shutdown.
        let (stream, farewell) = match duplicate(stream) {
            Ok(pair) => pair,
            Err(error) => {
                tracing::warn!(%protocol, %peer, %error, "cannot set up a legacy connection");
                continue;
            }
        };
        let id = NEXT_CONNECTION.fetch_add(1, Ordering::Relaxed);
        let span = tracing::info_span!("legacy", %protocol, connection = id, %peer);
        let shared = Arc::clone(&shared);
        let mut stop = stop.clone();
        let open = shared.open_connections.with_label_values(&[protocol.metric_label()]);
        open.inc();
        connections.spawn(
            async move {
                tracing::debug!("connected");
                let serving = serve(protocol, stream, peer, &shared);
                tokio::pin!(serving);
                let result = tokio::select! {
                    result = &mut serving => result,
                    // The goodbye goes out while the protocol still owns its stream: dropping
                    // that first would shut the socket's sending side.
                    _ = stop.wait_for(|stopped| *stopped) => {
                        say_goodbye(protocol, &farewell);
                        Ok(())
                    }
                };
                match result {
                    Ok(()) => tracing::debug!("closed"),
                    Err(error) => tracing::debug!(%error, "closed"),
                }
                open.dec();
                drop((permit, peer_permit));
            }
            .instrument(span),
        );
    }
    drop(listener);
    // Every connection task watches the same stop signal.
    while connections.join_next().await.is_some() {}
}

/// Over a connection cap: a text client reads why; either way the socket closes now.
fn refuse(protocol: Protocol, stream: &TcpStream, peer: SocketAddr, why: &str) {
    tracing::warn!(%protocol, %peer, reason = why.trim_end(), "legacy connection refused");
    if protocol.is_text() {
        // A fresh socket's send buffer is empty, so this short write cannot block.
        let _ = stream.try_write(why.as_bytes());
    }
}

/// The stream, and a second (non-blocking) handle on the same socket.
fn duplicate(stream: TcpStream) -> std::io::Result<(TcpStream, std::net::TcpStream)> {
    let std_stream = stream.into_std()?;
    let farewell = std_stream.try_clone()?;
    Ok((TcpStream::from_std(std_stream)?, farewell))
}

/// The server is stopping: the goodbye line, if the protocol has one, then a clean close.
/// Best effort: a client whose socket buffer is full does not get to hold up the shutdown.
fn say_goodbye(protocol: Protocol, socket: &std::net::TcpStream) {
    use std::io::Write as _;
    if let Some(goodbye) = protocol.goodbye() {
        let _ = (&*socket).write(goodbye);
    }
    let _ = socket.shutdown(std::net::Shutdown::Write);
}

async fn serve(
    protocol: Protocol,
    stream: TcpStream,
    peer: SocketAddr,
    shared: &Shared,
) -> Result<(), ConnectionError> {
    match protocol {
        Protocol::Kv => kv_text::serve(stream, &shared.services.kv, &shared.settings).await,
        Protocol::Chat => chat_text::serve(stream, &shared.services.room, &shared.settings).await,
        Protocol::Echo => echo_text::serve(stream, shared.services.echo, &shared.settings).await,
        Protocol::Binary => {
            binary::serve(stream, peer, &shared.services.grpc, &shared.settings, &shared.frame_budget).await
        }
    }
}

/// The one place where a service's status becomes a text protocol's error line: `ERROR: `
/// and the status message (which the services write to be read on its own, e.g. the seed's
/// `Key not found`), kept on one line.
pub(crate) fn error_line(status: &tonic::Status) -> String {
    let message: String = status.message().chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    if message.is_empty() { format!("ERROR: {}", status.code().description()) } else { format!("ERROR: {message}") }
}

/// What a text protocol says about a line above the limit.
pub(crate) fn line_too_long(settings: &Settings) -> String {
    format!("ERROR: Line too long (the limit is {} bytes)", settings.max_line_bytes)
}

pub(crate) const INVALID_UTF8: &str = "ERROR: Invalid UTF-8 in line";

/// Buffered replies, each write bounded by the idle deadline: a client that stops reading
/// fills its socket buffers, and then the connection ends instead of the task waiting forever.
pub(crate) struct Replies<W> {
    writer: BufWriter<W>,
    deadline: Duration,
}

impl<W: AsyncWrite + Unpin> Replies<W> {
    pub fn new(writer: W, deadline: Duration) -> Self {
        Self { writer: BufWriter::new(writer), deadline }
    }

    pub async fn bytes(&mut self, bytes: &[u8]) -> Result<(), ConnectionError> {
        let deadline = self.deadline;
        tokio::time::timeout(deadline, self.writer.write_all(bytes))
            .await
            .map_err(|_elapsed| ConnectionError::WriteStalled(deadline))??;
        Ok(())
    }

    /// `line` and a `\n`.
    pub async fn line(&mut self, line: &str) -> Result<(), ConnectionError> {
        self.bytes(line.as_bytes()).await?;
        self.bytes(b"\n").await
    }

    pub async fn flush(&mut self) -> Result<(), ConnectionError> {
        let deadline = self.deadline;
        tokio::time::timeout(deadline, self.writer.flush())
            .await
            .map_err(|_elapsed| ConnectionError::WriteStalled(deadline))??;
        Ok(())
    }
}

/// The proptest configuration of the property tests that open a TCP connection per case:
/// `default` cases, or `PROPTEST_CASES` for longer runs by hand.
#[cfg(test)]
pub(crate) fn fuzz_cases(default: u32) -> proptest::test_runner::Config {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(default);
    proptest::test_runner::Config { cases, ..proptest::test_runner::Config::default() }
}

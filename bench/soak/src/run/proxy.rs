//! A loopback TCP fault proxy. Clients (or the server, for PostgreSQL and NATS) connect to
//! the proxy's fixed port; it connects each of them to the upstream of the moment and copies
//! bytes both ways, and on command it
//!
//! - **cuts**: resets every connection and refuses new ones until reopened;
//! - **delays**: holds every chunk for a while before passing it on (in order);
//! - **half-closes**: ends the upstream-to-client direction of every connection with a FIN
//!   while the client's bytes still flow, then closes the rest two seconds later.
//!
//! The upstream follows the server across restarts; with none (the server is down) new
//! connections are reset at once, as a closed port would.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use anyhow::Context;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{
        TcpListener, TcpStream,
        tcp::{OwnedReadHalf, OwnedWriteHalf},
    },
    sync::watch,
};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Control {
    delay: Duration,
    refuse: bool,
    /// Bumped to cut every connection open at that moment.
    cut: u64,
    /// Bumped to half-close every connection open at that moment.
    half_close: u64,
}

#[derive(Debug, Default)]
pub struct ProxyStats {
    pub accepted: AtomicU64,
    pub refused: AtomicU64,
    pub cut: AtomicU64,
    pub half_closed: AtomicU64,
}

pub struct FaultProxy {
    pub name: &'static str,
    pub addr: SocketAddr,
    control: watch::Sender<Control>,
    upstream: watch::Sender<Option<SocketAddr>>,
    pub stats: Arc<ProxyStats>,
    task: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    pub async fn start(name: &'static str, upstream: Option<SocketAddr>) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await.context("binding a fault proxy")?;
        let addr = listener.local_addr()?;
        let (control, control_seen) = watch::channel(Control::default());
        let (upstream, upstream_seen) = watch::channel(upstream);
        let stats = Arc::new(ProxyStats::default());
        let task = tokio::spawn(accept(listener, control_seen, upstream_seen, Arc::clone(&stats)));
        Ok(Self { name, addr, control, upstream, stats, task })
    }

    /// Where new connections go; `None` resets them.
    pub fn set_upstream(&self, upstream: Option<SocketAddr>) {
        self.upstream.send_replace(upstream);
    }

    /// Resets every open connection and refuses new ones until [`FaultProxy::reopen`].
    pub fn cut(&self) {
        self.control.send_modify(|c| {
            c.refuse = true;
            c.cut += 1;
        });
    }

    pub fn reopen(&self) {
        self.control.send_modify(|c| c.refuse = false);
    }

    pub fn set_delay(&self, delay: Duration) {
        self.control.send_modify(|c| c.delay = delay);
    }

    pub fn half_close(&self) {
        self.control.send_modify(|c| c.half_close += 1);
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
        // Ends the connection tasks too: they watch the control channel.
        self.control.send_modify(|c| {
            c.refuse = true;
            c.cut += 1;
        });
    }
}

async fn accept(
    listener: TcpListener,
    control: watch::Receiver<Control>,
    upstream: watch::Receiver<Option<SocketAddr>>,
    stats: Arc<ProxyStats>,
) {
    loop {
        let client = match listener.accept().await {
            Ok((client, _)) => client,
            Err(_) => {
                // Out of file descriptors or similar: wait, do not spin.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let target = *upstream.borrow();
        let refuse = control.borrow().refuse;
        match target {
            Some(target) if !refuse => {
                stats.accepted.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(connection(client, target, control.clone(), Arc::clone(&stats)));
            }
            _ => {
                stats.refused.fetch_add(1, Ordering::Relaxed);
                reset(client);
            }
        }
    }
}

/// Closes with a RST, as a refused or broken connection looks to its peer.
fn reset(stream: TcpStream) {
    let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
    drop(stream);
}

async fn connection(
    client: TcpStream,
    target: SocketAddr,
    mut control: watch::Receiver<Control>,
    stats: Arc<ProxyStats>,
) {
    let server = match tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(target)).await {
        Ok(Ok(server)) => server,
        _ => return reset(client),
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let at_start = control.borrow_and_update().clone();
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let up = pump(client_read, server_write, control.clone(), at_start.half_close, false);
    let down = pump(server_read, client_write, control.clone(), at_start.half_close, true);
    let cut = async {
        let _ = control.wait_for(|c| c.cut != at_start.cut).await;
    };
    tokio::select! {
        (up, down) = async { tokio::join!(up, down) } => {
            if up == End::HalfClosed || down == End::HalfClosed {
                stats.half_closed.fetch_add(1, Ordering::Relaxed);
            }
        }
        () = cut => {
            stats.cut.fetch_add(1, Ordering::Relaxed);
            // The halves were moved into the pumps, which are dropped here: both sockets
            // close. The client side gets a RST only if data was unread; that is enough.
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum End {
    Closed,
    HalfClosed,
}

/// Copies one direction until EOF, an error, or a half-close (which ends the downstream
/// direction at once with a FIN, and the upstream one two seconds later).
async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    mut control: watch::Receiver<Control>,
    half_close_at_start: u64,
    downstream: bool,
) -> End {
    let mut buffer = vec![0u8; 32 * 1024];
    let mut half_closed = false;
    let mut stop_at: Option<tokio::time::Instant> = None;
    loop {
        let read = tokio::select! {
            read = from.read(&mut buffer) => read,
            changed = control.changed() => {
                if changed.is_err() {
                    return End::Closed;
                }
                if control.borrow().half_close != half_close_at_start && !half_closed {
                    half_closed = true;
                    if downstream {
                        let _ = to.shutdown().await;
                        return End::HalfClosed;
                    }
                    stop_at = Some(tokio::time::Instant::now() + Duration::from_secs(2));
                }
                continue;
            }
            () = async {
                match stop_at {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            } => return End::HalfClosed,
        };
        let n = match read {
            Ok(0) | Err(_) => {
                let _ = to.shutdown().await;
                return if half_closed { End::HalfClosed } else { End::Closed };
            }
            Ok(n) => n,
        };
        let delay = control.borrow().delay;
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        if to.write_all(&buffer[..n]).await.is_err() {
            return End::Closed;
        }
    }
}

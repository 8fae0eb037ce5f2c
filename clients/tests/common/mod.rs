//! What the client tests share: the real server on an ephemeral loopback port, and loopback
//! TCP proxies that misbehave in controlled ways (lose a response, answer slowly).

#![allow(dead_code)] // each test binary uses its own part of this module

use std::{
    collections::VecDeque,
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use switchboard::pb::{self, echo_service_server};
use tonic::{Request, Response, Status};

use switchboard::{config::Config, server::RunningServer};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

pub const API_KEY: &str = "sk_test_clients";

pub fn test_config() -> Config {
    let mut config = Config::defaults();
    config.listen = "127.0.0.1:0".parse().expect("a socket address");
    config.payment_api_keys = vec![API_KEY.to_owned()];
    config.shutdown_grace = Duration::from_secs(2);
    // These tests are about clients: the legacy ports stay off (no collisions on their
    // fixed defaults) and state stays in memory (no ./data left behind).
    let off = switchboard::config::LegacyListen(None);
    config.legacy_kv_listen = off;
    config.http_listen = off;
    config.legacy_chat_listen = off;
    config.legacy_echo_listen = off;
    config.legacy_binary_listen = off;
    config.storage = switchboard::config::StorageMode::Memory;
    config
}

pub async fn start_server() -> RunningServer {
    switchboard::server::start(test_config()).await.expect("server starts")
}

/// A server on its own runtime, for tests that are not async (they run `sbctl` and other
/// programs as subprocesses and wait for them).
pub struct BlockingServer {
    runtime: tokio::runtime::Runtime,
    server: Option<RunningServer>,
}

impl BlockingServer {
    pub fn start() -> Self {
        Self::start_with(test_config())
    }

    pub fn start_with(config: Config) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let server = runtime.block_on(switchboard::server::start(config)).expect("server starts");
        Self { runtime, server: Some(server) }
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.as_ref().expect("running").grpc_addr()
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// Runs `future` on the server's runtime (to start a proxy beside it, say).
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }
}

impl Drop for BlockingServer {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            self.runtime.block_on(server.shutdown());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Proxies
// ---------------------------------------------------------------------------------------------

/// A loopback proxy in front of `upstream` whose FIRST connection loses the first response:
/// the request reaches the server, the server answers, and the proxy closes the client's
/// connection instead of passing the answer on (it reads HTTP/2 frames to know when the whole
/// answer, trailers included, has arrived). Later connections are passed through untouched.
/// Returns the proxy's address and the number of responses it has swallowed.
pub async fn losing_first_response_proxy(upstream: SocketAddr) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the proxy");
    let addr = listener.local_addr().expect("proxy address");
    let swallowed = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&swallowed);
    tokio::spawn(async move {
        let mut first = true;
        while let Ok((client, _)) = listener.accept().await {
            let Ok(server) = TcpStream::connect(upstream).await else { continue };
            if std::mem::take(&mut first) {
                tokio::spawn(lose_first_response(client, server, Arc::clone(&counter)));
            } else {
                tokio::spawn(pass_through(client, server));
            }
        }
    });
    (addr, swallowed)
}

async fn pass_through(mut client: TcpStream, mut server: TcpStream) {
    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
}

async fn lose_first_response(client: TcpStream, server: TcpStream, swallowed: Arc<AtomicUsize>) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let upstream = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
    });
    // Server → client: pass connection-level frames (SETTINGS, PING, WINDOW_UPDATE on stream
    // 0) through; hold back every frame of a stream; close once a stream has ended.
    const HEADERS: u8 = 0x1;
    const DATA: u8 = 0x0;
    const END_STREAM: u8 = 0x1;
    let mut header = [0u8; 9];
    loop {
        if server_read.read_exact(&mut header).await.is_err() {
            break;
        }
        let length = u32::from_be_bytes([0, header[0], header[1], header[2]]) as usize;
        let (kind, flags) = (header[3], header[4]);
        let stream = u32::from_be_bytes([header[5], header[6], header[7], header[8]]) & 0x7fff_ffff;
        let mut payload = vec![0u8; length];
        if server_read.read_exact(&mut payload).await.is_err() {
            break;
        }
        if stream == 0 {
            if client_write.write_all(&header).await.is_err() || client_write.write_all(&payload).await.is_err() {
                break;
            }
            continue;
        }
        if (kind == HEADERS || kind == DATA) && flags & END_STREAM != 0 {
            // The server has answered in full; the client gets nothing of it.
            swallowed.fetch_add(1, Ordering::SeqCst);
            break;
        }
    }
    upstream.abort();
    // Dropping both halves closes the client's connection.
}

/// A loopback proxy that passes everything through but holds each piece of the server's
/// bytes for `delay` first: a server that is slow to answer. It also counts the client's
/// RST_STREAM frames (a call the client cancelled).
pub async fn slow_proxy(upstream: SocketAddr, delay: Duration) -> SocketAddr {
    slow_proxy_counting_resets(upstream, delay).await.0
}

pub async fn slow_proxy_counting_resets(upstream: SocketAddr, delay: Duration) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the proxy");
    let addr = listener.local_addr().expect("proxy address");
    let resets = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&resets);
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let Ok(server) = TcpStream::connect(upstream).await else { continue };
            let counter = Arc::clone(&counter);
            tokio::spawn(async move {
                let (client_read, mut client_write) = client.into_split();
                let (mut server_read, server_write) = server.into_split();
                let up = tokio::spawn(forward_counting_resets(client_read, server_write, counter));
                let mut buffer = vec![0u8; 64 * 1024];
                while let Ok(n) = server_read.read(&mut buffer).await {
                    if n == 0 {
                        break;
                    }
                    tokio::time::sleep(delay).await;
                    if client_write.write_all(&buffer[..n]).await.is_err() {
                        break;
                    }
                }
                up.abort();
            });
        }
    });
    (addr, resets)
}

/// Client → server: the HTTP/2 preface, then frames, passed on one by one and RST_STREAMs counted.
async fn forward_counting_resets(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    resets: Arc<AtomicUsize>,
) {
    const RST_STREAM: u8 = 0x3;
    let mut preface = [0u8; 24];
    if from.read_exact(&mut preface).await.is_err() || to.write_all(&preface).await.is_err() {
        return;
    }
    let mut header = [0u8; 9];
    while from.read_exact(&mut header).await.is_ok() {
        let length = u32::from_be_bytes([0, header[0], header[1], header[2]]) as usize;
        let mut payload = vec![0u8; length];
        if from.read_exact(&mut payload).await.is_err() {
            return;
        }
        if header[3] == RST_STREAM {
            resets.fetch_add(1, Ordering::SeqCst);
        }
        if to.write_all(&header).await.is_err() || to.write_all(&payload).await.is_err() {
            return;
        }
    }
}

/// An address where nothing listens (a port that was just free).
pub async fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    drop(listener);
    addr
}

// ---------------------------------------------------------------------------------------------
// A scripted server, for statuses the real server has no rpc for
// ---------------------------------------------------------------------------------------------

/// Answers each call with the next scripted status, then echoes once the script is done.
#[derive(Clone, Default)]
pub struct ScriptedEcho {
    pub script: Arc<Mutex<VecDeque<Status>>>,
    pub calls: Arc<AtomicUsize>,
}

#[tonic::async_trait]
impl echo_service_server::EchoService for ScriptedEcho {
    async fn echo(&self, request: Request<pb::EchoRequest>) -> Result<Response<pb::EchoResponse>, Status> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let next = self.script.lock().expect("script lock").pop_front();
        match next {
            Some(status) => Err(status),
            None => Ok(Response::new(pb::EchoResponse { message: request.into_inner().message })),
        }
    }

    async fn ping(&self, _: Request<pb::PingRequest>) -> Result<Response<pb::PingResponse>, Status> {
        Err(Status::unimplemented("not scripted"))
    }
}

pub async fn scripted_server(script: Vec<Status>) -> (std::net::SocketAddr, ScriptedEcho) {
    let service = ScriptedEcho { script: Arc::new(Mutex::new(script.into())), calls: Arc::default() };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let router =
        tonic::transport::Server::builder().add_service(echo_service_server::EchoServiceServer::new(service.clone()));
    tokio::spawn(router.serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)));
    (addr, service)
}

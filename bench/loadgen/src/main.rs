//! `sb-loadgen`: the load generator of `bench/run.sh` for what h2load cannot do — requests
//! that differ per call (CreateUser needs a unique e-mail each time), per-window throughput
//! (is CreateUser flat as users accumulate?), and many idle streams or sockets held open
//! while the harness measures the server's memory.
//!
//! Every mode prints one `RESULT key=value …` line, like the peers' Go load tools, so one
//! parser reads them all. Only loopback targets are accepted; every run is bounded in time.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};
use hdrhistogram::Histogram;
use switchboard::pb::{
    ChatRequest, CreateUserRequest, EchoRequest, GetRequest, GetUserRequest, Join, SetRequest, User,
    chat_request::Action, chat_service_client::ChatServiceClient, echo_service_client::EchoServiceClient,
    kv_service_client::KvServiceClient, user_service_client::UserServiceClient,
};
use tokio::sync::Mutex;
use tonic::transport::{Channel, Endpoint};

mod webchat;

#[derive(Parser)]
#[command(about = "Closed-loop load for Switchboard benchmarks (loopback only)")]
struct Args {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Subcommand)]
enum Mode {
    /// Unary calls from `connections` HTTP/2 connections × `concurrency` callers each.
    Unary {
        #[arg(long, default_value = "127.0.0.1:50051")]
        addr: SocketAddr,
        #[arg(long, value_enum)]
        rpc: Rpc,
        #[arg(long, default_value_t = 50)]
        connections: usize,
        #[arg(long, default_value_t = 1)]
        concurrency: usize,
        /// Measured seconds (after the warm-up).
        #[arg(long, default_value_t = 10.0)]
        duration: f64,
        #[arg(long, default_value_t = 2.0)]
        warmup: f64,
        /// Throughput is also reported per window of this many seconds.
        #[arg(long, default_value_t = 10.0)]
        window: f64,
        /// Bytes of payload (echo message, kv value).
        #[arg(long, default_value_t = 100)]
        payload: usize,
        /// Distinguishes e-mails of separate runs against one server.
        #[arg(long, default_value = "run")]
        tag: String,
    },
    /// Joins `streams` chat members and holds them idle for `hold` seconds.
    ChatIdle {
        #[arg(long, default_value = "127.0.0.1:50051")]
        addr: SocketAddr,
        #[arg(long, default_value_t = 1000)]
        streams: usize,
        #[arg(long, default_value_t = 10.0)]
        hold: f64,
    },
    /// Chat fan-out: `members` join (`websocket` of them over the web chat's WebSocket, the
    /// rest over gRPC), `senders` of the gRPC members say short messages as fast as the server
    /// takes them; counts deliveries, reported misses (`missed` events) and unreported gaps in
    /// each member's sequence numbers.
    ChatFanout {
        #[arg(long, default_value = "127.0.0.1:50051")]
        grpc: SocketAddr,
        /// The HTTP port (`/v1/chat/ws`); needed when `websocket` > 0.
        #[arg(long, default_value = "127.0.0.1:8080")]
        http: SocketAddr,
        #[arg(long, default_value_t = 50)]
        members: usize,
        #[arg(long, default_value_t = 0)]
        websocket: usize,
        #[arg(long, default_value_t = 5)]
        senders: usize,
        #[arg(long, default_value_t = 10.0)]
        duration: f64,
        #[arg(long, default_value_t = 2.0)]
        warmup: f64,
    },
    /// Joins `members` chat members over the web chat's WebSocket and holds them idle.
    WsIdle {
        /// The HTTP port.
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: SocketAddr,
        #[arg(long, default_value_t = 1000)]
        members: usize,
        #[arg(long, default_value_t = 10.0)]
        hold: f64,
    },
    /// Opens `connections` idle TCP connections and holds them for `hold` seconds.
    IdleTcp {
        #[arg(long)]
        addr: SocketAddr,
        #[arg(long, default_value_t = 10_000)]
        connections: usize,
        #[arg(long, default_value_t = 10.0)]
        hold: f64,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Rpc {
    Echo,
    KvGet,
    KvSet,
    CreateUser,
    GetUser,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Args::parse().mode {
        Mode::Unary { addr, rpc, connections, concurrency, duration, warmup, window, payload, tag } => {
            loopback_only(addr)?;
            unary(addr, rpc, connections, concurrency, duration, warmup, window, payload, tag).await
        }
        Mode::ChatIdle { addr, streams, hold } => {
            loopback_only(addr)?;
            chat_idle(addr, streams, hold).await
        }
        Mode::IdleTcp { addr, connections, hold } => {
            loopback_only(addr)?;
            idle_tcp(addr, connections, hold).await
        }
        Mode::ChatFanout { grpc, http, members, websocket, senders, duration, warmup } => {
            loopback_only(grpc)?;
            loopback_only(http)?;
            webchat::chat_fanout(grpc, http, members, websocket, senders, duration, warmup).await
        }
        Mode::WsIdle { addr, members, hold } => {
            loopback_only(addr)?;
            webchat::ws_idle(addr, members, hold).await
        }
    }
}

fn loopback_only(addr: SocketAddr) -> anyhow::Result<()> {
    if !addr.ip().is_loopback() {
        bail!("{addr} is not a loopback address; benchmarks only ever target this machine");
    }
    Ok(())
}

async fn connect(addr: SocketAddr) -> anyhow::Result<Channel> {
    Endpoint::from_shared(format!("http://{addr}"))?
        .tcp_nodelay(true)
        .connect()
        .await
        .with_context(|| format!("connecting to {addr}"))
}

struct Shared {
    counter: AtomicU64,
    errors: AtomicU64,
    /// Completed calls per window, measured phase only.
    windows: Vec<AtomicU64>,
    histogram: Mutex<Histogram<u64>>,
}

#[allow(clippy::too_many_arguments)]
async fn unary(
    addr: SocketAddr,
    rpc: Rpc,
    connections: usize,
    concurrency: usize,
    duration: f64,
    warmup: f64,
    window: f64,
    payload: usize,
    tag: String,
) -> anyhow::Result<()> {
    let mut channels = Vec::new();
    for _ in 0..connections {
        channels.push(connect(addr).await?);
    }
    // Fixtures: a key to read, users to fetch.
    let value = "v".repeat(payload);
    let mut kv = KvServiceClient::new(channels[0].clone());
    kv.set(SetRequest { key: "bench-key".into(), value: value.clone() }).await.context("preloading bench-key")?;
    let mut user_ids = Vec::new();
    if rpc == Rpc::GetUser {
        let mut users = UserServiceClient::new(channels[0].clone());
        for i in 0..1000 {
            let user = User {
                username: format!("u{i}"),
                email: format!("{tag}-fixture-{i}@example.test"),
                age: 30,
                ..Default::default()
            };
            user_ids.push(users.create_user(CreateUserRequest { user: Some(user) }).await?.into_inner().id);
        }
    }
    let user_ids = Arc::new(user_ids);

    let windows = ((duration / window).ceil() as usize).max(1);
    let shared = Arc::new(Shared {
        counter: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        windows: (0..windows).map(|_| AtomicU64::new(0)).collect(),
        histogram: Mutex::new(Histogram::new_with_bounds(1, 60_000_000, 3)?),
    });
    let start = Instant::now();
    let measure_from = start + Duration::from_secs_f64(warmup);
    let stop_at = measure_from + Duration::from_secs_f64(duration);

    let mut tasks = Vec::new();
    for (c, channel) in channels.iter().enumerate() {
        for w in 0..concurrency {
            let channel = channel.clone();
            let shared = Arc::clone(&shared);
            let value = value.clone();
            let tag = tag.clone();
            let user_ids = Arc::clone(&user_ids);
            tasks.push(tokio::spawn(async move {
                let mut local = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("valid bounds");
                let mut echo = EchoServiceClient::new(channel.clone());
                let mut kv = KvServiceClient::new(channel.clone());
                let mut users = UserServiceClient::new(channel);
                let mut n: u64 = 0;
                loop {
                    let began = Instant::now();
                    if began >= stop_at {
                        break;
                    }
                    n += 1;
                    let ok = match rpc {
                        Rpc::Echo => echo.echo(EchoRequest { message: value.clone() }).await.is_ok(),
                        Rpc::KvGet => kv.get(GetRequest { key: "bench-key".into() }).await.is_ok(),
                        Rpc::KvSet => {
                            let key = format!("k{c}-{w}-{}", n % 10_000);
                            kv.set(SetRequest { key, value: value.clone() }).await.is_ok()
                        }
                        Rpc::CreateUser => {
                            let email = format!("{tag}-{c}-{w}-{n}@example.test");
                            let user = User { username: format!("u{n}"), email, age: 30, ..Default::default() };
                            users.create_user(CreateUserRequest { user: Some(user) }).await.is_ok()
                        }
                        Rpc::GetUser => {
                            let id = user_ids[(n as usize) % user_ids.len()];
                            users.get_user(GetUserRequest { id }).await.is_ok()
                        }
                    };
                    let done = Instant::now();
                    if began >= measure_from && done <= stop_at {
                        if ok {
                            let micros = done.duration_since(began).as_micros() as u64;
                            let _ = local.record(micros.max(1));
                            shared.counter.fetch_add(1, Ordering::Relaxed);
                            let index = (done.duration_since(measure_from).as_secs_f64() / window) as usize;
                            if let Some(slot) = shared.windows.get(index) {
                                slot.fetch_add(1, Ordering::Relaxed);
                            }
                        } else {
                            shared.errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                let _ = shared.histogram.lock().await.add(&local);
            }));
        }
    }
    for task in tasks {
        task.await?;
    }
    let requests = shared.counter.load(Ordering::Relaxed);
    let histogram = shared.histogram.lock().await;
    let window_rates: Vec<String> =
        shared.windows.iter().map(|w| format!("{:.0}", w.load(Ordering::Relaxed) as f64 / window)).collect();
    println!(
        "RESULT requests={requests} rps={:.0} p50_us={} p99_us={} errors={} windows_rps={}",
        requests as f64 / duration,
        histogram.value_at_quantile(0.50),
        histogram.value_at_quantile(0.99),
        shared.errors.load(Ordering::Relaxed),
        window_rates.join(","),
    );
    Ok(())
}

async fn chat_idle(addr: SocketAddr, streams: usize, hold: f64) -> anyhow::Result<()> {
    // A handful of connections carry all streams, as real clients multiplex.
    let mut channels = Vec::new();
    for _ in 0..streams.div_ceil(100) {
        channels.push(connect(addr).await?);
    }
    let mut members = Vec::new();
    for i in 0..streams {
        let mut client = ChatServiceClient::new(channels[i % channels.len()].clone());
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        tx.send(ChatRequest { action: Some(Action::Join(Join { name: format!("idle{i}") })) }).await?;
        let mut events = client.chat(tokio_stream::wrappers::ReceiverStream::new(rx)).await?.into_inner();
        events.message().await?.context("welcome")?;
        members.push((tx, events));
    }
    println!("READY streams={streams}");
    tokio::time::sleep(Duration::from_secs_f64(hold)).await;
    println!("RESULT streams={streams}");
    Ok(())
}

async fn idle_tcp(addr: SocketAddr, connections: usize, hold: f64) -> anyhow::Result<()> {
    let mut sockets = Vec::with_capacity(connections);
    for _ in 0..connections {
        sockets.push(tokio::net::TcpStream::connect(addr).await.context("connect (raise ulimit -n?)")?);
    }
    println!("READY connections={connections}");
    tokio::time::sleep(Duration::from_secs_f64(hold)).await;
    println!("RESULT connections={}", sockets.len());
    Ok(())
}

//! Group commit, measured: KvService/Set throughput with 1 and with 50 concurrent writers,
//! on memory (no durability) and on SQLite (every acknowledged write fsynced), and on
//! PostgreSQL when SWITCHBOARD_BENCH_DATABASE_URL is set (its tables go in the search_path's schema).
//!
//! With one writer, SQLite can do at most one write per fsync. With 50, the writer task puts
//! every waiting write in one transaction, so 50 writers share each fsync: throughput rises
//! far above the one-writer rate instead of staying flat.
//!
//! Run: `cargo bench --bench durable_writes` (numbers vary with the disk; nothing asserts
//! them).

use std::time::{Duration, Instant};

use switchboard::{
    config::{Config, StorageMode},
    pb::{SetRequest, kv_service_client::KvServiceClient},
};
use tonic::transport::Endpoint;

const RUN_FOR: Duration = Duration::from_secs(3);

async fn throughput(config: Config, writers: usize) -> f64 {
    let server = switchboard::server::start(config).await.expect("server starts");
    let url = format!("http://{}", server.grpc_addr());
    let deadline = Instant::now() + RUN_FOR;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for writer in 0..writers {
        let channel = Endpoint::from_shared(url.clone()).expect("url").connect().await.expect("connect");
        tasks.push(tokio::spawn(async move {
            let mut kv = KvServiceClient::new(channel);
            let mut done = 0u64;
            while Instant::now() < deadline {
                let request = SetRequest { key: format!("bench:{writer}:{done}"), value: "x".repeat(100) };
                kv.set(request).await.expect("set");
                done += 1;
            }
            done
        }));
    }
    let mut total = 0;
    for task in tasks {
        total += task.await.expect("writer");
    }
    let rate = total as f64 / started.elapsed().as_secs_f64();
    server.shutdown().await;
    rate
}

fn config(storage: StorageMode, dir: &std::path::Path) -> Config {
    let mut config = Config::defaults();
    config.listen = "127.0.0.1:0".parse().expect("addr");
    // Only the gRPC port is measured: the other listeners' fixed default ports would collide
    // with a server already running on this machine.
    let off = switchboard::config::LegacyListen::OFF;
    (config.http_listen, config.legacy_kv_listen, config.legacy_chat_listen) = (off, off, off);
    (config.legacy_echo_listen, config.legacy_binary_listen) = (off, off);
    config.storage = storage;
    config.data_dir = dir.to_owned();
    config.shutdown_grace = Duration::from_secs(2);
    config
}

#[tokio::main]
async fn main() {
    let mut rows = Vec::new();
    for (name, storage) in [("memory", StorageMode::Memory), ("sqlite", StorageMode::Sqlite)] {
        for writers in [1, 50] {
            let dir = tempfile::tempdir().expect("temp dir");
            rows.push((name, writers, throughput(config(storage, dir.path()), writers).await));
        }
    }
    if let Ok(url) = std::env::var("SWITCHBOARD_BENCH_DATABASE_URL") {
        for writers in [1, 50] {
            let dir = tempfile::tempdir().expect("temp dir");
            let mut config = config(StorageMode::Memory, dir.path());
            config.database_url = Some(url.clone());
            rows.push(("postgres", writers, throughput(config, writers).await));
        }
    }
    println!("KvService/Set for {RUN_FOR:?} per run");
    println!("{:<10} {:>8} {:>12}", "storage", "writers", "writes/s");
    for (name, writers, rate) in &rows {
        println!("{name:<10} {writers:>8} {rate:>12.0}");
    }
    let rate = |n: &str, w: usize| rows.iter().find(|r| r.0 == n && r.1 == w).map_or(f64::NAN, |r| r.2);
    println!(
        "sqlite, 50 writers vs 1 writer: {:.1}x (fsyncs shared by group commit)",
        rate("sqlite", 50) / rate("sqlite", 1)
    );
    println!("sqlite vs memory, 50 writers: {:.2}x of memory's throughput", rate("sqlite", 50) / rate("memory", 50));
}

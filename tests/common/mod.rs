//! What every integration test needs: a real server on an ephemeral loopback port, and
//! tonic clients connected to it.

#![allow(dead_code)] // each test binary uses its own part of this module

pub mod browser;
pub mod child;
pub mod grpcurl;
pub mod npm;
pub mod raw;
pub mod tools;
pub mod venv;

use std::{net::SocketAddr, time::Duration};

use switchboard::{
    config::{Config, LegacyListen},
    legacy::Protocol,
    pb::{
        chat_service_client::ChatServiceClient, echo_service_client::EchoServiceClient,
        file_service_client::FileServiceClient, kv_service_client::KvServiceClient,
        payment_service_client::PaymentServiceClient, user_service_client::UserServiceClient,
    },
    server::RunningServer,
};
use tonic::transport::{Channel, Endpoint};

pub const API_KEY: &str = "sk_test_integration";

/// A running server, stopped when dropped.
pub struct TestServer {
    pub server: RunningServer,
    pub channel: Channel,
}

/// The defaults, on 127.0.0.1 port 0, with a known payment API key.
pub fn test_config() -> Config {
    let mut config = Config::defaults();
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.payment_api_keys = vec![API_KEY.to_owned(), "sk_test_other".to_owned()];
    config.shutdown_grace = Duration::from_secs(5);
    let loopback = LegacyListen(Some("127.0.0.1:0".parse().unwrap()));
    config.legacy_kv_listen = loopback;
    config.legacy_chat_listen = loopback;
    config.legacy_echo_listen = loopback;
    config.legacy_binary_listen = loopback;
    config.http_listen = loopback;
    // Most tests are about service behaviour, not durability: memory is fast. The backend
    // suite (storage_backends.rs) runs the same behaviour on every durable backend.
    config.storage = switchboard::config::StorageMode::Memory;
    config
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(test_config()).await
    }

    pub async fn start_with(config: Config) -> Self {
        let server = switchboard::server::start(config).await.expect("server starts");
        let channel = connect(server.grpc_addr()).await;
        Self { server, channel }
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.grpc_addr()
    }

    /// Where a legacy protocol listens (all of them do in [`test_config`]).
    pub fn legacy(&self, protocol: Protocol) -> SocketAddr {
        self.server.legacy_addr(protocol).expect("the legacy listener is on")
    }

    pub fn users(&self) -> UserServiceClient<Channel> {
        UserServiceClient::new(self.channel.clone())
    }
    pub fn kv(&self) -> KvServiceClient<Channel> {
        KvServiceClient::new(self.channel.clone())
    }
    pub fn chat(&self) -> ChatServiceClient<Channel> {
        ChatServiceClient::new(self.channel.clone())
    }
    pub fn payments(&self) -> PaymentServiceClient<Channel> {
        PaymentServiceClient::new(self.channel.clone())
    }
    pub fn echo(&self) -> EchoServiceClient<Channel> {
        EchoServiceClient::new(self.channel.clone())
    }
    pub fn files(&self) -> FileServiceClient<Channel> {
        FileServiceClient::new(self.channel.clone())
    }

    /// A client on its own HTTP/2 connection (the shared channel multiplexes one).
    pub async fn new_connection(&self) -> Channel {
        connect(self.addr()).await
    }
}

pub async fn connect(addr: SocketAddr) -> Channel {
    Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(30))
        .connect()
        .await
        .expect("connect to the test server")
}

/// Adds metadata to a request.
pub fn with_metadata<T>(message: T, pairs: &[(&'static str, &str)]) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    for (key, value) in pairs {
        request.metadata_mut().insert(*key, value.parse().unwrap());
    }
    request
}

/// The field names of the `google.rpc.BadRequest` in a status, in order.
pub fn bad_fields(status: &tonic::Status) -> Vec<String> {
    use tonic_types::StatusExt;
    status
        .get_details_bad_request()
        .map(|br| br.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}

/// A gRPC transport with no client-side deadline timer: plain hyper over HTTP/2.
///
/// tonic's `Channel` races every call against its own timer built from the request's
/// `grpc-timeout` and, when that timer wins, reports `CANCELLED` locally — so a tonic client
/// cannot show what the *server* answers when a deadline passes. Through this transport the
/// status the client sees is the server's.
pub type RawH2 =
    hyper_util::client::legacy::Client<hyper_util::client::legacy::connect::HttpConnector, tonic::body::Body>;

pub fn raw_h2(addr: SocketAddr) -> (RawH2, tonic::codegen::http::Uri) {
    let client =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).http2_only(true).build_http();
    (client, format!("http://{addr}").parse().unwrap())
}

// ---------------------------------------------------------------------------------------------
// Storage backends and the machine's shared engines.

/// The PostgreSQL the scale-out tests use; `.ci/run` sets it. Absent: those tests are skipped,
/// loudly. Present but unreachable: they fail.
pub const DATABASE_URL_VAR: &str = "SWITCHBOARD_TEST_DATABASE_URL";
pub const NATS_URL_VAR: &str = "SWITCHBOARD_TEST_NATS_URL";

/// The value of a test-engine variable, or `None` after printing a loud SKIPPED line.
pub fn engine_url(var: &str, test: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            // Straight to the process's stderr: the test harness captures eprintln! of passing
            // tests, and a skip must be seen.
            use std::io::Write as _;
            let _ = writeln!(std::io::stderr(), "SKIPPED: {test} — {var} is not set (.ci/run sets it; see README)");
            None
        }
    }
}

/// A PostgreSQL schema of its own for one test, dropped when this is dropped, so tests never
/// see each other's data and leave nothing behind.
pub struct PgSchema {
    admin_url: String,
    pub name: String,
}

impl PgSchema {
    /// `None` (and a SKIPPED line) when no test database is configured.
    pub async fn create(test: &str) -> Option<Self> {
        let admin_url = engine_url(DATABASE_URL_VAR, test)?;
        let name = format!("sb_test_{}", uuid::Uuid::new_v4().simple());
        let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("{DATABASE_URL_VAR}={admin_url} is set but unreachable: {e}"));
        sqlx::query(&format!("CREATE SCHEMA {name}")).execute(&mut conn).await.expect("create test schema");
        Some(Self { admin_url, name })
    }

    /// The URL a server uses to live in this schema only.
    pub fn url(&self) -> String {
        let separator = if self.admin_url.contains('?') { '&' } else { '?' };
        format!("{}{separator}options=-c%20search_path%3D{}", self.admin_url, self.name)
    }

    /// The database's `host:port`.
    pub fn server_addr(&self) -> String {
        authority(&self.admin_url).1.to_owned()
    }

    /// [`PgSchema::url`], but reaching the database through `via` (a proxy).
    pub fn url_via(&self, via: SocketAddr) -> String {
        with_host(&self.url(), via)
    }
}

/// Splits `scheme://[user@]host:port/rest` into (`scheme://[user@]`, `host:port`, `/rest`).
pub fn authority(url: &str) -> (&str, &str, &str) {
    let start = url.find("://").map_or(0, |i| i + 3);
    let end = url[start..].find('/').map_or(url.len(), |i| start + i);
    let host_start = url[start..end].rfind('@').map_or(start, |i| start + i + 1);
    (&url[..host_start], &url[host_start..end], &url[end..])
}

/// `url` with its `host:port` replaced by `addr`.
pub fn with_host(url: &str, addr: SocketAddr) -> String {
    let (head, _, tail) = authority(url);
    format!("{head}{addr}{tail}")
}

impl PgSchema {}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let (url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop runs inside the test's runtime; a thread with its own runtime may block.
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
            runtime.block_on(async {
                if let Ok(mut conn) = <sqlx::PgConnection as sqlx::Connection>::connect(&url).await {
                    let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {name} CASCADE")).execute(&mut conn).await;
                }
            });
        })
        .join();
    }
}

/// Where a test server keeps its state.
pub enum Backend {
    Memory,
    Sqlite(tempfile::TempDir),
    Postgres(PgSchema),
}

impl Backend {
    pub fn sqlite() -> Self {
        Backend::Sqlite(tempfile::tempdir().expect("temp dir"))
    }

    pub async fn postgres(test: &str) -> Option<Self> {
        PgSchema::create(test).await.map(Backend::Postgres)
    }

    /// Whether state outlives the server.
    pub fn is_durable(&self) -> bool {
        !matches!(self, Backend::Memory)
    }

    pub fn config(&self) -> Config {
        let mut config = test_config();
        match self {
            Backend::Memory => config.storage = switchboard::config::StorageMode::Memory,
            Backend::Sqlite(dir) => {
                config.storage = switchboard::config::StorageMode::Sqlite;
                config.data_dir = dir.path().to_owned();
            }
            Backend::Postgres(schema) => config.database_url = Some(schema.url()),
        }
        config
    }

    pub async fn start(&self) -> TestServer {
        TestServer::start_with(self.config()).await
    }
}

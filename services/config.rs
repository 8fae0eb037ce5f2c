//! Command-line and environment configuration. Every flag has a `SWITCHBOARD_*` variable, and
//! every default runs on a laptop with no setup.

use std::{fmt, net::SocketAddr, path::PathBuf, str::FromStr, time::Duration};

use clap::{Parser, ValueEnum};

/// The API key accepted when none is configured, so the zero-config server takes payments.
/// The server warns loudly at start-up while it is in use.
pub const DEVELOPMENT_API_KEY: &str = "sk_test_switchboard";

#[derive(Debug, Clone, Parser)]
#[command(
    name = "switchboard",
    version,
    about = "A gRPC microservice suite: users, key-value, chat, payments, echo and files on one port",
    long_about = "A gRPC microservice suite: users, key-value, chat, payments, echo and files on one \
                  port, with gRPC health checking and server reflection (v1 and v1alpha).\n\n\
                  Every flag can also be set through the environment variable shown with it."
)]
pub struct Config {
    /// Address and port of the gRPC listener.
    #[arg(long, env = "SWITCHBOARD_LISTEN", default_value = "0.0.0.0:50051")]
    pub listen: SocketAddr,

    /// Log format: human-readable text or one JSON object per line.
    #[arg(long, env = "SWITCHBOARD_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Log filter in `RUST_LOG` syntax, e.g. `info` or `switchboard=debug,tower=warn`.
    #[arg(long = "log", env = "SWITCHBOARD_LOG", default_value = "info")]
    pub log_filter: String,

    /// Payment API keys, comma-separated; each key is its own account. When neither this nor
    /// --payment-api-keys-file is given, the development key `sk_test_switchboard` is accepted
    /// (and the server says so loudly).
    #[arg(long, env = "SWITCHBOARD_PAYMENT_API_KEYS", value_delimiter = ',', hide_env_values = true)]
    pub payment_api_keys: Vec<String>,

    /// File with payment API keys, one per line (blank lines and `#` comments ignored), e.g. a
    /// mounted Kubernetes secret.
    #[arg(long, env = "SWITCHBOARD_PAYMENT_API_KEYS_FILE")]
    pub payment_api_keys_file: Option<PathBuf>,

    /// Largest gRPC message the server accepts or sends, in bytes.
    #[arg(long, env = "SWITCHBOARD_MAX_MESSAGE_BYTES", default_value_t = 4 * 1024 * 1024)]
    pub max_message_bytes: usize,

    /// Largest key-value value, in bytes.
    #[arg(long, env = "SWITCHBOARD_KV_MAX_VALUE_BYTES", default_value_t = 1024 * 1024)]
    pub kv_max_value_bytes: usize,

    /// Largest file upload, in bytes.
    #[arg(long, env = "SWITCHBOARD_MAX_UPLOAD_BYTES", default_value_t = 64 * 1024 * 1024)]
    pub max_upload_bytes: u64,

    /// How many room events a chat member may fall behind before it skips some (and is told
    /// how many it missed).
    #[arg(long, env = "SWITCHBOARD_CHAT_MEMBER_QUEUE", default_value_t = 1024)]
    pub chat_member_queue: usize,

    /// How long a new chat stream may take to send its join, e.g. `30s`.
    #[arg(long, env = "SWITCHBOARD_CHAT_JOIN_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub chat_join_timeout: Duration,

    /// The HTTP front door (REST/JSON from the protos' `google.api.http` rules, Server-Sent
    /// Events, `/openapi.json`): HTTP/1.1 and h2c, TLS when `--tls-cert` is set; or `off`.
    #[arg(long, env = "SWITCHBOARD_HTTP_LISTEN", default_value = "0.0.0.0:8080")]
    pub http_listen: LegacyListen,

    /// Legacy KV text protocol (the seed's `SET`/`GET`/`DELETE`/`KEYS`/`QUIT` server), or `off`.
    #[arg(long, env = "SWITCHBOARD_LEGACY_KV_LISTEN", default_value = "0.0.0.0:8082")]
    pub legacy_kv_listen: LegacyListen,

    /// Legacy chat text protocol (the seed's telnet chat room), or `off`.
    #[arg(long, env = "SWITCHBOARD_LEGACY_CHAT_LISTEN", default_value = "0.0.0.0:8081")]
    pub legacy_chat_listen: LegacyListen,

    /// Legacy echo text protocol (the seed's line echo server), or `off`.
    #[arg(long, env = "SWITCHBOARD_LEGACY_ECHO_LISTEN", default_value = "0.0.0.0:8084")]
    pub legacy_echo_listen: LegacyListen,

    /// Legacy binary frame protocol (the seed's Echo/Ping/Data frames, plus gRPC call frames),
    /// or `off`.
    #[arg(long, env = "SWITCHBOARD_LEGACY_BINARY_LISTEN", default_value = "0.0.0.0:8083")]
    pub legacy_binary_listen: LegacyListen,

    /// Most legacy connections open at once, over all legacy protocols; more are told so and
    /// closed.
    #[arg(long, env = "SWITCHBOARD_LEGACY_MAX_CONNECTIONS", default_value_t = 10_000)]
    pub legacy_max_connections: usize,

    /// Most legacy connections open at once from one IP address, so one host cannot take every
    /// slot; more are told so and closed. 0 turns the per-address cap off.
    #[arg(long, env = "SWITCHBOARD_LEGACY_MAX_CONNECTIONS_PER_PEER", default_value_t = 256)]
    pub legacy_max_connections_per_peer: usize,

    /// A legacy KV, echo or binary connection that sends nothing for this long is closed; on
    /// every legacy protocol a reply the client does not read for this long closes it, e.g. `5m`.
    #[arg(long, env = "SWITCHBOARD_LEGACY_IDLE_TIMEOUT", default_value = "5m", value_parser = humantime::parse_duration)]
    pub legacy_idle_timeout: Duration,

    /// How long a legacy chat client has to answer `Enter your name: `, e.g. `30s`.
    #[arg(long, env = "SWITCHBOARD_LEGACY_HANDSHAKE_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub legacy_handshake_timeout: Duration,

    /// Longest line the legacy text protocols accept, in bytes; a longer one gets an `ERROR:`
    /// line and is skipped.
    #[arg(long, env = "SWITCHBOARD_LEGACY_MAX_LINE_BYTES", default_value_t = 64 * 1024)]
    pub legacy_max_line_bytes: usize,

    /// Time a binary frame may take to arrive once its length is read, e.g. `10s`: a sender
    /// that stalls mid-frame is closed after it.
    #[arg(long, env = "SWITCHBOARD_LEGACY_FRAME_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub legacy_frame_timeout: Duration,

    /// Bytes of partly received binary frames held at once, over every connection; a frame
    /// that does not fit waits (within `--legacy-frame-timeout`), so stalled senders cannot
    /// hold more memory than this.
    #[arg(long, env = "SWITCHBOARD_LEGACY_FRAME_BUFFER_BYTES", default_value_t = 64 * 1024 * 1024)]
    pub legacy_frame_buffer_bytes: usize,

    /// With `--auth-token`, also open the legacy text ports (KV, chat, echo), which cannot carry
    /// a token and so answer anyone. Off by default: with a token set they stay closed.
    #[arg(long, env = "SWITCHBOARD_LEGACY_ALLOW_UNAUTHENTICATED")]
    pub legacy_allow_unauthenticated: bool,
    /// Where state lives when no --database-url is given: `sqlite` (durable, under
    /// --data-dir) or `memory` (gone when the process exits; for tests and demos).
    #[arg(long, env = "SWITCHBOARD_STORAGE", value_enum, default_value_t = StorageMode::Sqlite)]
    pub storage: StorageMode,

    /// Directory of the SQLite database and uploaded files (created if missing).
    #[arg(long, env = "SWITCHBOARD_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,

    /// PostgreSQL URL, e.g. `postgres://user@host/db`. When given, all state lives there
    /// (overriding --storage), so several replicas can share it.
    #[arg(long, env = "SWITCHBOARD_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// NATS URL, e.g. `nats://127.0.0.1:4222`. When given, chat rooms span every replica
    /// connected to the same NATS.
    #[arg(long, env = "SWITCHBOARD_NATS_URL")]
    pub nats_url: Option<String>,

    /// NATS subject that carries the chat room between replicas; replicas that should
    /// form one room use the same one.
    #[arg(long, env = "SWITCHBOARD_NATS_SUBJECT", default_value = "switchboard.chat.room")]
    pub nats_subject: String,

    /// How often each replica tells the others who its chat members are, e.g. `2s`. A
    /// replica silent for three intervals has its members removed from the room.
    #[arg(long, env = "SWITCHBOARD_CHAT_PRESENCE_INTERVAL", default_value = "2s", value_parser = humantime::parse_duration)]
    pub chat_presence_interval: Duration,

    /// How long shutdown waits for open calls and streams before closing them, e.g. `30s`.
    #[arg(long, env = "SWITCHBOARD_SHUTDOWN_GRACE", default_value = "30s", value_parser = humantime::parse_duration)]
    pub shutdown_grace: Duration,

    /// How long to keep serving after health turns NOT_SERVING on SIGTERM, before refusing
    /// new connections: time for load balancers to stop routing here (e.g. `5s` behind
    /// Kubernetes, whose endpoint removal lags the pod's termination).
    #[arg(long, env = "SWITCHBOARD_SHUTDOWN_DELAY", default_value = "0s", value_parser = humantime::parse_duration)]
    pub shutdown_delay: Duration,

    // --- Authentication ---------------------------------------------------------------------
    /// Bearer token required (as `authorization: Bearer <token>`) on every call except health
    /// checks and reflection. Unset: no token needed.
    #[arg(long, env = "SWITCHBOARD_AUTH_TOKEN", hide_env_values = true)]
    pub auth_token: Option<String>,

    /// File holding the bearer token (first line; e.g. a mounted Kubernetes secret). Wins over
    /// --auth-token when both are given.
    #[arg(long, env = "SWITCHBOARD_AUTH_TOKEN_FILE")]
    pub auth_token_file: Option<PathBuf>,

    // --- Abuse protection -------------------------------------------------------------------
    /// Calls per second each client may make (clients are told apart by payment API key, else
    /// by IP address). 0, the default, turns rate limiting off: behind a load balancer or NAT
    /// many clients share one address, so only the operator can pick a limit that fits.
    #[arg(long, env = "SWITCHBOARD_RATE_LIMIT_PER_SECOND", default_value_t = 0)]
    pub rate_limit_per_second: u32,

    /// How many calls a client may make at once above its steady rate.
    #[arg(long, env = "SWITCHBOARD_RATE_LIMIT_BURST", default_value_t = 400)]
    pub rate_limit_burst: u32,

    /// Calls handled at once, server-wide; more are refused at once with UNAVAILABLE instead
    /// of queueing. 0: no limit.
    #[arg(long, env = "SWITCHBOARD_MAX_CONCURRENT_CALLS", default_value_t = 1024)]
    pub max_concurrent_calls: usize,

    /// Longest a unary call may run, whatever deadline its caller sets, e.g. `60s`; `0s`: no
    /// server-side limit (callers' `grpc-timeout` is always honoured).
    #[arg(long, env = "SWITCHBOARD_MAX_CALL_DURATION", default_value = "60s", value_parser = humantime::parse_duration)]
    pub max_call_duration: Duration,

    /// A streaming call on which neither side sends a message for this long is ended with
    /// DEADLINE_EXCEEDED, e.g. `30m`; `0s`: never. Health watches are exempt.
    #[arg(long, env = "SWITCHBOARD_STREAM_IDLE_TIMEOUT", default_value = "30m", value_parser = humantime::parse_duration)]
    pub stream_idle_timeout: Duration,

    // --- Connections ------------------------------------------------------------------------
    /// Concurrent streams (calls) per HTTP/2 connection.
    #[arg(long, env = "SWITCHBOARD_MAX_CONCURRENT_STREAMS", default_value_t = 256)]
    pub max_concurrent_streams: u32,

    /// Interval of HTTP/2 PINGs on idle connections, which find dead peers; `0s`: none.
    #[arg(long, env = "SWITCHBOARD_HTTP2_KEEPALIVE_INTERVAL", default_value = "60s", value_parser = humantime::parse_duration)]
    pub http2_keepalive_interval: Duration,

    /// How long an HTTP/2 PING may go unanswered before the connection is closed.
    #[arg(long, env = "SWITCHBOARD_HTTP2_KEEPALIVE_TIMEOUT", default_value = "20s", value_parser = humantime::parse_duration)]
    pub http2_keepalive_timeout: Duration,

    /// TCP keepalive idle time on accepted connections; `0s`: off.
    #[arg(long, env = "SWITCHBOARD_TCP_KEEPALIVE", default_value = "60s", value_parser = humantime::parse_duration)]
    pub tcp_keepalive: Duration,

    /// Time a new gRPC or HTTP connection has to send its first complete request (the HTTP/2
    /// preface or HTTP/1.1 headers); a connection that stays silent, or stalls mid-way, is
    /// closed after it.
    #[arg(long, env = "SWITCHBOARD_FIRST_REQUEST_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub first_request_timeout: Duration,

    // --- TLS --------------------------------------------------------------------------------
    /// PEM certificate chain of the gRPC listener; with --tls-key, turns TLS on.
    #[arg(long, env = "SWITCHBOARD_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key of --tls-cert.
    #[arg(long, env = "SWITCHBOARD_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// PEM CA certificate(s): clients must present a certificate signed by one (mutual TLS).
    #[arg(long, env = "SWITCHBOARD_TLS_CLIENT_CA", requires = "tls_cert")]
    pub tls_client_ca: Option<PathBuf>,

    // --- Observability ----------------------------------------------------------------------
    /// Address of the admin HTTP listener serving Prometheus metrics at /metrics, e.g.
    /// `127.0.0.1:9090`. Unset: no metrics listener.
    #[arg(long, env = "SWITCHBOARD_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,

    // --- gRPC-Web ---------------------------------------------------------------------------
    /// Origins allowed to call from a browser with gRPC-Web (CORS), comma-separated, e.g.
    /// `https://app.example.com`; `*` allows any origin. Unset: gRPC-Web works for same-origin
    /// pages and non-browser clients only.
    #[arg(long, env = "SWITCHBOARD_CORS_ALLOW_ORIGINS", value_delimiter = ',')]
    pub cors_allow_origins: Vec<String>,

    /// Most web chat WebSockets (`/v1/chat/ws` on the HTTP port) open at once; one more is
    /// refused with 503 before the upgrade.
    #[arg(long, env = "SWITCHBOARD_WEBSOCKET_MAX_CONNECTIONS", default_value_t = 10_000)]
    pub websocket_max_connections: usize,

    /// Print the OpenAPI 3.1 document of the REST routes (what `/openapi.json` serves) and exit.
    #[arg(long)]
    pub print_openapi: bool,

    /// TEST-ONLY: also serve `switchboard.debug.v1.DebugService` (slow and panicking rpcs).
    #[arg(long, env = "SWITCHBOARD_ENABLE_DEBUG_RPCS", hide = true)]
    pub enable_debug_rpcs: bool,
}

/// The contents of the TLS files (PEM).
pub struct TlsFiles {
    pub cert: Vec<u8>,
    pub key: Vec<u8>,
    /// With it, clients must present a certificate signed by this CA.
    pub client_ca: Option<Vec<u8>>,
}

/// Where a legacy protocol listens: an address, or `off` for not at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LegacyListen(pub Option<SocketAddr>);

impl LegacyListen {
    pub const OFF: Self = Self(None);
}

impl FromStr for LegacyListen {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("off") {
            return Ok(Self::OFF);
        }
        s.parse().map(|addr| Self(Some(addr))).map_err(|e| format!("{e}; expected HOST:PORT or `off`"))
    }
}

impl fmt::Display for LegacyListen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(addr) => addr.fmt(f),
            None => f.write_str("off"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StorageMode {
    Sqlite,
    Memory,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the payment API keys file {path}: {source}")]
    ApiKeysFile { path: PathBuf, source: std::io::Error },
    #[error("cannot read {what} {path}: {source}")]
    File { what: &'static str, path: PathBuf, source: std::io::Error },
    #[error("invalid flag: {0}")]
    Invalid(String),
}

impl Config {
    /// The configuration of a `switchboard` started with no flags (`SWITCHBOARD_*` variables
    /// still apply): what tests and embedders start from.
    pub fn defaults() -> Self {
        Self::parse_from(["switchboard"])
    }

    /// The payment API keys in force, and whether they are the development default.
    pub fn resolve_api_keys(&self) -> Result<(Vec<String>, bool), ConfigError> {
        let mut keys: Vec<String> =
            self.payment_api_keys.iter().map(|k| k.trim().to_owned()).filter(|k| !k.is_empty()).collect();
        if let Some(path) = &self.payment_api_keys_file {
            let text = std::fs::read_to_string(path)
                .map_err(|source| ConfigError::ApiKeysFile { path: path.clone(), source })?;
            keys.extend(
                text.lines()
                    .map(str::trim)
                    .filter(|line| !line.is_empty() && !line.starts_with('#'))
                    .map(str::to_owned),
            );
        }
        if keys.iter().any(|k| !k.bytes().all(|b| b.is_ascii_graphic())) {
            return Err(ConfigError::Invalid("payment API keys must be printable ASCII without spaces".into()));
        }
        if keys.is_empty() {
            return Ok((vec![DEVELOPMENT_API_KEY.to_owned()], true));
        }
        Ok((keys, false))
    }

    /// The bearer token in force, if any: the file's first line wins over the flag.
    pub fn resolve_auth_token(&self) -> Result<Option<String>, ConfigError> {
        let token = match &self.auth_token_file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::File {
                    what: "the auth token file",
                    path: path.clone(),
                    source,
                })?;
                text.lines().next().unwrap_or_default().trim().to_owned()
            }
            None => match &self.auth_token {
                Some(token) => token.trim().to_owned(),
                None => return Ok(None),
            },
        };
        if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ConfigError::Invalid("the auth token must be printable ASCII without spaces".into()));
        }
        Ok(Some(token))
    }

    /// The PEM files of the TLS settings, read; `None` without TLS.
    pub fn read_tls(&self) -> Result<Option<TlsFiles>, ConfigError> {
        let read = |what: &'static str, path: &PathBuf| {
            std::fs::read(path).map_err(|source| ConfigError::File { what, path: path.clone(), source })
        };
        let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) else {
            return Ok(None);
        };
        let client_ca = self.tls_client_ca.as_ref().map(|ca| read("the TLS client CA", ca)).transpose()?;
        Ok(Some(TlsFiles { cert: read("the TLS certificate", cert)?, key: read("the TLS key", key)?, client_ca }))
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.rate_limit_per_second > 0 && self.rate_limit_burst == 0 {
            return Err(ConfigError::Invalid("--rate-limit-burst must be at least 1".into()));
        }
        if self.max_concurrent_streams == 0 {
            return Err(ConfigError::Invalid("--max-concurrent-streams must be at least 1".into()));
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return Err(ConfigError::Invalid("--tls-cert and --tls-key go together".into()));
        }
        if self.tls_client_ca.is_some() && self.tls_cert.is_none() {
            return Err(ConfigError::Invalid("--tls-client-ca needs --tls-cert and --tls-key".into()));
        }
        if self.chat_member_queue == 0 {
            return Err(ConfigError::Invalid("--chat-member-queue must be at least 1".into()));
        }
        if self.legacy_max_connections == 0 {
            return Err(ConfigError::Invalid("--legacy-max-connections must be at least 1".into()));
        }
        if self.legacy_idle_timeout.is_zero() || self.legacy_handshake_timeout.is_zero() {
            return Err(ConfigError::Invalid(
                "--legacy-idle-timeout and --legacy-handshake-timeout must be above zero".into(),
            ));
        }
        if self.first_request_timeout.is_zero() {
            return Err(ConfigError::Invalid("--first-request-timeout must be above zero".into()));
        }
        if self.legacy_frame_timeout.is_zero() {
            return Err(ConfigError::Invalid("--legacy-frame-timeout must be above zero".into()));
        }
        if self.legacy_frame_buffer_bytes < binary_frame_limit() {
            return Err(ConfigError::Invalid(format!(
                "--legacy-frame-buffer-bytes must hold at least one whole frame ({} bytes)",
                binary_frame_limit()
            )));
        }
        if self.legacy_max_line_bytes < 256 {
            return Err(ConfigError::Invalid("--legacy-max-line-bytes must be at least 256".into()));
        }
        if self.chat_presence_interval < Duration::from_millis(50) {
            return Err(ConfigError::Invalid("--chat-presence-interval must be at least 50ms".into()));
        }
        if self.websocket_max_connections == 0 {
            return Err(ConfigError::Invalid("--websocket-max-connections must be at least 1".into()));
        }
        if self.max_message_bytes < 1024 {
            return Err(ConfigError::Invalid("--max-message-bytes must be at least 1024".into()));
        }
        Ok(())
    }
}

/// The largest binary frame, which the frame buffer must be able to hold.
fn binary_frame_limit() -> usize {
    crate::legacy::binary::MAX_FRAME_LENGTH as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_listeners_parse_addresses_and_off() {
        assert_eq!("off".parse::<LegacyListen>(), Ok(LegacyListen::OFF));
        assert_eq!("OFF".parse::<LegacyListen>(), Ok(LegacyListen::OFF));
        let addr: LegacyListen = "127.0.0.1:8082".parse().unwrap();
        assert_eq!(addr.to_string(), "127.0.0.1:8082");
        assert!("localhost".parse::<LegacyListen>().is_err());
        let config = Config::parse_from(["switchboard", "--legacy-echo-listen", "off"]);
        assert_eq!(config.legacy_echo_listen, LegacyListen::OFF);
        assert_eq!(config.legacy_kv_listen.to_string(), "0.0.0.0:8082");
    }

    #[test]
    fn every_flag_has_an_environment_variable_and_help() {
        use clap::CommandFactory;
        for arg in Config::command().get_arguments() {
            let id = arg.get_id().as_str();
            // Commands, not settings: nothing to set from the environment.
            if matches!(id, "help" | "version" | "print_openapi") {
                continue;
            }
            let env = arg.get_env().unwrap_or_else(|| panic!("--{id} has no environment variable"));
            assert!(env.to_string_lossy().starts_with("SWITCHBOARD_"), "--{id}");
            assert!(arg.get_help().is_some(), "--{id} has no help");
        }
    }
}

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
    #[arg(long, env = "SWITCHBOARD_LEGACY_MAX_CONNECTIONS", default_value_t = 1024)]
    pub legacy_max_connections: usize,

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

    /// How long shutdown waits for open calls and streams before closing them, e.g. `30s`.
    #[arg(long, env = "SWITCHBOARD_SHUTDOWN_GRACE", default_value = "30s", value_parser = humantime::parse_duration)]
    pub shutdown_grace: Duration,
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
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the payment API keys file {path}: {source}")]
    ApiKeysFile { path: PathBuf, source: std::io::Error },
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

    pub fn validate(&self) -> Result<(), ConfigError> {
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
        if self.legacy_max_line_bytes < 256 {
            return Err(ConfigError::Invalid("--legacy-max-line-bytes must be at least 256".into()));
        }
        if self.max_message_bytes < 1024 {
            return Err(ConfigError::Invalid("--max-message-bytes must be at least 1024".into()));
        }
        Ok(())
    }
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
            if matches!(id, "help" | "version") {
                continue;
            }
            let env = arg.get_env().unwrap_or_else(|| panic!("--{id} has no environment variable"));
            assert!(env.to_string_lossy().starts_with("SWITCHBOARD_"), "--{id}");
            assert!(arg.get_help().is_some(), "--{id} has no help");
        }
    }
}

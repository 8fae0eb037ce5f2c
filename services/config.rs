//! Command-line and environment configuration. Every flag has a `SWITCHBOARD_*` variable, and
//! every default runs on a laptop with no setup.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

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
        if self.chat_presence_interval < Duration::from_millis(50) {
            return Err(ConfigError::Invalid("--chat-presence-interval must be at least 50ms".into()));
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

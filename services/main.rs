//! The `switchboard` binary: parse the configuration, set up logging, serve until SIGINT or
//! SIGTERM, then shut down gracefully (a second signal cuts the drain short). Exits 0 after a
//! shutdown, however it went; non-zero only if it could not start.

use std::io::IsTerminal as _;

use anyhow::Context as _;
use clap::Parser;
use switchboard::{
    config::{Config, DEVELOPMENT_API_KEY, LogFormat},
    legacy::Protocol,
    logging::{BatchedWriter, FlushGuard, JsonWithRequestId, TextFields},
};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    if config.print_openapi {
        let document = switchboard::server::openapi_document().context("generating the OpenAPI document")?;
        println!("{}", String::from_utf8_lossy(&document));
        return Ok(());
    }
    // Dropped when main returns: that flushes the log lines still queued.
    let _log_writer = init_logging(&config)?;
    raise_open_file_limit();

    let server = switchboard::server::start(config).await.context("starting switchboard")?;
    if server.using_development_api_key() {
        tracing::warn!(
            "no payment API keys configured: accepting the DEVELOPMENT key {DEVELOPMENT_API_KEY:?}. \
             Set --payment-api-keys or SWITCHBOARD_PAYMENT_API_KEYS before real use."
        );
    }
    let legacy = |protocol| server.legacy_addr(protocol).map_or_else(|| "off".to_owned(), |addr| addr.to_string());
    tracing::info!(
        grpc = %server.grpc_addr(),
        http = %server.http_addr().map_or_else(|| "off".to_owned(), |addr| addr.to_string()),
        legacy_kv = %legacy(Protocol::Kv),
        legacy_chat = %legacy(Protocol::Chat),
        legacy_echo = %legacy(Protocol::Echo),
        legacy_binary = %legacy(Protocol::Binary),
        "switchboard ready; health and reflection are on the gRPC port"
    );

    wait_for_signal().await?;
    tracing::info!("shutting down (a second SIGINT or SIGTERM closes everything at once)");
    let impatient = server.shutdown_handle();
    tokio::spawn(async move {
        if wait_for_signal().await.is_ok() {
            tracing::warn!("second signal: closing open calls and streams now");
            impatient.force();
        }
    });
    server.shutdown().await;
    Ok(())
}

/// Thousands of legacy connections each hold a file descriptor; the usual soft limit of 1024
/// would refuse them long before `--legacy-max-connections` does. Raise the soft limit to
/// the hard limit (what Go's runtime does for its servers); failing that, run with what we have.
fn raise_open_file_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::debug!(limit, "open file limit"),
        Err(error) => tracing::warn!(%error, "cannot raise the open file limit"),
    }
}

/// Log lines are formatted on the thread that logs and written out in batches by a thread of
/// their own ([`BatchedWriter`]): one access-log line per call would otherwise cost a `write`
/// system call per call on the serving threads. Not lossy: if the output cannot keep up,
/// logging waits rather than dropping lines.
fn init_logging(config: &Config) -> anyhow::Result<FlushGuard> {
    // RUST_LOG, when set, wins over --log, as every Rust service's operators expect.
    let filter = match std::env::var("RUST_LOG") {
        Ok(filter) if !filter.is_empty() => EnvFilter::try_new(filter),
        _ => EnvFilter::try_new(&config.log_filter),
    }
    .context("invalid log filter")?;
    let (writer, guard) = BatchedWriter::start(std::io::stdout()).context("starting the log writer thread")?;
    // Colours only for a terminal: escape codes in a log file or collector are noise.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stdout().is_terminal())
        .with_writer(writer);
    // Both formats add the request id of the unary call whose handler writes a line.
    match config.log_format {
        LogFormat::Text => builder.fmt_fields(TextFields::default()).init(),
        LogFormat::Json => {
            builder.json().event_format(JsonWithRequestId::new(tracing_subscriber::fmt::format().json())).init()
        }
    }
    Ok(guard)
}

async fn wait_for_signal() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result.context("waiting for SIGINT")?,
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")?;
    Ok(())
}

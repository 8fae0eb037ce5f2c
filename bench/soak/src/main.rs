//! `switchboard-soak`: the chaos soak. For each backend it starts the real `switchboard`
//! binary on loopback, puts a fault proxy in front of every port, runs a mixed load on every
//! front door at once (gRPC through `switchboard-client`, REST, legacy KV plain and
//! pipelined, telnet chat, binary frames, line echo, KV watches) while it kills, terminates
//! and restarts the server, cuts, delays and half-closes connections, fills the disk under
//! SQLite, and cuts the server off PostgreSQL and NATS; then it crashes the server once more,
//! reads everything back, and runs the checkers over every operation every client saw.
//!
//! ```sh
//! cargo build --bin switchboard -p switchboard-soak
//! target/debug/switchboard-soak --duration 10m --report soak.json
//! ```
//!
//! Exit status: 0 every check passed, 1 a check failed (the violations are printed), 2 the
//! soak could not run. Everything is bounded: the load stops after `--duration`.

#![forbid(unsafe_code)]

mod report;
mod run;

use std::{path::PathBuf, process::ExitCode, time::Duration};

use anyhow::{Context, bail};
use clap::Parser;
use run::{Backend, Settings};

#[derive(Parser)]
#[command(about = "Chaos soak of a switchboard binary: mixed load on every front door, faults, then history checkers")]
struct Args {
    /// How long the load runs in all, split evenly between the backends (`60s`, `10m`).
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Which setups to soak, in turn.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "sqlite,postgres")]
    backends: Vec<Backend>,
    /// The switchboard binary (default: `switchboard` next to this program).
    #[arg(long, env = "SWITCHBOARD_BIN")]
    server_bin: Option<PathBuf>,
    /// PostgreSQL for the postgres backend (trust auth); the soak makes a schema of its own.
    #[arg(long, env = "SWITCHBOARD_TEST_DATABASE_URL")]
    database_url: Option<String>,
    /// NATS for the postgres backend's chat; the soak uses a subject of its own.
    #[arg(long, env = "SWITCHBOARD_TEST_NATS_URL")]
    nats_url: Option<String>,
    /// Leave out the disk-full fault (it needs root for a tmpfs in a private mount namespace).
    #[arg(long)]
    no_disk_full: bool,
    /// KV keys shared by every front door.
    #[arg(long, default_value_t = 16)]
    keys: usize,
    /// Write the figures and findings as JSON here.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Write each backend's whole history as JSON into this directory (always when a check
    /// fails, into the system's temporary directory unless this is given).
    #[arg(long)]
    history_dir: Option<PathBuf>,
    /// Run only the checkers, on histories an earlier soak wrote (`--history-dir`); the
    /// server's log and the proxies' counts are not in a history, so not in the report.
    #[arg(long, num_args = 1.., value_name = "HISTORY.json")]
    recheck: Vec<PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match soak(args).await {
        Ok(true) => {
            println!("SOAK PASSED");
            ExitCode::SUCCESS
        }
        Ok(false) => {
            println!("SOAK FAILED: the violations are listed above");
            ExitCode::from(1)
        }
        Err(error) => {
            eprintln!("soak: could not run: {error:#}");
            ExitCode::from(2)
        }
    }
}

async fn soak(args: Args) -> anyhow::Result<bool> {
    if !args.recheck.is_empty() {
        let mut passed = true;
        let mut reports = Vec::new();
        for path in &args.recheck {
            let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            let history =
                serde_json::from_slice(&bytes).with_context(|| format!("{} is not a soak history", path.display()))?;
            let outcome = run::Outcome { history, ..run::Outcome::default() };
            let findings = switchboard_soak::checks::check_all(&outcome.history);
            println!("{}", report::markdown(&outcome, &findings));
            reports.push(report::json(&outcome, &findings));
            passed &= findings.passed();
        }
        if let Some(path) = &args.report {
            std::fs::write(path, serde_json::to_vec_pretty(&serde_json::json!({ "backends": reports }))?)
                .with_context(|| format!("writing {}", path.display()))?;
        }
        return Ok(passed);
    }
    let server_bin = match args.server_bin {
        Some(path) => path,
        None => std::env::current_exe()?.with_file_name("switchboard"),
    };
    if !server_bin.is_file() {
        bail!(
            "no switchboard binary at {} (build it: cargo build --bin switchboard, or pass --server-bin)",
            server_bin.display()
        );
    }
    if args.backends.is_empty() {
        bail!("no backend to soak");
    }
    let per_backend = args.duration / u32::try_from(args.backends.len()).unwrap_or(1);
    let settings = Settings {
        server_bin: server_bin.canonicalize()?,
        duration: per_backend,
        database_url: args.database_url,
        nats_url: args.nats_url,
        disk_full: !args.no_disk_full,
        keys: args.keys.max(1),
    };
    println!(
        "# Soak of {} — {} per backend, {}\n",
        settings.server_bin.display(),
        humantime::format_duration(per_backend),
        machine_load()
    );
    let mut passed = true;
    let mut reports = Vec::new();
    for backend in args.backends {
        let outcome = run::soak(backend, &settings).await.with_context(|| format!("soaking {}", backend.label()))?;
        let findings = switchboard_soak::checks::check_all(&outcome.history);
        println!("{}", report::markdown(&outcome, &findings));
        reports.push(report::json(&outcome, &findings));
        if !findings.passed() || args.history_dir.is_some() {
            let dir = args.history_dir.clone().unwrap_or_else(std::env::temp_dir);
            std::fs::create_dir_all(&dir)?;
            let path = dir
                .join(format!("soak-history-{}.json", backend.label().split_whitespace().next().unwrap_or("backend")));
            std::fs::write(&path, serde_json::to_vec(&outcome.history)?)
                .with_context(|| format!("writing {}", path.display()))?;
            println!("The whole history: {}\n", path.display());
        }
        passed &= findings.passed();
    }
    if let Some(path) = args.report {
        std::fs::write(&path, serde_json::to_vec_pretty(&serde_json::json!({ "backends": reports }))?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    println!("machine at the end: {}", machine_load());
    Ok(passed)
}

/// The load average, for the record: others may be compiling on the same cores.
fn machine_load() -> String {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("load average {} on {cores} cores", load.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
}

//! The chaos soak, in `cargo test`: 60 s of mixed load and faults against the real
//! `switchboard` binary — SQLite and, where `.ci/run` provides them, PostgreSQL + NATS —
//! and every checker must pass. The soak's report goes straight to stderr, pass or fail, so
//! CI logs show the figures.
//!
//! It needs the `switchboard` binary built beside this one: `cargo test --workspace` builds
//! it (the root package's tests need it); alone, run `cargo build --bin switchboard` first.

use std::{
    io::Write as _,
    path::PathBuf,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

/// Straight to the process's stderr: the test harness captures `eprintln!` of passing
/// tests, and what the soak found (or that part of it was skipped) must be seen.
fn say(text: &str) {
    let _ = writeln!(std::io::stderr(), "{text}");
}

fn engine(var: &str) -> Option<String> {
    std::env::var(var).ok().filter(|value| !value.is_empty())
}

#[test]
fn sixty_seconds_of_faults_and_every_check_passes() {
    let soak = PathBuf::from(env!("CARGO_BIN_EXE_switchboard-soak"));
    let server = soak.with_file_name("switchboard");
    assert!(
        server.is_file(),
        "no switchboard binary at {} — `cargo test --workspace` builds it; alone, run `cargo build --bin switchboard` first",
        server.display()
    );

    let mut backends = vec!["sqlite"];
    let database = engine("SWITCHBOARD_TEST_DATABASE_URL");
    let nats = engine("SWITCHBOARD_TEST_NATS_URL");
    if database.is_some() && nats.is_some() {
        backends.push("postgres");
    } else {
        say(
            "SKIPPED: soak of PostgreSQL + NATS — SWITCHBOARD_TEST_DATABASE_URL and SWITCHBOARD_TEST_NATS_URL are not \
             both set (.ci/run sets them; see README)",
        );
    }
    let mut command = Command::new(&soak);
    command.args(["--duration", "60s", "--backends", &backends.join(","), "--server-bin"]).arg(&server);
    if !nix::unistd::geteuid().is_root() {
        say(
            "SKIPPED: the soak's disk-full fault — it mounts a tmpfs in a private mount namespace, which needs root (CI runs as root)",
        );
        command.arg("--no-disk-full");
    }
    let report = std::env::temp_dir().join(format!("switchboard-soak-report-{}.json", std::process::id()));
    command.arg("--report").arg(&report);

    let started = Instant::now();
    let output = command.stdin(Stdio::null()).output().expect("run switchboard-soak");
    say(&String::from_utf8_lossy(&output.stdout));
    say(&String::from_utf8_lossy(&output.stderr));
    say(&format!("the soak took {:.0} s; its JSON report: {}", started.elapsed().as_secs_f64(), report.display()));
    assert!(output.status.success(), "the soak failed ({}): see the violations above", output.status);
    // A soak that ran nothing would pass vacuously.
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).expect("the report")).expect("JSON");
    let backends_run = report["backends"].as_array().map_or(0, Vec::len);
    assert_eq!(backends_run, backends.len(), "{report}");
    for backend in report["backends"].as_array().into_iter().flatten() {
        let faults = backend["faults"].as_array().map_or(0, Vec::len);
        assert!(faults >= 5, "{}: only {faults} faults were injected", backend["backend"]);
        let acknowledged: u64 = backend["tallies"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|row| row["tally"]["acknowledged"].as_u64().unwrap_or(0))
            .sum();
        assert!(acknowledged > 1000, "{}: only {acknowledged} operations were acknowledged", backend["backend"]);
    }
    assert!(started.elapsed() < Duration::from_secs(300), "the soak took {:?}", started.elapsed());
}

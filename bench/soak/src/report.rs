//! The soak's figures: per backend, the operations by front door with what the checkers
//! found, the faults injected, the errors clients saw, latency before, during and after the
//! faults, and the server process's memory and open files across its lives.

use std::{collections::BTreeMap, fmt::Write as _};

use hdrhistogram::Histogram;
use serde_json::{Value, json};
use switchboard_soak::{
    checks::Findings,
    history::{ChatSeen, Door, FaultKind, History, Micros, Service},
};

use crate::run::Outcome;

/// One latency sample: (door, service, invoke, ret).
type Sample = (Door, Service, Micros, Micros);

fn samples(history: &History) -> Vec<Sample> {
    let mut samples = Vec::new();
    samples.extend(
        history
            .kv
            .iter()
            .filter(|op| op.outcome.is_ok() && !op.final_read)
            .map(|op| (op.door, Service::Kv, op.invoke, op.ret)),
    );
    samples.extend(
        history
            .users
            .iter()
            .filter(|op| op.outcome.is_ok() && !op.final_read)
            .map(|op| (op.door, Service::Users, op.invoke, op.ret)),
    );
    samples.extend(
        history
            .payments
            .iter()
            .filter(|op| op.outcome.is_ok() && !op.recovery)
            .map(|op| (op.door, Service::Payments, op.invoke, op.ret)),
    );
    samples.extend(
        history
            .refunds
            .iter()
            .filter(|op| op.outcome.is_ok())
            .map(|op| (op.door, Service::Payments, op.invoke, op.ret)),
    );
    samples.extend(
        history.simple.iter().filter(|op| op.outcome.is_ok()).map(|op| (op.door, op.service, op.invoke, op.ret)),
    );
    samples
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    Before,
    During,
    After,
}

fn phase(history: &History, at: Micros) -> Option<Phase> {
    if at < history.faults_from {
        Some(Phase::Before)
    } else if at < history.faults_until {
        Some(Phase::During)
    } else if at < history.load_until {
        Some(Phase::After)
    } else {
        None
    }
}

/// p50 and p99 in milliseconds, and how many samples, per phase.
type Percentiles = BTreeMap<Phase, (f64, f64, u64)>;

/// Per door and service.
fn latency(history: &History) -> BTreeMap<(Door, Service), Percentiles> {
    let mut histograms: BTreeMap<(Door, Service), BTreeMap<Phase, Histogram<u64>>> = BTreeMap::new();
    for (door, service, invoke, ret) in samples(history) {
        let Some(phase) = phase(history, invoke) else { continue };
        let histogram =
            histograms.entry((door, service)).or_default().entry(phase).or_insert_with(|| {
                Histogram::new(3).unwrap_or_else(|_| unreachable!("3 significant figures are valid"))
            });
        let _ = histogram.record(ret.saturating_sub(invoke).max(1));
    }
    histograms
        .into_iter()
        .map(|(row, phases)| {
            let phases = phases
                .into_iter()
                .map(|(phase, h)| {
                    let ms = |q| h.value_at_quantile(q) as f64 / 1000.0;
                    (phase, (ms(0.5), ms(0.99), h.len()))
                })
                .collect();
            (row, phases)
        })
        .collect()
}

/// Failures by status label, with one example message each.
fn errors(history: &History) -> BTreeMap<String, (u64, String)> {
    let mut errors: BTreeMap<String, (u64, String)> = BTreeMap::new();
    let mut add = |failure: &switchboard_soak::history::Failure| {
        let entry = errors.entry(failure.status.clone()).or_insert((0, String::new()));
        entry.0 += 1;
        if entry.1.is_empty() {
            entry.1 = failure.message.chars().take(90).collect();
        }
    };
    history.kv.iter().filter_map(|op| op.outcome.as_ref().err()).for_each(&mut add);
    history.users.iter().filter_map(|op| op.outcome.as_ref().err()).for_each(&mut add);
    history.payments.iter().filter_map(|op| op.outcome.as_ref().err()).for_each(&mut add);
    history.refunds.iter().filter_map(|op| op.outcome.as_ref().err()).for_each(&mut add);
    history.simple.iter().filter_map(|op| op.outcome.as_ref().err()).for_each(&mut add);
    errors
}

fn faults(history: &History) -> BTreeMap<FaultKind, (u64, f64, Vec<String>)> {
    let mut faults: BTreeMap<FaultKind, (u64, f64, Vec<String>)> = BTreeMap::new();
    for fault in &history.faults {
        let entry = faults.entry(fault.kind).or_default();
        entry.0 += 1;
        entry.1 += (fault.end - fault.start) as f64 / 1e6;
        entry.2.push(fault.detail.clone());
    }
    faults
}

fn secs(t: Micros) -> f64 {
    t as f64 / 1e6
}

/// The report of one backend, as Markdown.
pub fn markdown(outcome: &Outcome, findings: &Findings) -> String {
    let history = &outcome.history;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## {} — {:.0} s of load: {:.0} s quiet, {:.0} s of faults, {:.0} s quiet; then a SIGKILL, a restart and the final reads\n",
        outcome.history.backend,
        secs(history.load_until),
        secs(history.faults_from),
        secs(history.faults_until - history.faults_from),
        secs(history.load_until - history.faults_until),
    );
    let _ = writeln!(
        out,
        "| front door | service | attempted | acknowledged | lost | duplicated | order / linearizability violations |"
    );
    let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|");
    let mut total = (0, 0, 0, 0, 0);
    for ((door, service), tally) in &findings.tallies {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            door.label(),
            service.label(),
            tally.attempted,
            tally.acknowledged,
            tally.lost,
            tally.duplicated,
            tally.order_violations
        );
        total.0 += tally.attempted;
        total.1 += tally.acknowledged;
        total.2 += tally.lost;
        total.3 += tally.duplicated;
        total.4 += tally.order_violations;
    }
    let _ = writeln!(
        out,
        "| **all** | | **{}** | **{}** | **{}** | **{}** | **{}** |\n",
        total.0, total.1, total.2, total.3, total.4
    );

    let sessions = history.chat_sessions.len();
    let (mut notices, mut skipped) = (0u64, 0u64);
    for (_, seen) in history.chat_sessions.iter().flat_map(|s| s.seen.iter()) {
        if let ChatSeen::Missed { count } = seen {
            notices += 1;
            skipped += count;
        }
    }
    let _ = writeln!(
        out,
        "Chat: {sessions} member sessions; {notices} \"missed\" notices announced {skipped} skipped events to the slow readers. \
         KV watch: {} sessions. Keys: {}; users: {}; payments: {}.\n",
        history.watches.len(),
        history.kv.iter().filter(|op| op.final_read).count(),
        history.users_final.len(),
        history.payments_final.len(),
    );

    let _ = writeln!(out, "| fault | injected | total time | what happened (first ones) |");
    let _ = writeln!(out, "|---|---:|---:|---|");
    for (kind, (count, time, details)) in faults(history) {
        let shown: Vec<&str> = details.iter().take(3).map(String::as_str).collect();
        let _ = writeln!(out, "| {} | {count} | {time:.1} s | {} |", kind.label(), shown.join("; "));
    }
    let _ = writeln!(out);

    let _ = writeln!(out, "| error seen by clients | count | example |");
    let _ = writeln!(out, "|---|---:|---|");
    for (status, (count, example)) in errors(history) {
        let _ = writeln!(out, "| {status} | {count} | {} |", example.replace('|', "\\|"));
    }
    let _ = writeln!(out);

    let _ = writeln!(out, "| latency, ms (p50 / p99) | before faults | during faults | after faults |");
    let _ = writeln!(out, "|---|---|---|---|");
    for ((door, service), phases) in latency(history) {
        let cell = |phase| {
            phases.get(&phase).map_or_else(|| "—".to_owned(), |(p50, p99, n)| format!("{p50:.1} / {p99:.1} ({n})"))
        };
        let _ = writeln!(
            out,
            "| {} {} | {} | {} | {} |",
            door.label(),
            service.label(),
            cell(Phase::Before),
            cell(Phase::During),
            cell(Phase::After)
        );
    }
    let _ = writeln!(out);

    let lives = &history.incarnations;
    let peak_rss = lives.iter().map(|i| i.peak_rss_kib).max().unwrap_or(0);
    let peak_fds = lives.iter().map(|i| i.peak_fds).max().unwrap_or(0);
    let first_ready = lives.first().and_then(|i| i.fds_at_ready);
    let after_load = lives.iter().rev().find_map(|i| i.fds_after_load);
    let ready_of_that = lives.iter().rev().find(|i| i.fds_after_load.is_some()).and_then(|i| i.fds_at_ready);
    let _ = writeln!(
        out,
        "Server process: {} lives ({} killed, {} terminated, {} ended unexpectedly); peak RSS {:.1} MiB; open files \
         {} at the first start, peak {peak_fds}, {} once the load had stopped (that life started with {}).\n",
        lives.len(),
        lives.iter().filter(|i| i.end.starts_with("SIGKILL")).count(),
        lives.iter().filter(|i| i.end.starts_with("SIGTERM")).count(),
        lives.iter().filter(|i| i.unexpected_end).count(),
        peak_rss as f64 / 1024.0,
        first_ready.map_or("?".to_owned(), |n| n.to_string()),
        after_load.map_or("?".to_owned(), |n| n.to_string()),
        ready_of_that.map_or("?".to_owned(), |n| n.to_string()),
    );
    let drains: Vec<&str> = lives.iter().filter(|i| i.end.starts_with("SIGTERM")).map(|i| i.end.as_str()).collect();
    if !drains.is_empty() {
        let _ = writeln!(out, "SIGTERM drains: {}.\n", drains.join("; "));
    }
    if !outcome.logs.by_message.is_empty() {
        let _ = writeln!(out, "Server warnings and errors (by message):");
        for (message, count) in &outcome.logs.by_message {
            let _ = writeln!(out, "- {count} × {message}");
        }
        let _ = writeln!(out);
    }
    for note in &findings.notes {
        let _ = writeln!(out, "Note: {note}\n");
    }
    if findings.violations.is_empty() {
        let _ = writeln!(out, "**Every check passed.**");
    } else {
        let _ = writeln!(out, "**{} violations:**\n", findings.violations.len());
        for violation in findings.violations.iter().take(60) {
            let _ = writeln!(
                out,
                "- [{}] {} {}: {}",
                violation.check,
                violation.door.map_or("", Door::label),
                violation.service.label(),
                violation.detail
            );
        }
        if findings.violations.len() > 60 {
            let _ = writeln!(out, "- … and {} more", findings.violations.len() - 60);
        }
    }
    out
}

pub fn json(outcome: &Outcome, findings: &Findings) -> Value {
    let history = &outcome.history;
    json!({
        "backend": outcome.history.backend,
        "passed": findings.passed(),
        "phases_s": {
            "faults_from": secs(history.faults_from),
            "faults_until": secs(history.faults_until),
            "load_until": secs(history.load_until),
        },
        "tallies": findings.tallies.iter().map(|((door, service), tally)| json!({
            "door": door.label(), "service": service.label(), "tally": tally,
        })).collect::<Vec<_>>(),
        "violations": findings.violations,
        "notes": findings.notes,
        "faults": history.faults,
        "errors": errors(history).into_iter().map(|(status, (count, example))| json!({"status": status, "count": count, "example": example})).collect::<Vec<_>>(),
        "latency_ms": latency(history).into_iter().map(|((door, service), phases)| json!({
            "door": door.label(), "service": service.label(),
            "phases": phases.into_iter().map(|(phase, (p50, p99, n))| json!({
                "phase": match phase { Phase::Before => "before", Phase::During => "during", Phase::After => "after" },
                "p50": p50, "p99": p99, "samples": n,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "incarnations": history.incarnations,
        "server_log": outcome.logs.by_message,
        "proxies": outcome.proxies.iter().map(|(name, accepted, refused, cut, half)| json!({
            "name": name, "accepted": accepted, "refused": refused, "cut": cut, "half_closed": half,
        })).collect::<Vec<_>>(),
    })
}

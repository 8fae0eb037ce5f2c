//! Recovery and the process: after every fault is healed, every front door serves again
//! within [`RECOVERY`]; the server never ends unless told to, and a SIGTERM ends in exit 0
//! within the grace; echoes come back exactly as sent.

use std::collections::BTreeMap;

use super::{Findings, secs};
use crate::history::{Door, History, Micros, Service};

/// How long a front door may take to serve again after a fault is healed.
pub const RECOVERY: Micros = 30_000_000;

/// Open files a server may hold after the load beyond what it held when it started:
/// connection pools (PostgreSQL, SQLite readers) that fill as the load goes.
const FD_SLACK: u64 = 40;

pub fn check(history: &History, findings: &mut Findings) {
    for incarnation in history.incarnations.iter().filter(|i| i.unexpected_end) {
        findings.violation(
            "server: unexpected end",
            None,
            Service::Echo,
            format!("pid {} (started at {}): {}", incarnation.pid, secs(incarnation.started), incarnation.end),
        );
    }
    // Connections cut, half-closed or left behind by clients must not leave descriptors
    // behind: once the load has stopped, the server holds about what it held when it
    // started (plus the engine pools it fills as it goes).
    for incarnation in &history.incarnations {
        if let (Some(ready), Some(after)) = (incarnation.fds_at_ready, incarnation.fds_after_load)
            && after > (ready * 2).max(ready + FD_SLACK)
        {
            findings.violation(
                "server: open files left behind",
                None,
                Service::Echo,
                format!("pid {}: {ready} open files when ready, {after} once the load had stopped", incarnation.pid),
            );
        }
    }
    for op in &history.simple {
        let tally = findings.tally(op.door, op.service);
        tally.attempted += 1;
        if op.outcome.is_ok() {
            tally.acknowledged += 1;
        }
        if let Some(wrong) = &op.wrong {
            tally.order_violations += 1;
            findings.violation(
                "echo: wrong answer",
                Some(op.door),
                op.service,
                format!("at {}: {wrong}", secs(op.ret)),
            );
        }
    }

    // When each door succeeded, per service.
    let mut successes: BTreeMap<(Door, Service), Vec<Micros>> = BTreeMap::new();
    let mut add = |door, service, at| successes.entry((door, service)).or_default().push(at);
    for op in history.kv.iter().filter(|op| op.outcome.is_ok() && !op.final_read) {
        add(op.door, Service::Kv, op.ret);
    }
    for op in history.users.iter().filter(|op| op.outcome.is_ok() && !op.final_read) {
        add(op.door, Service::Users, op.ret);
    }
    for op in history.payments.iter().filter(|op| op.outcome.is_ok() && !op.recovery) {
        add(op.door, Service::Payments, op.ret);
    }
    for op in history.simple.iter().filter(|op| op.outcome.is_ok()) {
        add(op.door, op.service, op.ret);
    }
    // A stream serves by being opened, and by delivering while it stays open.
    for session in &history.chat_sessions {
        add(session.door, Service::Chat, session.joined);
        for (at, _) in &session.seen {
            add(session.door, Service::Chat, *at);
        }
    }
    for session in &history.watches {
        add(session.door, Service::Watch, session.established);
        for event in &session.events {
            add(session.door, Service::Watch, event.at);
        }
    }
    for times in successes.values_mut() {
        times.sort_unstable();
    }
    for fault in &history.faults {
        let until = (fault.end + RECOVERY).min(history.load_until);
        if until.saturating_sub(fault.end) < RECOVERY / 3 {
            continue; // the load stopped too soon after this fault to tell
        }
        for ((door, service), times) in &successes {
            let first = times.partition_point(|t| *t < fault.end);
            if times.get(first).is_none_or(|t| *t > until) {
                findings.violation(
                    "recovery: front door did not serve again",
                    Some(*door),
                    *service,
                    format!(
                        "after {} healed at {}, no {} {} operation succeeded until {}",
                        fault.kind.label(),
                        secs(fault.end),
                        door.label(),
                        service.label(),
                        secs(until)
                    ),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Fault, FaultKind, WatchSeen, WatchSession};

    fn run(watches: Vec<WatchSession>) -> Vec<&'static str> {
        let fault = Fault { kind: FaultKind::ProxyCut, start: 1_000_000, end: 2_000_000, detail: String::new() };
        let history = History { watches, faults: vec![fault], load_until: 60_000_000, ..History::default() };
        let mut findings = Findings::default();
        check(&history, &mut findings);
        findings.violations.iter().map(|v| v.check).collect()
    }

    fn session(established: u64, events: &[u64]) -> WatchSession {
        WatchSession {
            door: Door::Grpc,
            client: 1,
            established,
            ended: 60_000_000,
            events: events.iter().map(|at| WatchSeen { at: *at, key: "k".into(), value: None }).collect(),
            end: "stopped".into(),
        }
    }

    #[test]
    fn a_stream_that_keeps_delivering_has_recovered() {
        // Opened before the fault, still delivering after it.
        assert_eq!(run(vec![session(500_000, &[600_000, 5_000_000])]), Vec::<&str>::new());
        // Opened before, silent ever after: that door never served again.
        assert_eq!(run(vec![session(500_000, &[600_000])]), ["recovery: front door did not serve again"]);
    }
}

//! A full disk: a write sent while the data directory's filesystem was full either fails
//! with a clear status — `UNAVAILABLE` ("retry later"; HTTP 503; the legacy `ERROR: …` line
//! saying so), or `RESOURCE_EXHAUSTED` — or is acknowledged, and then it must survive like any
//! other acknowledged write (the KV, users and payments checkers hold it to that). Never
//! `INTERNAL`, `UNKNOWN` or `DATA_LOSS`: those tell the client a bug happened, not that the
//! disk is full and the write did not happen.

use std::collections::BTreeMap;

use super::{Findings, secs};
use crate::history::{Door, Failure, History, Micros, Service, UserAction};

/// Whether a failure status tells the client plainly what happened: the write did not happen
/// and may be retried, or the request itself was refused for a reason of its own (a refund
/// above what remains is FAILED_PRECONDITION, full disk or not).
pub fn is_clear(failure: &Failure) -> bool {
    if failure.definite {
        return true;
    }
    let status = failure.status.as_str();
    match status {
        "UNAVAILABLE" | "RESOURCE_EXHAUSTED" | "HTTP 503" | "HTTP 429" | "HTTP 507" => true,
        "ERROR" => !failure.message.to_lowercase().contains("internal"),
        _ => false,
    }
}

/// Failures that are not an answer about the write (the connection dropped, a deadline
/// passed).
fn is_transport(failure: &Failure) -> bool {
    matches!(failure.status.as_str(), "connection lost" | "client timeout" | "DEADLINE_EXCEEDED" | "CANCELLED")
}

pub fn check(history: &History, findings: &mut Findings) {
    let windows = history.disk_full_windows();
    if windows.is_empty() {
        return;
    }
    let inside = |t: Micros| windows.iter().any(|(start, end)| (*start..=*end).contains(&t));
    // (door, service, invoke, outcome)
    let mut writes: Vec<(Door, Service, Micros, Option<&Failure>)> = Vec::new();
    for op in history.kv.iter().filter(|op| op.is_write() && !op.final_read) {
        writes.push((op.door, Service::Kv, op.invoke, op.outcome.as_ref().err()));
    }
    for op in history.users.iter().filter(|op| !matches!(op.action, UserAction::Get) && !op.final_read) {
        writes.push((op.door, Service::Users, op.invoke, op.outcome.as_ref().err()));
    }
    for op in history.payments.iter().filter(|c| !c.recovery) {
        writes.push((op.door, Service::Payments, op.invoke, op.outcome.as_ref().err()));
    }
    for op in &history.refunds {
        writes.push((op.door, Service::Payments, op.invoke, op.outcome.as_ref().err()));
    }
    let mut acknowledged = 0u64;
    let mut refused: BTreeMap<String, u64> = BTreeMap::new();
    let mut transport = 0u64;
    for (door, service, invoke, failure) in writes.into_iter().filter(|w| inside(w.2)) {
        match failure {
            None => acknowledged += 1,
            Some(failure) if is_transport(failure) => transport += 1,
            Some(failure) if is_clear(failure) => {
                *refused.entry(format!("{} {:?}", failure.status, failure.message)).or_default() += 1;
            }
            Some(failure) => findings.violation(
                "disk full: unclear status",
                Some(door),
                service,
                format!(
                    "a {} write sent at {} failed with {} {:?}",
                    service.label(),
                    secs(invoke),
                    failure.status,
                    failure.message
                ),
            ),
        }
    }
    let refused_total: u64 = refused.values().sum();
    findings.notes.push(format!(
        "disk full ({} windows): {refused_total} writes refused with a clear status, {acknowledged} acknowledged \
         (held to durability like any other), {transport} lost to the connection; refusals: {refused:?}",
        windows.len()
    ));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Fault, FaultKind, KvAction, KvOp, KvReply};

    fn write(invoke: u64, outcome: Result<KvReply, Failure>) -> KvOp {
        KvOp {
            door: Door::Grpc,
            client: 1,
            key: "k".into(),
            action: KvAction::Set { value: format!("v{invoke}") },
            invoke,
            ret: invoke + 1,
            outcome,
            final_read: false,
        }
    }

    #[test]
    fn clear_refusals_pass_and_internal_errors_fail() {
        let fault = Fault { kind: FaultKind::DiskFull, start: 10, end: 20, detail: String::new() };
        let history = History {
            kv: vec![
                write(12, Err(Failure::unknown("UNAVAILABLE", "storage is unavailable, retry later"))),
                write(13, Ok(KvReply::Set { replaced: None })),
                write(14, Err(Failure::unknown("ERROR", "storage is unavailable, retry later"))),
                write(30, Err(Failure::unknown("INTERNAL", "after the window: not this check's business"))),
            ],
            faults: vec![fault.clone()],
            ..History::default()
        };
        let mut findings = Findings::default();
        check(&history, &mut findings);
        assert!(findings.passed(), "{:?}", findings.violations);

        // A refusal of the request itself is an answer too.
        let refused = Failure::refused("FAILED_PRECONDITION", "refund exceeds what remains refundable");
        assert!(is_clear(&refused));

        let history = History {
            kv: vec![write(15, Err(Failure::unknown("INTERNAL", "internal storage error")))],
            faults: vec![fault],
            ..History::default()
        };
        let mut findings = Findings::default();
        check(&history, &mut findings);
        assert_eq!(findings.violations[0].check, "disk full: unclear status");
    }
}

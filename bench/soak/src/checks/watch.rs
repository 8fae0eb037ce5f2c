//! KV watch: in every watch session, events come in commit order, without duplicates and
//! without gaps. Commit order is not observed directly, so each session is held to what the
//! rest of the history proves about it:
//!
//! - every value reported was written, and not before its write was sent;
//! - no value twice, and no deletion twice without a set in between;
//! - real time: an event never comes after the event of a write that was sent only after
//!   its own write was acknowledged;
//! - no gaps: an acknowledged write sent after the session began is reported before any
//!   event of a write sent after it was acknowledged;
//! - reads: a read sent after the session received event B for a key, answering value A,
//!   proves A was committed after B, so A's event must not come before B's.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::{Findings, secs};
use crate::history::{History, KvAction, KvOp, KvReply, Service, WatchSession};

pub fn check(history: &History, findings: &mut Findings) {
    let mut writer: HashMap<(&str, &str), &KvOp> = HashMap::new();
    for op in &history.kv {
        if let KvAction::Set { value } = &op.action {
            writer.insert((op.key.as_str(), value.as_str()), op);
        }
    }
    let acked_sets: Vec<&KvOp> =
        history.kv.iter().filter(|op| matches!(op.action, KvAction::Set { .. }) && op.outcome.is_ok()).collect();
    let mut reads: BTreeMap<&str, Vec<(u64, &str)>> = BTreeMap::new();
    for op in &history.kv {
        if let (KvAction::Get, Ok(KvReply::Value(Some(value)))) = (&op.action, &op.outcome) {
            reads.entry(op.key.as_str()).or_default().push((op.invoke, value.as_str()));
        }
    }
    for session in &history.watches {
        check_session(session, &writer, &acked_sets, &reads, findings);
    }
}

fn check_session(
    session: &WatchSession,
    writer: &HashMap<(&str, &str), &KvOp>,
    acked_sets: &[&KvOp],
    reads: &BTreeMap<&str, Vec<(u64, &str)>>,
    findings: &mut Findings,
) {
    let door = session.door;
    let who = format!("{} watch {} (from {})", door.label(), session.client, secs(session.established));
    let events = &session.events;
    {
        let tally = findings.tally(door, Service::Watch);
        tally.attempted += events.len() as u64;
        tally.acknowledged += events.len() as u64;
    }

    // Causality and duplicates.
    let mut position: HashMap<(&str, &str), usize> = HashMap::new();
    let mut deleted_since_set: HashSet<&str> = HashSet::new();
    for (pos, event) in events.iter().enumerate() {
        let key = event.key.as_str();
        match event.value.as_deref() {
            Some(value) => {
                deleted_since_set.remove(key);
                match writer.get(&(key, value)) {
                    None => findings.violation(
                        "watch: value never written",
                        Some(door),
                        Service::Watch,
                        format!("{who} reported {key} = {value:?} at {}", secs(event.at)),
                    ),
                    Some(write) if write.invoke > event.at => findings.violation(
                        "watch: event before its write",
                        Some(door),
                        Service::Watch,
                        format!(
                            "{who} reported {key} = {value:?} at {}, sent at {}",
                            secs(event.at),
                            secs(write.invoke)
                        ),
                    ),
                    Some(_) => {}
                }
                if position.insert((key, value), pos).is_some() {
                    findings.tally(door, Service::Watch).duplicated += 1;
                    findings.violation(
                        "watch: event twice",
                        Some(door),
                        Service::Watch,
                        format!("{who} reported {key} = {value:?} twice (again at {})", secs(event.at)),
                    );
                }
            }
            None => {
                if !deleted_since_set.insert(key) {
                    findings.tally(door, Service::Watch).duplicated += 1;
                    findings.violation(
                        "watch: event twice",
                        Some(door),
                        Service::Watch,
                        format!("{who} reported {key} deleted twice with no set between (at {})", secs(event.at)),
                    );
                }
            }
        }
    }

    // Real time, event by event: the latest invocation among earlier events' writes must
    // not be after this event's write was acknowledged.
    let write_of = |pos: usize| -> Option<&KvOp> {
        let event = &events[pos];
        event.value.as_deref().and_then(|value| writer.get(&(event.key.as_str(), value)).copied())
    };
    let mut latest: Option<(u64, usize)> = None;
    for pos in 0..events.len() {
        let Some(write) = write_of(pos) else { continue };
        if write.outcome.is_ok()
            && let Some((invoke, earlier)) = latest
            && invoke > write.ret
        {
            findings.tally(door, Service::Watch).order_violations += 1;
            let before = &events[earlier];
            findings.violation(
                "watch: out of commit order",
                Some(door),
                Service::Watch,
                format!(
                    "{who}: {} = {:?} (sent at {}) came before {} = {:?} (acknowledged at {})",
                    before.key,
                    before.value,
                    secs(invoke),
                    events[pos].key,
                    events[pos].value,
                    secs(write.ret)
                ),
            );
        }
        if latest.is_none_or(|(invoke, _)| write.invoke > invoke) {
            latest = Some((write.invoke, pos));
        }
    }

    // No gaps. `by_invoke` lists each event's write invocation with the smallest position
    // of any event whose write was invoked at that time or later.
    let mut by_invoke: Vec<(u64, usize)> =
        (0..events.len()).filter_map(|pos| write_of(pos).map(|w| (w.invoke, pos))).collect();
    by_invoke.sort_unstable();
    let mut suffix_min = vec![usize::MAX; by_invoke.len() + 1];
    for i in (0..by_invoke.len()).rev() {
        suffix_min[i] = suffix_min[i + 1].min(by_invoke[i].1);
    }
    for write in acked_sets.iter().filter(|w| w.invoke > session.established && w.ret < session.ended) {
        let first_later = by_invoke.partition_point(|(invoke, _)| *invoke <= write.ret);
        let bound = suffix_min[first_later];
        if bound == usize::MAX {
            continue; // nothing reported after it: it may still have been on its way
        }
        let KvAction::Set { value } = &write.action else { continue };
        if !position.contains_key(&(write.key.as_str(), value.as_str())) {
            findings.tally(door, Service::Watch).lost += 1;
            let later = &events[bound];
            findings.violation(
                "watch: acknowledged write not reported",
                Some(door),
                Service::Watch,
                format!(
                    "{who}: {} = {value:?} ({} client {}, acknowledged at {}) never came, though {} = {:?}, written after it, did",
                    write.key,
                    write.door.label(),
                    write.client,
                    secs(write.ret),
                    later.key,
                    later.value
                ),
            );
        }
    }

    // Reads against the session's order, key by key.
    let mut per_key: HashMap<&str, Vec<usize>> = HashMap::new();
    for (pos, event) in events.iter().enumerate() {
        per_key.entry(event.key.as_str()).or_default().push(pos);
    }
    let mut reported = 0;
    for (key, positions) in per_key {
        let Some(key_reads) = reads.get(key) else { continue };
        for &(invoke, value) in key_reads {
            let received_before = positions.partition_point(|&pos| events[pos].at < invoke);
            let Some(&last) = received_before.checked_sub(1).map(|i| &positions[i]) else { continue };
            if events[last].value.as_deref() == Some(value) {
                continue;
            }
            if let Some(&earlier) = position.get(&(key, value))
                && earlier < last
            {
                findings.tally(door, Service::Watch).order_violations += 1;
                reported += 1;
                if reported <= 20 {
                    findings.violation(
                        "watch: out of commit order",
                        Some(door),
                        Service::Watch,
                        format!(
                            "{who}: reported {key} = {value:?} before {key} = {:?} (received at {}), but a read sent at {} \
                             still answered {value:?}: that value was committed last",
                            events[last].value,
                            secs(events[last].at),
                            secs(invoke)
                        ),
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Door, WatchSeen};

    fn set(client: u32, key: &str, value: &str, invoke: u64, ret: u64) -> KvOp {
        KvOp {
            door: Door::Grpc,
            client,
            key: key.into(),
            action: KvAction::Set { value: value.into() },
            invoke,
            ret,
            outcome: Ok(KvReply::Set { replaced: None }),
            final_read: false,
        }
    }

    fn get(key: &str, value: &str, invoke: u64) -> KvOp {
        KvOp {
            door: Door::Grpc,
            client: 9,
            key: key.into(),
            action: KvAction::Get,
            invoke,
            ret: invoke + 1,
            outcome: Ok(KvReply::Value(Some(value.into()))),
            final_read: false,
        }
    }

    fn seen(at: u64, key: &str, value: Option<&str>) -> WatchSeen {
        WatchSeen { at, key: key.into(), value: value.map(Into::into) }
    }

    fn run(kv: Vec<KvOp>, events: Vec<WatchSeen>) -> Vec<&'static str> {
        let session =
            WatchSession { door: Door::Grpc, client: 1, established: 0, ended: 1_000, events, end: "stopped".into() };
        let history = History { kv, watches: vec![session], ..History::default() };
        let mut findings = Findings::default();
        check(&history, &mut findings);
        findings.violations.iter().map(|v| v.check).collect()
    }

    #[test]
    fn a_faithful_watch_passes() {
        let kv = vec![set(1, "a", "1", 10, 20), set(2, "b", "2", 15, 25), set(1, "a", "3", 30, 40), get("a", "3", 42)];
        let events =
            vec![seen(21, "b", Some("2")), seen(22, "a", Some("1")), seen(41, "a", Some("3")), seen(45, "a", None)];
        assert_eq!(run(kv, events), Vec::<&str>::new());
    }

    #[test]
    fn duplicates_are_caught() {
        let kv = vec![set(1, "a", "1", 10, 20)];
        let events = vec![seen(21, "a", Some("1")), seen(22, "a", Some("1"))];
        assert_eq!(run(kv.clone(), events), ["watch: event twice"]);
        let events = vec![seen(21, "a", Some("1")), seen(22, "a", None), seen(23, "a", None)];
        assert_eq!(run(kv, events), ["watch: event twice"]);
    }

    #[test]
    fn real_time_order_is_enforced() {
        // "2" was written after "1" was acknowledged, yet reported first.
        let kv = vec![set(1, "a", "1", 10, 20), set(2, "b", "2", 30, 40)];
        let events = vec![seen(41, "b", Some("2")), seen(42, "a", Some("1"))];
        assert_eq!(run(kv, events), ["watch: out of commit order"]);
    }

    #[test]
    fn a_gap_is_caught() {
        let kv = vec![set(1, "a", "1", 10, 20), set(2, "b", "2", 30, 40)];
        let events = vec![seen(41, "b", Some("2"))];
        assert_eq!(run(kv, events), ["watch: acknowledged write not reported"]);
    }

    #[test]
    fn an_order_contradicted_by_a_read_is_caught() {
        // Concurrent writes to one key, reported 1 then 2, but a read after both events
        // still answers 1: 1 was committed last.
        let kv = vec![set(1, "a", "1", 10, 30), set(2, "a", "2", 10, 30), get("a", "1", 60)];
        let events = vec![seen(31, "a", Some("1")), seen(32, "a", Some("2"))];
        assert_eq!(run(kv, events), ["watch: out of commit order"]);
        // A value never written is named.
        assert_eq!(run(vec![], vec![seen(5, "a", Some("x"))]), ["watch: value never written"]);
    }
}

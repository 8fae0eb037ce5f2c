//! Key-value: every key's history, over every front door at once, is linearizable; every
//! value read was written; every acknowledged write is there after the last recovery unless
//! a later acknowledged write replaced it; and no value comes back once replaced.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::{Findings, SEARCH_BUDGET, final_state_explained, pending_deadline, secs};
use crate::{
    history::{Door, History, KvAction, KvOp, KvReply, Service},
    linearizability::{Model, Operation, Verdict, check_pruned},
};

/// One key of the store, values interned to numbers; every value nobody read is [`UNREAD`]
/// (no step can tell such values apart, and one value means fewer states).
pub struct KvModel;

pub const UNREAD: u32 = u32::MAX;

#[derive(Debug, Clone)]
pub enum KvStep {
    Read(Option<u32>),
    /// `replaced` as answered (gRPC and REST say it; `None` if not said or not answered).
    Write {
        value: u32,
        replaced: Option<bool>,
    },
    /// `existed` as answered; `None` if the answer never came.
    Delete {
        existed: Option<bool>,
    },
}

impl Model for KvModel {
    type State = Option<u32>;
    type Op = KvStep;

    fn init(&self) -> Option<u32> {
        None
    }

    fn class(&self, op: &KvStep) -> Option<usize> {
        match op {
            KvStep::Write { value: UNREAD, replaced: None } => Some(0),
            KvStep::Delete { existed: None } => Some(1),
            _ => None,
        }
    }

    fn step(&self, state: &Option<u32>, op: &KvStep) -> Option<Option<u32>> {
        match op {
            KvStep::Read(seen) => (seen == state).then_some(*state),
            KvStep::Write { value, replaced } => match replaced {
                Some(replaced) if *replaced != state.is_some() => None,
                _ => Some(Some(*value)),
            },
            KvStep::Delete { existed } => match existed {
                Some(existed) if *existed != state.is_some() => None,
                _ => Some(None),
            },
        }
    }
}

pub fn check(history: &History, findings: &mut Findings) {
    let deadline = |op: &KvOp| pending_deadline(history, op.ret);
    for op in history.kv.iter().filter(|op| !op.final_read) {
        let tally = findings.tally(op.door, Service::Kv);
        tally.attempted += 1;
        if op.outcome.is_ok() {
            tally.acknowledged += 1;
        }
    }
    let mut by_key: BTreeMap<&str, Vec<&KvOp>> = BTreeMap::new();
    for op in &history.kv {
        by_key.entry(op.key.as_str()).or_default().push(op);
    }
    // Values the watchers saw count as observed: a pending write they reported must stay in.
    let watched: HashSet<(&str, &str)> = history
        .watches
        .iter()
        .flat_map(|session| session.events.iter())
        .filter_map(|event| event.value.as_deref().map(|value| (event.key.as_str(), value)))
        .collect();
    let keys = by_key.len();
    let pending =
        history.kv.iter().filter(|op| op.is_write() && op.outcome.as_ref().is_err_and(|f| !f.definite)).count();
    let violations_before = findings.violations.len();
    for (key, ops) in by_key {
        check_key(key, &ops, &watched, &deadline, findings);
    }
    findings.notes.push(format!(
        "KV: {} operations on {keys} keys checked for linearizability, {pending} of them writes whose answer never came; \
         {} violations",
        history.kv.len(),
        findings.violations.len() - violations_before
    ));
}

fn check_key(
    key: &str,
    ops: &[&KvOp],
    watched: &HashSet<(&str, &str)>,
    deadline: &dyn Fn(&KvOp) -> u64,
    findings: &mut Findings,
) {
    let mut ids: HashMap<&str, u32> = HashMap::new();
    let mut writer: HashMap<&str, &KvOp> = HashMap::new();
    for op in ops {
        if let KvAction::Set { value } = &op.action {
            let next = u32::try_from(ids.len()).unwrap_or(u32::MAX);
            ids.entry(value.as_str()).or_insert(next);
            writer.insert(value.as_str(), op);
        }
    }
    let mut observed: HashSet<u32> = HashSet::new();

    // Reads of values nobody wrote: named plainly (the search would only say "stuck").
    for op in ops {
        if let Ok(KvReply::Value(Some(value))) = &op.outcome {
            match ids.get(value.as_str()) {
                Some(id) => {
                    observed.insert(*id);
                }
                None => findings.violation(
                    "kv: value never written",
                    Some(op.door),
                    Service::Kv,
                    format!("{key}: client {} read {value:?} at {}, a value no client wrote", op.client, secs(op.ret)),
                ),
            }
        }
    }
    for (value, id) in &ids {
        if watched.contains(&(key, *value)) {
            observed.insert(*id);
        }
    }
    let model_value = |value: &str| {
        let id = ids[value];
        if observed.contains(&id) { id } else { UNREAD }
    };

    // Linearizability.
    let mut operations: Vec<Operation<KvStep>> = Vec::new();
    let mut origin: Vec<&KvOp> = Vec::new();
    for op in ops {
        let step = match (&op.action, &op.outcome) {
            (KvAction::Get, Ok(KvReply::Value(value))) => {
                let Some(id) = value.as_deref().map_or(Some(None), |v| ids.get(v).map(|id| Some(*id))) else {
                    continue; // reported above
                };
                Some((KvStep::Read(id), false))
            }
            (KvAction::Get, _) => None,
            (KvAction::Set { value }, Ok(reply)) => {
                let replaced = match reply {
                    KvReply::Set { replaced } => *replaced,
                    _ => None,
                };
                Some((KvStep::Write { value: model_value(value), replaced }, false))
            }
            (KvAction::Set { value }, Err(failure)) if !failure.definite => {
                Some((KvStep::Write { value: model_value(value), replaced: None }, true))
            }
            (KvAction::Delete, Ok(KvReply::Deleted { existed })) => {
                Some((KvStep::Delete { existed: Some(*existed) }, false))
            }
            (KvAction::Delete, Err(failure)) if !failure.definite => Some((KvStep::Delete { existed: None }, true)),
            _ => None,
        };
        if let Some((step, pending)) = step {
            let ret = if pending { deadline(op) } else { op.ret };
            operations.push(Operation { op: step, invoke: op.invoke, ret, pending });
            origin.push(op);
        }
    }
    let optional = |o: &Operation<KvStep>| KvModel.class(&o.op).is_some();
    match check_pruned(&KvModel, &operations, optional, SEARCH_BUDGET) {
        Verdict::Linearizable => {}
        Verdict::Violation { stuck, placed, state } => {
            let culprit = origin[stuck];
            findings.tally(culprit.door, Service::Kv).order_violations += 1;
            let state = decode_state(&state, &ids);
            findings.violation(
                "kv: not linearizable",
                Some(culprit.door),
                Service::Kv,
                format!(
                    "{key}: {} operations; after placing {placed} the value is {state} and this one fits nowhere: {}\n{}",
                    operations.len(),
                    describe(culprit),
                    window(&origin, culprit)
                ),
            );
        }
        Verdict::Undecided { steps } => findings.violation(
            "kv: linearizability undecided",
            None,
            Service::Kv,
            format!("{key}: {} operations, no answer within {steps} search steps", operations.len()),
        ),
    }

    check_final(key, ops, findings);
    check_resurrections(key, ops, &writer, findings);
}

/// The verifier's read after the last recovery against the acknowledged writes.
fn check_final(key: &str, ops: &[&KvOp], findings: &mut Findings) {
    let Some(final_read) = ops.iter().find(|op| op.final_read && op.outcome.is_ok()) else { return };
    let Ok(KvReply::Value(final_value)) = &final_read.outcome else { return };
    let writes: Vec<(u64, u64, bool, bool, &KvOp)> = ops
        .iter()
        .filter(|op| op.is_write() && !op.final_read)
        .filter(|op| op.outcome.as_ref().map_or_else(|failure| !failure.definite, |_| true))
        .map(|op| {
            let produces = match (&op.action, final_value) {
                (KvAction::Set { value }, Some(final_value)) => value == final_value,
                (KvAction::Delete, None) => true,
                _ => false,
            };
            (op.invoke, op.ret, op.outcome.is_ok(), produces, *op)
        })
        .collect();
    let shape: Vec<_> = writes.iter().map(|w| (w.0, w.1, w.2, w.3)).collect();
    if !final_state_explained(&shape, final_value.is_none()) {
        let latest = writes.iter().filter(|w| w.2).max_by_key(|w| w.0).map(|w| w.4);
        let door = latest.map_or(Door::Grpc, |op| op.door);
        findings.tally(door, Service::Kv).lost += 1;
        findings.violation(
            "kv: acknowledged write lost",
            Some(door),
            Service::Kv,
            format!(
                "{key}: after the last recovery the value is {final_value:?}; the latest acknowledged write was {}",
                latest.map_or_else(|| "none".to_owned(), describe)
            ),
        );
    }
}

/// A client that reads `v`, then something else, then `v` again saw one write take effect
/// twice (values are never written twice).
fn check_resurrections(key: &str, ops: &[&KvOp], writer: &HashMap<&str, &KvOp>, findings: &mut Findings) {
    let mut by_client: BTreeMap<u32, Vec<&KvOp>> = BTreeMap::new();
    for op in ops.iter().filter(|op| !op.final_read) {
        if let Ok(KvReply::Value(Some(_))) = op.outcome {
            by_client.entry(op.client).or_default().push(op);
        }
    }
    for (client, mut reads) in by_client {
        reads.sort_by_key(|op| op.invoke);
        let mut left_behind: HashSet<&str> = HashSet::new();
        let mut current: Option<&str> = None;
        for op in reads {
            let Ok(KvReply::Value(Some(value))) = &op.outcome else { continue };
            if current != Some(value.as_str()) {
                if left_behind.contains(value.as_str()) {
                    let door = writer.get(value.as_str()).map_or(op.door, |w| w.door);
                    findings.tally(door, Service::Kv).duplicated += 1;
                    findings.violation(
                        "kv: value came back",
                        Some(door),
                        Service::Kv,
                        format!(
                            "{key}: client {client} read {value:?} again at {} after reading another value",
                            secs(op.ret)
                        ),
                    );
                }
                if let Some(previous) = current {
                    left_behind.insert(previous);
                }
                current = Some(value.as_str());
            }
        }
    }
}

fn decode_state(state: &str, ids: &HashMap<&str, u32>) -> String {
    let number = state.trim_start_matches("Some(").trim_end_matches(')');
    match number.parse::<u32>() {
        Ok(UNREAD) => "a value nobody read".to_owned(),
        Ok(id) => ids.iter().find(|(_, v)| **v == id).map_or(state.to_owned(), |(value, _)| format!("{value:?}")),
        Err(_) => "absent".to_owned(),
    }
}

pub fn describe(op: &KvOp) -> String {
    let outcome = match &op.outcome {
        Ok(KvReply::Value(value)) => format!("{value:?}"),
        Ok(KvReply::Set { replaced }) => format!("ok (replaced {replaced:?})"),
        Ok(KvReply::Deleted { existed }) => if *existed { "deleted" } else { "not found" }.to_owned(),
        Err(failure) => {
            format!("{} {} {:?}", if failure.definite { "refused" } else { "unknown" }, failure.status, failure.message)
        }
    };
    format!(
        "[{}..{}] {} client {} {:?} → {outcome}",
        secs(op.invoke),
        secs(op.ret),
        op.door.label(),
        op.client,
        op.action
    )
}

/// The operations around `culprit`: those near it in time, the last writes acknowledged before
/// it began, and the write of the value it read — what a reader needs to see the violation.
fn window(ops: &[&KvOp], culprit: &KvOp) -> String {
    let (from, to) = (culprit.invoke.saturating_sub(20_000), culprit.ret.saturating_add(5_000));
    let mut near: Vec<&KvOp> = ops.iter().copied().filter(|op| op.ret >= from && op.invoke <= to).collect();
    let mut before: Vec<&KvOp> =
        ops.iter().copied().filter(|op| op.is_write() && op.outcome.is_ok() && op.ret < from).collect();
    before.sort_by_key(|op| op.ret);
    near.extend(before.iter().rev().take(5));
    if let Ok(KvReply::Value(Some(read))) = &culprit.outcome {
        near.extend(ops.iter().copied().filter(|op| matches!(&op.action, KvAction::Set { value } if value == read)));
    }
    near.sort_by_key(|op| (op.invoke, op.ret));
    near.dedup_by(|a, b| std::ptr::eq(*a, *b));
    let skipped = near.len().saturating_sub(40);
    let mut lines: Vec<String> = near.iter().skip(skipped).map(|op| format!("    {}", describe(op))).collect();
    if skipped > 0 {
        lines.insert(0, format!("    … {skipped} earlier operations"));
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Failure;

    fn op(client: u32, action: KvAction, invoke: u64, ret: u64, outcome: Result<KvReply, Failure>) -> KvOp {
        KvOp { door: Door::Grpc, client, key: "k".into(), action, invoke, ret, outcome, final_read: false }
    }

    fn set(client: u32, value: &str, invoke: u64, ret: u64) -> KvOp {
        op(client, KvAction::Set { value: value.into() }, invoke, ret, Ok(KvReply::Set { replaced: None }))
    }

    fn get(client: u32, value: Option<&str>, invoke: u64, ret: u64) -> KvOp {
        op(client, KvAction::Get, invoke, ret, Ok(KvReply::Value(value.map(Into::into))))
    }

    fn run(ops: Vec<KvOp>) -> Findings {
        let history = History { kv: ops, ..History::default() };
        let mut findings = Findings::default();
        check(&history, &mut findings);
        findings
    }

    #[test]
    fn a_good_history_passes() {
        let mut final_read = get(9, Some("b"), 100, 101);
        final_read.final_read = true;
        let lost = op(2, KvAction::Set { value: "c".into() }, 7, 8, Err(Failure::unknown("UNAVAILABLE", "")));
        let findings = run(vec![set(1, "a", 0, 2), get(2, Some("a"), 3, 4), set(1, "b", 5, 6), lost, final_read]);
        assert!(findings.passed(), "{:#?}", findings.violations);
        assert_eq!(findings.tallies[&(Door::Grpc, Service::Kv)].acknowledged, 3);
    }

    #[test]
    fn a_lost_acknowledged_write_is_found_twice_over() {
        let mut final_read = get(9, Some("a"), 100, 101);
        final_read.final_read = true;
        let findings = run(vec![set(1, "a", 0, 2), set(1, "b", 5, 6), final_read]);
        let checks: Vec<_> = findings.violations.iter().map(|v| v.check).collect();
        assert!(checks.contains(&"kv: not linearizable"), "{checks:?}");
        assert!(checks.contains(&"kv: acknowledged write lost"), "{checks:?}");
        assert_eq!(findings.tallies[&(Door::Grpc, Service::Kv)].lost, 1);
    }

    #[test]
    fn a_value_nobody_wrote_is_named() {
        let findings = run(vec![set(1, "a", 0, 2), get(2, Some("zzz"), 3, 4)]);
        assert_eq!(findings.violations[0].check, "kv: value never written");
    }

    #[test]
    fn a_value_that_comes_back_is_a_duplicate() {
        // Both writes overlap the reads (so linearizability alone is satisfied by no order
        // only because of the third read); the resurrection check names it.
        let findings = run(vec![
            set(1, "a", 0, 100),
            set(2, "b", 0, 100),
            get(3, Some("a"), 10, 11),
            get(3, Some("b"), 20, 21),
            get(3, Some("a"), 30, 31),
        ]);
        let checks: Vec<_> = findings.violations.iter().map(|v| v.check).collect();
        assert!(checks.contains(&"kv: value came back"), "{checks:?}");
        assert!(checks.contains(&"kv: not linearizable"), "{checks:?}");
    }

    #[test]
    fn wrong_replaced_flags_are_caught() {
        let findings = run(vec![
            set(1, "a", 0, 2),
            op(2, KvAction::Set { value: "b".into() }, 3, 4, Ok(KvReply::Set { replaced: Some(false) })),
        ]);
        assert_eq!(findings.violations[0].check, "kv: not linearizable");
    }
}

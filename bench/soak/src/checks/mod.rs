//! The checkers: each reads the [`History`] of a run and adds what it found to [`Findings`]
//! — counts per front door, and every violation with enough detail to find it again.

pub mod chat;
pub mod disk;
pub mod kv;
pub mod liveness;
pub mod payments;
pub mod users;
pub mod watch;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::history::{Door, History, Micros, Service};

/// Steps the linearizability search may take per key before it says "undecided" (which
/// fails the run: an undecided history is not a passed one).
pub const SEARCH_BUDGET: u64 = 50_000_000;

/// What one front door did for one service.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Tally {
    /// Operations sent (for chat: messages said; for watches: events received).
    pub attempted: u64,
    /// Answered (any definite answer, NOT_FOUND included; chat: said and heard back by the
    /// sender).
    pub acknowledged: u64,
    /// Acknowledged effects that later went missing (writes not there after recovery,
    /// payments gone, chat messages skipped without notice, watch events left out).
    pub lost: u64,
    /// Effects seen twice (a payment charged twice, a message or watch event delivered
    /// twice, a value that comes back after being replaced).
    pub duplicated: u64,
    /// Orders no correct server could produce: non-linearizable keys and users, watch
    /// events out of commit order, chat messages out of sender order or wrong missed counts.
    pub order_violations: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Violation {
    pub check: &'static str,
    pub door: Option<Door>,
    pub service: Service,
    pub detail: String,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct Findings {
    pub tallies: BTreeMap<(Door, Service), Tally>,
    pub violations: Vec<Violation>,
    /// Facts worth printing that are not violations (e.g. how many writes the full disk
    /// refused).
    pub notes: Vec<String>,
}

impl Findings {
    pub fn tally(&mut self, door: Door, service: Service) -> &mut Tally {
        self.tallies.entry((door, service)).or_default()
    }

    pub fn violation(&mut self, check: &'static str, door: Option<Door>, service: Service, detail: impl Into<String>) {
        self.violations.push(Violation { check, door, service, detail: detail.into() });
    }

    pub fn passed(&self) -> bool {
        self.violations.is_empty()
    }
}

/// Runs every checker.
pub fn check_all(history: &History) -> Findings {
    let mut findings = Findings::default();
    kv::check(history, &mut findings);
    users::check(history, &mut findings);
    payments::check(history, &mut findings);
    chat::check(history, &mut findings);
    watch::check(history, &mut findings);
    disk::check(history, &mut findings);
    liveness::check(history, &mut findings);
    findings
}

/// The latest time an operation whose answer never came (the client gave up at `gave_up`)
/// can have taken effect: when the last server process that could have received it died,
/// plus the history's slack (PostgreSQL may still commit what a dying server sent it). A
/// request cannot outlive the process that holds it: the fault proxy only ever connects a
/// client to the server of the moment, and that connection dies with it.
pub fn pending_deadline(history: &History, gave_up: Micros) -> Micros {
    history
        .incarnations
        .iter()
        .rfind(|incarnation| incarnation.started <= gave_up)
        .and_then(|incarnation| incarnation.ended)
        .map_or(u64::MAX, |ended| ended.saturating_add(history.pending_slack))
}

/// `t` as seconds into the run, for messages.
pub fn secs(t: Micros) -> String {
    if t == u64::MAX { "∞".to_owned() } else { format!("{:.3}s", t as f64 / 1e6) }
}

/// Which of the values a write of this history could have left behind is the final one,
/// given the writes' intervals: the common core of the durability checks ("every
/// acknowledged write is present after recovery unless a later acknowledged write replaced
/// it").
///
/// `writes` are `(invoke, ret, acknowledged, produces_final)`. The final state is
/// explained when some write that produces it was not certainly replaced — that is, no
/// acknowledged write was invoked after it returned (a write whose answer never came may
/// have landed at any time) — or, for the initial state, when no write was acknowledged.
pub fn final_state_explained(writes: &[(Micros, Micros, bool, bool)], final_is_initial: bool) -> bool {
    let latest_acked_invoke = writes.iter().filter(|w| w.2).map(|w| w.0).max();
    let replaced = |ret: Micros| latest_acked_invoke.is_some_and(|invoke| invoke > ret);
    if final_is_initial && latest_acked_invoke.is_none() {
        return true;
    }
    writes.iter().filter(|w| w.3).any(|&(_, ret, acked, _)| if acked { !replaced(ret) } else { true })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_state_rules() {
        // (invoke, ret, acked, produces final)
        // The last acknowledged write is there.
        assert!(final_state_explained(&[(0, 1, true, false), (2, 3, true, true)], false));
        // An older acknowledged value came back: the newer write was lost.
        assert!(!final_state_explained(&[(0, 1, true, true), (2, 3, true, false)], false));
        // Concurrent acknowledged writes: either may win.
        assert!(final_state_explained(&[(0, 10, true, true), (1, 9, true, false)], false));
        // A write whose answer was lost may land late, over an acknowledged one.
        assert!(final_state_explained(&[(0, 1, false, true), (2, 3, true, false)], false));
        // Empty at the end with an acknowledged write and no delete: lost.
        assert!(!final_state_explained(&[(0, 1, true, false)], true));
        // Empty at the end and nothing acknowledged: fine.
        assert!(final_state_explained(&[(0, 1, false, false)], true));
    }
}

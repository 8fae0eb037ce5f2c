//! A linearizability checker for one object's history: Wing and Gong's search with Lowe's
//! memoisation (the algorithm of Knossos's `linear` checker and of Porcupine).
//!
//! A history is a set of operations, each with the interval in which it ran and what it
//! observed. It is linearizable when the operations can be put in one order that respects
//! real time (an operation that returned before another was invoked comes first) and in which
//! every observation is what a sequential [`Model`] would have answered. The search keeps the
//! calls and returns in a doubly linked list ordered by time, tries to linearize the earliest
//! calls first, and backtracks when it reaches the return of an operation it has not managed
//! to place. A configuration already explored — the same set of placed operations and the
//! same model state — is never explored again; the set is hashed incrementally (Zobrist), so
//! each step costs O(1) however long the history.
//!
//! An operation whose answer never came (a timeout, a lost connection, a server killed under
//! it) may have taken effect at any time after its invocation, or never: its observation is
//! unconstrained and its return is the latest time it could have taken effect — infinity, as
//! Knossos treats `:info` operations, unless the caller knows better (an operation cannot
//! take effect after the process that received it is dead).
//! Linearizability is compositional (Herlihy and Wing), so callers split histories by key.

use std::{
    collections::{BTreeMap, HashSet},
    fmt::Debug,
    hash::Hash,
};

/// A sequential specification.
pub trait Model {
    type State: Clone + Eq + Hash + Debug;
    type Op: Debug;

    fn init(&self) -> Self::State;

    /// The state after `op` runs in `state`, or `None` if what `op` observed is impossible
    /// there. An operation whose answer is unknown observed nothing.
    fn step(&self, state: &Self::State, op: &Self::Op) -> Option<Self::State>;

    /// Operations whose answer is unknown and that have the same effect from every state
    /// (say, writes of values nobody read) are interchangeable: this names their class.
    /// The search then places the members of a class in the order they were invoked, which
    /// loses no linearization (any one that uses a later member where an earlier one was
    /// still free works as well with the two swapped) and turns the 2^k ways to choose
    /// among k of them into k + 1.
    fn class(&self, _op: &Self::Op) -> Option<usize> {
        None
    }
}

/// One operation of a history.
#[derive(Debug, Clone)]
pub struct Operation<O> {
    pub op: O,
    pub invoke: u64,
    /// When the answer came; for a pending operation, the latest time it can have taken
    /// effect (`u64::MAX`: any time).
    pub ret: u64,
    /// The answer never came: the operation took effect once in `[invoke, ret]`, or never.
    pub pending: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Linearizable,
    /// No order works. The search got furthest with `placed` operations linearized, in
    /// model state `state`, and then could not place operation `stuck` (an index into the
    /// history) before its return.
    Violation {
        stuck: usize,
        placed: usize,
        state: String,
    },
    /// The search gave up after `steps` steps without an answer.
    Undecided {
        steps: u64,
    },
}

impl Verdict {
    pub fn is_linearizable(&self) -> bool {
        matches!(self, Verdict::Linearizable)
    }
}

const NIL: usize = usize::MAX;

/// A decision the search took, undone when it backtracks.
struct Frame<S> {
    /// The call node of the operation placed or dropped.
    call: usize,
    before: S,
    /// A pending operation that never took effect (rather than placed).
    dropped: bool,
}

/// Decides whether `ops` is linearizable with respect to `model`, in at most `budget` steps.
pub fn check<M: Model>(model: &M, ops: &[&Operation<M::Op>], budget: u64) -> Verdict {
    let n = ops.len();
    // Node 0 is the list head; node k + 1 is event k. A call sorts before a return at the
    // same instant: the two operations are then treated as concurrent (the lenient reading).
    let mut events: Vec<(u64, u8, usize)> = Vec::with_capacity(2 * n);
    for (index, op) in ops.iter().enumerate() {
        events.push((op.invoke, 0, index));
        events.push((op.ret.max(op.invoke), 1, index));
    }
    events.sort_unstable();
    let nodes = events.len() + 1;
    let mut is_call = vec![false; nodes];
    let mut op_of = vec![0usize; nodes];
    let mut call_node = vec![0usize; n];
    let mut return_node = vec![0usize; n];
    for (k, &(_, kind, index)) in events.iter().enumerate() {
        is_call[k + 1] = kind == 0;
        op_of[k + 1] = index;
        if kind == 0 {
            call_node[index] = k + 1;
        } else {
            return_node[index] = k + 1;
        }
    }
    let mut list = Links {
        prev: (0..nodes).map(|k| k.wrapping_sub(1)).collect(),
        next: (0..nodes).map(|k| if k + 1 < nodes { k + 1 } else { NIL }).collect(),
    };

    // Each pending operation's group (its class and its deadline: only operations that may
    // take effect over the same span are interchangeable) and rank in it by invocation; how
    // many of each group are placed. A group's members that take effect are then always its
    // first ones: one that is dropped lets no later one take effect.
    let mut rank: Vec<Option<(usize, usize)>> = vec![None; n];
    let mut groups: BTreeMap<(usize, u64), Vec<(u64, usize)>> = BTreeMap::new();
    for (index, op) in ops.iter().enumerate() {
        if op.pending
            && let Some(class) = model.class(&op.op)
        {
            groups.entry((class, op.ret)).or_default().push((op.invoke, index));
        }
    }
    for (group, members) in groups.values_mut().enumerate() {
        members.sort_unstable();
        for (position, &(_, index)) in members.iter().enumerate() {
            rank[index] = Some((group, position));
        }
    }
    let mut placed_in_group = vec![0usize; groups.len()];

    let zobrist = zobrist_keys(n);
    // The operations decided so far (placed or dropped), hashed.
    let mut decided: u128 = 0;
    let mut seen: HashSet<(u128, M::State)> = HashSet::new();
    let mut stack: Vec<Frame<M::State>> = Vec::new();
    let mut state = model.init();
    let mut entry = list.next[0];
    let mut steps = 0u64;
    let mut furthest: Option<(usize, usize, String)> = None;

    loop {
        if list.next[0] == NIL {
            return Verdict::Linearizable;
        }
        steps += 1;
        if steps > budget {
            return Verdict::Undecided { steps };
        }
        let index = op_of[entry];
        if is_call[entry] {
            let in_turn = rank[index].is_none_or(|(group, position)| placed_in_group[group] == position);
            if in_turn && let Some(after) = model.step(&state, &ops[index].op) {
                let hash = decided ^ zobrist[index];
                if seen.insert((hash, after.clone())) {
                    stack.push(Frame { call: entry, before: std::mem::replace(&mut state, after), dropped: false });
                    decided = hash;
                    if let Some((group, _)) = rank[index] {
                        placed_in_group[group] += 1;
                    }
                    list.lift(entry, return_node[index]);
                    entry = list.next[0];
                    continue;
                }
            }
            entry = list.next[entry];
            continue;
        }
        // The return of an operation not yet placed: every candidate before it has been
        // tried. A pending one may simply never have taken effect; otherwise backtrack.
        if ops[index].pending {
            let hash = decided ^ zobrist[index];
            if seen.insert((hash, state.clone())) {
                stack.push(Frame { call: call_node[index], before: state.clone(), dropped: true });
                decided = hash;
                list.lift(call_node[index], entry);
                entry = list.next[0];
                continue;
            }
        } else if furthest.as_ref().is_none_or(|(placed, _, _)| stack.len() > *placed) {
            furthest = Some((stack.len(), index, format!("{state:?}")));
        }
        loop {
            let Some(frame) = stack.pop() else {
                let (placed, stuck, state) = furthest.unwrap_or((0, index, String::new()));
                return Verdict::Violation { stuck, placed, state };
            };
            let undone = op_of[frame.call];
            decided ^= zobrist[undone];
            state = frame.before;
            list.unlift(frame.call, return_node[undone]);
            if frame.dropped {
                // Dropping was the last thing to try for it: keep backtracking.
                continue;
            }
            if let Some((group, _)) = rank[undone] {
                placed_in_group[group] -= 1;
            }
            entry = list.next[frame.call];
            break;
        }
    }
}

/// The calls and returns not yet decided, in time order (dancing links: a node taken out
/// keeps its own links, so putting it back in reverse order restores the list).
struct Links {
    prev: Vec<usize>,
    next: Vec<usize>,
}

impl Links {
    fn unlink(&mut self, node: usize) {
        let (p, q) = (self.prev[node], self.next[node]);
        self.next[p] = q;
        if q != NIL {
            self.prev[q] = p;
        }
    }

    fn relink(&mut self, node: usize) {
        let (p, q) = (self.prev[node], self.next[node]);
        self.next[p] = node;
        if q != NIL {
            self.prev[q] = node;
        }
    }

    fn lift(&mut self, call: usize, ret: usize) {
        self.unlink(call);
        self.unlink(ret);
    }

    fn unlift(&mut self, call: usize, ret: usize) {
        self.relink(ret);
        self.relink(call);
    }
}

/// [`check`], first without the operations `optional` picks — pending operations that no
/// observation depends on — and only if that fails with all of them.
///
/// Sound: a pending operation may never have taken effect, so if the history without it is
/// linearizable the history with it is too. Pending writes whose value nobody read are the
/// usual optional ones; leaving them out keeps the search from trying each of them at every
/// step.
pub fn check_pruned<M: Model>(
    model: &M,
    ops: &[Operation<M::Op>],
    optional: impl Fn(&Operation<M::Op>) -> bool,
    budget: u64,
) -> Verdict {
    let all: Vec<&Operation<M::Op>> = ops.iter().collect();
    let kept: Vec<usize> = (0..ops.len()).filter(|&i| !(ops[i].pending && optional(&ops[i]))).collect();
    if kept.len() < ops.len() {
        let pruned: Vec<&Operation<M::Op>> = kept.iter().map(|&i| &ops[i]).collect();
        match check(model, &pruned, budget) {
            Verdict::Linearizable => return Verdict::Linearizable,
            Verdict::Violation { .. } | Verdict::Undecided { .. } => {}
        }
    }
    check(model, &all, budget)
}

/// Random 128-bit keys, one per operation, from a fixed seed (a run is reproducible).
fn zobrist_keys(n: usize) -> Vec<u128> {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        // splitmix64
        seed = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    (0..n).map(|_| (u128::from(next()) << 64) | u128::from(next())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A register that may be empty: the shape of one KV key.
    struct Register;

    /// The value every write nobody read is given (as the KV checker does): "some value".
    const UNREAD: u32 = 1000;

    #[derive(Debug, Clone)]
    enum RegOp {
        Write(u32),
        Read(Option<u32>),
        /// A delete; `existed` as answered, `None` if the answer is unknown.
        Delete(Option<bool>),
    }

    impl Model for Register {
        type State = Option<u32>;
        type Op = RegOp;

        fn init(&self) -> Option<u32> {
            None
        }

        /// Writes of [`UNREAD`] all have one effect; so do deletes whose answer is unknown.
        fn class(&self, op: &RegOp) -> Option<usize> {
            match op {
                RegOp::Write(UNREAD) => Some(0),
                RegOp::Delete(None) => Some(1),
                _ => None,
            }
        }

        fn step(&self, state: &Option<u32>, op: &RegOp) -> Option<Option<u32>> {
            match op {
                RegOp::Write(v) => Some(Some(*v)),
                RegOp::Read(seen) => (seen == state).then_some(*state),
                RegOp::Delete(existed) => match existed {
                    Some(existed) if *existed != state.is_some() => None,
                    _ => Some(None),
                },
            }
        }
    }

    fn op(op: RegOp, invoke: u64, ret: u64) -> Operation<RegOp> {
        Operation { op, invoke, ret, pending: false }
    }

    fn pending(op: RegOp, invoke: u64) -> Operation<RegOp> {
        Operation { op, invoke, ret: u64::MAX, pending: true }
    }

    fn verdict(history: &[Operation<RegOp>]) -> Verdict {
        check(&Register, &history.iter().collect::<Vec<_>>(), 10_000_000)
    }

    #[test]
    fn sequential_history_is_linearizable() {
        use RegOp::*;
        let history = [
            op(Read(None), 0, 1),
            op(Write(1), 2, 3),
            op(Read(Some(1)), 4, 5),
            op(Write(2), 6, 7),
            op(Read(Some(2)), 8, 9),
            op(Delete(Some(true)), 10, 11),
            op(Read(None), 12, 13),
            op(Delete(Some(false)), 14, 15),
        ];
        assert_eq!(verdict(&history), Verdict::Linearizable);
    }

    #[test]
    fn concurrent_operations_may_take_effect_in_either_order() {
        use RegOp::*;
        // Write(1) and Write(2) overlap; readers after both agree on 1, so 2 went first.
        let history = [op(Write(1), 0, 10), op(Write(2), 1, 9), op(Read(Some(1)), 11, 12), op(Read(Some(1)), 13, 14)];
        assert_eq!(verdict(&history), Verdict::Linearizable);
        // A read overlapping a write may see the old or the new value.
        let history = [op(Write(1), 0, 1), op(Write(2), 2, 10), op(Read(Some(1)), 3, 4), op(Read(Some(2)), 5, 6)];
        assert_eq!(verdict(&history), Verdict::Linearizable);
    }

    #[test]
    fn a_stale_read_after_a_completed_write_is_a_violation() {
        use RegOp::*;
        let history = [op(Write(1), 0, 1), op(Write(2), 2, 3), op(Read(Some(1)), 4, 5)];
        let Verdict::Violation { stuck, .. } = verdict(&history) else { panic!("{:?}", verdict(&history)) };
        assert_eq!(stuck, 2, "the stale read is the operation that cannot be placed");
    }

    #[test]
    fn a_value_nobody_wrote_is_a_violation() {
        use RegOp::*;
        let history = [op(Write(1), 0, 1), op(Read(Some(7)), 2, 3)];
        assert!(matches!(verdict(&history), Verdict::Violation { .. }));
    }

    #[test]
    fn reads_that_go_back_in_time_are_a_violation() {
        use RegOp::*;
        // Both writes overlap every read, but two sequential reads see 2 and then 1: once 2
        // is visible, 1 can come back only if it were written twice.
        let history = [
            op(Write(1), 0, 100),
            op(Write(2), 0, 100),
            op(Read(Some(2)), 10, 20),
            op(Read(Some(1)), 30, 40),
            op(Read(Some(2)), 50, 60),
        ];
        assert!(matches!(verdict(&history), Verdict::Violation { .. }));
    }

    #[test]
    fn an_acknowledged_write_lost_after_recovery_is_a_violation() {
        use RegOp::*;
        // Write(2) was acknowledged; a read long after (after a crash and restart) sees 1.
        let history = [op(Write(1), 0, 1), op(Write(2), 2, 3), op(Read(Some(1)), 1_000, 1_001)];
        assert!(matches!(verdict(&history), Verdict::Violation { .. }));
        // Deleted and acknowledged, then back after a restart.
        let history = [op(Write(1), 0, 1), op(Delete(Some(true)), 2, 3), op(Read(Some(1)), 1_000, 1_001)];
        assert!(matches!(verdict(&history), Verdict::Violation { .. }));
    }

    #[test]
    fn delete_answers_are_checked() {
        use RegOp::*;
        // "Not found" while a value is certainly there.
        let history = [op(Write(1), 0, 1), op(Delete(Some(false)), 2, 3)];
        assert!(matches!(verdict(&history), Verdict::Violation { .. }));
        // Two deletes of one value cannot both have found it.
        let history = [op(Write(1), 0, 1), op(Delete(Some(true)), 2, 5), op(Delete(Some(true)), 3, 6)];
        assert!(matches!(verdict(&history), Verdict::Violation { .. }));
    }

    #[test]
    fn a_pending_write_may_take_effect_late_or_never() {
        use RegOp::*;
        // The write's answer was lost; its value shows up long after it was sent.
        let history = [pending(Write(1), 0), op(Read(None), 5, 6), op(Read(Some(1)), 100, 101)];
        assert_eq!(verdict(&history), Verdict::Linearizable);
        // …or never.
        let history = [pending(Write(1), 0), op(Read(None), 5, 6), op(Read(None), 100, 101)];
        assert_eq!(verdict(&history), Verdict::Linearizable);
        // But it takes effect once: seen, replaced by an acknowledged write, then seen again.
        let history = [
            pending(Write(1), 0),
            op(Read(Some(1)), 5, 6),
            op(Write(2), 7, 8),
            op(Read(Some(2)), 9, 10),
            op(Read(Some(1)), 11, 12),
        ];
        assert!(matches!(verdict(&history), Verdict::Violation { .. }));
        // And not before it was sent.
        let history = [op(Read(Some(1)), 0, 1), pending(Write(1), 2)];
        assert!(matches!(verdict(&history), Verdict::Violation { .. }));
    }

    #[test]
    fn a_pending_delete_may_explain_a_missing_value() {
        use RegOp::*;
        let history = [op(Write(1), 0, 1), pending(Delete(None), 2), op(Read(None), 10, 11)];
        assert_eq!(verdict(&history), Verdict::Linearizable);
    }

    #[test]
    fn pruning_keeps_the_verdict() {
        use RegOp::*;
        let unobserved_pending_write = |o: &Operation<RegOp>| matches!(o.op, RegOp::Write(UNREAD));
        // Pruned away: fine without the pending writes.
        let mut history = vec![op(Write(1), 0, 1), op(Read(Some(1)), 2, 3)];
        history.extend((0..40).map(|_| pending(Write(UNREAD), 1)));
        history.push(op(Read(Some(1)), 50, 51));
        assert_eq!(check_pruned(&Register, &history, unobserved_pending_write, 1_000_000), Verdict::Linearizable);
        // A violation stays a violation.
        let history = vec![op(Write(1), 0, 1), pending(Write(UNREAD), 1), op(Write(2), 2, 3), op(Read(Some(1)), 4, 5)];
        assert!(matches!(
            check_pruned(&Register, &history, unobserved_pending_write, 1_000_000),
            Verdict::Violation { .. }
        ));
    }

    #[test]
    fn interchangeable_pending_operations_are_placed_in_invocation_order_without_losing_any_order() {
        use RegOp::*;
        // Two deletes that found a value need two of the pending writes, the first one sent
        // before the first delete returned.
        let history = [
            pending(Write(UNREAD), 0),
            op(Delete(Some(true)), 5, 6),
            pending(Write(UNREAD), 10),
            op(Delete(Some(true)), 20, 21),
        ];
        assert_eq!(verdict(&history), Verdict::Linearizable);
        // No pending write was sent before the first delete returned.
        let history = [op(Delete(Some(true)), 1, 2), pending(Write(UNREAD), 5), pending(Write(UNREAD), 10)];
        assert!(matches!(verdict(&history), Verdict::Violation { .. }));
        // 60 interchangeable pending writes and deletes, and a violation at the end: proved,
        // not given up on.
        let mut history = vec![op(Write(1), 0, 1)];
        for i in 0..30 {
            history.push(pending(Write(UNREAD), 2 + i));
            history.push(pending(Delete(None), 2 + i));
            history.push(op(Read(Some(1)), 100 + 10 * i, 105 + 10 * i));
        }
        history.push(op(Write(2), 500, 501));
        history.push(op(Read(Some(1)), 600, 601));
        let found = verdict(&history);
        assert!(matches!(found, Verdict::Violation { .. }), "{found:?}");
    }

    #[test]
    fn long_concurrent_histories_are_checked_quickly() {
        use RegOp::*;
        // 8 clients, 20,000 operations on one register, each overlapping its neighbours,
        // some answers lost: linearizable by construction (every op takes effect at its
        // midpoint in a real register simulated here).
        let mut history = Vec::new();
        let mut value = None;
        let mut effects: Vec<(u64, usize)> = Vec::new();
        let mut rng: u64 = 7;
        let mut rand = move |m: u64| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng % m
        };
        for i in 0..20_000u64 {
            let invoke = i * 10 + rand(10);
            let ret = invoke + 5 + rand(60);
            let at = invoke + (ret - invoke) / 2;
            let kind = rand(10);
            let o = if kind < 4 {
                Write(u32::try_from(i).unwrap())
            } else if kind < 5 {
                Delete(None)
            } else {
                Read(None)
            };
            effects.push((at, history.len()));
            history.push(Operation { op: o, invoke, ret, pending: false });
        }
        effects.sort_unstable();
        for (_, index) in effects {
            match &mut history[index].op {
                Write(v) => value = Some(*v),
                Read(seen) => *seen = value,
                Delete(existed) => {
                    *existed = Some(value.is_some());
                    value = None;
                }
            }
        }
        for (i, o) in history.iter_mut().enumerate() {
            if i % 97 == 0 && matches!(o.op, Write(_)) {
                o.pending = true;
                // Bounded, as the soak bounds it by the death of the server that had it.
                o.ret += 1_000;
            }
        }
        // As the KV checker does: every value nobody read becomes the one "unread" value.
        let read: std::collections::HashSet<u32> =
            history.iter().filter_map(|o| if let Read(Some(v)) = o.op { Some(v) } else { None }).collect();
        for o in &mut history {
            if let Write(v) = &mut o.op
                && !read.contains(v)
            {
                *v = UNREAD;
            }
        }
        assert_eq!(verdict(&history), Verdict::Linearizable);
        // One read changed to an impossible value is found.
        let i = history.iter().rposition(|o| matches!(o.op, Read(Some(_)))).unwrap();
        history[i].op = Read(Some(u32::MAX));
        let found = verdict(&history);
        assert!(matches!(found, Verdict::Violation { .. }), "{found:?}");
    }
}

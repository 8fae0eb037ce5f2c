//! Users: every user's history (create, reads, renames, delete, over every front door) is
//! linearizable; a user whose create's answer was lost is found by its unique e-mail; every
//! acknowledged create, rename and delete holds after the last recovery; ids are never
//! handed out twice; one user per e-mail.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::{Findings, SEARCH_BUDGET, final_state_explained, pending_deadline, secs};
use crate::{
    history::{Door, History, Service, UserAction, UserOp, UserReply},
    linearizability::{Model, Operation, Verdict, check_pruned},
};

/// One user id: not yet created, alive under a name (interned; every name nobody read is
/// [`UNREAD`]), or deleted.
pub struct UserModel;

pub const UNREAD: u32 = u32::MAX;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UserState {
    Unborn,
    Alive(u32),
    Gone,
}

#[derive(Debug, Clone)]
pub enum UserStep {
    Create(u32),
    Read(Option<u32>),
    /// `found` as answered; `None` if the answer never came.
    Rename {
        name: u32,
        found: Option<bool>,
    },
    Delete {
        found: Option<bool>,
    },
}

impl Model for UserModel {
    type State = UserState;
    type Op = UserStep;

    fn init(&self) -> UserState {
        UserState::Unborn
    }

    fn class(&self, op: &UserStep) -> Option<usize> {
        match op {
            UserStep::Rename { name: UNREAD, found: None } => Some(0),
            UserStep::Delete { found: None } => Some(1),
            _ => None,
        }
    }

    fn step(&self, state: &UserState, op: &UserStep) -> Option<UserState> {
        let alive = matches!(state, UserState::Alive(_));
        match op {
            // Ids are never reused: a second create of one id fits nowhere.
            UserStep::Create(name) => (*state == UserState::Unborn).then_some(UserState::Alive(*name)),
            UserStep::Read(Some(name)) => (*state == UserState::Alive(*name)).then_some(*state),
            UserStep::Read(None) => (!alive).then_some(*state),
            UserStep::Rename { name, found } => match (found, alive) {
                (Some(true), false) | (Some(false), true) => None,
                (_, true) => Some(UserState::Alive(*name)),
                (_, false) => Some(*state),
            },
            UserStep::Delete { found } => match (found, alive) {
                (Some(true), false) | (Some(false), true) => None,
                (_, true) => Some(UserState::Gone),
                (_, false) => Some(*state),
            },
        }
    }
}

pub fn check(history: &History, findings: &mut Findings) {
    for op in history.users.iter().filter(|op| !op.final_read) {
        let tally = findings.tally(op.door, Service::Users);
        tally.attempted += 1;
        if op.outcome.is_ok() {
            tally.acknowledged += 1;
        }
        // Answers checked on the spot: a create or rename answers with the name it set.
        if let (
            UserAction::Create { username, .. } | UserAction::Update { username },
            Ok(UserReply::User { username: answered, .. }),
        ) = (&op.action, &op.outcome)
            && answered != username
        {
            findings.violation(
                "users: wrong answer",
                Some(op.door),
                Service::Users,
                format!("{:?} answered username {answered:?} at {}", op.action, secs(op.ret)),
            );
        }
    }

    let mut per_email: HashMap<String, usize> = HashMap::new();
    for user in &history.users_final {
        *per_email.entry(user.email.to_lowercase()).or_default() += 1;
    }
    for (email, count) in per_email.into_iter().filter(|(_, count)| *count > 1) {
        findings.tally(Door::Grpc, Service::Users).duplicated += count as u64 - 1;
        findings.violation("users: e-mail twice", None, Service::Users, format!("{count} users have e-mail {email}"));
    }

    // Which id each create made: its answer, or else its e-mail in the final listing.
    let id_by_email: HashMap<&str, i64> = history.users_final.iter().map(|u| (u.email.as_str(), u.id)).collect();
    let mut by_id: BTreeMap<i64, Vec<&UserOp>> = BTreeMap::new();
    let mut ids_answered: HashMap<i64, Vec<&UserOp>> = HashMap::new();
    for op in &history.users {
        let id = match (&op.action, &op.outcome) {
            (UserAction::Create { .. }, Ok(UserReply::User { id, .. })) => {
                ids_answered.entry(*id).or_default().push(op);
                Some(*id)
            }
            (UserAction::Create { email, .. }, Err(failure)) if !failure.definite => {
                id_by_email.get(email.as_str()).copied()
            }
            (UserAction::Create { .. }, _) => None,
            _ => op.id,
        };
        if let Some(id) = id {
            by_id.entry(id).or_default().push(op);
        }
    }
    for (id, creates) in ids_answered.iter().filter(|(_, creates)| creates.len() > 1) {
        findings.violation(
            "users: id handed out twice",
            Some(creates[1].door),
            Service::Users,
            format!("id {id} was answered to {} creates", creates.len()),
        );
    }
    let deadline = |op: &UserOp| pending_deadline(history, op.ret);
    let (users, operations) = (by_id.len(), by_id.values().map(Vec::len).sum::<usize>());
    let violations_before = findings.violations.len();
    for (id, ops) in by_id {
        check_user(id, &ops, &deadline, findings);
    }
    findings.notes.push(format!(
        "users: {operations} operations on {users} users checked for linearizability; {} violations",
        findings.violations.len() - violations_before
    ));
}

fn check_user(id: i64, ops: &[&UserOp], deadline: &dyn Fn(&UserOp) -> u64, findings: &mut Findings) {
    // Names read back (by a read, or in the answer to the rename itself).
    let mut read: HashSet<&str> = HashSet::new();
    for op in ops {
        if let Ok(UserReply::User { username, .. }) = &op.outcome {
            read.insert(username.as_str());
        }
    }
    let mut names: HashMap<&str, u32> = HashMap::new();
    let mut operations: Vec<Operation<UserStep>> = Vec::new();
    let mut origin: Vec<&UserOp> = Vec::new();
    for op in ops {
        let unknown = matches!(&op.outcome, Err(failure) if !failure.definite);
        let step = match (&op.action, &op.outcome) {
            (UserAction::Create { username, .. }, Ok(_)) => Some(UserStep::Create(intern(username, &mut names))),
            (UserAction::Create { username, .. }, Err(_)) if unknown => {
                Some(UserStep::Create(intern(username, &mut names)))
            }
            (UserAction::Get, Ok(UserReply::User { username, .. })) => {
                Some(UserStep::Read(Some(intern(username, &mut names))))
            }
            (UserAction::Get, Ok(_)) => Some(UserStep::Read(None)),
            (UserAction::Update { username }, Ok(reply)) => {
                let name = if read.contains(username.as_str()) { intern(username, &mut names) } else { UNREAD };
                Some(UserStep::Rename { name, found: Some(matches!(reply, UserReply::User { .. })) })
            }
            (UserAction::Update { username }, Err(_)) if unknown => {
                let name = if read.contains(username.as_str()) { intern(username, &mut names) } else { UNREAD };
                Some(UserStep::Rename { name, found: None })
            }
            (UserAction::Delete, Ok(reply)) => {
                Some(UserStep::Delete { found: Some(matches!(reply, UserReply::Deleted)) })
            }
            (UserAction::Delete, Err(_)) if unknown => Some(UserStep::Delete { found: None }),
            _ => None,
        };
        if let Some(step) = step {
            let ret = if unknown { deadline(op) } else { op.ret };
            operations.push(Operation { op: step, invoke: op.invoke, ret, pending: unknown });
            origin.push(op);
        }
    }
    let optional = |o: &Operation<UserStep>| UserModel.class(&o.op).is_some();
    match check_pruned(&UserModel, &operations, optional, SEARCH_BUDGET) {
        Verdict::Linearizable => {}
        Verdict::Violation { stuck, placed, state } => {
            let culprit = origin[stuck];
            findings.tally(culprit.door, Service::Users).order_violations += 1;
            // Around it in time, and the last answers before it.
            let mut near: Vec<&&UserOp> =
                origin.iter().filter(|op| op.ret + 20_000 >= culprit.invoke).take(40).collect();
            let earlier = origin.iter().filter(|op| op.ret + 20_000 < culprit.invoke && op.outcome.is_ok());
            near.extend(earlier.rev().take(5));
            near.sort_by_key(|op| (op.invoke, op.ret));
            near.dedup_by(|a, b| std::ptr::eq(**a, **b));
            let lines: Vec<String> = near.iter().map(|op| format!("    {}", describe(op))).collect();
            findings.violation(
                "users: not linearizable",
                Some(culprit.door),
                Service::Users,
                format!(
                    "user {id}: after placing {placed} operations (state {state}), this one fits nowhere: {}\n{}",
                    describe(culprit),
                    lines.join("\n")
                ),
            );
        }
        Verdict::Undecided { steps } => findings.violation(
            "users: linearizability undecided",
            None,
            Service::Users,
            format!("user {id}: no answer within {steps} search steps"),
        ),
    }

    // After the last recovery.
    let Some(final_read) = ops.iter().find(|op| op.final_read) else { return };
    let final_name = match &final_read.outcome {
        Ok(UserReply::User { username, .. }) => Some(username.as_str()),
        Ok(_) => None,
        Err(_) => return,
    };
    let writes: Vec<(u64, u64, bool, bool, &UserOp)> = ops
        .iter()
        .filter(|op| !op.final_read && !matches!(op.action, UserAction::Get))
        .filter(|op| op.outcome.as_ref().map_or_else(|failure| !failure.definite, |_| true))
        // A rename or delete answered NOT_FOUND changed nothing.
        .filter(|op| !matches!(op.outcome, Ok(UserReply::NotFound)))
        .map(|op| {
            let produces = match (&op.action, final_name) {
                (UserAction::Create { username, .. } | UserAction::Update { username }, Some(name)) => username == name,
                (UserAction::Delete, None) => true,
                _ => false,
            };
            (op.invoke, op.ret, op.outcome.is_ok(), produces, *op)
        })
        .collect();
    let shape: Vec<_> = writes.iter().map(|w| (w.0, w.1, w.2, w.3)).collect();
    if !final_state_explained(&shape, final_name.is_none()) {
        let latest = writes.iter().filter(|w| w.2).max_by_key(|w| w.0).map(|w| w.4);
        let door = latest.map_or(Door::Grpc, |op| op.door);
        findings.tally(door, Service::Users).lost += 1;
        findings.violation(
            "users: acknowledged write lost",
            Some(door),
            Service::Users,
            format!(
                "user {id}: after the last recovery it is {final_name:?}; the latest acknowledged write was {}",
                latest.map_or_else(|| "none".to_owned(), describe)
            ),
        );
    }
}

/// A number for a name, the same each time (states compare numbers, not strings).
fn intern<'a>(name: &'a str, names: &mut HashMap<&'a str, u32>) -> u32 {
    let next = u32::try_from(names.len()).unwrap_or(u32::MAX);
    *names.entry(name).or_insert(next)
}

fn describe(op: &UserOp) -> String {
    let outcome = match &op.outcome {
        Ok(reply) => format!("{reply:?}"),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Failure, UserFinal};

    fn op(id: Option<i64>, action: UserAction, invoke: u64, ret: u64, outcome: Result<UserReply, Failure>) -> UserOp {
        UserOp { door: Door::Grpc, client: 1, id, action, invoke, ret, outcome, final_read: false }
    }

    fn create(id: i64, name: &str, invoke: u64, ret: u64) -> UserOp {
        let action = UserAction::Create { username: name.into(), email: format!("{name}@soak.test") };
        op(None, action, invoke, ret, Ok(UserReply::User { id, username: name.into() }))
    }

    fn read(id: i64, name: Option<&str>, at: u64, final_read: bool) -> UserOp {
        let reply = name.map_or(UserReply::NotFound, |n| UserReply::User { id, username: n.into() });
        UserOp { final_read, ..op(Some(id), UserAction::Get, at, at + 1, Ok(reply)) }
    }

    fn run(users: Vec<UserOp>, users_final: Vec<UserFinal>) -> Findings {
        let history = History { users, users_final, ..History::default() };
        let mut findings = Findings::default();
        check(&history, &mut findings);
        findings
    }

    #[test]
    fn a_good_history_passes() {
        let rename = op(
            Some(1),
            UserAction::Update { username: "b".into() },
            10,
            12,
            Ok(UserReply::User { id: 1, username: "b".into() }),
        );
        // A create whose answer was lost, found by its e-mail.
        let lost = op(
            None,
            UserAction::Create { username: "c".into(), email: "c@soak.test".into() },
            20,
            30,
            Err(Failure::unknown("connection lost", "")),
        );
        let users = vec![
            create(1, "a", 0, 2),
            read(1, Some("a"), 3, false),
            rename,
            read(1, Some("b"), 100, true),
            lost,
            read(2, Some("c"), 100, true),
        ];
        let finals = vec![
            UserFinal { id: 1, username: "b".into(), email: "a@soak.test".into() },
            UserFinal { id: 2, username: "c".into(), email: "c@soak.test".into() },
        ];
        let findings = run(users, finals);
        assert!(findings.passed(), "{:#?}", findings.violations);
    }

    #[test]
    fn a_deleted_user_that_comes_back_is_caught() {
        let delete = op(Some(1), UserAction::Delete, 5, 6, Ok(UserReply::Deleted));
        let findings = run(vec![create(1, "a", 0, 2), delete, read(1, Some("a"), 100, true)], vec![]);
        let checks: Vec<_> = findings.violations.iter().map(|v| v.check).collect();
        assert!(checks.contains(&"users: not linearizable"), "{checks:?}");
        assert!(checks.contains(&"users: acknowledged write lost"), "{checks:?}");
    }

    #[test]
    fn an_id_handed_out_twice_is_caught() {
        let findings = run(vec![create(1, "a", 0, 2), create(1, "b", 3, 4)], vec![]);
        let checks: Vec<_> = findings.violations.iter().map(|v| v.check).collect();
        assert!(checks.contains(&"users: id handed out twice"), "{checks:?}");
        assert!(checks.contains(&"users: not linearizable"), "{checks:?}");
    }

    #[test]
    fn a_lost_rename_is_caught() {
        let rename = op(
            Some(1),
            UserAction::Update { username: "b".into() },
            10,
            12,
            Ok(UserReply::User { id: 1, username: "b".into() }),
        );
        let findings = run(vec![create(1, "a", 0, 2), rename, read(1, Some("a"), 100, true)], vec![]);
        assert!(findings.violations.iter().any(|v| v.check == "users: acknowledged write lost"));
    }
}

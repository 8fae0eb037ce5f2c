//! Chat: in every member session, each sender's messages arrive in the order sent and never
//! twice, and every gap is accounted for.
//!
//! - **Room numbering** (gRPC): consecutive room events are numbered one apart unless a
//!   `missed { count }` between them says exactly how many were skipped.
//! - **Skipped for one receiver**: a message some session received, missing between two
//!   messages of its sender in another session, must be covered by that session's skip
//!   notices (`missed`, or telnet's `*** N messages skipped ***`, which count at least it).
//! - **Delivered to no one**: a message no session received, missing between two messages of
//!   its sender in a session that announced no skip there, was never broadcast. It may have
//!   been refused: the sender is then told (a chat error, an `ERROR:` line), and that refusal
//!   comes in the sender's own stream before the echo of its next message, because the server
//!   answers a say before it handles the next one. So between two echoes of its own, a sender
//!   has read one refusal for every message of its own that was not broadcast — or one was
//!   accepted without a word and dropped.

use std::collections::{HashMap, HashSet};

use super::{Findings, secs};
use crate::history::{ChatSeen, ChatSession, FaultKind, History, Micros, Service};

pub fn check(history: &History, findings: &mut Findings) {
    // Who received what.
    let mut received: HashSet<(&str, u64)> = HashSet::new();
    let mut heard_by_sender: HashSet<(&str, u64)> = HashSet::new();
    for session in &history.chat_sessions {
        for (_, seen) in &session.seen {
            if let ChatSeen::Message { from, n, .. } = seen {
                received.insert((from.as_str(), *n));
                if *from == session.member {
                    heard_by_sender.insert((from.as_str(), *n));
                }
            }
        }
    }
    for say in &history.chat_says {
        let tally = findings.tally(say.door, Service::Chat);
        tally.attempted += 1;
        if heard_by_sender.contains(&(say.member.as_str(), say.n)) {
            tally.acknowledged += 1;
        }
    }
    let mut never_broadcast: HashSet<(&str, u64)> = HashSet::new();
    for session in &history.chat_sessions {
        check_session(session, &received, &mut never_broadcast, findings);
    }
    // NATS core delivers at most once: a message handed to the bus as its connection breaks,
    // before the server notices, reaches no one and its sender is not told. A known limit of
    // the NATS bus (README, Reliability), reported as a note, not hidden and not a violation;
    // anywhere else a silent drop is one.
    let nats_cuts: Vec<(Micros, Micros)> = history
        .faults
        .iter()
        .filter(|f| f.kind == FaultKind::NatsCut)
        .map(|f| (f.start, f.end.saturating_add(NATS_NOTICE)))
        .collect();
    for session in &history.chat_sessions {
        check_sender(session, &never_broadcast, &nats_cuts, findings);
    }
}

/// How long after a NATS cut heals the bus may still be finding out.
const NATS_NOTICE: Micros = 3_000_000;

fn who(session: &ChatSession) -> String {
    format!("{} ({}{})", session.member, session.door.label(), if session.slow { ", slow reader" } else { "" })
}

fn check_session<'h>(
    session: &'h ChatSession,
    received: &HashSet<(&'h str, u64)>,
    never_broadcast: &mut HashSet<(&'h str, u64)>,
    findings: &mut Findings,
) {
    let door = session.door;
    let who = who(session);

    // Room numbering: a jump must be exactly the missed count announced in between.
    let mut last: Option<u64> = None;
    let mut announced = 0u64;
    for (at, seen) in &session.seen {
        let sequence = match seen {
            ChatSeen::Missed { count } => {
                announced += count;
                continue;
            }
            ChatSeen::Message { sequence: Some(s), .. } | ChatSeen::Room { sequence: Some(s) } => *s,
            _ => continue,
        };
        if let Some(previous) = last {
            if sequence <= previous {
                findings.tally(door, Service::Chat).order_violations += 1;
                findings.violation(
                    "chat: room order",
                    Some(door),
                    Service::Chat,
                    format!("{who} received event {sequence} after event {previous} at {}", secs(*at)),
                );
            } else {
                let skipped = sequence - previous - 1;
                if skipped != announced {
                    let tally = findings.tally(door, Service::Chat);
                    if skipped > announced {
                        tally.lost += skipped - announced;
                    } else {
                        tally.order_violations += 1;
                    }
                    findings.violation(
                        "chat: missed count wrong",
                        Some(door),
                        Service::Chat,
                        format!(
                            "{who}: events {previous} → {sequence} at {} skip {skipped}, {announced} announced as missed",
                            secs(*at)
                        ),
                    );
                }
            }
        }
        last = Some(sequence);
        announced = 0;
    }

    // Per sender: order, duplicates, and gaps.
    let mut last_from: HashMap<&str, u64> = HashMap::new();
    let mut seen_here: HashSet<(&str, u64)> = HashSet::new();
    let mut announced_since: HashMap<&str, u64> = HashMap::new();
    for (at, seen) in &session.seen {
        match seen {
            ChatSeen::Missed { count } => {
                for total in announced_since.values_mut() {
                    *total += count;
                }
            }
            ChatSeen::Message { from, n, .. } => {
                let from = from.as_str();
                if !seen_here.insert((from, *n)) {
                    findings.tally(door, Service::Chat).duplicated += 1;
                    findings.violation(
                        "chat: message delivered twice",
                        Some(door),
                        Service::Chat,
                        format!("{who} received m{n} from {from} again at {}", secs(*at)),
                    );
                    continue;
                }
                match last_from.get(from).copied() {
                    Some(previous) if *n < previous => {
                        findings.tally(door, Service::Chat).order_violations += 1;
                        findings.violation(
                            "chat: sender order",
                            Some(door),
                            Service::Chat,
                            format!("{who} received m{n} from {from} after m{previous} at {}", secs(*at)),
                        );
                    }
                    Some(previous) if *n > previous + 1 => {
                        let covered = announced_since.get(from).copied().unwrap_or(0);
                        let gap = previous + 1..*n;
                        // Broadcast (someone has them) but not here: skips to be announced.
                        let skipped = gap.clone().filter(|k| received.contains(&(from, *k))).count() as u64;
                        if skipped > covered {
                            findings.tally(door, Service::Chat).lost += skipped - covered;
                            findings.violation(
                                "chat: messages skipped without notice",
                                Some(door),
                                Service::Chat,
                                format!(
                                    "{who} received m{previous} then m{n} from {from} (at {}); {skipped} messages in between \
                                     reached other members, {covered} skips announced here",
                                    secs(*at)
                                ),
                            );
                        }
                        if covered == 0 {
                            never_broadcast.extend(gap.filter(|k| !received.contains(&(from, *k))).map(|k| (from, k)));
                        }
                    }
                    _ => {}
                }
                if last_from.get(from).is_none_or(|previous| n > previous) {
                    last_from.insert(from, *n);
                }
                announced_since.insert(from, 0);
            }
            ChatSeen::Room { .. } | ChatSeen::Refused { .. } => {}
        }
    }
}

/// Messages of this session that were never broadcast, against the refusals it was told of.
fn check_sender(
    session: &ChatSession,
    never_broadcast: &HashSet<(&str, u64)>,
    nats_cuts: &[(Micros, Micros)],
    findings: &mut Findings,
) {
    let member = session.member.as_str();
    let mut previous: Option<u64> = None;
    let mut previous_at: Micros = session.joined;
    let mut refused = 0u64;
    for (at, seen) in &session.seen {
        match seen {
            ChatSeen::Refused { .. } => refused += 1,
            ChatSeen::Message { from, n, .. } if from == member => {
                if let Some(previous) = previous.filter(|p| n > p) {
                    let dropped = (previous + 1..*n).filter(|k| never_broadcast.contains(&(member, *k))).count() as u64;
                    let during_nats_cut = nats_cuts.iter().any(|(start, end)| previous_at <= *end && *at >= *start);
                    if dropped > refused && during_nats_cut {
                        findings.notes.push(format!(
                            "chat: {} message(s) of {} said while NATS was being cut reached no member \
                             (NATS core is at-most-once; between {} and {})",
                            dropped - refused,
                            who(session),
                            secs(previous_at),
                            secs(*at)
                        ));
                    } else if dropped > refused {
                        findings.tally(session.door, Service::Chat).lost += dropped - refused;
                        findings.violation(
                            "chat: message accepted and delivered to no one",
                            Some(session.door),
                            Service::Chat,
                            format!(
                                "{}: between its own m{previous} and m{n} (at {}), {dropped} of its messages reached no \
                                 member, and it was told of {refused} refusals",
                                who(session),
                                secs(*at)
                            ),
                        );
                    }
                }
                previous = Some(previous.map_or(*n, |p| p.max(*n)));
                previous_at = *at;
                refused = 0;
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{ChatSay, Door};

    fn msg(sequence: Option<u64>, from: &str, n: u64) -> ChatSeen {
        ChatSeen::Message { sequence, from: from.into(), n }
    }

    fn session(door: Door, member: &str, seen: Vec<ChatSeen>) -> ChatSession {
        ChatSession {
            door,
            member: member.into(),
            slow: false,
            joined: 0,
            ended: 100,
            seen: seen.into_iter().enumerate().map(|(i, s)| (i as u64, s)).collect(),
            end: "ended".into(),
        }
    }

    fn run(sessions: Vec<ChatSession>) -> Vec<&'static str> {
        let says = vec![ChatSay { door: Door::Grpc, member: "a".into(), n: 1, invoke: 0, outcome: Ok(()) }];
        let history = History { chat_sessions: sessions, chat_says: says, ..History::default() };
        let mut findings = Findings::default();
        check(&history, &mut findings);
        findings.violations.iter().map(|v| v.check).collect()
    }

    #[test]
    fn announced_gaps_pass() {
        let grpc = session(
            Door::Grpc,
            "b",
            vec![
                ChatSeen::Room { sequence: Some(1) },
                msg(Some(2), "a", 1),
                ChatSeen::Missed { count: 3 },
                msg(Some(6), "a", 5),
                msg(Some(7), "b", 1),
            ],
        );
        let telnet = session(
            Door::TelnetChat,
            "c",
            vec![msg(None, "a", 1), ChatSeen::Missed { count: 10 }, msg(None, "a", 5), msg(None, "a", 6)],
        );
        // The sender saw all of its messages.
        let sender = session(Door::Grpc, "a", (1..=6).map(|n| msg(None, "a", n)).collect());
        assert_eq!(run(vec![grpc, telnet, sender]), Vec::<&str>::new());
    }

    #[test]
    fn a_silent_skip_is_caught() {
        let sender = session(Door::Grpc, "a", (1..=4).map(|n| msg(None, "a", n)).collect());
        let grpc = session(Door::Grpc, "b", vec![msg(Some(2), "a", 1), msg(Some(4), "a", 3)]);
        let checks = run(vec![sender.clone(), grpc]);
        assert!(checks.contains(&"chat: missed count wrong"), "{checks:?}");
        assert!(checks.contains(&"chat: messages skipped without notice"), "{checks:?}");
        let telnet =
            session(Door::TelnetChat, "c", vec![msg(None, "a", 1), ChatSeen::Missed { count: 1 }, msg(None, "a", 4)]);
        assert_eq!(run(vec![sender, telnet]), ["chat: messages skipped without notice"]);
    }

    #[test]
    fn a_message_refused_to_its_sender_may_be_missing_but_not_one_dropped_silently() {
        let receiver = session(Door::TelnetChat, "c", vec![msg(None, "a", 1), msg(None, "a", 3)]);
        let told = session(
            Door::Grpc,
            "a",
            vec![msg(None, "a", 1), ChatSeen::Refused { message: "unavailable".into() }, msg(None, "a", 3)],
        );
        assert_eq!(run(vec![receiver.clone(), told]), Vec::<&str>::new());
        let not_told = session(Door::Grpc, "a", vec![msg(None, "a", 1), msg(None, "a", 3)]);
        assert_eq!(run(vec![receiver, not_told]), ["chat: message accepted and delivered to no one"]);
    }

    #[test]
    fn a_silent_drop_while_nats_is_cut_is_a_note_and_elsewhere_a_violation() {
        let receiver = session(Door::TelnetChat, "c", vec![msg(None, "a", 1), msg(None, "a", 3)]);
        let not_told = session(Door::Grpc, "a", vec![msg(None, "a", 1), msg(None, "a", 3)]);
        let cut = |kind| crate::history::Fault { kind, start: 0, end: 1, detail: String::new() };
        for (kind, violations) in [(FaultKind::NatsCut, 0), (FaultKind::ProxyCut, 1)] {
            let history = History {
                chat_sessions: vec![receiver.clone(), not_told.clone()],
                faults: vec![cut(kind)],
                ..History::default()
            };
            let mut findings = Findings::default();
            check(&history, &mut findings);
            assert_eq!(findings.violations.len(), violations, "{kind:?}");
            assert_eq!(findings.notes.len(), 1 - violations, "{kind:?}: {:?}", findings.notes);
        }
    }

    #[test]
    fn a_wrong_missed_count_is_caught() {
        let grpc =
            session(Door::Grpc, "b", vec![msg(Some(2), "a", 1), ChatSeen::Missed { count: 5 }, msg(Some(4), "a", 3)]);
        assert_eq!(run(vec![grpc]), ["chat: missed count wrong"]);
    }

    #[test]
    fn duplicates_and_reordering_are_caught() {
        let grpc = session(Door::Grpc, "b", vec![msg(Some(1), "a", 1), msg(Some(2), "a", 2), msg(Some(3), "a", 2)]);
        assert_eq!(run(vec![grpc]), ["chat: message delivered twice"]);
        let telnet = session(Door::TelnetChat, "c", vec![msg(None, "a", 2), msg(None, "a", 1)]);
        assert_eq!(run(vec![telnet]), ["chat: sender order"]);
    }
}

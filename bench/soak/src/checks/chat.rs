//! Chat: in every member session, each sender's messages arrive in the order sent and never
//! twice, and every gap is announced: on gRPC, consecutive room events are numbered one
//! apart unless `missed { count }` between them says exactly how many were skipped; on
//! telnet (which shows no numbers), the `*** N messages skipped ***` lines between two
//! messages of one sender account for at least the messages of that sender not received.
//! A message the server refused to its sender (a chat error) may be missing anywhere.

use std::collections::{HashMap, HashSet};

use super::{Findings, secs};
use crate::history::{ChatSeen, ChatSession, History, Service};

pub fn check(history: &History, findings: &mut Findings) {
    // Messages heard back by their own sender are acknowledged.
    let mut heard_by_sender: HashSet<(&str, u64)> = HashSet::new();
    let mut refusals: HashMap<&str, u64> = HashMap::new();
    for session in &history.chat_sessions {
        for (_, seen) in &session.seen {
            match seen {
                ChatSeen::Message { from, n, .. } if *from == session.member => {
                    heard_by_sender.insert((from.as_str(), *n));
                }
                ChatSeen::Refused { .. } => *refusals.entry(session.member.as_str()).or_default() += 1,
                _ => {}
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
    for session in &history.chat_sessions {
        check_session(session, &refusals, findings);
    }
}

fn check_session(session: &ChatSession, refusals: &HashMap<&str, u64>, findings: &mut Findings) {
    let door = session.door;
    let who = format!("{} ({}{})", session.member, door.label(), if session.slow { ", slow reader" } else { "" });

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

    // Per sender: order, duplicates, and gaps covered by skip notices.
    let mut last_from: HashMap<&str, u64> = HashMap::new();
    let mut received: HashSet<(&str, u64)> = HashSet::new();
    let mut announced_since: HashMap<&str, u64> = HashMap::new();
    let mut unexplained: HashMap<&str, u64> = HashMap::new();
    for (at, seen) in &session.seen {
        match seen {
            ChatSeen::Missed { count } => {
                for total in announced_since.values_mut() {
                    *total += count;
                }
            }
            ChatSeen::Message { from, n, .. } => {
                let from = from.as_str();
                if !received.insert((from, *n)) {
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
                        let missing = *n - previous - 1;
                        let covered = announced_since.get(from).copied().unwrap_or(0);
                        if missing > covered {
                            *unexplained.entry(from).or_default() += missing - covered;
                            let excused = refusals.get(from).copied().unwrap_or(0);
                            if unexplained[from] > excused {
                                findings.tally(door, Service::Chat).lost += missing - covered;
                                findings.violation(
                                    "chat: messages skipped without notice",
                                    Some(door),
                                    Service::Chat,
                                    format!(
                                        "{who} received m{previous} then m{n} from {from} (at {}); {missing} missing, {covered} announced",
                                        secs(*at)
                                    ),
                                );
                            }
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
        assert_eq!(run(vec![grpc, telnet]), Vec::<&str>::new());
    }

    #[test]
    fn a_silent_gap_is_caught() {
        let grpc = session(Door::Grpc, "b", vec![msg(Some(2), "a", 1), msg(Some(4), "a", 3)]);
        let checks = run(vec![grpc]);
        assert!(checks.contains(&"chat: missed count wrong"), "{checks:?}");
        assert!(checks.contains(&"chat: messages skipped without notice"), "{checks:?}");
        let telnet =
            session(Door::TelnetChat, "c", vec![msg(None, "a", 1), ChatSeen::Missed { count: 1 }, msg(None, "a", 4)]);
        assert_eq!(run(vec![telnet]), ["chat: messages skipped without notice"]);
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

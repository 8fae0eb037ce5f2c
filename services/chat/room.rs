//! The room: who is in it, and the rules for joining, speaking and leaving. Front-door
//! neutral: the gRPC `ChatService` and the legacy telnet chat both hold a [`Member`] each.
//!
//! Invariant: a name is in `members` exactly while a [`Member`] holding it exists and has not
//! left. Dropping a `Member` — the client vanished, its task ended, anything — leaves the
//! room and tells everyone, so no ghost stays behind.

use std::{
    collections::BTreeSet,
    sync::{Arc, Mutex, MutexGuard},
};

use super::{
    ChatError,
    bus::{ChatBus, LeaveReason, Received, RoomEvent, Subscription},
};
use crate::validate::{self, Violations};

pub const MAX_NAME_CHARS: usize = 32;
pub const MAX_TEXT_BYTES: usize = 4096;

pub struct ChatRoom {
    bus: Arc<dyn ChatBus>,
    members: Mutex<BTreeSet<String>>,
}

impl ChatRoom {
    pub fn new(bus: Arc<dyn ChatBus>) -> Arc<Self> {
        Arc::new(Self { bus, members: Mutex::new(BTreeSet::new()) })
    }

    fn members(&self) -> MutexGuard<'_, BTreeSet<String>> {
        crate::sync::lock(&self.members)
    }

    /// Enters the room as `name`. The new member's subscription starts just before its own
    /// join notice, so it sees itself join and then everything after.
    pub fn join(self: &Arc<Self>, name: &str) -> Result<Member, ChatError> {
        check_name(name).map_err(|d| ChatError::from(Violations::single("join.name", d)))?;
        if !self.bus.is_available() {
            return Err(ChatError::Unavailable);
        }
        let remote = self.bus.remote_members();
        let mut members = self.members();
        // Across replicas this is best effort: two replicas may admit one name at the same
        // instant, before either hears of the other's join.
        if remote.iter().any(|member| member == name) || !members.insert(name.to_owned()) {
            return Err(ChatError::NameTaken(name.to_owned()));
        }
        let subscription = self.bus.subscribe();
        // Published under the lock so that the member list each joiner is given matches the
        // order of join and leave notices everyone receives.
        self.bus.publish(RoomEvent::Joined { name: name.to_owned() });
        let mut members_at_join: Vec<String> = members.iter().cloned().chain(remote).collect();
        members_at_join.sort();
        members_at_join.dedup();
        Ok(Member { room: Arc::clone(self), name: name.to_owned(), subscription, members_at_join, left: false })
    }

    /// Follows the room without joining: every event published from now on.
    pub fn watch(&self) -> Box<dyn Subscription> {
        self.bus.subscribe()
    }

    /// The names in the room, on every replica, sorted.
    pub fn member_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.members().iter().cloned().chain(self.bus.remote_members()).collect();
        names.sort();
        names.dedup();
        names
    }

    fn leave(&self, name: &str, reason: LeaveReason) {
        let mut members = self.members();
        if members.remove(name) {
            self.bus.publish(RoomEvent::Left { name: name.to_owned(), reason });
        }
    }
}

/// One member's presence in the room.
pub struct Member {
    room: Arc<ChatRoom>,
    name: String,
    subscription: Box<dyn Subscription>,
    members_at_join: Vec<String>,
    left: bool,
}

impl Member {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Everyone in the room when this member joined, itself included.
    pub fn members_at_join(&self) -> &[String] {
        &self.members_at_join
    }

    pub fn room(&self) -> &ChatRoom {
        &self.room
    }

    /// Sends a message to everyone, this member included.
    pub fn say(&self, text: &str) -> Result<(), ChatError> {
        check_text(text).map_err(|d| ChatError::from(Violations::single("say.text", d)))?;
        if !self.room.bus.is_available() {
            return Err(ChatError::Unavailable);
        }
        self.room.bus.publish(RoomEvent::Message { from: self.name.clone(), text: text.to_owned() });
        Ok(())
    }

    /// The next room event for this member (also after it has left: see [`Member::leave`]).
    pub async fn next_event(&mut self) -> Received {
        self.subscription.next().await
    }

    /// Leaves the room. The subscription stays open, so the caller can still deliver what
    /// the room said before the member's own leave notice.
    pub fn leave(&mut self, reason: LeaveReason) {
        if !self.left {
            self.left = true;
            self.room.leave(&self.name, reason);
        }
    }

    /// Whether `event` is this member's own leave notice.
    pub fn is_own_leave(&self, event: &RoomEvent) -> bool {
        matches!(event, RoomEvent::Left { name, .. } if *name == self.name)
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.leave(LeaveReason::Disconnected);
    }
}

/// Names are letters (of any script), digits, `_`, `-` and `.`: nothing a name could use to
/// pass for another member or for the server on the telnet side, where a message is
/// `[NAME] text` and a join `*** NAME joined the chat ***` (so `admin] hi`, `[admin]` and
/// `*** mallory joined the chat ***` are refused).
fn check_name(name: &str) -> Result<(), String> {
    validate::text(name, 1, MAX_NAME_CHARS)?;
    if let Some(bad) = name.chars().find(|c| !(c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))) {
        return Err(format!("may hold only letters, digits, '_', '-' and '.', not {bad:?}"));
    }
    Ok(())
}

fn check_text(text: &str) -> Result<(), String> {
    if text.is_empty() {
        return Err("must not be empty".to_owned());
    }
    if text.len() > MAX_TEXT_BYTES {
        return Err(format!("must be at most {MAX_TEXT_BYTES} bytes, got {}", text.len()));
    }
    if text.chars().any(|c| c.is_control() && c != '\t') {
        return Err("must not contain line breaks or control characters other than tab".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::bus::LocalBus;

    #[tokio::test]
    async fn dropping_a_member_frees_its_name_and_tells_the_room() {
        let room = ChatRoom::new(Arc::new(LocalBus::new(16)));
        let mut alice = room.join("alice").unwrap();
        let bob = room.join("bob").unwrap();
        assert!(matches!(room.join("bob"), Err(ChatError::NameTaken(_))));
        drop(bob);
        assert_eq!(room.member_names(), ["alice"]);
        let mut events = Vec::new();
        for _ in 0..3 {
            match alice.next_event().await {
                Received::Event(e) => events.push(e.event.clone()),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(
            events,
            [
                RoomEvent::Joined { name: "alice".into() },
                RoomEvent::Joined { name: "bob".into() },
                RoomEvent::Left { name: "bob".into(), reason: LeaveReason::Disconnected },
            ]
        );
        assert!(room.join("bob").is_ok());
    }

    #[test]
    fn names_cannot_pass_for_another_member_or_the_server() {
        for bad in ["admin] hi", "[admin]", "*** mallory joined the chat ***", "a b", " alice", "bob\n", "x<y", ""] {
            assert!(check_name(bad).is_err(), "{bad:?} was accepted");
        }
        for good in ["alice", "Bob_2", "dr.who", "jean-luc", "Zoë", "名前", "x"] {
            assert_eq!(check_name(good), Ok(()), "{good:?}");
        }
        assert!(check_name(&"a".repeat(33)).is_err());
    }
}

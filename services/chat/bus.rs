//! How room events reach every member: a small trait, so fan-out can move from this
//! process (the default) to a message broker for several replicas without the room noticing.

use std::{
    sync::{Arc, Mutex},
    time::SystemTime,
};

use async_trait::async_trait;
use tokio::sync::broadcast;

/// Why a member left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaveReason {
    Quit,
    Disconnected,
    ServerShutdown,
}

/// Something every member of the room is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoomEvent {
    Joined { name: String },
    Left { name: String, reason: LeaveReason },
    Message { from: String, text: String },
}

/// A room event with its place in the room's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// Increases by one per event published to the room.
    pub sequence: u64,
    pub time: SystemTime,
    pub event: RoomEvent,
}

/// What a subscription yields next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    Event(Arc<Delivered>),
    /// The subscriber read too slowly; this many events were skipped here.
    Missed(u64),
    /// The bus is gone (the server is stopping).
    Closed,
}

#[async_trait]
pub trait Subscription: Send {
    async fn next(&mut self) -> Received;
}

pub trait ChatBus: Send + Sync + 'static {
    /// Hands an event to every subscriber without waiting for any of them.
    fn publish(&self, event: RoomEvent);
    /// Events published from now on.
    fn subscribe(&self) -> Box<dyn Subscription>;
    /// Members connected to other replicas (none for a bus inside one process).
    fn remote_members(&self) -> Vec<String> {
        Vec::new()
    }
    /// Whether events published now reach the room; `false` while a broker is unreachable.
    fn is_available(&self) -> bool {
        true
    }
}

/// Fan-out inside this process over a `tokio::sync::broadcast` ring. The ring is the bounded
/// queue of every member at once: publishing never waits, and a member more than `capacity`
/// events behind is told exactly how many it skipped (`Received::Missed`) at the point where
/// it skipped them. Memory stays `capacity` events however many members are slow.
pub struct LocalBus {
    sender: broadcast::Sender<Arc<Delivered>>,
    /// Held while numbering and sending, so sequence order is delivery order.
    next_sequence: Mutex<u64>,
}

impl LocalBus {
    pub fn new(capacity: usize) -> Self {
        let (sender, _) = broadcast::channel(capacity.max(1));
        Self { sender, next_sequence: Mutex::new(1) }
    }
}

impl ChatBus for LocalBus {
    fn publish(&self, event: RoomEvent) {
        let mut next = crate::sync::lock(&self.next_sequence);
        let delivered = Arc::new(Delivered { sequence: *next, time: SystemTime::now(), event });
        *next += 1;
        // No subscribers is not an error: the room may be empty.
        let _ = self.sender.send(delivered);
    }

    fn subscribe(&self) -> Box<dyn Subscription> {
        Box::new(LocalSubscription(self.sender.subscribe()))
    }
}

struct LocalSubscription(broadcast::Receiver<Arc<Delivered>>);

#[async_trait]
impl Subscription for LocalSubscription {
    async fn next(&mut self) -> Received {
        match self.0.recv().await {
            Ok(event) => Received::Event(event),
            Err(broadcast::error::RecvError::Lagged(missed)) => Received::Missed(missed),
            Err(broadcast::error::RecvError::Closed) => Received::Closed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn say(text: &str) -> RoomEvent {
        RoomEvent::Message { from: "a".into(), text: text.into() }
    }

    #[tokio::test]
    async fn a_slow_subscriber_is_told_what_it_missed_and_then_resumes() {
        let bus = LocalBus::new(4);
        let mut slow = bus.subscribe();
        for i in 0..10 {
            bus.publish(say(&i.to_string()));
        }
        assert_eq!(slow.next().await, Received::Missed(6));
        let Received::Event(first) = slow.next().await else { panic!("expected an event") };
        assert_eq!(first.event, say("6"));
        assert_eq!(first.sequence, 7);
    }
}

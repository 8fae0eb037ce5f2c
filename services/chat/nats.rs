//! Chat across replicas: a [`ChatBus`] over NATS (`--nats-url`).
//!
//! Every replica publishes its room events to one subject and subscribes to it; the NATS
//! server orders messages per subject, so every replica hears every event (its own
//! included, looped back) in one order, and fans them out locally through the same bounded
//! ring as [`super::bus::LocalBus`]. Sequence numbers are given on receipt, so they count up
//! by one per event on each replica, but the same event may carry different numbers on
//! different replicas.
//!
//! Presence: each replica also publishes a heartbeat with its member list every
//! `presence_interval`. Others keep the lists; a list whose heartbeats stop for three
//! intervals (the replica died or lost NATS) expires, and its members are told to everyone
//! here as having left (`DISCONNECTED`) — no ghost stays. A heartbeat that differs from
//! what was known (a missed event) is reconciled into joins and leaves. Name uniqueness
//! across replicas is best effort: two replicas may admit one name in the same instant.

use std::{
    collections::{BTreeSet, HashMap},
    sync::{Arc, Mutex},
    time::{Duration, Instant, SystemTime},
};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tokio::{
    sync::{broadcast, mpsc},
    task::JoinHandle,
};
use tokio_stream::StreamExt;

use super::bus::{ChatBus, Delivered, LeaveReason, Received, RoomEvent, Subscription};
use crate::sync::lock;

/// Messages waiting to be handed to the NATS client; when full (NATS has been away for a
/// long time), further events are dropped and logged rather than blocking the room.
const OUTBOX: usize = 4096;
/// Heartbeats a replica may miss before its members are taken to have left.
const MISSED_HEARTBEATS: u32 = 3;

#[derive(Debug, thiserror::Error)]
pub enum NatsBusError {
    #[error("cannot connect to NATS: {0}")]
    Connect(String),
    #[error("cannot subscribe to {subject}: {detail}")]
    Subscribe { subject: String, detail: String },
}

/// What travels on the subject.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Wire {
    Joined {
        replica: String,
        name: String,
    },
    Left {
        replica: String,
        name: String,
        reason: WireReason,
    },
    Message {
        replica: String,
        from: String,
        text: String,
    },
    Heartbeat {
        replica: String,
        members: Vec<String>,
    },
    /// A replica stopping cleanly: forget it now rather than after the expiry.
    Bye {
        replica: String,
    },
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum WireReason {
    Quit,
    Disconnected,
    ServerShutdown,
}

impl From<LeaveReason> for WireReason {
    fn from(reason: LeaveReason) -> Self {
        match reason {
            LeaveReason::Quit => WireReason::Quit,
            LeaveReason::Disconnected => WireReason::Disconnected,
            LeaveReason::ServerShutdown => WireReason::ServerShutdown,
        }
    }
}

impl From<WireReason> for LeaveReason {
    fn from(reason: WireReason) -> Self {
        match reason {
            WireReason::Quit => LeaveReason::Quit,
            WireReason::Disconnected => LeaveReason::Disconnected,
            WireReason::ServerShutdown => LeaveReason::ServerShutdown,
        }
    }
}

struct RemoteReplica {
    members: BTreeSet<String>,
    last_seen: Instant,
}

struct Shared {
    replica: String,
    client: async_nats::Client,
    ring: broadcast::Sender<Arc<Delivered>>,
    /// Held while numbering and sending, so sequence order is delivery order.
    next_sequence: Mutex<u64>,
    /// This replica's members, as its own joins and leaves say: what heartbeats carry.
    local_members: Mutex<BTreeSet<String>>,
    remote: Mutex<HashMap<String, RemoteReplica>>,
}

impl Shared {
    fn deliver(&self, event: RoomEvent) {
        let mut next = lock(&self.next_sequence);
        let delivered = Arc::new(Delivered { sequence: *next, time: SystemTime::now(), event });
        *next += 1;
        let _ = self.ring.send(delivered);
    }

    /// Applies a message heard on the subject.
    fn receive(&self, wire: Wire) {
        let from_self = |replica: &str| replica == self.replica;
        match wire {
            Wire::Joined { replica, name } => {
                if !from_self(&replica) {
                    self.remote_replica(&replica, |r| {
                        r.members.insert(name.clone());
                    });
                }
                self.deliver(RoomEvent::Joined { name });
            }
            Wire::Left { replica, name, reason } => {
                if !from_self(&replica) {
                    self.remote_replica(&replica, |r| {
                        r.members.remove(&name);
                    });
                }
                self.deliver(RoomEvent::Left { name, reason: reason.into() });
            }
            Wire::Message { replica, from, text } => {
                if !from_self(&replica) {
                    self.remote_replica(&replica, |_| {});
                }
                self.deliver(RoomEvent::Message { from, text });
            }
            Wire::Heartbeat { replica, members } if !from_self(&replica) => {
                let members: BTreeSet<String> = members.into_iter().collect();
                let (joined, left) = {
                    let mut remote = lock(&self.remote);
                    let known = remote
                        .entry(replica)
                        .or_insert_with(|| RemoteReplica { members: BTreeSet::new(), last_seen: Instant::now() });
                    known.last_seen = Instant::now();
                    let joined: Vec<String> = members.difference(&known.members).cloned().collect();
                    let left: Vec<String> = known.members.difference(&members).cloned().collect();
                    known.members = members;
                    (joined, left)
                };
                for name in joined {
                    self.deliver(RoomEvent::Joined { name });
                }
                for name in left {
                    self.deliver(RoomEvent::Left { name, reason: LeaveReason::Disconnected });
                }
            }
            Wire::Heartbeat { .. } => {}
            Wire::Bye { replica } if !from_self(&replica) => {
                let gone = lock(&self.remote).remove(&replica);
                for name in gone.map(|r| r.members).unwrap_or_default() {
                    self.deliver(RoomEvent::Left { name, reason: LeaveReason::Disconnected });
                }
            }
            Wire::Bye { .. } => {}
        }
    }

    fn remote_replica(&self, replica: &str, update: impl FnOnce(&mut RemoteReplica)) {
        let mut remote = lock(&self.remote);
        let known = remote
            .entry(replica.to_owned())
            .or_insert_with(|| RemoteReplica { members: BTreeSet::new(), last_seen: Instant::now() });
        known.last_seen = Instant::now();
        update(known);
    }

    /// Forgets replicas whose heartbeats stopped, telling everyone here their members left.
    fn expire(&self, older_than: Duration) {
        let expired: Vec<(String, RemoteReplica)> = {
            let mut remote = lock(&self.remote);
            let stale: Vec<String> =
                remote.iter().filter(|(_, r)| r.last_seen.elapsed() > older_than).map(|(id, _)| id.clone()).collect();
            stale.into_iter().filter_map(|id| remote.remove(&id).map(|r| (id, r))).collect()
        };
        for (replica, gone) in expired {
            tracing::warn!(%replica, members = gone.members.len(), "chat replica stopped sending heartbeats");
            for name in gone.members {
                self.deliver(RoomEvent::Left { name, reason: LeaveReason::Disconnected });
            }
        }
    }
}

/// The NATS-backed bus. Dropping it stops its tasks (after publishing what is queued and a
/// goodbye, so other replicas drop this one's members at once).
pub struct NatsBus {
    shared: Arc<Shared>,
    outbox: mpsc::Sender<Bytes>,
    tasks: Vec<JoinHandle<()>>,
}

impl NatsBus {
    /// Connects, subscribes to `subject` and starts the heartbeat. Fails if NATS cannot be
    /// reached now; once connected, the client reconnects by itself for ever.
    pub async fn connect(
        url: &str,
        subject: &str,
        capacity: usize,
        presence_interval: Duration,
    ) -> Result<Self, NatsBusError> {
        let client = async_nats::ConnectOptions::new()
            .connection_timeout(Duration::from_secs(3))
            .max_reconnects(None)
            // Back soon after NATS is: retry quickly, at most every 2 s.
            .reconnect_delay_callback(|attempts| {
                Duration::from_millis(100 << attempts.min(5)).min(Duration::from_secs(2))
            })
            .event_callback(|event| async move { tracing::info!(%event, "NATS connection event") })
            .connect(url)
            .await
            .map_err(|e| NatsBusError::Connect(e.to_string()))?;
        let mut subscriber = client
            .subscribe(subject.to_owned())
            .await
            .map_err(|e| NatsBusError::Subscribe { subject: subject.to_owned(), detail: e.to_string() })?;
        let (ring, _) = broadcast::channel(capacity.max(1));
        let shared = Arc::new(Shared {
            replica: uuid::Uuid::new_v4().simple().to_string(),
            client,
            ring,
            next_sequence: Mutex::new(1),
            local_members: Mutex::new(BTreeSet::new()),
            remote: Mutex::new(HashMap::new()),
        });
        let (outbox, mut queued) = mpsc::channel::<Bytes>(OUTBOX);

        let mut tasks = Vec::new();
        let receiving = Arc::clone(&shared);
        tasks.push(tokio::spawn(async move {
            while let Some(message) = subscriber.next().await {
                match serde_json::from_slice::<Wire>(&message.payload) {
                    Ok(wire) => receiving.receive(wire),
                    Err(error) => tracing::warn!(%error, "ignoring a malformed chat message from NATS"),
                }
            }
        }));

        let heartbeat = Arc::clone(&shared);
        let heartbeat_outbox = outbox.clone();
        tasks.push(tokio::spawn(async move {
            let mut ticks = tokio::time::interval(presence_interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let members = lock(&heartbeat.local_members).iter().cloned().collect();
                enqueue(&heartbeat_outbox, &Wire::Heartbeat { replica: heartbeat.replica.clone(), members });
                heartbeat.expire(presence_interval * MISSED_HEARTBEATS);
            }
        }));

        // Not aborted on drop: it ends when the last outbox sender is gone, after publishing
        // everything queued (the leave notices of a stopping server included).
        let (publisher, subject) = (shared.client.clone(), subject.to_owned());
        tokio::spawn(async move {
            while let Some(payload) = queued.recv().await {
                if let Err(error) = publisher.publish(subject.clone(), payload).await {
                    tracing::warn!(%error, "cannot publish a chat event to NATS");
                }
            }
            let _ = tokio::time::timeout(Duration::from_secs(2), publisher.flush()).await;
        });

        tracing::info!(replica = %shared.replica, "chat bus on NATS");
        Ok(Self { shared, outbox, tasks })
    }

    /// Whether the NATS connection is up now.
    pub fn is_connected(&self) -> bool {
        self.shared.client.connection_state() == async_nats::connection::State::Connected
    }
}

fn enqueue(outbox: &mpsc::Sender<Bytes>, wire: &Wire) {
    let payload = match serde_json::to_vec(wire) {
        Ok(payload) => payload,
        Err(error) => {
            tracing::error!(%error, "cannot encode a chat event");
            return;
        }
    };
    if outbox.try_send(Bytes::from(payload)).is_err() {
        tracing::warn!("chat outbox full (NATS away too long): dropping an event");
    }
}

impl ChatBus for NatsBus {
    fn publish(&self, event: RoomEvent) {
        let replica = self.shared.replica.clone();
        let wire = match event {
            RoomEvent::Joined { name } => {
                lock(&self.shared.local_members).insert(name.clone());
                Wire::Joined { replica, name }
            }
            RoomEvent::Left { name, reason } => {
                lock(&self.shared.local_members).remove(&name);
                Wire::Left { replica, name, reason: reason.into() }
            }
            RoomEvent::Message { from, text } => Wire::Message { replica, from, text },
        };
        enqueue(&self.outbox, &wire);
    }

    fn subscribe(&self) -> Box<dyn Subscription> {
        Box::new(RingSubscription(self.shared.ring.subscribe()))
    }

    fn remote_members(&self) -> Vec<String> {
        lock(&self.shared.remote).values().flat_map(|r| r.members.iter().cloned()).collect()
    }

    fn is_available(&self) -> bool {
        self.is_connected()
    }
}

impl Drop for NatsBus {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        enqueue(&self.outbox, &Wire::Bye { replica: self.shared.replica.clone() });
    }
}

struct RingSubscription(broadcast::Receiver<Arc<Delivered>>);

#[async_trait::async_trait]
impl Subscription for RingSubscription {
    async fn next(&mut self) -> Received {
        match self.0.recv().await {
            Ok(event) => Received::Event(event),
            Err(broadcast::error::RecvError::Lagged(missed)) => Received::Missed(missed),
            Err(broadcast::error::RecvError::Closed) => Received::Closed,
        }
    }
}

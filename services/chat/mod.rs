//! `ChatService`: one bidirectional stream per member of the shared room.
//!
//! Each session is a task that reads the member's requests and forwards room events to a
//! small bounded queue that tonic drains into the HTTP/2 stream. A member that stops reading
//! only blocks its own task: the room publishes into a ring that never waits (see
//! [`bus::LocalBus`]), and the member is told how many events it skipped.

pub mod bus;
mod error;
pub mod nats;
pub mod room;

use std::{sync::Arc, time::Duration, time::SystemTime};

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};
use tracing::Instrument as _;

pub use self::error::ChatError;
use self::{
    bus::{Delivered, LeaveReason, Received, RoomEvent},
    room::{ChatRoom, Member},
};
use crate::{
    pb::{self, chat_event::Event, chat_request::Action, chat_service_server},
    shutdown::Shutdown,
};

/// Events queued between a session task and tonic; the bus ring is the real buffer.
const SESSION_QUEUE: usize = 32;
/// After a member leaves, how long to keep delivering what the room said before its own
/// leave notice. Bounded so a vanished client cannot keep a task alive.
const LEAVE_FLUSH: Duration = Duration::from_secs(2);

/// Settings of the chat service.
#[derive(Debug, Clone, Copy)]
pub struct ChatSettings {
    /// How long a new stream may take to send its join.
    pub join_timeout: Duration,
}

impl Default for ChatSettings {
    fn default() -> Self {
        Self { join_timeout: Duration::from_secs(30) }
    }
}

#[derive(Clone)]
pub struct ChatService {
    room: Arc<ChatRoom>,
    settings: ChatSettings,
    shutdown: Shutdown,
}

type EventSender = mpsc::Sender<Result<pb::ChatEvent, Status>>;

impl ChatService {
    pub fn new(room: Arc<ChatRoom>, settings: ChatSettings) -> Self {
        Self { room, settings, shutdown: Shutdown::new() }
    }

    /// Sessions say goodbye and end when `shutdown` drains, and the drain waits for them.
    pub fn with_shutdown(mut self, shutdown: Shutdown) -> Self {
        self.shutdown = shutdown;
        self
    }

    pub fn into_server(self) -> chat_service_server::ChatServiceServer<Self> {
        chat_service_server::ChatServiceServer::new(self)
    }
}

#[tonic::async_trait]
impl chat_service_server::ChatService for ChatService {
    type ChatStream = ReceiverStream<Result<pb::ChatEvent, Status>>;

    async fn chat(&self, request: Request<Streaming<pb::ChatRequest>>) -> Result<Response<Self::ChatStream>, Status> {
        let inbound = request.into_inner();
        let (tx, rx) = mpsc::channel(SESSION_QUEUE);
        let session = run_session(Arc::clone(&self.room), self.settings, self.shutdown.clone(), inbound, tx);
        self.shutdown.spawn(session.in_current_span());
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    type WatchRoomStream = ReceiverStream<Result<pb::ChatEvent, Status>>;

    async fn watch_room(
        &self,
        _request: Request<pb::WatchRoomRequest>,
    ) -> Result<Response<Self::WatchRoomStream>, Status> {
        if self.shutdown.is_draining() {
            return Err(ChatError::ShuttingDown.into());
        }
        let mut subscription = self.room.watch();
        let (tx, rx) = mpsc::channel(SESSION_QUEUE);
        let shutdown = self.shutdown.clone();
        self.shutdown.spawn(
            async move {
                loop {
                    tokio::select! {
                        received = subscription.next() => {
                            if !forward(received, &tx).await {
                                return;
                            }
                        }
                        () = tx.closed() => return,
                        () = shutdown.draining() => {
                            let goodbye = Event::Goodbye(pb::Goodbye { reason: "the server is shutting down".to_owned() });
                            let _ = tx.send(Ok(personal(goodbye))).await;
                            return;
                        }
                    }
                }
            }
            .in_current_span(),
        );
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn list_members(
        &self,
        _request: Request<pb::ListMembersRequest>,
    ) -> Result<Response<pb::ListMembersResponse>, Status> {
        Ok(Response::new(pb::ListMembersResponse { names: self.room.member_names() }))
    }
}

/// One member's session, from the join to the goodbye. Every early return drops the
/// [`Member`], which leaves the room; a failed send means the client is gone.
async fn run_session(
    room: Arc<ChatRoom>,
    settings: ChatSettings,
    shutdown: Shutdown,
    mut inbound: Streaming<pb::ChatRequest>,
    tx: EventSender,
) {
    let mut member = match await_join(&room, settings, &shutdown, &mut inbound, &tx).await {
        Ok(Some(member)) => member,
        Ok(None) => return,
        Err(error) => {
            let _ = tx.send(Err(error)).await;
            return;
        }
    };
    let welcome =
        Event::Welcome(pb::Welcome { name: member.name().to_owned(), members: member.members_at_join().to_vec() });
    if tx.send(Ok(personal(welcome))).await.is_err() {
        return;
    }
    tracing::debug!(name = member.name(), "chat member joined");

    loop {
        tokio::select! {
            request = inbound.message() => match request {
                Ok(Some(request)) => match handle_request(&member, request) {
                    Reply::Event(event) => {
                        if tx.send(Ok(personal(event))).await.is_err() {
                            return;
                        }
                    }
                    Reply::Nothing => {}
                    Reply::Quit => {
                        finish(member, LeaveReason::Quit, &tx, "you left the room").await;
                        return;
                    }
                },
                // The client closed its side without a quit: it has nothing more to say, so
                // it leaves, but still receives what was said before it left.
                Ok(None) => {
                    finish(member, LeaveReason::Disconnected, &tx, "you closed the stream").await;
                    return;
                }
                // A malformed request, or the client reset the stream (then this send fails).
                Err(status) => {
                    tracing::debug!(name = member.name(), %status, "chat stream failed");
                    // As it came: the status-code layer corrects tonic's framing codes for every call.
                    let _ = tx.send(Err(status)).await;
                    return;
                }
            },
            received = member.next_event() => {
                if !forward(received, &tx).await {
                    return;
                }
            }
            () = tx.closed() => return,
            // The server is stopping: leave (the room hears "server shutdown"), get what the
            // room said up to that, a goodbye, and the stream ends with OK.
            () = shutdown.draining() => {
                finish(member, LeaveReason::ServerShutdown, &tx, "the server is shutting down").await;
                return;
            }
        }
    }
}

/// Waits for the first request, which must be a join. `Ok(None)`: the client left first.
async fn await_join(
    room: &Arc<ChatRoom>,
    settings: ChatSettings,
    shutdown: &Shutdown,
    inbound: &mut Streaming<pb::ChatRequest>,
    tx: &EventSender,
) -> Result<Option<Member>, Status> {
    let first = tokio::select! {
        first = tokio::time::timeout(settings.join_timeout, inbound.message()) => first,
        () = tx.closed() => return Ok(None),
        () = shutdown.draining() => return Err(ChatError::ShuttingDown.into()),
    };
    match first {
        Err(_elapsed) => Err(ChatError::JoinTimeout(settings.join_timeout.as_secs()).into()),
        Ok(Err(status)) => Err(status),
        Ok(Ok(None)) => Ok(None),
        Ok(Ok(Some(pb::ChatRequest { action: Some(Action::Join(join)) }))) => Ok(Some(room.join(&join.name)?)),
        Ok(Ok(Some(_))) => Err(ChatError::NotJoined.into()),
    }
}

enum Reply {
    Event(Event),
    Nothing,
    Quit,
}

fn handle_request(member: &Member, request: pb::ChatRequest) -> Reply {
    let result = match request.action {
        Some(Action::Say(say)) => member.say(&say.text).map(|()| Reply::Nothing),
        Some(Action::ListMembers(_)) => {
            Ok(Reply::Event(Event::Members(pb::ListMembersResponse { names: member.room().member_names() })))
        }
        Some(Action::Quit(_)) => Ok(Reply::Quit),
        Some(Action::Join(_)) => Err(ChatError::AlreadyJoined(member.name().to_owned())),
        None => Err(ChatError::EmptyRequest),
    };
    result.unwrap_or_else(|error| {
        Reply::Event(Event::Error(pb::ChatError { code: error.code() as i32, message: error.to_string() }))
    })
}

/// Leaves, delivers what the room said up to this member's own leave notice, says goodbye.
async fn finish(mut member: Member, reason: LeaveReason, tx: &EventSender, goodbye: &str) {
    member.leave(reason);
    let flush = async {
        loop {
            let received = member.next_event().await;
            let own_leave = matches!(&received, Received::Event(d) if member.is_own_leave(&d.event));
            if !forward(received, tx).await || own_leave {
                return;
            }
        }
    };
    let _ = tokio::time::timeout(LEAVE_FLUSH, flush).await;
    let _ = tx.send(Ok(personal(Event::Goodbye(pb::Goodbye { reason: goodbye.to_owned() })))).await;
}

/// Forwards one bus item to the client; `false` when the session should end.
async fn forward(received: Received, tx: &EventSender) -> bool {
    let event = match received {
        Received::Event(delivered) => room_event(&delivered),
        Received::Missed(count) => personal(Event::Missed(pb::Missed { count })),
        Received::Closed => {
            let _ =
                tx.send(Ok(personal(Event::Goodbye(pb::Goodbye { reason: "the room is closing".to_owned() })))).await;
            return false;
        }
    };
    tx.send(Ok(event)).await.is_ok()
}

fn room_event(delivered: &Delivered) -> pb::ChatEvent {
    let event = match &delivered.event {
        RoomEvent::Joined { name } => Event::MemberJoined(pb::MemberJoined { name: name.clone() }),
        RoomEvent::Left { name, reason } => Event::MemberLeft(pb::MemberLeft {
            name: name.clone(),
            reason: match reason {
                LeaveReason::Quit => pb::LeaveReason::Quit,
                LeaveReason::Disconnected => pb::LeaveReason::Disconnected,
                LeaveReason::ServerShutdown => pb::LeaveReason::ServerShutdown,
            }
            .into(),
        }),
        RoomEvent::Message { from, text } => Event::Message(pb::ChatMessage { from: from.clone(), text: text.clone() }),
    };
    pb::ChatEvent { sequence: delivered.sequence, time: Some(delivered.time.into()), event: Some(event) }
}

/// An event for this member alone: no place in the room's history.
fn personal(event: Event) -> pb::ChatEvent {
    pb::ChatEvent { sequence: 0, time: Some(SystemTime::now().into()), event: Some(event) }
}

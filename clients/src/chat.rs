//! A chat member: one bidirectional stream. Requests go through a bounded queue (a member
//! that types faster than the network sends waits, it never grows memory); events come back
//! in room order.

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Status, metadata::MetadataMap, transport::Channel};

use crate::{
    Error,
    pb::{self, chat_request::Action, chat_service_client::ChatServiceClient},
};

/// Requests a member may have in flight before `say` waits.
const OUTBOX: usize = 64;

/// Sends a member's requests; cheap to clone, usable while another task reads events.
#[derive(Debug, Clone)]
pub struct ChatSender {
    outbox: mpsc::Sender<pb::ChatRequest>,
}

impl ChatSender {
    async fn send(&self, action: Action) -> Result<(), Error> {
        self.outbox
            .send(pb::ChatRequest { action: Some(action) })
            .await
            .map_err(|_| Error::Unavailable { message: "the chat session has ended".into() })
    }

    /// Says `text` to the room (the member receives it back too, in room order).
    pub async fn say(&self, text: impl Into<String>) -> Result<(), Error> {
        self.send(Action::Say(pb::Say { text: text.into() })).await
    }

    /// Asks for the member list; it arrives as a `members` event.
    pub async fn request_members(&self) -> Result<(), Error> {
        self.send(Action::ListMembers(pb::ListMembersRequest {})).await
    }

    /// Leaves the room; the server answers with `goodbye` and ends the stream.
    pub async fn quit(&self) -> Result<(), Error> {
        self.send(Action::Quit(pb::Quit {})).await
    }
}

/// A member of the room. Dropping it leaves the room (the server sees the stream end).
pub struct ChatSession {
    sender: ChatSender,
    events: tonic::Streaming<pb::ChatEvent>,
    welcome: pb::Welcome,
}

impl ChatSession {
    pub(crate) async fn join(
        mut stub: ChatServiceClient<Channel>,
        metadata: MetadataMap,
        name: &str,
    ) -> Result<Self, Error> {
        let (outbox, requests) = mpsc::channel(OUTBOX);
        let sender = ChatSender { outbox };
        sender.send(Action::Join(pb::Join { name: name.into() })).await?;
        let mut request = Request::new(ReceiverStream::new(requests));
        *request.metadata_mut() = metadata;
        let mut events = stub.chat(request).await?.into_inner();
        match events.message().await? {
            Some(pb::ChatEvent { event: Some(pb::chat_event::Event::Welcome(welcome)), .. }) => {
                Ok(Self { sender, events, welcome })
            }
            Some(other) => Err(Status::internal(format!("expected a welcome, the server sent {other:?}")).into()),
            None => Err(Status::internal("the server ended the chat before welcoming").into()),
        }
    }

    /// The welcome: this member's name and who was in the room on joining.
    pub fn welcome(&self) -> &pb::Welcome {
        &self.welcome
    }

    pub fn sender(&self) -> ChatSender {
        self.sender.clone()
    }

    pub async fn say(&self, text: impl Into<String>) -> Result<(), Error> {
        self.sender.say(text).await
    }

    pub async fn request_members(&self) -> Result<(), Error> {
        self.sender.request_members().await
    }

    pub async fn quit(&self) -> Result<(), Error> {
        self.sender.quit().await
    }

    /// The next event; `None` once the server has ended the session (after `goodbye`).
    pub async fn next_event(&mut self) -> Result<Option<pb::ChatEvent>, Error> {
        Ok(self.events.message().await?)
    }
}

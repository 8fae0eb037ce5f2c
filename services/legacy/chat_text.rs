//! The seed's telnet chat ("Building a Chat Server"), as a member of the same [`ChatRoom`]
//! the gRPC `ChatService` serves: telnet and gRPC members see each other's messages, joins
//! and leaves.
//!
//! The seed's bytes: `Enter your name: `, two welcome lines, `*** NAME joined the chat ***`,
//! `[NAME] text` (to everyone, the sender included), `/users`, `/quit`, and
//! `*** NAME left the chat ***`. Where the seed had defects, the room's rules apply instead:
//! a name must be valid and free (an `ERROR:` line and the prompt again, within the same
//! handshake deadline); a member that reads slowly skips events and is told how many
//! (the seed dropped them silently); joining during a flood cannot deadlock the room (the
//! room publishes into a ring and never waits on anyone).

use futures_util::FutureExt as _;
use tokio::net::TcpStream;

use super::{
    ConnectionError, INVALID_UTF8, Replies, Settings, error_line, line_too_long,
    lines::{Line, LineReader},
};
use crate::chat::{
    bus::{LeaveReason, Received, RoomEvent},
    room::{ChatRoom, Member},
};
use std::sync::Arc;

pub(crate) const PROMPT: &str = "Enter your name: ";

pub(crate) async fn serve(stream: TcpStream, room: &Arc<ChatRoom>, settings: &Settings) -> Result<(), ConnectionError> {
    let (read, write) = stream.into_split();
    let mut lines = LineReader::new(read, settings.max_line_bytes);
    let mut replies = Replies::new(write, settings.idle_timeout);

    let deadline = settings.handshake_timeout;
    let joined = tokio::time::timeout(deadline, join(room, &mut lines, &mut replies, settings)).await;
    let Some(mut member) = joined.map_err(|_elapsed| ConnectionError::Handshake(deadline))?? else {
        return Ok(());
    };
    replies.line(&format!("Welcome to the chat, {}!", member.name())).await?;
    replies.line("Type your messages and press Enter to send.").await?;
    replies.flush().await?;

    // A chat member may listen without typing for as long as it likes: no idle deadline on
    // reading here. Writes keep theirs, so a member that stops reading is let go.
    loop {
        tokio::select! {
            line = lines.next_line() => {
                let bytes = match line? {
                    Some(Line::Complete(bytes)) => bytes,
                    Some(Line::TooLong) => {
                        replies.line(&line_too_long(settings)).await?;
                        replies.flush().await?;
                        continue;
                    }
                    // The seed: a read error (also EOF after half a line) ends the session.
                    Some(Line::Unterminated(_)) | None => return Ok(()),
                };
                let Ok(text) = std::str::from_utf8(&bytes) else {
                    replies.line(INVALID_UTF8).await?;
                    replies.flush().await?;
                    continue;
                };
                match text.trim() {
                    "" => {}
                    "/quit" => {
                        member.leave(LeaveReason::Quit);
                        return Ok(());
                    }
                    "/users" => {
                        let mut list = String::from("Connected users:\n");
                        for name in member.room().member_names() {
                            list.push_str(&format!("  - {name}\n"));
                        }
                        replies.line(&list).await?;
                        replies.flush().await?;
                    }
                    text => {
                        if let Err(error) = member.say(text) {
                            replies.line(&error_line(&error.into())).await?;
                            replies.flush().await?;
                        }
                    }
                }
            }
            received = member.next_event() => {
                // Whatever else the room has already said goes out in the same write: at full
                // speed a member gets bursts, and one system call per event would be the cost.
                let mut received = Some(received);
                for _ in 0..EVENTS_PER_WRITE {
                    let Some(event) = received.take().or_else(|| member.next_event().now_or_never()) else {
                        break;
                    };
                    let Some(line) = event_line(event) else {
                        replies.flush().await?;
                        return Ok(());
                    };
                    replies.line(&line).await?;
                }
                replies.flush().await?;
            }
        }
    }
}

/// Most events gathered into one write to a member.
const EVENTS_PER_WRITE: usize = 64;

/// What the seed printed for an event; `None` once the room is gone.
fn event_line(received: Received) -> Option<String> {
    Some(match received {
        Received::Event(delivered) => match &delivered.event {
            RoomEvent::Joined { name } => format!("*** {name} joined the chat ***"),
            RoomEvent::Left { name, .. } => format!("*** {name} left the chat ***"),
            RoomEvent::Message { from, text } => format!("[{from}] {text}"),
        },
        Received::Missed(count) => format!("*** {count} messages skipped: you were reading too slowly ***"),
        Received::Closed => return None,
    })
}

/// Prompts until the client gives a name the room accepts. `None`: the client left.
async fn join<R, W>(
    room: &Arc<ChatRoom>,
    lines: &mut LineReader<R>,
    replies: &mut Replies<W>,
    settings: &Settings,
) -> Result<Option<Member>, ConnectionError>
where
    R: tokio::io::AsyncRead + Unpin,
    W: tokio::io::AsyncWrite + Unpin,
{
    loop {
        replies.bytes(PROMPT.as_bytes()).await?;
        replies.flush().await?;
        let bytes = match lines.next_line().await? {
            Some(Line::Complete(bytes)) => bytes,
            Some(Line::TooLong) => {
                replies.line(&line_too_long(settings)).await?;
                continue;
            }
            Some(Line::Unterminated(_)) | None => return Ok(None),
        };
        let Ok(name) = std::str::from_utf8(&bytes) else {
            replies.line(INVALID_UTF8).await?;
            continue;
        };
        match room.join(name.trim()) {
            Ok(member) => return Ok(Some(member)),
            Err(error) => replies.line(&error_line(&error.into())).await?,
        }
    }
}

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

/// Property tests (proptest) of the telnet chat's lines, over TCP against a real room.
/// Cases: 64 by default (`PROPTEST_CASES` for longer runs); failures are kept in
/// `proptest-regressions/legacy/chat_text.txt` and replayed first.
#[cfg(test)]
mod fuzz {
    use std::time::Duration;

    use proptest::prelude::*;
    use tokio::{
        io::{AsyncReadExt as _, AsyncWriteExt as _},
        net::{TcpListener, tcp::OwnedReadHalf},
    };

    use super::*;
    use crate::chat::{
        bus::LocalBus,
        room::{MAX_NAME_CHARS, MAX_TEXT_BYTES},
    };

    const MAX_LINE: usize = MAX_TEXT_BYTES + 100;
    const SENTINEL: &str = "that is all";

    fn settings() -> Settings {
        Settings::for_tests(MAX_LINE)
    }

    /// What the room must make of one line typed after joining.
    #[derive(Debug, Clone, PartialEq)]
    enum Outcome {
        Nothing,
        /// Said to the room: this text.
        Said(String),
        /// The member list.
        Users,
        /// An `ERROR:` line to the sender alone.
        Refused,
    }

    fn outcome(line: &[u8], crlf: bool) -> Outcome {
        // A `\r` just before the `\n` is the terminator's, not the line's.
        if line.len() > MAX_LINE + usize::from(!crlf && line.ends_with(b"\r")) {
            return Outcome::Refused;
        }
        let Ok(text) = std::str::from_utf8(line) else { return Outcome::Refused };
        match text.trim() {
            "" => Outcome::Nothing,
            "/users" => Outcome::Users,
            text if text.len() > MAX_TEXT_BYTES || text.chars().any(|c| c.is_control() && c != '\t') => {
                Outcome::Refused
            }
            text => Outcome::Said(text.to_owned()),
        }
    }

    /// Lines a telnet user might type, and lines nobody should (no `\n` inside: that ends it).
    fn line() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            6 => "[ \t]{0,2}[a-zA-Z0-9 \t\u{e9}\u{a0}\\[\\]*:.!?-]{0,24}[ \t]{0,2}\r?".prop_map(String::into_bytes),
            1 => Just(b"/users".to_vec()),
            1 => Just(b"  /users \r".to_vec()),
            1 => prop::collection::vec(any::<u8>().prop_filter("no newline", |b| *b != b'\n'), 0..24),
            1 => "[a-z]{1,4}[\u{0}-\u{8}\u{b}-\u{1f}\u{7f}\u{85}][a-z]{1,4}".prop_map(String::into_bytes),
            1 => (MAX_TEXT_BYTES - 2..MAX_TEXT_BYTES + 3).prop_map(|n| vec![b'y'; n]),
            1 => (MAX_LINE - 1..MAX_LINE + 3).prop_map(|n| vec![b'z'; n]),
        ]
        .prop_filter("not /quit", |line| std::str::from_utf8(line).map_or(true, |t| t.trim() != "/quit"))
    }

    /// Names the room refuses: empty, too long, or with a character outside the alphabet.
    fn bad_name() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(String::new()),
            Just("admin] hi".to_owned()),
            Just("*** mallory joined the chat ***".to_owned()),
            Just("n".repeat(MAX_NAME_CHARS + 1)),
            "[a-z]{0,3}[\\[\\]*:/<>!][a-z]{0,3}",
        ]
    }

    async fn read_until(read: &mut OwnedReadHalf, output: &mut Vec<u8>, end: &[u8]) {
        let reading = async {
            while !output.windows(end.len()).any(|w| w == end) {
                let mut chunk = [0; 4096];
                let n = read.read(&mut chunk).await.unwrap();
                assert!(
                    n > 0,
                    "closed before {:?}: {:?}",
                    String::from_utf8_lossy(end),
                    String::from_utf8_lossy(output)
                );
                output.extend_from_slice(&chunk[..n]);
            }
        };
        tokio::time::timeout(Duration::from_secs(10), reading).await.expect("the server answers");
    }

    proptest! {
        // A TCP connection and a runtime per case: fewer cases by default.
        #![proptest_config(crate::legacy::fuzz_cases(64))]

        /// Bad names get an error and the prompt again. After joining, each line the member
        /// types is one message to the room (its trimmed text, in order, and nothing else),
        /// the member list, nothing (blank), or an error line to the member alone; the member
        /// sees its own messages in order and every error; `/quit` leaves.
        #[test]
        fn each_line_is_one_message_or_one_error(
            bad_names in prop::collection::vec(bad_name(), 0..3),
            lines in prop::collection::vec((line(), any::<bool>()), 0..24),
        ) {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async move {
                let room = ChatRoom::new(Arc::new(LocalBus::new(1024)));
                let mut observer = room.join("observer").unwrap();
                let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                let addr = listener.local_addr().unwrap();
                let server = tokio::spawn({
                    let room = Arc::clone(&room);
                    async move {
                        let (stream, _) = listener.accept().await.unwrap();
                        serve(stream, &room, &settings()).await
                    }
                });
                let (mut read, mut write) = tokio::net::TcpStream::connect(addr).await.unwrap().into_split();

                // The handshake.
                let mut handshake = Vec::new();
                for name in &bad_names {
                    write.write_all(format!("{name}\r\n").as_bytes()).await.unwrap();
                }
                write.write_all(b"alice\r\n").await.unwrap();
                let welcome = b"Welcome to the chat, alice!\nType your messages and press Enter to send.\n";
                read_until(&mut read, &mut handshake, welcome).await;
                let handshake = String::from_utf8(handshake).unwrap();
                prop_assert_eq!(handshake.matches(PROMPT).count(), bad_names.len() + 1, "{}", handshake);
                prop_assert_eq!(handshake.matches("ERROR: ").count(), bad_names.len(), "{}", handshake);

                // The session, then a last message to know everything before it was handled.
                let mut expected = Vec::new();
                let mut input = Vec::new();
                for (line, crlf) in &lines {
                    expected.push(outcome(line, *crlf));
                    input.extend_from_slice(line);
                    input.extend_from_slice(if *crlf { b"\r\n" } else { b"\n" });
                }
                input.extend_from_slice(format!("{SENTINEL}\n").as_bytes());
                let writer = tokio::spawn(async move {
                    write.write_all(&input).await.unwrap();
                    write
                });
                let mut output = Vec::new();
                read_until(&mut read, &mut output, format!("[alice] {SENTINEL}\n").as_bytes()).await;
                let mut write = writer.await.unwrap();
                write.write_all(b"/quit\n").await.unwrap();
                read.read_to_end(&mut output).await.unwrap();
                server.await.unwrap().unwrap();

                let said: Vec<String> = expected
                    .iter()
                    .filter_map(|o| match o { Outcome::Said(text) => Some(text.clone()), _ => None })
                    .chain([SENTINEL.to_owned()])
                    .collect();
                let output = String::from_utf8_lossy(&output).into_owned();
                let lines_seen: Vec<&str> = output.lines().collect();
                let echoed: Vec<String> =
                    lines_seen.iter().filter_map(|l| l.strip_prefix("[alice] ").map(str::to_owned)).collect();
                prop_assert_eq!(&echoed, &said, "{}", output);
                let errors = lines_seen.iter().filter(|l| l.starts_with("ERROR: ")).count();
                prop_assert_eq!(errors, expected.iter().filter(|o| **o == Outcome::Refused).count(), "{}", output);
                let users = lines_seen.iter().filter(|l| **l == "Connected users:").count();
                prop_assert_eq!(users, expected.iter().filter(|o| **o == Outcome::Users).count(), "{}", output);
                for line in &lines_seen {
                    let known = line.starts_with("[alice] ")
                        || line.starts_with("ERROR: ")
                        || line.starts_with("*** alice joined")
                        || ["Connected users:", "  - alice", "  - observer", ""].contains(line);
                    prop_assert!(known, "unexpected line {:?} in {}", line, output);
                }

                // What the room heard: the join, each message once and in order, the leave.
                let mut heard = Vec::new();
                loop {
                    match tokio::time::timeout(Duration::from_secs(10), observer.next_event()).await.unwrap() {
                        Received::Event(delivered) => {
                            let event = delivered.event.clone();
                            let done = matches!(&event, RoomEvent::Left { name, .. } if name == "alice");
                            heard.push(event);
                            if done {
                                break;
                            }
                        }
                        other => prop_assert!(false, "the observer got {other:?}"),
                    }
                }
                let mut room_expected = vec![
                    RoomEvent::Joined { name: "observer".into() },
                    RoomEvent::Joined { name: "alice".into() },
                ];
                room_expected.extend(said.into_iter().map(|text| RoomEvent::Message { from: "alice".into(), text }));
                room_expected.push(RoomEvent::Left { name: "alice".into(), reason: LeaveReason::Quit });
                prop_assert_eq!(heard, room_expected);
                Ok(())
            })?;
        }
    }
}

//! Chat members on both front doors — gRPC streams and telnet — in the one room. Each
//! session has a name of its own (`g3-2`: client 3's second session) and says `m1`, `m2`, …
//! while it records everything it receives. One member on each door reads slowly on purpose
//! (a small receive window, long pauses), so the room has to skip events for it and say so.

use std::time::Duration;

use rand::Rng;
use switchboard_client::pb::{self, chat_event::Event, chat_request::Action, chat_service_client::ChatServiceClient};
use switchboard_soak::history::{ChatSay, ChatSeen, ChatSession, Door, Failure, Micros};
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    net::TcpSocket,
    sync::mpsc,
    time::Instant,
};
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Endpoint;

use crate::run::{OP_TIMEOUT, SharedCtx};

/// How a slow member reads: a burst of reading, then a long pause.
const SLOW_READING: Duration = Duration::from_secs(2);
const SLOW_PAUSE: std::ops::Range<u64> = 5_000..10_000;

/// Messages carry this much padding after their number, so that what the buffers on the
/// way (HTTP/2 windows, tonic's encoder, socket buffers) hold is a few seconds of chat, not
/// minutes, and a paused reader is made to skip.
const PADDING: usize = 1000;

fn text(n: u64) -> String {
    format!("m{n} {}", "x".repeat(PADDING))
}

pub async fn grpc_member(ctx: SharedCtx, slow: bool) {
    let id = ctx.client_id();
    let mut session = 0;
    while !ctx.stopped() {
        session += 1;
        let name = format!("g{id}-{session}");
        let ok = grpc_session(&ctx, &name, slow).await;
        ctx.pause(if ok { 100..400 } else { 300..800 }).await;
    }
}

/// One gRPC chat session; whether it got in.
async fn grpc_session(ctx: &SharedCtx, name: &str, slow: bool) -> bool {
    let mut endpoint = match Endpoint::from_shared(format!("http://{}", ctx.doors.grpc)) {
        Ok(endpoint) => endpoint.connect_timeout(Duration::from_secs(1)).tcp_nodelay(true),
        Err(_) => return false,
    };
    if slow {
        // A reader that stops reading fills a 2 KiB window in a few dozen events.
        endpoint = endpoint.initial_stream_window_size(2048);
    }
    let Ok(Ok(channel)) = tokio::time::timeout(OP_TIMEOUT, endpoint.connect()).await else { return false };
    let (requests, outbox) = mpsc::channel(64);
    let join = pb::ChatRequest { action: Some(Action::Join(pb::Join { name: name.to_owned() })) };
    if requests.send(join).await.is_err() {
        return false;
    }
    let mut stub = ChatServiceClient::new(channel);
    let Ok(Ok(response)) = tokio::time::timeout(OP_TIMEOUT, stub.chat(ReceiverStream::new(outbox))).await else {
        return false;
    };
    let mut events = response.into_inner();
    match tokio::time::timeout(OP_TIMEOUT, events.message()).await {
        Ok(Ok(Some(pb::ChatEvent { event: Some(Event::Welcome(_)), .. }))) => {}
        _ => return false,
    }
    let joined = ctx.now();
    let mut seen: Vec<(Micros, ChatSeen)> = Vec::new();
    let mut says: Vec<ChatSay> = Vec::new();
    let life = Instant::now() + Duration::from_millis(rand::rng().random_range(10_000..30_000));
    let mut next_say = Instant::now() + say_gap();
    let mut reading = true;
    let mut toggle = Instant::now() + if slow { SLOW_READING } else { Duration::from_secs(3600) };
    let mut n = 0u64;
    let mut quitting: Option<Instant> = None;
    let end = loop {
        tokio::select! {
            () = tokio::time::sleep_until(next_say), if quitting.is_none() => {
                next_say = Instant::now() + say_gap();
                let say = pb::ChatRequest { action: Some(Action::Say(pb::Say { text: text(n + 1) })) };
                // A full outbox (the stream is stuck) skips this turn rather than waiting.
                if requests.try_send(say).is_ok() {
                    n += 1;
                    says.push(ChatSay { door: Door::Grpc, member: name.to_owned(), n, invoke: ctx.now(), outcome: Ok(()) });
                }
            }
            () = tokio::time::sleep_until(toggle), if slow => {
                reading = !reading;
                let next = if reading { SLOW_READING } else { Duration::from_millis(rand::rng().random_range(SLOW_PAUSE)) };
                toggle = Instant::now() + next;
            }
            message = events.message(), if reading || quitting.is_some() => match message {
                Ok(Some(event)) => {
                    let at = ctx.now();
                    match event.event {
                        Some(Event::Message(message)) => {
                            if let Some(n) = number(&message.text) {
                                seen.push((at, ChatSeen::Message { sequence: Some(event.sequence), from: message.from, n }));
                            }
                        }
                        Some(Event::MemberJoined(_) | Event::MemberLeft(_)) => {
                            seen.push((at, ChatSeen::Room { sequence: Some(event.sequence) }));
                        }
                        Some(Event::Missed(missed)) => seen.push((at, ChatSeen::Missed { count: missed.count })),
                        Some(Event::Error(error)) => seen.push((at, ChatSeen::Refused { message: error.message })),
                        Some(Event::Goodbye(goodbye)) => break format!("goodbye: {}", goodbye.reason),
                        Some(Event::Welcome(_) | Event::Members(_)) | None => {}
                    }
                }
                Ok(None) => break "stream ended".to_owned(),
                Err(status) => break format!("{:?}: {}", status.code(), status.message()),
            },
            () = tokio::time::sleep_until(life), if quitting.is_none() => {
                let _ = requests.try_send(pb::ChatRequest { action: Some(Action::Quit(pb::Quit {})) });
                quitting = Some(Instant::now() + OP_TIMEOUT);
            }
            () = ctx.stopping(), if quitting.is_none() => {
                let _ = requests.try_send(pb::ChatRequest { action: Some(Action::Quit(pb::Quit {})) });
                quitting = Some(Instant::now() + OP_TIMEOUT);
            }
            () = async { if let Some(at) = quitting { tokio::time::sleep_until(at).await } else { std::future::pending().await } } => {
                break "no goodbye after quit".to_owned();
            }
        }
    };
    let ended = ctx.now();
    let mut history = ctx.record();
    history.chat_says.extend(says);
    history.chat_sessions.push(ChatSession {
        door: Door::Grpc,
        member: name.to_owned(),
        slow,
        joined,
        ended,
        seen,
        end,
    });
    true
}

fn say_gap() -> Duration {
    Duration::from_millis(rand::rng().random_range(40..160))
}

/// `m17 xxx…` → 17.
fn number(text: &str) -> Option<u64> {
    text.strip_prefix('m')?.split(' ').next()?.parse().ok()
}

pub async fn telnet_member(ctx: SharedCtx, slow: bool) {
    let id = ctx.client_id();
    let mut session = 0;
    while !ctx.stopped() {
        session += 1;
        let name = format!("t{id}-{session}");
        let ok = telnet_session(&ctx, &name, slow).await.is_ok();
        ctx.pause(if ok { 100..400 } else { 300..800 }).await;
    }
}

async fn telnet_session(ctx: &SharedCtx, name: &str, slow: bool) -> Result<(), Failure> {
    let socket = TcpSocket::new_v4().map_err(|e| Failure::refused("socket", e.to_string()))?;
    if slow {
        // Little room in the kernel on our side: the server's queue for us fills sooner.
        let _ = socket.set_recv_buffer_size(4096);
    }
    let stream = tokio::time::timeout(OP_TIMEOUT, socket.connect(ctx.doors.legacy_chat))
        .await
        .map_err(|_| Failure::refused("connect failed", "timeout"))?
        .map_err(|e| Failure::refused("connect failed", e.to_string()))?;
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    // The prompt has no newline.
    let mut prompt = Vec::new();
    let expected = b"Enter your name: ";
    while !prompt.ends_with(expected) {
        let mut byte = [0u8; 1];
        match tokio::time::timeout(OP_TIMEOUT, reader.read(&mut byte)).await {
            Ok(Ok(1)) => prompt.push(byte[0]),
            _ => return Err(Failure::unknown("no prompt", String::from_utf8_lossy(&prompt).into_owned())),
        }
        if prompt.len() > 1024 {
            return Err(Failure::unknown("no prompt", "too long"));
        }
    }
    write
        .write_all(format!("{name}\n").as_bytes())
        .await
        .map_err(|e| Failure::unknown("connection lost", e.to_string()))?;
    let mut line = String::new();
    let welcome = format!("Welcome to the chat, {name}!");
    loop {
        line.clear();
        match tokio::time::timeout(OP_TIMEOUT, reader.read_line(&mut line)).await {
            Ok(Ok(n)) if n > 0 => {
                if line.trim_end() == welcome {
                    break;
                }
                if line.starts_with("ERROR") {
                    return Err(Failure::refused("ERROR", line.trim_end().to_owned()));
                }
            }
            _ => return Err(Failure::unknown("connection lost", "before the welcome")),
        }
    }
    let joined = ctx.now();

    // The writer says m1, m2, … on its own task, so a paused reader keeps talking.
    let (stop_writer, mut writer_stopped) = tokio::sync::oneshot::channel::<()>();
    let writer_ctx = ctx.clone();
    let member = name.to_owned();
    let writer = tokio::spawn(async move {
        let mut says = Vec::new();
        let mut n = 0u64;
        loop {
            tokio::select! {
                () = tokio::time::sleep(say_gap()) => {}
                _ = &mut writer_stopped => break,
            }
            let line = format!("{}\n", text(n + 1));
            let invoke = writer_ctx.now();
            match tokio::time::timeout(OP_TIMEOUT, write.write_all(line.as_bytes())).await {
                Ok(Ok(())) => {
                    n += 1;
                    says.push(ChatSay { door: Door::TelnetChat, member: member.clone(), n, invoke, outcome: Ok(()) });
                }
                _ => break,
            }
        }
        (says, write)
    });

    // `next_line` may be cancelled by the other branches without losing a partial line.
    let mut lines = reader.lines();
    let mut seen: Vec<(Micros, ChatSeen)> = Vec::new();
    let life = Instant::now() + Duration::from_millis(rand::rng().random_range(10_000..30_000));
    let mut pause_at = Instant::now() + SLOW_READING;
    let end = loop {
        if slow && Instant::now() >= pause_at {
            let pause = Duration::from_millis(rand::rng().random_range(SLOW_PAUSE));
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = ctx.stopping() => {}
            }
            pause_at = Instant::now() + SLOW_READING;
        }
        if ctx.stopped() || Instant::now() >= life {
            break "left".to_owned();
        }
        let read = tokio::select! {
            read = lines.next_line() => read,
            () = tokio::time::sleep_until(if slow { pause_at.min(life) } else { life }) => continue,
            () = ctx.stopping() => continue,
        };
        let at = ctx.now();
        let line = match read {
            Ok(Some(line)) => line,
            Ok(None) => break "connection closed".to_owned(),
            Err(e) => break format!("connection lost: {e}"),
        };
        let text = line.trim_end_matches('\r');
        if let Some(rest) = text.strip_prefix('[')
            && let Some((from, said)) = rest.split_once("] ")
        {
            if let Some(n) = number(said) {
                seen.push((at, ChatSeen::Message { sequence: None, from: from.to_owned(), n }));
            }
        } else if let Some(count) = text
            .strip_prefix("*** ")
            .and_then(|rest| rest.strip_suffix(" messages skipped: you were reading too slowly ***"))
        {
            match count.parse() {
                Ok(count) => seen.push((at, ChatSeen::Missed { count })),
                Err(_) => seen.push((at, ChatSeen::Refused { message: format!("unreadable skip notice: {text}") })),
            }
        } else if text.starts_with("*** ")
            && (text.ends_with(" joined the chat ***") || text.ends_with(" left the chat ***"))
        {
            seen.push((at, ChatSeen::Room { sequence: None }));
        } else if text.starts_with("*** Server shutting down") {
            break text.to_owned();
        } else if let Some(error) = text.strip_prefix("ERROR: ") {
            seen.push((at, ChatSeen::Refused { message: error.to_owned() }));
        }
    };
    let _ = stop_writer.send(());
    let (says, mut write) = writer.await.map_err(|e| Failure::unknown("writer", e.to_string()))?;
    let _ = tokio::time::timeout(Duration::from_secs(1), write.write_all(b"/quit\n")).await;
    let ended = ctx.now();
    let mut history = ctx.record();
    history.chat_says.extend(says);
    history.chat_sessions.push(ChatSession {
        door: Door::TelnetChat,
        member: name.to_owned(),
        slow,
        joined,
        ended,
        seen,
        end,
    });
    Ok(())
}

//! Web chat loads (issue 14): members on the web chat's WebSocket (`/v1/chat/ws`, proto3 JSON
//! text frames) in one room with gRPC members — the fan-out with some WebSocket members, and
//! WebSocket members held idle while the harness measures the server's memory.
//!
//! Every member checks the room's sequence numbers: a room event it never received must have
//! been announced by a `missed` event at that point, else it counts as an unreported miss.

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use futures_util::{SinkExt as _, StreamExt as _};
use switchboard::pb::{
    ChatEvent, ChatRequest, Join, Say, chat_event::Event, chat_request::Action, chat_service_client::ChatServiceClient,
};
use tokio::{net::TcpStream, sync::watch, task::JoinHandle};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, tungstenite::Message};

use super::connect;

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What one member saw.
#[derive(Default, Clone, Copy)]
struct Tally {
    /// Messages received in the measured window.
    measured: u64,
    delivered: u64,
    /// Room events skipped and announced by `missed`.
    missed: u64,
    /// Room events skipped without a `missed` event before the next one: must stay 0.
    unreported: u64,
    last_sequence: u64,
    announced: u64,
}

impl Tally {
    /// A room event (`sequence` > 0); `message` when it is a chat message.
    fn room_event(&mut self, sequence: u64, message: bool, window: Option<(Instant, Instant)>) {
        if self.last_sequence > 0 {
            let gap = sequence.saturating_sub(self.last_sequence + 1);
            self.unreported += gap.saturating_sub(self.announced);
        }
        self.announced = 0;
        self.last_sequence = sequence;
        if message {
            self.delivered += 1;
            let now = Instant::now();
            if window.is_some_and(|(from, to)| now >= from && now <= to) {
                self.measured += 1;
            }
        }
    }

    fn missed(&mut self, count: u64) {
        self.missed += count;
        self.announced += count;
    }
}

/// A WebSocket member past its welcome.
async fn ws_member(http: SocketAddr, name: &str) -> anyhow::Result<Ws> {
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{http}/v1/chat/ws"))
        .await
        .with_context(|| format!("opening /v1/chat/ws on {http} (raise ulimit -n?)"))?;
    ws.send(Message::text(format!(r#"{{"join":{{"name":"{name}"}}}}"#))).await?;
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) if text.contains(r#""welcome":"#) => return Ok(ws),
            Some(Ok(Message::Close(frame))) => bail!("{name} was refused: {frame:?}"),
            Some(Ok(_)) => continue,
            Some(Err(error)) => return Err(error.into()),
            None => bail!("{name}: the socket closed before the welcome"),
        }
    }
}

/// The room sequence of an event frame: ChatEvent JSON starts with its `sequence` field.
fn frame_sequence(text: &str) -> Option<u64> {
    text.strip_prefix(r#"{"sequence":""#)?.split('"').next()?.parse().ok()
}

fn frame_missed(text: &str) -> Option<u64> {
    let at = text.find(r#""missed":{"count":""#)? + r#""missed":{"count":""#.len();
    text[at..].split('"').next()?.parse().ok()
}

async fn read_ws(
    mut ws: Ws,
    window: watch::Receiver<Option<(Instant, Instant)>>,
    mut stop: watch::Receiver<bool>,
) -> Tally {
    let mut tally = Tally::default();
    loop {
        let frame = tokio::select! {
            frame = ws.next() => frame,
            _ = stop.changed() => return tally,
        };
        let Some(Ok(Message::Text(text))) = frame else {
            if matches!(frame, Some(Ok(_))) {
                continue;
            }
            return tally;
        };
        if let Some(count) = frame_missed(&text) {
            tally.missed(count);
        } else if let Some(sequence) = frame_sequence(&text).filter(|s| *s > 0) {
            tally.room_event(sequence, text.contains(r#""message":{"#), *window.borrow());
        }
    }
}

async fn read_grpc(
    mut events: tonic::Streaming<ChatEvent>,
    window: watch::Receiver<Option<(Instant, Instant)>>,
    mut stop: watch::Receiver<bool>,
) -> Tally {
    let mut tally = Tally::default();
    loop {
        let event = tokio::select! {
            event = events.message() => event,
            _ = stop.changed() => return tally,
        };
        let Ok(Some(event)) = event else { return tally };
        match event.event {
            Some(Event::Missed(missed)) => tally.missed(missed.count),
            Some(kind) if event.sequence > 0 => {
                tally.room_event(event.sequence, matches!(kind, Event::Message(_)), *window.borrow());
            }
            _ => {}
        }
    }
}

pub async fn chat_fanout(
    grpc: SocketAddr,
    http: SocketAddr,
    members: usize,
    websocket: usize,
    senders: usize,
    duration: f64,
    warmup: f64,
) -> anyhow::Result<()> {
    if websocket > members || senders > members - websocket {
        bail!("the senders are gRPC members: need senders <= members - websocket");
    }
    // Readers start counting once everyone has joined: the window is known then.
    let (window_tx, window_rx) = watch::channel(None::<(Instant, Instant)>);
    let (stop_tx, stop) = watch::channel(false);
    let mut readers: Vec<(bool, JoinHandle<Tally>)> = Vec::new();
    let mut sender_txs = Vec::new();
    // Kept open to the end: a member whose request stream ends leaves the room.
    let mut listener_txs = Vec::new();
    for i in 0..members {
        if i < websocket {
            let ws = ws_member(http, &format!("ws{i}")).await?;
            readers.push((true, tokio::spawn(read_ws(ws, window_rx.clone(), stop.clone()))));
        } else {
            let mut client = ChatServiceClient::new(connect(grpc).await?);
            let (tx, rx) = tokio::sync::mpsc::channel(64);
            tx.send(ChatRequest { action: Some(Action::Join(Join { name: format!("grpc{i}") })) }).await?;
            let mut events = client.chat(tokio_stream::wrappers::ReceiverStream::new(rx)).await?.into_inner();
            events.message().await?.context("welcome")?;
            readers.push((false, tokio::spawn(read_grpc(events, window_rx.clone(), stop.clone()))));
            if sender_txs.len() < senders { sender_txs.push(tx) } else { listener_txs.push(tx) }
        }
    }
    let start = Instant::now();
    let window = (start + Duration::from_secs_f64(warmup), start + Duration::from_secs_f64(warmup + duration));
    let _ = window_tx.send(Some(window));
    let said: Vec<JoinHandle<u64>> = sender_txs
        .into_iter()
        .enumerate()
        .map(|(s, tx)| {
            tokio::spawn(async move {
                let mut n = 0u64;
                while Instant::now() < window.1 {
                    let text = format!("s{s}-{n}");
                    if tx.send(ChatRequest { action: Some(Action::Say(Say { text })) }).await.is_err() {
                        break;
                    }
                    n += 1;
                }
                n
            })
        })
        .collect();
    let mut total_said = 0;
    for sender in said {
        total_said += sender.await?;
    }
    // Let the last messages arrive, then stop reading.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let _ = stop_tx.send(true);
    drop(listener_txs);
    let (mut all, mut over_ws, mut over_grpc) = (Tally::default(), 0u64, 0u64);
    for (is_ws, reader) in readers {
        let tally = reader.await?;
        all.measured += tally.measured;
        all.delivered += tally.delivered;
        all.missed += tally.missed;
        all.unreported += tally.unreported;
        if is_ws {
            over_ws += tally.measured;
        } else {
            over_grpc += tally.measured;
        }
    }
    println!(
        "RESULT deliveries_s={:.0} ws_deliveries_s={:.0} grpc_deliveries_s={:.0} said={total_said} delivered={} \
         missed={} unreported={} members={members} websocket={websocket} senders={senders}",
        all.measured as f64 / duration,
        over_ws as f64 / duration,
        over_grpc as f64 / duration,
        all.delivered,
        all.missed,
        all.unreported,
    );
    Ok(())
}

pub async fn ws_idle(http: SocketAddr, members: usize, hold: f64) -> anyhow::Result<()> {
    let mut sockets = Vec::with_capacity(members);
    for i in 0..members {
        sockets.push(ws_member(http, &format!("wsidle{i}")).await?);
    }
    println!("READY members={members}");
    // Held, not read: idle members in an idle room receive nothing but pings, which the
    // server may send at most every 15 s; a hold longer than its 45 s silence limit would need
    // the pings answered.
    tokio::time::sleep(Duration::from_secs_f64(hold)).await;
    println!("RESULT members={}", sockets.len());
    Ok(())
}

//! The seed's binary frame protocol ("Binary Protocol Example"), plus call frames that reach
//! any unary gRPC method.
//!
//! A frame is `[u32 big-endian length][u8 type][payload]`, where `length` counts the type
//! byte and the payload, and is 1..=1 MiB. Echo (0x01) is answered with the same frame, Ping
//! (0x02) with an empty Pong (0x03), Data (0x04) is taken without a reply and unknown types
//! are ignored, as in the seed. A length of 0 (which crashed the seed: `0 - 1` underflowed to
//! a 4 GiB allocation) or above 1 MiB cannot be resynchronised: the connection is closed.
//!
//! Call (0x10) and Reply (0x11) are the extension; their layout is in the README ("Binary
//! call frames") and in [`parse_call`] / [`encode_reply`].

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, BufReader},
    net::TcpStream,
    sync::Notify,
};
use tonic::Code;

use super::{
    ConnectionError, Replies, Settings,
    grpc_call::{Call, GrpcGateway, Reply},
    within_idle,
};

/// The largest `length` field: the type byte plus a payload of 1 MiB - 1 (the seed's limit).
pub const MAX_FRAME_LENGTH: u32 = 1024 * 1024;

pub const ECHO: u8 = 0x01;
pub const PING: u8 = 0x02;
pub const PONG: u8 = 0x03;
pub const DATA: u8 = 0x04;
pub const CALL: u8 = 0x10;
pub const REPLY: u8 = 0x11;

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("frame length 0: a frame holds at least its type byte")]
    Empty,
    #[error("frame length {0} is above the limit of {MAX_FRAME_LENGTH}")]
    TooLarge(u32),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CallFrameError {
    #[error("the call frame ends inside its {0}")]
    Truncated(&'static str),
    #[error("the method name is not UTF-8")]
    MethodNotUtf8,
    #[error("metadata entry {0} is not UTF-8")]
    MetadataNotUtf8(usize),
}

struct Frame {
    kind: u8,
    payload: Bytes,
    /// This frame's share of the frame budget, given back when the frame is dropped.
    _budget: BudgetShare,
}

pub(crate) async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    grpc: &GrpcGateway,
    settings: &Settings,
    budget: &Arc<FrameBudget>,
) -> Result<(), ConnectionError> {
    let local = stream.local_addr()?;
    let (read, write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let mut replies = Replies::new(write, settings.idle_timeout);
    loop {
        if reader.buffer().is_empty() {
            // Nothing more pipelined: the client waits for what was answered so far.
            replies.flush().await?;
        }
        // A frame's length within the idle deadline, then the frame within the frame deadline.
        let frame = match read_frame(&mut reader, settings, budget).await {
            Ok(Some(frame)) => frame,
            Ok(None) => return Ok(()),
            Err(error) => {
                replies.flush().await?;
                return Err(error);
            }
        };
        match frame.kind {
            ECHO => replies.bytes(&encode(ECHO, &frame.payload)).await?,
            PING => replies.bytes(&encode(PONG, &[])).await?,
            DATA => tracing::trace!(bytes = frame.payload.len(), "data frame"),
            CALL => {
                let reply = match parse_call(frame.payload) {
                    Ok(call) => {
                        tracing::debug!(method = %call.method, "call frame");
                        // Room for the type byte, the code and an empty message.
                        let max_response = MAX_FRAME_LENGTH as usize - 1 - 4;
                        grpc.call(call, local, peer, settings.idle_timeout, max_response).await
                    }
                    Err(error) => Reply {
                        code: Code::InvalidArgument,
                        message: format!("malformed call frame: {error}"),
                        response: Bytes::new(),
                    },
                };
                replies.bytes(&encode_reply(&reply)).await?;
            }
            other => tracing::debug!(kind = other, "unknown frame type ignored"),
        }
    }
}

/// The bytes of binary frames being received, over every connection, and their limit. Not a
/// fair semaphore on purpose: a small frame that fits goes ahead of a large one waiting for
/// room, so a few stalled senders cannot queue everyone else behind them.
#[derive(Debug)]
pub struct FrameBudget {
    used: AtomicUsize,
    limit: usize,
    freed: Notify,
}

impl FrameBudget {
    pub fn new(limit: usize) -> Arc<Self> {
        Arc::new(Self { used: AtomicUsize::new(0), limit, freed: Notify::new() })
    }

    fn try_take(&self, bytes: usize) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(bytes).filter(|total| *total <= self.limit)
            })
            .is_ok()
    }

    /// Takes `bytes`, waiting for room (callers bound the wait with the frame deadline).
    async fn take(&self, bytes: usize) {
        loop {
            let freed = self.freed.notified();
            let mut freed = std::pin::pin!(freed);
            // Registered before the check, so a release in between is not missed.
            freed.as_mut().enable();
            if self.try_take(bytes) {
                return;
            }
            freed.await;
        }
    }

    fn give_back(&self, bytes: usize) {
        if bytes > 0 {
            self.used.fetch_sub(bytes, Ordering::AcqRel);
            self.freed.notify_waiters();
        }
    }
}

/// What one frame holds of the budget; given back when dropped.
#[derive(Debug)]
struct BudgetShare {
    budget: Arc<FrameBudget>,
    bytes: usize,
}

impl Drop for BudgetShare {
    fn drop(&mut self) {
        self.budget.give_back(self.bytes);
    }
}

/// The next frame; `None` when the client closed between frames.
///
/// A frame's bytes are taken from `budget` (shared by every connection) before they are
/// buffered and given back once the frame is handled, so partly received frames never hold
/// more than the budget; a frame that stalls, or waits too long for room, ends the connection
/// after the frame deadline.
async fn read_frame<R: tokio::io::AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
    settings: &Settings,
    budget: &Arc<FrameBudget>,
) -> Result<Option<Frame>, ConnectionError> {
    let idle = settings.idle_timeout;
    let length = within_idle(idle, async {
        if reader.fill_buf().await?.is_empty() {
            return Ok(None);
        }
        reader.read_u32().await.map(Some)
    })
    .await?;
    let Some(length) = length else {
        return Ok(None);
    };
    if length == 0 {
        return Err(FrameError::Empty.into());
    }
    if length > MAX_FRAME_LENGTH {
        return Err(FrameError::TooLarge(length).into());
    }
    let deadline = settings.frame_timeout;
    let frame = tokio::time::timeout(deadline, async {
        let kind = reader.read_u8().await?;
        // Charged to the budget as the bytes arrive: a sender holds only what it really sent,
        // and once the budget is spent, further bytes wait for room.
        let mut payload = BytesMut::new();
        let mut held = BudgetShare { budget: Arc::clone(budget), bytes: 0 };
        let mut left = length as usize - 1;
        while left > 0 {
            let arrived = reader.fill_buf().await?;
            if arrived.is_empty() {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            let n = arrived.len().min(left);
            budget.take(n).await;
            held.bytes += n;
            payload.extend_from_slice(&arrived[..n]);
            reader.consume(n);
            left -= n;
        }
        Ok::<_, std::io::Error>(Frame { kind, payload: payload.freeze(), _budget: held })
    })
    .await;
    match frame {
        Ok(Ok(frame)) => Ok(Some(frame)),
        Ok(Err(error)) => Err(error.into()),
        Err(_elapsed) => Err(ConnectionError::FrameStalled(deadline)),
    }
}

fn encode(kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(5 + payload.len());
    // Payloads here are below MAX_FRAME_LENGTH, so the cast cannot truncate.
    frame.extend_from_slice(&(1 + payload.len() as u32).to_be_bytes());
    frame.push(kind);
    frame.extend_from_slice(payload);
    frame
}

/// Call payload: `u16 method length, method (UTF-8), u16 metadata count, then per entry
/// u16 key length, key, u16 value length, value; the rest is the protobuf request`.
/// All integers big-endian.
pub fn parse_call(mut payload: Bytes) -> Result<Call, CallFrameError> {
    fn take(payload: &mut Bytes, what: &'static str) -> Result<Bytes, CallFrameError> {
        if payload.remaining() < 2 {
            return Err(CallFrameError::Truncated(what));
        }
        let length = usize::from(payload.get_u16());
        if payload.remaining() < length {
            return Err(CallFrameError::Truncated(what));
        }
        Ok(payload.split_to(length))
    }
    let method = take(&mut payload, "method name")?;
    let method = String::from_utf8(method.to_vec()).map_err(|_| CallFrameError::MethodNotUtf8)?;
    if payload.remaining() < 2 {
        return Err(CallFrameError::Truncated("metadata count"));
    }
    let count = payload.get_u16();
    let mut metadata = Vec::with_capacity(usize::from(count).min(64));
    for index in 0..usize::from(count) {
        let key = take(&mut payload, "metadata")?;
        let value = take(&mut payload, "metadata")?;
        let (Ok(key), Ok(value)) = (String::from_utf8(key.to_vec()), String::from_utf8(value.to_vec())) else {
            return Err(CallFrameError::MetadataNotUtf8(index));
        };
        metadata.push((key, value));
    }
    Ok(Call { method, metadata, message: payload })
}

/// Reply frame: `u16 status code, u16 message length, message (UTF-8), then the protobuf
/// response` (empty unless the code is 0, OK).
pub fn encode_reply(reply: &Reply) -> Vec<u8> {
    let mut message = reply.message.as_str();
    while message.len() > usize::from(u16::MAX) {
        // Cut at a character boundary so the message stays UTF-8.
        let mut end = usize::from(u16::MAX);
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message = &message[..end];
    }
    let mut payload = BytesMut::with_capacity(4 + message.len() + reply.response.len());
    payload.put_u16(reply.code as u16);
    payload.put_u16(message.len() as u16);
    payload.extend_from_slice(message.as_bytes());
    payload.extend_from_slice(&reply.response);
    encode(REPLY, &payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_frames_parse_and_reject_truncation() {
        let mut payload = BytesMut::new();
        payload.put_u16(4);
        payload.extend_from_slice(b"/a/b");
        payload.put_u16(1);
        payload.put_u16(1);
        payload.extend_from_slice(b"k");
        payload.put_u16(2);
        payload.extend_from_slice(b"vv");
        payload.extend_from_slice(b"\x0a\x01x");
        let call = parse_call(payload.clone().freeze()).unwrap();
        assert_eq!(call.method, "/a/b");
        assert_eq!(call.metadata, [("k".to_owned(), "vv".to_owned())]);
        assert_eq!(&call.message[..], b"\x0a\x01x");
        for cut in [0, 1, 5, 7, 10] {
            assert!(parse_call(payload.clone().freeze().slice(..cut)).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn replies_encode_code_message_and_response() {
        let reply = Reply { code: Code::NotFound, message: "nope".into(), response: Bytes::new() };
        assert_eq!(encode_reply(&reply), b"\x00\x00\x00\x09\x11\x00\x05\x00\x04nope");
    }
}

/// Property tests (proptest) of the frame decoder, the call-frame payload and the reply
/// encoding. Cases: 256 by default (`PROPTEST_CASES` for longer runs); failures are kept in
/// `proptest-regressions/legacy/binary.txt` and replayed first.
#[cfg(test)]
mod fuzz {
    use std::convert::Infallible;

    use proptest::prelude::*;
    use tokio::{io::AsyncReadExt as _, net::TcpListener};
    use tonic::{body::Body, codegen::http};

    use super::*;
    use crate::legacy::lines::fuzz::{Chunked, write_in_segments};

    fn settings() -> Settings {
        // Room for every frame of a stream at once (`decode_all` holds them all): these
        // properties are about bytes, not waiting.
        Settings { frame_buffer_bytes: (MAX_FRAMES + 1) * MAX_FRAME_LENGTH as usize, ..Settings::for_tests(1024) }
    }

    /// Most whole frames in a generated stream.
    const MAX_FRAMES: usize = 8;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
    }

    /// One piece of a binary stream.
    #[derive(Debug, Clone)]
    enum Piece {
        Frame(u8, Vec<u8>),
        /// A length field of 0: refused, the connection closes.
        Empty,
        /// A length field above the limit: refused, the connection closes.
        TooLarge(u32),
        /// The first bytes of a frame, then the stream ends.
        Cut(u8, Vec<u8>, usize),
    }

    fn kind() -> impl Strategy<Value = u8> {
        prop_oneof![4 => prop::sample::select(vec![ECHO, PING, PONG, DATA, CALL, REPLY]), 1 => any::<u8>()]
    }

    fn payload() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            8 => prop::collection::vec(any::<u8>(), 0..64),
            1 => prop::collection::vec(any::<u8>(), 0..4096),
            // The largest payload there is.
            1 => Just(vec![7; MAX_FRAME_LENGTH as usize - 1]),
        ]
    }

    /// Frames, and maybe one bad ending: a stream the decoder cannot go on with ends there.
    fn stream() -> impl Strategy<Value = Vec<Piece>> {
        let frames = prop::collection::vec((kind(), payload()).prop_map(|(k, p)| Piece::Frame(k, p)), 0..MAX_FRAMES);
        let ending = prop_oneof![
            3 => Just(None),
            1 => Just(Some(Piece::Empty)),
            1 => (MAX_FRAME_LENGTH + 1..=u32::MAX).prop_map(|n| Some(Piece::TooLarge(n))),
            1 => (kind(), prop::collection::vec(any::<u8>(), 1..64), 0usize..64)
                .prop_map(|(k, p, cut)| Some(Piece::Cut(k, p, cut))),
        ];
        (frames, ending).prop_map(|(mut pieces, ending)| {
            pieces.extend(ending);
            pieces
        })
    }

    fn bytes_of(pieces: &[Piece]) -> Vec<u8> {
        let mut out = Vec::new();
        for piece in pieces {
            match piece {
                Piece::Frame(kind, payload) => out.extend_from_slice(&encode(*kind, payload)),
                Piece::Empty => out.extend_from_slice(&0u32.to_be_bytes()),
                Piece::TooLarge(length) => out.extend_from_slice(&length.to_be_bytes()),
                Piece::Cut(kind, payload, cut) => {
                    let frame = encode(*kind, payload);
                    out.extend_from_slice(&frame[..cut % frame.len()]);
                }
            }
        }
        out
    }

    /// What the decoder makes of a stream: its frames, then how it ended.
    #[derive(Debug, PartialEq, Eq)]
    enum Ending {
        Closed,
        Empty,
        TooLarge(u32),
        Truncated,
    }

    fn decode_all(input: Vec<u8>, segments: Vec<usize>, budget: &Arc<FrameBudget>) -> (Vec<(u8, Vec<u8>)>, Ending) {
        runtime().block_on(async {
            let mut reader = BufReader::new(Chunked::new(input, segments));
            let mut frames = Vec::new();
            let mut held = 0;
            let ending = loop {
                match read_frame(&mut reader, &settings(), budget).await {
                    Ok(Some(frame)) => {
                        // A frame holds exactly its payload of the budget, until it is dropped.
                        held += frame.payload.len();
                        assert_eq!(budget.used.load(Ordering::Acquire), held);
                        frames.push(frame);
                    }
                    Ok(None) => break Ending::Closed,
                    Err(ConnectionError::Frame(FrameError::Empty)) => break Ending::Empty,
                    Err(ConnectionError::Frame(FrameError::TooLarge(n))) => break Ending::TooLarge(n),
                    Err(ConnectionError::Io(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                        break Ending::Truncated;
                    }
                    Err(other) => panic!("unexpected error {other}"),
                }
            };
            (frames.into_iter().map(|f| (f.kind, f.payload.to_vec())).collect(), ending)
        })
    }

    /// The model: what the pieces say.
    fn expected(pieces: &[Piece]) -> (Vec<(u8, Vec<u8>)>, Ending) {
        let mut frames = Vec::new();
        for piece in pieces {
            match piece {
                Piece::Frame(kind, payload) => frames.push((*kind, payload.clone())),
                Piece::Empty => return (frames, Ending::Empty),
                Piece::TooLarge(n) => return (frames, Ending::TooLarge(*n)),
                Piece::Cut(_, _, cut) if cut % (5 + piece_len(piece)) == 0 => return (frames, Ending::Closed),
                Piece::Cut(..) => return (frames, Ending::Truncated),
            }
        }
        (frames, Ending::Closed)
    }

    fn piece_len(piece: &Piece) -> usize {
        match piece {
            Piece::Frame(_, payload) | Piece::Cut(_, payload, _) => payload.len(),
            _ => 0,
        }
    }

    // -----------------------------------------------------------------------------------------
    // Call frames

    fn encode_call(call: &Call) -> Vec<u8> {
        let mut out = BytesMut::new();
        out.put_u16(call.method.len() as u16);
        out.extend_from_slice(call.method.as_bytes());
        out.put_u16(call.metadata.len() as u16);
        for (key, value) in &call.metadata {
            out.put_u16(key.len() as u16);
            out.extend_from_slice(key.as_bytes());
            out.put_u16(value.len() as u16);
            out.extend_from_slice(value.as_bytes());
        }
        out.extend_from_slice(&call.message);
        out.to_vec()
    }

    fn call() -> impl Strategy<Value = Call> {
        (
            prop_oneof!["/[a-zA-Z.]{1,12}/[A-Za-z]{1,8}", any::<String>()],
            prop::collection::vec((any::<String>(), any::<String>()), 0..4),
            prop::collection::vec(any::<u8>(), 0..64),
        )
            .prop_map(|(method, metadata, message)| Call { method, metadata, message: Bytes::from(message) })
    }

    /// A reply frame split back into its fields.
    fn decode_reply(frame: &[u8]) -> (u8, u16, String, Vec<u8>) {
        let length = u32::from_be_bytes(frame[..4].try_into().unwrap()) as usize;
        assert_eq!(length, frame.len() - 4, "the length field counts the type byte and the payload");
        let code = u16::from_be_bytes([frame[5], frame[6]]);
        let message_len = usize::from(u16::from_be_bytes([frame[7], frame[8]]));
        let message = String::from_utf8(frame[9..9 + message_len].to_vec()).expect("the message stays UTF-8");
        (frame[4], code, message, frame[9 + message_len..].to_vec())
    }

    /// Messages around the 64 KiB limit of the reply's message field, with characters of every
    /// UTF-8 width where the cut falls.
    fn reply_message() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            (65_530usize..65_540, prop::sample::select(vec!["é", "€", "😀", "a"]), 0usize..8)
                .prop_map(|(n, wide, repeat)| format!("{}{}", "a".repeat(n), wide.repeat(repeat))),
        ]
    }

    // -----------------------------------------------------------------------------------------
    // The whole connection loop over TCP

    /// A gateway whose stack is never reached: the methods named here are streaming or unknown.
    fn gateway() -> GrpcGateway {
        let service = tower::util::BoxCloneSyncService::new(tower::service_fn(|_: http::Request<Body>| async {
            Ok::<_, Infallible>(http::Response::new(Body::empty()))
        }));
        GrpcGateway::new(service, &[crate::pb::FILE_DESCRIPTOR_SET]).unwrap()
    }

    /// The frames the server writes back for `pieces` (a call frame: only its status code).
    fn expected_replies(pieces: &[Piece]) -> Vec<(u8, Vec<u8>)> {
        let mut out = Vec::new();
        for piece in pieces {
            let Piece::Frame(kind, payload) = piece else { break };
            match *kind {
                ECHO => out.push((ECHO, payload.clone())),
                PING => out.push((PONG, Vec::new())),
                CALL => {
                    let code = match parse_call(Bytes::copy_from_slice(payload)) {
                        Ok(_) => Code::Unimplemented,
                        Err(_) => Code::InvalidArgument,
                    };
                    out.push((REPLY, (code as u16).to_be_bytes().to_vec()));
                }
                _ => {}
            }
        }
        out
    }

    fn split_frames(mut bytes: &[u8]) -> Vec<(u8, Vec<u8>)> {
        let mut out = Vec::new();
        while !bytes.is_empty() {
            let length = u32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize;
            let (frame, rest) = bytes.split_at(4 + length);
            let payload = if frame[4] == REPLY { frame[5..7].to_vec() } else { frame[5..].to_vec() };
            out.push((frame[4], payload));
            bytes = rest;
        }
        out
    }

    proptest! {
        /// Frames cut into any segments decode to exactly the frames sent; a length of 0 or
        /// above the limit, or a stream that ends inside a frame, is an error and not a panic;
        /// every byte a frame took from the shared budget is given back.
        #[test]
        fn frames_decode_to_what_was_sent(
            pieces in stream(),
            segments in prop::collection::vec(1usize..5000, 1..6),
        ) {
            let budget = FrameBudget::new(settings().frame_buffer_bytes);
            let decoded = decode_all(bytes_of(&pieces), segments, &budget);
            prop_assert_eq!(decoded, expected(&pieces));
            prop_assert_eq!(budget.used.load(Ordering::Acquire), 0, "budget leaked");
        }

        /// Any bytes at all: the decoder returns frames and then stops, without a panic, and
        /// gives its budget back.
        #[test]
        fn any_bytes_decode_without_panicking(
            input in prop::collection::vec(any::<u8>(), 0..512),
            segments in prop::collection::vec(1usize..64, 1..6),
        ) {
            let budget = FrameBudget::new(settings().frame_buffer_bytes);
            let (frames, _ending) = decode_all(input.clone(), segments, &budget);
            let consumed: usize = frames.iter().map(|(_, payload)| 5 + payload.len()).sum();
            prop_assert!(consumed <= input.len());
            prop_assert_eq!(budget.used.load(Ordering::Acquire), 0, "budget leaked");
        }

        /// A call frame's payload parses back to the call it was made from.
        #[test]
        fn call_payloads_round_trip(call in call()) {
            prop_assert_eq!(parse_call(Bytes::from(encode_call(&call))), Ok(call));
        }

        /// Any payload either parses, and then is exactly the encoding of what it parsed to
        /// (nothing skipped or invented), or is refused with a reason; a payload cut anywhere
        /// before its message is refused as truncated.
        #[test]
        fn any_call_payload_parses_exactly_or_is_refused(
            payload in prop::collection::vec(any::<u8>(), 0..128),
            call in call(),
            cut in any::<prop::sample::Index>(),
        ) {
            if let Ok(parsed) = parse_call(Bytes::from(payload.clone())) {
                prop_assert_eq!(encode_call(&parsed), payload);
            }
            let encoded = encode_call(&call);
            let header = encoded.len() - call.message.len();
            let cut = cut.index(header);
            prop_assert!(matches!(
                parse_call(Bytes::copy_from_slice(&encoded[..cut])),
                Err(CallFrameError::Truncated(_))
            ));
        }

        /// A reply frame carries the code, the message (cut at a character boundary to fit its
        /// 16-bit length) and the response, and its length field is right.
        #[test]
        fn replies_encode_their_fields(
            code in 0i32..=16,
            message in reply_message(),
            response in prop::collection::vec(any::<u8>(), 0..64),
        ) {
            let reply = Reply { code: Code::from_i32(code), message: message.clone(), response: Bytes::from(response.clone()) };
            let (kind, decoded_code, decoded_message, decoded_response) = decode_reply(&encode_reply(&reply));
            prop_assert_eq!(kind, REPLY);
            prop_assert_eq!(i32::from(decoded_code), code);
            prop_assert!(message.starts_with(&decoded_message));
            prop_assert!(decoded_message.len() <= usize::from(u16::MAX));
            if message.len() <= usize::from(u16::MAX) {
                prop_assert_eq!(&decoded_message, &message);
            } else {
                // Cut as late as the character boundaries allow.
                prop_assert!(decoded_message.len() > usize::from(u16::MAX) - 4);
            }
            prop_assert_eq!(decoded_response, response);
        }
    }

    proptest! {
        // A TCP connection and a runtime per case: fewer cases by default.
        #![proptest_config(crate::legacy::fuzz_cases(64))]

        /// The connection loop over TCP: echo frames come back as sent, a ping gets a pong,
        /// data and unknown types get nothing, every call frame gets one reply (malformed:
        /// INVALID_ARGUMENT), and a bad length or a cut frame closes the connection after
        /// the replies to everything before it.
        #[test]
        fn the_connection_answers_every_frame_in_order(
            pieces in stream(),
            calls in prop::collection::vec(
                prop_oneof![
                    call().prop_map(|c| encode_call(&c)),
                    Just(encode_call(&Call {
                        method: "/switchboard.v1.KvService/Watch".into(),
                        metadata: vec![],
                        message: Bytes::new(),
                    })),
                    prop::collection::vec(any::<u8>(), 0..32),
                ],
                0..4,
            ),
            segments in prop::collection::vec(1usize..5000, 1..6),
        ) {
            // Call frames among the other frames, before any bad ending.
            let mut pieces = pieces;
            let at = pieces.iter().position(|p| !matches!(p, Piece::Frame(..))).unwrap_or(pieces.len());
            for payload in calls {
                pieces.insert(at.min(pieces.len()), Piece::Frame(CALL, payload));
            }
            let input = bytes_of(&pieces);
            let output = runtime().block_on(async move {
                let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                let addr = listener.local_addr().unwrap();
                let server = tokio::spawn(async move {
                    let (stream, peer) = listener.accept().await.unwrap();
                    let budget = FrameBudget::new(settings().frame_buffer_bytes);
                    let _ = serve(stream, peer, &gateway(), &settings(), &budget).await;
                    assert_eq!(budget.used.load(Ordering::Acquire), 0, "budget leaked");
                });
                let (mut read, write) = tokio::net::TcpStream::connect(addr).await.unwrap().into_split();
                let writer = tokio::spawn(async move { write_in_segments(write, &input, &segments).await.unwrap() });
                let mut output = Vec::new();
                read.read_to_end(&mut output).await.unwrap();
                writer.await.unwrap();
                server.await.unwrap();
                output
            });
            prop_assert_eq!(split_frames(&output), expected_replies(&pieces));
        }
    }
}

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
    let length = match tokio::time::timeout(idle, async {
        if reader.fill_buf().await?.is_empty() {
            return Ok::<_, std::io::Error>(None);
        }
        reader.read_u32().await.map(Some)
    })
    .await
    {
        Ok(Ok(Some(length))) => length,
        Ok(Ok(None)) => return Ok(None),
        Ok(Err(error)) => return Err(error.into()),
        Err(_elapsed) => return Err(ConnectionError::Idle(idle)),
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

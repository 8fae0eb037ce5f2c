//! The binary frame protocol: Echo and Ping frames (checked byte for byte) and Call frames
//! that reach KvService and UserService through the same layers as gRPC.

use std::net::SocketAddr;

use bytes::{Buf, BufMut, BytesMut};
use prost::Message;
use rand::Rng;
use switchboard_client::pb;
use switchboard_soak::history::{Door, Failure, KvAction, KvReply, Service, SimpleOp, UserAction, UserReply};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use super::grpc;
use crate::run::{OP_TIMEOUT, SharedCtx, code_name};

const ECHO: u8 = 0x01;
const PING: u8 = 0x02;
const PONG: u8 = 0x03;
const CALL: u8 = 0x10;
const REPLY: u8 = 0x11;

struct FrameConnection {
    stream: TcpStream,
}

impl FrameConnection {
    async fn connect(addr: SocketAddr) -> Result<Self, Failure> {
        let stream = tokio::time::timeout(OP_TIMEOUT, TcpStream::connect(addr))
            .await
            .map_err(|_| Failure::refused("connect failed", "timeout"))?
            .map_err(|e| Failure::refused("connect failed", e.to_string()))?;
        let _ = stream.set_nodelay(true);
        Ok(Self { stream })
    }

    /// Sends one frame and reads the next one back.
    async fn exchange(&mut self, kind: u8, payload: &[u8]) -> Result<(u8, Vec<u8>), Failure> {
        let mut frame = BytesMut::with_capacity(5 + payload.len());
        frame.put_u32(u32::try_from(1 + payload.len()).unwrap_or(u32::MAX));
        frame.put_u8(kind);
        frame.put_slice(payload);
        let exchange = async {
            self.stream.write_all(&frame).await?;
            let length = self.stream.read_u32().await?;
            let kind = self.stream.read_u8().await?;
            let mut payload = vec![0u8; length.saturating_sub(1) as usize];
            self.stream.read_exact(&mut payload).await?;
            Ok::<_, std::io::Error>((kind, payload))
        };
        match tokio::time::timeout(OP_TIMEOUT, exchange).await {
            Err(_) => Err(Failure::unknown("client timeout", "")),
            Ok(Err(e)) => Err(Failure::unknown("connection lost", e.to_string())),
            Ok(Ok(frame)) => Ok(frame),
        }
    }

    /// A unary call in a Call frame; the reply's status code (0 = OK), message and payload.
    async fn call(&mut self, method: &str, request: &impl Message) -> Result<(u16, String, Vec<u8>), Failure> {
        let mut payload = BytesMut::new();
        payload.put_u16(u16::try_from(method.len()).unwrap_or(u16::MAX));
        payload.put_slice(method.as_bytes());
        payload.put_u16(0); // no metadata
        payload.put_slice(&request.encode_to_vec());
        let (kind, reply) = self.exchange(CALL, &payload).await?;
        if kind != REPLY {
            return Err(Failure::unknown("garbled", format!("frame type {kind:#04x} in answer to a call")));
        }
        let mut reply = reply.as_slice();
        if reply.remaining() < 4 {
            return Err(Failure::unknown("garbled", "short reply frame"));
        }
        let code = reply.get_u16();
        let length = usize::from(reply.get_u16());
        if reply.remaining() < length {
            return Err(Failure::unknown("garbled", "reply message cut short"));
        }
        let message = String::from_utf8_lossy(&reply[..length]).into_owned();
        Ok((code, message, reply[length..].to_vec()))
    }
}

/// A non-OK reply status as a failure (refused when the code says the call did not run).
fn status_failure(code: u16, message: String) -> Failure {
    let code = tonic::Code::from_i32(i32::from(code));
    let definite =
        matches!(code, tonic::Code::InvalidArgument | tonic::Code::Unimplemented | tonic::Code::Unauthenticated);
    Failure { status: code_name(code).to_owned(), message, definite }
}

const NOT_FOUND: u16 = 5;

pub async fn run(ctx: SharedCtx) {
    let id = ctx.client_id();
    let mut connection: Option<FrameConnection> = None;
    let mut n = 0u64;
    while !ctx.stopped() {
        let conn = match connection.as_mut() {
            Some(conn) => conn,
            None => match FrameConnection::connect(ctx.doors.legacy_binary).await {
                Ok(conn) => connection.insert(conn),
                Err(_) => {
                    ctx.pause(100..300).await;
                    continue;
                }
            },
        };
        let roll = rand::rng().random_range(0..100);
        let failed = if roll < 60 {
            kv_call(&ctx, conn, id, &mut n).await
        } else if roll < 75 {
            get_user(&ctx, conn, id).await
        } else {
            echo_or_ping(&ctx, conn, roll < 90).await
        };
        if failed {
            connection = None;
            ctx.pause(100..300).await;
        } else {
            ctx.pause(2..12).await;
        }
    }
}

async fn kv_call(ctx: &SharedCtx, conn: &mut FrameConnection, id: u32, n: &mut u64) -> bool {
    let key = ctx.random_key().to_owned();
    let roll = rand::rng().random_range(0..100);
    let invoke = ctx.now();
    let (action, outcome) = if roll < 50 {
        let request = pb::GetRequest { key: key.clone() };
        let outcome =
            conn.call("/switchboard.v1.KvService/Get", &request).await.and_then(|(code, message, body)| match code {
                0 => pb::GetResponse::decode(body.as_slice())
                    .map(|r| KvReply::Value(Some(r.value)))
                    .map_err(|e| Failure::unknown("garbled", e.to_string())),
                NOT_FOUND => Ok(KvReply::Value(None)),
                code => Err(status_failure(code, message)),
            });
        (KvAction::Get, outcome)
    } else if roll < 90 {
        *n += 1;
        let value = format!("b{id}.{n}");
        let request = pb::SetRequest { key: key.clone(), value: value.clone() };
        let outcome =
            conn.call("/switchboard.v1.KvService/Set", &request).await.and_then(|(code, message, body)| match code {
                0 => pb::SetResponse::decode(body.as_slice())
                    .map(|r| KvReply::Set { replaced: Some(r.replaced) })
                    .map_err(|e| Failure::unknown("garbled", e.to_string())),
                code => Err(status_failure(code, message)),
            });
        (KvAction::Set { value }, outcome)
    } else {
        let request = pb::DeleteRequest { key: key.clone() };
        let outcome =
            conn.call("/switchboard.v1.KvService/Delete", &request).await.and_then(|(code, message, _)| match code {
                0 => Ok(KvReply::Deleted { existed: true }),
                NOT_FOUND => Ok(KvReply::Deleted { existed: false }),
                code => Err(status_failure(code, message)),
            });
        (KvAction::Delete, outcome)
    };
    ctx.record_kv(Door::Binary, id, key, action, invoke, outcome)
}

async fn get_user(ctx: &SharedCtx, conn: &mut FrameConnection, id: u32) -> bool {
    let Some(user) = grpc::pick_user(ctx) else { return false };
    let invoke = ctx.now();
    let request = pb::GetUserRequest { id: user };
    let outcome =
        conn.call("/switchboard.v1.UserService/GetUser", &request).await.and_then(|(code, message, body)| match code {
            0 => pb::User::decode(body.as_slice())
                .map(|u| UserReply::User { id: u.id, username: u.username })
                .map_err(|e| Failure::unknown("garbled", e.to_string())),
            NOT_FOUND => Ok(UserReply::NotFound),
            code => Err(status_failure(code, message)),
        });
    let failed = outcome.is_err();
    let ret = ctx.now();
    ctx.record().users.push(switchboard_soak::history::UserOp {
        door: Door::Binary,
        client: id,
        id: Some(user),
        action: UserAction::Get,
        invoke,
        ret,
        outcome,
        final_read: false,
    });
    failed
}

async fn echo_or_ping(ctx: &SharedCtx, conn: &mut FrameConnection, echo: bool) -> bool {
    let payload: Vec<u8> =
        if echo { (0..rand::rng().random_range(1..2048)).map(|_| rand::rng().random()).collect() } else { Vec::new() };
    let invoke = ctx.now();
    let answer = conn.exchange(if echo { ECHO } else { PING }, &payload).await;
    let ret = ctx.now();
    let (outcome, wrong) = match answer {
        Err(failure) => (Err(failure), None),
        Ok((kind, body)) => {
            let expected = if echo { ECHO } else { PONG };
            let wrong = (kind != expected || (echo && body != payload) || (!echo && !body.is_empty())).then(|| {
                format!(
                    "sent frame {:#04x} with {} bytes, got {kind:#04x} with {} bytes",
                    if echo { ECHO } else { PING },
                    payload.len(),
                    body.len()
                )
            });
            (Ok(()), wrong)
        }
    };
    let failed = outcome.is_err() || wrong.is_some();
    ctx.record().simple.push(SimpleOp { door: Door::Binary, service: Service::Echo, invoke, ret, outcome, wrong });
    failed
}

//! The Go guide's KV text protocol, as a telnet user or an old client speaks it: one
//! command at a time, and pipelined (a batch of commands in one write, the replies read
//! after).

use std::net::SocketAddr;

use rand::Rng;
use switchboard_soak::history::{Door, Failure, KvAction, KvOp, KvReply};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::{
        TcpStream,
        tcp::{OwnedReadHalf, OwnedWriteHalf},
    },
};

use crate::run::{OP_TIMEOUT, SharedCtx};

/// A text connection: lines in, lines out, every read bounded by [`OP_TIMEOUT`].
pub struct LineConnection {
    reader: BufReader<OwnedReadHalf>,
    pub writer: OwnedWriteHalf,
}

impl LineConnection {
    pub async fn connect(addr: SocketAddr) -> Result<Self, Failure> {
        let stream = tokio::time::timeout(OP_TIMEOUT, TcpStream::connect(addr))
            .await
            .map_err(|_| Failure::refused("connect failed", "timeout"))?
            .map_err(|e| Failure::refused("connect failed", e.to_string()))?;
        let _ = stream.set_nodelay(true);
        let (read, writer) = stream.into_split();
        Ok(Self { reader: BufReader::new(read), writer })
    }

    /// The next line without its terminator.
    pub async fn line(&mut self) -> Result<String, Failure> {
        let mut line = String::new();
        match tokio::time::timeout(OP_TIMEOUT, self.reader.read_line(&mut line)).await {
            Err(_) => Err(Failure::unknown("client timeout", "")),
            Ok(Err(e)) => Err(Failure::unknown("connection lost", e.to_string())),
            Ok(Ok(0)) => Err(Failure::unknown("connection lost", "closed")),
            Ok(Ok(_)) => Ok(line.trim_end_matches(['\r', '\n']).to_owned()),
        }
    }

    pub async fn send(&mut self, bytes: &[u8]) -> Result<(), Failure> {
        match tokio::time::timeout(OP_TIMEOUT, self.writer.write_all(bytes)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Failure::unknown("connection lost", e.to_string())),
            Err(_) => Err(Failure::unknown("client timeout", "")),
        }
    }
}

/// Connects and reads the banner (three lines and a blank one).
async fn connect(addr: SocketAddr) -> Result<LineConnection, Failure> {
    let mut connection = LineConnection::connect(addr).await?;
    let first = connection.line().await?;
    if first != "KV Store Server v1.0" {
        return Err(Failure::unknown("bad banner", first));
    }
    for _ in 0..3 {
        connection.line().await?;
    }
    Ok(connection)
}

/// A random command on a random key, and what the history will call it.
fn command(ctx: &SharedCtx, id: u32, n: &mut u64) -> (String, KvAction, String) {
    let key = ctx.random_key().to_owned();
    let roll = rand::rng().random_range(0..100);
    if roll < 50 {
        (format!("GET {key}\n"), KvAction::Get, key)
    } else if roll < 90 {
        *n += 1;
        let value = format!("t{id}.{n}");
        (format!("SET {key} {value}\n"), KvAction::Set { value }, key)
    } else {
        (format!("DELETE {key}\n"), KvAction::Delete, key)
    }
}

/// What a reply line means for the command that asked.
fn reply(action: &KvAction, line: String) -> Result<KvReply, Failure> {
    if line == "Goodbye!" {
        return Err(Failure::unknown("connection lost", "Goodbye! (the server is draining)"));
    }
    match action {
        KvAction::Get if line == "NULL" => Ok(KvReply::Value(None)),
        KvAction::Get if line.starts_with("ERROR: ") => Err(Failure::unknown("ERROR", line)),
        KvAction::Get => Ok(KvReply::Value(Some(line))),
        KvAction::Set { .. } if line == "OK" => Ok(KvReply::Set { replaced: None }),
        KvAction::Delete if line == "OK" => Ok(KvReply::Deleted { existed: true }),
        KvAction::Delete if line == "ERROR: Key not found" => Ok(KvReply::Deleted { existed: false }),
        // Our keys and values are valid: any other error is the server's (storage).
        _ if line.starts_with("ERROR: ") => Err(Failure::unknown("ERROR", line)),
        _ => Err(Failure::unknown("garbled", line)),
    }
}

/// The open connection, or a new one; `None` (after a pause) if the port refuses.
async fn connected<'a>(ctx: &SharedCtx, connection: &'a mut Option<LineConnection>) -> Option<&'a mut LineConnection> {
    if connection.is_none() {
        match connect(ctx.doors.legacy_kv).await {
            Ok(conn) => *connection = Some(conn),
            Err(_) => {
                ctx.pause(100..300).await;
                return None;
            }
        }
    }
    connection.as_mut()
}

pub async fn sequential(ctx: SharedCtx) {
    let id = ctx.client_id();
    let mut connection: Option<LineConnection> = None;
    let mut n = 0u64;
    while !ctx.stopped() {
        let Some(conn) = connected(&ctx, &mut connection).await else {
            continue;
        };
        let (text, action, key) = command(&ctx, id, &mut n);
        let invoke = ctx.now();
        let outcome = match conn.send(text.as_bytes()).await {
            Ok(()) => conn.line().await.and_then(|line| reply(&action, line)),
            Err(failure) => Err(failure),
        };
        let failed = ctx.record_kv(Door::LegacyKv, id, key, action, invoke, outcome);
        if failed {
            connection = None;
            ctx.pause(100..300).await;
        } else {
            ctx.pause(2..12).await;
        }
    }
}

/// Batches of 4 to 12 commands in one write; each command's interval runs from the write to
/// its own reply.
pub async fn pipelined(ctx: SharedCtx) {
    let id = ctx.client_id();
    let mut connection: Option<LineConnection> = None;
    let mut n = 0u64;
    while !ctx.stopped() {
        let Some(conn) = connected(&ctx, &mut connection).await else {
            continue;
        };
        let batch: Vec<(String, KvAction, String)> =
            (0..rand::rng().random_range(4..=12)).map(|_| command(&ctx, id, &mut n)).collect();
        let bytes: String = batch.iter().map(|(text, _, _)| text.as_str()).collect();
        let invoke = ctx.now();
        let mut broken: Option<Failure> = conn.send(bytes.as_bytes()).await.err();
        let mut ops = Vec::with_capacity(batch.len());
        for (_, action, key) in batch {
            let outcome = match &broken {
                Some(failure) => Err(failure.clone()),
                None => match conn.line().await {
                    Ok(line) => reply(&action, line),
                    Err(failure) => {
                        broken = Some(failure.clone());
                        Err(failure)
                    }
                },
            };
            let ret = ctx.now();
            ops.push(KvOp {
                door: Door::LegacyKvPipelined,
                client: id,
                key,
                action,
                invoke,
                ret,
                outcome,
                final_read: false,
            });
        }
        let failed = ops.iter().any(|op| op.outcome.is_err());
        ctx.record().kv.extend(ops);
        if failed {
            // A reply out of step would be read as the next command's: start over.
            connection = None;
            ctx.pause(100..300).await;
        } else {
            ctx.pause(5..20).await;
        }
    }
}

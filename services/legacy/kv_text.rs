//! The seed's KV text protocol ("Custom Protocol Example"), byte for byte, on [`KvService`].
//!
//! One command per line, case-insensitive, surrounding whitespace ignored, empty lines
//! skipped; one reply line per command. Two deliberate departures from the seed, both fixes
//! of its defects: a value keeps its inner spacing (the seed re-joined `strings.Fields`, so
//! `SET k a   b` stored `a b`), and a line above the limit gets an `ERROR:` line and the
//! connection goes on (the seed's `Scanner` dropped the connection without a word at 64 KiB).
//! And a last line without a newline is not run: a client that disconnects mid-command
//! leaves nothing behind (the seed's `Scanner` ran it).
//! `GET` of a missing key still answers `NULL`, exactly like the seed, so a stored value
//! `NULL` reads the same as a missing key here; gRPC `KvService/Get` tells them apart.
//!
//! Pipelined commands (lines that arrive together) run concurrently and are answered in
//! order. A durable write waits for its commit, and the store folds every write waiting at
//! that moment into one commit; run one at a time, a client that sends sixteen writes at once
//! would wait for sixteen commits. Only commands that commute overlap (see [`Pipeline`]), so
//! the client reads the very replies that one-at-a-time execution gives.

use std::collections::HashSet;

use futures_util::{
    StreamExt as _,
    future::{Either, Ready, ready},
    stream::FuturesOrdered,
};
use tokio::{io::AsyncWrite, net::TcpStream};

use super::{
    ConnectionError, INVALID_UTF8, Replies, Settings, error_line, line_too_long,
    lines::{Line, LineReader},
};
use crate::{
    kv::{KvError, KvService},
    pb,
};

pub(crate) const BANNER: &str =
    "KV Store Server v1.0\nAvailable commands: SET, GET, DELETE, KEYS, QUIT\nFormat: COMMAND [args...]\n\n";

/// Keys asked of the service per page while answering `KEYS`.
const KEYS_PAGE: i32 = 1000;

/// Most commands of one connection waiting to be answered. At the bound the next command
/// waits until they are; enough to share a commit among many writes.
const PIPELINE_DEPTH: usize = 64;

/// Most bytes of replies one connection holds while earlier replies wait for their commits.
/// A read runs at once, so its reply (a whole value for a `GET`) waits in memory; one at a
/// time, a connection held about one reply. Past the bound the next command waits until the
/// waiting replies are written.
const PIPELINE_BYTES: usize = 1024 * 1024;

#[derive(Debug, PartialEq, Eq)]
enum Command {
    Set {
        key: String,
        value: String,
    },
    Get {
        key: String,
    },
    Delete {
        key: String,
    },
    Keys,
    Quit,
    /// A known command without its arguments: the seed's message for it.
    MissingArguments(&'static str),
    Unknown(String),
}

impl Command {
    fn footprint(&self) -> Footprint {
        match self {
            Command::Get { key } => Footprint::Read(key.clone()),
            Command::Set { key, .. } | Command::Delete { key } => Footprint::Write(key.clone()),
            Command::Keys | Command::Quit => Footprint::Everything,
            Command::MissingArguments(_) | Command::Unknown(_) => Footprint::Nothing,
        }
    }
}

/// What a command reads or writes, which decides what it may run alongside.
#[derive(Debug)]
enum Footprint {
    /// An error reply, decided without the service.
    Nothing,
    Read(String),
    Write(String),
    /// `KEYS` reads every key; `QUIT` comes after every reply before it.
    Everything,
}

/// Parses a trimmed, non-empty line.
fn parse(line: &str) -> Command {
    let (name, rest) = split_word(line);
    let (key, value) = split_word(rest);
    let (key, value) = (key.to_owned(), value.to_owned());
    match name.to_uppercase().as_str() {
        "SET" if key.is_empty() || value.is_empty() => Command::MissingArguments("SET requires key and value"),
        "SET" => Command::Set { key, value },
        "GET" if key.is_empty() => Command::MissingArguments("GET requires key"),
        "GET" => Command::Get { key },
        "DELETE" if key.is_empty() => Command::MissingArguments("DELETE requires key"),
        "DELETE" => Command::Delete { key },
        "KEYS" => Command::Keys,
        "QUIT" => Command::Quit,
        other => Command::Unknown(other.to_owned()),
    }
}

/// The first whitespace-separated word and what follows it, leading whitespace removed.
fn split_word(text: &str) -> (&str, &str) {
    let text = text.trim_start();
    match text.find(char::is_whitespace) {
        Some(end) => (&text[..end], text[end..].trim_start()),
        None => (text, ""),
    }
}

pub(crate) async fn serve(stream: TcpStream, kv: &KvService, settings: &Settings) -> Result<(), ConnectionError> {
    let (read, write) = stream.into_split();
    let mut lines = LineReader::new(read, settings.max_line_bytes);
    let mut replies = Replies::new(write, settings.idle_timeout);
    replies.bytes(BANNER.as_bytes()).await?;
    replies.flush().await?;
    let mut pipeline = Pipeline::new();
    loop {
        let line = match lines.buffered() {
            Some(line) => line,
            None => {
                // Everything the client sent so far is answered before waiting for more: it
                // may be waiting for these replies before it sends another line.
                pipeline.drain(&mut replies).await?;
                replies.flush().await?;
                match tokio::time::timeout(settings.idle_timeout, lines.next_line()).await {
                    Ok(Ok(Some(line))) => line,
                    Ok(Ok(None)) => return Ok(()),
                    Ok(Err(error)) => return Err(error.into()),
                    Err(_elapsed) => return Err(ConnectionError::Idle(settings.idle_timeout)),
                }
            }
        };
        let bytes = match line {
            Line::Complete(bytes) => bytes,
            // Half a command from a client that went away: nothing is applied. It comes only
            // from reading the socket, so every command before it has been answered.
            Line::Unterminated(_) => {
                replies.flush().await?;
                return Ok(());
            }
            Line::TooLong => {
                pipeline.answer(line_too_long(settings), &mut replies).await?;
                continue;
            }
        };
        let Ok(text) = std::str::from_utf8(&bytes) else {
            pipeline.answer(INVALID_UTF8.to_owned(), &mut replies).await?;
            continue;
        };
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        let command = parse(text);
        let quit = command == Command::Quit;
        // `apply` only builds the future: the pipeline decides when the command runs.
        pipeline.add(command.footprint(), apply(kv, command), &mut replies).await?;
        if quit {
            pipeline.drain(&mut replies).await?;
            replies.flush().await?;
            return Ok(());
        }
    }
}

/// The commands of one connection that run at once, answered in the order they arrived.
///
/// Writes run concurrently with the writes of other keys (each waits for its commit, and
/// the store folds the waiting ones into one commit). Reads run at once, when they arrive:
/// their replies wait in order behind the writes before them. A read of a key that a running
/// write changes, a write of such a key, and `KEYS` (which reads every key) first wait until
/// the running writes are answered. So every reply is the one that running the commands one
/// at a time gives: a read sees the writes sent before it and none after, writes to one key
/// land in the order sent. Other clients may see a pipeline's writes to distinct keys land in
/// any order, as they may for writes of distinct clients.
struct Pipeline<F: Future<Output = String>> {
    running: FuturesOrdered<Either<Ready<String>, F>>,
    /// Keys the running writes change.
    writing: HashSet<String>,
    /// Bytes of replies waiting, bounded by [`PIPELINE_BYTES`].
    bytes: usize,
}

impl<F: Future<Output = String>> Pipeline<F> {
    fn new() -> Self {
        Self { running: FuturesOrdered::new(), writing: HashSet::new(), bytes: 0 }
    }

    /// Runs a command (`reply` is its future) or queues it behind the running ones.
    async fn add<W: AsyncWrite + Unpin>(
        &mut self,
        footprint: Footprint,
        reply: F,
        replies: &mut Replies<W>,
    ) -> Result<(), ConnectionError> {
        let waits_for_writes = match &footprint {
            Footprint::Nothing => false,
            Footprint::Read(key) | Footprint::Write(key) => self.writing.contains(key),
            Footprint::Everything => !self.writing.is_empty(),
        };
        if waits_for_writes || self.full() {
            self.drain(replies).await?;
        }
        match footprint {
            Footprint::Write(key) => {
                self.writing.insert(key);
                self.running.push_back(Either::Right(reply));
            }
            Footprint::Nothing | Footprint::Read(_) | Footprint::Everything => self.ready(reply.await),
        }
        Ok(())
    }

    /// Adds a reply known without the service (an error line): it only waits its turn.
    async fn answer<W: AsyncWrite + Unpin>(
        &mut self,
        reply: String,
        replies: &mut Replies<W>,
    ) -> Result<(), ConnectionError> {
        if self.full() {
            self.drain(replies).await?;
        }
        self.ready(reply);
        Ok(())
    }

    /// Whether a bound is reached: the next command waits until the running ones are answered.
    fn full(&self) -> bool {
        self.running.len() >= PIPELINE_DEPTH || self.bytes > PIPELINE_BYTES
    }

    fn ready(&mut self, reply: String) {
        self.bytes = self.bytes.saturating_add(reply.len());
        self.running.push_back(Either::Left(ready(reply)));
    }

    /// Runs the commands to the end, writing each reply as soon as those before it are.
    async fn drain<W: AsyncWrite + Unpin>(&mut self, replies: &mut Replies<W>) -> Result<(), ConnectionError> {
        while let Some(reply) = self.running.next().await {
            replies.line(&reply).await?;
        }
        self.writing.clear();
        self.bytes = 0;
        Ok(())
    }
}

/// Runs one command and says what the seed would have said.
async fn apply(kv: &KvService, command: Command) -> String {
    match command {
        Command::Set { key, value } => match kv.set(key, value).await {
            Ok(_replaced) => "OK".to_owned(),
            Err(error) => kv_error_line(error),
        },
        Command::Get { key } => match kv.get(key).await {
            Ok(value) => value,
            Err(KvError::KeyNotFound(_)) => "NULL".to_owned(),
            Err(error) => kv_error_line(error),
        },
        Command::Delete { key } => match kv.delete(key).await {
            Ok(()) => "OK".to_owned(),
            Err(error) => kv_error_line(error),
        },
        Command::Keys => match all_keys(kv).await {
            Ok(keys) if keys.is_empty() => "No keys stored".to_owned(),
            Ok(keys) => keys.join(", "),
            Err(error) => kv_error_line(error),
        },
        Command::Quit => "Goodbye!".to_owned(),
        Command::MissingArguments(message) => format!("ERROR: {message}"),
        Command::Unknown(name) => format!("ERROR: Unknown command '{name}'"),
    }
}

async fn all_keys(kv: &KvService) -> Result<Vec<String>, KvError> {
    let mut keys = Vec::new();
    let mut page_token = String::new();
    loop {
        let page =
            kv.list_keys(pb::ListKeysRequest { prefix: String::new(), page_size: KEYS_PAGE, page_token }).await?;
        keys.extend(page.keys);
        if page.next_page_token.is_empty() {
            return Ok(keys);
        }
        page_token = page.next_page_token;
    }
}

fn kv_error_line(error: KvError) -> String {
    error_line(&tonic::Status::from(error))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_the_seed_but_keeps_inner_spacing() {
        assert_eq!(parse("set k   two   spaces"), Command::Set { key: "k".into(), value: "two   spaces".into() });
        assert_eq!(parse("SET k"), Command::MissingArguments("SET requires key and value"));
        assert_eq!(parse("Get"), Command::MissingArguments("GET requires key"));
        assert_eq!(parse("GET a b"), Command::Get { key: "a".into() });
        assert_eq!(parse("delete\tk"), Command::Delete { key: "k".into() });
        assert_eq!(parse("keys extra"), Command::Keys);
        assert_eq!(parse("quit"), Command::Quit);
        assert_eq!(parse("frob x"), Command::Unknown("FROB".into()));
    }
}

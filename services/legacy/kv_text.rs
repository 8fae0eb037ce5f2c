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

use tokio::net::TcpStream;

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

#[derive(Debug, PartialEq, Eq)]
enum Command<'a> {
    Set {
        key: &'a str,
        value: &'a str,
    },
    Get {
        key: &'a str,
    },
    Delete {
        key: &'a str,
    },
    Keys,
    Quit,
    /// A known command without its arguments: the seed's message for it.
    MissingArguments(&'static str),
    Unknown(String),
}

/// Parses a trimmed, non-empty line.
fn parse(line: &str) -> Command<'_> {
    let (name, rest) = split_word(line);
    let (key, value) = split_word(rest);
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
    loop {
        let line = match lines.buffered() {
            Some(line) => line,
            None => {
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
            // Half a command from a client that went away: nothing is applied.
            Line::Unterminated(_) => {
                replies.flush().await?;
                return Ok(());
            }
            Line::TooLong => {
                replies.line(&line_too_long(settings)).await?;
                continue;
            }
        };
        let Ok(text) = std::str::from_utf8(&bytes) else {
            replies.line(INVALID_UTF8).await?;
            continue;
        };
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        let command = parse(text);
        let quit = command == Command::Quit;
        replies.line(&apply(kv, command).await).await?;
        if quit {
            replies.flush().await?;
            return Ok(());
        }
    }
}

/// Runs one command and says what the seed would have said.
async fn apply(kv: &KvService, command: Command<'_>) -> String {
    match command {
        Command::Set { key, value } => match kv.set(key.to_owned(), value.to_owned()).await {
            Ok(_replaced) => "OK".to_owned(),
            Err(error) => kv_error_line(error),
        },
        Command::Get { key } => match kv.get(key.to_owned()).await {
            Ok(value) => value,
            Err(KvError::KeyNotFound(_)) => "NULL".to_owned(),
            Err(error) => kv_error_line(error),
        },
        Command::Delete { key } => match kv.delete(key.to_owned()).await {
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
        assert_eq!(parse("set k   two   spaces"), Command::Set { key: "k", value: "two   spaces" });
        assert_eq!(parse("SET k"), Command::MissingArguments("SET requires key and value"));
        assert_eq!(parse("Get"), Command::MissingArguments("GET requires key"));
        assert_eq!(parse("GET a b"), Command::Get { key: "a" });
        assert_eq!(parse("delete\tk"), Command::Delete { key: "k" });
        assert_eq!(parse("keys extra"), Command::Keys);
        assert_eq!(parse("quit"), Command::Quit);
        assert_eq!(parse("frob x"), Command::Unknown("FROB".into()));
    }
}

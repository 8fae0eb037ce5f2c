//! Bounded line reading for the text protocols.
//!
//! The seed's servers read lines with Go's `bufio`, which either has no limit (the echo and
//! chat servers buffer a line until memory runs out) or drops the connection without a word
//! (the KV server's 64 KiB `Scanner` token limit). Here a line longer than the limit is
//! reported once, as soon as the limit is passed, and the rest of it is skipped as it
//! arrives, so memory stays at about the limit and the stream stays in sync at the next
//! newline. Bytes are not decoded: each protocol decides what invalid UTF-8 means to it.

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};

/// Bytes asked of the socket per read.
const READ_CHUNK: usize = 8 * 1024;

/// One item of a line-oriented stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// A line, with its `\n` (and any `\r` before it) still attached.
    Complete(Bytes),
    /// A line above the limit; what has arrived of it is dropped, the rest will be.
    TooLong,
    /// What was left when the peer closed without a final newline.
    Unterminated(Bytes),
}

pub struct LineReader<R> {
    inner: R,
    buffer: BytesMut,
    max_line_bytes: usize,
    /// Inside a line that was already reported `TooLong`: drop bytes up to its newline.
    discarding: bool,
    eof: bool,
}

impl<R: AsyncRead + Unpin> LineReader<R> {
    pub fn new(inner: R, max_line_bytes: usize) -> Self {
        Self { inner, buffer: BytesMut::new(), max_line_bytes, discarding: false, eof: false }
    }

    /// The next line that is already buffered, without reading. Pipelined commands arrive
    /// many to a segment: replies are flushed only once this returns `None`.
    pub fn buffered(&mut self) -> Option<Line> {
        if self.discarding {
            match memchr(&self.buffer) {
                Some(newline) => {
                    let _ = self.buffer.split_to(newline + 1);
                    self.discarding = false;
                }
                None => {
                    self.buffer.clear();
                    return None;
                }
            }
        }
        match memchr(&self.buffer) {
            // The limit counts the line's content, not its terminator.
            Some(newline) if newline > self.max_line_bytes => {
                let _ = self.buffer.split_to(newline + 1);
                Some(Line::TooLong)
            }
            Some(newline) => Some(Line::Complete(self.buffer.split_to(newline + 1).freeze())),
            None if self.buffer.len() > self.max_line_bytes => {
                self.buffer.clear();
                self.discarding = true;
                Some(Line::TooLong)
            }
            None => None,
        }
    }

    /// The next line, reading as needed; `None` once the peer has closed and everything was
    /// returned. Cancel-safe: no bytes are lost if the future is dropped (`select!`).
    pub async fn next_line(&mut self) -> std::io::Result<Option<Line>> {
        loop {
            if let Some(line) = self.buffered() {
                return Ok(Some(line));
            }
            if self.eof {
                if self.buffer.is_empty() || self.discarding {
                    return Ok(None);
                }
                return Ok(Some(Line::Unterminated(self.buffer.split().freeze())));
            }
            self.buffer.reserve(READ_CHUNK);
            if self.inner.read_buf(&mut self.buffer).await? == 0 {
                self.eof = true;
            }
        }
    }
}

fn memchr(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn lines(input: &[u8], max: usize) -> Vec<Line> {
        let mut reader = LineReader::new(input, max);
        let mut out = Vec::new();
        while let Some(line) = reader.next_line().await.unwrap() {
            out.push(line);
        }
        out
    }

    fn complete(s: &str) -> Line {
        Line::Complete(Bytes::copy_from_slice(s.as_bytes()))
    }

    #[tokio::test]
    async fn splits_lines_and_keeps_terminators() {
        assert_eq!(
            lines(b"a\nbc\r\n\nrest", 16).await,
            [complete("a\n"), complete("bc\r\n"), complete("\n"), Line::Unterminated(Bytes::from_static(b"rest"))]
        );
    }

    #[tokio::test]
    async fn a_long_line_is_reported_once_and_skipped() {
        let mut input = vec![b'x'; 100];
        input.extend_from_slice(b"\nok\n");
        input.extend_from_slice(&[b'y'; 9]);
        input.extend_from_slice(b"\n");
        assert_eq!(lines(&input, 8).await, [Line::TooLong, complete("ok\n"), Line::TooLong]);
        // Exactly at the limit is fine.
        assert_eq!(lines(b"12345678\n", 8).await, [complete("12345678\n")]);
    }
}

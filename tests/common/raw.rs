//! Raw TCP clients for the legacy protocols: bytes in, bytes out, every read bounded by a
//! generous timeout so a server that stalls fails the test instead of hanging it.

use std::{net::SocketAddr, time::Duration};

use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    net::TcpStream,
};

pub const PATIENCE: Duration = Duration::from_secs(20);

pub const KV_BANNER: &[u8] =
    b"KV Store Server v1.0\nAvailable commands: SET, GET, DELETE, KEYS, QUIT\nFormat: COMMAND [args...]\n\n";

pub struct Raw {
    pub stream: BufReader<TcpStream>,
}

impl Raw {
    pub async fn connect(addr: SocketAddr) -> Self {
        let stream = tokio::time::timeout(PATIENCE, TcpStream::connect(addr)).await.expect("connect in time").unwrap();
        Self { stream: BufReader::new(stream) }
    }

    /// A KV connection past its banner (which is checked).
    pub async fn kv(addr: SocketAddr) -> Self {
        let mut raw = Self::connect(addr).await;
        raw.expect(KV_BANNER).await;
        raw
    }

    /// A chat member that answered the prompt and read its welcome and its own join.
    pub async fn chat(addr: SocketAddr, name: &str) -> Self {
        let mut raw = Self::connect(addr).await;
        raw.expect(b"Enter your name: ").await;
        raw.send(format!("{name}\n").as_bytes()).await;
        raw.expect(
            format!(
                "Welcome to the chat, {name}!\nType your messages and press Enter to send.\n*** {name} joined the chat ***\n"
            )
            .as_bytes(),
        )
        .await;
        raw
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        self.stream.get_mut().write_all(bytes).await.unwrap();
    }

    /// Reads exactly `expected.len()` bytes and compares them.
    pub async fn expect(&mut self, expected: &[u8]) {
        let got = self.read_exact(expected.len()).await;
        assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(expected));
    }

    pub async fn read_exact(&mut self, n: usize) -> Vec<u8> {
        let mut got = vec![0; n];
        tokio::time::timeout(PATIENCE, self.stream.read_exact(&mut got))
            .await
            .unwrap_or_else(|_| panic!("no {n} bytes within {PATIENCE:?}"))
            .expect("read");
        got
    }

    /// The next line, without its `\n`.
    pub async fn line(&mut self) -> String {
        let mut line = Vec::new();
        tokio::time::timeout(PATIENCE, self.stream.read_until(b'\n', &mut line))
            .await
            .expect("a line in time")
            .expect("read");
        assert_eq!(line.pop(), Some(b'\n'), "the connection closed mid-line: {:?}", String::from_utf8_lossy(&line));
        String::from_utf8(line).expect("UTF-8 line")
    }

    /// Reads lines until one equals `wanted`; the lines before it are returned.
    pub async fn line_until(&mut self, wanted: &str) -> Vec<String> {
        let mut before = Vec::new();
        loop {
            let line = self.line().await;
            if line == wanted {
                return before;
            }
            before.push(line);
        }
    }

    /// The server closes the connection (after any bytes still in flight, returned).
    pub async fn closed(&mut self) -> Vec<u8> {
        let mut rest = Vec::new();
        match tokio::time::timeout(PATIENCE, self.stream.read_to_end(&mut rest)).await {
            Ok(Ok(_)) => {}
            // A reset also means closed.
            Ok(Err(error)) => assert!(
                matches!(error.kind(), std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe),
                "{error}"
            ),
            Err(_) => panic!("the server kept the connection open for {PATIENCE:?}"),
        }
        rest
    }

    /// Nothing arrives for `quiet` (the server sent no reply).
    pub async fn silent_for(&mut self, quiet: Duration) {
        let mut byte = [0u8; 1];
        if let Ok(result) = tokio::time::timeout(quiet, self.stream.read(&mut byte)).await {
            panic!("expected silence, got {result:?} {byte:?}");
        }
    }
}

/// A binary frame: `[u32 BE length = 1 + payload][type][payload]`.
pub fn frame(kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = (1 + payload.len() as u32).to_be_bytes().to_vec();
    out.push(kind);
    out.extend_from_slice(payload);
    out
}

impl Raw {
    /// Reads one binary frame: (type, payload).
    pub async fn frame(&mut self) -> (u8, Vec<u8>) {
        let header = self.read_exact(5).await;
        let length = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
        (header[4], self.read_exact(length - 1).await)
    }
}

/// Deterministic noise (xorshift), so a failing run can be replayed.
pub fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 24) as u8
        })
        .collect()
}

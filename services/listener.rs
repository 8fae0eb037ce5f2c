//! Accepted gRPC sockets, wrapped so that each one counts in the open-connections gauge and
//! can be cut when the shutdown grace period is over.
//!
//! tonic serves every connection on a task of its own and, when asked to stop, waits for each
//! to finish without limit (a chat member or a health Watch would hold the process forever).
//! Aborting tonic's accept task does not reach those connection tasks; failing their socket
//! does: once [`crate::shutdown::Shutdown`] is forced, every read and write of a
//! [`TrackedIo`] fails, hyper drops the connection, and its task ends.

use std::{
    future::Future,
    io,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use prometheus::IntGauge;
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpStream,
};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
use tonic::transport::server::Connected;

const HTTP2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// What is looked at; a request whose headers are longer is passed on as soon as this is full.
const PEEK_BYTES: usize = 8 * 1024;

/// Whether `socket` sends its first complete request (the HTTP/2 preface, or an HTTP/1.1
/// request's headers) within `within` (`--first-request-timeout`): a connection that never
/// speaks, or stalls half-way, is closed instead of holding a socket and a task for ever. Only peeks: the
/// bytes stay for the server. A TLS client passes at its first byte (its handshake has a
/// deadline of its own).
pub async fn first_request_arrives(socket: &TcpStream, within: Duration) -> bool {
    let mut seen = vec![0u8; PEEK_BYTES];
    let wait = async {
        loop {
            if socket.readable().await.is_err() {
                return false;
            }
            let n = match socket.peek(&mut seen).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => n,
            };
            let bytes = &seen[..n];
            let tls = bytes[0] == 0x16;
            let http2 = bytes.starts_with(HTTP2_PREFACE);
            let http1 = !HTTP2_PREFACE.starts_with(&bytes[..n.min(HTTP2_PREFACE.len())])
                && bytes.windows(4).any(|w| w == b"\r\n\r\n");
            if tls || http2 || http1 || n == PEEK_BYTES {
                return true;
            }
            // Part of a request so far; peeking again at once would spin on the same bytes.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(within, wait).await.unwrap_or(false)
}

/// A socket that fails once `forced` is cancelled, and counts itself in `open` while alive.
pub struct TrackedIo<IO> {
    inner: IO,
    forced: Pin<Box<WaitForCancellationFutureOwned>>,
    open: IntGauge,
}

impl<IO> TrackedIo<IO> {
    pub fn new(inner: IO, forced: CancellationToken, open: IntGauge) -> Self {
        open.inc();
        Self { inner, forced: Box::pin(forced.cancelled_owned()), open }
    }

    /// Registers for a wake-up on the forced close; an error once it has come.
    fn check_forced(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        match self.forced.as_mut().poll(cx) {
            Poll::Ready(()) => {
                Err(io::Error::new(io::ErrorKind::ConnectionAborted, "server shutdown grace period is over"))
            }
            Poll::Pending => Ok(()),
        }
    }
}

impl<IO> Drop for TrackedIo<IO> {
    fn drop(&mut self) {
        self.open.dec();
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for TrackedIo<IO> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        self.check_forced(cx)?;
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for TrackedIo<IO> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.check_forced(cx)?;
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.check_forced(cx)?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.check_forced(cx)?;
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

impl<IO: Connected> Connected for TrackedIo<IO> {
    type ConnectInfo = IO::ConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.inner.connect_info()
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    #[tokio::test]
    async fn counts_itself_and_fails_once_forced() {
        let gauge = IntGauge::new("open", "open").unwrap();
        let forced = CancellationToken::new();
        let (client, server) = tokio::io::duplex(64);
        let mut io = TrackedIo::new(server, forced.clone(), gauge.clone());
        assert_eq!(gauge.get(), 1);

        let mut client = client;
        client.write_all(b"hi").await.unwrap();
        let mut buf = [0u8; 2];
        io.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"hi");

        forced.cancel();
        let error = io.read(&mut buf).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::ConnectionAborted);
        assert!(io.write(b"x").await.is_err());
        drop(io);
        assert_eq!(gauge.get(), 0);
    }
}

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
};

use prometheus::IntGauge;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
use tonic::transport::server::Connected;

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

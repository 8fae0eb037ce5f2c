//! The HTTP listener: HTTP/1.1 and h2c (or both over TLS with ALPN) on one port, each
//! connection counted, bounded in how long it may stay silent, and drained with the server.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::Router;
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::conn::auto,
    service::TowerToHyperService,
};
use prometheus::IntGauge;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tonic::transport::server::TcpConnectInfo;
use tower::ServiceExt as _;

use crate::{
    listener::{TrackedIo, first_request_arrives},
    shutdown::Shutdown,
};

/// Serves `router` on `listener` until the drain begins; every connection then finishes what
/// it is doing (HTTP/2 gets a GOAWAY, HTTP/1.1 closes after its current response).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
    first_request_timeout: Duration,
    shutdown: Shutdown,
    open: IntGauge,
) {
    let acceptor = tls.map(TlsAcceptor::from);
    loop {
        let (socket, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(%error, "HTTP accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = shutdown.draining() => return,
        };
        let local = socket.local_addr().unwrap_or(peer);
        let _ = socket.set_nodelay(true);
        let limits = Limits { first_request_timeout, shutdown: shutdown.clone(), open: open.clone() };
        let connection = serve_connection(socket, local, peer, router.clone(), acceptor.clone(), limits);
        shutdown.spawn(connection);
    }
}

/// What every connection is held to.
struct Limits {
    first_request_timeout: Duration,
    shutdown: Shutdown,
    open: IntGauge,
}

async fn serve_connection(
    socket: TcpStream,
    local: SocketAddr,
    peer: SocketAddr,
    router: Router,
    acceptor: Option<TlsAcceptor>,
    limits: Limits,
) {
    let Limits { first_request_timeout, shutdown, open } = limits;
    // A connection that never speaks holds nothing for long.
    if !first_request_arrives(&socket, first_request_timeout).await {
        return;
    }
    let io = TrackedIo::new(socket, shutdown.forced_token(), open);
    let service = TowerToHyperService::new(router.map_request(
        move |mut request: tonic::codegen::http::Request<hyper::body::Incoming>| {
            request.extensions_mut().insert(TcpConnectInfo { local_addr: Some(local), remote_addr: Some(peer) });
            request
        },
    ));
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(first_request_timeout);
    let io: Box<dyn Io> = match acceptor {
        Some(acceptor) => match tokio::time::timeout(first_request_timeout, acceptor.accept(io)).await {
            Ok(Ok(tls)) => Box::new(tls),
            _ => return,
        },
        None => Box::new(io),
    };
    let connection = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
    let mut connection = std::pin::pin!(connection);
    tokio::select! {
        _ = connection.as_mut() => {}
        () = shutdown.draining() => {
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        }
    }
}

/// A plain or TLS socket.
trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Io for T {}

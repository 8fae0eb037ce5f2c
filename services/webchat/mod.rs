//! The web chat: a page at `/chat` where a browser joins the same room as telnet and gRPC
//! members, the WebSocket it talks over (`/v1/chat/ws`), and the server panel's feed
//! (`/v1/health`, `/v1/health:watch`).
//!
//! The WebSocket is one more front door onto `ChatService`: each socket is an in-process
//! `ChatService/Chat` call through the very layer stack of the gRPC port ([`crate::in_process`]),
//! its request stream fed with the socket's text frames (proto3 JSON of `ChatRequest`) and its
//! events written back as text frames (proto3 JSON of `ChatEvent`). Request id, access log,
//! metrics, rate limit, auth, load shedding, stream idle timeout and drain therefore apply as
//! they do to a gRPC member, and joining, naming, queues and missed counts are `ChatService`'s
//! own. This room knows the WebSocket wire and the page; it knows nothing of the chat room's
//! internals, the stores or the health protocol beyond reading the registry.
//!
//! What only this door can do, it does before the upgrade: refuse a foreign `Origin` (403, so no
//! other site can make a visitor's browser join: cross-site WebSocket hijacking), cap open
//! sockets (503), and turn a browser's credentials (`?access_token=` or the subprotocol
//! `bearer.<token>`) into the `authorization` metadata the auth layer checks.

mod origin;
mod page;
mod panel;
mod socket;

use std::{sync::Arc, time::Duration};

use axum::{Router, routing::get};
use prometheus::IntGauge;
use prost_reflect::{DescriptorPool, MessageDescriptor};
use tokio::sync::Semaphore;

pub use self::{origin::OriginRule, panel::ServerStatus};
use crate::{in_process::GrpcService, pb, shutdown::Shutdown};

/// Why the web chat cannot be set up: only a broken build gets here.
#[derive(Debug, thiserror::Error)]
pub enum WebChatError {
    #[error("invalid built-in descriptors: {0}")]
    Descriptors(#[from] prost_reflect::DescriptorError),
    #[error("the built-in descriptors lack {0}")]
    MissingMessage(&'static str),
}

/// Settings of the web chat.
#[derive(Debug, Clone)]
pub struct WebChatSettings {
    /// `--max-message-bytes`: also bounds one WebSocket message (see [`socket`] for the cap).
    pub max_message_bytes: usize,
    /// Most WebSockets open at once; one more is refused with 503 before the upgrade.
    pub max_connections: usize,
    /// How often a socket is pinged and a quiet panel feed sends a keep-alive comment.
    pub heartbeat: Duration,
    /// Origins besides the page's own that may open a socket (`--cors-allow-origins`).
    pub allowed_origins: Vec<String>,
}

/// The web chat of one server: page, socket and panel routes.
#[derive(Clone)]
pub struct WebChat {
    inner: Arc<Inner>,
}

struct Inner {
    grpc: GrpcService,
    settings: WebChatSettings,
    origins: OriginRule,
    /// One permit per open socket.
    sockets: Arc<Semaphore>,
    chat_request: MessageDescriptor,
    chat_event: MessageDescriptor,
    status: ServerStatus,
    shutdown: Shutdown,
    /// `switchboard_open_connections{protocol="websocket"}`.
    open: IntGauge,
}

impl WebChat {
    /// Sockets call `grpc` (the layered stack); the panel reads `status`.
    pub fn new(
        grpc: GrpcService,
        status: ServerStatus,
        settings: WebChatSettings,
        shutdown: Shutdown,
        open: IntGauge,
    ) -> Result<Self, WebChatError> {
        let pool = DescriptorPool::decode(pb::FILE_DESCRIPTOR_SET)?;
        let message = |name: &'static str| pool.get_message_by_name(name).ok_or(WebChatError::MissingMessage(name));
        Ok(Self {
            inner: Arc::new(Inner {
                grpc,
                origins: OriginRule::new(&settings.allowed_origins),
                sockets: Arc::new(Semaphore::new(settings.max_connections.min(Semaphore::MAX_PERMITS))),
                chat_request: message("switchboard.v1.ChatRequest")?,
                chat_event: message("switchboard.v1.ChatEvent")?,
                settings,
                status,
                shutdown,
                open,
            }),
        })
    }

    /// `/chat` and its assets, `/v1/chat/ws`, `/v1/health` and `/v1/health:watch`.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/chat", get(page::html))
            .route("/chat/chat.js", get(page::script))
            .route("/chat/chat.css", get(page::style))
            .route("/chat/icon.svg", get(page::icon))
            .route("/v1/chat/ws", get(socket::upgrade))
            .route("/v1/health", get(panel::snapshot))
            .route("/v1/health:watch", get(panel::watch))
            .with_state(self.clone())
    }
}

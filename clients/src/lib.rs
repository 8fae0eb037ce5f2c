//! A Rust client for Switchboard: one [`Client`] holding one shared, lazily connected channel
//! (HTTP/2 keepalive, optional TLS), a typed method per rpc, a deadline on every unary call,
//! safe retries (see [`retry`]), and one [`Error`] that tells apart what a caller handles
//! differently. Dropping a call's future cancels the call.
//!
//! ```no_run
//! # async fn run() -> Result<(), switchboard_client::Error> {
//! use switchboard_client::{Client, pb};
//!
//! let client = Client::builder("http://127.0.0.1:50051").api_key("sk_test_switchboard").build()?;
//! let user = client.create_user("alice", "alice@example.com", 30).await?;
//! let payment = client
//!     .create_payment(
//!         pb::CreatePaymentRequest { amount_minor: 9999, currency: "USD".into(), customer_id: "cust_1".into(), ..Default::default() },
//!         Some("order-12345"),
//!     )
//!     .await?;
//! # let _ = (user, payment);
//! # Ok(()) }
//! ```
//!
//! Built on the generated API ([`pb`]) only: the server crate is compiled without its
//! `server` feature, so no listener or store is part of a client build.

#![forbid(unsafe_code)]

mod chat;
mod client;
mod error;
mod health;
pub mod retry;

pub use switchboard::pb;
/// The byte buffer of file chunks, so callers need no `bytes` dependency.
pub use tonic::codegen::Bytes;

pub use self::{
    chat::{ChatSender, ChatSession},
    client::{
        API_KEY_HEADER, CallOptions, Client, ClientBuilder, DEFAULT_SERVER, DEFAULT_TIMEOUT, Download,
        IDEMPOTENCY_KEY_HEADER,
    },
    error::{Error, FieldViolation},
    health::ServingStatus,
    retry::RetryPolicy,
};

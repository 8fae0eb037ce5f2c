//! Switchboard: a gRPC microservice suite (users, key-value, chat, payments, echo, files)
//! in one process.
//!
//! Without the default `server` feature this crate is only the generated API ([`pb`]) and its
//! codec: what client crates build on, with no listeners or stores compiled in.
//!
//! The rooms: one module per service (`users`, `kv`, `chat`, `payments`, `echo`, `files`),
//! `legacy` for the seed's raw-TCP protocols, `rest` for the HTTP/JSON front door, `guide`
//! for the guide's own HTTP endpoints and `webchat` for the browser chat page and its WebSocket
//! (all clients of the services), `storage` for
//! state, `health` for the health protocol, shared request plumbing
//! (`validate`, `paging`, `status`), `middleware` (the per-call layer), `logging` (the log line formats), `shutdown` (the drain),
//! `listener` and `metrics`, `config`, and `server`, the assembly that knows them all.
//! `debug` is a test-only service, served only with `--enable-debug-rpcs`.

#![forbid(unsafe_code)]

pub mod codec;
pub mod pb;

#[cfg(feature = "server")]
pub mod chat;
#[cfg(feature = "server")]
pub mod config;
#[cfg(feature = "server")]
pub mod credentials;
#[cfg(feature = "server")]
pub mod debug;
#[cfg(feature = "server")]
pub mod echo;
#[cfg(feature = "server")]
pub mod files;
#[cfg(feature = "server")]
pub mod guide;
#[cfg(feature = "server")]
pub mod health;
#[cfg(feature = "server")]
pub mod in_process;
#[cfg(feature = "server")]
pub mod kv;
#[cfg(feature = "server")]
pub mod legacy;
#[cfg(feature = "server")]
pub mod listener;
#[cfg(feature = "server")]
pub mod logging;
#[cfg(feature = "server")]
pub mod metrics;
#[cfg(feature = "server")]
pub mod middleware;
#[cfg(feature = "server")]
pub mod paging;
#[cfg(feature = "server")]
pub mod payments;
#[cfg(feature = "server")]
pub mod peer_limit;
#[cfg(feature = "server")]
pub mod rest;
#[cfg(feature = "server")]
pub mod server;
#[cfg(feature = "server")]
pub mod shutdown;
#[cfg(feature = "server")]
pub mod status;
#[cfg(feature = "server")]
pub mod storage;
#[cfg(feature = "server")]
pub mod sync;
#[cfg(feature = "server")]
pub mod users;
#[cfg(feature = "server")]
pub mod validate;
#[cfg(feature = "server")]
pub mod webchat;

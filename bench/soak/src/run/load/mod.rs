//! The clients: every front door at once, each a task that runs until the load stops,
//! records every operation it makes, and after a failure backs off and reconnects.

pub mod binary;
pub mod chat;
pub mod echo;
pub mod grpc;
pub mod legacy_kv;
pub mod rest;
pub mod watch;

use tokio::task::JoinHandle;

use super::SharedCtx;

/// Starts every client of the mix.
pub fn start(ctx: &SharedCtx) -> Vec<JoinHandle<()>> {
    let mut tasks = Vec::new();
    let mut spawn =
        |task: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>| tasks.push(tokio::spawn(task));
    for _ in 0..2 {
        spawn(Box::pin(grpc::kv(ctx.clone())));
        spawn(Box::pin(legacy_kv::sequential(ctx.clone())));
        spawn(Box::pin(grpc::users(ctx.clone())));
        spawn(Box::pin(grpc::payments(ctx.clone())));
    }
    spawn(Box::pin(legacy_kv::pipelined(ctx.clone())));
    spawn(Box::pin(binary::run(ctx.clone())));
    spawn(Box::pin(rest::kv(ctx.clone())));
    spawn(Box::pin(rest::users(ctx.clone())));
    spawn(Box::pin(rest::payments(ctx.clone())));
    spawn(Box::pin(echo::run(ctx.clone())));
    spawn(Box::pin(watch::grpc_watcher(ctx.clone())));
    spawn(Box::pin(watch::sse_watcher(ctx.clone())));
    for slow in [false, false, true] {
        spawn(Box::pin(chat::grpc_member(ctx.clone(), slow)));
    }
    for slow in [false, true] {
        spawn(Box::pin(chat::telnet_member(ctx.clone(), slow)));
    }
    tasks
}

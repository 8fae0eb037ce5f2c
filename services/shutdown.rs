//! The drain: how every listener and long-lived task learns that the server is stopping, and
//! how the server learns that they are done.
//!
//! Two phases, each a one-way switch:
//! * **draining** — stop taking new work and say goodbye: chat streams send their goodbye
//!   event and end, health watches end after reporting NOT_SERVING, legacy connections (when
//!   they register) send their goodbye line;
//! * **forced** — the grace period is over: whatever is still open is closed now, without
//!   ceremony (gRPC connections are cut at the socket, tracked tasks should return at once).
//!
//! Tasks that must be waited for (a chat session, a legacy connection) run through
//! [`Shutdown::spawn`]; the server waits for all of them, bounded by the grace period. The
//! type hides a pair of `CancellationToken`s and a `TaskTracker`, like mini-redis's
//! `shutdown.rs` hides its broadcast channel.
//!
//! A new front door (the legacy ports) joins the drain like this, with the handle from
//! [`crate::server::RunningServer::shutdown_handle`] (or the one `server::start` builds):
//!
//! ```text
//! loop {
//!     let (socket, peer) = tokio::select! {
//!         accepted = listener.accept() => accepted?,
//!         () = shutdown.draining() => break,          // stop accepting: the port closes
//!     };
//!     let Some(permit) = peer_limits.try_acquire(peer.ip()) else { continue };  // per-peer cap
//!     let shutdown = shutdown.clone();
//!     shutdown.clone().spawn(async move {
//!         let _permit = permit;
//!         tokio::select! {
//!             () = serve_connection(socket) => {}
//!             () = shutdown.draining() => { /* write the goodbye line, flush, close */ }
//!         }
//!     });
//! }
//! ```

use std::future::Future;

use tokio::task::JoinHandle;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

/// A handle on the server's drain; clones share it.
#[derive(Clone, Debug, Default)]
pub struct Shutdown {
    draining: CancellationToken,
    forced: CancellationToken,
    tasks: TaskTracker,
}

impl Shutdown {
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the drain has begun.
    pub fn is_draining(&self) -> bool {
        self.draining.is_cancelled()
    }

    /// Resolves once the drain begins: time to say goodbye and finish up.
    pub async fn draining(&self) {
        self.draining.cancelled().await;
    }

    /// Whether the grace period is over.
    pub fn is_forced(&self) -> bool {
        self.forced.is_cancelled()
    }

    /// Resolves once the grace period is over: close now.
    pub async fn forced(&self) {
        self.forced.cancelled().await;
    }

    /// A token that is cancelled when the grace period is over (for code that polls, such as
    /// socket wrappers, rather than awaits).
    pub fn forced_token(&self) -> CancellationToken {
        self.forced.clone()
    }

    /// Runs `task` as one the drain waits for. A task spawned after the drain finished still
    /// runs, but nobody waits for it.
    pub fn spawn<F>(&self, task: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.tasks.spawn(task)
    }

    /// How many tracked tasks are running.
    pub fn tracked_tasks(&self) -> usize {
        self.tasks.len()
    }

    /// Starts the drain (idempotent).
    pub(crate) fn begin_drain(&self) {
        self.draining.cancel();
    }

    /// Ends the grace period now (idempotent); implies the drain. The server calls it when
    /// the grace period runs out; the binary also on a second SIGINT/SIGTERM.
    pub fn force(&self) {
        self.draining.cancel();
        self.forced.cancel();
    }

    /// Waits until every tracked task has returned.
    pub(crate) async fn tasks_finished(&self) {
        self.tasks.close();
        self.tasks.wait().await;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn tracked_tasks_see_the_drain_and_are_waited_for() {
        let shutdown = Shutdown::new();
        let handle = shutdown.clone();
        shutdown.spawn(async move {
            handle.draining().await;
            tokio::time::sleep(Duration::from_millis(20)).await;
        });
        assert_eq!(shutdown.tracked_tasks(), 1);
        assert!(!shutdown.is_draining());
        shutdown.begin_drain();
        tokio::time::timeout(Duration::from_secs(5), shutdown.tasks_finished()).await.unwrap();
        assert_eq!(shutdown.tracked_tasks(), 0);
        assert!(!shutdown.is_forced());
        shutdown.force();
        assert!(shutdown.is_forced() && shutdown.is_draining());
    }
}

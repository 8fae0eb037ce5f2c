//! Load shedding: at most `limit` calls are being handled at once, server-wide. A call that
//! finds them all busy is refused at once with `UNAVAILABLE` rather than queued: a queue
//! without bound turns overload into latency for everyone and memory for us.
//!
//! Why `UNAVAILABLE` and not `RESOURCE_EXHAUSTED`: the call was not started, so it is safe to
//! retry, and `UNAVAILABLE` is the code gRPC retry policies, transparent retries and proxies
//! (Envoy, grpc-go's default service configs) treat as "try again, perhaps elsewhere".
//! `RESOURCE_EXHAUSTED` means the *caller* used up a quota — that is the rate limiter's
//! answer — and clients typically do not retry it.
//!
//! A slot is held while the handler runs: for a unary call until its response is ready, for a
//! streaming call until its stream starts (long-lived streams are bounded by HTTP/2 stream
//! limits and their own rules, not by this). Health checks are exempt: a probe that fails
//! under load gets a busy pod restarted, which makes the overload worse. This is tower's
//! `LoadShed` around `ConcurrencyLimit`, without the readiness handshake (whose error would
//! then need translating back into a gRPC status).

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tonic::Status;

use super::is_health;
use crate::metrics::Metrics;

pub struct LoadShed {
    slots: Arc<Semaphore>,
    metrics: Arc<Metrics>,
}

impl LoadShed {
    pub fn new(limit: usize, metrics: Arc<Metrics>) -> Self {
        Self { slots: Arc::new(Semaphore::new(limit)), metrics }
    }

    /// A slot for a call to `path`, held until its handler has answered (`None`: exempt), or
    /// `Err` with the status to answer when every slot is busy.
    pub fn admit(&self, path: &str) -> Result<Option<OwnedSemaphorePermit>, Status> {
        if is_health(path) {
            return Ok(None);
        }
        match Arc::clone(&self.slots).try_acquire_owned() {
            Ok(slot) => Ok(Some(slot)),
            Err(_) => {
                self.metrics.load_shed.inc();
                Err(Status::unavailable("server overloaded: too many calls in progress, retry shortly"))
            }
        }
    }
}

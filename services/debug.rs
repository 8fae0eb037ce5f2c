//! TEST-ONLY `DebugService`: real slow work and a real panic, so tests can prove deadlines,
//! cancellation, load shedding and panic isolation end to end. Served only with the hidden
//! `--enable-debug-rpcs` flag; a production server never has it.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use tonic::{Request, Response, Status};

use crate::{
    metrics::Metrics,
    pb::debug::{self, debug_service_server},
};

const MAX_SLEEP_MILLIS: u32 = 600_000;

pub struct DebugService {
    metrics: Arc<Metrics>,
}

impl DebugService {
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Self { metrics }
    }

    pub fn into_server(self) -> debug_service_server::DebugServiceServer<Self> {
        debug_service_server::DebugServiceServer::new(self)
    }
}

/// Counts the sleep as cancelled unless it was disarmed: dropping the handler's future
/// before the end (the deadline layer does, and so does a client reset) runs this.
struct CancelGuard {
    metrics: Arc<Metrics>,
    armed: bool,
}

impl Drop for CancelGuard {
    fn drop(&mut self) {
        if self.armed {
            self.metrics.debug_sleeps_cancelled.inc();
            tracing::info!("debug sleep cancelled: the caller gave up");
        }
    }
}

#[tonic::async_trait]
impl debug_service_server::DebugService for DebugService {
    async fn sleep(&self, request: Request<debug::SleepRequest>) -> Result<Response<debug::SleepResponse>, Status> {
        let millis = request.into_inner().millis;
        if millis > MAX_SLEEP_MILLIS {
            return Err(Status::invalid_argument(format!("millis: must be at most {MAX_SLEEP_MILLIS}")));
        }
        let mut guard = CancelGuard { metrics: Arc::clone(&self.metrics), armed: true };
        let start = Instant::now();
        tokio::time::sleep(Duration::from_millis(millis.into())).await;
        guard.armed = false;
        let slept = u32::try_from(start.elapsed().as_millis()).unwrap_or(u32::MAX);
        Ok(Response::new(debug::SleepResponse { slept_millis: slept }))
    }

    async fn panic(&self, _request: Request<debug::PanicRequest>) -> Result<Response<debug::PanicResponse>, Status> {
        panic!("DebugService/Panic was called: this panic is deliberate");
    }
}

//! `grpc.health.v1.Health`, following the health-checking spec to the letter:
//! `Check` on an unknown name is `NOT_FOUND`; `Watch` on an unknown name answers
//! `SERVICE_UNKNOWN` and keeps the stream open (tonic-health's stock `Watch` fails it with
//! `NOT_FOUND`, which makes watching clients retry in a loop).
//!
//! The set of names is fixed at start-up: "" for the whole server and each service's full
//! name. Every name starts `NOT_SERVING` and is switched by the server assembly.

use std::{collections::HashMap, pin::Pin, sync::Arc};

use tokio::sync::watch;
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status};
use tonic_health::pb::{
    HealthCheckRequest, HealthCheckResponse,
    health_check_response::ServingStatus,
    health_server::{Health, HealthServer},
};

pub use tonic_health::pb::health_check_response::ServingStatus as Serving;

use crate::shutdown::Shutdown;

/// The serving status of every name the server answers for.
#[derive(Clone)]
pub struct HealthRegistry {
    statuses: Arc<HashMap<String, watch::Sender<ServingStatus>>>,
}

impl HealthRegistry {
    pub fn new<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        let statuses =
            names.into_iter().map(|name| (name.to_owned(), watch::Sender::new(ServingStatus::NotServing))).collect();
        Self { statuses: Arc::new(statuses) }
    }

    /// Sets one name's status; unknown names are ignored (the set is fixed).
    pub fn set(&self, name: &str, status: ServingStatus) {
        if let Some(sender) = self.statuses.get(name) {
            sender.send_replace(status);
        }
    }

    /// Sets every name at once, e.g. NOT_SERVING when draining.
    pub fn set_all(&self, status: ServingStatus) {
        for sender in self.statuses.values() {
            sender.send_replace(status);
        }
    }

    pub fn get(&self, name: &str) -> Option<ServingStatus> {
        self.statuses.get(name).map(|sender| *sender.borrow())
    }

    pub fn into_server(self) -> HealthServer<HealthService> {
        self.into_server_with_shutdown(Shutdown::new())
    }

    /// Watch streams end once `shutdown` drains, right after telling the watcher the final
    /// status (the server sets NOT_SERVING before it drains), so they do not hold the drain.
    pub fn into_server_with_shutdown(self, shutdown: Shutdown) -> HealthServer<HealthService> {
        HealthServer::new(HealthService { registry: self, shutdown })
    }
}

pub struct HealthService {
    registry: HealthRegistry,
    shutdown: Shutdown,
}

type WatchResponseStream = Pin<Box<dyn Stream<Item = Result<HealthCheckResponse, Status>> + Send>>;

fn response(status: ServingStatus) -> HealthCheckResponse {
    HealthCheckResponse { status: status.into() }
}

#[tonic::async_trait]
impl Health for HealthService {
    async fn check(&self, request: Request<HealthCheckRequest>) -> Result<Response<HealthCheckResponse>, Status> {
        let name = request.into_inner().service;
        match self.registry.get(&name) {
            Some(status) => Ok(Response::new(response(status))),
            None => Err(Status::not_found(format!("unknown service {name:?}"))),
        }
    }

    type WatchStream = WatchResponseStream;

    async fn watch(&self, request: Request<HealthCheckRequest>) -> Result<Response<Self::WatchStream>, Status> {
        let name = request.into_inner().service;
        let stream: WatchResponseStream = match self.registry.statuses.get(&name) {
            Some(sender) => watch_stream(sender.subscribe(), self.shutdown.clone()),
            // The spec: tell the watcher the name is unknown and keep the stream open, since
            // the name could become known later. Here the set is fixed, so nothing follows.
            None => {
                Box::pin(tokio_stream::once(Ok(response(ServingStatus::ServiceUnknown))).chain(tokio_stream::pending()))
            }
        };
        Ok(Response::new(stream))
    }
}

/// The current status first, then every change; ends once the drain has begun and the watcher
/// has been sent the latest status.
fn watch_stream(mut statuses: watch::Receiver<ServingStatus>, shutdown: Shutdown) -> WatchResponseStream {
    let first = *statuses.borrow_and_update();
    let changes = futures_util::stream::unfold(Some((statuses, shutdown)), |state| async move {
        let (mut statuses, shutdown) = state?;
        tokio::select! {
            // A change that is ready wins over the drain: NOT_SERVING is set before the
            // drain begins, and the watcher must see it.
            biased;
            changed = statuses.changed() => {
                changed.ok()?;
                let status = *statuses.borrow_and_update();
                Some((Ok(response(status)), Some((statuses, shutdown))))
            }
            () = shutdown.draining() => {
                if statuses.has_changed().unwrap_or(false) {
                    let status = *statuses.borrow_and_update();
                    Some((Ok(response(status)), None))
                } else {
                    None
                }
            }
        }
    });
    Box::pin(tokio_stream::once(Ok(response(first))).chain(changes))
}

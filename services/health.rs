//! `grpc.health.v1.Health`, following the health-checking spec to the letter:
//! `Check` on an unknown name is `NOT_FOUND`; `Watch` on an unknown name answers
//! `SERVICE_UNKNOWN` and keeps the stream open (tonic-health's stock `Watch` fails it with
//! `NOT_FOUND`, which makes watching clients retry in a loop).
//!
//! The set of names is fixed at start-up: "" for the whole server and each service's full
//! name. Every name starts `NOT_SERVING` and is switched by the server assembly.

use std::{collections::HashMap, pin::Pin, sync::Arc};

use tokio::sync::watch;
use tokio_stream::{Stream, StreamExt, wrappers::WatchStream};
use tonic::{Request, Response, Status};
use tonic_health::pb::{
    HealthCheckRequest, HealthCheckResponse,
    health_check_response::ServingStatus,
    health_server::{Health, HealthServer},
};

pub use tonic_health::pb::health_check_response::ServingStatus as Serving;

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
        HealthServer::new(HealthService { registry: self })
    }
}

pub struct HealthService {
    registry: HealthRegistry,
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
            // WatchStream yields the current status first, then every change.
            Some(sender) => Box::pin(WatchStream::new(sender.subscribe()).map(|status| Ok(response(status)))),
            // The spec: tell the watcher the name is unknown and keep the stream open, since
            // the name could become known later. Here the set is fixed, so nothing follows.
            None => {
                Box::pin(tokio_stream::once(Ok(response(ServingStatus::ServiceUnknown))).chain(tokio_stream::pending()))
            }
        };
        Ok(Response::new(stream))
    }
}

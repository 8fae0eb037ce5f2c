//! `EchoService`: echo and ping, the cheapest end-to-end check of the whole stack.

use std::time::SystemTime;

use tonic::{Request, Response, Status};

use crate::pb::{self, echo_service_server};

#[derive(Debug, Default, Clone, Copy)]
pub struct EchoService;

impl EchoService {
    pub fn into_server(self) -> echo_service_server::EchoServiceServer<Self> {
        echo_service_server::EchoServiceServer::new(self)
    }
}

#[tonic::async_trait]
impl echo_service_server::EchoService for EchoService {
    async fn echo(&self, request: Request<pb::EchoRequest>) -> Result<Response<pb::EchoResponse>, Status> {
        Ok(Response::new(pb::EchoResponse { message: request.into_inner().message }))
    }

    async fn ping(&self, _request: Request<pb::PingRequest>) -> Result<Response<pb::PingResponse>, Status> {
        Ok(Response::new(pb::PingResponse { server_time: Some(SystemTime::now().into()) }))
    }
}

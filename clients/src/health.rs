//! The two messages of `grpc.health.v1.Health/Check`, written out here so the client needs
//! neither tonic-health (a server crate) nor a copy of its proto.

use tonic::{Request, Response, Status, codegen::http::uri::PathAndQuery, transport::Channel};

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct HealthCheckRequest {
    #[prost(string, tag = "1")]
    pub service: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct HealthCheckResponse {
    #[prost(int32, tag = "1")]
    pub status: i32,
}

/// What the server says of a service's health.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServingStatus {
    Unknown,
    Serving,
    NotServing,
    /// Only sent by Watch; listed for completeness.
    ServiceUnknown,
}

impl ServingStatus {
    pub(crate) fn from_wire(value: i32) -> Self {
        match value {
            1 => Self::Serving,
            2 => Self::NotServing,
            3 => Self::ServiceUnknown,
            _ => Self::Unknown,
        }
    }

    /// The protocol's name for it, e.g. `SERVING`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unknown => "UNKNOWN",
            Self::Serving => "SERVING",
            Self::NotServing => "NOT_SERVING",
            Self::ServiceUnknown => "SERVICE_UNKNOWN",
        }
    }
}

pub(crate) async fn check(
    channel: Channel,
    request: Request<HealthCheckRequest>,
) -> Result<Response<HealthCheckResponse>, Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.map_err(|e| Status::unavailable(format!("service was not ready: {e}")))?;
    let codec = switchboard::codec::ProtoCodec::<HealthCheckRequest, HealthCheckResponse>::default();
    grpc.unary(request, PathAndQuery::from_static("/grpc.health.v1.Health/Check"), codec).await
}

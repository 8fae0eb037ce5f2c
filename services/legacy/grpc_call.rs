//! Unary gRPC calls made in-process, for the binary protocol's call frames.
//!
//! A call goes through the very stack the gRPC port serves — the same routes behind the same
//! tower layers — by [`crate::in_process`], as REST and the web chat do, so every layer applies
//! to binary clients too, and the request carries the legacy client's address like a network
//! call would.

use std::{collections::HashSet, net::SocketAddr, sync::Arc, time::Duration};

use bytes::Bytes;
use http_body_util::Full;
use prost::Message as _;
use tonic::{
    Code, Status,
    body::Body,
    codegen::http::{HeaderMap, HeaderName, HeaderValue},
};

use crate::in_process;
pub use crate::in_process::GrpcService;

/// One unary call: a full method name (`/switchboard.v1.KvService/Get`), metadata, and the
/// protobuf-encoded request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub method: String,
    pub metadata: Vec<(String, String)>,
    pub message: Bytes,
}

/// The outcome of a call: a status and, when it is OK, the protobuf-encoded response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: Code,
    pub message: String,
    pub response: Bytes,
}

impl Reply {
    fn status(code: Code, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), response: Bytes::new() }
    }

    fn from_status(status: &Status) -> Self {
        Self::status(status.code(), status.message())
    }
}

/// Calls the gRPC stack. Only unary methods: a call frame has one request and one reply.
#[derive(Clone)]
pub struct GrpcGateway {
    service: GrpcService,
    unary: Arc<HashSet<String>>,
    streaming: Arc<HashSet<String>>,
}

impl GrpcGateway {
    /// `descriptor_sets`: the encoded `FileDescriptorSet`s of the services behind `service`,
    /// which say which methods are unary.
    pub fn new(service: GrpcService, descriptor_sets: &[&[u8]]) -> Result<Self, prost::DecodeError> {
        let mut unary = HashSet::new();
        let mut streaming = HashSet::new();
        for set in descriptor_sets {
            for file in prost_types::FileDescriptorSet::decode(*set)?.file {
                let package = file.package().to_owned();
                for service in &file.service {
                    for method in &service.method {
                        let name = if package.is_empty() {
                            format!("/{}/{}", service.name(), method.name())
                        } else {
                            format!("/{package}.{}/{}", service.name(), method.name())
                        };
                        if method.client_streaming() || method.server_streaming() {
                            streaming.insert(name);
                        } else {
                            unary.insert(name);
                        }
                    }
                }
            }
        }
        Ok(Self { service, unary: Arc::new(unary), streaming: Arc::new(streaming) })
    }

    /// Makes the call. Every failure is a [`Reply`] with a status, never a panic or a hang:
    /// the call is bounded by `deadline` and the response by `max_response_bytes`.
    pub async fn call(
        &self,
        call: Call,
        local: SocketAddr,
        peer: SocketAddr,
        deadline: Duration,
        max_response_bytes: usize,
    ) -> Reply {
        let method = if call.method.starts_with('/') { call.method } else { format!("/{}", call.method) };
        if self.streaming.contains(&method) {
            return Reply::status(
                Code::Unimplemented,
                format!("{method} is a streaming method; call frames carry unary calls only"),
            );
        }
        if !self.unary.contains(&method) {
            return Reply::status(Code::Unimplemented, format!("unknown method {method}"));
        }
        let metadata = match metadata(&call.metadata) {
            Ok(metadata) => metadata,
            Err(reply) => return reply,
        };
        let invoke = self.invoke(&method, metadata, &call.message, (local, peer), max_response_bytes);
        match tokio::time::timeout(deadline, invoke).await {
            Ok(reply) => reply,
            Err(_elapsed) => Reply::status(Code::DeadlineExceeded, format!("no reply within {deadline:?}")),
        }
    }

    async fn invoke(
        &self,
        method: &str,
        metadata: HeaderMap,
        message: &[u8],
        (local, peer): (SocketAddr, SocketAddr),
        max_response_bytes: usize,
    ) -> Reply {
        let body = Body::new(Full::new(in_process::frame(message)));
        let mut responses = match in_process::start(&self.service, method, metadata, body, local, peer).await {
            Ok(responses) => responses,
            Err(status) => return Reply::from_status(&status),
        };
        let response = match responses.next(max_response_bytes).await {
            Ok(Some(response)) => response,
            Ok(None) => return Reply::status(Code::Internal, "the service answered no message"),
            Err(status) => return Reply::from_status(&status),
        };
        match responses.next(max_response_bytes).await {
            Ok(None) => Reply { code: Code::Ok, message: String::new(), response },
            Ok(Some(_)) => Reply::status(Code::Internal, "the service answered more than one message"),
            Err(status) => Reply::from_status(&status),
        }
    }
}

/// A call frame's metadata as gRPC metadata; the framing headers are the adapter's to set.
fn metadata(pairs: &[(String, String)]) -> Result<HeaderMap, Reply> {
    let invalid = |detail: String| Reply::status(Code::InvalidArgument, detail);
    let mut metadata = HeaderMap::with_capacity(pairs.len());
    for (key, value) in pairs {
        let name = HeaderName::from_bytes(key.to_ascii_lowercase().as_bytes())
            .map_err(|_| invalid(format!("invalid metadata key {key:?}")))?;
        if name.as_str().starts_with("grpc-") || matches!(name.as_str(), "content-type" | "te") {
            return Err(invalid(format!("metadata key {key:?} is reserved")));
        }
        let value =
            HeaderValue::from_str(value).map_err(|_| invalid(format!("invalid value for metadata key {key:?}")))?;
        metadata.append(name, value);
    }
    Ok(metadata)
}

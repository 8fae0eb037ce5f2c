//! Unary gRPC calls made in-process, for the binary protocol's call frames.
//!
//! A call goes through the very stack the gRPC port serves — the same routes behind the same
//! tower layers — as a synthetic HTTP/2 gRPC request, so every layer (status-code fixes,
//! and whatever auth or limits are added later) applies to binary clients too, and the
//! request carries the legacy client's address like a network call would.

use std::{collections::HashSet, convert::Infallible, net::SocketAddr, sync::Arc, time::Duration};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use prost::Message as _;
use tonic::{
    Code, Status,
    body::Body,
    codegen::http::{self, HeaderName, HeaderValue},
    transport::server::TcpConnectInfo,
};
use tower::{Service, ServiceExt, util::BoxCloneSyncService};

/// The gRPC routes behind the server's tower layers, callable in-process.
pub type GrpcService = BoxCloneSyncService<http::Request<Body>, http::Response<Body>, Infallible>;

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
        let request = match build_request(&method, &call.metadata, &call.message, local, peer) {
            Ok(request) => request,
            Err(reply) => return reply,
        };
        match tokio::time::timeout(deadline, self.invoke(request, max_response_bytes)).await {
            Ok(reply) => reply,
            Err(_elapsed) => Reply::status(Code::DeadlineExceeded, format!("no reply within {deadline:?}")),
        }
    }

    async fn invoke(&self, request: http::Request<Body>, max_response_bytes: usize) -> Reply {
        let mut service = self.service.clone();
        let response = match service.ready().await {
            Ok(ready) => ready.call(request).await,
            Err(never) => match never {},
        };
        let response = match response {
            Ok(response) => response,
            Err(never) => match never {},
        };
        let (parts, mut body) = response.into_parts();
        // A trailers-only response: the status is in the headers.
        if let Some(status) = Status::from_header_map(&parts.headers)
            && status.code() != Code::Ok
        {
            return Reply::from_status(&status);
        }
        let mut data = BytesMut::new();
        let mut trailers = None;
        while let Some(frame) = body.frame().await {
            let frame = match frame {
                Ok(frame) => frame,
                Err(status) => return Reply::from_status(&status),
            };
            match frame.into_data() {
                Ok(chunk) => {
                    // The 5-byte gRPC message prefix rides along with the message.
                    if data.len() + chunk.len() > max_response_bytes + 5 {
                        return Reply::status(
                            Code::ResourceExhausted,
                            format!(
                                "the response is larger than a binary frame can carry ({max_response_bytes} bytes)"
                            ),
                        );
                    }
                    data.extend_from_slice(&chunk);
                }
                Err(frame) => {
                    if let Ok(map) = frame.into_trailers() {
                        trailers = Some(map);
                    }
                }
            }
        }
        let status =
            trailers.as_ref().and_then(Status::from_header_map).or_else(|| Status::from_header_map(&parts.headers));
        match status {
            Some(status) if status.code() == Code::Ok => match unprefix(data.freeze()) {
                Some(response) => Reply { code: Code::Ok, message: String::new(), response },
                None => Reply::status(Code::Internal, "the service answered a malformed gRPC message"),
            },
            Some(status) => Reply::from_status(&status),
            None => Reply::status(Code::Internal, "the service ended its response without a status"),
        }
    }
}

fn build_request(
    method: &str,
    metadata: &[(String, String)],
    message: &[u8],
    local: SocketAddr,
    peer: SocketAddr,
) -> Result<http::Request<Body>, Reply> {
    let invalid = |detail: String| Reply::status(Code::InvalidArgument, detail);
    let length = u32::try_from(message.len()).map_err(|_| invalid("request message too large".into()))?;
    let mut framed = BytesMut::with_capacity(5 + message.len());
    framed.put_u8(0); // not compressed
    framed.put_u32(length);
    framed.extend_from_slice(message);

    let mut request = http::Request::builder()
        .method(http::Method::POST)
        .uri(method)
        .version(http::Version::HTTP_2)
        .header(http::header::CONTENT_TYPE, "application/grpc")
        .header(http::header::TE, "trailers")
        .body(Body::new(Full::new(framed.freeze())))
        .map_err(|e| invalid(format!("invalid method name: {e}")))?;
    for (key, value) in metadata {
        let name = HeaderName::from_bytes(key.to_ascii_lowercase().as_bytes())
            .map_err(|_| invalid(format!("invalid metadata key {key:?}")))?;
        // The framing headers are this adapter's to set, not the caller's.
        if name.as_str().starts_with("grpc-") || matches!(name.as_str(), "content-type" | "te") {
            return Err(invalid(format!("metadata key {key:?} is reserved")));
        }
        let value =
            HeaderValue::from_str(value).map_err(|_| invalid(format!("invalid value for metadata key {key:?}")))?;
        request.headers_mut().append(name, value);
    }
    request.extensions_mut().insert(TcpConnectInfo { local_addr: Some(local), remote_addr: Some(peer) });
    Ok(request)
}

/// The message out of one length-prefixed gRPC message.
fn unprefix(mut data: Bytes) -> Option<Bytes> {
    if data.len() < 5 || data[0] != 0 {
        return None;
    }
    data.advance(1);
    let length = usize::try_from(data.get_u32()).ok()?;
    (data.len() == length).then_some(data)
}

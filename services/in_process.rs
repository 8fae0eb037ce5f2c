//! Calls into the layered gRPC stack in-process, the one way every front door that is not the
//! gRPC port reaches the services: REST, the guide's endpoints, the web chat's WebSocket and
//! the binary port's call frames. A request body of length-prefixed messages goes in; a stream
//! of messages and a final status come out.
//!
//! The request is a synthetic HTTP/2 gRPC request carrying the client's address and its
//! headers turned metadata, so every layer (request id, access log, metrics, rate limit, auth,
//! load shedding, deadline, panic isolation) treats it exactly as a call that came over the
//! gRPC port.

use std::{convert::Infallible, net::SocketAddr};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use http_body_util::BodyExt as _;
use tonic::{
    Code, Status,
    body::Body,
    codegen::http::{self, HeaderMap},
    transport::server::TcpConnectInfo,
};
use tower::{Service, ServiceExt as _, util::BoxCloneSyncService};

/// The gRPC routes behind the server's tower layers.
pub type GrpcService = BoxCloneSyncService<http::Request<Body>, http::Response<Body>, Infallible>;

/// One message with its 5-byte gRPC prefix (uncompressed).
pub fn frame(message: &[u8]) -> Bytes {
    let mut framed = BytesMut::with_capacity(5 + message.len());
    framed.put_u8(0);
    framed.put_u32(u32::try_from(message.len()).unwrap_or(u32::MAX));
    framed.extend_from_slice(message);
    framed.freeze()
}

/// Starts a call: `path` is `/package.Service/Method`, `metadata` already gRPC metadata.
pub async fn start(
    service: &GrpcService,
    path: &str,
    metadata: HeaderMap,
    body: Body,
    local: SocketAddr,
    peer: SocketAddr,
) -> Result<Responses, Status> {
    let mut request = http::Request::builder()
        .method(http::Method::POST)
        .uri(path)
        .version(http::Version::HTTP_2)
        .body(body)
        .map_err(|e| Status::invalid_argument(format!("invalid method path: {e}")))?;
    *request.headers_mut() = metadata;
    let headers = request.headers_mut();
    headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/grpc"));
    headers.insert(http::header::TE, http::HeaderValue::from_static("trailers"));
    request.extensions_mut().insert(TcpConnectInfo { local_addr: Some(local), remote_addr: Some(peer) });

    let response = match service.clone().ready().await {
        Ok(ready) => ready.call(request).await,
        Err(never) => match never {},
    };
    let response = match response {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let (parts, body) = response.into_parts();
    // A trailers-only response: the call failed before any message.
    if let Some(status) = Status::from_header_map(&parts.headers)
        && status.code() != Code::Ok
    {
        return Err(with_request_id(status, &parts.headers));
    }
    Ok(Responses { headers: parts.headers, body, buffer: BytesMut::new(), done: false })
}

/// A request body of one message.
pub fn one_message(message: &[u8]) -> Body {
    Body::new(http_body_util::Full::new(frame(message)))
}

/// The listener's record of the connection a request came on: (local, peer). Every front door
/// on the HTTP port passes them on, so the layers see the client's address (rate limits, logs).
pub fn client_addresses(extensions: &http::Extensions) -> (SocketAddr, SocketAddr) {
    let unknown = SocketAddr::from(([0, 0, 0, 0], 0));
    extensions
        .get::<TcpConnectInfo>()
        .map_or((unknown, unknown), |info| (info.local_addr.unwrap_or(unknown), info.remote_addr.unwrap_or(unknown)))
}

/// The messages of a call's response, then its status.
pub struct Responses {
    headers: HeaderMap,
    body: Body,
    buffer: BytesMut,
    done: bool,
}

impl Responses {
    /// The response headers (`x-request-id` among them).
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The one message of a unary answer, after which the call must end with OK. Errors carry
    /// the call's request id.
    pub async fn only_message(&mut self, max_bytes: usize) -> Result<Bytes, Status> {
        let outcome = match self.next(max_bytes).await {
            Ok(Some(message)) => match self.next(max_bytes).await {
                Ok(None) => Ok(message),
                Ok(Some(_)) => Err(Status::internal("the service answered more than one message")),
                Err(status) => Err(status),
            },
            Ok(None) => Err(Status::internal("the service answered no message")),
            Err(status) => Err(status),
        };
        outcome.map_err(|status| with_request_id(status, &self.headers))
    }

    /// The next message; `Ok(None)` once the call ended with OK; `Err` with its status otherwise.
    /// `max_bytes` bounds one message.
    pub async fn next(&mut self, max_bytes: usize) -> Result<Option<Bytes>, Status> {
        loop {
            if let Some(message) = self.take_message(max_bytes)? {
                return Ok(Some(message));
            }
            if self.done {
                return Ok(None);
            }
            match self.body.frame().await {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => self.buffer.extend_from_slice(&data),
                    Err(frame) => {
                        self.done = true;
                        let status = frame.into_trailers().ok().and_then(|t| Status::from_header_map(&t));
                        match status {
                            Some(status) if status.code() == Code::Ok => {}
                            Some(status) => return Err(status),
                            None => return Err(Status::internal("the service ended its response without a status")),
                        }
                    }
                },
                Some(Err(status)) => {
                    self.done = true;
                    return Err(status);
                }
                None => {
                    self.done = true;
                    if !self.buffer.is_empty() {
                        return Err(Status::internal("the service ended its response mid-message"));
                    }
                    return Err(Status::internal("the service ended its response without a status"));
                }
            }
        }
    }

    fn take_message(&mut self, max_bytes: usize) -> Result<Option<Bytes>, Status> {
        if self.buffer.len() < 5 {
            return Ok(None);
        }
        if self.buffer[0] != 0 {
            return Err(Status::internal("the service answered a compressed message"));
        }
        let length =
            usize::try_from(u32::from_be_bytes([self.buffer[1], self.buffer[2], self.buffer[3], self.buffer[4]]))
                .unwrap_or(usize::MAX);
        if length > max_bytes {
            return Err(Status::resource_exhausted(format!(
                "the response message is {length} bytes, more than the limit of {max_bytes}"
            )));
        }
        if self.buffer.len() < 5 + length {
            return Ok(None);
        }
        self.buffer.advance(5);
        Ok(Some(self.buffer.split_to(length).freeze()))
    }
}

/// A unary call with typed messages: what a front door that knows the API (the guide's
/// endpoints) uses. Returns the response and the response headers (the request id).
pub async fn unary<Request, Reply>(
    service: &GrpcService,
    path: &str,
    metadata: HeaderMap,
    request: &Request,
    local: SocketAddr,
    peer: SocketAddr,
    max_bytes: usize,
) -> Result<(Reply, HeaderMap), Status>
where
    Request: prost::Message,
    Reply: prost::Message + Default,
{
    let mut responses = start(service, path, metadata, one_message(&request.encode_to_vec()), local, peer).await?;
    let message = responses.only_message(max_bytes).await?;
    let reply = Reply::decode(message).map_err(|e| Status::internal(format!("undecodable response: {e}")))?;
    Ok((reply, responses.headers))
}

/// `status` with the call's request id, so an error response can echo it too.
pub fn with_request_id(mut status: Status, headers: &HeaderMap) -> Status {
    let name = crate::middleware::request_id::REQUEST_ID_HEADER;
    if let Some(id) = headers.get(name)
        && let Ok(value) = tonic::metadata::MetadataValue::try_from(id.as_bytes())
    {
        status.metadata_mut().insert(name, value);
    }
    status
}

//! The HTTP front door: REST/JSON transcoded from the protos' `google.api.http` rules,
//! Server-Sent Events for server streams, raw-byte file transfer, and `/openapi.json`.
//!
//! Transcoding happens at the edge and nowhere else. A REST request is matched against the
//! route table read from the descriptors, turned into the rpc's protobuf request, and sent
//! in-process through the very layered gRPC stack the gRPC port serves ([`call`]): the same
//! request id, access log line, metrics, rate limit, auth, load shedding, deadline and panic
//! isolation, into the same service instances. The answer comes back as proto3 JSON, or as a
//! `google.rpc.Status` JSON error with the standard HTTP status ([`errors`]).
//!
//! Headers that become metadata: `Authorization`, `X-API-Key`, `Idempotency-Key`,
//! `X-Request-Id` (echoed back), and a deadline as `grpc-timeout` (gRPC's form, `500m`) or
//! `X-Request-Timeout` (seconds, `2.5`).

pub mod errors;
pub mod openapi;
pub mod routes;
mod serve;
mod streams;
pub mod transcode;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::{
    Router,
    body::Body as AxumBody,
    extract::{Request, State},
    response::{IntoResponse, Response},
    routing::get,
};
use bytes::Bytes;
use http_body_util::BodyExt as _;
use prost::Message as _;
use prost_reflect::DynamicMessage;
use tonic::{
    Status,
    codegen::http::{self, HeaderMap, HeaderName, HeaderValue, StatusCode, header},
};

use self::{
    routes::{BodyRule, Matched, Route},
    transcode::TranscodeError,
};
pub use self::{
    routes::{RouteError, RouteTable},
    serve::serve,
};
use crate::{
    in_process::{self, GrpcService},
    shutdown::Shutdown,
};

/// Request headers passed on to the call as metadata.
const FORWARDED_HEADERS: &[&str] = &["authorization", "x-api-key", "idempotency-key", "x-request-id", "grpc-timeout"];
/// The deadline header for HTTP clients, in seconds.
const REQUEST_TIMEOUT_HEADER: &str = "x-request-timeout";

/// The most of a raw upload put into one message: 256 KiB (FileService takes up to 1 MiB),
/// less where `--max-message-bytes` is smaller, leaving room for the message's framing.
pub(crate) fn upload_piece_bytes(max_message_bytes: usize) -> usize {
    max_message_bytes.saturating_sub(64).clamp(1, 256 * 1024)
}

/// Settings of the HTTP front door.
#[derive(Debug, Clone, Copy)]
pub struct RestSettings {
    /// Largest request body and largest response message.
    pub max_message_bytes: usize,
    /// How often a quiet event stream sends a comment line, so proxies keep it open.
    pub heartbeat: Duration,
}

/// The REST front door of one server: its routes, its way into the gRPC stack, its document.
#[derive(Clone)]
pub struct Rest {
    inner: Arc<Inner>,
}

struct Inner {
    table: RouteTable,
    grpc: GrpcService,
    settings: RestSettings,
    openapi: Bytes,
    shutdown: Shutdown,
}

impl Rest {
    /// Serves `table` through `grpc`; `openapi` is the document of the same table.
    pub fn new(
        table: RouteTable,
        openapi: Vec<u8>,
        grpc: GrpcService,
        settings: RestSettings,
        shutdown: Shutdown,
    ) -> Self {
        Self { inner: Arc::new(Inner { table, grpc, settings, openapi: Bytes::from(openapi), shutdown }) }
    }

    /// The HTTP routes: `/openapi.json` and every transcoded rpc.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/openapi.json", get(openapi_document).fallback(|| async { get_only("/openapi.json") }))
            .fallback(handle)
            .with_state(self.clone())
    }
}

/// A wrong method on a fixed GET route: 405 with `Allow` and a status body, like the routes.
fn get_only(path: &str) -> Response {
    let status = Status::unimplemented(format!("{path} takes GET only"));
    let Failure(mut response) = Failure::with_http_status(&status, StatusCode::METHOD_NOT_ALLOWED);
    response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
    response
}

async fn openapi_document(State(rest): State<Rest>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], rest.inner.openapi.clone()).into_response()
}

/// Every request the fixed routes do not take: a transcoded rpc, or a JSON 404/405.
async fn handle(State(rest): State<Rest>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path();
    let (route, bound) = match rest.inner.table.find(&parts.method, path) {
        Matched::Route(route, bound) => (route, bound),
        Matched::WrongMethod(allowed) => {
            let allow = allowed.iter().map(http::Method::as_str).collect::<Vec<_>>().join(", ");
            let status = Status::unimplemented(format!("{path} does not take {}; it takes {allow}", parts.method));
            let Failure(mut response) = Failure::with_http_status(&status, StatusCode::METHOD_NOT_ALLOWED);
            if let Ok(value) = HeaderValue::from_str(&allow) {
                response.headers_mut().insert(header::ALLOW, value);
            }
            return response;
        }
        Matched::NotFound => {
            return errors::error_response(&Status::not_found(format!("no route for {} {path}", parts.method)));
        }
    };
    let (local, peer) = in_process::client_addresses(&parts.extensions);
    let metadata = match metadata(&parts.headers) {
        Ok(metadata) => metadata,
        Err(status) => return errors::error_response(&status),
    };
    let exchange = Exchange { rest: &rest, route, bound, query: parts.uri.query(), local, peer, metadata };
    let result = if route.is_client_streaming() {
        let result = streams::upload(exchange, &parts.headers, body).await;
        // A refused upload may leave its body unread, and then HTTP/1.1 cannot go on with the
        // connection: say so rather than let the client find out on its next request.
        result.map_err(|Failure(mut response)| {
            if parts.version == http::Version::HTTP_11 {
                response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            Failure(response)
        })
    } else if route.is_server_streaming() && route.response_body.is_some() {
        streams::download(exchange).await
    } else if route.is_server_streaming() {
        streams::events(exchange).await
    } else {
        unary(exchange, &parts.headers, body).await
    };
    result.unwrap_or_else(|Failure(response)| response)
}

/// What every kind of call needs: the route and the values its path bound, the query, the
/// client's address, the metadata.
struct Exchange<'a> {
    rest: &'a Rest,
    route: &'a Route,
    bound: Vec<(String, String)>,
    query: Option<&'a str>,
    local: SocketAddr,
    peer: SocketAddr,
    metadata: HeaderMap,
}

impl Exchange<'_> {
    fn max_bytes(&self) -> usize {
        self.rest.inner.settings.max_message_bytes
    }

    /// Starts the call with `body` (framed messages).
    async fn start(&self, body: tonic::body::Body) -> Result<in_process::Responses, Status> {
        in_process::start(
            &self.rest.inner.grpc,
            &self.route.grpc_path,
            self.metadata.clone(),
            body,
            self.local,
            self.peer,
        )
        .await
    }

    /// The request message from the path, the query and `json`, encoded.
    fn request_bytes(&self, json: &[u8]) -> Result<Vec<u8>, Status> {
        let message = self.request_message(json)?;
        Ok(message.encode_to_vec())
    }

    /// The request message from the path, the query and `json`.
    fn request_message(&self, json: &[u8]) -> Result<DynamicMessage, Status> {
        transcode::request_message(self.route, &self.bound, self.query, json).map_err(bad_request)
    }

    /// A response message as a JSON 200, with the call's request id.
    fn json_response(&self, message: &[u8], headers: &HeaderMap) -> Result<Response, Status> {
        let dynamic = DynamicMessage::decode(self.route.method.output(), message)
            .map_err(|e| Status::internal(format!("the service answered an undecodable message: {e}")))?;
        let mut out = Vec::with_capacity(message.len() * 2 + 16);
        transcode::write_json(&dynamic, &mut out)
            .map_err(|e| Status::internal(format!("the response cannot be written as JSON: {e}")))?;
        let mut response = ([(header::CONTENT_TYPE, "application/json")], out).into_response();
        copy_request_id(headers, response.headers_mut());
        Ok(response)
    }
}

fn bad_request(error: TranscodeError) -> Status {
    Status::invalid_argument(error.to_string())
}

/// The gRPC metadata of a REST request.
pub(crate) fn metadata(headers: &HeaderMap) -> Result<HeaderMap, Status> {
    let mut metadata = HeaderMap::with_capacity(FORWARDED_HEADERS.len());
    for name in FORWARDED_HEADERS {
        for value in headers.get_all(*name) {
            metadata.append(HeaderName::from_static(name), value.clone());
        }
    }
    if let Some(value) = headers.get(REQUEST_TIMEOUT_HEADER) {
        let seconds = value
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s > 0.0 && *s <= 1e8)
            .ok_or_else(|| {
                Status::invalid_argument(format!(
                    "{REQUEST_TIMEOUT_HEADER} must be a positive number of seconds, e.g. 2.5"
                ))
            })?;
        // gRPC's form: at most 8 digits and a unit; milliseconds, rounded up.
        let millis = (seconds * 1000.0).ceil() as u64;
        let value = if millis < 100_000_000 { format!("{millis}m") } else { format!("{}S", millis / 1000) };
        metadata.insert(
            HeaderName::from_static("grpc-timeout"),
            HeaderValue::from_str(&value).map_err(|_| Status::internal("timeout"))?,
        );
    }
    Ok(metadata)
}

pub(crate) fn copy_request_id(from: &HeaderMap, to: &mut HeaderMap) {
    let name = crate::middleware::request_id::REQUEST_ID_HEADER;
    if let Some(id) = from.get(name) {
        to.insert(name, id.clone());
    }
}

/// A JSON request body, whole but bounded. A body needs a JSON content type.
async fn read_json_body(headers: &HeaderMap, body: AxumBody, max_bytes: usize) -> Result<Bytes, Failure> {
    let bytes = match http_body_util::Limited::new(body, max_bytes).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => {
            return Err(too_large(max_bytes));
        }
        Err(error) => return Err(Status::cancelled(format!("the request body could not be read: {error}")).into()),
    };
    if !bytes.iter().all(u8::is_ascii_whitespace) {
        let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        if essence != "application/json" && !essence.ends_with("+json") {
            return Err(unsupported_media_type(content_type));
        }
    }
    Ok(bytes)
}

/// A failed REST call, already an HTTP response: from a gRPC status by the standard table, or
/// made at the edge where HTTP has a more precise status (405, 413, 415).
pub struct Failure(Response);

impl From<Status> for Failure {
    fn from(status: Status) -> Self {
        Self(errors::error_response(&status))
    }
}

impl Failure {
    fn with_http_status(status: &Status, code: StatusCode) -> Self {
        let mut response = errors::error_response(status);
        *response.status_mut() = code;
        Self(response)
    }
}

/// A body over the limit: 413, with a RESOURCE_EXHAUSTED status.
fn too_large(max_bytes: usize) -> Failure {
    let status = Status::resource_exhausted(format!("the request body is larger than the limit of {max_bytes} bytes"));
    Failure::with_http_status(&status, StatusCode::PAYLOAD_TOO_LARGE)
}

fn unsupported_media_type(content_type: &str) -> Failure {
    let status = Status::invalid_argument(format!(
        "the request body must be JSON (Content-Type: application/json), not {content_type:?}"
    ));
    Failure::with_http_status(&status, StatusCode::UNSUPPORTED_MEDIA_TYPE)
}

/// A unary rpc: one JSON request, one JSON response.
async fn unary(exchange: Exchange<'_>, headers: &HeaderMap, body: AxumBody) -> Result<Response, Failure> {
    let json = if exchange.route.body == BodyRule::None {
        // A rule without a body: whatever was sent is not part of the request.
        Bytes::new()
    } else {
        read_json_body(headers, body, exchange.max_bytes()).await?
    };
    let request = exchange.request_bytes(&json)?;
    let mut responses = exchange.start(in_process::one_message(&request)).await?;
    let message = responses.only_message(exchange.max_bytes()).await?;
    Ok(exchange.json_response(&message, responses.headers())?)
}

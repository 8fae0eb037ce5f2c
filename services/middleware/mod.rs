//! What wraps every gRPC call: one tower layer, [`CallStack`] ([`stack`], where the order of
//! the policies and why is documented), and one module per policy it asks (request id, access
//! log, rate limit, auth, load shedding, deadline, stream idleness, panic isolation, status
//! code correction). A refused call gets a proper gRPC status (never an HTTP error, never
//! `UNKNOWN`) as a trailers-only response.

pub mod access_log;
pub mod auth;
pub mod catch_panic;
pub mod deadline;
pub mod load_shed;
pub mod methods;
pub mod rate_limit;
pub mod request_id;
pub mod stack;
pub mod status_codes;
pub mod stream_idle;

pub use stack::{CallStack, Settings};

use std::net::SocketAddr;

use tonic::{
    Code,
    codegen::http,
    transport::server::{TcpConnectInfo, TlsConnectInfo},
};

/// Paths that never need credentials and are never rate limited or shed: probes and
/// reflection must answer whatever the load and whoever asks (STYLE.md item 7).
pub fn is_health(path: &str) -> bool {
    path.starts_with("/grpc.health.v1.Health/")
}

pub fn is_reflection(path: &str) -> bool {
    path.starts_with("/grpc.reflection.")
}

/// The peer's address, over plain TCP or TLS.
pub fn peer_addr<B>(request: &http::Request<B>) -> Option<SocketAddr> {
    let extensions = request.extensions();
    extensions
        .get::<TcpConnectInfo>()
        .and_then(TcpConnectInfo::remote_addr)
        .or_else(|| extensions.get::<TlsConnectInfo<TcpConnectInfo>>().and_then(|info| info.get_ref().remote_addr()))
}

/// The name the gRPC spec gives a code (`DEADLINE_EXCEEDED`), for logs and metric labels.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// The `grpc-status` in a header or trailer map, if there is one.
pub fn grpc_status(headers: &http::HeaderMap) -> Option<Code> {
    let value = headers.get("grpc-status")?;
    let number: i32 = std::str::from_utf8(value.as_bytes()).ok()?.trim().parse().ok()?;
    Some(Code::from_i32(number))
}

//! gRPC status → HTTP error, in one place: the status code by the `google.rpc.Code` table
//! (as grpc-gateway and Envoy map it), `Retry-After` from `RetryInfo`, and the body a
//! `google.rpc.Status` in proto3 JSON with its details (`BadRequest` field violations and
//! the rest) — the same shape for every error of every route, streams included.

use std::sync::OnceLock;

use axum::response::{IntoResponse, Response};
use prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage, SerializeOptions};
use tonic::{
    Code, Status,
    codegen::http::{HeaderValue, StatusCode, header},
};
use tonic_types::StatusExt as _;

/// The HTTP status for a gRPC code (google/rpc/code.proto).
pub fn http_status(code: Code) -> StatusCode {
    match code {
        Code::Ok => StatusCode::OK,
        Code::Cancelled => StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST),
        Code::Unknown | Code::Internal | Code::DataLoss => StatusCode::INTERNAL_SERVER_ERROR,
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => StatusCode::BAD_REQUEST,
        Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::AlreadyExists | Code::Aborted => StatusCode::CONFLICT,
        Code::PermissionDenied => StatusCode::FORBIDDEN,
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
        Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// The HTTP status for a failed call: the table, except that `RESOURCE_EXHAUSTED` without a
/// `RetryInfo` is 413 — the request is too large (a message, an upload) and a retry cannot
/// help — while with one it is 429 (a rate limit: retry after the delay).
pub fn http_status_of(status: &Status) -> StatusCode {
    if status.code() == Code::ResourceExhausted && status.get_details_retry_info().is_none() {
        return StatusCode::PAYLOAD_TOO_LARGE;
    }
    http_status(status.code())
}

/// The descriptors of `google.rpc.Status` and its detail messages, for their JSON form.
fn rpc_types() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| {
        // Built into tonic-types at compile time: decoding it cannot fail at run time short
        // of a broken build, and then an empty pool only costs the details' JSON.
        DescriptorPool::decode(tonic_types::pb::FILE_DESCRIPTOR_SET).unwrap_or_default()
    })
}

/// `status` as `google.rpc.Status` JSON: `{"code": 3, "message": "…", "details": [...]}`.
pub fn status_json(status: &Status) -> Vec<u8> {
    if status.code() == Code::Ok {
        // Fields at their defaults are left out below; an OK says so in full.
        return br#"{"code":0,"message":""}"#.to_vec();
    }
    // tonic carries the details as an encoded `google.rpc.Status`; code and message are the
    // status's own.
    let details = tonic_types::pb::Status::decode(status.details()).map(|s| s.details).unwrap_or_default();
    let rpc_status =
        tonic_types::pb::Status { code: status.code() as i32, message: status.message().to_owned(), details };
    let encoded = rpc_status.encode_to_vec();
    let options = SerializeOptions::new().use_proto_field_name(true);
    let dynamic = rpc_types()
        .get_message_by_name("google.rpc.Status")
        .and_then(|descriptor| DynamicMessage::decode(descriptor, encoded.as_slice()).ok());
    if let Some(dynamic) = dynamic {
        let mut out = Vec::with_capacity(128);
        if dynamic.serialize_with_options(&mut serde_json::Serializer::new(&mut out), &options).is_ok() {
            return out;
        }
    }
    // Details of a type the pool does not know: code and message still reach the client.
    serde_json::to_vec(&serde_json::json!({ "code": status.code() as i32, "message": status.message() }))
        .unwrap_or_default()
}

/// The seconds a client should wait, from the status's `RetryInfo`, rounded up.
fn retry_after(status: &Status) -> Option<u64> {
    let delay = status.get_details_retry_info()?.retry_delay?;
    Some(delay.as_secs() + u64::from(delay.subsec_nanos() > 0))
}

/// The HTTP response for a failed call. The request id, if the call got one, is echoed.
pub fn error_response(status: &Status) -> Response {
    let code = http_status_of(status);
    let mut response = (code, [(header::CONTENT_TYPE, "application/json")], status_json(status)).into_response();
    let headers = response.headers_mut();
    if matches!(code, StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE) {
        // Without RetryInfo a client still gets a hint: try again in a second.
        let seconds = retry_after(status).unwrap_or(1);
        headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    if let Some(id) = status.metadata().get(crate::middleware::request_id::REQUEST_ID_HEADER)
        && let Ok(value) = HeaderValue::from_bytes(id.as_bytes())
    {
        headers.insert(crate::middleware::request_id::REQUEST_ID_HEADER, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tonic_types::{ErrorDetails, FieldViolation};

    use super::*;

    #[test]
    fn details_come_out_as_google_rpc_status_json() {
        let status = Status::with_error_details(
            Code::InvalidArgument,
            "bad user",
            ErrorDetails::with_bad_request(vec![FieldViolation::new("user.age", "must be at most 150")]),
        );
        let body: serde_json::Value = serde_json::from_slice(&status_json(&status)).unwrap();
        assert_eq!(body["code"], 3);
        assert_eq!(body["message"], "bad user");
        assert_eq!(body["details"][0]["@type"], "type.googleapis.com/google.rpc.BadRequest");
        assert_eq!(body["details"][0]["field_violations"][0]["field"], "user.age");
        assert_eq!(error_response(&status).status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn exhausted_and_unavailable_say_when_to_retry() {
        let limited = Status::with_error_details(
            Code::ResourceExhausted,
            "slow down",
            ErrorDetails::with_retry_info(Some(Duration::from_millis(1500))),
        );
        let response = error_response(&limited);
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "2");
        assert_eq!(error_response(&Status::unavailable("draining")).headers()[header::RETRY_AFTER], "1");
        assert_eq!(http_status(Code::Cancelled).as_u16(), 499);
        assert_eq!(http_status(Code::AlreadyExists), StatusCode::CONFLICT);
        let too_large = error_response(&Status::resource_exhausted("upload exceeds the limit"));
        assert_eq!(too_large.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert!(too_large.headers().get(header::RETRY_AFTER).is_none(), "a retry cannot help");
    }
}

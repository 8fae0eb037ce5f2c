//! Corrects the status codes tonic's own framing layer gives, so clients see the codes the
//! gRPC spec and every other gRPC implementation use:
//!
//! * a request message above the size limit is `RESOURCE_EXHAUSTED` (tonic says
//!   `OUT_OF_RANGE`, which means "past the end of a range" and confuses retry logic).
//!
//! Such errors arise before any handler runs, and tonic reports them in the response's
//! trailers (or its headers, for a trailers-only response): that is where this layer looks.
//! Streaming handlers meet the same error on their inbound stream and end their call with it
//! as it came; it reaches the trailers, and this layer, like any other. Services never
//! correct codes themselves.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use http_body::Frame;
use tonic::{
    Code, Status,
    body::Body,
    codegen::http::{self, HeaderMap},
};
use tower::{Layer, Service};

const TOO_LARGE_PREFIX: &str = "Error, decoded message length too large";

/// `status` with tonic's framing codes corrected.
fn corrected(status: Status) -> Status {
    if status.code() == Code::OutOfRange && status.message().starts_with(TOO_LARGE_PREFIX) {
        Status::resource_exhausted(too_large_message(status.message()))
    } else {
        status
    }
}

/// "found N bytes, the limit is: M bytes" → a sentence for users.
fn too_large_message(original: &str) -> String {
    let detail = original.strip_prefix(TOO_LARGE_PREFIX).unwrap_or(original).trim_start_matches(':').trim();
    format!("request message too large: {detail}")
}

#[derive(Debug, Clone, Copy, Default)]
pub struct StatusCodesLayer;

impl<S> Layer<S> for StatusCodesLayer {
    type Service = StatusCodes<S>;

    fn layer(&self, inner: S) -> Self::Service {
        StatusCodes { inner }
    }
}

#[derive(Debug, Clone)]
pub struct StatusCodes<S> {
    inner: S,
}

impl<S, ReqBody> Service<http::Request<ReqBody>> for StatusCodes<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<Body>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        let response = self.inner.call(request);
        Box::pin(async move {
            let mut response = response.await?;
            fix_status(response.headers_mut());
            Ok(response.map(|body| Body::new(FixTrailers(body))))
        })
    }
}

/// The response body, with the status in its trailers corrected.
struct FixTrailers(Body);

impl http_body::Body for FixTrailers {
    type Data = <Body as http_body::Body>::Data;
    type Error = <Body as http_body::Body>::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.0).poll_frame(cx).map(|frame| {
            frame.map(|frame| {
                frame.map(|frame| match frame.into_trailers() {
                    Ok(mut trailers) => {
                        fix_status(&mut trailers);
                        Frame::trailers(trailers)
                    }
                    Err(frame) => frame,
                })
            })
        })
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.0.size_hint()
    }
}

fn fix_status(headers: &mut HeaderMap) {
    // The cheap test first: this runs on every response.
    if headers.get("grpc-status").is_none_or(|code| code.as_bytes() != b"11") {
        return;
    }
    let Some(status) = Status::from_header_map(headers) else {
        return;
    };
    let fixed = corrected(status);
    if fixed.code() != Code::OutOfRange {
        // Only fails for a message that cannot be a header, which `corrected` never writes.
        let _ = fixed.add_header(headers);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_size_error_is_rewritten() {
        let mut headers = HeaderMap::new();
        let original = "Error, decoded message length too large: found 5 bytes, the limit is: 4 bytes";
        Status::out_of_range(original).add_header(&mut headers).unwrap();
        fix_status(&mut headers);
        let fixed = Status::from_header_map(&headers).unwrap();
        assert_eq!(fixed.code(), Code::ResourceExhausted);
        assert_eq!(fixed.message(), "request message too large: found 5 bytes, the limit is: 4 bytes");

        let mut other = HeaderMap::new();
        Status::out_of_range("page past the end").add_header(&mut other).unwrap();
        fix_status(&mut other);
        assert_eq!(Status::from_header_map(&other).unwrap().code(), Code::OutOfRange);
    }
}

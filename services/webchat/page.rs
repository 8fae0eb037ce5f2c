//! The page and its assets, compiled into the binary: nothing to build, nothing fetched from
//! elsewhere at run time. The page runs under a strict Content-Security-Policy: scripts and
//! styles only from these files (no inline code, no `eval`), connections only to this origin,
//! no framing. The script renders every name and text with `textContent`, never as HTML.

use axum::response::{IntoResponse, Response};
use tonic::codegen::http::{HeaderName, HeaderValue, header};

const HTML: &str = include_str!("assets/chat.html");
const SCRIPT: &str = include_str!("assets/chat.js");
const STYLE: &str = include_str!("assets/chat.css");
const ICON: &str = include_str!("assets/icon.svg");

/// `connect-src 'self'` covers `ws:`/`wss:` to this host and port (CSP level 3).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

pub(super) async fn html() -> Response {
    asset("text/html; charset=utf-8", HTML)
}

pub(super) async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

pub(super) async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}

pub(super) async fn icon() -> Response {
    asset("image/svg+xml", ICON)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
        (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY)),
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
        (HeaderName::from_static("cross-origin-opener-policy"), HeaderValue::from_static("same-origin")),
        // Embedded in the binary: a new binary may bring new files under the same names.
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
    ];
    (headers, body).into_response()
}

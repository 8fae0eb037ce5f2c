//! Which pages may open a chat socket: a WebSocket is not bound by CORS, so without this check
//! any site a visitor opens could make the visitor's browser join the room from the visitor's
//! address (cross-site WebSocket hijacking). Browsers always send `Origin` on a WebSocket
//! handshake; a request without one comes from a program (websocat, a bench), which could send
//! any `Origin` it liked anyway, so it is let through.

use tonic::codegen::http::{HeaderMap, header};

/// The origins allowed besides the page's own.
#[derive(Debug, Clone)]
pub struct OriginRule {
    any: bool,
    /// Lower-cased `scheme://host[:port]` entries of `--cors-allow-origins`.
    listed: Vec<String>,
}

impl OriginRule {
    /// `allowed` is `--cors-allow-origins`: exact origins, or `*` for any.
    pub fn new(allowed: &[String]) -> Self {
        let listed: Vec<String> = allowed
            .iter()
            .map(|origin| origin.trim().trim_end_matches('/').to_ascii_lowercase())
            .filter(|origin| !origin.is_empty())
            .collect();
        Self { any: listed.iter().any(|origin| origin == "*"), listed }
    }

    /// Whether a handshake with these headers may proceed: no `Origin`, the page's own origin
    /// (its host and port are the `Host` the browser connected to), or a listed one.
    pub fn allows(&self, headers: &HeaderMap) -> bool {
        let Some(origin) = headers.get(header::ORIGIN) else { return true };
        let Ok(origin) = origin.to_str() else { return false };
        let origin = origin.trim().to_ascii_lowercase();
        if self.any || self.listed.contains(&origin) {
            return true;
        }
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).map(str::to_ascii_lowercase);
        match (host, origin.split_once("://")) {
            (Some(host), Some((scheme, authority))) => same_authority(scheme, authority, &host),
            // `null` (a sandboxed frame, a file) or no Host: not the page's own origin.
            _ => false,
        }
    }
}

/// `authority` (of an origin with `scheme`) names the same host and port as `host`; a default
/// port may be written or left out on either side.
fn same_authority(scheme: &str, authority: &str, host: &str) -> bool {
    let default_port = match scheme {
        "http" | "ws" => "80",
        "https" | "wss" => "443",
        _ => return false,
    };
    let with_port = |value: &str| {
        if value.rsplit_once(':').is_some_and(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
            && !value.ends_with(']')
        {
            value.to_owned()
        } else {
            format!("{value}:{default_port}")
        }
    };
    !authority.is_empty() && with_port(authority) == with_port(host)
}

#[cfg(test)]
mod tests {
    use tonic::codegen::http::HeaderValue;

    use super::*;

    fn headers(origin: Option<&'static str>, host: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static(host));
        if let Some(origin) = origin {
            headers.insert(header::ORIGIN, HeaderValue::from_static(origin));
        }
        headers
    }

    #[test]
    fn the_pages_own_origin_and_programs_without_one_may_connect() {
        let rule = OriginRule::new(&[]);
        assert!(rule.allows(&headers(None, "127.0.0.1:8080")));
        assert!(rule.allows(&headers(Some("http://127.0.0.1:8080"), "127.0.0.1:8080")));
        assert!(rule.allows(&headers(Some("https://Chat.Example.com"), "chat.example.com")));
        assert!(rule.allows(&headers(Some("https://chat.example.com"), "chat.example.com:443")));
        assert!(rule.allows(&headers(Some("http://[::1]:8080"), "[::1]:8080")));
    }

    #[test]
    fn other_origins_are_refused_unless_listed() {
        let rule = OriginRule::new(&[]);
        assert!(!rule.allows(&headers(Some("http://evil.example"), "127.0.0.1:8080")));
        assert!(!rule.allows(&headers(Some("http://127.0.0.1:9999"), "127.0.0.1:8080")));
        assert!(!rule.allows(&headers(Some("http://localhost:8080"), "127.0.0.1:8080")));
        assert!(!rule.allows(&headers(Some("null"), "127.0.0.1:8080")));
        assert!(!rule.allows(&headers(Some("http://chat.example.com"), "chat.example.com:8080")));
        let listed = OriginRule::new(&["https://app.example.com/".to_owned()]);
        assert!(listed.allows(&headers(Some("https://app.example.com"), "127.0.0.1:8080")));
        assert!(!listed.allows(&headers(Some("http://app.example.com"), "127.0.0.1:8080")));
        assert!(OriginRule::new(&["*".to_owned()]).allows(&headers(Some("http://evil.example"), "127.0.0.1:8080")));
    }
}

//! Authentication, before any handler runs:
//!
//! * with `--auth-token` set, every call needs `authorization: Bearer <token>` — except
//!   health checks and reflection, which probes and tools must reach without secrets;
//! * payment calls need a configured `x-api-key` (the payment service checks it again, as
//!   the owner of that rule; failing here first keeps unauthenticated calls away from it).
//!
//! Which code when:
//! * `UNAUTHENTICATED` — no credentials, malformed credentials (`authorization` that is not
//!   `Bearer …`), a wrong token, a missing or unknown API key: the server does not know who
//!   is calling, and the client should fix its credentials.
//! * `PERMISSION_DENIED` — reserved for a caller whose valid credentials do not allow the
//!   call. Today's credentials all grant full access (one token; an API key sees exactly its
//!   own account, and another account's payment is `NOT_FOUND`, not revealed as existing), so
//!   this layer never answers it; scoped tokens would.
//!
//! The token is compared as a SHA-256 digest, so the comparison's timing says nothing about
//! how much of a guess was right. Tokens and keys are never logged.

use std::sync::Arc;

use tonic::{Status, codegen::http};

use super::{is_health, is_reflection};
use crate::credentials::{API_KEY_HEADER, ApiKeys, BearerToken};

#[derive(Clone)]
pub struct Auth {
    token: Option<BearerToken>,
    api_keys: ApiKeys,
    /// Path prefixes (`/package.Service/`) whose calls need a known API key.
    api_key_services: Arc<[String]>,
}

impl Auth {
    /// `token`: the bearer token every call must carry, or `None` to require none;
    /// `api_key_services`: the full names of the services whose calls need one of `api_keys`.
    pub fn new(token: Option<&str>, api_keys: ApiKeys, api_key_services: &[&str]) -> Self {
        Self {
            token: token.map(BearerToken::new),
            api_keys,
            api_key_services: api_key_services.iter().map(|service| format!("/{service}/")).collect(),
        }
    }

    /// `Err` with the status to answer if the call may not proceed.
    pub fn check(&self, path: &str, headers: &http::HeaderMap) -> Result<(), Status> {
        if is_health(path) || is_reflection(path) {
            return Ok(());
        }
        if let Some(expected) = &self.token {
            let header = headers.get(http::header::AUTHORIZATION).ok_or_else(|| {
                Status::unauthenticated("missing credentials: send the metadata `authorization: Bearer <token>`")
            })?;
            let token = header
                .to_str()
                .ok()
                .and_then(|value| value.split_once(' '))
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                .map(|(_, token)| token.trim())
                .ok_or_else(|| Status::unauthenticated("malformed credentials: expected `Bearer <token>`"))?;
            if !expected.matches(token) {
                return Err(Status::unauthenticated("invalid bearer token"));
            }
        }
        if self.api_key_services.iter().any(|prefix| path.starts_with(prefix.as_str())) {
            let known = headers
                .get(API_KEY_HEADER)
                .and_then(|key| key.to_str().ok())
                .is_some_and(|key| self.api_keys.account_of(key).is_some());
            if !known {
                return Err(Status::unauthenticated(
                    "payments need a valid API key in the `x-api-key` metadata (missing or unknown key)",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use tonic::Code;

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> http::HeaderMap {
        pairs.iter().map(|(k, v)| (http::HeaderName::from_static(k), http::HeaderValue::from_static(v))).collect()
    }

    #[test]
    fn token_rules() {
        let auth = Auth::new(Some("s3cret"), ApiKeys::new(["key".to_owned()]), &["switchboard.v1.PaymentService"]);
        let echo = "/switchboard.v1.EchoService/Echo";
        let code = |path, h: &[(&'static str, &'static str)]| auth.check(path, &headers(h)).err().map(|s| s.code());
        assert_eq!(code(echo, &[]), Some(Code::Unauthenticated));
        assert_eq!(code(echo, &[("authorization", "Basic abc")]), Some(Code::Unauthenticated));
        assert_eq!(code(echo, &[("authorization", "Bearer wrong")]), Some(Code::Unauthenticated));
        assert_eq!(code(echo, &[("authorization", "Bearer s3cret")]), None);
        assert_eq!(code(echo, &[("authorization", "bearer s3cret")]), None);
        assert_eq!(code("/grpc.health.v1.Health/Check", &[]), None);
        assert_eq!(code("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", &[]), None);
        let pay = "/switchboard.v1.PaymentService/GetPayment";
        assert_eq!(code(pay, &[("authorization", "Bearer s3cret")]), Some(Code::Unauthenticated));
        assert_eq!(code(pay, &[("authorization", "Bearer s3cret"), ("x-api-key", "key")]), None);
    }
}

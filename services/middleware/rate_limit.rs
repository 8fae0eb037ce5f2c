//! Per-client rate limiting: each client gets `rate` calls a second with bursts of `burst`
//! (a GCRA token bucket from `governor`). A call over the limit is refused with
//! `RESOURCE_EXHAUSTED` carrying a `google.rpc.RetryInfo` that says when the next call will
//! be accepted.
//!
//! Who is a client: the payment API key when the call carries a configured one (one account,
//! however many machines), else the peer's IP address. An unknown `x-api-key` does not count
//! as an identity — otherwise a client could dodge its limit by sending made-up keys. The
//! bearer token is one shared secret, not an identity, so it does not key the limit either.
//! Health checks are exempt (probes come every few seconds from the kubelet).
//!
//! Memory: one small entry per client seen recently; [`RateLimit::housekeeping`] drops
//! the entries of clients that are back to a full bucket.

use std::{hash::Hash, net::IpAddr, num::NonZeroU32, sync::Arc, time::Duration};

use governor::{
    Quota, RateLimiter,
    clock::{Clock, DefaultClock},
    state::keyed::DefaultKeyedStateStore,
};
use tonic::{Code, Status, codegen::http};
use tonic_types::{ErrorDetails, StatusExt};

use super::{is_health, peer_addr};
use crate::{
    credentials::{API_KEY_HEADER, ApiKeys},
    metrics::Metrics,
};

/// What a client is known by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum ClientKey {
    /// A configured payment API key's account id (never the key itself).
    Account(String),
    Peer(IpAddr),
    /// No peer address (an in-memory transport): all such calls share one bucket.
    Unknown,
}

impl ClientKey {
    fn kind(&self) -> &'static str {
        match self {
            ClientKey::Account(_) => "api_key",
            ClientKey::Peer(_) | ClientKey::Unknown => "peer",
        }
    }
}

type Limiter = RateLimiter<ClientKey, DefaultKeyedStateStore<ClientKey>, DefaultClock>;

#[derive(Clone)]
pub struct RateLimit {
    limiter: Arc<Limiter>,
    api_keys: ApiKeys,
    metrics: Arc<Metrics>,
}

impl RateLimit {
    pub fn new(per_second: NonZeroU32, burst: NonZeroU32, api_keys: ApiKeys, metrics: Arc<Metrics>) -> Self {
        let quota = Quota::per_second(per_second).allow_burst(burst);
        Self { limiter: Arc::new(RateLimiter::keyed(quota)), api_keys, metrics }
    }

    /// Forgets clients whose bucket is full again; run it now and then (the server does, once
    /// a minute).
    pub fn housekeeping(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }

    fn client<B>(&self, request: &http::Request<B>) -> ClientKey {
        let account = request
            .headers()
            .get(API_KEY_HEADER)
            .and_then(|key| key.to_str().ok())
            .and_then(|key| self.api_keys.account_of(key));
        match (account, peer_addr(request)) {
            (Some(account), _) => ClientKey::Account(account.to_owned()),
            (None, Some(peer)) => ClientKey::Peer(peer.ip()),
            (None, None) => ClientKey::Unknown,
        }
    }

    /// `Err(wait)` if the client must wait this long before its next call.
    fn check(&self, client: &ClientKey) -> Result<(), Duration> {
        self.limiter.check_key(client).map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

impl RateLimit {
    /// `Err` with the status to answer if the caller is over its limit. Health checks are
    /// never limited.
    pub fn admit<B>(&self, request: &http::Request<B>) -> Result<(), Status> {
        if is_health(request.uri().path()) {
            return Ok(());
        }
        let client = self.client(request);
        self.check(&client).map_err(|wait| {
            self.metrics.rate_limited.with_label_values(&[client.kind()]).inc();
            too_many(wait)
        })
    }
}

fn too_many(wait: Duration) -> Status {
    // Round up to whole milliseconds: retrying a hair early would be refused again.
    let wait = Duration::from_millis(u64::try_from(wait.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX));
    Status::with_error_details(
        Code::ResourceExhausted,
        format!("rate limit exceeded: retry in {} ms", wait.as_millis()),
        ErrorDetails::with_retry_info(Some(wait)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_allowed_then_refused_with_a_wait() {
        let layer = RateLimit::new(
            NonZeroU32::new(1).unwrap(),
            NonZeroU32::new(2).unwrap(),
            ApiKeys::new(["k".to_owned()]),
            Metrics::new(),
        );
        let me = ClientKey::Peer([127, 0, 0, 1].into());
        assert!(layer.check(&me).is_ok());
        assert!(layer.check(&me).is_ok());
        let wait = layer.check(&me).unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(1), "{wait:?}");
        // Another client has its own bucket.
        assert!(layer.check(&ClientKey::Peer([127, 0, 0, 2].into())).is_ok());
        let status = too_many(wait);
        assert_eq!(status.code(), Code::ResourceExhausted);
        assert!(status.get_details_retry_info().and_then(|r| r.retry_delay).is_some());
    }
}

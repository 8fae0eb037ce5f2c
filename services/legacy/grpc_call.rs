//! Unary gRPC calls made in-process, for the binary protocol's call frames.
//!
//! A call goes through the very stack the gRPC port serves — the same routes behind the same
//! tower layers — by [`crate::in_process`], as REST and the web chat do, so every layer applies
//! to binary clients too, and the request carries the legacy client's address like a network
//! call would.

use std::{collections::HashSet, net::SocketAddr, sync::Arc, time::Duration};

use bytes::Bytes;
use prost::Message as _;
use tonic::{
    Code, Status,
    codegen::http::{HeaderMap, HeaderName, HeaderValue},
};

use crate::in_process;
pub use crate::in_process::GrpcService;

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
        let metadata = match metadata(&call.metadata) {
            Ok(metadata) => metadata,
            Err(reply) => return reply,
        };
        let invoke = self.invoke(&method, metadata, &call.message, (local, peer), max_response_bytes);
        match tokio::time::timeout(deadline, invoke).await {
            Ok(reply) => reply,
            Err(_elapsed) => Reply::status(Code::DeadlineExceeded, format!("no reply within {deadline:?}")),
        }
    }

    async fn invoke(
        &self,
        method: &str,
        metadata: HeaderMap,
        message: &[u8],
        (local, peer): (SocketAddr, SocketAddr),
        max_response_bytes: usize,
    ) -> Reply {
        let body = in_process::one_message(message);
        let mut responses = match in_process::start(&self.service, method, metadata, body, local, peer).await {
            Ok(responses) => responses,
            Err(status) => return Reply::from_status(&status),
        };
        match responses.only_message(max_response_bytes).await {
            Ok(response) => Reply { code: Code::Ok, message: String::new(), response },
            Err(status) => Reply::from_status(&status),
        }
    }
}

/// A call frame's metadata as gRPC metadata; the framing headers are the adapter's to set.
fn metadata(pairs: &[(String, String)]) -> Result<HeaderMap, Reply> {
    let invalid = |detail: String| Reply::status(Code::InvalidArgument, detail);
    let mut metadata = HeaderMap::with_capacity(pairs.len());
    for (key, value) in pairs {
        let name = HeaderName::from_bytes(key.to_ascii_lowercase().as_bytes())
            .map_err(|_| invalid(format!("invalid metadata key {key:?}")))?;
        if name.as_str().starts_with("grpc-") || matches!(name.as_str(), "content-type" | "te") {
            return Err(invalid(format!("metadata key {key:?} is reserved")));
        }
        let value =
            HeaderValue::from_str(value).map_err(|_| invalid(format!("invalid value for metadata key {key:?}")))?;
        metadata.append(name, value);
    }
    Ok(metadata)
}

/// Property tests (proptest) of a call frame's method and metadata made into a call. Cases:
/// 256 by default (`PROPTEST_CASES` for longer runs); failures are kept in
/// `proptest-regressions/legacy/grpc_call.txt` and replayed first.
#[cfg(test)]
mod fuzz {
    use std::{
        convert::Infallible,
        net::{Ipv4Addr, SocketAddr},
    };

    use http_body_util::{BodyExt as _, Full};
    use proptest::prelude::*;
    use tonic::{body::Body, codegen::http};
    use tower::util::BoxCloneSyncService;

    use super::*;

    const UNARY: &str = "/switchboard.v1.EchoService/Echo";
    const STREAMING: &str = "/switchboard.v1.KvService/Watch";

    /// A stack that answers with the request's message bytes as its response body, as they
    /// are (so a call frame's message is also the response the gateway reads), then OK.
    fn stub() -> GrpcService {
        BoxCloneSyncService::new(tower::service_fn(|request: http::Request<Body>| async move {
            let body = request.into_body().collect().await.map(|c| c.to_bytes()).unwrap_or_default();
            let mut trailers = HeaderMap::new();
            trailers.insert("grpc-status", HeaderValue::from_static("0"));
            let body = Full::new(body.slice(5..)).with_trailers(async move { Some(Ok::<_, Infallible>(trailers)) });
            Ok::<_, Infallible>(http::Response::new(Body::new(body)))
        }))
    }

    fn gateway() -> GrpcGateway {
        GrpcGateway::new(stub(), &[crate::pb::FILE_DESCRIPTOR_SET]).unwrap()
    }

    fn addr() -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, 1))
    }

    fn method() -> impl Strategy<Value = String> {
        prop_oneof![
            3 => Just(UNARY.to_owned()),
            1 => Just(UNARY[1..].to_owned()),
            1 => Just(STREAMING.to_owned()),
            1 => any::<String>(),
            1 => "/[a-zA-Z.]{0,10}/[a-zA-Z]{0,6}",
        ]
    }

    /// Metadata: mostly well-formed entries, some with keys or values HTTP cannot carry, some
    /// with the keys the adapter reserves.
    fn metadata() -> impl Strategy<Value = Vec<(String, String)>> {
        let entry = prop_oneof![
            4 => ("[xX]-[a-zA-Z0-9-]{1,8}", "[ -~]{0,16}"),
            1 => (
                prop::sample::select(vec!["grpc-timeout", "Content-Type", "te", "GRPC-STATUS"]).prop_map(str::to_owned),
                "[a-z0-9]{0,4}",
            ),
            1 => (any::<String>(), any::<String>()),
        ];
        prop::collection::vec(entry, 0..4)
    }

    /// Keys of letters, digits and `-`, values of visible ASCII and spaces, no reserved key.
    fn well_formed(metadata: &[(String, String)]) -> bool {
        metadata.iter().all(|(key, value)| {
            let key = key.to_ascii_lowercase();
            !key.is_empty()
                && !key.starts_with("grpc-")
                && !matches!(key.as_str(), "content-type" | "te")
                && key.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && value.bytes().all(|b| (b' '..=b'~').contains(&b))
        })
    }

    proptest! {
        /// Any metadata is either carried whole (keys lower-cased, every value, in order) or
        /// refused with INVALID_ARGUMENT; well-formed metadata is never refused, a reserved
        /// key always is.
        #[test]
        fn metadata_is_carried_whole_or_refused(pairs in metadata()) {
            match super::metadata(&pairs) {
                Ok(map) => {
                    let carried: Vec<(String, Vec<u8>)> =
                        map.iter().map(|(k, v)| (k.as_str().to_owned(), v.as_bytes().to_vec())).collect();
                    let mut expected: Vec<(String, Vec<u8>)> =
                        pairs.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.clone().into_bytes())).collect();
                    // A HeaderMap groups the values of one name together, in order.
                    let order: Vec<String> = {
                        let mut names: Vec<String> = expected.iter().map(|(k, _)| k.clone()).collect();
                        names.dedup();
                        let mut seen = Vec::new();
                        names.retain(|n| if seen.contains(n) { false } else { seen.push(n.clone()); true });
                        names
                    };
                    expected.sort_by_key(|(k, _)| order.iter().position(|n| n == k));
                    prop_assert_eq!(carried, expected);
                }
                Err(reply) => {
                    prop_assert_eq!(reply.code, Code::InvalidArgument);
                    prop_assert!(!well_formed(&pairs), "{pairs:?} refused: {}", reply.message);
                }
            }
            let reserved = pairs.iter().any(|(k, _)| {
                let k = k.to_ascii_lowercase();
                k.starts_with("grpc-") || k == "content-type" || k == "te"
            });
            if reserved {
                prop_assert!(super::metadata(&pairs).is_err());
            }
        }

        /// Any call gets a reply with a status, never a panic or a hang: unknown and streaming
        /// methods UNIMPLEMENTED (a name without its leading `/` is the same method), and a
        /// well-formed call on a unary method exactly the response message.
        #[test]
        fn any_call_gets_a_reply_with_a_status(
            method in method(),
            metadata in metadata(),
            message in prop::collection::vec(any::<u8>(), 0..64),
            well_framed in any::<bool>(),
            max_response in 0usize..80,
        ) {
            let sent = if well_framed { in_process::frame(&message).to_vec() } else { message.clone() };
            let call = Call { method: method.clone(), metadata: metadata.clone(), message: Bytes::from(sent) };
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let reply = runtime.block_on(gateway().call(call, addr(), addr(), Duration::from_secs(5), max_response));
            let normalised = if method.starts_with('/') { method.clone() } else { format!("/{method}") };
            if normalised != UNARY {
                prop_assert_eq!(reply.code, Code::Unimplemented, "{}", reply.message);
                return Ok(());
            }
            if !well_formed(&metadata) {
                return Ok(());
            }
            if well_framed && message.len() <= max_response {
                prop_assert_eq!((reply.code, reply.response), (Code::Ok, Bytes::from(message)), "{}", reply.message);
            } else if well_framed {
                prop_assert_eq!(reply.code, Code::ResourceExhausted, "{}", reply.message);
            } else {
                prop_assert!(
                    matches!(reply.code, Code::Ok | Code::Internal | Code::ResourceExhausted),
                    "{:?}: {}", reply.code, reply.message
                );
            }
        }
    }
}

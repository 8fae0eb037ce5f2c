//! The gRPC methods this server serves, read from the descriptor sets it was built with: which
//! are streaming (deadline and idle rules differ), which exist at all (metric labels stay
//! bounded: a made-up path is labelled `unknown`), and each one's metric series.
//!
//! A call looks its method up once, by path, and gets everything the layers need about it.
//! The metric series are resolved on a method's first call with a given code and kept: the
//! registry's label lookup (two hashed strings under a lock) is paid once per series, not once
//! per call, and series that never happen are not exported as zeros.

use std::{collections::HashMap, sync::Arc, sync::OnceLock};

use prometheus::{Histogram, IntCounter};
use prost::Message;
use tonic::Code;

use crate::metrics::Metrics;

/// What the layers know about one method (or about every unknown path, together).
#[derive(Debug)]
pub struct Method {
    /// `/package.Service/Method`, or `unknown`: the metric label and the access line's method.
    label: Arc<str>,
    /// Either side streams.
    streaming: bool,
    requests: [OnceLock<IntCounter>; CODES],
    latency: OnceLock<Histogram>,
}

/// The 17 gRPC codes, 0 to 16.
const CODES: usize = 17;

impl Method {
    fn new(label: &str, streaming: bool) -> Self {
        Self { label: Arc::from(label), streaming, requests: Default::default(), latency: OnceLock::new() }
    }

    pub fn label(&self) -> &str {
        &self.label
    }

    pub fn is_streaming(&self) -> bool {
        self.streaming
    }

    /// Counts a finished call with `code` and its latency.
    pub fn record(&self, metrics: &Metrics, code: Code, latency_seconds: f64) {
        let index = usize::try_from(code as i32).unwrap_or(0).min(CODES - 1);
        self.requests[index]
            .get_or_init(|| metrics.requests.with_label_values(&[&*self.label, super::code_name(code)]))
            .inc();
        self.latency.get_or_init(|| metrics.latency.with_label_values(&[&*self.label])).observe(latency_seconds);
    }
}

#[derive(Debug)]
pub struct Methods {
    known: HashMap<Box<str>, Arc<Method>>,
    unknown: Arc<Method>,
}

impl Default for Methods {
    fn default() -> Self {
        Self { known: HashMap::new(), unknown: Arc::new(Method::new("unknown", false)) }
    }
}

impl Methods {
    /// Every method of every service in the encoded `FileDescriptorSet`s.
    pub fn from_descriptor_sets(sets: &[&[u8]]) -> Result<Self, prost::DecodeError> {
        let mut methods = Self::default();
        for set in sets {
            let set = prost_types::FileDescriptorSet::decode(*set)?;
            for file in set.file {
                let package = file.package.unwrap_or_default();
                for service in file.service {
                    let service_name = service.name.unwrap_or_default();
                    let full = if package.is_empty() { service_name } else { format!("{package}.{service_name}") };
                    for method in service.method {
                        let path = format!("/{full}/{}", method.name.unwrap_or_default());
                        let streaming =
                            method.client_streaming.unwrap_or(false) || method.server_streaming.unwrap_or(false);
                        let entry = Arc::new(Method::new(&path, streaming));
                        methods.known.insert(path.into_boxed_str(), entry);
                    }
                }
            }
        }
        Ok(methods)
    }

    /// The method served at `path`, or the shared entry of every path not served here.
    pub fn get(&self, path: &str) -> &Arc<Method> {
        self.known.get(path).unwrap_or(&self.unknown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_streaming_and_unary_methods() {
        let methods =
            Methods::from_descriptor_sets(&[crate::pb::FILE_DESCRIPTOR_SET, tonic_health::pb::FILE_DESCRIPTOR_SET])
                .unwrap();
        assert!(methods.get("/switchboard.v1.ChatService/Chat").is_streaming());
        assert!(methods.get("/grpc.health.v1.Health/Watch").is_streaming());
        assert!(!methods.get("/switchboard.v1.EchoService/Echo").is_streaming());
        assert_eq!(methods.get("/switchboard.v1.EchoService/Echo").label(), "/switchboard.v1.EchoService/Echo");
        assert_eq!(methods.get("/made.Up/Path").label(), "unknown");
    }

    #[test]
    fn a_series_is_resolved_once_and_counts_every_call() {
        let metrics = Metrics::new();
        let methods = Methods::from_descriptor_sets(&[crate::pb::FILE_DESCRIPTOR_SET]).unwrap();
        let echo = methods.get("/switchboard.v1.EchoService/Echo");
        echo.record(&metrics, Code::Ok, 0.001);
        echo.record(&metrics, Code::Ok, 0.001);
        echo.record(&metrics, Code::NotFound, 0.001);
        let ok = metrics.requests.with_label_values(&["/switchboard.v1.EchoService/Echo", "OK"]).get();
        let not_found = metrics.requests.with_label_values(&["/switchboard.v1.EchoService/Echo", "NOT_FOUND"]).get();
        assert_eq!((ok, not_found), (2, 1));
        assert_eq!(metrics.latency.with_label_values(&["/switchboard.v1.EchoService/Echo"]).get_sample_count(), 3);
    }
}

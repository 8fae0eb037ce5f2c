//! The gRPC methods this server serves, read from the descriptor sets it was built with: which
//! are streaming (deadline and idle rules differ) and which exist at all (metric labels stay
//! bounded: a made-up path is labelled `unknown`).

use std::{collections::HashSet, sync::Arc};

use prost::Message;

#[derive(Debug)]
pub struct Methods {
    /// Shared, so a call's log record holds its method's label without copying it.
    known: HashSet<Arc<str>>,
    streaming: HashSet<String>,
    unknown: Arc<str>,
}

impl Default for Methods {
    fn default() -> Self {
        Self { known: HashSet::new(), streaming: HashSet::new(), unknown: Arc::from("unknown") }
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
                        if method.client_streaming.unwrap_or(false) || method.server_streaming.unwrap_or(false) {
                            methods.streaming.insert(path.clone());
                        }
                        methods.known.insert(Arc::from(path));
                    }
                }
            }
        }
        Ok(methods)
    }

    /// Whether either side of the method streams.
    pub fn is_streaming(&self, path: &str) -> bool {
        self.streaming.contains(path)
    }

    /// The path as a metric label: itself if served here, else `unknown`.
    pub fn label(&self, path: &str) -> Arc<str> {
        Arc::clone(self.known.get(path).unwrap_or(&self.unknown))
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
        assert!(methods.is_streaming("/switchboard.v1.ChatService/Chat"));
        assert!(methods.is_streaming("/grpc.health.v1.Health/Watch"));
        assert!(!methods.is_streaming("/switchboard.v1.EchoService/Echo"));
        assert_eq!(&*methods.label("/switchboard.v1.EchoService/Echo"), "/switchboard.v1.EchoService/Echo");
        assert_eq!(&*methods.label("/made.Up/Path"), "unknown");
    }
}

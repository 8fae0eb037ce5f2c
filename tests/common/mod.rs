//! What every integration test needs: a real server on an ephemeral loopback port, and
//! tonic clients connected to it.

#![allow(dead_code)] // each test binary uses its own part of this module

pub mod child;
pub mod grpcurl;
pub mod raw;

use std::{net::SocketAddr, time::Duration};

use switchboard::{
    config::{Config, LegacyListen},
    legacy::Protocol,
    pb::{
        chat_service_client::ChatServiceClient, echo_service_client::EchoServiceClient,
        file_service_client::FileServiceClient, kv_service_client::KvServiceClient,
        payment_service_client::PaymentServiceClient, user_service_client::UserServiceClient,
    },
    server::RunningServer,
};
use tonic::transport::{Channel, Endpoint};

pub const API_KEY: &str = "sk_test_integration";

/// A running server, stopped when dropped.
pub struct TestServer {
    pub server: RunningServer,
    pub channel: Channel,
}

/// The defaults, on 127.0.0.1 port 0, with a known payment API key.
pub fn test_config() -> Config {
    let mut config = Config::defaults();
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.payment_api_keys = vec![API_KEY.to_owned(), "sk_test_other".to_owned()];
    config.shutdown_grace = Duration::from_secs(5);
    let loopback = LegacyListen(Some("127.0.0.1:0".parse().unwrap()));
    config.legacy_kv_listen = loopback;
    config.legacy_chat_listen = loopback;
    config.legacy_echo_listen = loopback;
    config.legacy_binary_listen = loopback;
    config
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(test_config()).await
    }

    pub async fn start_with(config: Config) -> Self {
        let server = switchboard::server::start(config).await.expect("server starts");
        let channel = connect(server.grpc_addr()).await;
        Self { server, channel }
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.grpc_addr()
    }

    /// Where a legacy protocol listens (all of them do in [`test_config`]).
    pub fn legacy(&self, protocol: Protocol) -> SocketAddr {
        self.server.legacy_addr(protocol).expect("the legacy listener is on")
    }

    pub fn users(&self) -> UserServiceClient<Channel> {
        UserServiceClient::new(self.channel.clone())
    }
    pub fn kv(&self) -> KvServiceClient<Channel> {
        KvServiceClient::new(self.channel.clone())
    }
    pub fn chat(&self) -> ChatServiceClient<Channel> {
        ChatServiceClient::new(self.channel.clone())
    }
    pub fn payments(&self) -> PaymentServiceClient<Channel> {
        PaymentServiceClient::new(self.channel.clone())
    }
    pub fn echo(&self) -> EchoServiceClient<Channel> {
        EchoServiceClient::new(self.channel.clone())
    }
    pub fn files(&self) -> FileServiceClient<Channel> {
        FileServiceClient::new(self.channel.clone())
    }

    /// A client on its own HTTP/2 connection (the shared channel multiplexes one).
    pub async fn new_connection(&self) -> Channel {
        connect(self.addr()).await
    }
}

pub async fn connect(addr: SocketAddr) -> Channel {
    Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(30))
        .connect()
        .await
        .expect("connect to the test server")
}

/// Adds metadata to a request.
pub fn with_metadata<T>(message: T, pairs: &[(&'static str, &str)]) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    for (key, value) in pairs {
        request.metadata_mut().insert(*key, value.parse().unwrap());
    }
    request
}

/// The field names of the `google.rpc.BadRequest` in a status, in order.
pub fn bad_fields(status: &tonic::Status) -> Vec<String> {
    use tonic_types::StatusExt;
    status
        .get_details_bad_request()
        .map(|br| br.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}

/// A gRPC transport with no client-side deadline timer: plain hyper over HTTP/2.
///
/// tonic's `Channel` races every call against its own timer built from the request's
/// `grpc-timeout` and, when that timer wins, reports `CANCELLED` locally — so a tonic client
/// cannot show what the *server* answers when a deadline passes. Through this transport the
/// status the client sees is the server's.
pub type RawH2 =
    hyper_util::client::legacy::Client<hyper_util::client::legacy::connect::HttpConnector, tonic::body::Body>;

pub fn raw_h2(addr: SocketAddr) -> (RawH2, tonic::codegen::http::Uri) {
    let client =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).http2_only(true).build_http();
    (client, format!("http://{addr}").parse().unwrap())
}

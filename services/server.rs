//! The assembly: the one place that knows every room. It builds the stores, the services,
//! health and reflection from a [`Config`], binds the gRPC and legacy listeners and runs until
//! told to stop. The legacy adapter gets the very service instances (and, for binary call
//! frames, the very layered gRPC stack) the gRPC port serves.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};
use tonic::{server::NamedService, service::Routes, transport::server::TcpIncoming};
use tower::util::BoxCloneSyncService;

use crate::{
    chat::{ChatService, ChatSettings, bus::LocalBus, room::ChatRoom},
    config::{Config, ConfigError},
    echo::EchoService,
    files::{FileLimits, FileService},
    health::{HealthRegistry, Serving},
    kv::{KvLimits, KvService},
    legacy::{self, GrpcGateway, Legacy, Protocol},
    middleware::status_codes::StatusCodesLayer,
    payments::{ApiKeys, PaymentService, processor::TestProcessor},
    pb,
    storage::Stores,
    users::UserService,
};

/// Full names of the services, as health checks and reflection know them.
pub const SERVICE_NAMES: [&str; 6] = [
    <pb::user_service_server::UserServiceServer<UserService> as NamedService>::NAME,
    <pb::kv_service_server::KvServiceServer<KvService> as NamedService>::NAME,
    <pb::chat_service_server::ChatServiceServer<ChatService> as NamedService>::NAME,
    <pb::payment_service_server::PaymentServiceServer<PaymentService> as NamedService>::NAME,
    <pb::echo_service_server::EchoServiceServer<EchoService> as NamedService>::NAME,
    <pb::file_service_server::FileServiceServer<FileService> as NamedService>::NAME,
];

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("cannot build the reflection service: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error(transparent)]
    LegacyBind(#[from] legacy::BindError),
    #[error("cannot read the services' descriptors: {0}")]
    Descriptors(#[from] prost::DecodeError),
}

/// The tower layers around every gRPC service, in one place: the gRPC port and the legacy
/// binary call frames both go through exactly these.
fn grpc_layers() -> tower::ServiceBuilder<tower::layer::util::Stack<StatusCodesLayer, tower::layer::util::Identity>> {
    tower::ServiceBuilder::new().layer(StatusCodesLayer)
}

/// A server that is accepting calls.
pub struct RunningServer {
    grpc_addr: SocketAddr,
    health: HealthRegistry,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), tonic::transport::Error>>,
    legacy: Legacy,
    grace: Duration,
    using_development_api_key: bool,
}

/// Binds the listener and starts serving. Returns once the server accepts connections and
/// every health name reports SERVING.
pub async fn start(config: Config) -> Result<RunningServer, StartError> {
    config.validate()?;
    let (api_keys, using_development_api_key) = config.resolve_api_keys()?;
    let stores = Stores::memory();

    let room = ChatRoom::new(Arc::new(LocalBus::new(config.chat_member_queue)));
    // One instance each, shared by the gRPC port and the legacy adapter, so both see the
    // same data and KV watchers see legacy writes too.
    let kv_service = KvService::new(Arc::clone(&stores.kv), KvLimits { max_value_bytes: config.kv_max_value_bytes });
    let users = UserService::new(Arc::clone(&stores.users)).into_server();
    let kv = kv_service.clone().into_server();
    let chat =
        ChatService::new(Arc::clone(&room), ChatSettings { join_timeout: config.chat_join_timeout }).into_server();
    let payments = PaymentService::new(Arc::clone(&stores.payments), Arc::new(TestProcessor), ApiKeys::new(api_keys))
        .into_server();
    let echo = EchoService.into_server();
    let files = FileService::new(Arc::clone(&stores.files), FileLimits { max_upload_bytes: config.max_upload_bytes })
        .into_server();
    let max = config.max_message_bytes;

    let health = HealthRegistry::new(std::iter::once("").chain(SERVICE_NAMES));
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };

    let mut routes = Routes::builder();
    routes
        .add_service(health.clone().into_server())
        .add_service(reflection().build_v1()?)
        .add_service(reflection().build_v1alpha()?)
        .add_service(users.max_decoding_message_size(max).max_encoding_message_size(max))
        .add_service(kv.max_decoding_message_size(max).max_encoding_message_size(max))
        .add_service(chat.max_decoding_message_size(max).max_encoding_message_size(max))
        .add_service(payments.max_decoding_message_size(max).max_encoding_message_size(max))
        .add_service(echo.max_decoding_message_size(max).max_encoding_message_size(max))
        .add_service(files.max_decoding_message_size(max).max_encoding_message_size(max));
    let routes = routes.routes().prepare();

    let listener =
        TcpListener::bind(config.listen).await.map_err(|source| StartError::Bind { addr: config.listen, source })?;
    let grpc_addr = listener.local_addr().map_err(|source| StartError::Bind { addr: config.listen, source })?;
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));

    let in_process = BoxCloneSyncService::new(grpc_layers().service(routes.clone()));
    let gateway = GrpcGateway::new(in_process, &[pb::FILE_DESCRIPTOR_SET, tonic_health::pb::FILE_DESCRIPTOR_SET])?;
    let legacy = legacy::start(
        &[
            (Protocol::Kv, config.legacy_kv_listen.0),
            (Protocol::Chat, config.legacy_chat_listen.0),
            (Protocol::Echo, config.legacy_echo_listen.0),
            (Protocol::Binary, config.legacy_binary_listen.0),
        ],
        legacy::Services { kv: kv_service, room, echo: EchoService, grpc: gateway },
        legacy::Settings {
            max_connections: config.legacy_max_connections,
            idle_timeout: config.legacy_idle_timeout,
            handshake_timeout: config.legacy_handshake_timeout,
            max_line_bytes: config.legacy_max_line_bytes,
        },
    )
    .await?;

    let router = tonic::transport::Server::builder().layer(grpc_layers()).add_routes(routes);

    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(router.serve_with_incoming_shutdown(incoming, async {
        let _ = stopped.await;
    }));

    // Everything is in memory and ready as soon as the listener is.
    health.set_all(Serving::Serving);
    tracing::info!(%grpc_addr, "gRPC listening");
    Ok(RunningServer {
        grpc_addr,
        health,
        stop: Some(stop),
        task,
        legacy,
        grace: config.shutdown_grace,
        using_development_api_key,
    })
}

impl RunningServer {
    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_addr
    }

    /// Where a legacy protocol listens; `None` when it is off.
    pub fn legacy_addr(&self, protocol: Protocol) -> Option<SocketAddr> {
        self.legacy.addr(protocol)
    }

    pub fn health(&self) -> &HealthRegistry {
        &self.health
    }

    /// Whether payments accept only the built-in development key.
    pub fn using_development_api_key(&self) -> bool {
        self.using_development_api_key
    }

    /// Stops: health turns NOT_SERVING, the listeners close (legacy connections close at
    /// once), open calls get the grace period to finish, and whatever is still open after it
    /// is closed.
    pub async fn shutdown(mut self) {
        self.health.set_all(Serving::NotServing);
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.legacy.shutdown(self.grace).await;
        match tokio::time::timeout(self.grace, &mut self.task).await {
            Ok(Ok(Ok(()))) => tracing::info!("server stopped"),
            Ok(Ok(Err(error))) => tracing::error!(%error, "server failed while stopping"),
            Ok(Err(join_error)) => tracing::error!(%join_error, "server task failed"),
            Err(_elapsed) => {
                tracing::warn!(grace = ?self.grace, "open calls outlived the shutdown grace; closing them");
                self.task.abort();
            }
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        // A server dropped without shutdown() (a test that panicked) must not linger.
        self.task.abort();
    }
}

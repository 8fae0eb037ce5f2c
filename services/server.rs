//! The assembly: the one place that knows every room. It builds the stores, the services,
//! health and reflection from a [`Config`], binds the listener and runs until told to stop.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};
use tonic::{server::NamedService, transport::server::TcpIncoming};

use crate::{
    chat::{
        ChatService, ChatSettings,
        bus::{ChatBus, LocalBus},
        nats::{NatsBus, NatsBusError},
        room::ChatRoom,
    },
    config::{Config, ConfigError, StorageMode},
    echo::EchoService,
    files::{FileLimits, FileService},
    health::{HealthRegistry, Serving},
    kv::{KvLimits, KvService},
    middleware::status_codes::StatusCodesLayer,
    payments::{ApiKeys, PaymentService, processor::TestProcessor},
    pb,
    storage::{Engine, OpenError, Stores},
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
    #[error(transparent)]
    Storage(#[from] OpenError),
    #[error(transparent)]
    Bus(#[from] NatsBusError),
    #[error("cannot build the reflection service: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
}

/// A server that is accepting calls.
pub struct RunningServer {
    grpc_addr: SocketAddr,
    health: HealthRegistry,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), tonic::transport::Error>>,
    health_probe: JoinHandle<()>,
    grace: Duration,
    using_development_api_key: bool,
}

/// Binds the listener and starts serving. Returns once the server accepts connections and
/// every health name reports SERVING.
pub async fn start(config: Config) -> Result<RunningServer, StartError> {
    config.validate()?;
    let (api_keys, using_development_api_key) = config.resolve_api_keys()?;
    let stores = open_stores(&config).await?;

    let (bus, nats): (Arc<dyn ChatBus>, Option<Arc<NatsBus>>) = match &config.nats_url {
        Some(url) => {
            let nats = Arc::new(
                NatsBus::connect(url, &config.nats_subject, config.chat_member_queue, config.chat_presence_interval)
                    .await?,
            );
            (nats.clone(), Some(nats))
        }
        None => (Arc::new(LocalBus::new(config.chat_member_queue)), None),
    };
    let room = ChatRoom::new(bus);
    let users = UserService::new(Arc::clone(&stores.users)).into_server();
    let kv =
        KvService::new(Arc::clone(&stores.kv), KvLimits { max_value_bytes: config.kv_max_value_bytes }).into_server();
    let chat = ChatService::new(room, ChatSettings { join_timeout: config.chat_join_timeout }).into_server();
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

    let listener =
        TcpListener::bind(config.listen).await.map_err(|source| StartError::Bind { addr: config.listen, source })?;
    let grpc_addr = listener.local_addr().map_err(|source| StartError::Bind { addr: config.listen, source })?;
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));

    let router = tonic::transport::Server::builder()
        .layer(StatusCodesLayer)
        .add_service(health.clone().into_server())
        .add_service(reflection().build_v1()?)
        .add_service(reflection().build_v1alpha()?)
        .add_service(users.max_decoding_message_size(max).max_encoding_message_size(max))
        .add_service(kv.max_decoding_message_size(max).max_encoding_message_size(max))
        .add_service(chat.max_decoding_message_size(max).max_encoding_message_size(max))
        .add_service(payments.max_decoding_message_size(max).max_encoding_message_size(max))
        .add_service(echo.max_decoding_message_size(max).max_encoding_message_size(max))
        .add_service(files.max_decoding_message_size(max).max_encoding_message_size(max));

    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(router.serve_with_incoming_shutdown(incoming, async {
        let _ = stopped.await;
    }));

    // The stores and the bus are open: ready. From now on the probe follows the engines.
    health.set_all(Serving::Serving);
    let health_probe = tokio::spawn(probe_engines(health.clone(), stores.engine.clone(), nats));
    tracing::info!(%grpc_addr, "gRPC listening");
    Ok(RunningServer {
        grpc_addr,
        health,
        stop: Some(stop),
        task,
        health_probe,
        grace: config.shutdown_grace,
        using_development_api_key,
    })
}

/// How often the engines are probed for health.
const PROBE_INTERVAL: Duration = Duration::from_secs(1);

/// Keeps health true to the engines: the storage-backed services turn NOT_SERVING while the
/// database does not answer, chat while NATS is disconnected, and both turn SERVING again by
/// themselves when their engine is back. Other services are unaffected.
async fn probe_engines(health: HealthRegistry, engine: Engine, nats: Option<Arc<NatsBus>>) {
    let storage_services = [
        <pb::user_service_server::UserServiceServer<UserService> as NamedService>::NAME,
        <pb::kv_service_server::KvServiceServer<KvService> as NamedService>::NAME,
        <pb::payment_service_server::PaymentServiceServer<PaymentService> as NamedService>::NAME,
        <pb::file_service_server::FileServiceServer<FileService> as NamedService>::NAME,
    ];
    let chat_service = <pb::chat_service_server::ChatServiceServer<ChatService> as NamedService>::NAME;
    let mut storage_up = true;
    let mut chat_up = true;
    let mut ticks = tokio::time::interval(PROBE_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if !matches!(engine, Engine::Memory) {
            let up = match tokio::time::timeout(PROBE_INTERVAL * 2, engine.probe()).await {
                Ok(Ok(())) => true,
                Ok(Err(error)) => {
                    if storage_up {
                        tracing::warn!(%error, "storage is not answering");
                    }
                    false
                }
                Err(_elapsed) => false,
            };
            if up != storage_up {
                storage_up = up;
                let status = if up { Serving::Serving } else { Serving::NotServing };
                tracing::info!(?status, "storage health changed");
                for name in storage_services {
                    health.set(name, status);
                }
            }
        }
        if let Some(nats) = &nats {
            let up = nats.is_connected();
            if up != chat_up {
                chat_up = up;
                let status = if up { Serving::Serving } else { Serving::NotServing };
                tracing::info!(?status, "chat (NATS) health changed");
                health.set(chat_service, status);
            }
        }
    }
}

/// The stores the configuration asks for: PostgreSQL when a URL is given, else SQLite
/// under the data directory, or memory.
async fn open_stores(config: &Config) -> Result<Stores, OpenError> {
    match (&config.database_url, config.storage) {
        (Some(url), _) => Stores::postgres(url).await,
        (None, StorageMode::Sqlite) => Stores::sqlite(&config.data_dir).await,
        (None, StorageMode::Memory) => Ok(Stores::memory()),
    }
}

impl RunningServer {
    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_addr
    }

    pub fn health(&self) -> &HealthRegistry {
        &self.health
    }

    /// Whether payments accept only the built-in development key.
    pub fn using_development_api_key(&self) -> bool {
        self.using_development_api_key
    }

    /// Stops: health turns NOT_SERVING, the listener closes, open calls get the grace period
    /// to finish, and whatever is still open after it is closed.
    pub async fn shutdown(mut self) {
        self.health_probe.abort();
        self.health.set_all(Serving::NotServing);
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
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
        self.health_probe.abort();
    }
}

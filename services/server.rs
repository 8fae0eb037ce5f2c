//! The assembly: the one place that knows every room. It builds the stores, the services,
//! health and reflection from a [`Config`], wraps them in the tower layers, binds the gRPC and
//! legacy listeners and runs until told to stop. The legacy adapter gets the very service
//! instances, and for binary call frames the very layered gRPC stack, that the gRPC port
//! serves: a call frame passes every layer below exactly as a network call does.
//!
//! # The layers, outermost first
//!
//! 1. **CORS** — answers browsers' preflight requests for gRPC-Web.
//! 2. **gRPC-Web** — turns a gRPC-Web call (HTTP/1.1 or 2) into a gRPC call and back, so
//!    everything inside sees and answers plain gRPC.
//! 3. **the call stack** ([`CallStack`]) — one layer asking every per-call policy in turn:
//!    request id, access log and metrics, rate limit, authentication, load shedding,
//!    deadline, stream idleness, panic isolation, status-code correction (the order, and
//!    why, is documented in [`crate::middleware::stack`]).

use std::{
    net::SocketAddr,
    num::NonZeroU32,
    sync::Arc,
    time::{Duration, Instant},
};

use tokio::{net::TcpListener, task::JoinHandle};
use tokio_stream::StreamExt as _;
use tonic::{
    server::NamedService,
    service::Routes,
    transport::{Certificate, Identity, ServerTlsConfig, server::TcpIncoming},
};
use tower::util::BoxCloneSyncService;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::{
    chat::{
        ChatService, ChatSettings,
        bus::{ChatBus, LocalBus},
        nats::{NatsBus, NatsBusError},
        room::ChatRoom,
    },
    config::{Config, ConfigError, StorageMode},
    credentials::ApiKeys,
    debug::DebugService,
    echo::EchoService,
    files::{FileLimits, FileService},
    health::{HealthRegistry, Serving},
    kv::{KvLimits, KvService},
    legacy::{self, GrpcGateway, Legacy, Protocol},
    listener::{TrackedIo, first_request_arrives},
    metrics::{self, Metrics},
    middleware::{self, CallStack, auth::Auth, methods::Methods, rate_limit::RateLimit},
    payments::{PaymentService, processor::TestProcessor},
    pb, rest,
    shutdown::Shutdown,
    storage::{Engine, OpenError, Stores},
    users::UserService,
    webchat,
};

const USER_SERVICE: &str = <pb::user_service_server::UserServiceServer<UserService> as NamedService>::NAME;
const KV_SERVICE: &str = <pb::kv_service_server::KvServiceServer<KvService> as NamedService>::NAME;
const CHAT_SERVICE: &str = <pb::chat_service_server::ChatServiceServer<ChatService> as NamedService>::NAME;
const PAYMENT_SERVICE: &str = <pb::payment_service_server::PaymentServiceServer<PaymentService> as NamedService>::NAME;
const ECHO_SERVICE: &str = <pb::echo_service_server::EchoServiceServer<EchoService> as NamedService>::NAME;
const FILE_SERVICE: &str = <pb::file_service_server::FileServiceServer<FileService> as NamedService>::NAME;

/// Full names of the services, as health checks and reflection know them.
pub const SERVICE_NAMES: [&str; 6] =
    [USER_SERVICE, KV_SERVICE, CHAT_SERVICE, PAYMENT_SERVICE, ECHO_SERVICE, FILE_SERVICE];

/// After the grace period, how long the cut connections get to wind down before the server
/// task is abandoned.
const FORCED_CLOSE_WAIT: Duration = Duration::from_secs(2);
/// Longest a TLS handshake may take.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the rate limiter forgets clients that are back to a full bucket.
const RATE_LIMIT_HOUSEKEEPING: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("cannot build the reflection service: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("invalid built-in descriptor set: {0}")]
    Descriptors(#[from] prost::DecodeError),
    #[error(transparent)]
    LegacyBind(#[from] legacy::BindError),
    #[error(transparent)]
    Storage(#[from] OpenError),
    #[error(transparent)]
    Bus(#[from] NatsBusError),
    #[error("invalid TLS configuration: {0}")]
    Tls(#[source] tonic::transport::Error),
    #[error("invalid TLS configuration for the HTTP listener: {0}")]
    HttpTls(String),
    #[error("invalid built-in descriptors: {0}")]
    DescriptorPool(#[from] prost_reflect::DescriptorError),
    #[error("invalid google.api.http rule: {0}")]
    Routes(#[from] rest::RouteError),
    #[error(transparent)]
    WebChat(#[from] webchat::WebChatError),
}

/// A server that is accepting calls.
pub struct RunningServer {
    grpc_addr: SocketAddr,
    http_addr: Option<SocketAddr>,
    metrics_addr: Option<SocketAddr>,
    health: HealthRegistry,
    legacy: Legacy,
    shutdown: Shutdown,
    stores: Stores,
    metrics: Arc<Metrics>,
    /// Keeps health true to PostgreSQL/SQLite and NATS; stopped first when draining, so it
    /// cannot turn a service SERVING again.
    health_probe: JoinHandle<()>,
    /// `None` once awaited to completion.
    task: Option<JoinHandle<Result<(), tonic::transport::Error>>>,
    /// Helpers that run as long as the server: the metrics listener, rate-limit housekeeping.
    helpers: Vec<JoinHandle<()>>,
    grace: Duration,
    delay: Duration,
    using_development_api_key: bool,
}

/// Binds the listeners and starts serving. Returns once the server accepts connections and
/// every health name reports SERVING.
pub async fn start(config: Config) -> Result<RunningServer, StartError> {
    config.validate()?;
    let (api_keys, using_development_api_key) = config.resolve_api_keys()?;
    let api_keys = ApiKeys::new(api_keys);
    let auth_token = config.resolve_auth_token()?;
    let tls = config.read_tls()?;
    let shutdown = Shutdown::new();
    let metrics = Metrics::new();
    let stores = open_stores(&config).await?.timed(metrics.storage_commit.clone());
    let mut helpers = Vec::new();

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
    {
        let room = Arc::clone(&room);
        metrics.add_sampler(move |m| m.chat_members.set(i64::try_from(room.member_names().len()).unwrap_or(i64::MAX)));
    }
    // One instance each, shared by the gRPC port and the legacy adapter, so both see the
    // same data and KV watchers see legacy writes too.
    let kv_service = KvService::new(Arc::clone(&stores.kv), KvLimits { max_value_bytes: config.kv_max_value_bytes })
        .with_shutdown(shutdown.clone());
    let users = UserService::new(Arc::clone(&stores.users)).into_server();
    let kv = kv_service.clone().into_server();
    let chat = ChatService::new(Arc::clone(&room), ChatSettings { join_timeout: config.chat_join_timeout })
        .with_shutdown(shutdown.clone())
        .into_server();
    let payments =
        PaymentService::new(Arc::clone(&stores.payments), Arc::new(TestProcessor), api_keys.clone()).into_server();
    let echo = EchoService.into_server();
    // Room for a chunk's message framing within --max-message-bytes.
    let max_chunk_bytes = config.max_message_bytes.saturating_sub(64).clamp(1, 64 * 1024);
    let files = FileService::new(
        Arc::clone(&stores.files),
        FileLimits { max_upload_bytes: config.max_upload_bytes, max_chunk_bytes },
    )
    .into_server();
    let debug = config.enable_debug_rpcs.then(|| {
        tracing::warn!("serving the TEST-ONLY switchboard.debug.v1.DebugService (--enable-debug-rpcs)");
        DebugService::new(Arc::clone(&metrics)).into_server()
    });
    let max = config.max_message_bytes;

    let health = HealthRegistry::new(std::iter::once("").chain(SERVICE_NAMES));
    let reflection = || {
        let builder = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET);
        if config.enable_debug_rpcs {
            builder.register_encoded_file_descriptor_set(pb::debug::FILE_DESCRIPTOR_SET)
        } else {
            builder
        }
    };
    let mut descriptor_sets = vec![
        pb::FILE_DESCRIPTOR_SET,
        tonic_health::pb::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
    ];
    if config.enable_debug_rpcs {
        descriptor_sets.push(pb::debug::FILE_DESCRIPTOR_SET);
    }
    let methods = Arc::new(Methods::from_descriptor_sets(&descriptor_sets)?);

    let rate_limit = NonZeroU32::new(config.rate_limit_per_second).map(|per_second| {
        let burst = NonZeroU32::new(config.rate_limit_burst).unwrap_or(NonZeroU32::MIN);
        RateLimit::new(per_second, burst, api_keys.clone(), Arc::clone(&metrics))
    });
    if let Some(rate_limit) = rate_limit.clone() {
        helpers.push(tokio::spawn(async move {
            let mut every = tokio::time::interval(RATE_LIMIT_HOUSEKEEPING);
            loop {
                every.tick().await;
                rate_limit.housekeeping();
            }
        }));
    }
    let max_concurrent_calls = if config.max_concurrent_calls == 0 {
        tokio::sync::Semaphore::MAX_PERMITS
    } else {
        config.max_concurrent_calls
    };
    let max_call = (!config.max_call_duration.is_zero()).then_some(config.max_call_duration);

    let layers = tower::ServiceBuilder::new()
        // No origins configured: no CORS processing at all (it would add `vary` headers to
        // every response for nothing).
        .option_layer(
            (!config.cors_allow_origins.is_empty()).then(|| cors(&config.cors_allow_origins, &GRPC_WEB_METHODS)),
        )
        .layer(tonic_web::GrpcWebLayer::new())
        .layer(CallStack::new(middleware::Settings {
            methods,
            metrics: Arc::clone(&metrics),
            rate_limit,
            auth: Auth::new(auth_token.as_deref(), api_keys, &[PAYMENT_SERVICE]),
            max_concurrent_calls,
            max_call,
            stream_idle: config.stream_idle_timeout,
        }));

    let nonzero = |d: Duration| (!d.is_zero()).then_some(d);
    let mut builder = tonic::transport::Server::builder()
        .accept_http1(true)
        .max_concurrent_streams(config.max_concurrent_streams)
        .http2_keepalive_interval(nonzero(config.http2_keepalive_interval))
        .http2_keepalive_timeout(nonzero(config.http2_keepalive_timeout));
    if let Some(files) = &tls {
        let mut tls_config = ServerTlsConfig::new()
            .identity(Identity::from_pem(&files.cert, &files.key))
            // tonic's default is no limit: a client that connects and never finishes the
            // handshake would hold its socket and task forever.
            .timeout(TLS_HANDSHAKE_TIMEOUT);
        if let Some(ca) = &files.client_ca {
            tls_config = tls_config.client_ca_root(Certificate::from_pem(ca));
        }
        builder = builder.tls_config(tls_config).map_err(StartError::Tls)?;
    }
    let mut routes = Routes::builder();
    routes
        .add_service(health.clone().into_server_with_shutdown(shutdown.clone()))
        .add_service(reflection().build_v1()?)
        .add_service(reflection().build_v1alpha()?)
        .add_service(users.max_decoding_message_size(max).max_encoding_message_size(max))
        .add_service(kv.max_decoding_message_size(max).max_encoding_message_size(max))
        .add_service(chat.max_decoding_message_size(max).max_encoding_message_size(max))
        .add_service(payments.max_decoding_message_size(max).max_encoding_message_size(max))
        .add_service(echo.max_decoding_message_size(max).max_encoding_message_size(max))
        .add_service(files.max_decoding_message_size(max).max_encoding_message_size(max));
    if let Some(debug) = debug {
        routes.add_service(debug.max_decoding_message_size(max).max_encoding_message_size(max));
    }
    let routes = routes.routes().prepare();
    // Binary call frames enter here: the same layers around the same routes.
    let in_process = BoxCloneSyncService::new(layers.clone().service(routes.clone()));
    let gateway = GrpcGateway::new(in_process.clone(), &descriptor_sets)?;
    let router = builder.layer(layers).add_routes(routes);

    let listener =
        TcpListener::bind(config.listen).await.map_err(|source| StartError::Bind { addr: config.listen, source })?;
    let grpc_addr = listener.local_addr().map_err(|source| StartError::Bind { addr: config.listen, source })?;
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true)).with_keepalive(nonzero(config.tcp_keepalive));
    let incoming = gate_first_requests(
        incoming,
        config.first_request_timeout,
        shutdown.clone(),
        metrics.open_connections.with_label_values(&["grpc"]),
    );

    let metrics_addr = match config.metrics_listen {
        Some(addr) => {
            let listener = metrics::bind(addr).await.map_err(|source| StartError::Bind { addr, source })?;
            let bound = listener.local_addr().map_err(|source| StartError::Bind { addr, source })?;
            helpers.push(tokio::spawn(metrics::serve(listener, Arc::clone(&metrics))));
            tracing::info!(metrics_addr = %bound, "metrics listening at /metrics");
            Some(bound)
        }
        None => None,
    };

    let http_addr = match config.http_listen.0 {
        Some(addr) => {
            let table = rest_routes()?;
            let openapi = rest::openapi::document_bytes(&table, &rest_credentials());
            let rest = rest::Rest::new(
                table,
                openapi,
                in_process.clone(),
                rest::RestSettings { max_message_bytes: max, heartbeat: REST_HEARTBEAT },
                shutdown.clone(),
            );
            let guide = crate::guide::Guide::new(in_process.clone(), max);
            let webchat = web_chat(&config, in_process.clone(), &health, &room, &shutdown, &metrics)?;
            let mut router = rest.router().merge(guide.router()).merge(webchat.router());
            if !config.cors_allow_origins.is_empty() {
                router = router.layer(cors(&config.cors_allow_origins, &REST_METHODS));
            }
            let listener = TcpListener::bind(addr).await.map_err(|source| StartError::Bind { addr, source })?;
            let bound = listener.local_addr().map_err(|source| StartError::Bind { addr, source })?;
            let tls = tls.as_ref().map(http_tls).transpose()?;
            helpers.push(tokio::spawn(rest::serve(
                listener,
                router,
                tls,
                config.first_request_timeout,
                shutdown.clone(),
                metrics.open_connections.with_label_values(&["http"]),
            )));
            tracing::info!(http_addr = %bound, "HTTP listening (REST, /openapi.json, the web chat at /chat)");
            Some(bound)
        }
        None => None,
    };

    let legacy_listeners = guard_legacy_text_ports(
        [
            (Protocol::Kv, config.legacy_kv_listen.0),
            (Protocol::Chat, config.legacy_chat_listen.0),
            (Protocol::Echo, config.legacy_echo_listen.0),
            (Protocol::Binary, config.legacy_binary_listen.0),
        ],
        auth_token.is_some(),
        config.legacy_allow_unauthenticated,
    );
    let legacy = legacy::start(
        &legacy_listeners,
        legacy::Services { kv: kv_service, room, echo: EchoService, grpc: gateway },
        legacy::Settings {
            max_connections: config.legacy_max_connections,
            max_connections_per_peer: config.legacy_max_connections_per_peer,
            idle_timeout: config.legacy_idle_timeout,
            handshake_timeout: config.legacy_handshake_timeout,
            max_line_bytes: config.legacy_max_line_bytes,
            frame_timeout: config.legacy_frame_timeout,
            frame_buffer_bytes: config.legacy_frame_buffer_bytes,
        },
        metrics.open_connections.clone(),
    )
    .await?;

    // Stop accepting as soon as the drain begins: tonic then closes the listener and sends
    // every connection a GOAWAY, letting calls in flight finish.
    let draining = shutdown.clone();
    let task = tokio::spawn(router.serve_with_incoming_shutdown(incoming, async move { draining.draining().await }));

    // The stores and the bus are open: ready. From now on the probe follows the engines.
    health.set_all(Serving::Serving);
    let health_probe = tokio::spawn(probe_engines(health.clone(), stores.engine.clone(), nats));
    tracing::info!(
        %grpc_addr,
        tls = tls.is_some(),
        mutual_tls = config.tls_client_ca.is_some(),
        bearer_token_required = auth_token.is_some(),
        "gRPC listening"
    );
    Ok(RunningServer {
        grpc_addr,
        http_addr,
        metrics_addr,
        health,
        legacy,
        shutdown,
        stores,
        metrics,
        health_probe,
        task: Some(task),
        helpers,
        grace: config.shutdown_grace,
        delay: config.shutdown_delay,
        using_development_api_key,
    })
}

/// The gRPC port's connections, each let through to tonic only once it has sent its first
/// complete request ([`first_request_arrives`]); silent ones are closed after `within` without
/// ever reaching tonic (which would hold them for ever). Accepting stops when the drain
/// begins, which closes the port.
fn gate_first_requests(
    mut incoming: TcpIncoming,
    within: Duration,
    shutdown: Shutdown,
    open: prometheus::IntGauge,
) -> tokio_stream::wrappers::ReceiverStream<std::io::Result<TrackedIo<tokio::net::TcpStream>>> {
    let (ready_tx, ready_rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                accepted = incoming.next() => accepted,
                () = shutdown.draining() => return,
                () = ready_tx.closed() => return,
            };
            let socket = match accepted {
                Some(Ok(socket)) => socket,
                // Per-connection failures (a reset before accept) and resource limits: tonic
                // logs and goes on likewise.
                Some(Err(error)) => {
                    tracing::debug!(%error, "gRPC accept failed");
                    // Out of file descriptors and the like: back off instead of spinning.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
                None => return,
            };
            let ready_tx = ready_tx.clone();
            let (forced, open) = (shutdown.forced_token(), open.clone());
            tokio::spawn(async move {
                if first_request_arrives(&socket, within).await {
                    let _ = ready_tx.send(Ok(TrackedIo::new(socket, forced, open))).await;
                }
            });
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(ready_rx)
}

/// Every door is guarded alike: the legacy text protocols cannot carry a bearer token, so with
/// `--auth-token` they stay closed unless the operator opens them on purpose, and then the
/// server says loudly that they answer anyone. Binary call frames carry metadata, so the
/// binary port stays under the same auth as the gRPC port (its echo frames reach no data).
fn guard_legacy_text_ports(
    listeners: [(Protocol, Option<SocketAddr>); 4],
    token_required: bool,
    allow_unauthenticated: bool,
) -> [(Protocol, Option<SocketAddr>); 4] {
    listeners.map(|(protocol, addr)| {
        let unauthenticated = matches!(protocol, Protocol::Kv | Protocol::Chat | Protocol::Echo);
        match addr {
            Some(addr) if token_required && unauthenticated && !allow_unauthenticated => {
                tracing::warn!(
                    %protocol,
                    %addr,
                    "legacy {protocol} port NOT opened: --auth-token is set and this protocol cannot carry a token \
                     (--legacy-allow-unauthenticated opens it anyway)"
                );
                (protocol, None)
            }
            Some(addr) if token_required && unauthenticated => {
                tracing::warn!(
                    %protocol,
                    %addr,
                    "UNAUTHENTICATED legacy {protocol} port open (--legacy-allow-unauthenticated): it answers anyone, \
                     without the bearer token the other ports require"
                );
                (protocol, Some(addr))
            }
            other => (protocol, other),
        }
    })
}

/// How often a quiet Server-Sent Events stream sends a heartbeat comment.
const REST_HEARTBEAT: Duration = Duration::from_secs(15);

/// The web chat page, its WebSocket onto `ChatService/Chat` through the layered stack, and the
/// server panel's feed (every health name, the member count).
fn web_chat(
    config: &Config,
    in_process: crate::in_process::GrpcService,
    health: &HealthRegistry,
    room: &Arc<ChatRoom>,
    shutdown: &Shutdown,
    metrics: &Metrics,
) -> Result<webchat::WebChat, StartError> {
    let room = Arc::clone(room);
    let status = webchat::ServerStatus {
        health: health.clone(),
        names: std::iter::once("").chain(SERVICE_NAMES).map(str::to_owned).collect(),
        chat_members: Arc::new(move || room.member_names().len()),
    };
    let settings = webchat::WebChatSettings {
        max_message_bytes: config.max_message_bytes,
        max_connections: config.websocket_max_connections,
        heartbeat: REST_HEARTBEAT,
        allowed_origins: config.cors_allow_origins.clone(),
    };
    let open = metrics.open_connections.with_label_values(&["websocket"]);
    Ok(webchat::WebChat::new(in_process, status, settings, shutdown.clone(), open)?)
}

/// The REST routes of the served services, from their `google.api.http` rules.
fn rest_routes() -> Result<rest::RouteTable, StartError> {
    let pool = prost_reflect::DescriptorPool::decode(pb::FILE_DESCRIPTOR_SET)?;
    Ok(rest::RouteTable::from_pool(&pool, &SERVICE_NAMES)?)
}

/// The OpenAPI 3.1 document the HTTP listener serves at `/openapi.json`.
pub fn openapi_document() -> Result<Vec<u8>, StartError> {
    Ok(rest::openapi::document_bytes(&rest_routes()?, &rest_credentials()))
}

/// What the OpenAPI document says of credentials: payments need an API key, creates and
/// refunds an idempotency key.
fn rest_credentials() -> rest::openapi::Credentials {
    rest::openapi::Credentials {
        api_key_services: vec![PAYMENT_SERVICE.to_owned()],
        idempotency_key_methods: vec![
            "switchboard.v1.PaymentService.CreatePayment".to_owned(),
            "switchboard.v1.PaymentService.RefundPayment".to_owned(),
        ],
    }
}

/// The HTTP listener's TLS: the gRPC port's certificate and key (and client CA), with ALPN
/// for HTTP/2 and HTTP/1.1.
fn http_tls(files: &crate::config::TlsFiles) -> Result<Arc<tokio_rustls::rustls::ServerConfig>, StartError> {
    use rustls_pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
    use tokio_rustls::rustls;
    let invalid = |e: &dyn std::fmt::Display| StartError::HttpTls(e.to_string());
    let certs = CertificateDer::pem_slice_iter(&files.cert).collect::<Result<Vec<_>, _>>().map_err(|e| invalid(&e))?;
    let key = PrivateKeyDer::from_pem_slice(&files.key).map_err(|e| invalid(&e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid(&e))?;
    let builder = match &files.client_ca {
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(ca) {
                roots.add(cert.map_err(|e| invalid(&e))?).map_err(|e| invalid(&e))?;
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| invalid(&e))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_single_cert(certs, key).map_err(|e| invalid(&e))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

const GRPC_WEB_METHODS: [tonic::codegen::http::Method; 2] =
    [tonic::codegen::http::Method::POST, tonic::codegen::http::Method::OPTIONS];
const REST_METHODS: [tonic::codegen::http::Method; 6] = [
    tonic::codegen::http::Method::GET,
    tonic::codegen::http::Method::POST,
    tonic::codegen::http::Method::PUT,
    tonic::codegen::http::Method::PATCH,
    tonic::codegen::http::Method::DELETE,
    tonic::codegen::http::Method::OPTIONS,
];

/// CORS for browsers: the listed origins (or any, for `*`) may call with the headers gRPC-Web
/// and our metadata use, and read the status and request id back.
fn cors(origins: &[String], methods: &[tonic::codegen::http::Method]) -> CorsLayer {
    use tonic::codegen::http::{HeaderName, HeaderValue};
    let allow_origin = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|origin| HeaderValue::from_str(origin.trim()).ok()))
    };
    let headers = |names: &[&'static str]| names.iter().map(|n| HeaderName::from_static(n)).collect::<Vec<_>>();
    CorsLayer::new()
        .allow_origin(allow_origin)
        .allow_methods(methods.to_vec())
        .allow_headers(headers(&[
            "content-type",
            "x-grpc-web",
            "x-user-agent",
            "grpc-timeout",
            "authorization",
            "x-api-key",
            "idempotency-key",
            "x-request-id",
            "x-request-timeout",
        ]))
        .expose_headers(headers(&["grpc-status", "grpc-message", "grpc-status-details-bin", "x-request-id"]))
        .max_age(Duration::from_secs(24 * 60 * 60))
}

impl RunningServer {
    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_addr
    }

    /// Where the HTTP front door listens; `None` when it is off.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http_addr
    }

    /// Where a legacy protocol listens; `None` when it is off.
    pub fn legacy_addr(&self, protocol: Protocol) -> Option<SocketAddr> {
        self.legacy.addr(protocol)
    }

    /// The admin listener's address, when `--metrics-listen` was given.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    pub fn health(&self) -> &HealthRegistry {
        &self.health
    }

    /// The drain handle: other front doors (the legacy ports) spawn their connections with
    /// [`Shutdown::spawn`] and say goodbye on [`Shutdown::draining`].
    pub fn shutdown_handle(&self) -> Shutdown {
        self.shutdown.clone()
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Whether payments accept only the built-in development key.
    pub fn using_development_api_key(&self) -> bool {
        self.using_development_api_key
    }

    /// Stops, in order (STYLE.md item 6): every health name turns NOT_SERVING; after
    /// `--shutdown-delay` the listener closes and connections get a GOAWAY; chat members get
    /// a goodbye and health/KV watches end; in-flight calls and tracked tasks get what is left
    /// of `--shutdown-grace` (counted from the start) to finish; whatever is still open then is
    /// cut; storage is flushed last.
    pub async fn shutdown(mut self) {
        let deadline = Instant::now() + self.grace;
        self.health_probe.abort();
        self.health.set_all(Serving::NotServing);
        tracing::info!(grace = ?self.grace, delay = ?self.delay, "draining: health is NOT_SERVING");
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay.min(self.grace)).await;
        }
        self.shutdown.begin_drain();
        self.legacy.shutdown(deadline.saturating_duration_since(Instant::now())).await;

        let mut task = self.task.take();
        let drained = tokio::time::timeout_at(deadline.into(), async {
            if let Some(handle) = task.as_mut() {
                report(handle.await);
            }
            task = None;
            self.shutdown.tasks_finished().await;
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                grace = ?self.grace,
                open_tasks = self.shutdown.tracked_tasks(),
                "calls and streams outlived the shutdown grace period; closing them"
            );
            self.shutdown.force();
            if let Some(mut handle) = task.take() {
                match tokio::time::timeout(FORCED_CLOSE_WAIT, &mut handle).await {
                    Ok(result) => report(result),
                    Err(_elapsed) => handle.abort(),
                }
            }
        }
        if let Err(error) = self.stores.flush().await {
            tracing::error!(%error, "storage flush failed at shutdown");
        }
        for helper in &self.helpers {
            helper.abort();
        }
        tracing::info!("server stopped");
    }
}

/// How often the engines are probed for health.
const PROBE_INTERVAL: Duration = Duration::from_secs(1);

/// Keeps health true to the engines: the storage-backed services turn NOT_SERVING while the
/// database does not answer, chat while NATS is disconnected, and both turn SERVING again by
/// themselves when their engine is back. Other services are unaffected.
async fn probe_engines(health: HealthRegistry, engine: Engine, nats: Option<Arc<NatsBus>>) {
    // The services whose state lives in the database; echo needs nothing, chat follows NATS.
    let storage_services = [USER_SERVICE, KV_SERVICE, PAYMENT_SERVICE, FILE_SERVICE];
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
                health.set(CHAT_SERVICE, status);
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

fn report(result: Result<Result<(), tonic::transport::Error>, tokio::task::JoinError>) {
    match result {
        Ok(Ok(())) => tracing::debug!("gRPC listener drained"),
        Ok(Err(error)) => tracing::error!(%error, "server failed while stopping"),
        Err(join_error) => tracing::error!(%join_error, "server task failed"),
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        // A server dropped without shutdown() (a test that panicked) must not linger.
        self.shutdown.force();
        self.health_probe.abort();
        if let Some(task) = &self.task {
            task.abort();
        }
        for helper in &self.helpers {
            helper.abort();
        }
    }
}

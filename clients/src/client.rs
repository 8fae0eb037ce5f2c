//! [`Client`]: one shared HTTP/2 channel to a Switchboard server and a typed method per rpc.
//!
//! Invariants: every unary call has a deadline (the per-call one, or the client's default)
//! that spans all of its attempts; retries follow [`crate::retry`]; dropping a call's future
//! cancels it (tonic resets the HTTP/2 stream, the server sees the cancellation).

use std::{
    future::Future,
    time::{Duration, Instant},
};

use tokio_stream::{Stream, StreamExt};
use tonic::codegen::Bytes;
use tonic::{
    Code, Request, Status,
    metadata::{AsciiMetadataValue, MetadataMap},
    transport::{Certificate, Channel, ClientTlsConfig, Endpoint},
};

use crate::{
    Error,
    chat::ChatSession,
    health::{self, ServingStatus},
    pb::{
        self, chat_service_client::ChatServiceClient, echo_service_client::EchoServiceClient,
        file_service_client::FileServiceClient, kv_service_client::KvServiceClient,
        payment_service_client::PaymentServiceClient, user_service_client::UserServiceClient,
    },
    retry::{RetryPolicy, Safety, Verdict, verdict},
};

/// Where the payment service looks for the API key.
pub const API_KEY_HEADER: &str = "x-api-key";
/// Where payment writes carry their idempotency key.
pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";
/// The server default a client talks to when told nothing else.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:50051";
/// The deadline of a unary call when the caller gives none.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Builds a [`Client`]. Nothing connects until the first call.
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    server: String,
    timeout: Duration,
    connect_timeout: Duration,
    api_key: Option<String>,
    token: Option<String>,
    retry: RetryPolicy,
    ca_certificate: Option<Vec<u8>>,
    tls_domain: Option<String>,
}

impl ClientBuilder {
    /// The default deadline of unary calls (10 s unless set).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long to wait for a TCP (and TLS) connection (5 s unless set).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sent as `x-api-key` on every call (the payment service requires it).
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// Sent as `authorization: Bearer <token>` on every call.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Trusts this PEM CA certificate for an `https://` server instead of the system roots.
    pub fn ca_certificate_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_certificate = Some(pem.into());
        self
    }

    /// The name to check the server's certificate against, when it differs from the URI's host.
    pub fn tls_domain(mut self, domain: impl Into<String>) -> Self {
        self.tls_domain = Some(domain.into());
        self
    }

    /// The client. Connects lazily, and reconnects by itself after a connection is lost.
    pub fn build(self) -> Result<Client, Error> {
        let config = |what: &str, error: &dyn std::fmt::Display| Error::Config(format!("{what}: {error}"));
        let mut endpoint = Endpoint::from_shared(self.server.clone())
            .map_err(|e| config(&format!("server address {:?}", self.server), &e))?
            .connect_timeout(self.connect_timeout)
            .tcp_nodelay(true)
            // Finds a dead connection (a peer that vanished without a FIN) within ~40 s even
            // when no call is open, so the next call reconnects instead of hanging.
            .http2_keep_alive_interval(Duration::from_secs(30))
            .keep_alive_timeout(Duration::from_secs(10))
            .keep_alive_while_idle(true)
            .tcp_keepalive(Some(Duration::from_secs(60)))
            .user_agent(concat!("switchboard-client/", env!("CARGO_PKG_VERSION")))
            .map_err(|e| config("user agent", &e))?;
        let https = endpoint.uri().scheme_str() == Some("https");
        if https {
            let mut tls = ClientTlsConfig::new();
            tls = match &self.ca_certificate {
                Some(pem) => tls.ca_certificate(Certificate::from_pem(pem)),
                None => tls.with_native_roots(),
            };
            if let Some(domain) = &self.tls_domain {
                tls = tls.domain_name(domain.clone());
            }
            endpoint = endpoint.tls_config(tls).map_err(|e| config("TLS", &e))?;
        } else if self.ca_certificate.is_some() {
            return Err(Error::Config("a CA certificate was given for a plaintext http:// server".into()));
        }

        let header = |name: &str, value: String| {
            AsciiMetadataValue::try_from(value)
                .map_err(|_| Error::Config(format!("{name} must be printable ASCII to be sent as metadata")))
        };
        let mut metadata = MetadataMap::new();
        if let Some(key) = self.api_key {
            metadata.insert(API_KEY_HEADER, header("the API key", key)?);
        }
        if let Some(token) = self.token {
            let mut value = header("the token", format!("Bearer {token}"))?;
            value.set_sensitive(true);
            metadata.insert("authorization", value);
        }
        Ok(Client { channel: endpoint.connect_lazy(), metadata, timeout: self.timeout, retry: self.retry })
    }
}

/// Per-call settings that differ from the client's.
#[derive(Debug, Clone, Default)]
pub struct CallOptions {
    /// This call's deadline instead of the client's default.
    pub timeout: Option<Duration>,
}

impl CallOptions {
    pub fn timeout(timeout: Duration) -> Self {
        Self { timeout: Some(timeout) }
    }
}

/// A Switchboard client: cheap to clone, every clone shares one channel (one HTTP/2
/// connection, multiplexed), so make one and pass it around.
#[derive(Debug, Clone)]
pub struct Client {
    channel: Channel,
    metadata: MetadataMap,
    timeout: Duration,
    retry: RetryPolicy,
}

/// A file being downloaded: its description, then its content.
pub struct Download {
    pub info: pb::FileInfo,
    chunks: tonic::Streaming<pb::DownloadResponse>,
}

impl Download {
    /// The next piece of content; `None` at the end.
    pub async fn next_chunk(&mut self) -> Result<Option<Bytes>, Error> {
        loop {
            match self.chunks.message().await? {
                None => return Ok(None),
                Some(pb::DownloadResponse { part: Some(pb::download_response::Part::Chunk(chunk)) }) => {
                    return Ok(Some(chunk));
                }
                // A repeated `info` or an empty part carries no content.
                Some(_) => continue,
            }
        }
    }
}

impl Client {
    /// A builder for a client of `server`, e.g. `http://127.0.0.1:50051` or
    /// `https://switchboard.example.com`.
    pub fn builder(server: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            server: server.into(),
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: Duration::from_secs(5),
            api_key: None,
            token: None,
            retry: RetryPolicy::default(),
            ca_certificate: None,
            tls_domain: None,
        }
    }

    /// A client of `server` with every default.
    pub fn connect_lazy(server: impl Into<String>) -> Result<Self, Error> {
        Self::builder(server).build()
    }

    /// The shared channel, for calling stubs of [`crate::pb`] directly.
    pub fn channel(&self) -> Channel {
        self.channel.clone()
    }

    /// Runs one unary call with the deadline, the credentials and the retry policy.
    /// `call` sends one attempt; `extra` is metadata of this call (an idempotency key), the
    /// same on every attempt.
    async fn unary<Req, Resp, F, Fut>(
        &self,
        safety: Safety,
        options: &CallOptions,
        extra: &[(&'static str, AsciiMetadataValue)],
        message: Req,
        mut call: F,
    ) -> Result<Resp, Error>
    where
        Req: Clone,
        F: FnMut(Request<Req>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<Resp>, Status>>,
    {
        let timeout = options.timeout.unwrap_or(self.timeout);
        let deadline = Instant::now() + timeout;
        let mut attempt = 1;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(Error::deadline(timeout));
            }
            let mut request = Request::new(message.clone());
            // Tells the server the deadline (grpc-timeout) and makes tonic enforce it locally.
            request.set_timeout(remaining);
            self.add_metadata(request.metadata_mut(), extra);
            let status = match tokio::time::timeout(remaining, call(request)).await {
                Err(_elapsed) => return Err(Error::deadline(timeout)),
                Ok(Ok(response)) => return Ok(response.into_inner()),
                Ok(Err(status)) => status,
            };
            if status.code() == Code::Cancelled && Instant::now() >= deadline {
                // tonic's own enforcement of the grpc-timeout we set ("Timeout expired").
                return Err(Error::deadline(timeout));
            }
            match verdict(&self.retry, safety, &status, attempt) {
                Verdict::GiveUp => return Err(status.into()),
                Verdict::Retry { after } => {
                    if Instant::now() + after >= deadline {
                        return Err(status.into());
                    }
                    tokio::time::sleep(after).await;
                    attempt += 1;
                }
            }
        }
    }

    fn add_metadata(&self, metadata: &mut MetadataMap, extra: &[(&'static str, AsciiMetadataValue)]) {
        for entry in self.metadata.iter() {
            if let tonic::metadata::KeyAndValueRef::Ascii(key, value) = entry {
                metadata.insert(key.clone(), value.clone());
            }
        }
        for (key, value) in extra {
            metadata.insert(*key, value.clone());
        }
    }

    /// A request for a streaming call: credentials, and a deadline only if asked for
    /// (streams live as long as their caller wants; keepalive finds dead connections).
    fn streaming_request<T>(&self, message: T, options: &CallOptions) -> Request<T> {
        let mut request = Request::new(message);
        if let Some(timeout) = options.timeout {
            request.set_timeout(timeout);
        }
        self.add_metadata(request.metadata_mut(), &[]);
        request
    }

    fn users(&self) -> UserServiceClient<Channel> {
        UserServiceClient::new(self.channel.clone())
    }
    fn kv(&self) -> KvServiceClient<Channel> {
        KvServiceClient::new(self.channel.clone())
    }
    fn payments(&self) -> PaymentServiceClient<Channel> {
        PaymentServiceClient::new(self.channel.clone())
    }
    fn echo_stub(&self) -> EchoServiceClient<Channel> {
        EchoServiceClient::new(self.channel.clone())
    }
    fn files(&self) -> FileServiceClient<Channel> {
        FileServiceClient::new(self.channel.clone())
    }
    fn chat_stub(&self) -> ChatServiceClient<Channel> {
        ChatServiceClient::new(self.channel.clone())
    }

    // ---- users ------------------------------------------------------------------------

    /// Creates a user. Not retried on an unknown outcome: a second create could make a
    /// second user.
    pub async fn create_user(&self, username: &str, email: &str, age: i32) -> Result<pb::User, Error> {
        self.create_user_with(username, email, age, &CallOptions::default()).await
    }

    pub async fn create_user_with(
        &self,
        username: &str,
        email: &str,
        age: i32,
        options: &CallOptions,
    ) -> Result<pb::User, Error> {
        let user = pb::User { username: username.into(), email: email.into(), age, ..Default::default() };
        let message = pb::CreateUserRequest { user: Some(user) };
        self.unary(Safety::NotIdempotent, options, &[], message, |r| {
            let mut stub = self.users();
            async move { stub.create_user(r).await }
        })
        .await
    }

    pub async fn get_user(&self, id: i64) -> Result<pb::User, Error> {
        self.get_user_with(id, &CallOptions::default()).await
    }

    pub async fn get_user_with(&self, id: i64, options: &CallOptions) -> Result<pb::User, Error> {
        self.unary(Safety::Idempotent, options, &[], pb::GetUserRequest { id }, |r| {
            let mut stub = self.users();
            async move { stub.get_user(r).await }
        })
        .await
    }

    pub async fn list_users(&self, request: pb::ListUsersRequest) -> Result<pb::ListUsersResponse, Error> {
        self.unary(Safety::Idempotent, &CallOptions::default(), &[], request, |r| {
            let mut stub = self.users();
            async move { stub.list_users(r).await }
        })
        .await
    }

    /// Changes the fields of `user` named in `paths` (`username`, `email`, `age`); `user.id`
    /// says which user.
    pub async fn update_user(&self, user: pb::User, paths: &[&str]) -> Result<pb::User, Error> {
        let mask = prost_types::FieldMask { paths: paths.iter().map(|p| (*p).to_owned()).collect() };
        let message = pb::UpdateUserRequest { user: Some(user), update_mask: Some(mask) };
        self.unary(Safety::NotIdempotent, &CallOptions::default(), &[], message, |r| {
            let mut stub = self.users();
            async move { stub.update_user(r).await }
        })
        .await
    }

    pub async fn delete_user(&self, id: i64) -> Result<(), Error> {
        self.unary(Safety::NotIdempotent, &CallOptions::default(), &[], pb::DeleteUserRequest { id }, |r| {
            let mut stub = self.users();
            async move { stub.delete_user(r).await }
        })
        .await
        .map(drop)
    }

    // ---- key-value ------------------------------------------------------------------------

    /// The value of `key`; [`Error::NotFound`] if it is not set.
    pub async fn kv_get(&self, key: &str) -> Result<String, Error> {
        let message = pb::GetRequest { key: key.into() };
        self.unary(Safety::Idempotent, &CallOptions::default(), &[], message, |r| {
            let mut stub = self.kv();
            async move { stub.get(r).await }
        })
        .await
        .map(|response| response.value)
    }

    /// Sets `key`; true if it replaced a value. Retried when the outcome is unknown: setting
    /// the same value twice ends in the same state (only `replaced` may then say true).
    pub async fn kv_set(&self, key: &str, value: &str) -> Result<bool, Error> {
        let message = pb::SetRequest { key: key.into(), value: value.into() };
        self.unary(Safety::Idempotent, &CallOptions::default(), &[], message, |r| {
            let mut stub = self.kv();
            async move { stub.set(r).await }
        })
        .await
        .map(|response| response.replaced)
    }

    pub async fn kv_delete(&self, key: &str) -> Result<(), Error> {
        let message = pb::DeleteRequest { key: key.into() };
        self.unary(Safety::NotIdempotent, &CallOptions::default(), &[], message, |r| {
            let mut stub = self.kv();
            async move { stub.delete(r).await }
        })
        .await
        .map(drop)
    }

    pub async fn kv_list_keys(&self, request: pb::ListKeysRequest) -> Result<pb::ListKeysResponse, Error> {
        self.unary(Safety::Idempotent, &CallOptions::default(), &[], request, |r| {
            let mut stub = self.kv();
            async move { stub.list_keys(r).await }
        })
        .await
    }

    /// Every change under `prefix` from now on, until the stream is dropped.
    pub async fn kv_watch(
        &self,
        prefix: &str,
    ) -> Result<impl Stream<Item = Result<pb::WatchEvent, Error>> + use<>, Error> {
        let request = self.streaming_request(pb::WatchRequest { prefix: prefix.into() }, &CallOptions::default());
        let stream = self.kv().watch(request).await?.into_inner();
        Ok(stream.map(|item| item.map_err(Error::from)))
    }

    // ---- payments ---------------------------------------------------------------------------

    /// Charges a customer. `idempotency_key` names this logical payment: pass your own (an
    /// order id) to make retries across process restarts safe, or `None` for a fresh random
    /// one. Every retry of this call sends the same key, so a create whose answer was lost is
    /// answered with the original payment, never charged twice.
    pub async fn create_payment(
        &self,
        request: pb::CreatePaymentRequest,
        idempotency_key: Option<&str>,
    ) -> Result<pb::Payment, Error> {
        let key = idempotency_header(idempotency_key)?;
        self.unary(Safety::Idempotent, &CallOptions::default(), &[(IDEMPOTENCY_KEY_HEADER, key)], request, |r| {
            let mut stub = self.payments();
            async move { stub.create_payment(r).await }
        })
        .await
    }

    pub async fn get_payment(&self, id: &str) -> Result<pb::Payment, Error> {
        let message = pb::GetPaymentRequest { id: id.into() };
        self.unary(Safety::Idempotent, &CallOptions::default(), &[], message, |r| {
            let mut stub = self.payments();
            async move { stub.get_payment(r).await }
        })
        .await
    }

    pub async fn list_payments(&self, request: pb::ListPaymentsRequest) -> Result<pb::ListPaymentsResponse, Error> {
        self.unary(Safety::Idempotent, &CallOptions::default(), &[], request, |r| {
            let mut stub = self.payments();
            async move { stub.list_payments(r).await }
        })
        .await
    }

    /// Refunds (part of) a payment, under an idempotency key like [`Client::create_payment`].
    pub async fn refund_payment(
        &self,
        request: pb::RefundPaymentRequest,
        idempotency_key: Option<&str>,
    ) -> Result<pb::Refund, Error> {
        let key = idempotency_header(idempotency_key)?;
        self.unary(Safety::Idempotent, &CallOptions::default(), &[(IDEMPOTENCY_KEY_HEADER, key)], request, |r| {
            let mut stub = self.payments();
            async move { stub.refund_payment(r).await }
        })
        .await
    }

    // ---- echo -----------------------------------------------------------------------------

    pub async fn echo(&self, message: &str) -> Result<String, Error> {
        self.echo_with(message, &CallOptions::default()).await
    }

    pub async fn echo_with(&self, message: &str, options: &CallOptions) -> Result<String, Error> {
        let request = pb::EchoRequest { message: message.into() };
        self.unary(Safety::Idempotent, options, &[], request, |r| {
            let mut stub = self.echo_stub();
            async move { stub.echo(r).await }
        })
        .await
        .map(|response| response.message)
    }

    /// The server's clock.
    pub async fn ping(&self) -> Result<pb::PingResponse, Error> {
        self.unary(Safety::Idempotent, &CallOptions::default(), &[], pb::PingRequest {}, |r| {
            let mut stub = self.echo_stub();
            async move { stub.ping(r).await }
        })
        .await
    }

    // ---- files ------------------------------------------------------------------------------

    /// Uploads `chunks` (each at most 1 MiB) as a file described by `info` (only `name` is
    /// required). Not retried: the chunks are consumed by the first attempt. No deadline
    /// unless `options` has one.
    pub async fn upload<S>(&self, info: pb::FileInfo, chunks: S, options: &CallOptions) -> Result<pb::FileInfo, Error>
    where
        S: Stream<Item = Bytes> + Send + 'static,
    {
        use pb::upload_request::Part;
        let first = tokio_stream::once(pb::UploadRequest { part: Some(Part::Info(info)) });
        let rest = chunks.map(|chunk| pb::UploadRequest { part: Some(Part::Chunk(chunk)) });
        let request = self.streaming_request(first.chain(rest), options);
        Ok(self.files().upload(request).await?.into_inner())
    }

    /// Starts downloading `name`: the file's info, then its chunks from [`Download`].
    pub async fn download(&self, name: &str, options: &CallOptions) -> Result<Download, Error> {
        let request = self.streaming_request(pb::DownloadRequest { name: name.into() }, options);
        let mut chunks = self.files().download(request).await?.into_inner();
        match chunks.message().await? {
            Some(pb::DownloadResponse { part: Some(pb::download_response::Part::Info(info)) }) => {
                Ok(Download { info, chunks })
            }
            _ => Err(Error::Other(Box::new(Status::internal("the download did not start with the file's info")))),
        }
    }

    pub async fn list_files(&self, request: pb::ListFilesRequest) -> Result<pb::ListFilesResponse, Error> {
        self.unary(Safety::Idempotent, &CallOptions::default(), &[], request, |r| {
            let mut stub = self.files();
            async move { stub.list_files(r).await }
        })
        .await
    }

    pub async fn delete_file(&self, name: &str) -> Result<(), Error> {
        let message = pb::DeleteFileRequest { name: name.into() };
        self.unary(Safety::NotIdempotent, &CallOptions::default(), &[], message, |r| {
            let mut stub = self.files();
            async move { stub.delete_file(r).await }
        })
        .await
        .map(drop)
    }

    // ---- chat -------------------------------------------------------------------------------

    /// Joins the chat room as `name`. Returns once the server has welcomed the member (or
    /// refused the name: [`Error::AlreadyExists`], [`Error::InvalidArgument`]).
    pub async fn chat(&self, name: &str) -> Result<ChatSession, Error> {
        let mut metadata = MetadataMap::new();
        self.add_metadata(&mut metadata, &[]);
        ChatSession::join(self.chat_stub(), metadata, name).await
    }

    /// The names in the chat room, without joining it.
    pub async fn chat_members(&self) -> Result<Vec<String>, Error> {
        self.unary(Safety::Idempotent, &CallOptions::default(), &[], pb::ListMembersRequest {}, |r| {
            let mut stub = self.chat_stub();
            async move { stub.list_members(r).await }
        })
        .await
        .map(|response| response.names)
    }

    // ---- health -----------------------------------------------------------------------------

    /// `grpc.health.v1.Health/Check` for `service` ("" is the whole server).
    pub async fn health(&self, service: &str) -> Result<ServingStatus, Error> {
        let request = health::HealthCheckRequest { service: service.into() };
        self.unary(Safety::Idempotent, &CallOptions::default(), &[], request, |r| {
            let channel = self.channel.clone();
            async move { health::check(channel, r).await }
        })
        .await
        .map(|response| ServingStatus::from_wire(response.status))
    }
}

fn idempotency_header(key: Option<&str>) -> Result<AsciiMetadataValue, Error> {
    let key = match key {
        Some(key) => key.to_owned(),
        None => uuid::Uuid::new_v4().to_string(),
    };
    AsciiMetadataValue::try_from(key).map_err(|_| Error::InvalidArgument {
        message: "the idempotency key must be printable ASCII".into(),
        fields: vec![crate::FieldViolation {
            field: IDEMPOTENCY_KEY_HEADER.into(),
            description: "must be printable ASCII".into(),
        }],
    })
}

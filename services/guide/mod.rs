//! The Go guide's own HTTP endpoints, wire-compatible, on the HTTP port: its REST users server
//! (`/api/users…`, search), its ServeMux server (`GET /`, `/api/health`), its payment gateway
//! (`/api/v1/payments`, `/api/v1/refunds`) and its upload server (`POST /upload`).
//!
//! A legacy front door like the telnet KV port: the old wire's paths, JSON shapes, status codes
//! and `{"error": …}` bodies, onto the new services. Every endpoint makes its calls in-process
//! through the same layer stack as a gRPC or REST call (request id, access log, metrics, rate
//! limit, auth, load shedding, deadline, panic isolation) into the same service instances; it
//! validates and stores nothing itself. Its departures from the guide each fix a guide defect:
//! amounts are exact decimals (a float was the guide's), e-mails are unique, and an upload's
//! name can never leave the upload area.

pub mod money;

use std::net::SocketAddr;

use axum::{
    Json, Router,
    extract::{Path, Query, Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use bytes::Bytes;
use futures_util::StreamExt as _;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use tonic::{Code, Status};

use self::money::MoneyError;
use crate::{
    in_process::{self, GrpcService},
    pb,
    rest::copy_request_id,
    rest::errors::http_status_of,
};

const USERS: &str = "/switchboard.v1.UserService";
const PAYMENTS: &str = "/switchboard.v1.PaymentService";
/// The most users `GET /api/users` returns (the guide returned all; this bounds the answer).
const MAX_LISTED_USERS: usize = 10_000;
/// How far `search` may page: `page × limit` stays under this.
const MAX_SEARCH_OFFSET: u64 = 10_000;
/// The guide's search default and our cap per page.
const DEFAULT_SEARCH_LIMIT: u32 = 10;
const MAX_SEARCH_LIMIT: u32 = 100;
/// Form fields before `file` that are read and dropped, and how large each may be.
const MAX_OTHER_FIELDS: usize = 16;
const MAX_OTHER_FIELD_BYTES: usize = 64 * 1024;

/// The guide's endpoints, served through `grpc` (the layered gRPC stack).
#[derive(Clone)]
pub struct Guide {
    grpc: GrpcService,
    max_message_bytes: usize,
}

impl Guide {
    pub fn new(grpc: GrpcService, max_message_bytes: usize) -> Self {
        Self { grpc, max_message_bytes }
    }

    pub fn router(&self) -> Router {
        Router::new()
            .route("/", get(welcome))
            .route("/api/health", get(health))
            .route("/api/users", get(list_users).post(create_user))
            .route("/api/users/search", get(search_users))
            .route("/api/users/{id}", get(get_user).put(update_user).delete(delete_user))
            .route("/api/v1/payments", post(create_payment))
            .route("/api/v1/payments/{id}", get(get_payment))
            .route("/api/v1/refunds", post(refund))
            .route(
                "/upload",
                post(upload).fallback(|| async { text_error(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed") }),
            )
            .route(
                "/api/{*rest}",
                axum::routing::any(|| async { json_error(StatusCode::NOT_FOUND, "endpoint not found") }),
            )
            .method_not_allowed_fallback(|| async { json_error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed") })
            .with_state(self.clone())
    }
}

/// Who is calling, as the layers need it: addresses and the headers that become metadata.
struct Caller {
    local: SocketAddr,
    peer: SocketAddr,
    metadata: HeaderMap,
}

/// Every endpoint's first argument after its state: the addresses the listener recorded and the
/// headers that become metadata (a bad deadline header is refused here).
impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Caller {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _state: &S) -> Result<Self, Failure> {
        let (local, peer) = in_process::client_addresses(&parts.extensions);
        let metadata = crate::rest::metadata(&parts.headers).map_err(Failure::from)?;
        Ok(Self { local, peer, metadata })
    }
}

impl Caller {
    async fn call<Req: prost::Message, Reply: prost::Message + Default>(
        &self,
        guide: &Guide,
        path: &str,
        request: &Req,
    ) -> Result<(Reply, HeaderMap), Failure> {
        in_process::unary(
            &guide.grpc,
            path,
            self.metadata.clone(),
            request,
            self.local,
            self.peer,
            guide.max_message_bytes,
        )
        .await
        .map_err(Failure::from)
    }
}

/// A failed request, already the guide's kind of answer (boxed: a response is large).
pub struct Failure(Box<Response>);

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        *self.0
    }
}

impl From<Response> for Failure {
    fn from(response: Response) -> Self {
        Self(Box::new(response))
    }
}

impl From<Status> for Failure {
    fn from(status: Status) -> Self {
        status_error(&status).into()
    }
}

/// `{"error": "…"}` under the status's HTTP code, as the guide's `respondWithError` wrote it.
fn status_error(status: &Status) -> Response {
    let code = http_status_of(status);
    let mut response = json_error(code, status.message());
    if matches!(code, StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE) {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    copy_request_id(status.metadata().as_ref(), response.headers_mut());
    response
}

fn json_error(code: StatusCode, message: &str) -> Response {
    (code, Json(serde_json::json!({ "error": message }))).into_response()
}

/// `http.Error`'s shape: the message and a newline, as text.
fn text_error(code: StatusCode, message: &str) -> Response {
    (code, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], format!("{message}\n")).into_response()
}

fn with_request_id(mut response: Response, headers: &HeaderMap) -> Response {
    copy_request_id(headers, response.headers_mut());
    response
}

/// The guide's ServeMux home: its welcome text; a browser gets the same with links.
async fn welcome(headers: HeaderMap) -> Response {
    let wants_html = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/html"));
    if wants_html {
        let page = "<!doctype html><meta charset=utf-8><title>Switchboard</title>\
            <p>Welcome to our API</p><ul><li><a href=\"/chat\">Chat</a></li>\
            <li><a href=\"/openapi.json\">OpenAPI document</a></li></ul>";
        ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response()
    } else {
        ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "Welcome to our API").into_response()
    }
}

/// `{"status":"healthy"}` while the server is serving; 503 while it drains or its storage is
/// down — the gRPC health check (`service: ""`) through the layers, as a probe would make it.
async fn health(State(guide): State<Guide>, caller: Caller) -> Response {
    let request = tonic_health::pb::HealthCheckRequest { service: String::new() };
    let serving = tonic_health::pb::health_check_response::ServingStatus::Serving as i32;
    match caller
        .call::<_, tonic_health::pb::HealthCheckResponse>(&guide, "/grpc.health.v1.Health/Check", &request)
        .await
    {
        Ok((reply, _)) if reply.status == serving => Json(serde_json::json!({"status": "healthy"})).into_response(),
        _ => (StatusCode::SERVICE_UNAVAILABLE, Json(serde_json::json!({"status": "unavailable"}))).into_response(),
    }
}

// ---- users ----

/// A user as the guide's clients read it: its `User` (`id`, `username`, `email`, `age`) and its
/// server's `created_at`.
#[derive(Serialize)]
struct GuideUser {
    id: i64,
    username: String,
    email: String,
    age: i32,
    created_at: String,
}

impl From<pb::User> for GuideUser {
    fn from(user: pb::User) -> Self {
        Self {
            id: user.id,
            username: user.username,
            email: user.email,
            age: user.age,
            created_at: user.create_time.map(|t| t.to_string()).unwrap_or_default(),
        }
    }
}

/// What the guide's clients send: every field optional, unknown fields ignored (Go's decoder).
#[derive(Deserialize)]
struct UserInput {
    username: Option<String>,
    email: Option<String>,
    age: Option<i32>,
}

/// The body as JSON, or the guide's "invalid request body".
fn parse_body<T: for<'de> Deserialize<'de>>(body: &Bytes) -> Result<T, Failure> {
    serde_json::from_slice(body)
        .map_err(|error| json_error(StatusCode::BAD_REQUEST, &format!("invalid request body: {error}")).into())
}

fn parse_id(id: &str) -> Result<i64, Failure> {
    id.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| json_error(StatusCode::BAD_REQUEST, "invalid user ID").into())
}

async fn list_users(State(guide): State<Guide>, caller: Caller) -> Result<Response, Failure> {
    let (users, last) = page_users(&guide, &caller, "", 1000, 0, MAX_LISTED_USERS).await?;
    let mut response = Json(users).into_response();
    if let Some(last) = last {
        copy_request_id(&last, response.headers_mut());
    }
    Ok(response)
}

/// Users matching `query`, `skip` then up to `take`, following page tokens.
async fn page_users(
    guide: &Guide,
    caller: &Caller,
    query: &str,
    page_size: i32,
    mut skip: usize,
    take: usize,
) -> Result<(Vec<GuideUser>, Option<HeaderMap>), Failure> {
    let mut users = Vec::new();
    let mut page_token = String::new();
    loop {
        let request = pb::ListUsersRequest { page_size, page_token, query: query.to_owned() };
        let (page, headers): (pb::ListUsersResponse, _) =
            caller.call(guide, &format!("{USERS}/ListUsers"), &request).await?;
        for user in page.users {
            if skip > 0 {
                skip -= 1;
            } else if users.len() < take {
                users.push(GuideUser::from(user));
            }
        }
        if users.len() >= take || page.next_page_token.is_empty() {
            return Ok((users, Some(headers)));
        }
        page_token = page.next_page_token;
    }
}

#[derive(Deserialize)]
struct SearchQuery {
    #[serde(default)]
    q: String,
    page: Option<String>,
    limit: Option<String>,
}

async fn search_users(
    State(guide): State<Guide>,
    caller: Caller,
    query: Result<Query<SearchQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, Failure> {
    let Ok(Query(query)) = query else { return Err(json_error(StatusCode::BAD_REQUEST, "invalid query").into()) };
    let number = |text: Option<&str>, default: u32, name: &str| match text {
        None | Some("") => Ok(default),
        Some(text) => text.parse::<u32>().ok().filter(|n| *n > 0).ok_or_else(|| {
            Failure::from(json_error(
                StatusCode::BAD_REQUEST,
                &format!("{name} must be a positive whole number, not {text:?}"),
            ))
        }),
    };
    let page = number(query.page.as_deref(), 1, "page")?;
    let limit = number(query.limit.as_deref(), DEFAULT_SEARCH_LIMIT, "limit")?.min(MAX_SEARCH_LIMIT);
    let offset = u64::from(page - 1) * u64::from(limit);
    if offset >= MAX_SEARCH_OFFSET {
        return Err(
            json_error(StatusCode::BAD_REQUEST, &format!("page × limit must stay under {MAX_SEARCH_OFFSET}")).into()
        );
    }
    let (users, last) = page_users(
        &guide,
        &caller,
        &query.q,
        limit as i32,
        usize::try_from(offset).unwrap_or(usize::MAX),
        limit as usize,
    )
    .await?;
    let mut response = Json(users).into_response();
    if let Some(last) = last {
        copy_request_id(&last, response.headers_mut());
    }
    Ok(response)
}

async fn create_user(State(guide): State<Guide>, caller: Caller, body: Bytes) -> Result<Response, Failure> {
    let input: UserInput = parse_body(&body)?;
    let user = pb::User {
        username: input.username.unwrap_or_default(),
        email: input.email.unwrap_or_default(),
        age: input.age.unwrap_or_default(),
        ..Default::default()
    };
    let (created, headers): (pb::User, _) =
        caller.call(&guide, &format!("{USERS}/CreateUser"), &pb::CreateUserRequest { user: Some(user) }).await?;
    Ok(with_request_id((StatusCode::CREATED, Json(GuideUser::from(created))).into_response(), &headers))
}

async fn get_user(State(guide): State<Guide>, caller: Caller, Path(id): Path<String>) -> Result<Response, Failure> {
    let id = parse_id(&id)?;
    let (user, headers): (pb::User, _) =
        caller.call(&guide, &format!("{USERS}/GetUser"), &pb::GetUserRequest { id }).await?;
    Ok(with_request_id(Json(GuideUser::from(user)).into_response(), &headers))
}

/// PUT changes the fields the body names (the guide's clients send them all).
async fn update_user(
    State(guide): State<Guide>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, Failure> {
    let id = parse_id(&id)?;
    let input: UserInput = parse_body(&body)?;
    let mut paths = Vec::new();
    let mut user = pb::User { id, ..Default::default() };
    if let Some(username) = input.username {
        user.username = username;
        paths.push("username".to_owned());
    }
    if let Some(email) = input.email {
        user.email = email;
        paths.push("email".to_owned());
    }
    if let Some(age) = input.age {
        user.age = age;
        paths.push("age".to_owned());
    }
    if paths.is_empty() {
        return Err(
            json_error(StatusCode::BAD_REQUEST, "the body names no field to change (username, email, age)").into()
        );
    }
    let request = pb::UpdateUserRequest { user: Some(user), update_mask: Some(prost_types::FieldMask { paths }) };
    let (updated, headers): (pb::User, _) = caller.call(&guide, &format!("{USERS}/UpdateUser"), &request).await?;
    Ok(with_request_id(Json(GuideUser::from(updated)).into_response(), &headers))
}

async fn delete_user(State(guide): State<Guide>, caller: Caller, Path(id): Path<String>) -> Result<Response, Failure> {
    let id = parse_id(&id)?;
    let ((), headers) =
        caller.call::<_, ()>(&guide, &format!("{USERS}/DeleteUser"), &pb::DeleteUserRequest { id }).await?;
    Ok(with_request_id(StatusCode::NO_CONTENT.into_response(), &headers))
}

// ---- payments ----

#[derive(Deserialize)]
struct PaymentInput {
    amount: Box<RawValue>,
    currency: String,
    #[serde(default)]
    customer_id: String,
    #[serde(default)]
    description: String,
}

#[derive(Deserialize)]
struct RefundInput {
    transaction_id: String,
    amount: Box<RawValue>,
    #[serde(default)]
    reason: String,
}

/// The guide's `PaymentResponse` (`transaction_id`, `status`, `amount`, `created_at`) and the
/// rest of what the payment says.
#[derive(Serialize)]
struct GuidePayment {
    transaction_id: String,
    status: &'static str,
    amount: Box<RawValue>,
    currency: String,
    customer_id: String,
    description: String,
    refunded_amount: Box<RawValue>,
    #[serde(skip_serializing_if = "String::is_empty")]
    failure_code: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    failure_message: String,
    created_at: String,
}

#[derive(Serialize)]
struct GuideRefund {
    refund_id: String,
    transaction_id: String,
    status: &'static str,
    amount: Box<RawValue>,
    currency: String,
    reason: String,
    refunded_at: String,
}

/// A decimal as a JSON number, written exactly.
fn decimal(minor: i64, currency: &str) -> Box<RawValue> {
    let exponent = crate::payments::currency::minor_unit_exponent(currency).unwrap_or(2);
    // Digits, a dot and a sign: always a valid JSON number.
    RawValue::from_string(money::to_decimal(minor, exponent)).unwrap_or_else(|_| RawValue::NULL.to_owned())
}

fn status_name(status: i32) -> &'static str {
    match pb::PaymentStatus::try_from(status).unwrap_or(pb::PaymentStatus::Unspecified) {
        pb::PaymentStatus::Succeeded => "succeeded",
        pb::PaymentStatus::Failed => "failed",
        pb::PaymentStatus::PartiallyRefunded => "partially_refunded",
        pb::PaymentStatus::Refunded => "refunded",
        pb::PaymentStatus::Unspecified => "unknown",
    }
}

impl From<pb::Payment> for GuidePayment {
    fn from(payment: pb::Payment) -> Self {
        Self {
            transaction_id: payment.id,
            status: status_name(payment.status),
            amount: decimal(payment.amount_minor, &payment.currency),
            refunded_amount: decimal(payment.refunded_minor, &payment.currency),
            currency: payment.currency,
            customer_id: payment.customer_id,
            description: payment.description,
            failure_code: payment.failure_code,
            failure_message: payment.failure_message,
            created_at: payment.create_time.map(|t| t.to_string()).unwrap_or_default(),
        }
    }
}

fn money_error(error: &MoneyError) -> Failure {
    json_error(StatusCode::BAD_REQUEST, &error.to_string()).into()
}

/// `amount` in minor units of `currency`.
fn minor_units(amount: &RawValue, currency: &str) -> Result<i64, Failure> {
    let exponent = crate::payments::currency::minor_unit_exponent(currency)
        .ok_or_else(|| money_error(&MoneyError::UnknownCurrency(currency.to_owned())))?;
    money::to_minor_units(amount.get(), currency, exponent).map_err(|e| money_error(&e))
}

async fn create_payment(State(guide): State<Guide>, caller: Caller, body: Bytes) -> Result<Response, Failure> {
    let input: PaymentInput = parse_body(&body)?;
    let amount_minor = minor_units(&input.amount, &input.currency)?;
    let request = pb::CreatePaymentRequest {
        amount_minor,
        currency: input.currency,
        customer_id: input.customer_id,
        description: input.description,
    };
    let (payment, headers): (pb::Payment, _) =
        caller.call(&guide, &format!("{PAYMENTS}/CreatePayment"), &request).await?;
    Ok(with_request_id((StatusCode::CREATED, Json(GuidePayment::from(payment))).into_response(), &headers))
}

async fn get_payment(State(guide): State<Guide>, caller: Caller, Path(id): Path<String>) -> Response {
    let path = format!("{PAYMENTS}/GetPayment");
    let request = pb::GetPaymentRequest { id: id.clone() };
    let result = in_process::unary::<_, pb::Payment>(
        &guide.grpc,
        &path,
        caller.metadata.clone(),
        &request,
        caller.local,
        caller.peer,
        guide.max_message_bytes,
    )
    .await;
    match result {
        Ok((payment, headers)) => with_request_id(Json(GuidePayment::from(payment)).into_response(), &headers),
        // The guide's contract: an id that names no payment is 404, however it is spelled.
        Err(status) if status.code() == Code::InvalidArgument => {
            let mut response = json_error(StatusCode::NOT_FOUND, &format!("payment not found: {id}"));
            copy_request_id(status.metadata().as_ref(), response.headers_mut());
            response
        }
        Err(status) => status_error(&status),
    }
}

/// The guide's refund client sends no `Idempotency-Key`; one sent is honoured (a retry is then
/// the same refund), and without one each request is a refund of its own, as in the guide.
async fn refund(State(guide): State<Guide>, caller: Caller, body: Bytes) -> Result<Response, Failure> {
    let mut caller = caller;
    let input: RefundInput = parse_body(&body)?;
    let (payment, _): (pb::Payment, _) = caller
        .call(&guide, &format!("{PAYMENTS}/GetPayment"), &pb::GetPaymentRequest { id: input.transaction_id.clone() })
        .await?;
    let amount_minor = minor_units(&input.amount, &payment.currency)?;
    let key = crate::payments::IDEMPOTENCY_KEY_HEADER;
    if !caller.metadata.contains_key(key) {
        let generated = format!("guide-refund-{}", uuid::Uuid::new_v4());
        if let Ok(value) = HeaderValue::from_str(&generated) {
            caller.metadata.insert(key, value);
        }
    }
    let request = pb::RefundPaymentRequest { payment_id: input.transaction_id, amount_minor, reason: input.reason };
    let (refund, headers): (pb::Refund, _) =
        caller.call(&guide, &format!("{PAYMENTS}/RefundPayment"), &request).await?;
    let body = GuideRefund {
        refund_id: refund.id,
        transaction_id: refund.payment_id,
        status: "succeeded",
        amount: decimal(refund.amount_minor, &refund.currency),
        currency: refund.currency,
        reason: refund.reason,
        refunded_at: refund.create_time.map(|t| t.to_string()).unwrap_or_default(),
    };
    Ok(with_request_id((StatusCode::CREATED, Json(body)).into_response(), &headers))
}

// ---- upload ----

/// The guide's multipart upload (form field `file`), streamed into `FileService/Upload` as it
/// arrives: never held whole, FileService's size limit and name rules (a name with a path in it
/// is refused, not written somewhere), and the guide's answer line.
async fn upload(State(guide): State<Guide>, caller: Caller, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let boundary = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| multer::parse_boundary(v).ok());
    let Some(boundary) = boundary else {
        return text_error(StatusCode::BAD_REQUEST, "Error parsing the form: not multipart/form-data");
    };
    let mut multipart = multer::Multipart::new(body.into_data_stream(), boundary);
    let mut others = 0;
    let mut field = loop {
        match multipart.next_field().await {
            Ok(Some(field)) if field.name() == Some("file") => break field,
            Ok(Some(mut other)) => {
                others += 1;
                let mut size = 0;
                while let Ok(Some(chunk)) = other.chunk().await {
                    size += chunk.len();
                    if size > MAX_OTHER_FIELD_BYTES || others > MAX_OTHER_FIELDS {
                        return text_error(
                            StatusCode::BAD_REQUEST,
                            "Error parsing the form: too many or too large fields",
                        );
                    }
                }
            }
            Ok(None) | Err(_) => return text_error(StatusCode::BAD_REQUEST, "Error retrieving file"),
        }
    };
    let Some(name) = field.file_name().map(str::to_owned) else {
        return text_error(StatusCode::BAD_REQUEST, "Error retrieving file");
    };
    let info_message = pb::UploadRequest {
        part: Some(pb::upload_request::Part::Info(pb::FileInfo {
            name: name.clone(),
            content_type: field.content_type().map(ToString::to_string).unwrap_or_default(),
            ..Default::default()
        })),
    };
    // The form is read here while the call consumes the messages: both in this task.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<hyper::body::Frame<Bytes>, Status>>(4);
    let most = crate::rest::upload_piece_bytes(guide.max_message_bytes);
    let pump = async move {
        use prost::Message as _;
        if tx.send(Ok(hyper::body::Frame::data(in_process::frame(&info_message.encode_to_vec())))).await.is_err() {
            return;
        }
        loop {
            match field.chunk().await {
                Ok(Some(mut data)) => {
                    while !data.is_empty() {
                        let piece = data.split_to(data.len().min(most));
                        let message = pb::UploadRequest { part: Some(pb::upload_request::Part::Chunk(piece)) };
                        if tx
                            .send(Ok(hyper::body::Frame::data(in_process::frame(&message.encode_to_vec()))))
                            .await
                            .is_err()
                        {
                            return;
                        }
                    }
                }
                Ok(None) => return,
                Err(error) => {
                    let _ = tx.send(Err(Status::cancelled(format!("the upload could not be read: {error}")))).await;
                    return;
                }
            }
        }
    };
    let frames = tokio_stream::wrappers::ReceiverStream::new(rx);
    let body = tonic::body::Body::new(http_body_util::StreamBody::new(frames.map(|frame| frame)));
    let call = async {
        let mut responses = in_process::start(
            &guide.grpc,
            "/switchboard.v1.FileService/Upload",
            caller.metadata.clone(),
            body,
            caller.local,
            caller.peer,
        )
        .await?;
        let stored = responses.only_message(guide.max_message_bytes).await?;
        Ok::<_, Status>((stored, responses.headers().clone()))
    };
    let ((), outcome) = tokio::join!(pump, call);
    match outcome {
        Ok((_, headers)) => with_request_id(
            ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], format!("File uploaded successfully: {name}\n"))
                .into_response(),
            &headers,
        ),
        Err(status) => {
            let mut response = text_error(http_status_of(&status), status.message());
            copy_request_id(status.metadata().as_ref(), response.headers_mut());
            // The form may not have been read to its end: this connection cannot carry another
            // request, so say so rather than let the client find out.
            response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
            response
        }
    }
}

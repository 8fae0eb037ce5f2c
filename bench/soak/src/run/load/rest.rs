//! REST/JSON clients (`/v1/...`, what curl sends) over HTTP/1.1 keep-alive connections:
//! KV, users, and payments — a create over REST is sent again over gRPC with the same
//! idempotency key now and then, and must name the same payment.

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};
use rand::Rng;
use serde_json::{Value, json};
use switchboard_soak::history::{Door, Failure, KvAction, KvReply, PaymentSeen, UserAction, UserReply};

use super::grpc;
use crate::run::{API_KEY, OP_TIMEOUT, SharedCtx};

pub type HttpClient = Client<HttpConnector, Full<Bytes>>;

pub fn http_client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

/// One request; the status and the JSON body (or the failure as the history records it).
pub async fn call(
    client: &HttpClient,
    base: &str,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> Result<(StatusCode, Value), Failure> {
    let mut request = Request::builder().method(method).uri(format!("{base}{path}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let body = match body {
        Some(body) => {
            request = request.header("content-type", "application/json");
            Full::new(Bytes::from(body.to_string()))
        }
        None => Full::new(Bytes::new()),
    };
    let request = request.body(body).map_err(|e| Failure::refused("bad request", e.to_string()))?;
    let exchange = async {
        let response = client.request(request).await.map_err(|e| Failure::unknown("connection lost", e.to_string()))?;
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| Failure::unknown("connection lost", e.to_string()))?
            .to_bytes();
        let value: Value =
            if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap_or(Value::Null) };
        Ok((status, value))
    };
    tokio::time::timeout(OP_TIMEOUT, exchange).await.unwrap_or_else(|_| Err(Failure::unknown("client timeout", "")))
}

/// An error status as a failure: 4xx say the request was refused (it did not run); 5xx may
/// have run.
pub fn status_failure(status: StatusCode, body: &Value) -> Failure {
    let message = body.get("message").and_then(Value::as_str).unwrap_or_default().to_owned();
    let label = format!("HTTP {}", status.as_u16());
    if status.is_client_error() { Failure::refused(label, message) } else { Failure::unknown(label, message) }
}

fn int(value: &Value, field: &str) -> Option<i64> {
    let field = value.get(field)?;
    field.as_i64().or_else(|| field.as_str()?.parse().ok())
}

fn text(value: &Value, field: &str) -> String {
    value.get(field).and_then(Value::as_str).unwrap_or_default().to_owned()
}

pub async fn kv(ctx: SharedCtx) {
    let id = ctx.client_id();
    let client = http_client();
    let base = format!("http://{}", ctx.doors.http);
    let mut n = 0u64;
    while !ctx.stopped() {
        let key = ctx.random_key().to_owned();
        let path = format!("/v1/kv/{key}");
        let roll = rand::rng().random_range(0..100);
        let invoke = ctx.now();
        let (action, outcome) = if roll < 50 {
            let outcome = match call(&client, &base, Method::GET, &path, &[], None).await {
                Ok((StatusCode::OK, body)) => Ok(KvReply::Value(Some(text(&body, "value")))),
                Ok((StatusCode::NOT_FOUND, _)) => Ok(KvReply::Value(None)),
                Ok((status, body)) => Err(status_failure(status, &body)),
                Err(failure) => Err(failure),
            };
            (KvAction::Get, outcome)
        } else if roll < 90 {
            n += 1;
            let value = format!("r{id}.{n}");
            let outcome = match call(&client, &base, Method::PUT, &path, &[], Some(json!({ "value": value }))).await {
                Ok((StatusCode::OK, body)) => {
                    Ok(KvReply::Set { replaced: body.get("replaced").and_then(Value::as_bool) })
                }
                Ok((status, body)) => Err(status_failure(status, &body)),
                Err(failure) => Err(failure),
            };
            (KvAction::Set { value }, outcome)
        } else {
            let outcome = match call(&client, &base, Method::DELETE, &path, &[], None).await {
                Ok((StatusCode::OK, _)) => Ok(KvReply::Deleted { existed: true }),
                Ok((StatusCode::NOT_FOUND, _)) => Ok(KvReply::Deleted { existed: false }),
                Ok((status, body)) => Err(status_failure(status, &body)),
                Err(failure) => Err(failure),
            };
            (KvAction::Delete, outcome)
        };
        let failed = ctx.record_kv(Door::Rest, id, key, action, invoke, outcome);
        ctx.pause(if failed { 100..300 } else { 2..12 }).await;
    }
}

fn user_reply(status: StatusCode, body: &Value) -> Result<UserReply, Failure> {
    match status {
        StatusCode::OK => Ok(UserReply::User { id: int(body, "id").unwrap_or(0), username: text(body, "username") }),
        StatusCode::NOT_FOUND => Ok(UserReply::NotFound),
        status => Err(status_failure(status, body)),
    }
}

pub async fn users(ctx: SharedCtx) {
    let id = ctx.client_id();
    let client = http_client();
    let base = format!("http://{}", ctx.doors.http);
    let mut n = 0u64;
    while !ctx.stopped() {
        n += 1;
        let target = grpc::pick_user(&ctx);
        let roll = rand::rng().random_range(0..100);
        let invoke = ctx.now();
        let (user, action, outcome) = match target {
            Some(user) if roll >= 30 => {
                let path = format!("/v1/users/{user}");
                if roll < 60 {
                    let outcome =
                        call(&client, &base, Method::GET, &path, &[], None).await.and_then(|(s, b)| user_reply(s, &b));
                    (Some(user), UserAction::Get, outcome)
                } else if roll < 88 {
                    let username = format!("h{id}r{n}");
                    let body = json!({ "username": username });
                    let outcome = call(&client, &base, Method::PATCH, &path, &[], Some(body))
                        .await
                        .and_then(|(s, b)| user_reply(s, &b));
                    (Some(user), UserAction::Update { username }, outcome)
                } else {
                    let outcome = match call(&client, &base, Method::DELETE, &path, &[], None).await {
                        Ok((StatusCode::OK, _)) => Ok(UserReply::Deleted),
                        Ok((StatusCode::NOT_FOUND, _)) => Ok(UserReply::NotFound),
                        Ok((status, body)) => Err(status_failure(status, &body)),
                        Err(failure) => Err(failure),
                    };
                    (Some(user), UserAction::Delete, outcome)
                }
            }
            _ => {
                let (username, email) = grpc::new_user_names(&ctx, "h", id, n);
                let body = json!({ "username": username, "email": email, "age": 30 });
                let outcome = call(&client, &base, Method::POST, "/v1/users", &[], Some(body))
                    .await
                    .and_then(|(s, b)| user_reply(s, &b));
                (None, UserAction::Create { username, email }, outcome)
            }
        };
        grpc::record_user(&ctx, Door::Rest, id, user, action, invoke, outcome).await;
    }
}

pub async fn payments(ctx: SharedCtx) {
    let id = ctx.client_id();
    let client = http_client();
    let base = format!("http://{}", ctx.doors.http);
    let again = grpc::client(&ctx, true);
    let mut n = 0u64;
    while !ctx.stopped() {
        n += 1;
        let key = format!("{}-h{id}-{n}", ctx.tag);
        let amount_minor = rand::rng().random_range(100..10_000);
        let request = grpc::payment_request(&key, amount_minor, id);
        let body = json!({
            "amount_minor": request.amount_minor,
            "currency": request.currency,
            "customer_id": request.customer_id,
            "description": request.description,
        });
        let headers = [("x-api-key", API_KEY), ("idempotency-key", key.as_str())];
        let invoke = ctx.now();
        let outcome = match call(&client, &base, Method::POST, "/v1/payments", &headers, Some(body)).await {
            Ok((StatusCode::OK, body)) => Ok(PaymentSeen {
                id: text(&body, "id"),
                amount_minor: int(&body, "amount_minor").unwrap_or(-1),
                refunded_minor: int(&body, "refunded_minor").unwrap_or(-1),
                status: text(&body, "status"),
            }),
            Ok((status, body)) => Err(status_failure(status, &body)),
            Err(failure) => Err(failure),
        };
        grpc::remember_payment(&ctx, &outcome);
        let failed = outcome.is_err();
        let ret = ctx.now();
        ctx.record().payments.push(switchboard_soak::history::PaymentCreate {
            door: Door::Rest,
            client: id,
            key: key.clone(),
            amount_minor,
            invoke,
            ret,
            outcome,
            recovery: false,
        });
        // The same create through another door: one payment, whichever door asks.
        if rand::rng().random_range(0..100) < 40 {
            grpc::create_payment(&ctx, &again, Door::Grpc, id, &key, amount_minor, false).await;
        }
        ctx.pause(if failed { 100..300 } else { 20..60 }).await;
    }
}

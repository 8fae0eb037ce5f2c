//! gRPC clients through the `switchboard-client` library: KV, users and payments.
//!
//! KV writes go through a client with retries off: the library retries `kv_set` when the
//! outcome is unknown ("the same end state"), but with another writer in between a retried
//! set can land twice (v, w, v), which no single operation could do. Payments use the
//! library as an application would, retries and idempotency keys included: that is what
//! "one payment per key" is about.

use std::time::Duration;

use rand::Rng;
use switchboard_client::{Client, Error, RetryPolicy, pb};
use switchboard_soak::history::{
    Door, KvAction, KvReply, PaymentCreate, PaymentSeen, RefundOp, UserAction, UserOp, UserReply,
};

use crate::run::{API_KEY, OP_TIMEOUT, SharedCtx, client_failure, lock};

pub fn client(ctx: &SharedCtx, retries: bool) -> Client {
    let mut builder = Client::builder(format!("http://{}", ctx.doors.grpc))
        .api_key(API_KEY)
        .timeout(OP_TIMEOUT)
        .connect_timeout(Duration::from_secs(1));
    if !retries {
        builder = builder.retry_policy(RetryPolicy::never());
    }
    // The address is a loopback socket address: building cannot fail.
    builder.build().unwrap_or_else(|e| panic!("a client of {}: {e}", ctx.doors.grpc))
}

pub async fn kv(ctx: SharedCtx) {
    let id = ctx.client_id();
    let reads = client(&ctx, true);
    let writes = client(&ctx, false);
    let mut n = 0u64;
    while !ctx.stopped() {
        let key = ctx.random_key().to_owned();
        let roll = rand::rng().random_range(0..100);
        let invoke = ctx.now();
        let (action, outcome) = if roll < 50 {
            let outcome = match reads.kv_get(&key).await {
                Ok(value) => Ok(KvReply::Value(Some(value))),
                Err(Error::NotFound { .. }) => Ok(KvReply::Value(None)),
                Err(e) => Err(client_failure(&e)),
            };
            (KvAction::Get, outcome)
        } else if roll < 90 {
            n += 1;
            let value = format!("g{id}.{n}");
            let outcome = writes.kv_set(&key, &value).await.map(|replaced| KvReply::Set { replaced: Some(replaced) });
            (KvAction::Set { value }, outcome.map_err(|e| client_failure(&e)))
        } else {
            let outcome = match writes.kv_delete(&key).await {
                Ok(()) => Ok(KvReply::Deleted { existed: true }),
                Err(Error::NotFound { .. }) => Ok(KvReply::Deleted { existed: false }),
                Err(e) => Err(client_failure(&e)),
            };
            (KvAction::Delete, outcome)
        };
        let failed = ctx.record_kv(Door::Grpc, id, key, action, invoke, outcome);
        ctx.pause(if failed { 100..300 } else { 2..12 }).await;
    }
}

/// Users over gRPC; `user_op` is shared with the REST and binary doors' shapes.
pub async fn users(ctx: SharedCtx) {
    let id = ctx.client_id();
    let client = client(&ctx, true);
    let mut n = 0u64;
    while !ctx.stopped() {
        let target = pick_user(&ctx);
        let roll = rand::rng().random_range(0..100);
        n += 1;
        let invoke = ctx.now();
        let (user, action, outcome) = match target {
            Some(user) if roll >= 30 => {
                if roll < 60 {
                    let outcome = match client.get_user(user).await {
                        Ok(found) => Ok(UserReply::User { id: found.id, username: found.username }),
                        Err(Error::NotFound { .. }) => Ok(UserReply::NotFound),
                        Err(e) => Err(client_failure(&e)),
                    };
                    (Some(user), UserAction::Get, outcome)
                } else if roll < 88 {
                    let username = format!("g{id}r{n}");
                    let change = pb::User { id: user, username: username.clone(), ..Default::default() };
                    let outcome = match client.update_user(change, &["username"]).await {
                        Ok(updated) => Ok(UserReply::User { id: updated.id, username: updated.username }),
                        Err(Error::NotFound { .. }) => Ok(UserReply::NotFound),
                        Err(e) => Err(client_failure(&e)),
                    };
                    (Some(user), UserAction::Update { username }, outcome)
                } else {
                    let outcome = match client.delete_user(user).await {
                        Ok(()) => Ok(UserReply::Deleted),
                        Err(Error::NotFound { .. }) => Ok(UserReply::NotFound),
                        Err(e) => Err(client_failure(&e)),
                    };
                    (Some(user), UserAction::Delete, outcome)
                }
            }
            _ => {
                let (username, email) = new_user_names(&ctx, "g", id, n);
                let outcome = client
                    .create_user(&username, &email, 30)
                    .await
                    .map(|user| UserReply::User { id: user.id, username: user.username })
                    .map_err(|e| client_failure(&e));
                (None, UserAction::Create { username, email }, outcome)
            }
        };
        record_user(&ctx, Door::Grpc, id, user, action, invoke, outcome).await;
    }
}

/// A user to work on, from those any door has created.
pub fn pick_user(ctx: &SharedCtx) -> Option<i64> {
    let users = lock(&ctx.users);
    (!users.is_empty()).then(|| users[rand::rng().random_range(0..users.len())])
}

/// A unique username and e-mail for a create.
pub fn new_user_names(ctx: &SharedCtx, door: &str, client: u32, n: u64) -> (String, String) {
    (format!("{door}{client}c{n}"), format!("{door}{client}c{n}.{}@soak.test", ctx.tag))
}

/// Records a user operation and keeps the shared pool of users up to date; then paces.
pub async fn record_user(
    ctx: &SharedCtx,
    door: Door,
    client: u32,
    user: Option<i64>,
    action: UserAction,
    invoke: u64,
    outcome: Result<UserReply, switchboard_soak::history::Failure>,
) {
    let ret = ctx.now();
    match (&action, &outcome) {
        (UserAction::Create { .. }, Ok(UserReply::User { id, .. })) => lock(&ctx.users).push(*id),
        (UserAction::Delete, Ok(UserReply::Deleted | UserReply::NotFound)) => {
            if let Some(user) = user {
                lock(&ctx.users).retain(|u| *u != user);
            }
        }
        _ => {}
    }
    let failed = outcome.is_err();
    ctx.record().users.push(UserOp { door, client, id: user, action, invoke, ret, outcome, final_read: false });
    ctx.pause(if failed { 100..300 } else { 5..25 }).await;
}

pub fn payment_seen(payment: &pb::Payment) -> PaymentSeen {
    PaymentSeen {
        id: payment.id.clone(),
        amount_minor: payment.amount_minor,
        refunded_minor: payment.refunded_minor,
        status: payment.status().as_str_name().to_owned(),
    }
}

/// What a create under `key` asks for; the same every time the key is sent.
pub fn payment_request(key: &str, amount_minor: i64, client: u32) -> pb::CreatePaymentRequest {
    pb::CreatePaymentRequest {
        amount_minor,
        currency: "USD".into(),
        customer_id: format!("cust_soak{client}"),
        description: key.to_owned(),
    }
}

pub async fn payments(ctx: SharedCtx) {
    let id = ctx.client_id();
    let client = client(&ctx, true);
    let mut n = 0u64;
    while !ctx.stopped() {
        n += 1;
        let refundable = {
            let payments = lock(&ctx.payments);
            (!payments.is_empty()).then(|| payments[rand::rng().random_range(0..payments.len())].clone())
        };
        let failed = match refundable {
            Some((payment_id, amount)) if rand::rng().random_range(0..100) < 35 => {
                let key = format!("{}-r{id}-{n}", ctx.tag);
                let amount_minor = rand::rng().random_range(1..=(amount / 3).max(1));
                let request =
                    pb::RefundPaymentRequest { payment_id: payment_id.clone(), amount_minor, reason: "soak".into() };
                let invoke = ctx.now();
                let outcome =
                    client.refund_payment(request, Some(&key)).await.map_err(|e| client_failure(&e)).and_then(
                        |refund| {
                            refund.payment.as_ref().map(payment_seen).ok_or_else(|| {
                                switchboard_soak::history::Failure::refused(
                                    "no payment",
                                    "the refund's answer has no payment",
                                )
                            })
                        },
                    );
                let failed = outcome.is_err();
                let ret = ctx.now();
                ctx.record().refunds.push(RefundOp {
                    door: Door::Grpc,
                    client: id,
                    key,
                    payment_id,
                    amount_minor,
                    invoke,
                    ret,
                    outcome,
                });
                failed
            }
            _ => {
                let key = format!("{}-p{id}-{n}", ctx.tag);
                let amount = rand::rng().random_range(100..10_000);
                create_payment(&ctx, &client, Door::Grpc, id, &key, amount, false).await
            }
        };
        ctx.pause(if failed { 100..300 } else { 10..40 }).await;
    }
}

/// One logical create through the library (which retries with the same key); recorded.
/// Returns whether it failed.
pub async fn create_payment(
    ctx: &SharedCtx,
    client: &Client,
    door: Door,
    id: u32,
    key: &str,
    amount_minor: i64,
    recovery: bool,
) -> bool {
    let invoke = ctx.now();
    let outcome = client.create_payment(payment_request(key, amount_minor, id), Some(key)).await;
    let outcome = outcome.as_ref().map(payment_seen).map_err(client_failure);
    remember_payment(ctx, &outcome);
    let failed = outcome.is_err();
    let ret = ctx.now();
    ctx.record().payments.push(PaymentCreate {
        door,
        client: id,
        key: key.to_owned(),
        amount_minor,
        invoke,
        ret,
        outcome,
        recovery,
    });
    failed
}

/// A payment that succeeded can be refunded by anyone.
pub fn remember_payment(ctx: &SharedCtx, outcome: &Result<PaymentSeen, switchboard_soak::history::Failure>) {
    if let Ok(seen) = outcome
        && seen.status == "SUCCEEDED"
    {
        let mut payments = lock(&ctx.payments);
        if !payments.iter().any(|(id, _)| *id == seen.id) {
            payments.push((seen.id.clone(), seen.amount_minor));
        }
    }
}

//! After the last recovery: read back everything the checkers hold the history to — every
//! key, every user, every payment — and send again every payment create whose answer never
//! came, with its own idempotency key.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use switchboard_client::{Client, Error, pb};
use switchboard_soak::history::{
    Door, KvAction, KvOp, KvReply, PaymentFinal, UserAction, UserFinal, UserOp, UserReply,
};

use super::{SharedCtx, client_failure, load::grpc};

/// Retries `call` until it answers (a definite answer, NOT_FOUND included) or 60 s pass.
async fn settled<T, F, Fut>(what: &str, mut call: F) -> anyhow::Result<Result<T, Error>>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, Error>>,
{
    let started = Instant::now();
    loop {
        match call().await {
            Err(error) if !client_failure(&error).definite => {
                if started.elapsed() > Duration::from_secs(60) {
                    bail!("{what}: no answer within 60 s after the last recovery: {error}");
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            answer => return Ok(answer),
        }
    }
}

pub async fn final_reads(ctx: &SharedCtx) -> anyhow::Result<()> {
    let client = grpc::client(ctx, true);
    for key in &ctx.keys {
        let invoke = ctx.now();
        let answer = settled(&format!("reading {key}"), || client.kv_get(key)).await?;
        let outcome = match answer {
            Ok(value) => Ok(KvReply::Value(Some(value))),
            Err(Error::NotFound { .. }) => Ok(KvReply::Value(None)),
            Err(error) => bail!("reading {key} after the last recovery: {error}"),
        };
        let ret = ctx.now();
        ctx.record().kv.push(KvOp {
            door: Door::Grpc,
            client: 0,
            key: key.clone(),
            action: KvAction::Get,
            invoke,
            ret,
            outcome,
            final_read: true,
        });
    }

    // Users: one listing; every user any operation named is read from it.
    let invoke = ctx.now();
    let users = list_users(&client).await?;
    let ret = ctx.now();
    let ours: Vec<UserFinal> = users
        .into_iter()
        .filter(|u| u.email.ends_with(&format!(".{}@soak.test", ctx.tag)))
        .map(|u| UserFinal { id: u.id, username: u.username, email: u.email })
        .collect();
    let mut ids: BTreeSet<i64> = ours.iter().map(|u| u.id).collect();
    {
        let history = ctx.record();
        for op in &history.users {
            if let Some(id) = op.id {
                ids.insert(id);
            }
            if let (UserAction::Create { .. }, Ok(UserReply::User { id, .. })) = (&op.action, &op.outcome) {
                ids.insert(*id);
            }
        }
    }
    let by_id: HashMap<i64, &UserFinal> = ours.iter().map(|u| (u.id, u)).collect();
    let reads: Vec<UserOp> = ids
        .into_iter()
        .map(|id| UserOp {
            door: Door::Grpc,
            client: 0,
            id: Some(id),
            action: UserAction::Get,
            invoke,
            ret,
            outcome: Ok(by_id
                .get(&id)
                .map_or(UserReply::NotFound, |u| UserReply::User { id, username: u.username.clone() })),
            final_read: true,
        })
        .collect();
    {
        let mut history = ctx.record();
        history.users.extend(reads);
        history.users_final = ours;
    }

    // Payments: listed; failed creates sent again with their keys; listed again.
    let before = list_payments(&client, &ctx.tag).await?;
    ctx.record().payments_before_recovery = before;
    let unanswered: BTreeMap<String, (i64, u32)> = {
        let history = ctx.record();
        let mut by_key: BTreeMap<String, (bool, i64, u32)> = BTreeMap::new();
        for create in &history.payments {
            let entry = by_key.entry(create.key.clone()).or_insert((false, create.amount_minor, create.client));
            entry.0 |= create.outcome.is_ok();
        }
        by_key
            .into_iter()
            .filter(|(_, (answered, _, _))| !answered)
            .map(|(key, (_, amount, client))| (key, (amount, client)))
            .collect()
    };
    for (key, (amount, client_id)) in unanswered {
        let mut attempts = 0;
        while grpc::create_payment(ctx, &client, Door::Grpc, client_id, &key, amount, true).await {
            attempts += 1;
            if attempts >= 20 {
                bail!("payment {key}: sending it again after the last recovery failed 20 times");
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
    let after = list_payments(&client, &ctx.tag).await?;
    ctx.record().payments_final = after;
    Ok(())
}

async fn list_users(client: &Client) -> anyhow::Result<Vec<pb::User>> {
    let mut users = Vec::new();
    let mut page_token = String::new();
    loop {
        let request = pb::ListUsersRequest { page_size: 1000, page_token: page_token.clone(), query: String::new() };
        let page = settled("listing users", || client.list_users(request.clone())).await?.context("listing users")?;
        users.extend(page.users);
        if page.next_page_token.is_empty() {
            return Ok(users);
        }
        page_token = page.next_page_token;
    }
}

/// This run's payments (their descriptions carry this run's idempotency keys).
async fn list_payments(client: &Client, tag: &str) -> anyhow::Result<Vec<PaymentFinal>> {
    let mut payments = Vec::new();
    let mut page_token = String::new();
    loop {
        let request =
            pb::ListPaymentsRequest { page_size: 1000, page_token: page_token.clone(), customer_id: String::new() };
        let page =
            settled("listing payments", || client.list_payments(request.clone())).await?.context("listing payments")?;
        payments.extend(page.payments.into_iter().filter(|p| p.description.starts_with(&format!("{tag}-"))).map(|p| {
            PaymentFinal {
                status: p.status().as_str_name().to_owned(),
                id: p.id,
                description: p.description,
                amount_minor: p.amount_minor,
                refunded_minor: p.refunded_minor,
            }
        }));
        if page.next_page_token.is_empty() {
            return Ok(payments);
        }
        page_token = page.next_page_token;
    }
}

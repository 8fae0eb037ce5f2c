//! The legacy line echo: every line must come back exactly as sent.

use rand::Rng;
use switchboard_soak::history::{Door, Service, SimpleOp};

use super::legacy_kv::LineConnection;
use crate::run::SharedCtx;

pub async fn run(ctx: SharedCtx) {
    let mut connection: Option<LineConnection> = None;
    let mut n = 0u64;
    while !ctx.stopped() {
        let conn = match connection.as_mut() {
            Some(conn) => conn,
            None => match LineConnection::connect(ctx.doors.legacy_echo).await {
                Ok(conn) => connection.insert(conn),
                Err(_) => {
                    ctx.pause(100..300).await;
                    continue;
                }
            },
        };
        n += 1;
        let line = format!("echo {n} {}", "x".repeat(rand::rng().random_range(0..200)));
        let invoke = ctx.now();
        let answer = match conn.send(format!("{line}\n").as_bytes()).await {
            Ok(()) => conn.line().await,
            Err(failure) => Err(failure),
        };
        let ret = ctx.now();
        let (outcome, wrong) = match answer {
            // The drain says goodbye on this port too; that is not an echo.
            Ok(reply) if reply == "Goodbye!" => (
                Err(switchboard_soak::history::Failure::unknown(
                    "connection lost",
                    "Goodbye! (the server is draining)",
                )),
                None,
            ),
            Ok(reply) => {
                let wrong = (reply != line).then(|| format!("sent {line:?}, got {reply:?}"));
                (Ok(()), wrong)
            }
            Err(failure) => (Err(failure), None),
        };
        let failed = outcome.is_err() || wrong.is_some();
        ctx.record().simple.push(SimpleOp {
            door: Door::LegacyEcho,
            service: Service::Echo,
            invoke,
            ret,
            outcome,
            wrong,
        });
        if failed {
            connection = None;
            ctx.pause(100..300).await;
        } else {
            ctx.pause(5..20).await;
        }
    }
}

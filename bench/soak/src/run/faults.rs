//! The fault injector: during the fault phase it applies one fault after another, each
//! kind in turn (in a shuffled order, every kind at least once when there is time), heals
//! it, lets the system settle briefly, and records when each fault began and was healed.

use std::{sync::atomic::Ordering, time::Duration};

use rand::{Rng, seq::SliceRandom};
use switchboard_soak::history::{Fault, FaultKind, Micros};

use super::{Ctx, fleet::Fleet, lock};

/// The kinds of fault each backend gets.
pub fn kinds(scale_out: bool, disk_full: bool) -> Vec<FaultKind> {
    let mut kinds =
        vec![FaultKind::Kill, FaultKind::Term, FaultKind::ProxyCut, FaultKind::ProxyDelay, FaultKind::ProxyHalfClose];
    if disk_full {
        kinds.push(FaultKind::DiskFull);
    }
    if scale_out {
        kinds.extend([FaultKind::PostgresCut, FaultKind::NatsCut]);
    }
    kinds
}

/// Injects faults until `until` (the run's clock). Bounded: each fault takes at most a few
/// seconds plus a server start.
pub async fn inject(ctx: &Ctx, fleet: &Fleet, kinds: &[FaultKind], until: Micros) -> anyhow::Result<()> {
    let mut round: Vec<FaultKind> = Vec::new();
    // Each fault and the quiet after it get an equal share of the phase (within bounds), so
    // a short run still sees every kind once and a long one sees each many times.
    let phase = until.saturating_sub(ctx.now());
    let share =
        Duration::from_micros(phase / kinds.len().max(1) as u64).clamp(Duration::from_secs(2), Duration::from_secs(5));
    // Rounds of every kind in a shuffled order. The first round always completes, even past
    // `until`, so a short run still sees every kind once; later ones stop at `until`.
    let mut rounds = 0;
    loop {
        let time_left = ctx.now() + 1_000_000 < until;
        if round.is_empty() {
            if rounds > 0 && !time_left {
                break;
            }
            round = kinds.to_vec();
            round.shuffle(&mut rand::rng());
            rounds += 1;
        } else if rounds > 1 && !time_left {
            break;
        }
        let kind = round.pop().unwrap_or(FaultKind::Kill);
        let hold = share.mul_f64(0.45);
        let start = ctx.now();
        let detail = apply(fleet, kind, hold).await?;
        let end = ctx.now();
        ctx.record().faults.push(Fault { kind, start, end, detail });
        // Settle: the quiet between faults, shortened if the phase is ending.
        let quiet = share.saturating_sub(Duration::from_micros(end - start)).max(Duration::from_millis(500));
        let left = Duration::from_micros(until.saturating_sub(ctx.now()));
        tokio::time::sleep(quiet.min(left).max(Duration::from_millis(500))).await;
    }
    Ok(())
}

/// Applies one fault, holds it for about `hold`, heals it; says what it did.
async fn apply(fleet: &Fleet, kind: FaultKind, hold: Duration) -> anyhow::Result<String> {
    let jitter = |d: Duration| d.mul_f64(rand::rng().random_range(0.7..1.3));
    Ok(match kind {
        FaultKind::Kill => {
            let end = fleet.kill().await;
            tokio::time::sleep(jitter(Duration::from_millis(300))).await;
            fleet.start_server().await?;
            end
        }
        FaultKind::Term => {
            let end = fleet.terminate().await;
            fleet.start_server().await?;
            end
        }
        FaultKind::ProxyCut => {
            let before: u64 = fleet.client_proxies().iter().map(|p| p.stats.cut.load(Ordering::Relaxed)).sum();
            for proxy in fleet.client_proxies() {
                proxy.cut();
            }
            tokio::time::sleep(jitter(hold.min(Duration::from_millis(1500)))).await;
            for proxy in fleet.client_proxies() {
                proxy.reopen();
            }
            let after: u64 = fleet.client_proxies().iter().map(|p| p.stats.cut.load(Ordering::Relaxed)).sum();
            format!("{} connections reset", after - before)
        }
        FaultKind::ProxyDelay => {
            let delay = Duration::from_millis(rand::rng().random_range(150..700));
            for proxy in fleet.client_proxies() {
                proxy.set_delay(delay);
            }
            tokio::time::sleep(jitter(hold)).await;
            for proxy in fleet.client_proxies() {
                proxy.set_delay(Duration::ZERO);
            }
            format!("{} ms per chunk", delay.as_millis())
        }
        FaultKind::ProxyHalfClose => {
            let before: u64 = fleet.client_proxies().iter().map(|p| p.stats.half_closed.load(Ordering::Relaxed)).sum();
            for proxy in fleet.client_proxies() {
                proxy.half_close();
            }
            tokio::time::sleep(Duration::from_millis(2500)).await;
            let after: u64 = fleet.client_proxies().iter().map(|p| p.stats.half_closed.load(Ordering::Relaxed)).sum();
            format!("{} connections half-closed", after - before)
        }
        FaultKind::DiskFull => {
            let Some(disk) = &fleet.disk else { return Ok("no filesystem to fill".into()) };
            let errors_before = lock(&fleet.logs).disk_full_lines;
            let data = disk.used_bytes().unwrap_or(0);
            let filled = disk.fill().await?;
            tokio::time::sleep(jitter(hold.max(Duration::from_secs(2)))).await;
            disk.free().await?;
            let errors = lock(&fleet.logs).disk_full_lines - errors_before;
            format!(
                "{} KiB of data, {} KiB of filler filled the {} MiB tmpfs; the server logged \"disk is full\" {errors} times",
                data / 1024,
                filled / 1024,
                disk.size_mib
            )
        }
        FaultKind::PostgresCut | FaultKind::NatsCut => {
            let proxy = if kind == FaultKind::PostgresCut { &fleet.postgres } else { &fleet.nats };
            let Some(proxy) = proxy else { return Ok("no engine proxy".into()) };
            let before = proxy.stats.cut.load(Ordering::Relaxed);
            proxy.cut();
            tokio::time::sleep(jitter(hold.max(Duration::from_secs(2)))).await;
            proxy.reopen();
            format!("{} engine connections reset", proxy.stats.cut.load(Ordering::Relaxed) - before)
        }
    })
}

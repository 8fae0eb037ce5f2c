//! Payments: exactly one payment per idempotency key (the soak writes the key into the
//! description, so a listing shows which key made which payment); every acknowledged create
//! is there after the last recovery, with the amount asked for; a create that failed or timed
//! out is either absent or the one payment its key names when sent again; refunds never add
//! up to more than the amount, and every acknowledged refund is counted.

use std::collections::{BTreeMap, HashMap};

use super::{Findings, secs};
use crate::history::{Door, History, PaymentCreate, PaymentFinal, Service};

pub fn check(history: &History, findings: &mut Findings) {
    for create in history.payments.iter().filter(|c| !c.recovery) {
        let tally = findings.tally(create.door, Service::Payments);
        tally.attempted += 1;
        if create.outcome.is_ok() {
            tally.acknowledged += 1;
        }
    }
    for refund in &history.refunds {
        let tally = findings.tally(refund.door, Service::Payments);
        tally.attempted += 1;
        if refund.outcome.is_ok() {
            tally.acknowledged += 1;
        }
    }

    let mut creates: BTreeMap<&str, Vec<&PaymentCreate>> = BTreeMap::new();
    for create in &history.payments {
        creates.entry(create.key.as_str()).or_default().push(create);
    }
    let listed = group(&history.payments_final);
    let listed_before = group(&history.payments_before_recovery);

    for (key, attempts) in &creates {
        let door = attempts[0].door;
        let in_listing = listed.get(key).cloned().unwrap_or_default();
        if in_listing.len() > 1 {
            findings.tally(door, Service::Payments).duplicated += in_listing.len() as u64 - 1;
            let ids: Vec<&str> = in_listing.iter().map(|p| p.id.as_str()).collect();
            findings.violation("payments: charged twice", Some(door), Service::Payments, format!("key {key}: {ids:?}"));
        }
        let answered: Vec<&str> =
            attempts.iter().filter_map(|c| c.outcome.as_ref().ok()).map(|p| p.id.as_str()).collect();
        if let Some(first) = answered.first()
            && answered.iter().any(|id| id != first)
        {
            findings.tally(door, Service::Payments).duplicated += 1;
            findings.violation(
                "payments: one key, two payments",
                Some(door),
                Service::Payments,
                format!("key {key} was answered with {answered:?}"),
            );
        }
        for attempt in attempts {
            if let Ok(seen) = &attempt.outcome {
                if seen.amount_minor != attempt.amount_minor {
                    findings.violation(
                        "payments: wrong amount",
                        Some(attempt.door),
                        Service::Payments,
                        format!("key {key}: asked {} and was answered {}", attempt.amount_minor, seen.amount_minor),
                    );
                }
                if !attempt.recovery && !in_listing.iter().any(|p| p.id == seen.id) {
                    findings.tally(attempt.door, Service::Payments).lost += 1;
                    findings.violation(
                        "payments: acknowledged payment lost",
                        Some(attempt.door),
                        Service::Payments,
                        format!(
                            "key {key}: {} acknowledged at {} is not in the listing after the last recovery",
                            seen.id,
                            secs(attempt.ret)
                        ),
                    );
                }
            }
        }
        for payment in &in_listing {
            if let Some(asked) = attempts.first().map(|c| c.amount_minor)
                && payment.amount_minor != asked
            {
                findings.violation(
                    "payments: wrong amount",
                    Some(door),
                    Service::Payments,
                    format!("key {key}: asked {asked}, the listing has {}", payment.amount_minor),
                );
            }
        }
        // A create that failed: absent before it was sent again, or the very payment that
        // sending it again names.
        let resent: Vec<&str> = attempts
            .iter()
            .filter(|c| c.recovery)
            .filter_map(|c| c.outcome.as_ref().ok())
            .map(|p| p.id.as_str())
            .collect();
        if let Some(resent) = resent.first() {
            for before in listed_before.get(key).cloned().unwrap_or_default() {
                if before.id != *resent {
                    findings.tally(door, Service::Payments).duplicated += 1;
                    findings.violation(
                        "payments: failed create became another payment",
                        Some(door),
                        Service::Payments,
                        format!(
                            "key {key}: {} existed after the failure, sending it again answered {resent}",
                            before.id
                        ),
                    );
                }
            }
        }
    }
    for (key, payments) in &listed {
        if !creates.contains_key(key) {
            findings.violation(
                "payments: payment nobody asked for",
                None,
                Service::Payments,
                format!("{} payment(s) under key {key:?}", payments.len()),
            );
        }
    }

    check_refunds(history, findings);
}

fn group(list: &[PaymentFinal]) -> HashMap<&str, Vec<&PaymentFinal>> {
    let mut by_key: HashMap<&str, Vec<&PaymentFinal>> = HashMap::new();
    for payment in list {
        by_key.entry(payment.description.as_str()).or_default().push(payment);
    }
    by_key
}

fn check_refunds(history: &History, findings: &mut Findings) {
    #[derive(Default)]
    struct Sums {
        acknowledged: i64,
        possible: i64,
        door: Option<Door>,
    }
    let mut per_payment: BTreeMap<&str, Sums> = BTreeMap::new();
    for refund in &history.refunds {
        let sums = per_payment.entry(refund.payment_id.as_str()).or_default();
        sums.door.get_or_insert(refund.door);
        match &refund.outcome {
            Ok(seen) => {
                sums.acknowledged += refund.amount_minor;
                sums.possible += refund.amount_minor;
                if seen.refunded_minor > seen.amount_minor {
                    findings.violation(
                        "payments: refunded above the amount",
                        Some(refund.door),
                        Service::Payments,
                        format!(
                            "{}: refund answered {} refunded of {}",
                            refund.payment_id, seen.refunded_minor, seen.amount_minor
                        ),
                    );
                }
            }
            Err(failure) if !failure.definite => sums.possible += refund.amount_minor,
            Err(_) => {}
        }
    }
    let listed: HashMap<&str, &PaymentFinal> = history.payments_final.iter().map(|p| (p.id.as_str(), p)).collect();
    for (id, sums) in per_payment {
        let door = sums.door.unwrap_or(Door::Grpc);
        let Some(payment) = listed.get(id) else { continue };
        if payment.refunded_minor > payment.amount_minor || sums.acknowledged > payment.amount_minor {
            findings.violation(
                "payments: refunded above the amount",
                Some(door),
                Service::Payments,
                format!(
                    "{id}: amount {}, refunded {}, acknowledged refunds {}",
                    payment.amount_minor, payment.refunded_minor, sums.acknowledged
                ),
            );
        }
        if payment.refunded_minor < sums.acknowledged {
            findings.tally(door, Service::Payments).lost += 1;
            findings.violation(
                "payments: acknowledged refund lost",
                Some(door),
                Service::Payments,
                format!(
                    "{id}: acknowledged refunds add up to {}, the payment shows {}",
                    sums.acknowledged, payment.refunded_minor
                ),
            );
        }
        if payment.refunded_minor > sums.possible {
            findings.tally(door, Service::Payments).duplicated += 1;
            findings.violation(
                "payments: refund applied twice",
                Some(door),
                Service::Payments,
                format!(
                    "{id}: shows {} refunded, all refunds sent add up to {}",
                    payment.refunded_minor, sums.possible
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Failure, PaymentSeen, RefundOp};

    fn seen(id: &str, amount: i64, refunded: i64) -> PaymentSeen {
        PaymentSeen { id: id.into(), amount_minor: amount, refunded_minor: refunded, status: "SUCCEEDED".into() }
    }

    fn create(key: &str, outcome: Result<PaymentSeen, Failure>, recovery: bool) -> PaymentCreate {
        PaymentCreate {
            door: Door::Grpc,
            client: 1,
            key: key.into(),
            amount_minor: 500,
            invoke: 0,
            ret: 1,
            outcome,
            recovery,
        }
    }

    fn listed(id: &str, key: &str, refunded: i64) -> PaymentFinal {
        PaymentFinal {
            id: id.into(),
            description: key.into(),
            amount_minor: 500,
            refunded_minor: refunded,
            status: "SUCCEEDED".into(),
        }
    }

    fn refund(id: &str, amount: i64, outcome: Result<PaymentSeen, Failure>) -> RefundOp {
        RefundOp {
            door: Door::Grpc,
            client: 1,
            key: format!("r-{amount}"),
            payment_id: id.into(),
            amount_minor: amount,
            invoke: 0,
            ret: 1,
            outcome,
        }
    }

    fn run(history: History) -> Vec<&'static str> {
        let mut findings = Findings::default();
        check(&history, &mut findings);
        findings.violations.iter().map(|v| v.check).collect()
    }

    #[test]
    fn a_good_history_passes() {
        let history = History {
            payments: vec![
                create("k1", Ok(seen("p1", 500, 0)), false),
                create("k2", Err(Failure::unknown("UNAVAILABLE", "")), false),
                create("k2", Ok(seen("p2", 500, 0)), true),
            ],
            refunds: vec![
                refund("p1", 200, Ok(seen("p1", 500, 200))),
                refund("p1", 100, Err(Failure::unknown("DEADLINE_EXCEEDED", ""))),
            ],
            payments_before_recovery: vec![listed("p1", "k1", 300), listed("p2", "k2", 0)],
            payments_final: vec![listed("p1", "k1", 300), listed("p2", "k2", 0)],
            ..History::default()
        };
        assert_eq!(run(history), Vec::<&str>::new());
    }

    #[test]
    fn two_payments_for_one_key_are_caught() {
        let history = History {
            payments: vec![create("k1", Ok(seen("p1", 500, 0)), false)],
            payments_final: vec![listed("p1", "k1", 0), listed("p9", "k1", 0)],
            ..History::default()
        };
        assert_eq!(run(history), ["payments: charged twice"]);
    }

    #[test]
    fn a_failed_create_that_became_another_payment_is_caught() {
        let history = History {
            payments: vec![
                create("k2", Err(Failure::unknown("UNAVAILABLE", "")), false),
                create("k2", Ok(seen("p3", 500, 0)), true),
            ],
            payments_before_recovery: vec![listed("p2", "k2", 0)],
            payments_final: vec![listed("p2", "k2", 0), listed("p3", "k2", 0)],
            ..History::default()
        };
        let checks = run(history);
        assert!(checks.contains(&"payments: failed create became another payment"), "{checks:?}");
        assert!(checks.contains(&"payments: charged twice"), "{checks:?}");
    }

    #[test]
    fn lost_payments_and_refund_errors_are_caught() {
        let history = History {
            payments: vec![create("k1", Ok(seen("p1", 500, 0)), false), create("k2", Ok(seen("p2", 500, 0)), false)],
            refunds: vec![refund("p2", 400, Ok(seen("p2", 500, 400))), refund("p2", 300, Ok(seen("p2", 500, 700)))],
            payments_final: vec![listed("p2", "k2", 700)],
            ..History::default()
        };
        let checks = run(history);
        assert!(checks.contains(&"payments: acknowledged payment lost"), "{checks:?}");
        assert!(checks.contains(&"payments: refunded above the amount"), "{checks:?}");
    }
}

//! Who decides whether a charge goes through. The gateway runs the deterministic
//! [`TestProcessor`]; a real card processor would implement [`PaymentProcessor`] too.
//!
//! The idempotency key is handed to the processor with every charge. Real processors dedupe
//! on it, which is what makes it safe for the gateway to call the processor again when a
//! client retries a request whose first attempt was lost: the charge happens once.

use async_trait::async_trait;

/// One charge to decide.
#[derive(Debug, Clone)]
pub struct Charge<'a> {
    pub idempotency_key: &'a str,
    pub account: &'a str,
    pub amount_minor: i64,
    pub currency: &'a str,
    pub customer_id: &'a str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChargeOutcome {
    Approved,
    Declined { code: String, message: String },
}

#[derive(Debug, thiserror::Error)]
pub enum ProcessorError {
    /// The processor could not be reached; nothing was charged.
    #[error("payment processor unavailable: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait PaymentProcessor: Send + Sync + 'static {
    async fn charge(&self, charge: &Charge<'_>) -> Result<ChargeOutcome, ProcessorError>;
}

/// Test mode: outcomes follow fixed rules, so clients can exercise every path.
///
/// | input                                    | outcome                         |
/// |------------------------------------------|---------------------------------|
/// | customer `cust_declined`                 | declined, `card_declined`       |
/// | customer `cust_insufficient_funds`       | declined, `insufficient_funds`  |
/// | amount in minor units ending in 13       | declined, `processing_error`    |
/// | anything else                            | approved                        |
#[derive(Debug, Default, Clone, Copy)]
pub struct TestProcessor;

#[async_trait]
impl PaymentProcessor for TestProcessor {
    async fn charge(&self, charge: &Charge<'_>) -> Result<ChargeOutcome, ProcessorError> {
        let declined =
            |code: &str, message: &str| ChargeOutcome::Declined { code: code.to_owned(), message: message.to_owned() };
        Ok(match charge.customer_id {
            "cust_declined" => declined("card_declined", "the card was declined"),
            "cust_insufficient_funds" => declined("insufficient_funds", "the card has insufficient funds"),
            _ if charge.amount_minor % 100 == 13 => {
                declined("processing_error", "the processor could not complete the charge")
            }
            _ => ChargeOutcome::Approved,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn charge(customer_id: &str, amount_minor: i64) -> Charge<'_> {
        Charge { idempotency_key: "k", account: "a", amount_minor, currency: "USD", customer_id }
    }

    #[tokio::test]
    async fn documented_rules() {
        let p = TestProcessor;
        assert_eq!(p.charge(&charge("cust_1", 9999)).await.unwrap(), ChargeOutcome::Approved);
        assert!(
            matches!(p.charge(&charge("cust_declined", 9999)).await.unwrap(), ChargeOutcome::Declined { code, .. } if code == "card_declined")
        );
        assert!(
            matches!(p.charge(&charge("cust_insufficient_funds", 1)).await.unwrap(), ChargeOutcome::Declined { code, .. } if code == "insufficient_funds")
        );
        assert!(
            matches!(p.charge(&charge("cust_1", 1013)).await.unwrap(), ChargeOutcome::Declined { code, .. } if code == "processing_error")
        );
    }
}

//! `PaymentService`: a payment gateway in test mode. API keys scope everything to an account;
//! idempotency keys make every write safe to retry (the rules live in the payment store so
//! they hold under races and across restarts).

pub mod currency;
mod error;
pub mod processor;

use std::{
    sync::Arc,
    time::{Duration, SystemTime},
};

use prost::Message;
use sha2::{Digest, Sha256};
use tonic::{Request, Response, Status, metadata::MetadataMap};

pub use self::error::PaymentsError;
use self::processor::{Charge, ChargeOutcome, PaymentProcessor};
use crate::{
    credentials::{API_KEY_HEADER, ApiKeys, hex},
    paging::{Page, PageLimits},
    pb::{self, payment_service_server},
    storage::{
        Claim, Idempotent, NewRefund, PaymentPage, PaymentRecord, PaymentState, PaymentStore, RefundOutcome,
        RefundRecord, RefundRejection,
    },
    validate::{self, Violations},
};

pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";
const PAGE_LIMITS: PageLimits = PageLimits { default: 50, max: 1000 };
const MAX_AMOUNT_MINOR: i64 = 99_999_999_999;
const MAX_IDEMPOTENCY_KEY_BYTES: usize = 255;
const MAX_CUSTOMER_ID_CHARS: usize = 64;
const MAX_TEXT_CHARS: usize = 500;

/// The account of the request's API key.
fn account<'k>(api_keys: &'k ApiKeys, metadata: &MetadataMap) -> Result<&'k str, PaymentsError> {
    let key = metadata.get(API_KEY_HEADER).ok_or(PaymentsError::MissingApiKey)?;
    let key = key.to_str().map_err(|_| PaymentsError::UnknownApiKey)?;
    api_keys.account_of(key).ok_or(PaymentsError::UnknownApiKey)
}

pub struct PaymentService {
    store: Arc<dyn PaymentStore>,
    processor: Arc<dyn PaymentProcessor>,
    api_keys: ApiKeys,
}

impl PaymentService {
    pub fn new(store: Arc<dyn PaymentStore>, processor: Arc<dyn PaymentProcessor>, api_keys: ApiKeys) -> Self {
        Self { store, processor, api_keys }
    }

    pub fn into_server(self) -> payment_service_server::PaymentServiceServer<Self> {
        payment_service_server::PaymentServiceServer::new(self)
    }

    async fn create(
        &self,
        metadata: &MetadataMap,
        request: pb::CreatePaymentRequest,
    ) -> Result<pb::Payment, PaymentsError> {
        let account = account(&self.api_keys, metadata)?;
        let mut violations = Violations::new();
        let idempotency_key = idempotency_key(metadata, &mut violations);
        if !(1..=MAX_AMOUNT_MINOR).contains(&request.amount_minor) {
            violations.add("amount_minor", format!("must be between 1 and {MAX_AMOUNT_MINOR} minor units"));
        }
        if !currency::is_iso_4217(&request.currency) {
            violations.add("currency", "must be an ISO-4217 currency code in upper case, like USD");
        }
        violations.check("customer_id", validate::text(&request.customer_id, 1, MAX_CUSTOMER_ID_CHARS));
        violations.check("description", validate::text(&request.description, 0, MAX_TEXT_CHARS));
        violations.into_result()?;

        let outcome = self
            .processor
            .charge(&Charge {
                idempotency_key,
                account,
                amount_minor: request.amount_minor,
                currency: &request.currency,
                customer_id: &request.customer_id,
            })
            .await?;
        let (state, failure_code, failure_message) = match outcome {
            ChargeOutcome::Approved => (PaymentState::Succeeded, String::new(), String::new()),
            ChargeOutcome::Declined { code, message } => (PaymentState::Failed, code, message),
        };
        let now = SystemTime::now();
        let fingerprint = fingerprint("CreatePayment", &request.encode_to_vec());
        let payment = PaymentRecord {
            id: new_id("pay"),
            account: account.to_owned(),
            amount_minor: request.amount_minor,
            currency: request.currency,
            customer_id: request.customer_id,
            description: request.description,
            state,
            refunded_minor: 0,
            failure_code,
            failure_message,
            create_time: now,
            update_time: now,
        };
        match self.store.create(Claim { idempotency_key, fingerprint: &fingerprint }, payment).await? {
            Idempotent::Created(payment) => {
                tracing::info!(payment = %payment.id, status = ?payment.state, "payment created");
                Ok(payment_to_proto(payment))
            }
            Idempotent::Replayed(payment) => Ok(payment_to_proto(payment)),
            Idempotent::KeyReused => Err(PaymentsError::IdempotencyKeyReused(idempotency_key.to_owned())),
        }
    }

    async fn get(&self, metadata: &MetadataMap, request: pb::GetPaymentRequest) -> Result<pb::Payment, PaymentsError> {
        let account = account(&self.api_keys, metadata)?;
        check_payment_id(&request.id).map_err(|d| Violations::single("id", d))?;
        match self.store.get(account, &request.id).await? {
            Some(payment) => Ok(payment_to_proto(payment)),
            None => Err(PaymentsError::NotFound(request.id)),
        }
    }

    async fn list(
        &self,
        metadata: &MetadataMap,
        request: pb::ListPaymentsRequest,
    ) -> Result<pb::ListPaymentsResponse, PaymentsError> {
        let account = account(&self.api_keys, metadata)?;
        let mut violations = Violations::new();
        violations.check("customer_id", validate::text(&request.customer_id, 0, MAX_CUSTOMER_ID_CHARS));
        let page =
            Page::parse(request.page_size, &request.page_token, &request.customer_id, PAGE_LIMITS, &mut violations);
        let after = match page.after.as_deref().map(parse_cursor) {
            None => None,
            Some(Some(cursor)) => Some(cursor),
            Some(None) => {
                violations.add("page_token", "is not a page token from this server");
                None
            }
        };
        violations.into_result()?;
        let customer = Some(request.customer_id.as_str()).filter(|c| !c.is_empty());
        let mut payments =
            self.store.list(PaymentPage { account, customer_id: customer, after, limit: page.fetch_limit() }).await?;
        let next_page_token = page.finish(&mut payments, |p| {
            let nanos = p.create_time.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_nanos();
            format!("{nanos}:{}", p.id)
        });
        Ok(pb::ListPaymentsResponse { payments: payments.into_iter().map(payment_to_proto).collect(), next_page_token })
    }

    async fn refund(
        &self,
        metadata: &MetadataMap,
        request: pb::RefundPaymentRequest,
    ) -> Result<pb::Refund, PaymentsError> {
        let account = account(&self.api_keys, metadata)?;
        let mut violations = Violations::new();
        let idempotency_key = idempotency_key(metadata, &mut violations);
        violations.check("payment_id", check_payment_id(&request.payment_id));
        if !(0..=MAX_AMOUNT_MINOR).contains(&request.amount_minor) {
            violations.add("amount_minor", "must be 0 (everything that remains) or a positive amount in minor units");
        }
        violations.check("reason", validate::text(&request.reason, 0, MAX_TEXT_CHARS));
        violations.into_result()?;

        let fingerprint = fingerprint("RefundPayment", &request.encode_to_vec());
        let refund = NewRefund {
            id: new_id("re"),
            payment_id: request.payment_id.clone(),
            amount_minor: request.amount_minor,
            reason: request.reason,
            time: SystemTime::now(),
        };
        match self.store.refund(account, Claim { idempotency_key, fingerprint: &fingerprint }, refund).await? {
            RefundOutcome::Done(Idempotent::Created((refund, payment))) => {
                tracing::info!(payment = %payment.id, refund = %refund.id, amount_minor = refund.amount_minor, "payment refunded");
                Ok(refund_to_proto(refund, payment))
            }
            RefundOutcome::Done(Idempotent::Replayed((refund, payment))) => Ok(refund_to_proto(refund, payment)),
            RefundOutcome::Done(Idempotent::KeyReused) => {
                Err(PaymentsError::IdempotencyKeyReused(idempotency_key.to_owned()))
            }
            RefundOutcome::Rejected(RefundRejection::NoSuchPayment) => Err(PaymentsError::NotFound(request.payment_id)),
            RefundOutcome::Rejected(RefundRejection::NotRefundable(state)) => {
                Err(PaymentsError::NotRefundable { id: request.payment_id, state })
            }
            RefundOutcome::Rejected(RefundRejection::ExceedsRemaining { remaining_minor }) => {
                Err(PaymentsError::ExceedsRemaining { remaining_minor })
            }
        }
    }
}

#[tonic::async_trait]
impl payment_service_server::PaymentService for PaymentService {
    async fn create_payment(
        &self,
        request: Request<pb::CreatePaymentRequest>,
    ) -> Result<Response<pb::Payment>, Status> {
        let (metadata, _, request) = request.into_parts();
        Ok(Response::new(self.create(&metadata, request).await?))
    }

    async fn get_payment(&self, request: Request<pb::GetPaymentRequest>) -> Result<Response<pb::Payment>, Status> {
        let (metadata, _, request) = request.into_parts();
        Ok(Response::new(self.get(&metadata, request).await?))
    }

    async fn list_payments(
        &self,
        request: Request<pb::ListPaymentsRequest>,
    ) -> Result<Response<pb::ListPaymentsResponse>, Status> {
        let (metadata, _, request) = request.into_parts();
        Ok(Response::new(self.list(&metadata, request).await?))
    }

    async fn refund_payment(&self, request: Request<pb::RefundPaymentRequest>) -> Result<Response<pb::Refund>, Status> {
        let (metadata, _, request) = request.into_parts();
        Ok(Response::new(self.refund(&metadata, request).await?))
    }
}

/// The request's idempotency key; a missing or malformed one is a violation.
fn idempotency_key<'m>(metadata: &'m MetadataMap, violations: &mut Violations) -> &'m str {
    let key = metadata.get(IDEMPOTENCY_KEY_HEADER).map(|v| v.to_str());
    match key {
        Some(Ok(key)) if !key.is_empty() && key.len() <= MAX_IDEMPOTENCY_KEY_BYTES => key,
        None => {
            violations
                .add(IDEMPOTENCY_KEY_HEADER, "is required metadata: a unique key per payment, reused only to retry it");
            ""
        }
        Some(_) => {
            violations.add(
                IDEMPOTENCY_KEY_HEADER,
                format!("must be 1 to {MAX_IDEMPOTENCY_KEY_BYTES} printable ASCII characters"),
            );
            ""
        }
    }
}

/// Ids are `pay_`/`re_` and 32 hex digits; anything else cannot exist, so say so early.
fn check_payment_id(id: &str) -> Result<(), String> {
    let valid =
        id.strip_prefix("pay_").is_some_and(|hex| hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()));
    if valid { Ok(()) } else { Err("must be a payment id: pay_ and 32 hex digits".to_owned()) }
}

fn parse_cursor(cursor: &str) -> Option<(SystemTime, String)> {
    let (nanos, id) = cursor.split_once(':')?;
    let nanos: u64 = nanos.parse().ok()?;
    Some((SystemTime::UNIX_EPOCH + Duration::from_nanos(nanos), id.to_owned()))
}

/// What identifies a request for idempotency: the rpc and its exact fields. prost encodes
/// fields in tag order, so equal requests give equal bytes.
fn fingerprint(rpc: &str, encoded_request: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(rpc.as_bytes());
    hasher.update([0]);
    hasher.update(encoded_request);
    hex(&hasher.finalize())
}

fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

fn state_to_proto(state: PaymentState) -> pb::PaymentStatus {
    match state {
        PaymentState::Succeeded => pb::PaymentStatus::Succeeded,
        PaymentState::Failed => pb::PaymentStatus::Failed,
        PaymentState::PartiallyRefunded => pb::PaymentStatus::PartiallyRefunded,
        PaymentState::Refunded => pb::PaymentStatus::Refunded,
    }
}

fn payment_to_proto(payment: PaymentRecord) -> pb::Payment {
    pb::Payment {
        id: payment.id,
        amount_minor: payment.amount_minor,
        currency: payment.currency,
        customer_id: payment.customer_id,
        description: payment.description,
        status: state_to_proto(payment.state).into(),
        refunded_minor: payment.refunded_minor,
        failure_code: payment.failure_code,
        failure_message: payment.failure_message,
        create_time: Some(payment.create_time.into()),
        update_time: Some(payment.update_time.into()),
    }
}

fn refund_to_proto(refund: RefundRecord, payment: PaymentRecord) -> pb::Refund {
    pb::Refund {
        id: refund.id,
        payment_id: refund.payment_id,
        amount_minor: refund.amount_minor,
        currency: payment.currency.clone(),
        reason: refund.reason,
        create_time: Some(refund.create_time.into()),
        payment: Some(payment_to_proto(payment)),
    }
}

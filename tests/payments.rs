//! PaymentService: API keys, idempotency (also under races), refunds, the test processor.

mod common;

use common::{API_KEY, TestServer, bad_fields, with_metadata};
use switchboard::pb::{
    CreatePaymentRequest, GetPaymentRequest, ListPaymentsRequest, Payment, PaymentStatus, RefundPaymentRequest,
    payment_service_client::PaymentServiceClient,
};
use tonic::{Code, transport::Channel};

fn charge(amount_minor: i64, customer: &str) -> CreatePaymentRequest {
    CreatePaymentRequest {
        amount_minor,
        currency: "USD".into(),
        customer_id: customer.into(),
        description: "Order #12345".into(),
    }
}

async fn create(
    client: &mut PaymentServiceClient<Channel>,
    key: &str,
    request: CreatePaymentRequest,
) -> Result<Payment, tonic::Status> {
    let request = with_metadata(request, &[("x-api-key", API_KEY), ("idempotency-key", key)]);
    client.create_payment(request).await.map(|r| r.into_inner())
}

async fn refund(
    client: &mut PaymentServiceClient<Channel>,
    key: &str,
    payment_id: &str,
    amount_minor: i64,
) -> Result<switchboard::pb::Refund, tonic::Status> {
    let request = RefundPaymentRequest { payment_id: payment_id.into(), amount_minor, reason: "test".into() };
    let request = with_metadata(request, &[("x-api-key", API_KEY), ("idempotency-key", key)]);
    client.refund_payment(request).await.map(|r| r.into_inner())
}

#[tokio::test]
async fn every_call_needs_a_known_api_key() {
    let server = TestServer::start().await;
    let mut payments = server.payments();
    let none = payments.create_payment(with_metadata(charge(100, "cust_1"), &[("idempotency-key", "k")])).await;
    assert_eq!(none.unwrap_err().code(), Code::Unauthenticated);
    let wrong = payments
        .get_payment(with_metadata(GetPaymentRequest { id: "pay_x".into() }, &[("x-api-key", "sk_wrong")]))
        .await;
    assert_eq!(wrong.unwrap_err().code(), Code::Unauthenticated);
    let list = payments.list_payments(ListPaymentsRequest::default()).await;
    assert_eq!(list.unwrap_err().code(), Code::Unauthenticated);
}

#[tokio::test]
async fn create_and_get_in_integer_minor_units() {
    let server = TestServer::start().await;
    let mut payments = server.payments();
    let payment = create(&mut payments, "order-1", charge(9999, "cust_123")).await.unwrap();
    assert!(payment.id.starts_with("pay_"));
    assert_eq!(payment.status(), PaymentStatus::Succeeded);
    assert_eq!((payment.amount_minor, payment.currency.as_str()), (9999, "USD"));

    let fetched = payments
        .get_payment(with_metadata(GetPaymentRequest { id: payment.id.clone() }, &[("x-api-key", API_KEY)]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(fetched, payment);

    // Another API key is another account: it cannot see this payment.
    let other = payments
        .get_payment(with_metadata(GetPaymentRequest { id: payment.id.clone() }, &[("x-api-key", "sk_test_other")]))
        .await
        .unwrap_err();
    assert_eq!(other.code(), Code::NotFound);
}

#[tokio::test]
async fn idempotency_key_returns_the_same_payment_and_refuses_a_different_request() {
    let server = TestServer::start().await;
    let mut payments = server.payments();
    let first = create(&mut payments, "idem-1", charge(500, "cust_1")).await.unwrap();
    let retry = create(&mut payments, "idem-1", charge(500, "cust_1")).await.unwrap();
    assert_eq!(retry, first, "a retry returns the original payment");

    let reuse = create(&mut payments, "idem-1", charge(501, "cust_1")).await.unwrap_err();
    assert_eq!(reuse.code(), Code::InvalidArgument);
    assert!(reuse.message().contains("idempotency-key"), "{}", reuse.message());
    assert_eq!(bad_fields(&reuse), ["idempotency-key"]);

    let missing = payments.create_payment(with_metadata(charge(500, "cust_1"), &[("x-api-key", API_KEY)])).await;
    let missing = missing.unwrap_err();
    assert_eq!(missing.code(), Code::InvalidArgument);
    assert_eq!(bad_fields(&missing), ["idempotency-key"]);

    let list = payments
        .list_payments(with_metadata(ListPaymentsRequest::default(), &[("x-api-key", API_KEY)]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(list.payments.len(), 1, "only one payment exists");
}

#[tokio::test]
async fn concurrent_identical_calls_make_one_payment() {
    let server = TestServer::start().await;
    let mut handles = Vec::new();
    for _ in 0..16 {
        // Separate connections, so the calls really race on the server.
        let channel = server.new_connection().await;
        handles.push(tokio::spawn(async move {
            let mut client = PaymentServiceClient::new(channel);
            create(&mut client, "race-key", charge(1234, "cust_race")).await.unwrap()
        }));
    }
    let mut ids = Vec::new();
    for handle in handles {
        ids.push(handle.await.unwrap().id);
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "all racers got the same payment: {ids:?}");

    let list = server
        .payments()
        .list_payments(with_metadata(ListPaymentsRequest::default(), &[("x-api-key", API_KEY)]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(list.payments.len(), 1);
}

#[tokio::test]
async fn refunds_never_exceed_what_was_paid() {
    let server = TestServer::start().await;
    let mut payments = server.payments();
    let payment = create(&mut payments, "p", charge(1000, "cust_1")).await.unwrap();

    let part = refund(&mut payments, "r1", &payment.id, 300).await.unwrap();
    assert_eq!(part.amount_minor, 300);
    let after = part.payment.unwrap();
    assert_eq!((after.status(), after.refunded_minor), (PaymentStatus::PartiallyRefunded, 300));

    // Retrying the same refund does not refund twice.
    let again = refund(&mut payments, "r1", &payment.id, 300).await.unwrap();
    assert_eq!(again.id, part.id);

    let too_much = refund(&mut payments, "r2", &payment.id, 701).await.unwrap_err();
    assert_eq!(too_much.code(), Code::FailedPrecondition);
    assert!(too_much.message().contains("700"), "{}", too_much.message());

    let rest = refund(&mut payments, "r3", &payment.id, 0).await.unwrap();
    assert_eq!(rest.amount_minor, 700, "0 refunds everything that remains");
    let done = rest.payment.unwrap();
    assert_eq!((done.status(), done.refunded_minor), (PaymentStatus::Refunded, 1000));

    let nothing_left = refund(&mut payments, "r4", &payment.id, 1).await.unwrap_err();
    assert_eq!(nothing_left.code(), Code::FailedPrecondition);

    let unknown = refund(&mut payments, "r5", "pay_00000000000000000000000000000000", 1).await.unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
}

#[tokio::test]
async fn concurrent_refunds_cannot_overdraw() {
    let server = TestServer::start().await;
    let payment = create(&mut server.payments(), "p", charge(1000, "cust_1")).await.unwrap();
    let mut handles = Vec::new();
    for i in 0..10 {
        let channel = server.new_connection().await;
        let id = payment.id.clone();
        handles.push(tokio::spawn(async move {
            refund(&mut PaymentServiceClient::new(channel), &format!("r{i}"), &id, 300).await
        }));
    }
    let mut succeeded = 0;
    for handle in handles {
        match handle.await.unwrap() {
            Ok(_) => succeeded += 1,
            Err(status) => assert_eq!(status.code(), Code::FailedPrecondition),
        }
    }
    assert_eq!(succeeded, 3, "3 × 300 fit in 1000, a fourth does not");
}

#[tokio::test]
async fn declined_charges_are_failed_payments_and_not_refundable() {
    let server = TestServer::start().await;
    let mut payments = server.payments();
    for (key, request, code) in [
        ("d1", charge(100, "cust_declined"), "card_declined"),
        ("d2", charge(100, "cust_insufficient_funds"), "insufficient_funds"),
        ("d3", charge(1013, "cust_1"), "processing_error"),
    ] {
        let payment = create(&mut payments, key, request).await.unwrap();
        assert_eq!(payment.status(), PaymentStatus::Failed);
        assert_eq!(payment.failure_code, code);
        assert!(!payment.failure_message.is_empty());
    }
    let failed = create(&mut payments, "d1", charge(100, "cust_declined")).await.unwrap();
    let status = refund(&mut payments, "rd", &failed.id, 0).await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
}

#[tokio::test]
async fn bad_payment_requests_name_their_fields() {
    let server = TestServer::start().await;
    let mut payments = server.payments();
    let bad = CreatePaymentRequest {
        amount_minor: -5,
        currency: "usd".into(),
        customer_id: String::new(),
        description: "x".repeat(501),
    };
    let status = create(&mut payments, "k", bad).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(bad_fields(&status), ["amount_minor", "currency", "customer_id", "description"]);
    let status = refund(&mut payments, "k2", "nonsense", -1).await.unwrap_err();
    assert_eq!(bad_fields(&status), ["payment_id", "amount_minor"]);
}

#[tokio::test]
async fn list_is_newest_first_in_pages_and_filters_by_customer() {
    let server = TestServer::start().await;
    let mut payments = server.payments();
    let mut ids = Vec::new();
    for i in 0..7 {
        let customer = if i % 2 == 0 { "cust_even" } else { "cust_odd" };
        ids.push(create(&mut payments, &format!("k{i}"), charge(100 + i, customer)).await.unwrap().id);
    }
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let request = ListPaymentsRequest { page_size: 3, page_token: token, customer_id: String::new() };
        let page =
            payments.list_payments(with_metadata(request, &[("x-api-key", API_KEY)])).await.unwrap().into_inner();
        seen.extend(page.payments.into_iter().map(|p| p.id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    ids.reverse();
    assert_eq!(seen, ids);

    let request = ListPaymentsRequest { customer_id: "cust_odd".into(), ..Default::default() };
    let odd = payments.list_payments(with_metadata(request, &[("x-api-key", API_KEY)])).await.unwrap().into_inner();
    assert_eq!(odd.payments.len(), 3);
    assert!(odd.payments.iter().all(|p| p.customer_id == "cust_odd"));
}

//! The README's "From Rust" example, compiled with the workspace so that it stays true.
//! Run it against a server: `cargo run -p switchboard-client --example readme`.

use std::time::Duration;
use switchboard_client::{CallOptions, Client, Error, pb};

#[tokio::main]
async fn main() -> Result<(), Error> {
    // One client, one shared HTTP/2 connection; clone it freely. Nothing connects until the
    // first call; keepalive finds dead connections; https:// turns TLS on.
    let client = Client::builder("http://localhost:50051")
        .api_key("sk_test_switchboard")
        .timeout(Duration::from_secs(5)) // the default deadline of every unary call
        .build()?;

    match client.get_user(42).await {
        Ok(user) => println!("{}", user.username),
        Err(Error::NotFound { .. }) => println!("no such user"),
        Err(Error::InvalidArgument { fields, .. }) => println!("bad fields: {fields:?}"),
        Err(Error::RateLimited { retry_after, .. }) => println!("slow down for {retry_after:?}"),
        Err(other) => return Err(other),
    }

    // Retried safely on UNAVAILABLE or a lost connection: each attempt carries "order-12345".
    let request = pb::CreatePaymentRequest {
        amount_minor: 9999,
        currency: "USD".into(),
        customer_id: "cust_123".into(),
        ..Default::default()
    };
    let payment = client.create_payment(request, Some("order-12345")).await?;
    println!("{} {}", payment.id, payment.status);

    // A per-call deadline; dropping the future instead cancels the call.
    client.echo_with("hi", &CallOptions::timeout(Duration::from_millis(200))).await?;
    Ok(())
}

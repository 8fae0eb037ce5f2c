//! Panic isolation: a handler that panics fails its own call with `INTERNAL` and nothing
//! else — the connection, the other calls on it and the process live on. Without this, a
//! panic unwinds through hyper's connection task and resets every call on that connection.
//!
//! Covers the handler's future and the response body (a streaming handler's items are
//! produced as the body is polled). Panics inside tasks a handler spawns are the tokio
//! runtime's business: they end that task, which the handler sees as a closed channel.

use std::any::Any;

use tonic::Status;

use super::request_id::RequestId;

const MESSAGE: &str = "internal error: the handler failed; the failure was logged";

/// The status a call that panicked ends with; the panic is logged with the call's id. `during`
/// says where: `"handler"` or `"response stream"`.
pub fn panicked(panic: &(dyn Any + Send), during: &str, request_id: &RequestId) -> Status {
    tracing::error!(
        request_id = request_id.as_str(),
        panic = panic_message(panic),
        "{during} panicked; answering INTERNAL"
    );
    Status::internal(MESSAGE)
}

fn panic_message(panic: &(dyn Any + Send)) -> &str {
    panic.downcast_ref::<&str>().copied().or_else(|| panic.downcast_ref::<String>().map(String::as_str)).unwrap_or("?")
}

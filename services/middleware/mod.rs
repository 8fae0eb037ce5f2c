//! Tower layers that wrap every gRPC service, composed once in [`crate::server`].

pub mod status_codes;

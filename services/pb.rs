//! The generated API: protobuf messages, client stubs and (with the `server` feature)
//! service traits for `switchboard.v1`. This is what every client builds on.

#![allow(clippy::large_enum_variant)]

tonic::include_proto!("switchboard.v1");

/// Encoded `FileDescriptorSet` of every switchboard proto and what they import, with
/// comments, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("switchboard_descriptor");

/// TEST-ONLY: the `switchboard.debug.v1.DebugService` (slow and panicking rpcs), served only
/// with `--enable-debug-rpcs`. See `proto/switchboard/debug/v1/debug.proto`.
pub mod debug {
    tonic::include_proto!("switchboard.debug.v1");

    /// Encoded `FileDescriptorSet` of the debug proto, registered with reflection only when
    /// the debug service is served.
    pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("switchboard_debug_descriptor");
}

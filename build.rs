//! Compiles `proto/switchboard/v1/*.proto` into Rust with tonic-prost-build.
//!
//! protoc comes from `protoc-bin-vendored`, so a fresh machine needs no system protoc. The
//! file descriptor set written next to the generated code (with imports and comments) feeds
//! gRPC reflection, which is how `grpcurl describe` shows the proto comments to users.

use std::{env, path::PathBuf};

const PROTOS: &[&str] = &[
    "proto/switchboard/v1/users.proto",
    "proto/switchboard/v1/kv.proto",
    "proto/switchboard/v1/chat.proto",
    "proto/switchboard/v1/payments.proto",
    "proto/switchboard/v1/echo.proto",
    "proto/switchboard/v1/files.proto",
];

/// Test-only protos, compiled into their own descriptor set so that reflection lists them only
/// on a server started with `--enable-debug-rpcs`.
const DEBUG_PROTOS: &[&str] = &["proto/switchboard/debug/v1/debug.proto"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // SAFETY: build scripts are single-threaded; nothing else reads the environment concurrently.
    unsafe { env::set_var("PROTOC", protoc_bin_vendored::protoc_bin_path()?) };

    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    let server = env::var_os("CARGO_FEATURE_SERVER").is_some();
    tonic_prost_build::configure()
        .build_server(server)
        .build_client(true)
        .codec_path("crate::codec::ProtoCodec")
        // `bytes` fields as `Bytes`: file chunks pass from the wire to storage without copies.
        .bytes(".")
        .file_descriptor_set_path(out_dir.join("switchboard_descriptor.bin"))
        .compile_protos(PROTOS, &["proto"])?;
    tonic_prost_build::configure()
        .build_server(server)
        .build_client(true)
        .codec_path("crate::codec::ProtoCodec")
        .file_descriptor_set_path(out_dir.join("switchboard_debug_descriptor.bin"))
        .compile_protos(DEBUG_PROTOS, &["proto"])?;

    println!("cargo:rerun-if-changed=proto");
    Ok(())
}

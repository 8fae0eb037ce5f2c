//! Python tools for the tests, from PyPI, installed on first use into virtual environments
//! under `target/tools/<name>`; nothing is installed system-wide. Every package is pinned, so
//! a fresh machine gets what CI tested. If a tool cannot be installed, the tests that need it
//! fail; they never skip.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
};

/// Written last into a finished installation; holds the requirements it was made from.
const MARKER: &str = "switchboard-installed";

/// `<target>/tools`, where the venvs live.
pub fn tools_dir() -> PathBuf {
    // CARGO_TARGET_TMPDIR is `<target>/tmp`; the tools live next to it.
    let target_tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    target_tmp.parent().unwrap_or(target_tmp).join("tools")
}

/// The venv `target/tools/<name>` with exactly `requirements` (pinned pip specifiers)
/// installed; `check` must accept a new installation before it is used. Installs when the venv
/// is missing, incomplete or made from other requirements. Safe against concurrent test
/// processes: each installs into a directory of its own and renames it into place.
pub fn venv(name: &str, requirements: &[&str], check: impl Fn(&Path) -> Result<(), String>) -> Result<PathBuf, String> {
    let tools = tools_dir();
    let venv = tools.join(name);
    let wanted = requirements.join("\n");
    let installed = |venv: &Path| std::fs::read_to_string(venv.join(MARKER)).is_ok_and(|marker| marker == wanted);
    if installed(&venv) {
        return Ok(venv);
    }
    std::fs::create_dir_all(&tools).map_err(|error| format!("cannot create {}: {error}", tools.display()))?;
    if venv.exists() {
        // Incomplete or other versions: move it out of the way (atomically, so that a
        // concurrent process sees either it or nothing), then delete it.
        let stale = tools.join(format!("{name}.stale.{}", std::process::id()));
        if std::fs::rename(&venv, &stale).is_ok() {
            let _ = std::fs::remove_dir_all(&stale);
        }
    }

    let staging = tools.join(format!("{name}.tmp.{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    let result = install_into(&staging, requirements).and_then(|()| check(&staging)).and_then(|()| {
        std::fs::write(staging.join(MARKER), &wanted)
            .map_err(|error| format!("cannot write {}: {error}", staging.join(MARKER).display()))
    });
    if let Err(error) = result {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(error);
    }
    if let Err(error) = std::fs::rename(&staging, &venv) {
        let _ = std::fs::remove_dir_all(&staging);
        // Another process may have finished first; its installation is as good as ours.
        if !installed(&venv) {
            return Err(format!("cannot move the venv into {}: {error}", venv.display()));
        }
    }
    // Console scripts carry the staging path in their shebang: callers run binaries or
    // `python -m`, never the scripts.
    Ok(venv)
}

/// `python3 -m venv <dir>` and `pip install <requirements>` into it.
fn install_into(venv: &Path, requirements: &[&str]) -> Result<(), String> {
    run(std::process::Command::new("python3").arg("-m").arg("venv").arg(venv), "python3 -m venv")?;
    run(
        std::process::Command::new(venv.join("bin").join("python"))
            .args(["-m", "pip", "install", "--quiet", "--no-cache-dir", "--disable-pip-version-check"])
            .args(requirements),
        &format!("pip install {}", requirements.join(" ")),
    )
}

fn run(command: &mut std::process::Command, what: &str) -> Result<(), String> {
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

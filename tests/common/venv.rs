//! Python tools for the tests, from PyPI, installed on first use into virtual environments
//! under `target/tools/<name>`; nothing is installed system-wide. Every package is pinned, so
//! a fresh machine gets what CI tested. If a tool cannot be installed, the tests that need it
//! fail; they never skip.

use std::path::{Path, PathBuf};

use super::tools;

/// The venv `target/tools/<name>` with exactly `requirements` (pinned pip specifiers)
/// installed; `check` must accept a new installation before it is used. Installs when the venv
/// is missing, incomplete or made from other requirements (see [`super::tools::install`]).
pub fn venv(name: &str, requirements: &[&str], check: impl Fn(&Path) -> Result<(), String>) -> Result<PathBuf, String> {
    // Console scripts carry the staging path in their shebang: callers run binaries or
    // `python -m`, never the scripts.
    tools::install(name, &requirements.join("\n"), |staging| {
        install_into(staging, requirements)?;
        check(staging)
    })
}

/// `python3 -m venv <dir>` and `pip install <requirements>` into it.
fn install_into(venv: &Path, requirements: &[&str]) -> Result<(), String> {
    tools::run(std::process::Command::new("python3").arg("-m").arg("venv").arg(venv), "python3 -m venv")?;
    tools::run(
        std::process::Command::new(venv.join("bin").join("python"))
            .args(["-m", "pip", "install", "--quiet", "--no-cache-dir", "--disable-pip-version-check"])
            .args(requirements),
        &format!("pip install {}", requirements.join(" ")),
    )?;
    Ok(())
}

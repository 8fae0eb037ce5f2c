//! Where the tests' own tools live — `target/tools/<name>`, nothing system-wide — and how one
//! gets there: built into a directory of this process's own, then renamed into place, so a
//! concurrent test process sees a whole installation or none. [`super::venv`] (PyPI) and
//! [`super::npm`] (the npm registry) install this way.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
};

/// Written last into a finished installation: what it was made from.
const MARKER: &str = "switchboard-installed";

/// `<target>/tools`.
pub fn tools_dir() -> PathBuf {
    // CARGO_TARGET_TMPDIR is `<target>/tmp`; the tools live next to it.
    let target_tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    target_tmp.parent().unwrap_or(target_tmp).join("tools")
}

/// `target/tools/<name>` as made from `wanted` (requirements, a fingerprint of package files):
/// the existing one if it was made from the same, else a new one that `build` makes in an empty
/// directory it is given.
pub fn install(name: &str, wanted: &str, build: impl FnOnce(&Path) -> Result<(), String>) -> Result<PathBuf, String> {
    let tools = tools_dir();
    let install = tools.join(name);
    let installed = |dir: &Path| std::fs::read_to_string(dir.join(MARKER)).is_ok_and(|marker| marker == wanted);
    if installed(&install) {
        return Ok(install);
    }
    std::fs::create_dir_all(&tools).map_err(|error| format!("cannot create {}: {error}", tools.display()))?;
    let staging = tools.join(format!("{name}.tmp.{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    let built = std::fs::create_dir_all(&staging)
        .map_err(|error| format!("cannot create {}: {error}", staging.display()))
        .and_then(|()| build(&staging))
        .and_then(|()| {
            std::fs::write(staging.join(MARKER), wanted)
                .map_err(|error| format!("cannot write {}: {error}", staging.join(MARKER).display()))
        });
    if let Err(error) = built {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(error);
    }
    if install.exists() {
        // Made from something else, or incomplete: move it out of the way (atomically, so that a
        // concurrent process sees either it or nothing), then delete it.
        let stale = tools.join(format!("{name}.stale.{}", std::process::id()));
        if std::fs::rename(&install, &stale).is_ok() {
            let _ = std::fs::remove_dir_all(&stale);
        }
    }
    if let Err(error) = std::fs::rename(&staging, &install) {
        let _ = std::fs::remove_dir_all(&staging);
        // Another process may have finished first; its installation is as good as ours.
        if !installed(&install) {
            return Err(format!("cannot move {name} into {}: {error}", install.display()));
        }
    }
    Ok(install)
}

/// Runs `command` without input; its output on success, else an error with both streams.
pub fn run(command: &mut Command, what: &str) -> Result<Output, String> {
    let output =
        command.stdin(Stdio::null()).output().map_err(|error| format!("{what}: cannot run {command:?}: {error}"))?;
    if output.status.success() {
        Ok(output)
    } else {
        Err(format!(
            "{what} failed ({}):\n--- stdout ---\n{}\n--- stderr ---\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

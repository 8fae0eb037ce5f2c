//! Node tools for the tests, from the npm registry, each pinned exactly by the
//! `package.json` and `package-lock.json` in a directory of the repository (`tools/<name>/`)
//! and installed on first use with `npm ci` into `target/tools/<name>` — again whenever those
//! two files change; nothing is installed system-wide. If npm is missing or the install fails,
//! the tests that need the tool fail; they never skip.

use std::{
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use super::venv::tools_dir;

/// Written last into a finished installation: the fingerprint of the files it was made from.
const MARKER: &str = "switchboard-installed";

/// `target/tools/<name>` with `node_modules` installed from `source`'s package files; `check`
/// must accept a new installation before it is used. Safe against concurrent test processes:
/// each installs into a directory of its own and renames it into place.
pub fn install(name: &str, source: &Path, check: impl Fn(&Path) -> Result<(), String>) -> Result<PathBuf, String> {
    let files = [source.join("package.json"), source.join("package-lock.json")];
    let wanted = fingerprint(&files)?;
    let tools = tools_dir();
    let install = tools.join(name);
    let installed = |dir: &Path| std::fs::read_to_string(dir.join(MARKER)).is_ok_and(|marker| marker.trim() == wanted);
    if installed(&install) {
        return Ok(install);
    }
    std::fs::create_dir_all(&tools).map_err(|error| format!("cannot create {}: {error}", tools.display()))?;
    let staging = tools.join(format!("{name}.tmp.{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    let built = (|| {
        std::fs::create_dir_all(&staging).map_err(|error| format!("cannot create {}: {error}", staging.display()))?;
        for file in &files {
            let file_name = file.file_name().ok_or_else(|| format!("{} has no file name", file.display()))?;
            std::fs::copy(file, staging.join(file_name))
                .map_err(|error| format!("cannot copy {}: {error}", file.display()))?;
        }
        // --ignore-scripts: no third-party install code runs; the pinned packages ship what
        // the tests use.
        run(
            Command::new("npm")
                .args(["ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(&staging),
            &format!("npm ci for tools/{name}"),
        )?;
        check(&staging)?;
        std::fs::write(staging.join(MARKER), &wanted).map_err(|error| format!("cannot write the marker: {error}"))
    })();
    if let Err(error) = built {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(error);
    }
    if install.exists() {
        // Made from other package files, or incomplete: move it out of the way (atomically, so a
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
            return Err(format!("cannot move tools/{name} into {}: {error}", install.display()));
        }
    }
    Ok(install)
}

/// A fingerprint of `files` (FNV-1a: enough to notice a change).
fn fingerprint(files: &[PathBuf]) -> Result<String, String> {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for file in files {
        let bytes = std::fs::read(file).map_err(|error| format!("cannot read {}: {error}", file.display()))?;
        for byte in bytes {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    Ok(format!("{hash:016x}"))
}

/// Runs `command`; its output on success, else an error with both streams.
fn run(command: &mut Command, what: &str) -> Result<std::process::Output, String> {
    let output =
        command.stdin(Stdio::null()).output().map_err(|error| format!("{what}: cannot run {command:?}: {error}"))?;
    if output.status.success() {
        Ok(output)
    } else {
        Err(format!(
            "{what}: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

//! Node tools for the tests, from the npm registry, each pinned exactly by the
//! `package.json` and `package-lock.json` in a directory of the repository (`tools/<name>/`)
//! and installed on first use with `npm ci` into `target/tools/<name>` (see [`super::tools`]) —
//! again whenever those two files change. If npm is missing or the install fails, the tests that
//! need the tool fail; they never skip.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use super::tools;

/// `target/tools/<name>` with `node_modules` installed from `source`'s package files; `check`
/// must accept a new installation before it is used.
pub fn install(name: &str, source: &Path, check: impl Fn(&Path) -> Result<(), String>) -> Result<PathBuf, String> {
    let files = [source.join("package.json"), source.join("package-lock.json")];
    tools::install(name, &fingerprint(&files)?, |staging| {
        for file in &files {
            let file_name = file.file_name().ok_or_else(|| format!("{} has no file name", file.display()))?;
            std::fs::copy(file, staging.join(file_name))
                .map_err(|error| format!("cannot copy {}: {error}", file.display()))?;
        }
        // --ignore-scripts: no third-party install code runs; the pinned packages ship what
        // the tests use.
        tools::run(
            Command::new("npm")
                .args(["ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(staging),
            &format!("npm ci for tools/{name}"),
        )?;
        check(staging)
    })
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

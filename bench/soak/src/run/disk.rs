//! A small filesystem under the SQLite data directory that the soak can fill: a tmpfs
//! mounted in a private mount namespace (`unshare --mount`, which needs root), so nothing
//! outside this run sees it.
//!
//! A holder process (`unshare … sh -c 'mount … && cat'`) owns the namespace for the whole
//! run: every server life joins it with `nsenter --mount`, so data written before a SIGKILL
//! is there for the next life, and the soak reaches the filesystem through
//! `/proc/<holder>/root`. The holder reads its stdin until EOF, so it ends with the soak
//! even if the soak is killed.

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use anyhow::{Context, bail};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

pub struct TmpfsHolder {
    child: Child,
    pub pid: u32,
    /// The data directory, as the server sees it.
    pub dir: PathBuf,
    pub size_mib: u64,
}

const FILLER: &str = "soak-filler";

impl TmpfsHolder {
    pub async fn start(dir: &Path, size_mib: u64) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let script = "mount -t tmpfs -o size=\"$1\"m soak-data \"$2\" && echo mounted && exec cat >/dev/null";
        let mut child = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "--", "sh", "-c", script, "sh"])
            .arg(size_mib.to_string())
            .arg(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("running unshare (util-linux) for the disk-full fault")?;
        let pid = child.id().context("unshare exited at once")?;
        let stdout = child.stdout.take().context("holder stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        match tokio::time::timeout(Duration::from_secs(10), lines.next_line()).await {
            Ok(Ok(Some(line))) if line == "mounted" => {}
            other => {
                let mut stderr = String::new();
                if let Some(mut err) = child.stderr.take() {
                    let _ = tokio::io::AsyncReadExt::read_to_string(&mut err, &mut stderr).await;
                }
                bail!(
                    "could not mount a {size_mib} MiB tmpfs in a private mount namespace ({other:?}): {} \
                     — the disk-full fault needs root (CI runs as root); --no-disk-full leaves it out",
                    stderr.trim()
                );
            }
        }
        Ok(Self { child, pid, dir: dir.to_owned(), size_mib })
    }

    /// The data directory as this process reaches it (through the holder's root).
    fn outside(&self) -> PathBuf {
        let relative = self.dir.strip_prefix("/").unwrap_or(&self.dir);
        PathBuf::from(format!("/proc/{}/root", self.pid)).join(relative)
    }

    /// Fills the filesystem to the last byte; returns how many bytes that took.
    pub async fn fill(&self) -> anyhow::Result<u64> {
        let path = self.outside().join(FILLER);
        tokio::task::spawn_blocking(move || -> anyhow::Result<u64> {
            let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&path)?;
            let mut written = 0u64;
            for chunk in [1024 * 1024, 4096, 1] {
                let block = vec![0u8; chunk];
                loop {
                    match file.write(&block) {
                        Ok(0) => break,
                        Ok(n) => written += n as u64,
                        Err(e) if e.raw_os_error() == Some(nix::libc::ENOSPC) => break,
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            Ok(written)
        })
        .await?
    }

    pub async fn free(&self) -> anyhow::Result<()> {
        let path = self.outside().join(FILLER);
        tokio::fs::remove_file(&path)
            .await
            .or_else(|e| if e.kind() == std::io::ErrorKind::NotFound { Ok(()) } else { Err(e) })?;
        Ok(())
    }

    /// Bytes in use on the filesystem.
    pub fn used_bytes(&self) -> Option<u64> {
        let stat = nix::sys::statvfs::statvfs(&self.outside()).ok()?;
        Some((stat.blocks() - stat.blocks_free()) * stat.fragment_size())
    }

    pub async fn stop(mut self) {
        // EOF on its stdin ends `cat`, and with the last server gone the tmpfs goes too.
        drop(self.child.stdin.take());
        if tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await.is_err() {
            let _ = self.child.kill().await;
        }
    }
}

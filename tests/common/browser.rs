//! A real headless Chromium for the tests: Debian's `chromium` (`.ci/run` installs it when
//! missing; `SWITCHBOARD_TEST_CHROMIUM` may name another binary), driven by the pinned
//! `playwright-core` from `tools/playwright` through `tests/browser/driver.cjs`. No browser is
//! downloaded. Without Chromium, node or npm the tests that need them fail; they never skip.
//!
//! The test drives, the page shows, the test asserts: every command waits for its answer, and
//! the `wait_*` commands poll what the page shows until it matches or the patience runs out.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    sync::OnceLock,
    time::Duration,
};

use serde_json::{Value as Json, json};
use tokio::{
    io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader, Lines},
    process::{Child, ChildStdin, ChildStdout, Command},
};

/// How long one command may take: page waits are bounded by this too.
pub const PATIENCE: Duration = Duration::from_secs(20);

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The Chromium binary to drive.
pub fn chromium() -> PathBuf {
    let path =
        std::env::var_os("SWITCHBOARD_TEST_CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    assert!(
        path.is_file(),
        "no Chromium at {}: install Debian's `chromium` and `chromium-driver` (.ci/run does), or set \
         SWITCHBOARD_TEST_CHROMIUM",
        path.display()
    );
    path
}

/// `target/tools/playwright`, installed once per test process.
fn playwright() -> PathBuf {
    static INSTALL: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    INSTALL
        .get_or_init(|| {
            super::npm::install("playwright", &repo().join("tools/playwright"), |dir| {
                let package = dir.join("node_modules/playwright-core/package.json");
                if package.is_file() { Ok(()) } else { Err(format!("{} is missing", package.display())) }
            })
        })
        .clone()
        .unwrap_or_else(|error| panic!("the pinned playwright-core cannot be installed: {error}"))
}

/// One browser; each named page is a context of its own (its own storage, like another person).
pub struct Browser {
    child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
    pub version: String,
}

impl Browser {
    pub async fn launch() -> Self {
        let executable = chromium();
        let install = playwright();
        let mut child = Command::new("node")
            .arg(repo().join("tests/browser/driver.cjs"))
            .env("PLAYWRIGHT_DIR", &install)
            .env("CHROMIUM", &executable)
            // playwright-core must not look for (or fetch) browsers of its own.
            .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("run node (the browser driver needs Node.js)");
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        let mut browser = Self { child, stdin, stdout, version: String::new() };
        let launched = browser.call(json!({ "op": "launch" })).await;
        browser.version = launched["version"].as_str().unwrap_or_default().to_owned();
        browser
    }

    /// Sends one command and returns its answer; a failed command fails the test.
    pub async fn call(&mut self, command: Json) -> Json {
        match self.try_call(command.clone()).await {
            Ok(answer) => answer,
            Err(error) => panic!("browser command {command} failed: {error}"),
        }
    }

    pub async fn try_call(&mut self, mut command: Json) -> Result<Json, String> {
        if command.get("timeout").is_none() {
            command["timeout"] = json!(PATIENCE.as_millis() as u64);
        }
        let mut line = command.to_string();
        line.push('\n');
        self.stdin.write_all(line.as_bytes()).await.map_err(|e| format!("the driver is gone: {e}"))?;
        let answer = tokio::time::timeout(PATIENCE + Duration::from_secs(10), self.stdout.next_line())
            .await
            .map_err(|_| "no answer from the driver".to_owned())?
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "the driver exited".to_owned())?;
        let answer: Json = serde_json::from_str(&answer).map_err(|e| format!("{e}: {answer}"))?;
        if answer["ok"] == true { Ok(answer) } else { Err(answer["error"].as_str().unwrap_or_default().to_owned()) }
    }

    pub async fn open(&mut self, page: &str, url: &str) {
        self.call(json!({ "op": "open", "page": page, "url": url })).await;
    }

    pub async fn fill(&mut self, page: &str, selector: &str, value: &str) {
        self.call(json!({ "op": "fill", "page": page, "selector": selector, "value": value })).await;
    }

    pub async fn click(&mut self, page: &str, selector: &str) {
        self.call(json!({ "op": "click", "page": page, "selector": selector })).await;
    }

    /// The text of every element `selector` matches.
    pub async fn texts(&mut self, page: &str, selector: &str) -> Vec<String> {
        let answer = self.call(json!({ "op": "texts", "page": page, "selector": selector })).await;
        serde_json::from_value(answer["texts"].clone()).unwrap_or_default()
    }

    /// Waits until some element `selector` matches contains `text`.
    pub async fn wait_includes(&mut self, page: &str, selector: &str, text: &str) {
        self.call(json!({ "op": "waitIncludes", "page": page, "selector": selector, "text": text })).await;
    }

    /// Waits until the elements `selector` matches show exactly `texts`, in order.
    pub async fn wait_equals(&mut self, page: &str, selector: &str, texts: &[&str]) {
        self.call(json!({ "op": "waitEquals", "page": page, "selector": selector, "texts": texts })).await;
    }

    /// The value of a JavaScript expression in the page (run by the driver, not by the page).
    pub async fn evaluate(&mut self, page: &str, expression: &str) -> Json {
        self.call(json!({ "op": "evaluate", "page": page, "expression": expression })).await["value"].clone()
    }

    pub async fn screenshot(&mut self, page: &str, path: &Path) {
        self.call(json!({ "op": "screenshot", "page": page, "path": path })).await;
    }

    /// The dialogs (`alert` and the like) the page opened, and its script errors and console
    /// errors (a Content-Security-Policy violation is one).
    pub async fn report(&mut self, page: &str) -> (Vec<String>, Vec<String>) {
        let answer = self.call(json!({ "op": "report", "page": page })).await;
        let list = |key: &str| serde_json::from_value(answer[key].clone()).unwrap_or_default();
        (list("dialogs"), list("errors"))
    }

    pub async fn close(&mut self, page: &str) {
        self.call(json!({ "op": "close", "page": page })).await;
    }

    /// Closes the browser and waits for the driver to exit.
    pub async fn quit(mut self) {
        let _ = self.try_call(json!({ "op": "quit" })).await;
        let _ = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
    }
}

//! Contract hygiene: the protos pass `buf lint` under proto/buf.yaml, and `buf breaking` finds
//! no incompatible change against the committed baseline image of the released contract
//! (proto/baseline/switchboard.binpb). And the guard is real: a copy of proto/ with a field
//! deleted, a field renumbered or an enum value renamed must fail `buf breaking`, naming the
//! change, and a copy with a badly named field or a new file that breaks a rule the released
//! files are excused from must fail `buf lint`.
//!
//! buf is the npm package `@bufbuild/buf` (the binary ships inside it), pinned exactly by
//! tools/buf/package-lock.json and installed on first use with `npm ci` into
//! `target/tools/buf` (again whenever tools/buf/package*.json change); nothing is installed
//! system-wide. If npm is missing or the install fails, these tests fail; they never skip.

mod common;

use std::{
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
    sync::OnceLock,
};

/// The committed baseline image, relative to proto/.
const BASELINE: &str = "baseline/switchboard.binpb";

fn repo_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn proto_dir() -> PathBuf {
    repo_dir().join("proto")
}

fn describe(what: &str, output: &Output) -> String {
    format!(
        "{what}: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn run(command: &mut Command, what: &str) -> Result<Output, String> {
    let output =
        command.stdin(Stdio::null()).output().map_err(|error| format!("{what}: cannot run {command:?}: {error}"))?;
    if output.status.success() { Ok(output) } else { Err(describe(what, &output)) }
}

// ---------------------------------------------------------------------------------------------
// Installing buf
// ---------------------------------------------------------------------------------------------

/// The version tools/buf/package.json pins.
fn pinned_version() -> String {
    let path = repo_dir().join("tools/buf/package.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    let json: serde_json::Value = serde_json::from_str(&text).expect("tools/buf/package.json is JSON");
    json["dependencies"]["@bufbuild/buf"].as_str().expect("tools/buf/package.json pins @bufbuild/buf").to_owned()
}

/// The buf launcher, installed on first call (once per process: every later call, from any
/// thread, waits for and shares that result).
fn buf() -> PathBuf {
    static BUF: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BUF.get_or_init(install_buf).clone().unwrap_or_else(|error| panic!("the pinned buf cannot be installed: {error}"))
}

/// `node_modules/@bufbuild/buf/bin/buf` is a small Node launcher that runs the platform's
/// binary from the matching optional package (`@bufbuild/buf-linux-x64` and so on).
fn launcher(install: &Path) -> PathBuf {
    install.join("node_modules/@bufbuild/buf/bin/buf")
}

fn install_buf() -> Result<PathBuf, String> {
    // `npm ci --ignore-scripts`: @bufbuild/buf's postinstall only swaps the launcher for a link
    // to the native binary (an optimisation); without it the install runs no third-party code.
    let install = common::npm::install("buf", &repo_dir().join("tools/buf"), |dir| check_version(&launcher(dir)))?;
    check_version(&launcher(&install))?;
    Ok(launcher(&install))
}

/// Runs `buf --version`: proves the binary runs here and is the pinned release.
fn check_version(buf: &Path) -> Result<(), String> {
    let output = run(Command::new(buf).arg("--version"), "buf --version")?;
    let version = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let pinned = pinned_version();
    if version == pinned { Ok(()) } else { Err(format!("{} is buf {version}, not the pinned {pinned}", buf.display())) }
}

// ---------------------------------------------------------------------------------------------
// Running buf
// ---------------------------------------------------------------------------------------------

/// One finding of `buf lint` or `buf breaking` (`--error-format=json`, one object a line).
#[derive(Debug)]
struct Finding {
    path: String,
    rule: String,
    message: String,
}

impl Finding {
    fn parse(line: &str) -> Result<Self, String> {
        let json: serde_json::Value = serde_json::from_str(line).map_err(|error| error.to_string())?;
        let field =
            |name: &str| json[name].as_str().map(str::to_owned).ok_or_else(|| format!("no string {name:?} in {json}"));
        Ok(Self { path: field("path")?, rule: field("type")?, message: field("message")? })
    }
}

/// Runs `buf <args> --error-format=json` in `dir` (a proto/ tree with its buf.yaml), and
/// returns whether it passed, with its findings.
fn buf_in(dir: &Path, args: &[&str]) -> (bool, Vec<Finding>, Output) {
    let output = Command::new(buf())
        .args(args)
        .arg("--error-format=json")
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|error| panic!("cannot run buf {args:?}: {error}"));
    let findings = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            Finding::parse(line).unwrap_or_else(|error| panic!("buf {args:?} printed {line:?}, not a finding: {error}"))
        })
        .collect();
    (output.status.success(), findings, output)
}

fn lint(dir: &Path) -> (bool, Vec<Finding>, Output) {
    buf_in(dir, &["lint"])
}

fn breaking(dir: &Path) -> (bool, Vec<Finding>, Output) {
    buf_in(dir, &["breaking", "--against", BASELINE])
}

/// A copy of proto/ (buf.yaml and the baseline included) in a temporary directory under
/// target/tmp, for a test to change.
fn proto_copy() -> tempfile::TempDir {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap_or_else(|error| panic!("cannot create {}: {error}", to.display()));
        for entry in std::fs::read_dir(from).unwrap_or_else(|error| panic!("cannot read {}: {error}", from.display())) {
            let entry = entry.expect("a directory entry");
            let target = to.join(entry.file_name());
            if entry.file_type().expect("a file type").is_dir() {
                copy(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), &target)
                    .unwrap_or_else(|error| panic!("cannot copy {}: {error}", entry.path().display()));
            }
        }
    }
    let dir = tempfile::Builder::new()
        .prefix("contract-proto-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("a temporary directory");
    copy(&proto_dir(), dir.path());
    dir
}

/// Replaces the one occurrence of `from` in `dir/file` with `to`. Fails if `from` is not there
/// exactly once, so a test cannot silently stop making its change when the proto moves on.
fn edit(dir: &Path, file: &str, from: &str, to: &str) {
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    assert_eq!(text.matches(from).count(), 1, "{file} should contain {from:?} exactly once");
    std::fs::write(&path, text.replacen(from, to, 1)).expect("write the edited proto");
}

/// Asserts that buf failed with a finding of `rule` in `path` whose message contains every
/// one of `words`.
fn assert_found(result: &(bool, Vec<Finding>, Output), what: &str, rule: &str, path: &str, words: &[&str]) {
    let (passed, findings, output) = result;
    assert!(!passed, "{what} passed, but it should have failed with {rule}: {}", describe(what, output));
    assert!(
        findings.iter().any(|finding| finding.rule == rule
            && finding.path == path
            && words.iter().all(|word| finding.message.contains(word))),
        "{what} should report {rule} in {path} naming {words:?}, but found {findings:#?}"
    );
}

// ---------------------------------------------------------------------------------------------
// The checks on proto/ as it is
// ---------------------------------------------------------------------------------------------

#[test]
fn the_pinned_buf_runs() {
    // check_version has run during the install; this names the failure if it cannot.
    check_version(&buf()).unwrap();
}

#[test]
fn protos_pass_buf_lint() {
    let (passed, findings, output) = lint(&proto_dir());
    assert!(passed && findings.is_empty(), "buf lint: {findings:#?}\n{}", describe("buf lint", &output));
}

#[test]
fn protos_have_no_breaking_change_against_the_baseline() {
    assert!(proto_dir().join(BASELINE).is_file(), "proto/{BASELINE} is missing");
    let (passed, findings, output) = breaking(&proto_dir());
    assert!(passed && findings.is_empty(), "buf breaking: {findings:#?}\n{}", describe("buf breaking", &output));
}

// ---------------------------------------------------------------------------------------------
// The checks catch what they are for
// ---------------------------------------------------------------------------------------------

#[test]
fn breaking_catches_a_deleted_field() {
    let copy = proto_copy();
    edit(copy.path(), "switchboard/v1/users.proto", "  string email = 3;\n", "");
    assert_found(
        &breaking(copy.path()),
        "buf breaking after deleting User.email",
        "FIELD_NO_DELETE",
        "switchboard/v1/users.proto",
        &["\"email\"", "\"User\""],
    );
}

#[test]
fn breaking_catches_a_renumbered_field() {
    let copy = proto_copy();
    edit(copy.path(), "switchboard/v1/users.proto", "  int32 age = 4;\n", "  int32 age = 7;\n");
    assert_found(
        &breaking(copy.path()),
        "buf breaking after moving User.age from 4 to 7",
        "FIELD_NO_DELETE",
        "switchboard/v1/users.proto",
        &["\"4\"", "\"age\"", "\"User\""],
    );
}

#[test]
fn breaking_catches_a_renamed_enum_value() {
    // The rename ENUM_VALUE_PREFIX asks for, and why buf.yaml excuses it instead: the number is
    // unchanged, but JSON and every generated client carry the name.
    let copy = proto_copy();
    edit(copy.path(), "switchboard/v1/payments.proto", "  SUCCEEDED = 1;", "  PAYMENT_STATUS_SUCCEEDED = 1;");
    assert_found(
        &breaking(copy.path()),
        "buf breaking after renaming PaymentStatus.SUCCEEDED",
        "ENUM_VALUE_SAME_NAME",
        "switchboard/v1/payments.proto",
        &["\"SUCCEEDED\"", "\"PAYMENT_STATUS_SUCCEEDED\""],
    );
}

#[test]
fn lint_catches_a_badly_named_field() {
    let copy = proto_copy();
    edit(copy.path(), "switchboard/v1/users.proto", "  int32 age = 4;\n", "  int32 age = 4;\n  string nickName = 7;\n");
    assert_found(
        &lint(copy.path()),
        "buf lint after adding User.nickName",
        "FIELD_LOWER_SNAKE_CASE",
        "switchboard/v1/users.proto",
        &["nickName"],
    );
}

#[test]
fn lint_exceptions_do_not_reach_new_files() {
    // buf.yaml excuses the released files by name: a new file gets every rule, including the
    // ones the released files are excused from.
    let copy = proto_copy();
    let new_file = "switchboard/v1/notes.proto";
    std::fs::write(
        copy.path().join(new_file),
        r#"syntax = "proto3";

package switchboard.v1;

// Notes.
service NoteService {
  // Gets a note.
  rpc GetNote(GetNoteRequest) returns (Note);
}

// Request for GetNote.
message GetNoteRequest {
  // The note's id.
  int64 id = 1;
}

// A note.
message Note {
  // The note's id.
  int64 id = 1;
  // How it was written.
  Style style = 2;
}

// How a note was written.
enum Style {
  // Not set.
  STYLE_UNSPECIFIED = 0;
  // By hand.
  HANDWRITTEN = 1;
}
"#,
    )
    .expect("write the new proto");
    let result = lint(copy.path());
    assert_found(&result, "buf lint of a new file", "RPC_RESPONSE_STANDARD_NAME", new_file, &["\"Note\""]);
    assert_found(&result, "buf lint of a new file", "ENUM_VALUE_PREFIX", new_file, &["HANDWRITTEN"]);
}

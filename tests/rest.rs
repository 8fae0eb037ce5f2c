//! The HTTP front door with the real curl, as the README shows it: REST routes from the
//! protos' `google.api.http` rules, through the same layers as gRPC (auth, rate limit,
//! request id, access log), HTTP/1.1 and h2c, and bad input answered with a
//! `google.rpc.Status` body and nothing stored.

mod common;

use std::{net::SocketAddr, process::Command, time::Duration};

use common::{API_KEY, TestServer, child::ChildServer, child::json_field, test_config};
use serde_json::Value as Json;
use switchboard::pb::GetUserRequest;

/// One curl exchange: status, headers (lower-case names) and body.
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn json(&self) -> Json {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// Runs `curl -sS -i <args>` and parses what it printed. Blocking: the tests run the server on
/// a multi-threaded runtime, so it keeps serving while the test thread waits.
fn curl(args: &[&str]) -> Reply {
    let output = Command::new("curl")
        .args(["-sS", "-i", "--max-time", "20"])
        .args(args)
        .output()
        .expect("curl is installed (Debian package curl)");
    assert!(output.status.success(), "curl {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8(output.stdout).expect("UTF-8 reply");
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines.next().and_then(|l| l.split_whitespace().nth(1)).and_then(|s| s.parse().ok()).unwrap_or(0);
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Reply { status, headers, body: body.to_owned() }
}

fn url(addr: SocketAddr, path: &str) -> String {
    format!("http://{addr}{path}")
}

async fn server() -> (TestServer, SocketAddr) {
    let server = TestServer::start_with(test_config()).await;
    let http = server.server.http_addr().expect("the HTTP listener is on");
    (server, http)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_service_answers_over_rest_as_the_readme_shows() {
    let (server, http) = server().await;
    let json = ["-H", "content-type: application/json"];

    let created = curl(
        &[
            &json[..],
            &[
                "-X",
                "POST",
                &url(http, "/v1/users"),
                "-d",
                r#"{"username":"alice","email":"alice@example.com","age":30}"#,
            ],
        ]
        .concat(),
    );
    assert_eq!(created.status, 200, "{}", created.body);
    let user = created.json();
    let id = user["id"].as_str().expect("int64 ids are JSON strings").to_owned();
    assert_eq!(user["username"], "alice");
    assert!(user["create_time"].as_str().unwrap().ends_with('Z'), "RFC 3339 timestamps: {user}");
    // The gRPC port sees the very same user.
    let via_grpc = server.users().get_user(GetUserRequest { id: id.parse().unwrap() }).await.unwrap().into_inner();
    assert_eq!(via_grpc.email, "alice@example.com");

    let fetched = curl(&[&url(http, &format!("/v1/users/{id}"))]);
    assert_eq!((fetched.status, fetched.json()["email"].clone()), (200, Json::from("alice@example.com")));
    let listed = curl(&[&url(http, "/v1/users?page_size=10&query=ali")]);
    assert_eq!(listed.json()["users"][0]["id"], id.as_str());
    // PATCH without update_mask: the mask is the fields the body sets.
    let patched =
        curl(&[&json[..], &["-X", "PATCH", &url(http, &format!("/v1/users/{id}")), "-d", r#"{"age":31}"#]].concat());
    assert_eq!(
        (patched.status, patched.json()["age"].clone(), patched.json()["email"].clone()),
        (200, 31.into(), "alice@example.com".into())
    );

    let set =
        curl(&[&json[..], &["-X", "PUT", &url(http, "/v1/kv/config/colour"), "-d", r#"{"value":"blue"}"#]].concat());
    assert_eq!((set.status, set.json()["replaced"].clone()), (200, Json::Bool(false)));
    let got = curl(&[&url(http, "/v1/kv/config/colour")]);
    assert_eq!(got.json(), serde_json::json!({"key": "config/colour", "value": "blue"}));
    assert_eq!(curl(&[&url(http, "/v1/kv?prefix=config/")]).json()["keys"], serde_json::json!(["config/colour"]));

    let pay = |key: &str, amount: u32| {
        curl(
            &[
                &json[..],
                &["-H", &format!("x-api-key: {API_KEY}"), "-H", &format!("idempotency-key: {key}"), "-X", "POST"],
                &[
                    &url(http, "/v1/payments"),
                    "-d",
                    &format!(r#"{{"amount_minor":{amount},"currency":"USD","customer_id":"cust_1"}}"#),
                ],
            ]
            .concat(),
        )
    };
    let first = pay("order-1", 9999);
    assert_eq!((first.status, first.json()["status"].clone()), (200, "SUCCEEDED".into()), "{}", first.body);
    assert_eq!(first.json()["amount_minor"], "9999", "int64 as a string");
    let again = pay("order-1", 9999);
    assert_eq!(again.json()["id"], first.json()["id"], "a retry with the same key is the same payment");
    let conflicting = pay("order-1", 5000);
    assert!((400..500).contains(&conflicting.status), "same key, other request: {}", conflicting.body);
    let payment_id = first.json()["id"].as_str().unwrap().to_owned();
    let refund = curl(
        &[
            &json[..],
            &["-H", &format!("x-api-key: {API_KEY}"), "-H", "idempotency-key: refund-1", "-X", "POST"],
            &[
                &url(http, &format!("/v1/payments/{payment_id}:refund")),
                "-d",
                r#"{"amount_minor":2500,"reason":"damaged"}"#,
            ],
        ]
        .concat(),
    );
    assert_eq!(
        (refund.status, refund.json()["payment"]["status"].clone()),
        (200, "PARTIALLY_REFUNDED".into()),
        "{}",
        refund.body
    );

    let upload = curl(&[
        "-X",
        "PUT",
        "-H",
        "content-type: text/plain",
        "--data-binary",
        "hello world\n",
        &url(http, "/v1/files/hello.txt"),
    ]);
    assert_eq!((upload.status, upload.json()["size"].clone()), (200, "12".into()), "{}", upload.body);
    let download = curl(&[&url(http, "/v1/files/hello.txt")]);
    assert_eq!((download.status, download.body.as_str()), (200, "hello world\n"));
    assert_eq!(download.header("content-type"), Some("text/plain"));
    assert_eq!(download.header("content-length"), Some("12"));

    assert_eq!(
        curl(&[&json[..], &["-X", "POST", &url(http, "/v1/echo"), "-d", r#"{"message":"hi"}"#]].concat()).json()["message"],
        "hi"
    );
    assert_eq!(curl(&[&url(http, "/v1/ping")]).status, 200);
    assert_eq!(curl(&[&url(http, "/v1/chat/members")]).json(), serde_json::json!({"names": []}));

    // HTTP/2 without TLS (h2c), as gRPC clients' HTTP stacks speak it.
    let h2 = curl(&["--http2-prior-knowledge", &url(http, &format!("/v1/users/{id}"))]);
    assert_eq!(h2.status, 200);
    assert_eq!(h2.json()["username"], "alice");

    let deleted = curl(&["-X", "DELETE", &url(http, &format!("/v1/users/{id}"))]);
    assert_eq!((deleted.status, deleted.body.as_str()), (200, "{}"));
    assert_eq!(curl(&[&url(http, &format!("/v1/users/{id}"))]).status, 404);
    server.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_status_body_and_stores_nothing() {
    let mut config = test_config();
    config.max_message_bytes = 4096;
    let server = TestServer::start_with(config).await;
    let http = server.server.http_addr().unwrap();
    let post_user = |content_type: &str, body: &str| {
        curl(&["-X", "POST", "-H", &format!("content-type: {content_type}"), &url(http, "/v1/users"), "-d", body])
    };
    let big = format!(r#"{{"username":"{}","email":"a@b.co","age":1}}"#, "x".repeat(5000));
    let cases = [
        ("malformed JSON", post_user("application/json", "{\"username\":"), 400, "not valid JSON"),
        ("unknown field", post_user("application/json", r#"{"username":"u","colour":"red"}"#), 400, "colour"),
        ("wrong content type", post_user("text/plain", r#"{"username":"u"}"#), 415, "must be JSON"),
        ("too large", post_user("application/json", &big), 413, "larger than the limit of 4096"),
        ("invalid user", post_user("application/json", r#"{"username":"","email":"nope","age":200}"#), 400, "user.age"),
        ("unknown path", curl(&[&url(http, "/v1/nothing")]), 404, "no route"),
        ("wrong method", curl(&["-X", "PUT", &url(http, "/v1/users")]), 405, "takes GET, POST"),
        ("unknown query parameter", curl(&[&url(http, "/v1/users?colour=red")]), 400, "colour"),
        ("id not a number", curl(&[&url(http, "/v1/users/abc")]), 400, "invalid request"),
        (
            "traversal",
            curl(&["-X", "PUT", "--data-binary", "x", &url(http, "/v1/files/..%2Fetc%2Fpasswd")]),
            400,
            "name",
        ),
        (
            "no API key",
            curl(&["-X", "POST", "-H", "content-type: application/json", &url(http, "/v1/payments"), "-d", "{}"]),
            401,
            "API key",
        ),
        ("bad timeout", curl(&["-H", "x-request-timeout: soon", &url(http, "/v1/ping")]), 400, "x-request-timeout"),
    ];
    for (what, reply, status, needle) in cases {
        assert_eq!(reply.status, status, "{what}: {}", reply.body);
        assert_eq!(reply.header("content-type"), Some("application/json"), "{what}");
        let body = reply.json();
        assert!(body["code"].as_i64().is_some_and(|c| c > 0), "{what}: google.rpc.Status code in {body}");
        assert!(body["message"].as_str().unwrap().contains(needle), "{what}: {body}");
    }
    assert_eq!(curl(&["-X", "PUT", &url(http, "/v1/users")]).header("allow"), Some("GET, POST"));
    let invalid = post_user("application/json", r#"{"username":"","email":"a@b.co","age":1}"#).json();
    assert_eq!(invalid["details"][0]["@type"], "type.googleapis.com/google.rpc.BadRequest");
    assert_eq!(invalid["details"][0]["field_violations"][0]["field"], "user.username");
    // Nothing of the above was stored.
    assert_eq!(curl(&[&url(http, "/v1/users")]).json()["users"], serde_json::json!([]));
    assert_eq!(curl(&[&url(http, "/v1/files")]).json()["files"], serde_json::json!([]));
    server.server.shutdown().await;
}

/// The layers are the gRPC port's: a bearer token, the rate limit, the request id and one
/// access line per call in the same format.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_calls_pass_the_same_layers_as_grpc() {
    let mut server = ChildServer::start(&[
        "--storage",
        "memory",
        "--auth-token",
        "s3cret",
        "--rate-limit-per-second",
        "1",
        "--rate-limit-burst",
        "3",
    ])
    .await;
    let listening = server.wait_for_log(Duration::from_secs(10), |line| json_field(line, "http_addr").is_some()).await;
    let http: SocketAddr = json_field(&listening, "http_addr").unwrap().parse().unwrap();

    let denied = curl(&["-H", "x-request-id: rest-denied-1", &url(http, "/v1/ping")]);
    assert_eq!(denied.status, 401, "{}", denied.body);
    assert_eq!(denied.header("x-request-id"), Some("rest-denied-1"));
    let allowed =
        curl(&["-H", "authorization: Bearer s3cret", "-H", "x-request-id: rest-call-1", &url(http, "/v1/ping")]);
    assert_eq!(allowed.status, 200, "{}", allowed.body);
    assert_eq!(allowed.header("x-request-id"), Some("rest-call-1"), "the caller's request id is echoed");

    let line = server
        .wait_for_log(Duration::from_secs(10), |line| line.contains("rest-call-1") && line.contains("call finished"))
        .await;
    assert_eq!(json_field(&line, "method"), Some("/switchboard.v1.EchoService/Ping"));
    assert_eq!(json_field(&line, "code"), Some("OK"));
    assert!(json_field(&line, "peer").is_some_and(|p| p.starts_with("127.0.0.1:")), "{line}");

    // The bucket held 3; the 4th call within the second is refused with a hint.
    let mut limited = None;
    for _ in 0..6 {
        let reply = curl(&["-H", "authorization: Bearer s3cret", &url(http, "/v1/ping")]);
        if reply.status == 429 {
            limited = Some(reply);
            break;
        }
    }
    let limited = limited.expect("the rate limit applies to REST calls");
    assert!(limited.header("retry-after").is_some_and(|s| s.parse::<u64>().is_ok()), "{:?}", limited.headers);
    assert_eq!(limited.json()["details"][0]["@type"], "type.googleapis.com/google.rpc.RetryInfo");
    server.kill().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_lists_every_route_and_off_turns_the_port_off() {
    let (server, http) = server().await;
    let document = curl(&[&url(http, "/openapi.json")]);
    assert_eq!(document.status, 200);
    let document = document.json();
    assert_eq!(document["openapi"], "3.1.0");
    let printed = Command::new(env!("CARGO_BIN_EXE_switchboard")).arg("--print-openapi").output().unwrap();
    assert_eq!(
        serde_json::from_slice::<Json>(&printed.stdout).unwrap(),
        document,
        "--print-openapi prints what is served"
    );
    let paths = document["paths"].as_object().unwrap();
    for (path, method) in [
        ("/v1/users/{id}", "patch"),
        ("/v1/kv/{key}", "put"),
        ("/v1/kv:watch", "get"),
        ("/v1/payments/{payment_id}:refund", "post"),
        ("/v1/files/{name}", "put"),
        ("/v1/chat/events", "get"),
    ] {
        assert!(paths.get(path).and_then(|p| p.get(method)).is_some(), "{method} {path} missing");
    }
    assert_eq!(
        paths["/v1/payments"]["post"]["security"],
        serde_json::json!([{"apiKey": []}]),
        "payments declare their API key"
    );
    server.server.shutdown().await;

    let mut config = test_config();
    config.http_listen = switchboard::config::LegacyListen::OFF;
    let off = TestServer::start_with(config).await;
    assert_eq!(off.server.http_addr(), None);
    off.server.shutdown().await;
}

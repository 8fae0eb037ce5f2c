//! `/metrics` on the admin port: valid Prometheus text whose counters move with the calls.

mod common;

use std::{collections::HashMap, net::SocketAddr, time::Duration};

use common::{TestServer, test_config};
use switchboard::pb::{ChatRequest, EchoRequest, Join, SetRequest, chat_request::Action};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    sync::mpsc,
};
use tokio_stream::{StreamExt, wrappers::ReceiverStream};

/// `GET <path>` over a fresh connection; returns (status line, body).
async fn http_get(addr: SocketAddr, path: &str) -> (String, String) {
    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    socket.write_all(format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").as_bytes()).await.unwrap();
    let mut response = String::new();
    tokio::time::timeout(Duration::from_secs(10), socket.read_to_string(&mut response)).await.unwrap().unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    (head.lines().next().unwrap().to_owned(), body.to_owned())
}

/// Scrapes and parses strictly; returns every sample as `name{sorted labels}` → value.
async fn scrape(addr: SocketAddr) -> HashMap<String, f64> {
    let (status, body) = http_get(addr, "/metrics").await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    let scrape = prometheus_parse::Scrape::parse(body.lines().map(|line| Ok(line.to_owned())))
        .unwrap_or_else(|error| panic!("not Prometheus text: {error}\n{body}"));
    assert!(!scrape.samples.is_empty());
    // prometheus-parse skips what it does not understand; check every line strictly too.
    for line in body.lines().filter(|line| !line.is_empty()) {
        assert!(is_valid_line(line), "not a valid exposition line: {line:?}");
    }
    scrape
        .samples
        .into_iter()
        .map(|sample| {
            let mut labels: Vec<String> = sample.labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
            labels.sort();
            let value = match sample.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => v,
                prometheus_parse::Value::Histogram(buckets) => buckets.last().map_or(0.0, |b| b.count),
                prometheus_parse::Value::Summary(_) => 0.0,
            };
            (format!("{}{{{}}}", sample.metric, labels.join(",")), value)
        })
        .collect()
}

/// `# HELP name text`, `# TYPE name kind`, or `name{label="value",…} number`.
fn is_valid_line(line: &str) -> bool {
    let valid_name = |name: &str| {
        name.chars()
            .enumerate()
            .all(|(i, c)| c.is_ascii_alphabetic() || c == '_' || c == ':' || (i > 0 && c.is_ascii_digit()))
            && !name.is_empty()
    };
    if let Some(rest) = line.strip_prefix("# HELP ") {
        return rest.split_once(' ').is_some_and(|(name, _)| valid_name(name));
    }
    if let Some(rest) = line.strip_prefix("# TYPE ") {
        return rest.split_once(' ').is_some_and(|(name, kind)| {
            valid_name(name) && ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind)
        });
    }
    let Some((series, number)) = line.rsplit_once(' ') else { return false };
    let number_ok = number.parse::<f64>().is_ok() || ["+Inf", "-Inf", "NaN"].contains(&number);
    let series_ok = match series.split_once('{') {
        None => valid_name(series),
        Some((name, labels)) => {
            valid_name(name)
                && labels.strip_suffix('}').is_some_and(|labels| {
                    labels.is_empty()
                        || labels
                            .split("\",")
                            .all(|pair| pair.split_once("=\"").is_some_and(|(label, _)| valid_name(label)))
                })
        }
    };
    number_ok && series_ok
}

fn value(samples: &HashMap<String, f64>, key: &str) -> f64 {
    samples.get(key).copied().unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_parse_and_move_with_calls() {
    let mut config = test_config();
    config.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    let server = TestServer::start_with(config).await;
    let admin = server.server.metrics_addr().expect("the metrics listener is on");

    let echo_ok = r#"switchboard_grpc_requests_total{code="OK",method="/switchboard.v1.EchoService/Echo"}"#;
    let kv_bad = r#"switchboard_grpc_requests_total{code="INVALID_ARGUMENT",method="/switchboard.v1.KvService/Set"}"#;
    // A connection counts once it has sent its first request (see --first-request-timeout).
    server.echo().echo(EchoRequest { message: "open".into() }).await.unwrap();
    let before = scrape(admin).await;
    assert!(value(&before, r#"switchboard_open_connections{protocol="grpc"}"#) >= 1.0, "{before:?}");

    for _ in 0..3 {
        server.echo().echo(EchoRequest { message: "count me".into() }).await.unwrap();
    }
    let _ = server.kv().set(SetRequest { key: "has space".into(), value: "v".into() }).await.unwrap_err();

    // A chat member in the room and its open stream.
    let (say, said) = mpsc::channel(4);
    say.send(ChatRequest { action: Some(Action::Join(Join { name: "metered".into() })) }).await.unwrap();
    let mut events = server.chat().chat(ReceiverStream::new(said)).await.unwrap().into_inner();
    events.next().await.unwrap().unwrap();

    let after = scrape(admin).await;
    assert_eq!(value(&after, echo_ok) - value(&before, echo_ok), 3.0, "{after:?}");
    assert_eq!(value(&after, kv_bad) - value(&before, kv_bad), 1.0);
    let latency = r#"switchboard_grpc_request_duration_seconds_count{method="/switchboard.v1.EchoService/Echo"}"#;
    let histogram = r#"switchboard_grpc_request_duration_seconds{method="/switchboard.v1.EchoService/Echo"}"#;
    assert!(value(&after, latency) >= 3.0 || value(&after, histogram) >= 3.0, "latency histogram: {after:?}");
    assert_eq!(value(&after, "switchboard_chat_members{}"), 1.0);
    assert!(value(&after, r#"switchboard_open_streams{protocol="grpc"}"#) >= 1.0);
    assert!(
        after.keys().any(|k| k.starts_with("switchboard_rate_limited_total") || k == "switchboard_load_shed_total{}")
    );
    let commits = r#"switchboard_storage_commit_duration_seconds{store="kv"}"#;
    server.kv().set(SetRequest { key: "k".into(), value: "v".into() }).await.unwrap();
    let later = scrape(admin).await;
    assert_eq!(value(&later, commits) - value(&after, commits), 1.0, "a KV write is one timed commit: {later:?}");

    // Unknown paths are not a way to make new series.
    let (status, _) = http_get(admin, "/other").await;
    assert_eq!(status, "HTTP/1.1 404 Not Found");
    drop(say);
}

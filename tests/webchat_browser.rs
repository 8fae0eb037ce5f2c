//! The web chat page in a real headless Chromium (see `common::browser`): browser members in
//! one room with a telnet member and a gRPC member; a graceful stop shown on the page and the
//! page rejoining by itself after a restart; names and texts rendered as text; a page of a
//! foreign origin refused. The protocol-level checks are in `webchat.rs`.
//!
//! `SWITCHBOARD_SCREENSHOT=docs/webchat.png cargo test --test webchat_browser two_browsers`
//! refreshes the README's screenshot (taken mid-conversation by the first test); without it the
//! screenshot goes to `target/tmp/` only.

mod common;

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use common::{TestServer, browser::Browser, child::ChildServer, raw::Raw};
use switchboard::{
    legacy::Protocol,
    pb::{
        ChatEvent, ChatRequest, Join, LeaveReason, ListMembersRequest, Say, chat_event::Event, chat_request::Action,
        chat_service_client::ChatServiceClient,
    },
};
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    sync::mpsc,
};
use tokio_stream::wrappers::ReceiverStream;
use tonic::Streaming;

const PATIENCE: Duration = Duration::from_secs(20);
/// Chat messages on the page: `time from text` as text.
const MESSAGES: &str = "#messages li.message";
/// Notices on the page: joins, leaves, the drain, errors.
const NOTICES: &str = "#messages li.notice .text";
/// The members of the last "Connected users" list on the page.
const USERS_LISTED: &str = "#messages li.users:last-child li";

async fn join(browser: &mut Browser, page: &str, name: &str) {
    browser.fill(page, "#name", name).await;
    browser.click(page, "#join").await;
    let connected = format!("Connected as {name}");
    let waited = browser
        .try_call(
            serde_json::json!({ "op": "waitEquals", "page": page, "selector": "#connection", "texts": [connected] }),
        )
        .await;
    if let Err(error) = waited {
        let refused = browser.texts(page, "#join-error").await;
        panic!("{page} did not join as {name:?}: {error}; the page says {refused:?}");
    }
}

async fn say(browser: &mut Browser, page: &str, text: &str) {
    browser.fill(page, "#text", text).await;
    browser.click(page, "#send").await;
}

/// A gRPC member: its request sender, and its event stream past the welcome, whose member
/// list is returned.
async fn grpc_member(
    client: &mut ChatServiceClient<tonic::transport::Channel>,
    name: &str,
) -> (mpsc::Sender<ChatRequest>, Streaming<ChatEvent>, Vec<String>) {
    let (tx, rx) = mpsc::channel(16);
    tx.send(ChatRequest { action: Some(Action::Join(Join { name: name.into() })) }).await.unwrap();
    let mut events = client.chat(ReceiverStream::new(rx)).await.expect("the call starts").into_inner();
    match grpc_until(&mut events, |event| matches!(event, Event::Welcome(_))).await {
        Event::Welcome(welcome) => (tx, events, welcome.members),
        _ => unreachable!(),
    }
}

/// The next event of the gRPC member that satisfies `wanted`, skipping others.
async fn grpc_until(events: &mut Streaming<ChatEvent>, wanted: impl Fn(&Event) -> bool) -> Event {
    loop {
        let event = tokio::time::timeout(PATIENCE, events.message())
            .await
            .expect("an event in time")
            .expect("the stream goes on")
            .expect("an event")
            .event
            .expect("a set event");
        if wanted(&event) {
            return event;
        }
    }
}

fn message(from: &'static str, text: &'static str) -> impl Fn(&Event) -> bool {
    move |event| matches!(event, Event::Message(m) if m.from == from && m.text == text)
}

fn left(name: &'static str, reason: LeaveReason) -> impl Fn(&Event) -> bool {
    move |event| matches!(event, Event::MemberLeft(l) if l.name == name && l.reason == reason as i32)
}

/// No dialog opened, no script error, no Content-Security-Policy violation on `page`; errors
/// `expected` accepts (a refused connection while the server is away) aside.
async fn assert_clean(browser: &mut Browser, page: &str, expected: impl Fn(&str) -> bool) {
    let (dialogs, errors) = browser.report(page).await;
    assert!(dialogs.is_empty(), "{page} opened dialogs: {dialogs:?}");
    let errors: Vec<&String> = errors.iter().filter(|error| !expected(error)).collect();
    assert!(errors.is_empty(), "{page} logged errors: {errors:?}");
}

fn none(_: &str) -> bool {
    false
}

#[tokio::test]
async fn two_browsers_a_telnet_and_a_grpc_member_talk_in_one_room() {
    let server = TestServer::start().await;
    let url = format!("http://{}/chat", server.server.http_addr().unwrap());
    let mut browser = Browser::launch().await;

    browser.open("ada", &url).await;
    join(&mut browser, "ada", "ada").await;
    browser.wait_includes("ada", NOTICES, "Welcome to the chat, ada!").await;
    browser.open("bea", &url).await;
    join(&mut browser, "bea", "bea").await;
    browser.wait_includes("ada", NOTICES, "*** bea joined the chat ***").await;
    for page in ["ada", "bea"] {
        browser.wait_equals(page, "#members li", &["ada", "bea"]).await;
    }

    let mut carl = Raw::chat(server.legacy(Protocol::Chat), "carl").await;
    let mut grpc = server.chat();
    let (dora, mut dora_events, members_at_join) = grpc_member(&mut grpc, "dora").await;
    assert_eq!(members_at_join, ["ada", "bea", "carl", "dora"]);
    carl.expect(b"*** dora joined the chat ***\n").await;
    for page in ["ada", "bea"] {
        browser.wait_includes(page, NOTICES, "*** carl joined the chat ***").await;
        browser.wait_includes(page, NOTICES, "*** dora joined the chat ***").await;
        browser.wait_equals(page, "#members li", &["ada", "bea", "carl", "dora"]).await;
        browser.wait_equals(page, "#member-count", &["(4)"]).await;
    }

    // Each kind of member speaks; every other kind hears it.
    say(&mut browser, "ada", "hello from a browser").await;
    browser.wait_includes("bea", MESSAGES, "ada hello from a browser").await;
    carl.expect(b"[ada] hello from a browser\n").await;
    grpc_until(&mut dora_events, message("ada", "hello from a browser")).await;

    carl.send(b"hi from telnet\n").await;
    carl.expect(b"[carl] hi from telnet\n").await;
    grpc_until(&mut dora_events, message("carl", "hi from telnet")).await;

    dora.send(ChatRequest { action: Some(Action::Say(Say { text: "hi from gRPC".into() })) }).await.unwrap();
    carl.expect(b"[dora] hi from gRPC\n").await;
    grpc_until(&mut dora_events, message("dora", "hi from gRPC")).await;

    say(&mut browser, "bea", "welcome, everyone").await;
    carl.expect(b"[bea] welcome, everyone\n").await;
    grpc_until(&mut dora_events, message("bea", "welcome, everyone")).await;
    for page in ["ada", "bea"] {
        browser
            .wait_equals(
                page,
                &format!("{MESSAGES} .text"),
                &["hello from a browser", "hi from telnet", "hi from gRPC", "welcome, everyone"],
            )
            .await;
    }
    browser.wait_equals("ada", &format!("{MESSAGES} .from"), &["ada", "carl", "dora", "bea"]).await;

    // The member list, asked four ways: the button, the typed `/users`, telnet, gRPC.
    browser.click("bea", "#who").await;
    browser.wait_equals("bea", USERS_LISTED, &["ada", "bea", "carl", "dora"]).await;
    say(&mut browser, "ada", "/users").await;
    browser.wait_equals("ada", USERS_LISTED, &["ada", "bea", "carl", "dora"]).await;
    carl.send(b"/users\n").await;
    carl.expect(b"Connected users:\n  - ada\n  - bea\n  - carl\n  - dora\n\n").await;
    dora.send(ChatRequest { action: Some(Action::ListMembers(ListMembersRequest {})) }).await.unwrap();
    match grpc_until(&mut dora_events, |event| matches!(event, Event::Members(_))).await {
        Event::Members(list) => assert_eq!(list.names, ["ada", "bea", "carl", "dora"]),
        _ => unreachable!(),
    }

    // The server panel: every service's health, and the room's size.
    browser.wait_equals("ada", "#server-status", &["SERVING"]).await;
    browser.wait_equals("ada", "#room-count", &["4"]).await;
    browser.wait_equals("ada", "#services td[data-status]", &["SERVING"; 6]).await;
    screenshot(&mut browser, "ada").await;

    // Leaving, each kind in its own way.
    browser.click("bea", "#leave").await;
    browser.wait_includes("bea", NOTICES, "You left the room.").await;
    assert_eq!(browser.evaluate("bea", "document.getElementById('lobby').hidden").await, false);
    browser.wait_includes("ada", NOTICES, "*** bea left the chat ***").await;
    browser.wait_equals("ada", "#members li", &["ada", "carl", "dora"]).await;
    carl.expect(b"*** bea left the chat ***\n").await;
    grpc_until(&mut dora_events, left("bea", LeaveReason::Quit)).await;

    carl.send(b"/quit\n").await;
    carl.closed().await;
    browser.wait_includes("ada", NOTICES, "*** carl left the chat ***").await;
    grpc_until(&mut dora_events, left("carl", LeaveReason::Quit)).await;

    drop(dora);
    browser.wait_includes("ada", NOTICES, "*** dora left the chat ***").await;
    browser.wait_equals("ada", "#members li", &["ada"]).await;
    browser.wait_equals("ada", "#room-count", &["1"]).await;
    assert_eq!(grpc.list_members(ListMembersRequest {}).await.unwrap().into_inner().names, ["ada"]);

    for page in ["ada", "bea"] {
        assert_clean(&mut browser, page, none).await;
    }
    browser.quit().await;
}

/// Saves `page` as a PNG in `target/tmp/webchat.png`, and where `SWITCHBOARD_SCREENSHOT` says.
async fn screenshot(browser: &mut Browser, page: &str) {
    let mut paths = vec![PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("webchat.png")];
    if let Some(path) = std::env::var_os("SWITCHBOARD_SCREENSHOT") {
        paths.push(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path));
    }
    for path in paths {
        browser.screenshot(page, &path).await;
        let png = std::fs::read(&path).expect("the screenshot");
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000, "{} is no screenshot", path.display());
    }
}

#[tokio::test]
async fn a_graceful_stop_shows_the_drain_and_the_page_rejoins_after_the_restart() {
    // The page reconnects to the address it came from: both servers use one HTTP port.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let http = format!("127.0.0.1:{port}");
    // A shutdown delay keeps the server answering while health is NOT_SERVING, as behind a
    // load balancer: the panel shows it before the drain.
    let args = ["--http-listen", &http, "--storage", "memory", "--shutdown-delay", "2s"];
    let mut first = ChildServer::start(&args).await;
    let mut browser = Browser::launch().await;
    browser.open("eve", &format!("http://{http}/chat")).await;
    join(&mut browser, "eve", "eve").await;
    browser.wait_equals("eve", "#server-status", &["SERVING"]).await;

    first.signal(nix::sys::signal::Signal::SIGTERM);
    browser.wait_equals("eve", "#server-status", &["NOT_SERVING"]).await;
    browser.wait_includes("eve", NOTICES, "*** eve left the chat *** (the server is shutting down)").await;
    browser.wait_includes("eve", NOTICES, "The server is shutting down; this page will reconnect").await;
    browser.wait_equals("eve", "#connection", &["Server shutting down — reconnecting…"]).await;
    assert!(first.wait(PATIENCE).await.success(), "the drained server exits 0");
    browser.wait_equals("eve", "#server-status", &["UNREACHABLE"]).await;
    // Still trying while the server is away, not given up.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(browser.evaluate("eve", "document.getElementById('room').hidden").await, false);

    let second = ChildServer::start(&args).await;
    browser.wait_includes("eve", NOTICES, "Reconnected as eve.").await;
    browser.wait_equals("eve", "#connection", &["Connected as eve"]).await;
    browser.wait_equals("eve", "#members li", &["eve"]).await;
    browser.wait_equals("eve", "#server-status", &["SERVING"]).await;
    let mut grpc = ChatServiceClient::new(common::connect(second.addr).await);
    assert_eq!(grpc.list_members(ListMembersRequest {}).await.unwrap().into_inner().names, ["eve"]);

    // And the rejoined page is a full member again.
    let (_frank, mut frank_events, _) = grpc_member(&mut grpc, "frank").await;
    say(&mut browser, "eve", "back again").await;
    grpc_until(&mut frank_events, message("eve", "back again")).await;
    // Only the attempts made while no server listened failed.
    assert_clean(&mut browser, "eve", |error| error.contains("net::ERR_CONNECTION_REFUSED")).await;
    browser.quit().await;
}

#[tokio::test]
async fn names_and_texts_render_as_text_and_a_foreign_page_cannot_join() {
    const NAME: &str = "<img src=x onerror=alert(1)>";
    const TEXT: &str = "<img src=y onerror=alert(2)><script>alert(3)</script><b>bold?</b>";
    let server = TestServer::start().await;
    let http = server.server.http_addr().unwrap();
    let mut grpc = server.chat();
    let mut browser = Browser::launch().await;
    browser.open("page", &format!("http://{http}/chat")).await;

    // ChatService decides which names it takes; whichever way it decides, the page shows text.
    browser.fill("page", "#name", NAME).await;
    browser.click("page", "#join").await;
    let started = std::time::Instant::now();
    let joined = loop {
        let connection = browser.texts("page", "#connection").await;
        let refused = browser.texts("page", "#join-error").await;
        if connection == [format!("Connected as {NAME}")] {
            break true;
        }
        if refused.iter().any(|error| !error.is_empty()) {
            // Refused by the name rule: the service's message, naming the field, as text.
            assert!(refused[0].starts_with("join.name: "), "{refused:?}");
            break false;
        }
        assert!(started.elapsed() < PATIENCE, "neither joined nor refused: {connection:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let name = if joined {
        browser.wait_equals("page", "#members li", &[NAME]).await;
        browser.wait_includes("page", NOTICES, &format!("*** {NAME} joined the chat ***")).await;
        NAME
    } else {
        join(&mut browser, "page", "quoter").await;
        "quoter"
    };
    // Texts take any characters: they are shown exactly as said.
    say(&mut browser, "page", TEXT).await;
    browser.wait_equals("page", &format!("{MESSAGES} .text"), &[TEXT]).await;
    browser.wait_equals("page", &format!("{MESSAGES} .from"), &[name]).await;
    let (_grpc_member, _events, members) = grpc_member(&mut grpc, "watcher").await;
    assert_eq!(members, [name, "watcher"]);
    browser.wait_equals("page", "#members li", &[name, "watcher"]).await;
    // Nothing of it became markup, and no script of it ran.
    let markup = browser.evaluate("page", "document.querySelectorAll('img, b, main script').length").await;
    assert_eq!(markup, 0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_clean(&mut browser, "page", none).await;

    // Another site's page tries to make the visitor's browser join.
    let evil = evil_site(http).await;
    browser.open("evil", &format!("http://{evil}/")).await;
    let mut outcome = String::new();
    let started = std::time::Instant::now();
    while !outcome.starts_with("closed") && !outcome.starts_with("joined") {
        assert!(started.elapsed() < PATIENCE, "the foreign page's socket neither opened nor closed: {outcome}");
        tokio::time::sleep(Duration::from_millis(50)).await;
        outcome = browser.evaluate("evil", "document.title").await.as_str().unwrap_or_default().to_owned();
    }
    // Refused before the upgrade: the browser sees an abnormal close, never an open socket.
    assert_eq!(outcome, "closed 1006");
    assert_eq!(grpc.list_members(ListMembersRequest {}).await.unwrap().into_inner().names, [name, "watcher"]);
    browser.quit().await;
}

/// A site on another origin (another port) whose page opens a chat socket to `chat`, and
/// records in its title how that went.
async fn evil_site(chat: SocketAddr) -> SocketAddr {
    let page = format!(
        "<!doctype html><title>waiting</title><script>\n\
         const ws = new WebSocket('ws://{chat}/v1/chat/ws');\n\
         ws.onopen = () => {{ document.title = 'open'; ws.send(JSON.stringify({{ join: {{ name: 'mallory' }} }})); }};\n\
         ws.onmessage = (event) => {{ document.title = 'joined ' + event.data; }};\n\
         ws.onclose = (event) => {{ if (!document.title.startsWith('joined')) document.title = 'closed ' + event.code; }};\n\
         </script>"
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let page = page.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buffer = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 64 * 1024 {
                    match socket.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buffer[..n]),
                    }
                }
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{page}",
                    page.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    addr
}

//! The legacy line echo over raw TCP: every line back exactly as sent.

mod common;

use common::{TestServer, raw::Raw};
use switchboard::legacy::Protocol;
use tokio::io::AsyncWriteExt as _;

#[tokio::test]
async fn lines_come_back_byte_for_byte() {
    let server = TestServer::start().await;
    let mut echo = Raw::connect(server.legacy(Protocol::Echo)).await;
    // No greeting: the seed's echo server says nothing first.
    echo.send(b"hello\n  spaced  out \r\n\nunicode \xc3\xa9\n").await;
    echo.expect(b"hello\n  spaced  out \r\n\nunicode \xc3\xa9\n").await;
}

#[tokio::test]
async fn pipelined_and_split_lines() {
    let server = TestServer::start().await;
    let mut echo = Raw::connect(server.legacy(Protocol::Echo)).await;
    let burst: String = (0..1000).map(|i| format!("line {i}\n")).collect();
    echo.send(burst.as_bytes()).await;
    echo.expect(burst.as_bytes()).await;
    echo.send(b"spl").await;
    tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    echo.send(b"it\n").await;
    echo.expect(b"split\n").await;
}

#[tokio::test]
async fn invalid_utf8_gets_an_error_and_a_last_line_without_newline_is_not_echoed() {
    let server = TestServer::start().await;
    let mut echo = Raw::connect(server.legacy(Protocol::Echo)).await;
    echo.send(b"\xff\n").await;
    echo.expect(b"ERROR: Invalid UTF-8 in line\n").await;
    echo.send(b"ok\nno newline").await;
    echo.stream.get_mut().shutdown().await.unwrap();
    assert_eq!(echo.closed().await, b"ok\n");
}

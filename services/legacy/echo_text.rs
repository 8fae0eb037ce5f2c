//! The seed's line echo ("Creating a Basic TCP Server"): every line comes back exactly as
//! sent, terminator included, through [`EchoService`]. Unlike the seed, a line has a size
//! limit (the seed buffered a line without a newline until memory ran out), and a line that
//! is not UTF-8 — which the service's string message cannot carry — gets an `ERROR:` line.
//! Like the seed, a last line without a newline is not echoed.

use tokio::net::TcpStream;
use tonic::Request;

use super::{
    ConnectionError, INVALID_UTF8, Replies, Settings, error_line, line_too_long,
    lines::{Line, LineReader},
    within_idle,
};
use crate::{
    echo::EchoService,
    pb::{self, echo_service_server::EchoService as _},
};

pub(crate) async fn serve(stream: TcpStream, echo: EchoService, settings: &Settings) -> Result<(), ConnectionError> {
    let (read, write) = stream.into_split();
    let mut lines = LineReader::new(read, settings.max_line_bytes);
    let mut replies = Replies::new(write, settings.idle_timeout);
    loop {
        let line = match lines.buffered() {
            Some(line) => line,
            None => {
                replies.flush().await?;
                match within_idle(settings.idle_timeout, lines.next_line()).await? {
                    Some(line) => line,
                    None => return Ok(()),
                }
            }
        };
        match line {
            Line::Complete(bytes) => match String::from_utf8(bytes.to_vec()) {
                Ok(message) => match echo.echo(Request::new(pb::EchoRequest { message })).await {
                    Ok(response) => replies.bytes(response.into_inner().message.as_bytes()).await?,
                    Err(status) => replies.line(&error_line(&status)).await?,
                },
                Err(_) => replies.line(INVALID_UTF8).await?,
            },
            Line::TooLong => replies.line(&line_too_long(settings)).await?,
            Line::Unterminated(_) => {
                replies.flush().await?;
                return Ok(());
            }
        }
    }
}

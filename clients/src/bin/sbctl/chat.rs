//! `sbctl chat --name NAME`: an interactive member of the room. Lines typed are said to the
//! room; `/users` asks for the member list; `/quit`, end of input (Ctrl-D) and Ctrl-C leave
//! politely (quit, then wait briefly for the server's goodbye) and exit 0.

use std::{
    io::BufRead,
    time::{Duration, Instant},
};

use serde_json::json;
use switchboard_client::{Client, pb, pb::chat_event::Event};
use tokio::sync::mpsc;

use crate::{Failure, output::Format};

/// How long to wait for the goodbye after quitting before leaving anyway.
const GOODBYE_WAIT: Duration = Duration::from_secs(5);

pub async fn run(client: &Client, name: &str, format: Format) -> Result<(), Failure> {
    // Take over Ctrl-C before anything is printed: from the welcome on, Ctrl-C means "leave
    // politely", never the default of dying mid-session.
    let interrupted = interrupts().map_err(|e| anyhow::anyhow!("cannot handle Ctrl-C: {e}"))?;
    tokio::pin!(interrupted);
    let mut session = client.chat(name).await?;
    let welcome = session.welcome().clone();
    match format {
        Format::Table => {
            println!("*** Welcome, {}! In the room: {} ***", welcome.name, welcome.members.join(", "));
            println!("*** Type a message and press Enter; /users lists members, /quit leaves ***");
        }
        Format::Json => println!("{}", json!({ "welcome": { "name": welcome.name, "members": welcome.members } })),
    }
    let sender = session.sender();

    // A plain thread reads the terminal: a blocking read cannot be cancelled, and a thread
    // blocked in it does not keep the process alive once main returns.
    let (lines_in, mut lines) = mpsc::channel::<String>(16);
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if lines_in.blocking_send(line).is_err() {
                break;
            }
        }
    });

    let mut leaving: Option<Instant> = None;
    loop {
        let give_up = tokio::time::sleep_until(
            leaving.map(|at| at + GOODBYE_WAIT).unwrap_or_else(|| Instant::now() + Duration::from_secs(3600)).into(),
        );
        tokio::select! {
            event = session.next_event() => match event? {
                None => break,
                Some(event) => {
                    let goodbye = matches!(event.event, Some(Event::Goodbye(_)));
                    show(format, &event);
                    if goodbye {
                        break;
                    }
                }
            },
            line = lines.recv(), if leaving.is_none() => match line.as_deref().map(str::trim) {
                None | Some("/quit") => {
                    sender.quit().await?;
                    leaving = Some(Instant::now());
                }
                Some("/users") => sender.request_members().await?,
                Some("") => {}
                Some(text) => sender.say(text).await?,
            },
            _ = &mut interrupted, if leaving.is_none() => {
                sender.quit().await?;
                leaving = Some(Instant::now());
            }
            _ = give_up, if leaving.is_some() => break,
        }
    }
    Ok(())
}

/// Resolves at the first Ctrl-C (SIGINT), which from now on no longer kills the process.
#[cfg(unix)]
fn interrupts() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupts = signal(SignalKind::interrupt())?;
    Ok(async move {
        interrupts.recv().await;
    })
}

#[cfg(not(unix))]
fn interrupts() -> std::io::Result<impl std::future::Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}

fn show(format: Format, event: &pb::ChatEvent) {
    let Some(kind) = &event.event else { return };
    match format {
        Format::Table => match kind {
            Event::Welcome(w) => println!("*** Welcome, {}! In the room: {} ***", w.name, w.members.join(", ")),
            Event::MemberJoined(m) => println!("*** {} joined the chat ***", m.name),
            Event::MemberLeft(m) => println!("*** {} left the chat ***", m.name),
            Event::Message(m) => println!("[{}] {}", m.from, m.text),
            Event::Members(m) => println!("*** Members: {} ***", m.names.join(", ")),
            Event::Missed(m) => println!("*** {} messages missed (reading too slowly) ***", m.count),
            Event::Error(e) => println!("*** error: {} ***", e.message),
            Event::Goodbye(g) if g.reason.is_empty() => println!("*** Goodbye! ***"),
            Event::Goodbye(g) => println!("*** Goodbye! ({}) ***", g.reason),
        },
        Format::Json => {
            let value = match kind {
                Event::Welcome(w) => json!({ "welcome": { "name": w.name, "members": w.members } }),
                Event::MemberJoined(m) => json!({ "member_joined": { "name": m.name } }),
                Event::MemberLeft(m) => json!({ "member_left": { "name": m.name } }),
                Event::Message(m) => json!({ "message": { "from": m.from, "text": m.text } }),
                Event::Members(m) => json!({ "members": m.names }),
                Event::Missed(m) => json!({ "missed": m.count }),
                Event::Error(e) => json!({ "error": { "code": e.code, "message": e.message } }),
                Event::Goodbye(g) => json!({ "goodbye": { "reason": g.reason } }),
            };
            println!("{value}");
        }
    }
}

//! `sbctl`: every Switchboard rpc from a shell, built on the `switchboard-client` library.
//! Parse the command line, make one call, print the result (`--output table|json`), and exit
//! with a code that tells usage errors, local failures and each class of server error apart.

mod chat;
mod output;

use std::{path::PathBuf, process::ExitCode, time::Duration};

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use output::Format;
use serde_json::{Value, json};
use switchboard_client::{Bytes, CallOptions, Client, Error, pb};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_stream::StreamExt;

const EXIT_CODES: &str = "\
Exit codes:
  0   success
  1   local failure (a file could not be read or written, output failed)
  2   usage error (bad flags or arguments, an invalid --server address)
  3   INVALID_ARGUMENT: the server refused a field (each one is listed)
  4   NOT_FOUND
  5   ALREADY_EXISTS (an e-mail or chat name is taken)
  6   FAILED_PRECONDITION (e.g. refunding a failed payment)
  7   UNAUTHENTICATED or PERMISSION_DENIED (check --api-key / --token)
  8   RESOURCE_EXHAUSTED: rate limited (retry after the time shown) or too large
  9   UNAVAILABLE: the server cannot be reached or is draining; retry later
  10  DEADLINE_EXCEEDED: no answer within --timeout
  11  any other gRPC error (CANCELLED, ABORTED, INTERNAL, UNKNOWN…)";

/// A command-line client for every Switchboard service.
#[derive(Debug, Parser)]
#[command(name = "sbctl", version, about = "sbctl: every Switchboard rpc from a shell", after_help = EXIT_CODES)]
struct Cli {
    /// Server address: http://host:port, or https://host:port for TLS.
    #[arg(long, global = true, env = "SBCTL_SERVER", default_value = switchboard_client::DEFAULT_SERVER)]
    server: String,
    /// Bearer token sent as `authorization` metadata.
    #[arg(long, global = true, env = "SBCTL_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// API key sent as `x-api-key` (payments need one; the development server accepts
    /// sk_test_switchboard).
    #[arg(long, global = true, env = "SBCTL_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// PEM CA certificate to trust for an https:// server (default: the system's roots).
    #[arg(long, global = true, env = "SBCTL_CA_CERT")]
    ca_cert: Option<PathBuf>,
    /// Deadline of each call, e.g. 500ms, 5s, 1m.
    #[arg(long, global = true, env = "SBCTL_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    timeout: Duration,
    /// How to print results.
    #[arg(long, global = true, env = "SBCTL_OUTPUT", value_enum, default_value_t = Format::Table)]
    output: Format,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// grpc.health.v1 check of the server (or of one service by full name).
    Health {
        /// e.g. switchboard.v1.KvService; empty for the whole server.
        #[arg(default_value = "")]
        service: String,
    },
    /// UserService: create, get, list, update, delete users.
    #[command(subcommand)]
    Users(UsersCommand),
    /// KvService: get, set, delete, list keys, watch changes.
    #[command(subcommand)]
    Kv(KvCommand),
    /// PaymentService: create, get, list, refund payments (needs --api-key).
    #[command(subcommand)]
    Pay(PayCommand),
    /// EchoService/Echo: the message comes back.
    Echo { message: String },
    /// EchoService/Ping: the server's clock.
    Ping,
    /// FileService: upload (with progress), download, list, delete files.
    #[command(subcommand)]
    Files(FilesCommand),
    /// ChatService: `sbctl chat --name alice` joins the room interactively (type lines;
    /// /users lists members; /quit, Ctrl-D or Ctrl-C leaves); `sbctl chat members` lists
    /// members without joining.
    Chat(ChatArgs),
}

#[derive(Debug, Subcommand)]
enum UsersCommand {
    /// Create a user.
    Create {
        #[arg(long)]
        username: String,
        #[arg(long)]
        email: String,
        #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
        age: i32,
    },
    /// Show one user.
    Get { id: i64 },
    /// List users, a page at a time.
    List {
        /// Case-insensitive substring of username or e-mail.
        #[arg(long, default_value = "")]
        query: String,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Change the given fields of a user.
    Update {
        id: i64,
        #[arg(long)]
        username: Option<String>,
        #[arg(long)]
        email: Option<String>,
        #[arg(long, allow_negative_numbers = true)]
        age: Option<i32>,
    },
    /// Delete a user.
    Delete { id: i64 },
}

#[derive(Debug, Args)]
struct PageArgs {
    /// Results per page (0: the server's default).
    #[arg(long, default_value_t = 0)]
    page_size: i32,
    /// The next_page_token of the previous page.
    #[arg(long, default_value = "")]
    page_token: String,
}

#[derive(Debug, Subcommand)]
enum KvCommand {
    /// Print a key's value.
    Get { key: String },
    /// Set a key (the value is the rest of the arguments, joined by spaces).
    Set {
        key: String,
        #[arg(required = true, num_args = 1..)]
        value: Vec<String>,
    },
    /// Delete a key.
    Delete { key: String },
    /// List keys under a prefix.
    List {
        #[arg(long, default_value = "")]
        prefix: String,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Print every change under a prefix until Ctrl-C.
    Watch {
        #[arg(long, default_value = "")]
        prefix: String,
    },
}

#[derive(Debug, Subcommand)]
enum PayCommand {
    /// Charge a customer. Retried safely: every attempt sends the same idempotency key.
    Create {
        /// Amount in minor units (9999 USD is $99.99).
        #[arg(long, allow_negative_numbers = true)]
        amount: i64,
        /// ISO-4217 code, e.g. USD.
        #[arg(long)]
        currency: String,
        #[arg(long)]
        customer: String,
        #[arg(long, default_value = "")]
        description: String,
        /// Names this payment; reuse it to retry safely (default: a new random key).
        #[arg(long)]
        idempotency_key: Option<String>,
    },
    /// Show one payment.
    Get { id: String },
    /// List payments, newest first.
    List {
        #[arg(long, default_value = "")]
        customer: String,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Refund part or all of a payment.
    Refund {
        payment_id: String,
        /// Amount in minor units; 0 or absent refunds everything that remains.
        #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
        amount: i64,
        #[arg(long, default_value = "")]
        reason: String,
        #[arg(long)]
        idempotency_key: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum FilesCommand {
    /// Upload a file, showing progress on a terminal.
    Upload {
        path: PathBuf,
        /// Name to store it under (default: the file's own name).
        #[arg(long)]
        name: Option<String>,
        #[arg(long, default_value = "")]
        content_type: String,
    },
    /// Download a file.
    Download {
        name: String,
        /// Where to write it (default: ./NAME; `-` for standard output).
        #[arg(long)]
        to: Option<PathBuf>,
    },
    /// List stored files.
    List {
        #[command(flatten)]
        page: PageArgs,
    },
    /// Delete a file.
    Delete { name: String },
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
struct ChatArgs {
    /// Join the room under this name.
    #[arg(long)]
    name: Option<String>,
    #[command(subcommand)]
    command: Option<ChatCommand>,
}

#[derive(Debug, Subcommand)]
enum ChatCommand {
    /// List the room's members without joining.
    Members,
}

/// Why sbctl stops with a non-zero code.
enum Failure {
    Usage(String),
    Rpc(Error),
    Local(anyhow::Error),
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        match error {
            Error::Config(message) => Failure::Usage(message),
            other => Failure::Rpc(other),
        }
    }
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Self {
        Failure::Local(error)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(1);
        }
    };
    let format = cli.output;
    let result = runtime.block_on(run(cli));
    // Nothing left to wait for: don't let a background task hold the exit.
    runtime.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
        Err(Failure::Local(error)) => {
            eprintln!("error: {error:#}");
            ExitCode::from(1)
        }
        Err(Failure::Rpc(error)) => {
            report(format, &error);
            ExitCode::from(exit_code(&error))
        }
    }
}

/// The exit code of a server error (see [`EXIT_CODES`]).
fn exit_code(error: &Error) -> u8 {
    match error {
        Error::Config(_) => 2,
        Error::InvalidArgument { .. } => 3,
        Error::NotFound { .. } => 4,
        Error::AlreadyExists { .. } => 5,
        Error::FailedPrecondition { .. } => 6,
        Error::Unauthenticated { .. } | Error::PermissionDenied { .. } => 7,
        Error::RateLimited { .. } => 8,
        Error::Unavailable { .. } => 9,
        Error::DeadlineExceeded { .. } => 10,
        Error::Other(_) => 11,
    }
}

fn report(format: Format, error: &Error) {
    let (fields, retry_after) = match error {
        Error::InvalidArgument { fields, .. } => (fields.as_slice(), None),
        Error::RateLimited { retry_after, .. } => (&[][..], *retry_after),
        _ => (&[][..], None),
    };
    match format {
        Format::Json => {
            let mut object = serde_json::Map::new();
            object.insert("code".into(), json!(code_name(error.code())));
            object.insert("message".into(), json!(error.to_string()));
            if !fields.is_empty() {
                let list: Vec<Value> =
                    fields.iter().map(|f| json!({"field": f.field, "description": f.description})).collect();
                object.insert("fields".into(), Value::Array(list));
            }
            if let Some(after) = retry_after {
                object.insert("retry_after_ms".into(), json!(after.as_millis() as u64));
            }
            eprintln!("{}", json!({ "error": object }));
        }
        Format::Table => {
            eprintln!("error: {error}");
            for field in fields {
                eprintln!("  {}: {}", field.field, field.description);
            }
            if let Error::FailedPrecondition { violations, .. } = error {
                for violation in violations {
                    eprintln!("  {violation}");
                }
            }
        }
    }
}

/// The canonical name of a gRPC code, as the spec and grpcurl write it.
fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "CANCELLED",
        Unknown => "UNKNOWN",
        InvalidArgument => "INVALID_ARGUMENT",
        DeadlineExceeded => "DEADLINE_EXCEEDED",
        NotFound => "NOT_FOUND",
        AlreadyExists => "ALREADY_EXISTS",
        PermissionDenied => "PERMISSION_DENIED",
        ResourceExhausted => "RESOURCE_EXHAUSTED",
        FailedPrecondition => "FAILED_PRECONDITION",
        Aborted => "ABORTED",
        OutOfRange => "OUT_OF_RANGE",
        Unimplemented => "UNIMPLEMENTED",
        Internal => "INTERNAL",
        Unavailable => "UNAVAILABLE",
        DataLoss => "DATA_LOSS",
        Unauthenticated => "UNAUTHENTICATED",
    }
}

async fn run(cli: Cli) -> Result<(), Failure> {
    let mut builder = Client::builder(cli.server.clone()).timeout(cli.timeout);
    if let Some(key) = &cli.api_key {
        builder = builder.api_key(key.clone());
    }
    if let Some(token) = &cli.token {
        builder = builder.token(token.clone());
    }
    if let Some(path) = &cli.ca_cert {
        let pem = std::fs::read(path).with_context(|| format!("cannot read the CA certificate {}", path.display()))?;
        builder = builder.ca_certificate_pem(pem);
    }
    let client = builder.build()?;
    let format = cli.output;
    let show = |value: Value| output::print(format, &value);

    match cli.command {
        Command::Health { service } => {
            let status = client.health(&service).await?;
            show(json!({ "service": service, "status": status.as_str() }));
        }
        Command::Echo { message } => show(json!({ "message": client.echo(&message).await? })),
        Command::Ping => show(json!({ "server_time": output::timestamp(&client.ping().await?.server_time) })),
        Command::Users(command) => users(&client, command, &show).await?,
        Command::Kv(command) => kv(&client, command, format).await?,
        Command::Pay(command) => pay(&client, command, &show).await?,
        Command::Files(command) => files(&client, command, &show).await?,
        Command::Chat(ChatArgs { command: Some(ChatCommand::Members), .. }) => {
            show(json!({ "members": client.chat_members().await? }))
        }
        Command::Chat(ChatArgs { name: Some(name), command: None }) => chat::run(&client, &name, format).await?,
        Command::Chat(ChatArgs { name: None, command: None }) => {
            return Err(Failure::Usage("chat needs --name NAME to join, or `members`".into()));
        }
    }
    Ok(())
}

async fn users(client: &Client, command: UsersCommand, show: &impl Fn(Value)) -> Result<(), Failure> {
    match command {
        UsersCommand::Create { username, email, age } => {
            show(output::user(&client.create_user(&username, &email, age).await?))
        }
        UsersCommand::Get { id } => show(output::user(&client.get_user(id).await?)),
        UsersCommand::List { query, page } => {
            let request = pb::ListUsersRequest { page_size: page.page_size, page_token: page.page_token, query };
            let response = client.list_users(request).await?;
            let users: Vec<Value> = response.users.iter().map(output::user).collect();
            show(json!({ "users": users, "next_page_token": response.next_page_token }));
        }
        UsersCommand::Update { id, username, email, age } => {
            let mut user = pb::User { id, ..Default::default() };
            let mut paths = Vec::new();
            if let Some(username) = username {
                user.username = username;
                paths.push("username");
            }
            if let Some(email) = email {
                user.email = email;
                paths.push("email");
            }
            if let Some(age) = age {
                user.age = age;
                paths.push("age");
            }
            if paths.is_empty() {
                return Err(Failure::Usage("update needs at least one of --username, --email, --age".into()));
            }
            show(output::user(&client.update_user(user, &paths).await?));
        }
        UsersCommand::Delete { id } => {
            client.delete_user(id).await?;
            show(json!({ "id": id, "deleted": true }));
        }
    }
    Ok(())
}

async fn kv(client: &Client, command: KvCommand, format: Format) -> Result<(), Failure> {
    let show = |value: Value| output::print(format, &value);
    match command {
        KvCommand::Get { key } => {
            let value = client.kv_get(&key).await?;
            match format {
                // The value alone, so that `$(sbctl kv get k)` is the value.
                Format::Table => println!("{value}"),
                Format::Json => show(json!({ "key": key, "value": value })),
            }
        }
        KvCommand::Set { key, value } => {
            let replaced = client.kv_set(&key, &value.join(" ")).await?;
            show(json!({ "key": key, "replaced": replaced }));
        }
        KvCommand::Delete { key } => {
            client.kv_delete(&key).await?;
            show(json!({ "key": key, "deleted": true }));
        }
        KvCommand::List { prefix, page } => {
            let request = pb::ListKeysRequest { prefix, page_size: page.page_size, page_token: page.page_token };
            let response = client.kv_list_keys(request).await?;
            show(json!({ "keys": response.keys, "next_page_token": response.next_page_token }));
        }
        KvCommand::Watch { prefix } => {
            let mut events = client.kv_watch(&prefix).await?;
            loop {
                tokio::select! {
                    event = events.next() => match event {
                        None => break,
                        Some(event) => {
                            let event = event?;
                            let kind = pb::watch_event::Kind::try_from(event.kind)
                                .map(|k| k.as_str_name().to_owned())
                                .unwrap_or_else(|_| event.kind.to_string());
                            match format {
                                Format::Table if kind == "SET" => println!("SET {} = {}", event.key, event.value),
                                Format::Table => println!("{kind} {}", event.key),
                                Format::Json => println!("{}", json!({
                                    "kind": kind, "key": event.key, "value": event.value,
                                    "time": output::timestamp(&event.time),
                                })),
                            }
                        }
                    },
                    _ = tokio::signal::ctrl_c() => break,
                }
            }
        }
    }
    Ok(())
}

async fn pay(client: &Client, command: PayCommand, show: &impl Fn(Value)) -> Result<(), Failure> {
    match command {
        PayCommand::Create { amount, currency, customer, description, idempotency_key } => {
            let request =
                pb::CreatePaymentRequest { amount_minor: amount, currency, customer_id: customer, description };
            show(output::payment(&client.create_payment(request, idempotency_key.as_deref()).await?));
        }
        PayCommand::Get { id } => show(output::payment(&client.get_payment(&id).await?)),
        PayCommand::List { customer, page } => {
            let request = pb::ListPaymentsRequest {
                page_size: page.page_size,
                page_token: page.page_token,
                customer_id: customer,
            };
            let response = client.list_payments(request).await?;
            let payments: Vec<Value> = response.payments.iter().map(output::payment).collect();
            show(json!({ "payments": payments, "next_page_token": response.next_page_token }));
        }
        PayCommand::Refund { payment_id, amount, reason, idempotency_key } => {
            let request = pb::RefundPaymentRequest { payment_id, amount_minor: amount, reason };
            show(output::refund(&client.refund_payment(request, idempotency_key.as_deref()).await?));
        }
    }
    Ok(())
}

/// Upload chunk size: well under the server's 1 MiB chunk limit.
const CHUNK: usize = 64 * 1024;

fn progress_bar(total: Option<u64>) -> ProgressBar {
    // indicatif draws to stderr only when it is a terminal; piped runs stay clean.
    let bar = match total {
        Some(total) => ProgressBar::new(total),
        None => ProgressBar::no_length(),
    };
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}") {
        bar.set_style(style);
    }
    bar
}

async fn files(client: &Client, command: FilesCommand, show: &impl Fn(Value)) -> Result<(), Failure> {
    match command {
        FilesCommand::Upload { path, name, content_type } => {
            let name = match name.or_else(|| path.file_name().map(|n| n.to_string_lossy().into_owned())) {
                Some(name) => name,
                None => return Err(Failure::Usage(format!("{} has no file name; pass --name", path.display()))),
            };
            let mut file =
                tokio::fs::File::open(&path).await.with_context(|| format!("cannot open {}", path.display()))?;
            let size = file.metadata().await.with_context(|| format!("cannot stat {}", path.display()))?.len();
            let bar = progress_bar(Some(size));
            // A reader task feeds a small bounded queue, so the bar moves as the upload
            // consumes chunks, not as fast as the disk reads. A read error ends the stream
            // early; the declared size then makes the server refuse the short upload.
            let (chunks, queue) = tokio::sync::mpsc::channel::<Bytes>(4);
            let reader_bar = bar.clone();
            let reader = tokio::spawn(async move {
                let mut buffer = vec![0u8; CHUNK];
                loop {
                    let n = file.read(&mut buffer).await?;
                    if n == 0 {
                        return Ok::<(), std::io::Error>(());
                    }
                    if chunks.send(Bytes::copy_from_slice(&buffer[..n])).await.is_err() {
                        return Ok(());
                    }
                    reader_bar.inc(n as u64);
                }
            });
            let info = pb::FileInfo { name, size: size as i64, content_type, ..Default::default() };
            let options = CallOptions::default();
            let result = client.upload(info, tokio_stream::wrappers::ReceiverStream::new(queue), &options).await;
            bar.finish_and_clear();
            match reader.await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => {
                    return Err(anyhow::Error::new(error).context(format!("reading {}", path.display())).into());
                }
                Err(join) => return Err(anyhow::anyhow!("the reader task failed: {join}").into()),
            }
            show(output::file(&result?));
        }
        FilesCommand::Download { name, to } => {
            let mut download = client.download(&name, &CallOptions::default()).await?;
            let to_stdout = to.as_deref() == Some(std::path::Path::new("-"));
            let path = to.unwrap_or_else(|| PathBuf::from(&name));
            let bar = progress_bar(u64::try_from(download.info.size).ok());
            let mut sink: Box<dyn tokio::io::AsyncWrite + Unpin + Send> = if to_stdout {
                Box::new(tokio::io::stdout())
            } else {
                Box::new(
                    tokio::fs::File::create(&path)
                        .await
                        .with_context(|| format!("cannot create {}", path.display()))?,
                )
            };
            let mut written = 0u64;
            let outcome: Result<(), Failure> = async {
                while let Some(chunk) = download.next_chunk().await? {
                    sink.write_all(&chunk).await.context("writing the download")?;
                    written += chunk.len() as u64;
                    bar.inc(chunk.len() as u64);
                }
                sink.flush().await.context("writing the download")?;
                Ok(())
            }
            .await;
            bar.finish_and_clear();
            if let Err(failure) = outcome {
                if !to_stdout {
                    // Leave no half file behind.
                    let _ = tokio::fs::remove_file(&path).await;
                }
                return Err(failure);
            }
            if !to_stdout {
                let mut value = output::file(&download.info);
                value["written_to"] = json!(path.display().to_string());
                value["bytes_written"] = json!(written);
                show(value);
            }
        }
        FilesCommand::List { page } => {
            let request = pb::ListFilesRequest { page_size: page.page_size, page_token: page.page_token };
            let response = client.list_files(request).await?;
            let files: Vec<Value> = response.files.iter().map(output::file).collect();
            show(json!({ "files": files, "next_page_token": response.next_page_token }));
        }
        FilesCommand::Delete { name } => {
            client.delete_file(&name).await?;
            show(json!({ "name": name, "deleted": true }));
        }
    }
    Ok(())
}

/// `500ms`, `5s`, `2m`, `1h`, or a bare number of seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().map_err(|_| format!("{text:?} is not a duration like 500ms, 5s or 1m"))?;
    let seconds = match unit {
        "ms" => number / 1000.0,
        "" | "s" => number,
        "m" => number * 60.0,
        "h" => number * 3600.0,
        _ => return Err(format!("unknown unit {unit:?} in {text:?}: use ms, s, m or h")),
    };
    if !(seconds > 0.0 && seconds < 1e9) {
        return Err(format!("{text:?}: the timeout must be positive"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("5 parsecs").is_err());
    }

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}

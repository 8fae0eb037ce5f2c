//! One service suite, run against every storage backend: memory, SQLite (in a temp dir) and
//! PostgreSQL (a fresh schema per test, when SWITCHBOARD_TEST_DATABASE_URL is set). Each
//! scenario is written once and asserts only what a client sees; `backend_suite!` below
//! instantiates it per backend.

mod common;

use common::{API_KEY, Backend, TestServer, with_metadata};
use switchboard::pb::{
    CreatePaymentRequest, CreateUserRequest, DeleteFileRequest, DeleteRequest, DownloadRequest, FileInfo,
    GetPaymentRequest, GetRequest, GetUserRequest, ListFilesRequest, ListKeysRequest, ListPaymentsRequest,
    ListUsersRequest, Payment, PaymentStatus, RefundPaymentRequest, SetRequest, UpdateUserRequest, UploadRequest, User,
    download_response, kv_service_client::KvServiceClient, payment_service_client::PaymentServiceClient,
    upload_request::Part, user_service_client::UserServiceClient,
};
use tokio_stream::StreamExt;
use tonic::{Code, transport::Channel};

fn new_user(username: &str, email: &str, age: i32) -> CreateUserRequest {
    CreateUserRequest { user: Some(User { username: username.into(), email: email.into(), age, ..Default::default() }) }
}

fn set(key: &str, value: &str) -> SetRequest {
    SetRequest { key: key.into(), value: value.into() }
}

fn charge(amount_minor: i64, customer: &str) -> CreatePaymentRequest {
    CreatePaymentRequest { amount_minor, currency: "EUR".into(), customer_id: customer.into(), description: "d".into() }
}

async fn create_payment(
    client: &mut PaymentServiceClient<Channel>,
    key: &str,
    request: CreatePaymentRequest,
) -> Result<Payment, tonic::Status> {
    let request = with_metadata(request, &[("x-api-key", API_KEY), ("idempotency-key", key)]);
    client.create_payment(request).await.map(|r| r.into_inner())
}

async fn refund(
    client: &mut PaymentServiceClient<Channel>,
    key: &str,
    payment_id: &str,
    amount_minor: i64,
) -> Result<switchboard::pb::Refund, tonic::Status> {
    let request = RefundPaymentRequest { payment_id: payment_id.into(), amount_minor, reason: "r".into() };
    let request = with_metadata(request, &[("x-api-key", API_KEY), ("idempotency-key", key)]);
    client.refund_payment(request).await.map(|r| r.into_inner())
}

async fn upload(server: &TestServer, name: &str, content: &[u8]) -> Result<FileInfo, tonic::Status> {
    let mut parts = vec![UploadRequest {
        part: Some(Part::Info(FileInfo {
            name: name.into(),
            content_type: "application/x-test".into(),
            ..Default::default()
        })),
    }];
    parts.extend(content.chunks(50_000).map(|c| UploadRequest { part: Some(Part::Chunk(c.to_vec().into())) }));
    server.files().upload(tokio_stream::iter(parts)).await.map(|r| r.into_inner())
}

async fn download(server: &TestServer, name: &str) -> Result<(FileInfo, Vec<u8>), tonic::Status> {
    let mut stream = server.files().download(DownloadRequest { name: name.into() }).await?.into_inner();
    let mut info = None;
    let mut content = Vec::new();
    while let Some(part) = stream.next().await {
        match part?.part {
            Some(download_response::Part::Info(i)) => info = Some(i),
            Some(download_response::Part::Chunk(bytes)) => content.extend_from_slice(&bytes),
            None => panic!("empty download part"),
        }
    }
    Ok((info.expect("download starts with info"), content))
}

// ---------------------------------------------------------------------------------------------
// The scenarios.

async fn users_crud_uniqueness_and_search(backend: Backend) {
    let server = backend.start().await;
    let mut users = server.users();
    let ada = users.create_user(new_user("Ada", "Ada@Example.com", 36)).await.unwrap().into_inner();
    let got = users.get_user(GetUserRequest { id: ada.id }).await.unwrap().into_inner();
    assert_eq!(got, ada);
    let clash = users.create_user(new_user("Other", "ada@example.COM", 20)).await.unwrap_err();
    assert_eq!(clash.code(), Code::AlreadyExists);

    let bob = users.create_user(new_user("bob", "bob@example.com", 40)).await.unwrap().into_inner();
    let steal = UpdateUserRequest {
        user: Some(User { id: bob.id, email: "ADA@example.com".into(), ..Default::default() }),
        update_mask: Some(prost_types::FieldMask { paths: vec!["email".into()] }),
    };
    assert_eq!(users.update_user(steal).await.unwrap_err().code(), Code::AlreadyExists);
    let rename = UpdateUserRequest {
        user: Some(User { id: bob.id, username: "Robert".into(), age: 41, ..Default::default() }),
        update_mask: Some(prost_types::FieldMask { paths: vec!["username".into(), "age".into()] }),
    };
    let robert = users.update_user(rename).await.unwrap().into_inner();
    assert_eq!((robert.username.as_str(), robert.age, robert.email.as_str()), ("Robert", 41, "bob@example.com"));

    for i in 0..9 {
        users.create_user(new_user(&format!("user{i}"), &format!("u{i}@test.org"), 30)).await.unwrap();
    }
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = users
            .list_users(ListUsersRequest { page_size: 4, page_token: token, query: String::new() })
            .await
            .unwrap()
            .into_inner();
        seen.extend(page.users.iter().map(|u| u.id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(seen.len(), 11);
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "ascending by id: {seen:?}");
    let found = users.list_users(ListUsersRequest { query: "ROBERT".into(), ..Default::default() }).await.unwrap();
    assert_eq!(found.into_inner().users, [robert]);
    let by_mail = users.list_users(ListUsersRequest { query: "test.org".into(), ..Default::default() }).await.unwrap();
    assert_eq!(by_mail.into_inner().users.len(), 9);

    users.delete_user(switchboard::pb::DeleteUserRequest { id: ada.id }).await.unwrap();
    assert_eq!(users.get_user(GetUserRequest { id: ada.id }).await.unwrap_err().code(), Code::NotFound);
    // A deleted user's e-mail is free again.
    users.create_user(new_user("Ada2", "ada@example.com", 36)).await.unwrap();
}

/// Concurrent writes share commits (SQLite's group commit): the ones that fail (a taken
/// e-mail) must leave nothing behind and must not take the others down with them.
async fn racing_writes_where_some_fail_leave_the_rest_intact(backend: Backend) {
    let server = backend.start().await;
    let mut racers = Vec::new();
    for i in 0..24 {
        let channel = server.new_connection().await;
        racers.push(tokio::spawn(async move {
            let (mut users, mut kv) = (UserServiceClient::new(channel.clone()), KvServiceClient::new(channel));
            // Every third racer wants the one contested address; the rest have their own.
            let email = if i % 3 == 0 { "contested@example.com".to_owned() } else { format!("own{i}@example.com") };
            let created = users.create_user(new_user(&format!("racer{i}"), &email, 30)).await;
            kv.set(set(&format!("racer:{i}"), "done")).await.expect("a plain write beside them succeeds");
            created.map(|user| user.into_inner().email).map_err(|status| status.code())
        }));
    }
    let mut created = Vec::new();
    for racer in racers {
        match racer.await.unwrap() {
            Ok(email) => created.push(email),
            Err(code) => assert_eq!(code, Code::AlreadyExists),
        }
    }
    assert_eq!(created.len(), 17, "16 own addresses and one winner of the contested one: {created:?}");
    assert_eq!(created.iter().filter(|email| email.starts_with("contested")).count(), 1);
    let listed = server.users().list_users(ListUsersRequest { page_size: 100, ..Default::default() }).await.unwrap();
    let mut listed: Vec<String> = listed.into_inner().users.into_iter().map(|user| user.email).collect();
    listed.sort();
    created.sort();
    assert_eq!(listed, created, "exactly the acknowledged users exist");
    let keys = server.kv().list_keys(ListKeysRequest { prefix: "racer:".into(), ..Default::default() }).await.unwrap();
    assert_eq!(keys.into_inner().keys.len(), 24);
}

async fn kv_set_get_delete_and_prefix_pages(backend: Backend) {
    let server = backend.start().await;
    let mut kv = server.kv();
    assert!(!kv.set(set("greeting", "hello  world")).await.unwrap().into_inner().replaced);
    assert!(kv.set(set("greeting", "hi")).await.unwrap().into_inner().replaced);
    assert_eq!(kv.get(GetRequest { key: "greeting".into() }).await.unwrap().into_inner().value, "hi");
    kv.delete(DeleteRequest { key: "greeting".into() }).await.unwrap();
    assert_eq!(kv.get(GetRequest { key: "greeting".into() }).await.unwrap_err().code(), Code::NotFound);
    assert_eq!(kv.delete(DeleteRequest { key: "greeting".into() }).await.unwrap_err().code(), Code::NotFound);

    // Byte order, not locale order: upper case sorts before lower case.
    for key in ["user:b", "user:a", "user:B", "user:10", "user:9", "usera", "other", "user_x", "user%"] {
        kv.set(set(key, "v")).await.unwrap();
    }
    let mut keys = Vec::new();
    let mut token = String::new();
    loop {
        let page = kv
            .list_keys(ListKeysRequest { prefix: "user:".into(), page_size: 2, page_token: token })
            .await
            .unwrap()
            .into_inner();
        keys.extend(page.keys);
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(keys, ["user:10", "user:9", "user:B", "user:a", "user:b"]);
    let percent = kv.list_keys(ListKeysRequest { prefix: "user%".into(), ..Default::default() }).await.unwrap();
    assert_eq!(percent.into_inner().keys, ["user%"], "LIKE wildcards are not special");
}

async fn payments_idempotency_refunds_and_listing(backend: Backend) {
    let server = backend.start().await;
    let mut payments = server.payments();
    let first = create_payment(&mut payments, "order-1", charge(1000, "cust_a")).await.unwrap();
    assert_eq!(first.status(), PaymentStatus::Succeeded);
    assert_eq!(create_payment(&mut payments, "order-1", charge(1000, "cust_a")).await.unwrap(), first);
    let reuse = create_payment(&mut payments, "order-1", charge(1001, "cust_a")).await.unwrap_err();
    assert_eq!(reuse.code(), Code::InvalidArgument);

    // Racing calls with one key make one payment.
    let mut racers = Vec::new();
    for _ in 0..12 {
        let channel = server.new_connection().await;
        racers.push(tokio::spawn(async move {
            create_payment(&mut PaymentServiceClient::new(channel), "race", charge(777, "cust_b")).await.unwrap().id
        }));
    }
    let mut ids = Vec::new();
    for racer in racers {
        ids.push(racer.await.unwrap());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "one payment for one key: {ids:?}");

    let part = refund(&mut payments, "refund-1", &first.id, 400).await.unwrap();
    assert_eq!(part.amount_minor, 400);
    assert_eq!(refund(&mut payments, "refund-1", &first.id, 400).await.unwrap(), part, "a retried refund is replayed");
    let too_much = refund(&mut payments, "refund-2", &first.id, 601).await.unwrap_err();
    assert_eq!(too_much.code(), Code::FailedPrecondition);
    let rest = refund(&mut payments, "refund-3", &first.id, 0).await.unwrap();
    assert_eq!(rest.amount_minor, 600);
    let after = payments
        .get_payment(with_metadata(GetPaymentRequest { id: first.id.clone() }, &[("x-api-key", API_KEY)]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((after.status(), after.refunded_minor), (PaymentStatus::Refunded, 1000));
    let other_account = payments
        .get_payment(with_metadata(GetPaymentRequest { id: first.id.clone() }, &[("x-api-key", "sk_test_other")]))
        .await
        .unwrap_err();
    assert_eq!(other_account.code(), Code::NotFound);

    for i in 0..5 {
        create_payment(&mut payments, &format!("many-{i}"), charge(100 + i, "cust_c")).await.unwrap();
    }
    let mut listed = Vec::new();
    let mut token = String::new();
    loop {
        let request = ListPaymentsRequest { page_size: 2, page_token: token, customer_id: String::new() };
        let page =
            payments.list_payments(with_metadata(request, &[("x-api-key", API_KEY)])).await.unwrap().into_inner();
        listed.extend(page.payments);
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(listed.len(), 7);
    let times: Vec<_> = listed.iter().map(|p| p.create_time.map(|t| (t.seconds, t.nanos))).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first");
    let request = ListPaymentsRequest { customer_id: "cust_c".into(), ..Default::default() };
    let only_c = payments.list_payments(with_metadata(request, &[("x-api-key", API_KEY)])).await.unwrap().into_inner();
    assert_eq!(only_c.payments.len(), 5);
}

async fn files_upload_replace_download_delete(backend: Backend) {
    let server = backend.start().await;
    let content: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
    let stored = upload(&server, "report.bin", &content).await.unwrap();
    let (info, downloaded) = download(&server, "report.bin").await.unwrap();
    assert_eq!((info, downloaded), (stored, content));

    let replaced = upload(&server, "report.bin", b"second version").await.unwrap();
    assert_eq!(download(&server, "report.bin").await.unwrap(), (replaced.clone(), b"second version".to_vec()));
    // Larger than one stored chunk of any backend (PostgreSQL cuts at 1 MiB).
    let large: Vec<u8> = (0..2_500_000u32).map(|i| (i % 241) as u8).collect();
    let stored = upload(&server, "large.bin", &large).await.unwrap();
    assert_eq!(download(&server, "large.bin").await.unwrap(), (stored, large));
    server.files().delete_file(DeleteFileRequest { name: "large.bin".into() }).await.unwrap();
    upload(&server, "a.txt", b"a").await.unwrap();
    upload(&server, "empty.txt", b"").await.unwrap();
    assert_eq!(download(&server, "empty.txt").await.unwrap().1, b"");

    let listed = server.files().list_files(ListFilesRequest::default()).await.unwrap().into_inner();
    let names: Vec<_> = listed.files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["a.txt", "empty.txt", "report.bin"]);

    server.files().delete_file(DeleteFileRequest { name: "report.bin".into() }).await.unwrap();
    assert_eq!(download(&server, "report.bin").await.unwrap_err().code(), Code::NotFound);
    let again = server.files().delete_file(DeleteFileRequest { name: "report.bin".into() }).await.unwrap_err();
    assert_eq!(again.code(), Code::NotFound);
}

async fn state_survives_a_restart(backend: Backend) {
    let server = backend.start().await;
    let user = server.users().create_user(new_user("kept", "kept@example.com", 50)).await.unwrap().into_inner();
    server.kv().set(set("kept", "value")).await.unwrap();
    let payment = create_payment(&mut server.payments(), "kept-key", charge(4242, "cust_k")).await.unwrap();
    let file = upload(&server, "kept.txt", b"kept content").await.unwrap();
    server.server.shutdown().await;

    let restarted = backend.start().await;
    let got = restarted.users().get_user(GetUserRequest { id: user.id }).await;
    let kv = restarted.kv().get(GetRequest { key: "kept".into() }).await;
    if !backend.is_durable() {
        assert_eq!(got.unwrap_err().code(), Code::NotFound, "memory starts empty");
        assert_eq!(kv.unwrap_err().code(), Code::NotFound);
        return;
    }
    assert_eq!(got.unwrap().into_inner(), user);
    assert_eq!(kv.unwrap().into_inner().value, "value");
    let retried = create_payment(&mut restarted.payments(), "kept-key", charge(4242, "cust_k")).await.unwrap();
    assert_eq!(retried, payment, "the idempotency key outlives the restart");
    assert_eq!(download(&restarted, "kept.txt").await.unwrap(), (file, b"kept content".to_vec()));
    // Ids keep increasing across restarts: no id is handed out twice.
    let next = restarted.users().create_user(new_user("next", "next@example.com", 1)).await.unwrap().into_inner();
    assert!(next.id > user.id);
}

// ---------------------------------------------------------------------------------------------

macro_rules! backend_suite {
    ($($scenario:ident),* $(,)?) => {
        mod memory {
            $(#[tokio::test]
            async fn $scenario() {
                super::$scenario(super::Backend::Memory).await;
            })*
        }
        mod sqlite {
            $(#[tokio::test]
            async fn $scenario() {
                super::$scenario(super::Backend::sqlite()).await;
            })*
        }
        mod postgres {
            $(#[tokio::test]
            async fn $scenario() {
                let test = concat!("storage_backends::postgres::", stringify!($scenario));
                if let Some(backend) = super::Backend::postgres(test).await {
                    super::$scenario(backend).await;
                }
            })*
        }
    };
}

backend_suite!(
    users_crud_uniqueness_and_search,
    racing_writes_where_some_fail_leave_the_rest_intact,
    kv_set_get_delete_and_prefix_pages,
    payments_idempotency_refunds_and_listing,
    files_upload_replace_download_delete,
    state_survives_a_restart,
);

/// A database migrated by a newer switchboard must not be used by this one.
#[tokio::test]
async fn a_newer_schema_refuses_to_start_with_a_clear_message() {
    let backend = Backend::sqlite();
    backend.start().await.server.shutdown().await;
    let Backend::Sqlite(dir) = &backend else { unreachable!() };
    let conn = rusqlite::Connection::open(dir.path().join("switchboard.db")).unwrap();
    conn.execute(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (9999, 'from the future', TRUE, x'00', 0)",
        [],
    )
    .unwrap();
    drop(conn);
    let error = switchboard::server::start(backend.config()).await.err().expect("an older binary refuses");
    let message = error.to_string();
    assert!(message.contains("newer than this switchboard") && message.contains("upgrade"), "{message}");
}

/// The database and files a server of the previous release (commit 7ec856d, whose SQLite
/// migrations and reads went through sqlx) left behind: two users, two keys, a payment
/// refunded in part, each under an idempotency key, and a file. See
/// tests/fixtures/sqlite_7ec856d/README.md.
const PREVIOUS_RELEASE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/sqlite_7ec856d");
/// The API key that release's server accepted by default; its account owns the payment.
const PREVIOUS_RELEASE_API_KEY: &str = "sk_test_switchboard";

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &to.join(entry.file_name()));
        } else if entry.file_name() != "README.md" {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

/// `version, description, success, checksum` of every migration the history records.
fn migration_history(db: &std::path::Path) -> Vec<(i64, String, bool, Vec<u8>)> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut statement =
        conn.prepare("SELECT version, description, success, checksum FROM _sqlx_migrations ORDER BY version").unwrap();
    statement
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// An upgrade keeps everything: this release opens what the previous one wrote, reads it all
/// back, honours its idempotency keys, and writes on; the migration history stays as it was
/// (so the previous release can still open the database).
#[tokio::test]
async fn a_database_written_by_the_previous_release_opens_and_reads_back() {
    let backend = Backend::sqlite();
    let Backend::Sqlite(dir) = &backend else { unreachable!() };
    copy_dir(std::path::Path::new(PREVIOUS_RELEASE), dir.path());
    let db = dir.path().join("switchboard.db");
    let history = migration_history(&db);
    let mut config = backend.config();
    config.payment_api_keys = vec![PREVIOUS_RELEASE_API_KEY.to_owned()];
    let server = TestServer::start_with(config).await;

    let mut users = server.users();
    let ada = users.get_user(GetUserRequest { id: 1 }).await.unwrap().into_inner();
    assert_eq!((ada.username.as_str(), ada.email.as_str(), ada.age), ("Ada", "Ada@Example.com", 36));
    let listed = users.list_users(ListUsersRequest::default()).await.unwrap().into_inner();
    let names: Vec<_> = listed.users.iter().map(|u| (u.id, u.username.as_str())).collect();
    assert_eq!(names, [(1, "Ada"), (2, "bob")]);
    let clash = users.create_user(new_user("Ada2", "ADA@example.com", 1)).await.unwrap_err();
    assert_eq!(clash.code(), Code::AlreadyExists, "the old rows keep e-mails unique");
    let carol = users.create_user(new_user("carol", "carol@example.com", 30)).await.unwrap().into_inner();
    assert_eq!(carol.id, 3, "ids continue after the old ones");

    let mut kv = server.kv();
    assert_eq!(kv.get(GetRequest { key: "greeting".into() }).await.unwrap().into_inner().value, "hello world");
    let keys =
        kv.list_keys(ListKeysRequest { prefix: "user:".into(), ..Default::default() }).await.unwrap().into_inner().keys;
    assert_eq!(keys, ["user:1:name"]);

    let mut payments = server.payments();
    let id = "pay_5f94cf87d81c4be9bf7c58830e1333fe";
    let key = [("x-api-key", PREVIOUS_RELEASE_API_KEY)];
    let got =
        payments.get_payment(with_metadata(GetPaymentRequest { id: id.into() }, &key)).await.unwrap().into_inner();
    assert_eq!((got.amount_minor, got.refunded_minor), (2500, 1000));
    assert_eq!(got.status(), PaymentStatus::PartiallyRefunded);
    let retry = CreatePaymentRequest {
        amount_minor: 2500,
        currency: "EUR".into(),
        customer_id: "cus_ada".into(),
        description: "fixture charge".into(),
    };
    let retry = with_metadata(retry, &[("x-api-key", PREVIOUS_RELEASE_API_KEY), ("idempotency-key", "fixture-key-1")]);
    assert_eq!(payments.create_payment(retry).await.unwrap().into_inner(), got, "the old key replays");
    let other = with_metadata(
        charge(1, "cus_other"),
        &[("x-api-key", PREVIOUS_RELEASE_API_KEY), ("idempotency-key", "fixture-key-1")],
    );
    assert_eq!(payments.create_payment(other).await.unwrap_err().code(), Code::InvalidArgument);
    let refund_retry =
        RefundPaymentRequest { payment_id: id.into(), amount_minor: 1000, reason: "fixture refund".into() };
    let refund_retry = with_metadata(
        refund_retry,
        &[("x-api-key", PREVIOUS_RELEASE_API_KEY), ("idempotency-key", "fixture-refund-1")],
    );
    let replayed = payments.refund_payment(refund_retry).await.unwrap().into_inner();
    assert_eq!(replayed.id, "re_d96cb71ad27d48b98525045dfc0f69b8");
    let listed =
        payments.list_payments(with_metadata(ListPaymentsRequest::default(), &key)).await.unwrap().into_inner();
    assert_eq!(listed.payments, [got]);

    let (info, content) = download(&server, "hello.txt").await.unwrap();
    assert_eq!(
        (info.content_type.as_str(), info.size, content.as_slice()),
        ("text/plain", 21, &b"fixture file content\n"[..])
    );
    server.server.shutdown().await;

    assert_eq!(migration_history(&db), history, "the history is the previous release's, untouched");
    let fresh = Backend::sqlite();
    fresh.start().await.server.shutdown().await;
    let Backend::Sqlite(fresh_dir) = &fresh else { unreachable!() };
    assert_eq!(
        migration_history(&fresh_dir.path().join("switchboard.db")),
        history,
        "a new database records its migrations as the previous release did"
    );
}

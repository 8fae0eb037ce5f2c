//! UserService through a real tonic client: the seed's REST users API as gRPC.

mod common;

use common::{TestServer, bad_fields};
use switchboard::pb::{
    CreateUserRequest, DeleteUserRequest, GetUserRequest, ListUsersRequest, UpdateUserRequest, User,
};
use tonic::Code;

fn new_user(username: &str, email: &str, age: i32) -> CreateUserRequest {
    CreateUserRequest { user: Some(User { username: username.into(), email: email.into(), age, ..Default::default() }) }
}

#[tokio::test]
async fn create_get_update_delete_round_trip() {
    let server = TestServer::start().await;
    let mut users = server.users();

    let created = users.create_user(new_user("alice", "Alice@Example.com", 30)).await.unwrap().into_inner();
    assert!(created.id > 0);
    assert_eq!(created.username, "alice");
    assert_eq!(created.email, "Alice@Example.com");
    assert!(created.create_time.is_some());

    let fetched = users.get_user(GetUserRequest { id: created.id }).await.unwrap().into_inner();
    assert_eq!(fetched, created);

    let update = UpdateUserRequest {
        user: Some(User { id: created.id, username: "alice2".into(), age: 99, ..Default::default() }),
        update_mask: Some(prost_types::FieldMask { paths: vec!["username".into()] }),
    };
    let updated = users.update_user(update).await.unwrap().into_inner();
    assert_eq!(updated.username, "alice2");
    assert_eq!(updated.age, 30, "age was not in the mask and must not change");
    assert_eq!(updated.email, "Alice@Example.com");

    users.delete_user(DeleteUserRequest { id: created.id }).await.unwrap();
    let gone = users.get_user(GetUserRequest { id: created.id }).await.unwrap_err();
    assert_eq!(gone.code(), Code::NotFound);
    let again = users.delete_user(DeleteUserRequest { id: created.id }).await.unwrap_err();
    assert_eq!(again.code(), Code::NotFound);
}

#[tokio::test]
async fn email_is_unique_without_regard_to_case() {
    let server = TestServer::start().await;
    let mut users = server.users();
    let first = users.create_user(new_user("bob", "bob@example.com", 40)).await.unwrap().into_inner();
    let dup = users.create_user(new_user("bobby", "BOB@EXAMPLE.COM", 41)).await.unwrap_err();
    assert_eq!(dup.code(), Code::AlreadyExists);
    assert!(dup.message().contains("BOB@EXAMPLE.COM"), "{}", dup.message());

    // Updating another user to the taken address is refused too; updating oneself is fine.
    let other = users.create_user(new_user("carol", "carol@example.com", 20)).await.unwrap().into_inner();
    let steal = UpdateUserRequest {
        user: Some(User { id: other.id, email: "Bob@Example.com".into(), ..Default::default() }),
        update_mask: Some(prost_types::FieldMask { paths: vec!["email".into()] }),
    };
    assert_eq!(users.update_user(steal).await.unwrap_err().code(), Code::AlreadyExists);
    let recase = UpdateUserRequest {
        user: Some(User { id: first.id, email: "BOB@example.com".into(), ..Default::default() }),
        update_mask: Some(prost_types::FieldMask { paths: vec!["email".into()] }),
    };
    assert_eq!(users.update_user(recase).await.unwrap().into_inner().email, "BOB@example.com");

    // Once deleted, the address is free again.
    users.delete_user(DeleteUserRequest { id: first.id }).await.unwrap();
    users.create_user(new_user("bob", "bob@example.com", 40)).await.unwrap();
}

#[tokio::test]
async fn validation_names_every_bad_field() {
    let server = TestServer::start().await;
    let mut users = server.users();
    let status = users.create_user(new_user("", "not-an-email", 151)).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(bad_fields(&status), ["user.username", "user.email", "user.age"]);

    let long_name = "x".repeat(65);
    let status = users.create_user(new_user(&long_name, "a@example.com", 1)).await.unwrap_err();
    assert_eq!(bad_fields(&status), ["user.username"]);

    let status = users.create_user(CreateUserRequest { user: None }).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);

    let status = users.get_user(GetUserRequest { id: -5 }).await.unwrap_err();
    assert_eq!(bad_fields(&status), ["id"]);

    let bad_mask = UpdateUserRequest {
        user: Some(User { id: 1, ..Default::default() }),
        update_mask: Some(prost_types::FieldMask { paths: vec!["id".into()] }),
    };
    let status = users.update_user(bad_mask).await.unwrap_err();
    assert_eq!(bad_fields(&status), ["update_mask"]);

    let missing = UpdateUserRequest {
        user: Some(User { id: 424242, username: "x".into(), ..Default::default() }),
        update_mask: None,
    };
    assert_eq!(users.update_user(missing).await.unwrap_err().code(), Code::NotFound);
}

#[tokio::test]
async fn listing_pages_through_everyone_once_and_search_filters() {
    let server = TestServer::start().await;
    let mut users = server.users();
    for i in 0..25 {
        let name = if i % 5 == 0 { format!("Special{i}") } else { format!("user{i}") };
        users.create_user(new_user(&name, &format!("u{i}@example.com"), i)).await.unwrap();
    }

    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = users
            .list_users(ListUsersRequest { page_size: 7, page_token: token.clone(), query: String::new() })
            .await
            .unwrap()
            .into_inner();
        assert!(page.users.len() <= 7);
        seen.extend(page.users.iter().map(|u| u.id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(seen, sorted, "ascending ids, no repeats");
    assert_eq!(seen.len(), 25);

    let found = users
        .list_users(ListUsersRequest { query: "special".into(), ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    let names: Vec<_> = found.users.iter().map(|u| u.username.as_str()).collect();
    assert_eq!(names, ["Special0", "Special5", "Special10", "Special15", "Special20"]);

    // A token only works with the query it came from.
    let first = users
        .list_users(ListUsersRequest { page_size: 2, query: "special".into(), ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    let status = users
        .list_users(ListUsersRequest { page_size: 2, page_token: first.next_page_token, query: "user".into() })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&status), ["page_token"]);
}

#[tokio::test]
async fn page_stays_stable_when_earlier_users_are_deleted() {
    let server = TestServer::start().await;
    let mut users = server.users();
    let mut ids = Vec::new();
    for i in 0..6 {
        ids.push(users.create_user(new_user("u", &format!("s{i}@example.com"), 1)).await.unwrap().into_inner().id);
    }
    let first = users.list_users(ListUsersRequest { page_size: 3, ..Default::default() }).await.unwrap().into_inner();
    users.delete_user(DeleteUserRequest { id: ids[0] }).await.unwrap();
    let second = users
        .list_users(ListUsersRequest { page_size: 3, page_token: first.next_page_token, ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    let got: Vec<_> = second.users.iter().map(|u| u.id).collect();
    assert_eq!(got, ids[3..], "keyset paging: deleting a seen user does not shift the next page");
    assert!(second.next_page_token.is_empty());
}

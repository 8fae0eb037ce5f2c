//! `UserService`: the seed's REST users API as gRPC. Validation and the mapping between
//! protobuf messages and [`UserRecord`]s live here; uniqueness lives in the store.

mod error;

use std::{sync::Arc, time::SystemTime};

use tonic::{Request, Response, Status};

pub use self::error::UsersError;
use crate::{
    paging::{Page, PageLimits},
    pb::{self, user_service_server},
    storage::{UserFields, UserPatch, UserRecord, UserStore},
    validate::{self, Violations},
};

const PAGE_LIMITS: PageLimits = PageLimits { default: 50, max: 1000 };
const MAX_USERNAME_CHARS: usize = 64;
const MAX_AGE: i32 = 150;
/// RFC 5321's limit on a forward path.
const MAX_EMAIL_BYTES: usize = 254;
/// A search query longer than any username or e-mail can never match.
const MAX_QUERY_CHARS: usize = 254;

pub struct UserService {
    store: Arc<dyn UserStore>,
}

impl UserService {
    pub fn new(store: Arc<dyn UserStore>) -> Self {
        Self { store }
    }

    pub fn into_server(self) -> user_service_server::UserServiceServer<Self> {
        user_service_server::UserServiceServer::new(self)
    }

    async fn create(&self, request: pb::CreateUserRequest) -> Result<pb::User, UsersError> {
        let user = request.user.unwrap_or_default();
        let fields = UserFields { username: user.username, email: user.email, age: user.age };
        let mut violations = Violations::new();
        violations.check("user.username", check_username(&fields.username));
        violations.check("user.email", check_email(&fields.email));
        violations.check("user.age", check_age(fields.age));
        violations.into_result()?;
        let created = self.store.create(fields, SystemTime::now()).await?;
        Ok(to_proto(created))
    }

    async fn get(&self, request: pb::GetUserRequest) -> Result<pb::User, UsersError> {
        check_id(request.id)?;
        match self.store.get(request.id).await? {
            Some(user) => Ok(to_proto(user)),
            None => Err(UsersError::NotFound(request.id)),
        }
    }

    async fn list(&self, request: pb::ListUsersRequest) -> Result<pb::ListUsersResponse, UsersError> {
        let query = request.query.trim().to_lowercase();
        let mut violations = Violations::new();
        violations.check("query", validate::text(&query, 0, MAX_QUERY_CHARS));
        let page = Page::parse(request.page_size, &request.page_token, &query, PAGE_LIMITS, &mut violations);
        violations.into_result()?;
        let after = match page.after.as_deref() {
            None => 0,
            Some(cursor) => cursor
                .parse::<i64>()
                .map_err(|_| Violations::single("page_token", "is not a page token from this server"))?,
        };
        let mut users = self.store.list(&query, after, page.fetch_limit()).await?;
        let next_page_token = page.finish(&mut users, |u| u.id.to_string());
        Ok(pb::ListUsersResponse { users: users.into_iter().map(to_proto).collect(), next_page_token })
    }

    async fn update(&self, request: pb::UpdateUserRequest) -> Result<pb::User, UsersError> {
        let user = request.user.unwrap_or_default();
        let mut violations = Violations::new();
        if user.id <= 0 {
            violations.add("user.id", "must be a positive user id");
        }
        let patch = match patch_from_mask(&user, request.update_mask.as_ref()) {
            Ok(patch) => patch,
            Err(description) => {
                violations.add("update_mask", description);
                UserPatch::default()
            }
        };
        if let Some(username) = &patch.username {
            violations.check("user.username", check_username(username));
        }
        if let Some(email) = &patch.email {
            violations.check("user.email", check_email(email));
        }
        if let Some(age) = patch.age {
            violations.check("user.age", check_age(age));
        }
        violations.into_result()?;
        let updated = self.store.update(user.id, patch, SystemTime::now()).await?;
        Ok(to_proto(updated))
    }

    async fn delete(&self, request: pb::DeleteUserRequest) -> Result<(), UsersError> {
        check_id(request.id)?;
        if self.store.delete(request.id).await? { Ok(()) } else { Err(UsersError::NotFound(request.id)) }
    }
}

#[tonic::async_trait]
impl user_service_server::UserService for UserService {
    async fn create_user(&self, request: Request<pb::CreateUserRequest>) -> Result<Response<pb::User>, Status> {
        Ok(Response::new(self.create(request.into_inner()).await?))
    }

    async fn get_user(&self, request: Request<pb::GetUserRequest>) -> Result<Response<pb::User>, Status> {
        Ok(Response::new(self.get(request.into_inner()).await?))
    }

    async fn list_users(
        &self,
        request: Request<pb::ListUsersRequest>,
    ) -> Result<Response<pb::ListUsersResponse>, Status> {
        Ok(Response::new(self.list(request.into_inner()).await?))
    }

    async fn update_user(&self, request: Request<pb::UpdateUserRequest>) -> Result<Response<pb::User>, Status> {
        Ok(Response::new(self.update(request.into_inner()).await?))
    }

    async fn delete_user(&self, request: Request<pb::DeleteUserRequest>) -> Result<Response<()>, Status> {
        self.delete(request.into_inner()).await?;
        Ok(Response::new(()))
    }
}

fn to_proto(user: UserRecord) -> pb::User {
    pb::User {
        id: user.id,
        username: user.username,
        email: user.email,
        age: user.age,
        create_time: Some(user.create_time.into()),
        update_time: Some(user.update_time.into()),
    }
}

/// Turns an update mask into the fields to change (AIP-134): listed paths, `*` for all, or —
/// without a mask — every field the client set to a non-default value.
fn patch_from_mask(user: &pb::User, mask: Option<&prost_types::FieldMask>) -> Result<UserPatch, String> {
    let paths: Vec<&str> = match mask {
        Some(mask) if !mask.paths.is_empty() => mask.paths.iter().map(String::as_str).collect(),
        _ => {
            let mut implied = Vec::new();
            if !user.username.is_empty() {
                implied.push("username");
            }
            if !user.email.is_empty() {
                implied.push("email");
            }
            if user.age != 0 {
                implied.push("age");
            }
            if implied.is_empty() {
                return Err("names no field to change; set update_mask or a field".to_owned());
            }
            implied
        }
    };
    let mut patch = UserPatch::default();
    for path in paths {
        match path {
            "username" => patch.username = Some(user.username.clone()),
            "email" => patch.email = Some(user.email.clone()),
            "age" => patch.age = Some(user.age),
            "*" => {
                patch.username = Some(user.username.clone());
                patch.email = Some(user.email.clone());
                patch.age = Some(user.age);
            }
            other => {
                return Err(format!("unknown field {other:?}; updatable fields are username, email, age"));
            }
        }
    }
    Ok(patch)
}

fn check_id(id: i64) -> Result<(), Violations> {
    if id <= 0 { Err(Violations::single("id", "must be a positive user id")) } else { Ok(()) }
}

fn check_username(username: &str) -> Result<(), String> {
    validate::text(username, 1, MAX_USERNAME_CHARS)?;
    if username.trim() != username {
        return Err("must not start or end with spaces".to_owned());
    }
    Ok(())
}

fn check_age(age: i32) -> Result<(), String> {
    if (0..=MAX_AGE).contains(&age) { Ok(()) } else { Err(format!("must be between 0 and {MAX_AGE}, got {age}")) }
}

/// A pragmatic syntax check (`local@domain.tld`), not full RFC 5322: the address must be
/// deliverable-looking, not merely parseable.
fn check_email(email: &str) -> Result<(), String> {
    const INVALID: &str = "must be an e-mail address like name@example.com";
    if email.is_empty() {
        return Err("must not be empty".to_owned());
    }
    if email.len() > MAX_EMAIL_BYTES {
        return Err(format!("must be at most {MAX_EMAIL_BYTES} bytes"));
    }
    let Some((local, domain)) = email.rsplit_once('@') else {
        return Err(INVALID.to_owned());
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local.chars().all(|c| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    if local_ok && domain_ok { Ok(()) } else { Err(INVALID.to_owned()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_syntax() {
        for good in ["a@example.com", "first.last+tag@sub.example.org", "ü@exämple.de"] {
            assert!(check_email(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "plain",
            "@example.com",
            "a@",
            "a@localhost",
            "a b@example.com",
            "a@ex..com",
            ".a@example.com",
            "a@-x.com",
        ] {
            assert!(check_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn mask_paths_and_implied_mask() {
        let user = pb::User { id: 1, username: "new".into(), age: 30, ..Default::default() };
        let mask = prost_types::FieldMask { paths: vec!["username".into()] };
        let patch = patch_from_mask(&user, Some(&mask)).unwrap();
        assert_eq!(patch, UserPatch { username: Some("new".into()), ..Default::default() });

        let implied = patch_from_mask(&user, None).unwrap();
        assert_eq!(implied, UserPatch { username: Some("new".into()), email: None, age: Some(30) });

        let bad = prost_types::FieldMask { paths: vec!["id".into()] };
        assert!(patch_from_mask(&user, Some(&bad)).is_err());
    }
}

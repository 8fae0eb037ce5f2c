//! List paging (AIP-158): page-size normalisation and opaque page tokens.
//!
//! A token is the base64url text of `v1.<scope>.<cursor>`: `scope` is a hash of the list's
//! filter, so a token cannot be replayed against a different filter, and `cursor` is the last
//! key of the previous page, so pages stay stable while items are added or removed (keyset
//! paging, never offsets). Tokens are not secret: a client that crafts one can only choose
//! where its own listing starts. Anything that does not decode is `INVALID_ARGUMENT`, never a
//! crash.

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};

use crate::validate::Violations;

/// Tokens longer than this are refused before decoding.
const MAX_TOKEN_LEN: usize = 2048;

/// How many items a list call returns at most, and where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub size: usize,
    /// The last key of the previous page; `None` for the first page.
    pub after: Option<String>,
    scope: String,
}

/// Page size bounds of one list rpc.
#[derive(Debug, Clone, Copy)]
pub struct PageLimits {
    /// Used when the client sends 0.
    pub default: usize,
    /// Larger requests are served this many (AIP-158 coerces rather than refuses).
    pub max: usize,
}

impl Page {
    /// Reads `page_size` and `page_token` of a list request whose filter is `filter`. Problems
    /// are added to `violations` (the caller reports them with the request's other fields);
    /// the returned page is then a harmless first page.
    pub fn parse(
        page_size: i32,
        page_token: &str,
        filter: &str,
        limits: PageLimits,
        violations: &mut Violations,
    ) -> Self {
        let size = match page_size {
            n if n < 0 => {
                violations.add("page_size", "must not be negative");
                0
            }
            0 => limits.default,
            n => usize::try_from(n).unwrap_or(limits.max).min(limits.max),
        };
        let scope = scope_of(filter);
        let after = match decode(page_token, &scope) {
            Ok(after) => after,
            Err(description) => {
                violations.add("page_token", description);
                None
            }
        };
        Self { size, after, scope }
    }

    /// Fetch one more than the page size to learn whether another page follows.
    pub fn fetch_limit(&self) -> usize {
        self.size + 1
    }

    /// Trims `items` (fetched with [`Page::fetch_limit`]) to the page and returns the token
    /// of the next page, empty when there is none.
    pub fn finish<T>(&self, items: &mut Vec<T>, cursor_of: impl Fn(&T) -> String) -> String {
        if items.len() <= self.size {
            return String::new();
        }
        items.truncate(self.size);
        match items.last() {
            Some(last) => encode(&self.scope, &cursor_of(last)),
            None => String::new(),
        }
    }
}

fn scope_of(filter: &str) -> String {
    let digest = Sha256::digest(filter.as_bytes());
    digest[..6].iter().map(|b| format!("{b:02x}")).collect()
}

fn encode(scope: &str, cursor: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("v1.{scope}.{cursor}"))
}

fn decode(token: &str, scope: &str) -> Result<Option<String>, &'static str> {
    if token.is_empty() {
        return Ok(None);
    }
    if token.len() > MAX_TOKEN_LEN {
        return Err("is not a page token from this server");
    }
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| "is not a page token from this server")?;
    let text = String::from_utf8(bytes).map_err(|_| "is not a page token from this server")?;
    let rest = text.strip_prefix("v1.").ok_or("is not a page token from this server")?;
    let (token_scope, cursor) = rest.split_once('.').ok_or("is not a page token from this server")?;
    if token_scope != scope {
        return Err("belongs to a listing with a different filter");
    }
    Ok(Some(cursor.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: PageLimits = PageLimits { default: 50, max: 1000 };

    fn from_request(size: i32, token: &str, filter: &str, limits: PageLimits) -> Result<Page, Violations> {
        let mut violations = Violations::new();
        let page = Page::parse(size, token, filter, limits, &mut violations);
        violations.into_result().map(|()| page)
    }

    #[test]
    fn page_size_defaults_clamps_and_refuses_negative() {
        assert_eq!(from_request(0, "", "", LIMITS).unwrap().size, 50);
        assert_eq!(from_request(i32::MAX, "", "", LIMITS).unwrap().size, 1000);
        assert_eq!(from_request(7, "", "", LIMITS).unwrap().size, 7);
        let err = from_request(-1, "", "", LIMITS).unwrap_err();
        assert_eq!(err.iter().next().unwrap().0, "page_size");
    }

    #[test]
    fn tokens_round_trip_and_are_bound_to_their_filter() {
        let page = from_request(2, "", "q=a", LIMITS).unwrap();
        let mut items = vec!["a", "b", "c"];
        let token = page.finish(&mut items, |s| s.to_string());
        assert_eq!(items, ["a", "b"]);
        let next = from_request(2, &token, "q=a", LIMITS).unwrap();
        assert_eq!(next.after.as_deref(), Some("b"));
        assert!(from_request(2, &token, "q=b", LIMITS).is_err());
    }

    #[test]
    fn garbage_tokens_are_invalid_not_a_crash() {
        for token in ["%%%", "AAAA", "djEu", &"x".repeat(5000), "\u{0}"] {
            let err = from_request(10, token, "", LIMITS).unwrap_err();
            assert_eq!(err.iter().next().unwrap().0, "page_token", "token {token:?}");
        }
    }

    #[test]
    fn last_page_has_no_token() {
        let page = from_request(5, "", "", LIMITS).unwrap();
        let mut items = vec![1, 2, 3];
        assert_eq!(page.finish(&mut items, |n| n.to_string()), "");
        assert_eq!(items.len(), 3);
    }
}

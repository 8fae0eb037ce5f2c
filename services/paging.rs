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

/// Property tests (proptest) of page sizes and page tokens. Cases: 256 by default
/// (`PROPTEST_CASES` for longer runs); failures are kept in `proptest-regressions/paging.txt`
/// and replayed first.
#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    use super::*;

    const LIMITS: PageLimits = PageLimits { default: 50, max: 1000 };

    fn parse(size: i32, token: &str, filter: &str) -> (Page, Violations) {
        let mut violations = Violations::new();
        let page = Page::parse(size, token, filter, LIMITS, &mut violations);
        (page, violations)
    }

    /// The fields a page request was refused for.
    fn refused_fields(violations: Violations) -> Vec<String> {
        match violations.into_result() {
            Ok(()) => Vec::new(),
            Err(violations) => violations.iter().map(|(field, _)| field.to_string()).collect(),
        }
    }

    /// Cursors as the services make them: keys, file names, ids, `nanos:id`.
    fn cursor() -> impl Strategy<Value = String> {
        prop_oneof![any::<String>(), "[0-9]{1,19}", "[0-9]{1,20}:pay_[a-f0-9]{8}", "\\PC{256}"]
    }

    proptest! {
        /// The next page's token brings back the last item of the page, for the same filter.
        #[test]
        fn tokens_carry_the_cursor(
            filter in any::<String>(),
            cursor in cursor(),
            size in 1i32..20,
            extra in 1usize..5,
        ) {
            let (page, violations) = parse(size, "", &filter);
            prop_assert!(refused_fields(violations).is_empty());
            let size = usize::try_from(size).unwrap();
            let mut items: Vec<String> = (0..size + extra).map(|i| format!("item{i}")).collect();
            items[size - 1] = cursor.clone();
            let token = page.finish(&mut items, Clone::clone);
            prop_assert_eq!(items.len(), size);
            let (next, violations) = parse(0, &token, &filter);
            prop_assert!(refused_fields(violations).is_empty());
            prop_assert_eq!(next.after, Some(cursor));
        }

        /// A page that holds everything left has no next page.
        #[test]
        fn the_last_page_has_no_token((size, count) in (1i32..50).prop_flat_map(|size| (Just(size), 0..=size as usize))) {
            let (page, _) = parse(size, "", "");
            let mut items: Vec<usize> = (0..count).collect();
            prop_assert_eq!(page.finish(&mut items, usize::to_string), "");
            prop_assert_eq!(items.len(), count);
        }

        /// A token made for one filter is refused for any other.
        #[test]
        fn tokens_are_bound_to_their_filter(
            filter in any::<String>(),
            other in any::<String>(),
            cursor in cursor(),
        ) {
            prop_assume!(filter != other);
            let token = encode(&scope_of(&filter), &cursor);
            let (page, violations) = parse(10, &token, &other);
            prop_assert_eq!(refused_fields(violations), ["page_token"]);
            prop_assert_eq!(page.after, None, "a refused token starts nowhere");
        }

        /// Any token text at all: no panic, and either a page of this filter or a refusal of
        /// the `page_token` field alone (INVALID_ARGUMENT), starting at the first page.
        #[test]
        fn any_token_is_a_page_or_invalid(
            token in prop_oneof![
                any::<String>(),
                "[A-Za-z0-9_-]{0,64}",
                any::<String>().prop_map(|s| URL_SAFE_NO_PAD.encode(format!("v1.{s}"))),
            ],
            filter in any::<String>(),
        ) {
            let (page, violations) = parse(10, &token, &filter);
            let refused = refused_fields(violations);
            if refused.is_empty() {
                // Accepted: it really was a token of this filter.
                prop_assert!(token.is_empty() || encode(&scope_of(&filter), page.after.as_deref().unwrap()) == token);
            } else {
                prop_assert_eq!(refused, ["page_token"]);
                prop_assert_eq!(page.after, None);
            }
        }

        /// Page sizes: 0 is the default, larger than the maximum is the maximum, negative is
        /// refused.
        #[test]
        fn page_sizes_are_normalised(size in any::<i32>()) {
            let (page, violations) = parse(size, "", "");
            let refused = refused_fields(violations);
            match size {
                n if n < 0 => prop_assert_eq!(refused, ["page_size"]),
                0 => prop_assert_eq!(page.size, LIMITS.default),
                n => prop_assert_eq!(page.size, usize::try_from(n).unwrap().min(LIMITS.max)),
            }
        }
    }
}

//! Credentials: the payment API keys and the server's bearer token. One room that both the
//! layers (which refuse calls without valid credentials, and rate-limit per key) and the
//! payment service (which scopes everything to a key's account) use, so neither has to know
//! the other. Keys and tokens are never stored in the clear beyond this room, and never logged.

use std::{collections::HashMap, sync::Arc};

use sha2::{Digest, Sha256};

/// The metadata (and HTTP header) that carries a payment API key.
pub const API_KEY_HEADER: &str = "x-api-key";

/// The API keys the payment gateway accepts. Each key is its own account; the account id is a
/// hash of the key, so the key itself never needs to be stored or logged.
#[derive(Clone)]
pub struct ApiKeys(Arc<HashMap<String, String>>);

impl ApiKeys {
    pub fn new<I: IntoIterator<Item = String>>(keys: I) -> Self {
        Self(Arc::new(
            keys.into_iter()
                .map(|key| {
                    let account = format!("acct_{}", &hex(&Sha256::digest(key.as_bytes()))[..16]);
                    (key, account)
                })
                .collect(),
        ))
    }

    /// The account of an API key, if it is one of ours.
    pub fn account_of(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }
}

/// The token every call must carry (`authorization: Bearer <token>`) when the server has one.
/// Held as a SHA-256 digest and compared as one, so how long a comparison takes says nothing
/// about how much of a guess was right.
#[derive(Clone)]
pub struct BearerToken(Arc<[u8; 32]>);

impl BearerToken {
    pub fn new(token: &str) -> Self {
        Self(Arc::new(Sha256::digest(token.as_bytes()).into()))
    }

    /// Whether `presented` is the token.
    pub fn matches(&self, presented: &str) -> bool {
        let presented: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        presented == *self.0
    }
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_map_to_stable_accounts_and_tokens_compare_by_digest() {
        let keys = ApiKeys::new(["sk_a".to_owned(), "sk_b".to_owned()]);
        let a = keys.account_of("sk_a").unwrap().to_owned();
        assert!(a.starts_with("acct_") && a.len() == 21, "{a}");
        assert_ne!(Some(a.as_str()), keys.account_of("sk_b"));
        assert_eq!(ApiKeys::new(["sk_a".to_owned()]).account_of("sk_a"), Some(a.as_str()), "stable across restarts");
        assert_eq!(keys.account_of("sk_c"), None);
        let token = BearerToken::new("s3cret");
        assert!(token.matches("s3cret") && !token.matches("s3cre") && !token.matches(""));
    }
}

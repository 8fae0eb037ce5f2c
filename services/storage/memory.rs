//! In-process stores: fast, and gone when the process exits (`--storage memory`).
//!
//! Each store is one `std::sync::Mutex` around plain collections. A std mutex (not tokio's)
//! is right here, as in mini-redis's `Db`: critical sections are short, never await, and so
//! never hold the lock across a suspension point. Holding one lock for a whole operation is
//! also what makes the invariants of [`super`] atomic.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex},
    time::SystemTime,
};

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};

use super::*;

pub(super) use crate::sync::lock;

// ---------------------------------------------------------------------------------------------

#[derive(Default)]
pub struct MemoryUserStore {
    state: Mutex<UsersState>,
}

#[derive(Default)]
struct UsersState {
    last_id: i64,
    by_id: BTreeMap<i64, UserRecord>,
    /// Lower-cased e-mail → id: the uniqueness index.
    by_email: HashMap<String, i64>,
}

#[async_trait]
impl UserStore for MemoryUserStore {
    async fn create(&self, fields: UserFields, now: SystemTime) -> Result<UserRecord, UserWriteError> {
        let mut state = lock(&self.state);
        let email_key = fields.email.to_lowercase();
        if state.by_email.contains_key(&email_key) {
            return Err(UserWriteError::EmailTaken(fields.email));
        }
        state.last_id += 1;
        let user = UserRecord {
            id: state.last_id,
            username: fields.username,
            email: fields.email,
            age: fields.age,
            create_time: now,
            update_time: now,
        };
        state.by_email.insert(email_key, user.id);
        state.by_id.insert(user.id, user.clone());
        Ok(user)
    }

    async fn get(&self, id: i64) -> StorageResult<Option<UserRecord>> {
        Ok(lock(&self.state).by_id.get(&id).cloned())
    }

    async fn list(&self, query: &str, after: i64, limit: usize) -> StorageResult<Vec<UserRecord>> {
        Ok(list_users_in(&lock(&self.state).by_id, query, after, limit))
    }

    async fn update(&self, id: i64, patch: UserPatch, now: SystemTime) -> Result<UserRecord, UserWriteError> {
        let mut state = lock(&self.state);
        let Some(current) = state.by_id.get(&id) else {
            return Err(UserWriteError::NotFound(id));
        };
        let old_email_key = current.email.to_lowercase();
        if let Some(email) = &patch.email
            && state.by_email.get(&email.to_lowercase()).is_some_and(|&owner| owner != id)
        {
            return Err(UserWriteError::EmailTaken(email.clone()));
        }
        let mut updated = current.clone();
        updated.apply(patch, now);
        state.by_email.remove(&old_email_key);
        state.by_email.insert(updated.email.to_lowercase(), id);
        state.by_id.insert(id, updated.clone());
        Ok(updated)
    }

    async fn delete(&self, id: i64) -> StorageResult<bool> {
        let mut state = lock(&self.state);
        match state.by_id.remove(&id) {
            Some(user) => {
                state.by_email.remove(&user.email.to_lowercase());
                Ok(true)
            }
            None => Ok(false),
        }
    }
}

// ---------------------------------------------------------------------------------------------

#[derive(Default)]
pub struct MemoryKvStore {
    entries: Mutex<BTreeMap<String, String>>,
}

#[async_trait]
impl KvStore for MemoryKvStore {
    async fn get(&self, key: &str) -> StorageResult<Option<String>> {
        Ok(lock(&self.entries).get(key).cloned())
    }

    async fn set(&self, key: &str, value: &str) -> StorageResult<bool> {
        Ok(lock(&self.entries).insert(key.to_owned(), value.to_owned()).is_some())
    }

    async fn delete(&self, key: &str) -> StorageResult<bool> {
        Ok(lock(&self.entries).remove(key).is_some())
    }

    async fn list_keys(&self, prefix: &str, after: Option<&str>, limit: usize) -> StorageResult<Vec<String>> {
        Ok(list_keys_in(&lock(&self.entries), prefix, after, limit))
    }
}

/// [`UserStore::list`] over users held by id: the listing of every store that keeps its users
/// in a `BTreeMap`.
pub(super) fn list_users_in(
    by_id: &BTreeMap<i64, UserRecord>,
    query: &str,
    after: i64,
    limit: usize,
) -> Vec<UserRecord> {
    by_id
        .range(after.saturating_add(1)..)
        .map(|(_, user)| user)
        .filter(|user| {
            query.is_empty()
                || user.username.to_lowercase().contains(query)
                || user.email.to_lowercase().contains(query)
        })
        .take(limit)
        .cloned()
        .collect()
}

/// Keys of `entries` starting with `prefix`, strictly after `after`, ascending, at most `limit`:
/// the listing of every store that keeps its keys in a `BTreeMap`.
pub(super) fn list_keys_in(
    entries: &BTreeMap<String, String>,
    prefix: &str,
    after: Option<&str>,
    limit: usize,
) -> Vec<String> {
    use std::ops::Bound;
    let start = match after {
        Some(after) if after >= prefix => Bound::Excluded(after.to_owned()),
        _ => Bound::Included(prefix.to_owned()),
    };
    entries
        .range((start, Bound::Unbounded))
        .map(|(key, _)| key)
        .take_while(|key| key.starts_with(prefix))
        .take(limit)
        .cloned()
        .collect()
}

// ---------------------------------------------------------------------------------------------

#[derive(Default)]
pub struct MemoryPaymentStore {
    state: Mutex<PaymentsState>,
}

#[derive(Default)]
struct PaymentsState {
    payments: HashMap<String, PaymentRecord>,
    refunds: HashMap<String, RefundRecord>,
    /// (account, create_time, id): the listing order, newest last.
    by_time: BTreeMap<(String, SystemTime, String), ()>,
    /// (account, idempotency key) → what the key was first used for.
    idempotency: HashMap<(String, String), IdempotencyRecord>,
}

struct IdempotencyRecord {
    fingerprint: String,
    result: IdempotentResult,
}

enum IdempotentResult {
    Payment(String),
    Refund(String),
}

impl PaymentsState {
    /// Looks up a key: `None` when unused, else the replay or `KeyReused`.
    fn replay(&self, account: &str, key: &str, fingerprint: &str) -> Option<Result<&IdempotentResult, ()>> {
        let record = self.idempotency.get(&(account.to_owned(), key.to_owned()))?;
        Some(if record.fingerprint == fingerprint { Ok(&record.result) } else { Err(()) })
    }
}

#[async_trait]
impl PaymentStore for MemoryPaymentStore {
    async fn create(&self, claim: Claim<'_>, payment: PaymentRecord) -> StorageResult<Idempotent<PaymentRecord>> {
        let Claim { idempotency_key, fingerprint } = claim;
        let mut state = lock(&self.state);
        match state.replay(&payment.account, idempotency_key, fingerprint) {
            Some(Ok(IdempotentResult::Payment(id))) => {
                let original = state.payments.get(id).cloned().ok_or_else(|| {
                    StorageError::Corrupt(format!("idempotency record points at missing payment {id}"))
                })?;
                return Ok(Idempotent::Replayed(original));
            }
            Some(_) => return Ok(Idempotent::KeyReused),
            None => {}
        }
        state.idempotency.insert(
            (payment.account.clone(), idempotency_key.to_owned()),
            IdempotencyRecord {
                fingerprint: fingerprint.to_owned(),
                result: IdempotentResult::Payment(payment.id.clone()),
            },
        );
        state.by_time.insert((payment.account.clone(), payment.create_time, payment.id.clone()), ());
        state.payments.insert(payment.id.clone(), payment.clone());
        Ok(Idempotent::Created(payment))
    }

    async fn get(&self, account: &str, id: &str) -> StorageResult<Option<PaymentRecord>> {
        Ok(lock(&self.state).payments.get(id).filter(|p| p.account == account).cloned())
    }

    async fn list(&self, page: PaymentPage<'_>) -> StorageResult<Vec<PaymentRecord>> {
        let PaymentPage { account, customer_id, after, limit } = page;
        use std::ops::Bound;
        let state = lock(&self.state);
        let low = Bound::Included((account.to_owned(), SystemTime::UNIX_EPOCH, String::new()));
        let high = match after {
            Some((time, id)) => Bound::Excluded((account.to_owned(), time, id)),
            None => Bound::Unbounded,
        };
        Ok(state
            .by_time
            .range((low, high))
            .rev()
            .take_while(|((acct, _, _), _)| acct == account)
            .filter_map(|((_, _, id), _)| state.payments.get(id))
            .filter(|p| customer_id.is_none_or(|c| p.customer_id == c))
            .take(limit)
            .cloned()
            .collect())
    }

    async fn refund(&self, account: &str, claim: Claim<'_>, refund: NewRefund) -> StorageResult<RefundOutcome> {
        let Claim { idempotency_key, fingerprint } = claim;
        let mut state = lock(&self.state);
        match state.replay(account, idempotency_key, fingerprint) {
            Some(Ok(IdempotentResult::Refund(id))) => {
                let original = state.refunds.get(id).cloned();
                let payment = original.as_ref().and_then(|r| state.payments.get(&r.payment_id).cloned());
                return match (original, payment) {
                    (Some(r), Some(p)) => Ok(RefundOutcome::Done(Idempotent::Replayed((r, p)))),
                    _ => Err(StorageError::Corrupt(format!("idempotency record points at missing refund {id}"))),
                };
            }
            Some(_) => return Ok(RefundOutcome::Done(Idempotent::KeyReused)),
            None => {}
        }
        let payment = state.payments.get(&refund.payment_id);
        let (record, updated) = match refund.plan(payment, account) {
            Ok(planned) => planned,
            Err(rejection) => return Ok(RefundOutcome::Rejected(rejection)),
        };
        state.idempotency.insert(
            (account.to_owned(), idempotency_key.to_owned()),
            IdempotencyRecord {
                fingerprint: fingerprint.to_owned(),
                result: IdempotentResult::Refund(record.id.clone()),
            },
        );
        state.refunds.insert(record.id.clone(), record.clone());
        state.payments.insert(updated.id.clone(), updated.clone());
        Ok(RefundOutcome::Done(Idempotent::Created((record, updated))))
    }
}

// ---------------------------------------------------------------------------------------------

/// Size of the chunks a download is cut into.
const READ_CHUNK: usize = 64 * 1024;

#[derive(Default)]
pub struct MemoryFileStore {
    files: Arc<Mutex<BTreeMap<String, (FileRecord, Bytes)>>>,
}

struct MemoryUpload {
    files: Arc<Mutex<BTreeMap<String, (FileRecord, Bytes)>>>,
    content: BytesMut,
}

#[async_trait]
impl FileUpload for MemoryUpload {
    async fn write(&mut self, chunk: Bytes) -> StorageResult<()> {
        self.content.extend_from_slice(&chunk);
        Ok(())
    }

    async fn commit(self: Box<Self>, record: FileRecord) -> StorageResult<FileRecord> {
        lock(&self.files).insert(record.name.clone(), (record.clone(), self.content.freeze()));
        Ok(record)
    }
}

#[async_trait]
impl FileStore for MemoryFileStore {
    async fn begin_upload(&self, _name: &str) -> StorageResult<Box<dyn FileUpload>> {
        Ok(Box::new(MemoryUpload { files: Arc::clone(&self.files), content: BytesMut::new() }))
    }

    async fn open(&self, name: &str) -> StorageResult<Option<(FileRecord, FileContent)>> {
        let Some((record, content)) = lock(&self.files).get(name).cloned() else {
            return Ok(None);
        };
        let chunks: Vec<StorageResult<Bytes>> = (0..content.len())
            .step_by(READ_CHUNK)
            .map(|start| Ok(content.slice(start..content.len().min(start + READ_CHUNK))))
            .collect();
        Ok(Some((record, Box::pin(tokio_stream::iter(chunks)))))
    }

    async fn list(&self, after: Option<&str>, limit: usize) -> StorageResult<Vec<FileRecord>> {
        use std::ops::Bound;
        let files = lock(&self.files);
        let start = after.map_or(Bound::Unbounded, |a| Bound::Excluded(a.to_owned()));
        Ok(files.range((start, Bound::Unbounded)).take(limit).map(|(_, (record, _))| record.clone()).collect())
    }

    async fn delete(&self, name: &str) -> StorageResult<bool> {
        Ok(lock(&self.files).remove(name).is_some())
    }
}

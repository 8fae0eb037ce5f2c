//! `KvService`: a key-value store with prefix listing and change watching. The legacy KV text
//! protocol calls this same service, so the limits below bind both front doors alike.
//!
//! Keys are 1..=256 bytes without whitespace or control characters (a key must be typeable
//! as one word on the text protocol); values are text without line breaks (a value must fit
//! on one reply line) up to a configurable size.

mod error;

use std::{sync::Arc, time::SystemTime};

use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

pub use self::error::KvError;
use crate::{
    paging::{Page, PageLimits},
    pb::{self, kv_service_server, watch_event::Kind},
    shutdown::Shutdown,
    storage::KvStore,
    validate::Violations,
};

pub const MAX_KEY_BYTES: usize = 256;
const PAGE_LIMITS: PageLimits = PageLimits { default: 100, max: 1000 };
/// Changes buffered for watchers; one that falls further behind is ended with ABORTED.
const WATCH_BUFFER: usize = 1024;

/// Limits of the key-value service.
#[derive(Debug, Clone, Copy)]
pub struct KvLimits {
    pub max_value_bytes: usize,
}

impl Default for KvLimits {
    fn default() -> Self {
        Self { max_value_bytes: 1024 * 1024 }
    }
}

/// Stripes of the per-key write order (see [`KvService::write_order`]).
const WRITE_ORDER_STRIPES: usize = 1024;

#[derive(Clone)]
pub struct KvService {
    store: Arc<dyn KvStore>,
    limits: KvLimits,
    changes: broadcast::Sender<pb::WatchEvent>,
    /// Writes of one key, from commit to publication, one at a time (keys share a stripe by
    /// hash), so watchers hear of a key's changes in the order they were committed. Without
    /// it two writers of one key could commit A then B and publish B then A; the chaos soak's
    /// watch checker caught exactly that on PostgreSQL.
    write_order: Arc<[tokio::sync::Mutex<()>]>,
    shutdown: Shutdown,
}

impl KvService {
    pub fn new(store: Arc<dyn KvStore>, limits: KvLimits) -> Self {
        let (changes, _) = broadcast::channel(WATCH_BUFFER);
        let write_order = (0..WRITE_ORDER_STRIPES).map(|_| tokio::sync::Mutex::new(())).collect();
        Self { store, limits, changes, write_order, shutdown: Shutdown::new() }
    }

    /// The lock that orders the writes of `key`.
    fn write_order(&self, key: &str) -> &tokio::sync::Mutex<()> {
        use std::hash::{BuildHasher as _, BuildHasherDefault};
        let hash = BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default().hash_one(key);
        &self.write_order[(hash % WRITE_ORDER_STRIPES as u64) as usize]
    }

    /// Watches end with `UNAVAILABLE` (reconnect, perhaps to another replica) when `shutdown`
    /// drains.
    pub fn with_shutdown(mut self, shutdown: Shutdown) -> Self {
        self.shutdown = shutdown;
        self
    }

    pub fn into_server(self) -> kv_service_server::KvServiceServer<Self> {
        kv_service_server::KvServiceServer::new(self)
    }

    pub async fn get(&self, key: String) -> Result<String, KvError> {
        check_key(&key)?;
        self.store.get(&key).await?.ok_or(KvError::KeyNotFound(key))
    }

    /// Returns whether the key had a value before.
    pub async fn set(&self, key: String, value: String) -> Result<bool, KvError> {
        let mut violations = Violations::new();
        violations.check("key", key_problem(&key));
        violations.check("value", value_problem(&value, self.limits.max_value_bytes));
        violations.into_result()?;
        let _in_order = self.write_order(&key).lock().await;
        let replaced = self.store.set(&key, &value).await?;
        self.publish(Kind::Set, key, value);
        Ok(replaced)
    }

    pub async fn delete(&self, key: String) -> Result<(), KvError> {
        check_key(&key)?;
        let _in_order = self.write_order(&key).lock().await;
        if !self.store.delete(&key).await? {
            return Err(KvError::KeyNotFound(key));
        }
        self.publish(Kind::Deleted, key, String::new());
        Ok(())
    }

    pub async fn list_keys(&self, request: pb::ListKeysRequest) -> Result<pb::ListKeysResponse, KvError> {
        let mut violations = Violations::new();
        if request.prefix.len() > MAX_KEY_BYTES {
            violations.add("prefix", format!("must be at most {MAX_KEY_BYTES} bytes"));
        }
        let page = Page::parse(request.page_size, &request.page_token, &request.prefix, PAGE_LIMITS, &mut violations);
        violations.into_result()?;
        let mut keys = self.store.list_keys(&request.prefix, page.after.as_deref(), page.fetch_limit()).await?;
        let next_page_token = page.finish(&mut keys, Clone::clone);
        Ok(pb::ListKeysResponse { keys, next_page_token })
    }

    /// Tells watchers; nobody watching is the common case and not an error.
    fn publish(&self, kind: Kind, key: String, value: String) {
        let _ =
            self.changes.send(pb::WatchEvent { kind: kind.into(), key, value, time: Some(SystemTime::now().into()) });
    }
}

#[tonic::async_trait]
impl kv_service_server::KvService for KvService {
    async fn get(&self, request: Request<pb::GetRequest>) -> Result<Response<pb::GetResponse>, Status> {
        let key = request.into_inner().key;
        let value = KvService::get(self, key.clone()).await?;
        Ok(Response::new(pb::GetResponse { key, value }))
    }

    async fn set(&self, request: Request<pb::SetRequest>) -> Result<Response<pb::SetResponse>, Status> {
        let pb::SetRequest { key, value } = request.into_inner();
        let replaced = KvService::set(self, key, value).await?;
        Ok(Response::new(pb::SetResponse { replaced }))
    }

    async fn delete(&self, request: Request<pb::DeleteRequest>) -> Result<Response<pb::DeleteResponse>, Status> {
        KvService::delete(self, request.into_inner().key).await?;
        Ok(Response::new(pb::DeleteResponse {}))
    }

    async fn list_keys(&self, request: Request<pb::ListKeysRequest>) -> Result<Response<pb::ListKeysResponse>, Status> {
        Ok(Response::new(KvService::list_keys(self, request.into_inner()).await?))
    }

    type WatchStream = ReceiverStream<Result<pb::WatchEvent, Status>>;

    async fn watch(&self, request: Request<pb::WatchRequest>) -> Result<Response<Self::WatchStream>, Status> {
        let prefix = request.into_inner().prefix;
        if prefix.len() > MAX_KEY_BYTES {
            return Err(Violations::single("prefix", format!("must be at most {MAX_KEY_BYTES} bytes")).into());
        }
        let mut changes = self.changes.subscribe();
        // A small queue per watcher: the broadcast ring above is where lag is measured.
        let (tx, rx) = mpsc::channel(16);
        let shutdown = self.shutdown.clone();
        tokio::spawn(async move {
            loop {
                let change = tokio::select! {
                    change = changes.recv() => change,
                    () = tx.closed() => return,
                    () = shutdown.draining() => {
                        let _ = tx.send(Err(Status::unavailable("the server is shutting down; watch again"))).await;
                        return;
                    }
                };
                let item = match change {
                    Ok(event) if event.key.starts_with(&prefix) => Ok(event),
                    Ok(_) => continue,
                    Err(broadcast::error::RecvError::Lagged(missed)) => Err(Status::aborted(format!(
                        "watcher fell behind and missed {missed} changes; read the current values and watch again"
                    ))),
                    Err(broadcast::error::RecvError::Closed) => return,
                };
                let fatal = item.is_err();
                if tx.send(item).await.is_err() || fatal {
                    return;
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}

fn check_key(key: &str) -> Result<(), Violations> {
    key_problem(key).map_err(|description| Violations::single("key", description))
}

fn key_problem(key: &str) -> Result<(), String> {
    if key.is_empty() {
        return Err("must not be empty".to_owned());
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(format!("must be at most {MAX_KEY_BYTES} bytes, got {}", key.len()));
    }
    if key.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain spaces or control characters".to_owned());
    }
    Ok(())
}

fn value_problem(value: &str, max_bytes: usize) -> Result<(), String> {
    if value.len() > max_bytes {
        return Err(format!("must be at most {max_bytes} bytes, got {}", value.len()));
    }
    if value.chars().any(|c| c.is_control() && c != '\t') {
        return Err("must not contain line breaks or control characters other than tab".to_owned());
    }
    Ok(())
}

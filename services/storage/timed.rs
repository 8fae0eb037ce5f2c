//! Stores that time their writes: each write (a "commit") is observed in a latency histogram
//! labelled by store. Reads pass straight through.

use std::{future::Future, sync::Arc, time::Instant};

use async_trait::async_trait;
use bytes::Bytes;
use prometheus::HistogramVec;

use super::{
    Claim, FileContent, FileRecord, FileStore, FileUpload, Idempotent, KvStore, NewRefund, PaymentPage, PaymentRecord,
    PaymentStore, RefundOutcome, StorageResult, Stores, UserFields, UserPatch, UserRecord, UserStore, UserWriteError,
};

async fn timed<T>(histogram: &HistogramVec, store: &str, write: impl Future<Output = T>) -> T {
    let start = Instant::now();
    let result = write.await;
    histogram.with_label_values(&[store]).observe(start.elapsed().as_secs_f64());
    result
}

impl Stores {
    /// The same stores, with every write observed in `histogram` (label `store`).
    pub fn timed(self, histogram: HistogramVec) -> Self {
        for store in ["users", "kv", "payments", "files"] {
            histogram.with_label_values(&[store]);
        }
        Self {
            users: Arc::new(Timed { inner: self.users, histogram: histogram.clone() }),
            kv: Arc::new(Timed { inner: self.kv, histogram: histogram.clone() }),
            payments: Arc::new(Timed { inner: self.payments, histogram: histogram.clone() }),
            files: Arc::new(Timed { inner: self.files, histogram }),
            engine: self.engine,
        }
    }
}

struct Timed<S: ?Sized> {
    inner: Arc<S>,
    histogram: HistogramVec,
}

#[async_trait]
impl UserStore for Timed<dyn UserStore> {
    async fn create(&self, fields: UserFields, now: std::time::SystemTime) -> Result<UserRecord, UserWriteError> {
        timed(&self.histogram, "users", self.inner.create(fields, now)).await
    }
    async fn get(&self, id: i64) -> StorageResult<Option<UserRecord>> {
        self.inner.get(id).await
    }
    async fn list(&self, query: &str, after: i64, limit: usize) -> StorageResult<Vec<UserRecord>> {
        self.inner.list(query, after, limit).await
    }
    async fn update(
        &self,
        id: i64,
        patch: UserPatch,
        now: std::time::SystemTime,
    ) -> Result<UserRecord, UserWriteError> {
        timed(&self.histogram, "users", self.inner.update(id, patch, now)).await
    }
    async fn delete(&self, id: i64) -> StorageResult<bool> {
        timed(&self.histogram, "users", self.inner.delete(id)).await
    }
}

#[async_trait]
impl KvStore for Timed<dyn KvStore> {
    async fn get(&self, key: &str) -> StorageResult<Option<String>> {
        self.inner.get(key).await
    }
    async fn set(&self, key: &str, value: &str) -> StorageResult<bool> {
        timed(&self.histogram, "kv", self.inner.set(key, value)).await
    }
    async fn delete(&self, key: &str) -> StorageResult<bool> {
        timed(&self.histogram, "kv", self.inner.delete(key)).await
    }
    async fn list_keys(&self, prefix: &str, after: Option<&str>, limit: usize) -> StorageResult<Vec<String>> {
        self.inner.list_keys(prefix, after, limit).await
    }
}

#[async_trait]
impl PaymentStore for Timed<dyn PaymentStore> {
    async fn create(&self, claim: Claim<'_>, payment: PaymentRecord) -> StorageResult<Idempotent<PaymentRecord>> {
        timed(&self.histogram, "payments", self.inner.create(claim, payment)).await
    }
    async fn get(&self, account: &str, id: &str) -> StorageResult<Option<PaymentRecord>> {
        self.inner.get(account, id).await
    }
    async fn list(&self, page: PaymentPage<'_>) -> StorageResult<Vec<PaymentRecord>> {
        self.inner.list(page).await
    }
    async fn refund(&self, account: &str, claim: Claim<'_>, refund: NewRefund) -> StorageResult<RefundOutcome> {
        timed(&self.histogram, "payments", self.inner.refund(account, claim, refund)).await
    }
}

#[async_trait]
impl FileStore for Timed<dyn FileStore> {
    async fn begin_upload(&self, name: &str) -> StorageResult<Box<dyn FileUpload>> {
        let upload = self.inner.begin_upload(name).await?;
        Ok(Box::new(TimedUpload { inner: upload, histogram: self.histogram.clone() }))
    }
    async fn open(&self, name: &str) -> StorageResult<Option<(FileRecord, FileContent)>> {
        self.inner.open(name).await
    }
    async fn list(&self, after: Option<&str>, limit: usize) -> StorageResult<Vec<FileRecord>> {
        self.inner.list(after, limit).await
    }
    async fn delete(&self, name: &str) -> StorageResult<bool> {
        timed(&self.histogram, "files", self.inner.delete(name)).await
    }
}

/// Times only the commit: the chunks before it are the client's pace, not the store's.
struct TimedUpload {
    inner: Box<dyn FileUpload>,
    histogram: HistogramVec,
}

#[async_trait]
impl FileUpload for TimedUpload {
    async fn write(&mut self, chunk: Bytes) -> StorageResult<()> {
        self.inner.write(chunk).await
    }
    async fn commit(self: Box<Self>, record: FileRecord) -> StorageResult<FileRecord> {
        let Self { inner, histogram } = *self;
        timed(&histogram, "files", inner.commit(record)).await
    }
}

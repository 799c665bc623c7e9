//! A store that counts what is asked of it (tests only): the calls a request makes, to
//! show a request's cost does not grow with what a tenant holds.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;

use super::{Item, ItemStore, Mutation, Page, Query, SharedStore, StoreError, Written};

/// What a store was asked, call by call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Calls {
    pub writes: usize,
    pub reads: usize,
    pub queries: usize,
    /// Batch reads, and the keys they asked for.
    pub batch_reads: usize,
    pub keys_read: usize,
}

/// Wraps a store and counts its calls.
pub struct CountingStore {
    inner: SharedStore,
    writes: AtomicUsize,
    reads: AtomicUsize,
    queries: AtomicUsize,
    batch_reads: AtomicUsize,
    keys_read: AtomicUsize,
}

impl CountingStore {
    pub fn new(inner: SharedStore) -> Self {
        Self {
            inner,
            writes: AtomicUsize::new(0),
            reads: AtomicUsize::new(0),
            queries: AtomicUsize::new(0),
            batch_reads: AtomicUsize::new(0),
            keys_read: AtomicUsize::new(0),
        }
    }

    /// The calls since the last [`CountingStore::take`].
    pub fn take(&self) -> Calls {
        Calls {
            writes: self.writes.swap(0, Ordering::SeqCst),
            reads: self.reads.swap(0, Ordering::SeqCst),
            queries: self.queries.swap(0, Ordering::SeqCst),
            batch_reads: self.batch_reads.swap(0, Ordering::SeqCst),
            keys_read: self.keys_read.swap(0, Ordering::SeqCst),
        }
    }
}

#[async_trait]
impl ItemStore for CountingStore {
    async fn write(&self, key: &str, mutation: &Mutation) -> Result<Written, StoreError> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        self.inner.write(key, mutation).await
    }

    async fn read(&self, key: &str) -> Result<Option<Item>, StoreError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.inner.read(key).await
    }

    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        self.queries.fetch_add(1, Ordering::SeqCst);
        self.inner.query(query).await
    }

    async fn read_many(&self, keys: &[String]) -> Result<HashMap<String, Item>, StoreError> {
        self.batch_reads.fetch_add(1, Ordering::SeqCst);
        self.keys_read.fetch_add(keys.len(), Ordering::SeqCst);
        self.inner.read_many(keys).await
    }

    async fn write_together(&self, writes: &[(String, Mutation)]) -> Result<bool, StoreError> {
        self.writes.fetch_add(writes.len(), Ordering::SeqCst);
        self.inner.write_together(writes).await
    }
}

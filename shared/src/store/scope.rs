//! What of the table a function may touch: the kinds of record it reads and writes (their
//! key prefixes) and the indexes it queries. Each function's composition root wraps its
//! store in its scope ([`ScopedStore`]), so a read or write outside it fails in every test
//! that makes one; the template grants the same and no more (`dynamodb:LeadingKeys` per
//! statement), which `tests/privilege.rs` checks against these scopes.

use std::collections::HashMap;

use async_trait::async_trait;

use super::{
    Index, Item, ItemStore, Kind, Mutation, Page, Query, SharedStore, StoreError, Written,
};

/// A function's share of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableScope {
    /// The function, to name it when it oversteps.
    pub function: &'static str,
    /// Kinds read by key (`GetItem`, `BatchGetItem`).
    pub reads: &'static [Kind],
    /// Kinds written (`UpdateItem`).
    pub writes: &'static [Kind],
    /// Indexes queried.
    pub queries: &'static [Index],
}

/// A store that refuses what is outside its function's [`TableScope`].
pub struct ScopedStore {
    inner: SharedStore,
    scope: TableScope,
}

impl ScopedStore {
    pub fn new(inner: SharedStore, scope: TableScope) -> Self {
        Self { inner, scope }
    }

    fn check(&self, key: &str, allowed: &[Kind], what: &str) -> Result<(), StoreError> {
        let kind = Kind::of_key(key);
        if kind.is_some_and(|kind| allowed.contains(&kind)) {
            return Ok(());
        }
        tracing::error!(
            function = self.scope.function,
            kind = kind.map(Kind::as_str),
            what,
            "a store access outside the function's scope was refused"
        );
        Err(StoreError::Unavailable(format!(
            "{} may not {what} {}",
            self.scope.function,
            kind.map_or("unknown records", Kind::as_str)
        )))
    }
}

#[async_trait]
impl ItemStore for ScopedStore {
    async fn write(&self, key: &str, mutation: &Mutation) -> Result<Written, StoreError> {
        self.check(key, self.scope.writes, "write")?;
        self.inner.write(key, mutation).await
    }

    async fn read(&self, key: &str) -> Result<Option<Item>, StoreError> {
        self.check(key, self.scope.reads, "read")?;
        self.inner.read(key).await
    }

    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        if !self.scope.queries.contains(&query.index) {
            tracing::error!(
                function = self.scope.function,
                index = query.index.name(),
                "a query outside the function's scope was refused"
            );
            return Err(StoreError::Unavailable(format!(
                "{} may not query {}",
                self.scope.function,
                query.index.name()
            )));
        }
        self.inner.query(query).await
    }

    async fn read_many(&self, keys: &[String]) -> Result<HashMap<String, Item>, StoreError> {
        for key in keys {
            self.check(key, self.scope.reads, "read")?;
        }
        self.inner.read_many(keys).await
    }

    async fn write_together(&self, writes: &[(String, Mutation)]) -> Result<bool, StoreError> {
        for (key, _) in writes {
            self.check(key, self.scope.writes, "write")?;
        }
        self.inner.write_together(writes).await
    }
}

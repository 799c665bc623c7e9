//! State in one table (single-table design): items keyed by `pk`, written only through
//! conditional mutations.
//!
//! A [`Mutation`] is data: a [`Guard`] (the condition) and a [`Patch`] (the update). The
//! DynamoDB store renders it to one `UpdateItem` with a `ConditionExpression`; the
//! in-memory store evaluates the same guard on the same attribute maps. Domain code (the
//! session state machine, enrollment records) only ever builds mutations, so the rules
//! live in one place and both stores are held to them by one contract test suite.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
pub use aws_sdk_dynamodb::types::AttributeValue;

#[cfg(any(test, feature = "test-support"))]
pub mod counting;
pub mod dynamo;
pub mod index;
mod kind;
pub mod listing;
/// The in-memory store: the local stack's and the tests' (feature `memory`), never a
/// deployed function's.
#[cfg(any(test, feature = "memory"))]
pub mod memory;
pub(crate) mod record;
pub mod scope;

pub use index::Index;
pub use kind::Kind;

/// One stored item: attribute name → value, as DynamoDB holds it.
pub type Item = HashMap<String, AttributeValue>;

/// The attributes the whole table shares, declared once: every kind of record that
/// carries one names it so (checked where each record is declared).
pub mod attr {
    /// The table's partition key.
    pub const KEY: &str = "pk";
    /// The kind of record ([`super::Kind`]).
    pub const KIND: &str = "kind";
    /// The tenant a record belongs to.
    pub const TENANT_ID: &str = "tenant_id";
    /// When a record was created, epoch ms.
    pub const CREATED_AT: &str = "created_at";
    /// When a record last changed, epoch ms.
    pub const UPDATED_AT: &str = "updated_at";
    /// When DynamoDB's TTL may delete the record, epoch seconds (`template.yaml`'s
    /// `TimeToLiveSpecification`). TTL only cleans up: it can lag for days, so expiry is
    /// decided in code.
    pub const EXPIRES_AT: &str = "expires_at";
}

/// The partition key attribute of the table.
pub const KEY: &str = attr::KEY;

/// A condition on the current item. Comparisons on a missing attribute (or a missing
/// item) are false, as in DynamoDB.
#[derive(Debug, Clone, PartialEq)]
pub enum Guard {
    /// No item with this key exists.
    Absent,
    /// The item (if any) has no such attribute.
    Missing(&'static str),
    Eq(&'static str, AttributeValue),
    /// Numeric attribute strictly below the value.
    Lt(&'static str, i64),
    /// Numeric attribute strictly above the value.
    Gt(&'static str, i64),
    /// Numeric attribute at or below the value.
    Le(&'static str, i64),
    And(Vec<Guard>),
    Or(Vec<Guard>),
}

impl Guard {
    /// The string attribute equals `value`.
    pub fn equals(attr: &'static str, value: impl Into<String>) -> Self {
        Guard::Eq(attr, AttributeValue::S(value.into()))
    }
}

/// Changes to an item; creates it if it does not exist.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Patch {
    pub set: Vec<(&'static str, AttributeValue)>,
    /// Set only where the attribute is missing (`if_not_exists`).
    pub set_if_absent: Vec<(&'static str, AttributeValue)>,
    pub remove: Vec<&'static str>,
    /// Numeric attributes raised by an amount (a missing one counts from 0).
    pub increment: Vec<(&'static str, i64)>,
}

impl Patch {
    pub fn set(mut self, attr: &'static str, value: AttributeValue) -> Self {
        self.set.push((attr, value));
        self
    }
    pub fn set_s(self, attr: &'static str, value: impl Into<String>) -> Self {
        self.set(attr, AttributeValue::S(value.into()))
    }
    pub fn set_n(self, attr: &'static str, value: i64) -> Self {
        self.set(attr, AttributeValue::N(value.to_string()))
    }
    pub fn set_if_absent(mut self, attr: &'static str, value: AttributeValue) -> Self {
        self.set_if_absent.push((attr, value));
        self
    }
    pub fn remove(mut self, attr: &'static str) -> Self {
        self.remove.push(attr);
        self
    }
    pub fn increment(mut self, attr: &'static str, by: i64) -> Self {
        self.increment.push((attr, by));
        self
    }
}

/// One write to the table, as its change stream shows it: the item before and after.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub key: String,
    pub old: Option<Item>,
    pub new: Option<Item>,
}

impl Change {
    /// A change as a stream record shows it: its keys and its images (an image the record
    /// does not carry is empty). `None` when the keys do not name an item of the table.
    pub fn from_stream(keys: Item, old: Item, new: Item) -> Option<Self> {
        let key = string(&keys, KEY)?.to_owned();
        let image = |item: Item| (!item.is_empty()).then_some(item);
        Some(Self {
            key,
            old: image(old),
            new: image(new),
        })
    }
}

/// The table's change stream, read in order off AWS (the local stack, the tests): the
/// in-memory store's own log, or DynamoDB Streams of a DynamoDB-compatible endpoint. On
/// AWS, Lambda reads the stream and calls the notify function instead.
#[async_trait]
pub trait ChangeFeed: Send + Sync {
    /// The changes since the last poll.
    async fn poll(&self) -> Result<Vec<Change>, StoreError>;
}

/// One conditional write.
#[derive(Debug, Clone, PartialEq)]
pub struct Mutation {
    pub guard: Guard,
    pub patch: Patch,
}

/// What a conditional write did.
#[derive(Debug, Clone, PartialEq)]
pub enum Written {
    /// The guard held; the item as it is now.
    Applied(Item),
    /// The guard failed; the item as it was (`None`: there is no such item). Returned by
    /// the failed write itself, so deciding what to do next needs no extra read.
    Refused(Option<Item>),
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum StoreError {
    #[error("the store did not answer in time")]
    Timeout,
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    #[error("a stored record could not be read: {0}")]
    Corrupt(String),
}

/// One page of one index partition: its items with a sort key up to a bound, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub index: Index,
    pub partition: String,
    /// The sort key's upper bound, and whether it is included.
    pub up_to: Option<(AttributeValue, bool)>,
    /// Highest sort key first.
    pub descending: bool,
    pub limit: usize,
    /// Where the previous page ended ([`Page::next`]).
    pub start_after: Option<Item>,
}

/// One page of a query, and where the next one starts (`None`: this was the last).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Page {
    pub items: Vec<Item>,
    pub next: Option<Item>,
}

/// The storage port: conditional writes and strongly consistent reads of single items,
/// and (eventually consistent) pages of an index.
#[async_trait]
pub trait ItemStore: Send + Sync {
    async fn write(&self, key: &str, mutation: &Mutation) -> Result<Written, StoreError>;
    async fn read(&self, key: &str) -> Result<Option<Item>, StoreError>;
    async fn query(&self, query: &Query) -> Result<Page, StoreError>;
    /// Up to 100 items by key in one round trip (`BatchGetItem`, strongly consistent);
    /// the ones that exist, by key.
    async fn read_many(&self, keys: &[String]) -> Result<HashMap<String, Item>, StoreError>;
    /// Conditional writes of up to 25 items made together or not at all
    /// (`TransactWriteItems`): `false` when a guard did not hold (nothing was written).
    /// Each item's own change is still one conditional write; what it moves with it (a
    /// job's counters) moves in the same step.
    async fn write_together(&self, writes: &[(String, Mutation)]) -> Result<bool, StoreError>;
}

pub type SharedStore = Arc<dyn ItemStore>;

/// A string attribute value.
pub fn string_value(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// A number attribute value.
pub fn number_value(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// Reads a number attribute, if present and numeric.
pub fn number(item: &Item, attr: &str) -> Option<i64> {
    match item.get(attr)? {
        AttributeValue::N(raw) => raw.parse().ok(),
        _ => None,
    }
}

/// Reads a string attribute, if present.
pub fn string<'a>(item: &'a Item, attr: &str) -> Option<&'a str> {
    match item.get(attr)? {
        AttributeValue::S(value) => Some(value),
        _ => None,
    }
}

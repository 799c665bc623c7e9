//! The in-memory store, for running on a laptop with nothing installed. It applies the
//! same guards and patches as the DynamoDB store, atomically per call (one lock), which
//! is the guarantee DynamoDB gives per item, and keeps each secondary index as a sorted
//! set of entries, so a query costs what it costs on DynamoDB (its partition's page),
//! whatever else the table holds.

use std::collections::{BTreeSet, HashMap};
use std::ops::Bound;
use std::sync::Mutex;

use async_trait::async_trait;

use super::{
    AttributeValue, Change, ChangeFeed, Guard, Index, Item, ItemStore, KEY, Mutation, Page, Query,
    StoreError, Written, number,
};

/// An index sort key as the memory store orders it (numbers as numbers), with the ends
/// of a partition's range.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum SortValue {
    Lowest,
    N(i64),
    S(String),
    Highest,
}

impl SortValue {
    fn of(value: &AttributeValue) -> Self {
        match value {
            AttributeValue::N(n) => SortValue::N(n.parse().unwrap_or(i64::MIN)),
            AttributeValue::S(s) => SortValue::S(s.clone()),
            _ => SortValue::Lowest,
        }
    }
}

/// An index entry: its partition, sort key and item key. An index is a sorted set of
/// them, so a query reads its partition's range (as DynamoDB does), whatever else the
/// table holds.
type Entry = (String, SortValue, String);

/// Above every item key (keys are ASCII).
const ABOVE_ANY_KEY: &str = "\u{10FFFF}";

fn entry_of(index: Index, key: &str, item: &Item) -> Option<Entry> {
    let partition = match item.get(index.partition_attr())? {
        AttributeValue::S(partition) => partition.clone(),
        _ => return None,
    };
    let sort = SortValue::of(item.get(index.sort_attr())?);
    Some((partition, sort, key.to_owned()))
}

#[derive(Default)]
struct State {
    items: HashMap<String, Item>,
    indexes: HashMap<&'static str, BTreeSet<Entry>>,
}

impl State {
    /// Applies `mutation` (its guard already checked) to the item `key`: the change made.
    fn apply(&mut self, key: &str, mutation: &Mutation) -> Change {
        let old = self.items.get(key).cloned();
        let mut item = old
            .clone()
            .unwrap_or_else(|| Item::from([(KEY.to_owned(), AttributeValue::S(key.to_owned()))]));
        for (attr, value) in &mutation.patch.set {
            item.insert((*attr).to_owned(), value.clone());
        }
        for (attr, value) in &mutation.patch.set_if_absent {
            item.entry((*attr).to_owned())
                .or_insert_with(|| value.clone());
        }
        for (attr, by) in &mutation.patch.increment {
            let current = number(&item, attr).unwrap_or(0);
            item.insert((*attr).to_owned(), super::number_value(current + by));
        }
        for attr in &mutation.patch.remove {
            item.remove(*attr);
        }
        self.reindex(key, old.as_ref(), &item);
        self.items.insert(key.to_owned(), item.clone());
        Change {
            key: key.to_owned(),
            old,
            new: Some(item),
        }
    }

    /// Moves the item's index entries from what it was to what it is.
    fn reindex(&mut self, key: &str, old: Option<&Item>, new: &Item) {
        for index in Index::ALL {
            let entries = self.indexes.entry(index.name()).or_default();
            if let Some(old) = old.and_then(|old| entry_of(index, key, old)) {
                entries.remove(&old);
            }
            if let Some(new) = entry_of(index, key, new) {
                entries.insert(new);
            }
        }
    }
}

#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
    /// Every applied write, in order, for [`ChangeFeed::poll`] (as DynamoDB Streams
    /// would show them).
    changes: Mutex<Vec<Change>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Applied writes, for the change feed, in order.
    fn record(&self, changes: Vec<Change>) {
        self.changes
            .lock()
            .expect("memory store lock poisoned")
            .extend(changes);
    }
}

pub(crate) fn holds(guard: &Guard, item: Option<&Item>) -> bool {
    match guard {
        Guard::Absent => item.is_none(),
        Guard::Missing(attr) => item.is_none_or(|i| !i.contains_key(*attr)),
        Guard::Eq(attr, value) => item.and_then(|i| i.get(*attr)) == Some(value),
        Guard::Lt(attr, value) => item
            .and_then(|i| number(i, attr))
            .is_some_and(|v| v < *value),
        Guard::Gt(attr, value) => item
            .and_then(|i| number(i, attr))
            .is_some_and(|v| v > *value),
        Guard::Le(attr, value) => item
            .and_then(|i| number(i, attr))
            .is_some_and(|v| v <= *value),
        Guard::And(all) => all.iter().all(|g| holds(g, item)),
        Guard::Or(any) => any.iter().any(|g| holds(g, item)),
    }
}

#[async_trait]
impl ItemStore for MemoryStore {
    async fn write(&self, key: &str, mutation: &Mutation) -> Result<Written, StoreError> {
        let mut state = self.state.lock().expect("memory store lock poisoned");
        let current = state.items.get(key);
        if !holds(&mutation.guard, current) {
            return Ok(Written::Refused(current.cloned()));
        }
        let change = state.apply(key, mutation);
        drop(state);
        let item = change.new.clone().expect("a write leaves an item");
        self.record(vec![change]);
        Ok(Written::Applied(item))
    }

    async fn write_together(&self, writes: &[(String, Mutation)]) -> Result<bool, StoreError> {
        let mut state = self.state.lock().expect("memory store lock poisoned");
        if !writes
            .iter()
            .all(|(key, mutation)| holds(&mutation.guard, state.items.get(key)))
        {
            return Ok(false);
        }
        let changes = writes
            .iter()
            .map(|(key, mutation)| state.apply(key, mutation))
            .collect();
        drop(state);
        self.record(changes);
        Ok(true)
    }

    async fn read(&self, key: &str) -> Result<Option<Item>, StoreError> {
        let state = self.state.lock().expect("memory store lock poisoned");
        Ok(state.items.get(key).cloned())
    }

    async fn read_many(&self, keys: &[String]) -> Result<HashMap<String, Item>, StoreError> {
        let state = self.state.lock().expect("memory store lock poisoned");
        Ok(keys
            .iter()
            .filter_map(|key| state.items.get(key).map(|item| (key.clone(), item.clone())))
            .collect())
    }

    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        let (partition, sort) = (query.index.partition_attr(), query.index.sort_attr());
        let state = self.state.lock().expect("memory store lock poisoned");
        let Some(entries) = state.indexes.get(query.index.name()) else {
            return Ok(Page::default());
        };
        // The partition's range, up to the bound; ties ordered by the table key.
        let at = |sort: SortValue, key: &str| (query.partition.clone(), sort, key.to_owned());
        let mut lower = Bound::Included(at(SortValue::Lowest, ""));
        let mut upper = match &query.up_to {
            None => Bound::Included(at(SortValue::Highest, "")),
            Some((bound, true)) => Bound::Included(at(SortValue::of(bound), ABOVE_ANY_KEY)),
            Some((bound, false)) => Bound::Excluded(at(SortValue::of(bound), "")),
        };
        // Where the previous page ended.
        if let Some(after) = &query.start_after {
            let after_key = super::string(after, KEY).unwrap_or_default();
            if let Some(value) = after.get(sort) {
                let position = at(SortValue::of(value), after_key);
                if query.descending {
                    upper = Bound::Excluded(position);
                } else {
                    lower = Bound::Excluded(position);
                }
            }
        }
        let range = entries.range((lower, upper));
        let keys: Vec<&String> = if query.descending {
            range
                .rev()
                .take(query.limit + 1)
                .map(|(_, _, key)| key)
                .collect()
        } else {
            range.take(query.limit + 1).map(|(_, _, key)| key).collect()
        };
        let more = keys.len() > query.limit;
        let mut found: Vec<Item> = keys
            .into_iter()
            .take(query.limit)
            .filter_map(|key| state.items.get(key).cloned())
            .collect();
        // An index entry carries the keys and what the index projects, as in DynamoDB.
        if let Some(projected) = query.index.projected() {
            for item in &mut found {
                item.retain(|attr, _| {
                    [KEY, partition, sort].contains(&attr.as_str())
                        || projected.contains(&attr.as_str())
                });
            }
        }
        let next = more.then(|| {
            let last = found.last().expect("a full page");
            [KEY, partition, sort]
                .into_iter()
                .filter_map(|attr| last.get(attr).map(|v| (attr.to_owned(), v.clone())))
                .collect()
        });
        Ok(Page { items: found, next })
    }
}

#[async_trait]
impl ChangeFeed for MemoryStore {
    async fn poll(&self) -> Result<Vec<Change>, StoreError> {
        Ok(std::mem::take(
            &mut *self.changes.lock().expect("memory store lock poisoned"),
        ))
    }
}

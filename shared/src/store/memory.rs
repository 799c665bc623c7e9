//! The in-memory store, for running on a laptop with nothing installed. It applies the
//! same guards and patches as the DynamoDB store, atomically per call (one lock), which
//! is the guarantee DynamoDB gives per item.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::{
    AttributeValue, Change, ChangeFeed, Guard, Item, ItemStore, KEY, Mutation, Page, Query,
    StoreError, Written, number,
};

/// Orders two sort-key values of one index (numbers as numbers).
fn compare_sort(a: &AttributeValue, b: &AttributeValue) -> std::cmp::Ordering {
    match (a, b) {
        (AttributeValue::N(a), AttributeValue::N(b)) => a
            .parse::<i64>()
            .unwrap_or(i64::MIN)
            .cmp(&b.parse::<i64>().unwrap_or(i64::MIN)),
        (AttributeValue::S(a), AttributeValue::S(b)) => a.cmp(b),
        _ => std::cmp::Ordering::Equal,
    }
}

#[derive(Default)]
pub struct MemoryStore {
    items: Mutex<HashMap<String, Item>>,
    /// Every applied write, in order, for [`ChangeFeed::poll`] (as DynamoDB Streams
    /// would show them).
    changes: Mutex<Vec<Change>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
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
        let mut items = self.items.lock().expect("memory store lock poisoned");
        let current = items.get(key);
        if !holds(&mutation.guard, current) {
            return Ok(Written::Refused(current.cloned()));
        }
        let old = current.cloned();
        let item = items
            .entry(key.to_owned())
            .or_insert_with(|| Item::from([(KEY.to_owned(), AttributeValue::S(key.to_owned()))]));
        for (attr, value) in &mutation.patch.set {
            item.insert((*attr).to_owned(), value.clone());
        }
        for (attr, value) in &mutation.patch.set_if_absent {
            item.entry((*attr).to_owned())
                .or_insert_with(|| value.clone());
        }
        for (attr, by) in &mutation.patch.increment {
            let current = number(item, attr).unwrap_or(0);
            item.insert((*attr).to_owned(), super::number_value(current + by));
        }
        for attr in &mutation.patch.remove {
            item.remove(*attr);
        }
        let new = item.clone();
        self.changes
            .lock()
            .expect("memory store lock poisoned")
            .push(Change {
                key: key.to_owned(),
                old,
                new: Some(new.clone()),
            });
        Ok(Written::Applied(new))
    }

    async fn read(&self, key: &str) -> Result<Option<Item>, StoreError> {
        Ok(self
            .items
            .lock()
            .expect("memory store lock poisoned")
            .get(key)
            .cloned())
    }

    async fn read_many(&self, keys: &[String]) -> Result<HashMap<String, Item>, StoreError> {
        let items = self.items.lock().expect("memory store lock poisoned");
        Ok(keys
            .iter()
            .filter_map(|key| items.get(key).map(|item| (key.clone(), item.clone())))
            .collect())
    }

    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        let (partition, sort) = (query.index.partition_attr(), query.index.sort_attr());
        let items = self.items.lock().expect("memory store lock poisoned");
        let wanted = AttributeValue::S(query.partition.clone());
        // DynamoDB orders an index partition by its sort key; ties by the table key.
        let order = |a: &Item, b: &Item| {
            compare_sort(&a[sort], &b[sort])
                .then_with(|| super::string(a, KEY).cmp(&super::string(b, KEY)))
        };
        let mut found: Vec<Item> = items
            .values()
            .filter(|item| item.get(partition) == Some(&wanted) && item.contains_key(sort))
            .filter(|item| match &query.up_to {
                None => true,
                Some((bound, inclusive)) => match compare_sort(&item[sort], bound) {
                    std::cmp::Ordering::Less => true,
                    std::cmp::Ordering::Equal => *inclusive,
                    std::cmp::Ordering::Greater => false,
                },
            })
            .cloned()
            .collect();
        found.sort_by(order);
        if query.descending {
            found.reverse();
        }
        if let Some(after) = &query.start_after {
            let position = found
                .iter()
                .position(|item| item.get(KEY) == after.get(KEY));
            found.drain(..position.map_or(0, |p| p + 1));
        }
        let more = found.len() > query.limit;
        found.truncate(query.limit);
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

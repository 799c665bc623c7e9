//! The in-memory store, for running on a laptop with nothing installed. It applies the
//! same guards and patches as the DynamoDB store, atomically per call (one lock), which
//! is the guarantee DynamoDB gives per item.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::{AttributeValue, Guard, Item, ItemStore, KEY, Mutation, StoreError, Written, number};

#[derive(Default)]
pub struct MemoryStore {
    items: Mutex<HashMap<String, Item>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }
}

pub(crate) fn holds(guard: &Guard, item: Option<&Item>) -> bool {
    match guard {
        Guard::Absent => item.is_none(),
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
        for attr in &mutation.patch.remove {
            item.remove(*attr);
        }
        Ok(Written::Applied(item.clone()))
    }

    async fn read(&self, key: &str) -> Result<Option<Item>, StoreError> {
        Ok(self
            .items
            .lock()
            .expect("memory store lock poisoned")
            .get(key)
            .cloned())
    }
}

//! The sweeper: expires challenges abandoned past their deadline, so their card data goes
//! and their `authentication.expired` event is sent even if nobody ever comes back.
//!
//! Pending challenges carry the deadline index's attributes (`Index::ByDeadline`: the
//! deadline's minute and a shard); terminal states remove them, so the index holds only
//! what may still need expiring. Each run reads the minutes from its cursor up to now,
//! expires each due challenge with the same conditional write as the callback and the
//! status route (a challenge decided or canceled meanwhile is left alone: the write is
//! refused), and moves its cursor past the minutes it finished.

use super::{Expired, SessionRef, Sessions, attr};
use crate::domain::{ReferenceCode, TenantId};
use crate::store::index::DeadlinePartition;
use crate::store::{
    Guard, Index, Kind, Mutation, Patch, Query, SharedStore, StoreError, number, number_value,
    string,
};

/// The cursor item's key: the first minute the next run reads.
pub fn cursor_key() -> String {
    Kind::SweeperCursor.key(&["cursor"])
}
const CURSOR_MINUTE: &str = "minute";

/// How far back a first run (no cursor yet) looks.
const FIRST_RUN_LOOKBACK_MINUTES: i64 = 120;

/// Due challenges read per index page.
const PAGE: usize = 100;

/// What one run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    pub expired: usize,
    /// Due challenges left as they were (decided, canceled or validated meanwhile).
    pub left: usize,
    pub minutes: i64,
}

/// What became of one due index entry.
enum Entry {
    Expired,
    Gone,
    Left,
}

pub struct Sweeper {
    sessions: Sessions,
    store: SharedStore,
}

impl Sweeper {
    pub fn new(sessions: Sessions, store: SharedStore) -> Self {
        Self { sessions, store }
    }

    pub async fn sweep(&self) -> Result<Swept, StoreError> {
        let now = self.sessions.now_ms();
        let now_minute = DeadlinePartition::minute_of(now);
        let from = self
            .store
            .read(&cursor_key())
            .await?
            .and_then(|item| number(&item, CURSOR_MINUTE))
            .unwrap_or(now_minute - FIRST_RUN_LOOKBACK_MINUTES);
        let mut swept = Swept::default();
        // The first minute that still holds a due challenge someone is validating: the
        // next run starts there.
        let mut unfinished: Option<i64> = None;
        for minute in from..=now_minute {
            swept.minutes += 1;
            for partition in DeadlinePartition::of_minute(minute) {
                let (expired, left) = self.sweep_partition(partition, now).await?;
                swept.expired += expired;
                swept.left += left;
                if left > 0 {
                    unfinished.get_or_insert(minute);
                }
            }
        }
        self.advance(unfinished.unwrap_or(now_minute)).await?;
        if swept.expired > 0 {
            tracing::info!(expired = swept.expired, "abandoned challenges expired");
        }
        Ok(swept)
    }

    /// Expires the due challenges of one partition; returns (expired, left).
    async fn sweep_partition(
        &self,
        partition: DeadlinePartition,
        now: i64,
    ) -> Result<(usize, usize), StoreError> {
        let mut query = Query {
            index: Index::ByDeadline,
            partition: partition.to_string(),
            up_to: Some((number_value(now), true)),
            descending: false,
            limit: PAGE,
            start_after: None,
        };
        let (mut expired, mut left) = (0, 0);
        loop {
            let page = self.store.query(&query).await?;
            for item in &page.items {
                match self.expire(item, now).await? {
                    Entry::Expired => expired += 1,
                    Entry::Gone => {}
                    Entry::Left => left += 1,
                }
            }
            match page.next {
                Some(next) => query.start_after = Some(next),
                None => return Ok((expired, left)),
            }
        }
    }

    /// One conditional write.
    async fn expire(&self, item: &crate::store::Item, now: i64) -> Result<Entry, StoreError> {
        let (Some(tenant), Some(reference)) = (
            string(item, attr::TENANT_ID).and_then(|t| TenantId::parse("tenant", t).ok()),
            string(item, attr::REFERENCE_CODE)
                .and_then(|r| ReferenceCode::parse("reference_code", r).ok()),
        ) else {
            tracing::warn!("a deadline index entry without its session's names was skipped");
            return Ok(Entry::Gone);
        };
        let session = SessionRef::new(tenant, reference);
        Ok(match self.sessions.expire_due(&session, now).await? {
            Expired::Now(_) => Entry::Expired,
            // Decided or canceled meanwhile (the index, eventually consistent, had not
            // caught up), or deleted.
            Expired::Already(_) | Expired::Gone => Entry::Gone,
            Expired::Moved(current) if current.state.is_terminal() => Entry::Gone,
            // A validation holds a live claim: the next run looks again.
            Expired::Moved(_) => Entry::Left,
        })
    }

    /// Moves the cursor forward (never back: two runs may overlap).
    async fn advance(&self, minute: i64) -> Result<(), StoreError> {
        let mutation = Mutation {
            guard: Guard::Or(vec![Guard::Absent, Guard::Lt(CURSOR_MINUTE, minute)]),
            patch: Patch::default().set(CURSOR_MINUTE, number_value(minute)),
        };
        self.store.write(&cursor_key(), &mutation).await?;
        Ok(())
    }
}

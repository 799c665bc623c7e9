//! The sweeper: expires challenges abandoned past their deadline, so their card data goes
//! and their `authentication.expired` event is sent even if nobody ever comes back.
//!
//! Pending challenges carry the deadline index's attributes (`Index::ByDeadline`: the
//! deadline's minute and a shard); terminal states remove them, so the index holds only
//! what may still need expiring, and every expiry is progress that stays made. Each run
//! reads the minutes from its cursor on (at most [`SweepLimits::minutes_per_run`] of
//! them, within [`SweepLimits::run_time`]), expires each due challenge with the same
//! conditional write as the callback and the status route (a challenge decided or
//! canceled meanwhile is left alone: the write is refused), and moves its cursor past
//! each minute as soon as that minute is finished: a backlog of any length drains over
//! runs. An entry that cannot be read is skipped and counted, never fatal; a write or a
//! query that fails leaves its minute for the next run.

use std::time::Duration;

use futures_util::{StreamExt, stream};

use super::{Expired, SessionRef, Sessions, attr};
use crate::domain::{ReferenceCode, TenantId};
use crate::store::index::DeadlinePartition;
use crate::store::{
    Guard, Index, Item, Kind, Mutation, Patch, Query, SharedStore, StoreError, number,
    number_value, string,
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

/// Partitions read at once, and expiries written at once.
const PARALLEL_QUERIES: usize = 8;
const PARALLEL_WRITES: usize = 16;

/// How much one run may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SweepLimits {
    /// Minutes read per run: a run after an outage catches up this many at a time.
    pub minutes_per_run: i64,
    /// A run starts no new minute after this long (the schedule's next run goes on).
    pub run_time: Duration,
}

impl Default for SweepLimits {
    fn default() -> Self {
        Self {
            minutes_per_run: 120,
            // Within the function's 30 s timeout, with room for the last minute's work.
            run_time: Duration::from_secs(20),
        }
    }
}

/// What one run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    pub expired: usize,
    /// Due challenges left as they were for now (a validation holds a live claim).
    pub left: usize,
    /// Index entries that could not be read (no session names): passed over.
    pub skipped: usize,
    /// Writes and queries that failed: their minutes are read again next run.
    pub failed: usize,
    pub minutes: i64,
    /// Minutes between the cursor and now after the run: how far behind the sweeper is.
    pub lag_minutes: i64,
}

/// What became of one due index entry.
enum Entry {
    Expired,
    Gone,
    Left,
    Unreadable,
    Failed,
}

/// What became of one minute.
#[derive(Default)]
struct Minute {
    expired: usize,
    left: usize,
    skipped: usize,
    failed: usize,
}

impl Minute {
    /// Nothing in it is still to do: the cursor may pass it.
    fn finished(&self) -> bool {
        self.left == 0 && self.failed == 0
    }

    fn count(&mut self, entry: Entry) {
        match entry {
            Entry::Expired => self.expired += 1,
            Entry::Gone => {}
            Entry::Left => self.left += 1,
            Entry::Unreadable => self.skipped += 1,
            Entry::Failed => self.failed += 1,
        }
    }
}

pub struct Sweeper {
    sessions: Sessions,
    store: SharedStore,
    limits: SweepLimits,
}

impl Sweeper {
    pub fn new(sessions: Sessions, store: SharedStore) -> Self {
        Self::with_limits(sessions, store, SweepLimits::default())
    }

    pub fn with_limits(sessions: Sessions, store: SharedStore, limits: SweepLimits) -> Self {
        Self {
            sessions,
            store,
            limits,
        }
    }

    /// One run. Fails only when the cursor cannot be read (nothing was done).
    pub async fn sweep(&self) -> Result<Swept, StoreError> {
        let started = tokio::time::Instant::now();
        let now = self.sessions.now_ms();
        let now_minute = DeadlinePartition::minute_of(now);
        let from = self
            .store
            .read(&cursor_key())
            .await?
            .and_then(|item| number(&item, CURSOR_MINUTE))
            // A first run reaches now within its minutes.
            .unwrap_or_else(|| {
                now_minute - FIRST_RUN_LOOKBACK_MINUTES.min(self.limits.minutes_per_run - 1)
            });
        let last = now_minute.min(from + self.limits.minutes_per_run - 1);
        let mut cursor = from;
        let mut swept = Swept::default();
        // Whether every minute so far was finished: the cursor follows them.
        let mut caught_up = true;
        for minute in from..=last {
            if started.elapsed() >= self.limits.run_time {
                break;
            }
            let done = self.sweep_minute(minute, now).await;
            swept.minutes += 1;
            swept.expired += done.expired;
            swept.left += done.left;
            swept.skipped += done.skipped;
            swept.failed += done.failed;
            // The minute now is still filling; a finished earlier one is passed for good.
            caught_up &= done.finished() && minute < now_minute;
            if caught_up {
                cursor = minute + 1;
                if let Err(error) = self.advance(cursor).await {
                    tracing::warn!(%error, "the sweeper's cursor could not be moved");
                    swept.failed += 1;
                }
            }
        }
        swept.lag_minutes = now_minute - cursor;
        if swept.expired > 0 || swept.skipped > 0 || swept.failed > 0 {
            tracing::info!(
                expired = swept.expired,
                skipped = swept.skipped,
                failed = swept.failed,
                lag_minutes = swept.lag_minutes,
                "sweep"
            );
        }
        crate::telemetry::metrics::sweep(
            swept.expired,
            swept.skipped,
            swept.failed,
            swept.lag_minutes,
        );
        Ok(swept)
    }

    /// Expires the due challenges of every shard of one minute.
    async fn sweep_minute(&self, minute: i64, now: i64) -> Minute {
        // The futures made before they are streamed: a stream that borrows `self` in a
        // closure is not `Send` for every lifetime (rust-lang/rust#102211).
        let partitions: Vec<_> = DeadlinePartition::of_minute(minute)
            .map(|partition| self.sweep_partition(partition, now))
            .collect();
        let parts: Vec<Minute> = stream::iter(partitions)
            .buffer_unordered(PARALLEL_QUERIES)
            .collect()
            .await;
        parts
            .into_iter()
            .fold(Minute::default(), |mut total, part| {
                total.expired += part.expired;
                total.left += part.left;
                total.skipped += part.skipped;
                total.failed += part.failed;
                total
            })
    }

    /// Expires the due challenges of one partition, page by page.
    async fn sweep_partition(&self, partition: DeadlinePartition, now: i64) -> Minute {
        let mut query = Query {
            index: Index::ByDeadline,
            partition: partition.to_string(),
            up_to: Some((number_value(now), true)),
            descending: false,
            limit: PAGE,
            start_after: None,
        };
        let mut minute = Minute::default();
        loop {
            let page = match self.store.query(&query).await {
                Ok(page) => page,
                Err(error) => {
                    tracing::warn!(%error, "a deadline partition could not be read");
                    minute.failed += 1;
                    return minute;
                }
            };
            let expiries: Vec<_> = page
                .items
                .iter()
                .map(|item| self.expire(item, now))
                .collect();
            let entries: Vec<Entry> = stream::iter(expiries)
                .buffer_unordered(PARALLEL_WRITES)
                .collect()
                .await;
            for entry in entries {
                minute.count(entry);
            }
            match page.next {
                Some(next) => query.start_after = Some(next),
                None => return minute,
            }
        }
    }

    /// One conditional write.
    async fn expire(&self, item: &Item, now: i64) -> Entry {
        let (Some(tenant), Some(reference)) = (
            string(item, attr::TENANT_ID).and_then(|t| TenantId::parse("tenant", t).ok()),
            string(item, attr::REFERENCE_CODE)
                .and_then(|r| ReferenceCode::parse("reference_code", r).ok()),
        ) else {
            tracing::warn!("a deadline index entry without its session's names was skipped");
            return Entry::Unreadable;
        };
        let session = SessionRef::new(tenant, reference);
        match self.sessions.expire_due(&session, now).await {
            Ok(Expired::Now(_)) => Entry::Expired,
            // Decided or canceled meanwhile (the index, eventually consistent, had not
            // caught up), or deleted.
            Ok(Expired::Already(_) | Expired::Gone) => Entry::Gone,
            Ok(Expired::Moved(current)) if current.state.is_terminal() => Entry::Gone,
            // A validation holds a live claim: the next run looks again.
            Ok(Expired::Moved(_)) => Entry::Left,
            Err(StoreError::Corrupt(_)) => {
                tracing::warn!("a due session that cannot be read was skipped");
                Entry::Unreadable
            }
            Err(error) => {
                tracing::warn!(%error, "a due challenge could not be expired");
                Entry::Failed
            }
        }
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

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use async_trait::async_trait;

    use super::*;
    use crate::clock::{Clock, OffsetClock};
    use crate::config::SessionSettings;
    use crate::lease::contract::settings;
    use crate::session::SessionState;
    use crate::session::fixtures::leave_pending;
    use crate::store::memory::MemoryStore;
    use crate::store::{ItemStore, Page, Written, index};

    const MINUTE_MS: i64 = 60_000;

    /// A store whose writes to chosen keys fail, once each.
    #[derive(Default)]
    struct Flaky {
        inner: MemoryStore,
        fail_once: Mutex<Vec<String>>,
    }

    #[async_trait]
    impl ItemStore for Flaky {
        async fn write(&self, key: &str, mutation: &Mutation) -> Result<Written, StoreError> {
            let fails = {
                let mut failing = self.fail_once.lock().unwrap();
                let at = failing.iter().position(|k| k == key);
                at.map(|at| failing.remove(at)).is_some()
            };
            if fails {
                return Err(StoreError::Unavailable("throttled".into()));
            }
            self.inner.write(key, mutation).await
        }
        async fn read(&self, key: &str) -> Result<Option<Item>, StoreError> {
            self.inner.read(key).await
        }
        async fn query(&self, query: &Query) -> Result<Page, StoreError> {
            self.inner.query(query).await
        }
        async fn read_many(&self, keys: &[String]) -> Result<HashMap<String, Item>, StoreError> {
            self.inner.read_many(keys).await
        }

        async fn write_together(
            &self,
            writes: &[(String, crate::store::Mutation)],
        ) -> Result<bool, StoreError> {
            self.inner.write_together(writes).await
        }
    }

    struct Fixture {
        store: Arc<Flaky>,
        clock: Arc<OffsetClock>,
        sessions: Sessions,
        start_ms: i64,
    }

    impl Fixture {
        fn new() -> Self {
            let store = Arc::new(Flaky::default());
            let clock = Arc::new(OffsetClock::default());
            let sessions = Sessions::new(
                store.clone(),
                clock.clone(),
                SessionSettings {
                    challenge_deadline: Duration::from_secs(600),
                    record_ttl: Duration::from_secs(86_400),
                    lease: settings(50),
                },
            );
            let start_ms = clock.now_ms();
            Self {
                store,
                clock,
                sessions,
                start_ms,
            }
        }

        fn sweeper(&self, minutes_per_run: i64) -> Sweeper {
            let limits = SweepLimits {
                minutes_per_run,
                ..SweepLimits::default()
            };
            Sweeper::with_limits(self.sessions.clone(), self.store.clone(), limits)
        }

        fn session(reference: &str) -> SessionRef {
            SessionRef::new(
                TenantId::parse("tenant", "shop-a").unwrap(),
                ReferenceCode::parse("reference", reference).unwrap(),
            )
        }

        /// A challenge left pending, due at `deadline_ms`.
        async fn pending(&self, reference: &str, deadline_ms: i64) {
            let session = Self::session(reference);
            leave_pending(&self.sessions, &session, self.clock.now_ms(), deadline_ms).await;
        }

        async fn state_of(&self, reference: &str) -> SessionState {
            let session = self.sessions.get(&Self::session(reference)).await.unwrap();
            session.unwrap().state
        }

        /// The sweeper last ran at the start, then stopped for `minutes`.
        async fn down_for(&self, sweeper: &Sweeper, minutes: i64) {
            sweeper
                .advance(DeadlinePartition::minute_of(self.start_ms))
                .await
                .unwrap();
            self.clock.advance(Duration::from_secs(minutes as u64 * 60));
        }
    }

    #[tokio::test]
    async fn a_backlog_longer_than_a_run_drains_over_the_next_runs() {
        let f = Fixture::new();
        // One abandoned challenge due in each of 300 minutes.
        for minute in 0..300 {
            f.pending(&format!("r-{minute}"), f.start_ms + minute * MINUTE_MS)
                .await;
        }
        let sweeper = f.sweeper(100);
        f.down_for(&sweeper, 301).await;

        let mut runs = Vec::new();
        for _ in 0..4 {
            runs.push(sweeper.sweep().await.unwrap());
        }
        let expired: Vec<usize> = runs.iter().map(|r| r.expired).collect();
        let lag: Vec<i64> = runs.iter().map(|r| r.lag_minutes).collect();
        assert_eq!(expired, [100, 100, 100, 0], "{runs:?}");
        assert_eq!(lag, [201, 101, 1, 0], "{runs:?}");
        for minute in [0, 150, 299] {
            assert_eq!(
                f.state_of(&format!("r-{minute}")).await,
                SessionState::Expired
            );
        }
    }

    #[tokio::test]
    async fn an_unreadable_entry_is_skipped_and_counted_and_the_run_goes_on() {
        let f = Fixture::new();
        let due = f.start_ms + MINUTE_MS;
        f.pending("readable", due).await;
        // An index entry without its session's names, in the same minute and shard.
        let partition = DeadlinePartition::of("readable", due);
        let junk = Mutation {
            guard: Guard::Absent,
            patch: Patch::default()
                .set_s(index::attr::SWEEP_PK, partition.to_string())
                .set_n(index::attr::SWEEP_SK, due),
        };
        f.store.write("JUNK#1", &junk).await.unwrap();
        let sweeper = f.sweeper(100);
        f.down_for(&sweeper, 3).await;

        let swept = sweeper.sweep().await.unwrap();
        assert_eq!((swept.expired, swept.skipped), (1, 1), "{swept:?}");
        assert_eq!(swept.lag_minutes, 0, "the cursor passes it: {swept:?}");
        assert_eq!(f.state_of("readable").await, SessionState::Expired);
    }

    #[tokio::test]
    async fn a_failed_expiry_leaves_its_minute_for_the_next_run_and_the_rest_is_swept() {
        let f = Fixture::new();
        for minute in 0..5 {
            f.pending(&format!("r-{minute}"), f.start_ms + minute * MINUTE_MS)
                .await;
        }
        f.store
            .fail_once
            .lock()
            .unwrap()
            .push(Fixture::session("r-1").key());
        let sweeper = f.sweeper(100);
        f.down_for(&sweeper, 6).await;

        let first = sweeper.sweep().await.unwrap();
        assert_eq!((first.expired, first.failed), (4, 1), "{first:?}");
        assert_eq!(first.lag_minutes, 5, "held at the failed minute: {first:?}");
        assert_eq!(f.state_of("r-1").await, SessionState::ChallengePending);

        let second = sweeper.sweep().await.unwrap();
        assert_eq!(
            (second.expired, second.failed, second.lag_minutes),
            (1, 0, 0)
        );
        assert_eq!(f.state_of("r-1").await, SessionState::Expired);
    }
}

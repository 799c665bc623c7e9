//! The listing index's formats and how a listing reads it (`Index::ByTenant`).
//!
//! A tenant's records of one kind are spread over [`ListingPartition::SHARDS`] partitions
//! (a shard from the record's id), so no partition key takes more than its share of a
//! busy tenant's writes; each partition is sorted by [`ListingKey`] (when the record was
//! created, then its id). Entries carry the keys only: a record enters the index once,
//! when it is created, and no later write of it touches the index.
//!
//! A listing reads newest first across the shards ([`ListingScan`]): it queries each
//! shard below its position and merges them in order, taking only what every shard has
//! shown it (a shard that filled its page may hold more above another's next entry).
//! Its work is bounded ([`ScanBudget`]): whatever the tenant holds, a request makes at
//! most so many queries and examines at most so many entries, then answers with a cursor
//! ([`Cursor`]) where it stopped.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::index::{Index, shard_of};
use super::{AttributeValue, Item, ItemStore, KEY, Kind, Query, StoreError, string};
use crate::domain::TenantId;

/// A partition of the listing index: one shard of a tenant's records of one kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingPartition<'a> {
    pub tenant: &'a TenantId,
    pub kind: Kind,
    pub shard: u32,
}

impl<'a> ListingPartition<'a> {
    /// How many partitions a tenant's records of one kind spread over.
    pub const SHARDS: u32 = 4;

    /// The partition of the record `id`.
    pub fn of(tenant: &'a TenantId, kind: Kind, id: &str) -> Self {
        Self {
            tenant,
            kind,
            shard: shard_of(id, Self::SHARDS),
        }
    }

    /// Every shard of a tenant's records of `kind`.
    pub fn all(tenant: &'a TenantId, kind: Kind) -> impl Iterator<Item = Self> {
        (0..Self::SHARDS).map(move |shard| Self {
            tenant,
            kind,
            shard,
        })
    }
}

impl fmt::Display for ListingPartition<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}{}", self.tenant, self.kind.prefix(), self.shard)
    }
}

/// The listing index's sort key of a record: when it was created and its id, so a
/// partition reads newest first and two records of one millisecond keep an order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ListingKey {
    pub created_ms: i64,
    pub id: String,
}

impl ListingKey {
    /// An id above every record id (ids are letters, digits and `_ . : -`): a key with
    /// it is just above the records of its millisecond.
    const ABOVE_ANY_ID: &'static str = "~";

    pub fn new(created_ms: i64, id: impl Into<String>) -> Self {
        Self {
            created_ms,
            id: id.into(),
        }
    }

    /// Just above every record created at `created_ms` or earlier.
    fn above(created_ms: i64) -> Self {
        Self::new(created_ms, Self::ABOVE_ANY_ID)
    }

    /// `<created, epoch ms, 13 digits>#<id>`: ordered as strings as it is as numbers.
    pub fn encode(&self) -> String {
        format!("{:013}#{}", self.created_ms, self.id)
    }

    pub fn decode(text: &str) -> Option<Self> {
        let (created, id) = text.split_once('#')?;
        Some(Self {
            created_ms: created.parse().ok()?,
            id: id.to_owned(),
        })
    }
}

/// Where a listing stopped: every record below it is still to come. Handed to the caller
/// as an opaque token (`next_after`) and taken back as `after`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor(pub ListingKey);

impl Cursor {
    const PREFIX: &'static str = "lk.";

    pub fn token(&self) -> String {
        format!(
            "{}{}",
            Self::PREFIX,
            URL_SAFE_NO_PAD.encode(self.0.encode())
        )
    }

    /// A token this module made (`None` for anything else, such as a record's id).
    pub fn parse(token: &str) -> Option<Self> {
        let encoded = token.strip_prefix(Self::PREFIX)?;
        if encoded.len() > 200 {
            return None;
        }
        let text = String::from_utf8(URL_SAFE_NO_PAD.decode(encoded).ok()?).ok()?;
        ListingKey::decode(&text).map(Self)
    }
}

/// How much one request may read of a listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanBudget {
    /// Index queries.
    pub queries: usize,
    /// Index entries examined (each costs a record read).
    pub entries: usize,
}

impl ScanBudget {
    /// What one listing request may spend, whatever the tenant holds.
    pub const PER_REQUEST: ScanBudget = ScanBudget {
        queries: 4 * ListingPartition::SHARDS as usize,
        entries: 400,
    };
}

/// One entry of the listing: the record's store key and its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub record: String,
    pub key: ListingKey,
}

/// What the next step of a scan found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Entries, newest first, each one every shard has shown.
    Entries(Vec<Entry>),
    /// Nothing more (down to the oldest asked for).
    Done,
    /// The query budget is spent: the listing continues from [`ListingScan::position`].
    OutOfBudget,
}

/// A newest-first read of a tenant's records of one kind, across its shards.
pub struct ListingScan<'a> {
    store: &'a dyn ItemStore,
    partitions: Vec<String>,
    /// Exclusive: the next entries are below it.
    position: ListingKey,
    /// Entries created before this are not read (`created_after`, retention).
    oldest_ms: i64,
    /// Shards with nothing left below the position.
    exhausted: Vec<bool>,
    queries_left: usize,
}

impl<'a> ListingScan<'a> {
    /// A scan from just below `before` (or from `now_ms`) down to `oldest_ms`.
    pub fn new(
        store: &'a dyn ItemStore,
        tenant: &TenantId,
        kind: Kind,
        before: Option<ListingKey>,
        oldest_ms: i64,
        now_ms: i64,
        budget: ScanBudget,
    ) -> Self {
        let partitions: Vec<String> = ListingPartition::all(tenant, kind)
            .map(|p| p.to_string())
            .collect();
        Self {
            store,
            exhausted: vec![false; partitions.len()],
            partitions,
            position: before.unwrap_or_else(|| ListingKey::above(now_ms)),
            oldest_ms,
            queries_left: budget.queries,
        }
    }

    /// Where the scan stands: what it returned is above this, the rest below.
    pub fn position(&self) -> &ListingKey {
        &self.position
    }

    /// Whether every shard is read to its end (what was returned is all there is).
    pub fn finished(&self) -> bool {
        self.exhausted.iter().all(|done| *done)
    }

    /// Up to about `want` more entries, newest first.
    pub async fn next(&mut self, want: usize) -> Result<Step, StoreError> {
        let open: Vec<usize> = (0..self.partitions.len())
            .filter(|shard| !self.exhausted[*shard])
            .collect();
        if open.is_empty() || self.position.created_ms < self.oldest_ms {
            return Ok(Step::Done);
        }
        if open.len() > self.queries_left {
            return Ok(Step::OutOfBudget);
        }
        self.queries_left -= open.len();
        let per_shard = want.div_ceil(open.len()).max(1);
        let queries: Vec<Query> = open
            .iter()
            .map(|shard| Query {
                index: Index::ByTenant,
                partition: self.partitions[*shard].clone(),
                up_to: Some((AttributeValue::S(self.position.encode()), false)),
                descending: true,
                limit: per_shard,
                start_after: None,
            })
            .collect();
        let pages =
            futures_util::future::try_join_all(queries.iter().map(|q| self.store.query(q))).await?;
        let mut shown_by_shard = Vec::with_capacity(open.len());
        // The highest of the last entries of the shards that have more: below it, such a
        // shard may hold entries it has not shown.
        let mut floor: Option<ListingKey> = None;
        for (shard, page) in open.into_iter().zip(pages) {
            let shown: Vec<Entry> = page
                .items
                .iter()
                .filter_map(|item| {
                    Some(Entry {
                        record: string(item, KEY)?.to_owned(),
                        key: ListingKey::decode(string(item, Index::ByTenant.sort_attr())?)?,
                    })
                })
                .filter(|entry| entry.key.created_ms >= self.oldest_ms)
                .collect();
            let more = page.next.is_some() && shown.len() == page.items.len();
            if more {
                floor = floor.max(shown.last().map(|e| e.key.clone()));
            }
            shown_by_shard.push((shard, more, shown));
        }
        let mut entries = Vec::new();
        for (shard, more, shown) in shown_by_shard {
            let (kept, held_back): (Vec<Entry>, Vec<Entry>) = shown
                .into_iter()
                .partition(|entry| floor.as_ref().is_none_or(|floor| entry.key >= *floor));
            // A shard is done when it has nothing more and nothing held back for later.
            if !more && held_back.is_empty() {
                self.exhausted[shard] = true;
            }
            entries.extend(kept);
        }
        entries.sort_by(|a, b| b.key.cmp(&a.key));
        match entries.last() {
            Some(last) => {
                self.position = last.key.clone();
                Ok(Step::Entries(entries))
            }
            None => Ok(Step::Done),
        }
    }
}

/// Reads a page of a listing: scans entries newest first, reads their records (a batch
/// per step), keeps those `pick` turns into a `T`, and stops when the page is full or the
/// budget is spent. Returns the records and the cursor to continue from, if there may be
/// more.
pub async fn read_page<T>(
    mut scan: ListingScan<'_>,
    limit: usize,
    budget: ScanBudget,
    pick: impl Fn(Item) -> Option<T>,
) -> Result<(Vec<T>, Option<Cursor>), StoreError> {
    let mut found: Vec<T> = Vec::new();
    let mut examined = 0;
    loop {
        // A batch read takes at most 100 keys.
        let room = budget.entries.saturating_sub(examined).min(100);
        if room == 0 {
            return Ok((found, Some(Cursor(scan.position().clone()))));
        }
        let want = room.min(limit - found.len() + 1);
        let entries = match scan.next(want).await? {
            Step::Done => return Ok((found, None)),
            Step::OutOfBudget => return Ok((found, Some(Cursor(scan.position().clone())))),
            Step::Entries(entries) => entries,
        };
        let keys: Vec<String> = entries.iter().map(|e| e.record.clone()).collect();
        let mut items = scan.store.read_many(&keys).await?;
        for (n, entry) in entries.iter().enumerate() {
            examined += 1;
            // An entry whose record is gone (its time to live passed) is passed over.
            let Some(record) = items.remove(&entry.record).and_then(&pick) else {
                continue;
            };
            found.push(record);
            if found.len() == limit {
                // The page is full: the next one continues below this entry, if anything
                // is left there.
                let more = n + 1 < entries.len() || !scan.finished();
                return Ok((found, more.then(|| Cursor(entry.key.clone()))));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listing_key_orders_as_its_time_and_reads_back() {
        let early = ListingKey::new(999, "b");
        let late = ListingKey::new(1_000, "a");
        assert!(early.encode() < late.encode());
        assert!(late.encode() < ListingKey::above(1_000).encode());
        assert_eq!(ListingKey::decode(&late.encode()), Some(late));
        assert_eq!(ListingKey::decode("x#y"), None);
    }

    #[test]
    fn a_cursor_token_reads_back_and_nothing_else_is_one() {
        let cursor = Cursor(ListingKey::new(1_700_000_000_000, "order-1"));
        assert_eq!(Cursor::parse(&cursor.token()), Some(cursor));
        for other in ["order-1", "evt_0001", "lk.!!", "lk."] {
            assert_eq!(Cursor::parse(other), None, "{other}");
        }
    }

    #[test]
    fn a_records_shard_is_stable_and_every_shard_is_listed() {
        let tenant = TenantId::parse("t", "shop-a").unwrap();
        let partition = ListingPartition::of(&tenant, Kind::AuthenticationSession, "order-1");
        assert_eq!(
            partition,
            ListingPartition::of(&tenant, Kind::AuthenticationSession, "order-1")
        );
        assert!(partition.shard < ListingPartition::SHARDS);
        assert_eq!(
            partition.to_string(),
            format!("shop-a#AUTH#{}", partition.shard)
        );
        assert_eq!(
            ListingPartition::all(&tenant, Kind::Event).count(),
            ListingPartition::SHARDS as usize
        );
    }
}

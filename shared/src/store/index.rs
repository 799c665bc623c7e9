//! The table's two secondary indexes and the formats of their keys, each written and read
//! here only: the deadline index (pending challenges by deadline minute and shard, for the
//! sweeper) and the listing index (a tenant's records of one kind, by creation day, newest
//! first).

use std::fmt;

use super::{AttributeValue, Item, ItemStore, Query, StoreError};
use crate::domain::TenantId;
use crate::store::Kind;

/// The index attributes, declared once.
pub mod attr {
    /// What the deadline index carries of a pending challenge besides its keys: the
    /// names of its session (the session record checks its own attributes are these).
    pub const PROJECTED_BY_DEADLINE: [&str; 2] =
        [crate::store::attr::TENANT_ID, SESSION_REFERENCE_CODE];
    /// The session's reference code, as the deadline index carries it.
    pub const SESSION_REFERENCE_CODE: &str = "reference_code";
    /// The deadline index's partition key ([`super::DeadlinePartition`]).
    pub const SWEEP_PK: &str = "sweep_pk";
    /// The deadline index's sort key: the deadline, epoch ms.
    pub const SWEEP_SK: &str = "sweep_sk";
    /// The listing index's partition key ([`super::ListingDay`]).
    pub const LIST_PK: &str = "list_pk";
    /// The listing index's sort key ([`super::ListingKey`]).
    pub const LIST_SK: &str = "list_sk";
}

/// A secondary index of the table. Both are sparse (only items that carry its
/// attributes are in it) and spread their writes: no partition key all writes share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Index {
    /// Challenges waiting for their deadline: partition [`DeadlinePartition`], sort the
    /// deadline (epoch ms).
    ByDeadline,
    /// A tenant's records of one kind, by day: partition [`ListingDay`], sort
    /// [`ListingKey`].
    ByTenantDay,
}

impl Index {
    pub const ALL: [Index; 2] = [Index::ByDeadline, Index::ByTenantDay];

    pub fn name(self) -> &'static str {
        match self {
            Index::ByDeadline => "by_deadline",
            Index::ByTenantDay => "by_tenant_day",
        }
    }

    pub fn partition_attr(self) -> &'static str {
        match self {
            Index::ByDeadline => attr::SWEEP_PK,
            Index::ByTenantDay => attr::LIST_PK,
        }
    }

    pub fn sort_attr(self) -> &'static str {
        match self {
            Index::ByDeadline => attr::SWEEP_SK,
            Index::ByTenantDay => attr::LIST_SK,
        }
    }

    /// The attributes an index entry carries besides the keys (`None`: all of them).
    pub fn projected(self) -> Option<&'static [&'static str]> {
        match self {
            Index::ByDeadline => Some(&attr::PROJECTED_BY_DEADLINE),
            Index::ByTenantDay => None,
        }
    }

    /// Whether the sort key is a number (`N`) rather than a string.
    pub fn numeric_sort(self) -> bool {
        matches!(self, Index::ByDeadline)
    }
}

/// A partition of the deadline index: the minute a challenge's deadline falls in, and a
/// shard from its record's key, so no partition takes all of a busy minute's writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeadlinePartition {
    pub minute: i64,
    pub shard: u32,
}

impl DeadlinePartition {
    /// How many partitions one minute's challenges spread over.
    pub const SHARDS: u32 = 4;

    /// The partition of the record `record_key` whose deadline is `deadline_ms`.
    pub fn of(record_key: &str, deadline_ms: i64) -> Self {
        // FNV-1a: stable across processes and versions, unlike the std hasher.
        let hash = record_key.bytes().fold(0x811c_9dc5_u32, |h, b| {
            (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
        });
        Self {
            minute: Self::minute_of(deadline_ms),
            shard: hash % Self::SHARDS,
        }
    }

    /// The minute an instant falls in.
    pub fn minute_of(epoch_ms: i64) -> i64 {
        epoch_ms.div_euclid(60_000)
    }

    /// Every shard of one minute.
    pub fn of_minute(minute: i64) -> impl Iterator<Item = Self> {
        (0..Self::SHARDS).map(move |shard| Self { minute, shard })
    }
}

impl fmt::Display for DeadlinePartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.minute, self.shard)
    }
}

/// A partition of the listing index: a tenant's records of one kind created on one day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingDay<'a> {
    pub tenant: &'a TenantId,
    pub kind: Kind,
    /// Any instant of the day, epoch ms.
    pub day_ms: i64,
}

impl fmt::Display for ListingDay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}#{}{}",
            self.tenant,
            self.kind.prefix(),
            crate::clock::utc_date(self.day_ms)
        )
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
    pub fn new(created_ms: i64, id: impl Into<String>) -> Self {
        Self {
            created_ms,
            id: id.into(),
        }
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

/// The days a newest-first listing walks, as epoch ms in each: from the day of `start_ms`
/// back to the day of `oldest_ms`, at most `max_days + 1` of them.
pub fn days_back(start_ms: i64, oldest_ms: i64, max_days: i64) -> impl Iterator<Item = i64> {
    const DAY: i64 = 86_400_000;
    let oldest_day = oldest_ms.div_euclid(DAY);
    (0..=max_days)
        .map(move |back| start_ms - back * DAY)
        .take_while(move |day| day.div_euclid(DAY) >= oldest_day)
}

/// A tenant's items of one kind, newest first, across the listing index's day partitions
/// (`partitions`, newest day first): `limit` of them whose sort key is below `before`
/// (the last one of the previous page) and that `keep` accepts. Returns them and whether
/// more may follow.
pub async fn newest_first(
    store: &dyn ItemStore,
    partitions: impl IntoIterator<Item = String>,
    before: Option<&ListingKey>,
    limit: usize,
    keep: impl Fn(&Item) -> bool,
) -> Result<(Vec<Item>, bool), StoreError> {
    let mut found = Vec::new();
    for partition in partitions {
        let mut query = Query {
            index: Index::ByTenantDay,
            partition,
            up_to: before.map(|b| (AttributeValue::S(b.encode()), false)),
            descending: true,
            limit: limit + 1,
            start_after: None,
        };
        loop {
            let page = store.query(&query).await?;
            for item in page.items.into_iter().filter(|i| keep(i)) {
                found.push(item);
                if found.len() > limit {
                    found.truncate(limit);
                    return Ok((found, true));
                }
            }
            match page.next {
                Some(next) => query.start_after = Some(next),
                None => break,
            }
        }
    }
    Ok((found, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listing_key_orders_as_its_time_and_reads_back() {
        let early = ListingKey::new(999, "b");
        let late = ListingKey::new(1_000, "a");
        assert!(early.encode() < late.encode());
        assert_eq!(ListingKey::decode(&late.encode()), Some(late));
        assert_eq!(ListingKey::decode("x#y"), None);
    }

    #[test]
    fn a_deadline_partition_is_its_minute_and_a_stable_shard() {
        let partition = DeadlinePartition::of("AUTH#shop-a#r1", 120_500);
        assert_eq!(partition.minute, 2);
        assert_eq!(partition, DeadlinePartition::of("AUTH#shop-a#r1", 179_999));
        assert!(partition.shard < DeadlinePartition::SHARDS);
        assert_eq!(partition.to_string(), format!("2#{}", partition.shard));
        assert_eq!(DeadlinePartition::of_minute(2).count(), 4);
    }
}

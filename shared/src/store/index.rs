//! The table's two secondary indexes and the formats of their keys, each written and read
//! here only: the deadline index (pending challenges by deadline minute and shard, for the
//! sweeper) and the listing index (a tenant's records of one kind, newest first, in
//! `crate::store::listing`).

use std::fmt;

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
    /// The listing index's partition key (`crate::store::listing::ListingPartition`).
    pub const LIST_PK: &str = "list_pk";
    /// The listing index's sort key (`crate::store::listing::ListingKey`).
    pub const LIST_SK: &str = "list_sk";
}

/// A secondary index of the table. Both are sparse (only items that carry its
/// attributes are in it) and spread their writes: no partition key all writes share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Index {
    /// Challenges waiting for their deadline: partition [`DeadlinePartition`], sort the
    /// deadline (epoch ms).
    ByDeadline,
    /// A tenant's records of one kind, newest first: partition a tenant's kind and a shard
    /// (`ListingPartition`), sort when each was created and its id (`ListingKey`). Keys
    /// only: a listing reads the records it shows, and no later write of a record touches
    /// its entry.
    ByTenant,
}

impl Index {
    pub const ALL: [Index; 2] = [Index::ByDeadline, Index::ByTenant];

    pub fn name(self) -> &'static str {
        match self {
            Index::ByDeadline => "by_deadline",
            Index::ByTenant => "by_tenant",
        }
    }

    pub fn partition_attr(self) -> &'static str {
        match self {
            Index::ByDeadline => attr::SWEEP_PK,
            Index::ByTenant => attr::LIST_PK,
        }
    }

    pub fn sort_attr(self) -> &'static str {
        match self {
            Index::ByDeadline => attr::SWEEP_SK,
            Index::ByTenant => attr::LIST_SK,
        }
    }

    /// The attributes an index entry carries besides the keys (none but them: `[]`).
    pub fn projected(self) -> Option<&'static [&'static str]> {
        // `None` would be every attribute: no index of ours copies whole records.
        match self {
            Index::ByDeadline => Some(&attr::PROJECTED_BY_DEADLINE),
            Index::ByTenant => Some(&[]),
        }
    }

    /// Whether the sort key is a number (`N`) rather than a string.
    pub fn numeric_sort(self) -> bool {
        matches!(self, Index::ByDeadline)
    }
}

/// The load the indexes are sized for (`DESIGN.md`, Scale): so many authentications a
/// second for each of so many tenants at once. The index capacity test computes each
/// index partition's write rate at this load from the records' own writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sizing {
    pub authentications_per_tenant_per_sec: u32,
    pub tenants_at_peak: u32,
}

pub const SIZED_FOR: Sizing = Sizing {
    authentications_per_tenant_per_sec: 1_000,
    tenants_at_peak: 16,
};

/// The shard of `id` among `shards`: FNV-1a, stable across processes and versions (unlike
/// the std hasher), so a record's entry is found where it was written.
pub(crate) fn shard_of(id: &str, shards: u32) -> u32 {
    let hash = id.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    hash % shards
}

/// A partition of the deadline index: the minute a challenge's deadline falls in, and a
/// shard from its record's key, so no partition takes all of a busy minute's writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeadlinePartition {
    pub minute: i64,
    pub shard: u32,
}

impl DeadlinePartition {
    /// How many partitions one minute's challenges spread over: sized for
    /// [`SIZED_FOR`] (every tenant's challenges share this index).
    pub const SHARDS: u32 = 64;

    /// The partition of the record `record_key` whose deadline is `deadline_ms`.
    pub fn of(record_key: &str, deadline_ms: i64) -> Self {
        Self {
            minute: Self::minute_of(deadline_ms),
            shard: shard_of(record_key, Self::SHARDS),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deadline_partition_is_its_minute_and_a_stable_shard() {
        let partition = DeadlinePartition::of("AUTH#shop-a#r1", 120_500);
        assert_eq!(partition.minute, 2);
        assert_eq!(partition, DeadlinePartition::of("AUTH#shop-a#r1", 179_999));
        assert!(partition.shard < DeadlinePartition::SHARDS);
        assert_eq!(partition.to_string(), format!("2#{}", partition.shard));
        assert_eq!(
            DeadlinePartition::of_minute(2).count(),
            DeadlinePartition::SHARDS as usize
        );
    }
}

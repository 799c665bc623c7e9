//! The indexes hold 1,000 authentications a second per tenant (`DESIGN.md`, Scale):
//! computed from the writes the code really makes. A frictionless and a challenged
//! authentication run through every function (their events recorded and delivered by
//! notify) on a store that keeps each write's before and after; each index's entries are
//! derived from those images as DynamoDB derives them (its keys and projection), so an
//! index write is counted wherever an entry appears, moves, changes or goes, and sized as
//! DynamoDB sizes it. At the load the indexes are sized for
//! (`gateway::store::index::SIZED_FOR`), no partition key may take more than 80% of the
//! 1,000 write units a second one partition allows. `docs/capacity.md` shows the table.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use gateway::events::queue::SharedQueue;
use gateway::platform::Platform;
use gateway::store::index::{DeadlinePartition, SIZED_FOR};
use gateway::store::listing::ListingPartition;
use gateway::store::{
    AttributeValue, Index, Item, ItemStore, KEY, Kind, Mutation, Page, Query, SharedStore,
    StoreError, Written,
};
use gateway_loopback::queue::MemoryQueue;
use gateway_tests::events::{Receiver, registry_with_webhook};
use gateway_tests::*;

/// The write units one partition key takes per second at most.
const PARTITION_WCU_PER_SEC: f64 = 1_000.0;

/// What an index entry costs beyond its attributes (DynamoDB's documented overhead).
const INDEX_ENTRY_OVERHEAD: usize = 100;

/// A store that keeps every applied write's item before and after.
struct Recording {
    inner: SharedStore,
    writes: Mutex<Vec<(Option<Item>, Item)>>,
}

#[async_trait]
impl ItemStore for Recording {
    async fn write(&self, key: &str, mutation: &Mutation) -> Result<Written, StoreError> {
        let before = self.inner.read(key).await?;
        let written = self.inner.write(key, mutation).await?;
        if let Written::Applied(after) = &written {
            self.writes.lock().unwrap().push((before, after.clone()));
        }
        Ok(written)
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
        writes: &[(String, gateway::store::Mutation)],
    ) -> Result<bool, StoreError> {
        self.inner.write_together(writes).await
    }
}

/// An attribute value's size as DynamoDB counts it.
fn value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(text) => text.len(),
        AttributeValue::N(number) => number.trim_start_matches('-').len().div_ceil(2) + 1,
        AttributeValue::B(bytes) => bytes.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::M(map) => {
            3 + map
                .iter()
                .map(|(k, v)| k.len() + value_size(v) + 1)
                .sum::<usize>()
        }
        AttributeValue::L(list) => 3 + list.iter().map(|v| value_size(v) + 1).sum::<usize>(),
        AttributeValue::Ss(set) => set.iter().map(String::len).sum(),
        _ => 8,
    }
}

/// The entry `item` has in `index`, as DynamoDB keeps it: its keys and what the index
/// projects, if it carries the index's keys at all (both indexes are sparse).
fn entry_of(index: Index, item: &Item) -> Option<Item> {
    let (partition, sort) = (index.partition_attr(), index.sort_attr());
    if !item.contains_key(partition) || !item.contains_key(sort) {
        return None;
    }
    let projected = index.projected().expect("no index copies whole items");
    Some(
        item.iter()
            .filter(|(name, _)| {
                [KEY, partition, sort].contains(&name.as_str())
                    || projected.contains(&name.as_str())
            })
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect(),
    )
}

fn write_units(entry: &Item) -> f64 {
    let size: usize = entry
        .iter()
        .map(|(name, value)| name.len() + value_size(value))
        .sum();
    (size + INDEX_ENTRY_OVERHEAD).div_ceil(1024) as f64
}

/// The index writes of one table write, in write units, by the kind of record.
fn index_writes(index: Index, before: Option<&Item>, after: &Item) -> f64 {
    let old = before.and_then(|item| entry_of(index, item));
    let new = entry_of(index, after);
    let same_keys = |a: &Item, b: &Item| {
        a.get(index.partition_attr()) == b.get(index.partition_attr())
            && a.get(index.sort_attr()) == b.get(index.sort_attr())
    };
    match (old, new) {
        (None, None) => 0.0,
        (None, Some(new)) => write_units(&new),
        (Some(old), None) => write_units(&old),
        (Some(old), Some(new)) if !same_keys(&old, &new) => write_units(&old) + write_units(&new),
        (Some(old), Some(new)) if old != new => write_units(&new),
        _ => 0.0,
    }
}

/// Write units per authentication, by index and the kind of record written.
#[derive(Debug, Default)]
struct Cost {
    by: HashMap<(&'static str, Kind), f64>,
}

impl Cost {
    fn of(writes: &[(Option<Item>, Item)], authentications: f64) -> Self {
        let mut cost = Cost::default();
        for (before, after) in writes {
            let key = gateway::store::string(after, KEY).unwrap_or_default();
            let kind = Kind::of_key(key).expect("every key is of a kind");
            for index in Index::ALL {
                let units = index_writes(index, before.as_ref(), after);
                *cost.by.entry((index.name(), kind)).or_default() += units / authentications;
                // An entry still there when its record's time to live ends is deleted then:
                // one more write, later, at the same rate.
                let created = before.as_ref().and_then(|b| entry_of(index, b)).is_none();
                if let (true, Index::ByTenant, Some(entry)) =
                    (created, index, entry_of(index, after))
                {
                    *cost.by.entry((index.name(), kind)).or_default() +=
                        write_units(&entry) / authentications;
                }
            }
        }
        cost.by.retain(|_, units| *units > 0.0);
        cost
    }
}

/// Runs `flows` frictionless and challenged authentications of shop-a's through every
/// function, their events recorded and delivered, and returns the writes made.
async fn authentications(pairs: usize) -> Vec<(Option<Item>, Item)> {
    let receiver = Receiver::start(0).await;
    let h = Harness::with(
        Backend::Memory,
        SandboxConfig::default(),
        &[
            ("ALLOW_INSECURE_LOOPBACK_URLS", "true"),
            ("DELIVERY_QUEUE_URL", "memory"),
            (
                "DELIVERY_DEAD_LETTER_QUEUE_ARN",
                MemoryQueue::DEAD_LETTER_ARN,
            ),
        ],
    )
    .await;
    h.set_registry(&registry_with_webhook(&receiver));
    let recording = Arc::new(Recording {
        inner: h.store.clone(),
        writes: Mutex::default(),
    });
    let queue = Arc::new(MemoryQueue::new(h.clock(), 13));
    let platform = Platform {
        store: recording.clone(),
        deliveries: Some(queue.clone() as SharedQueue),
        ..h.platform()
    };
    let api = h.api_on(&platform).await;
    let config = notify::NotifyConfig::from_env(&h.config_env()).unwrap();
    let notify = notify::build(&config, &platform, queue.clone())
        .await
        .unwrap();
    for n in 0..pairs {
        let body = prepared_enroll_as(
            &api,
            MERCHANT_KEY,
            MERCHANT_ORIGIN,
            &format!("f-{n}"),
            "4000000000002701",
        )
        .await;
        let answer = send(&api, post_json(ENROLL, Some(MERCHANT_KEY), &body)).await;
        assert_eq!(answer.status, http::StatusCode::OK, "{}", answer.text());

        let reference = format!("c-{n}");
        let body = prepared_enroll_as(
            &api,
            MERCHANT_KEY,
            MERCHANT_ORIGIN,
            &reference,
            "4000000000002503",
        )
        .await;
        let answer = send(&api, post_json(ENROLL, Some(MERCHANT_KEY), &body)).await;
        let challenge = challenge_of(&reference, body, &answer);
        let acs = at_the_acs(&challenge, "submit", "1234").await;
        let back = send(&api, form_post(&acs.path, acs.form())).await;
        assert_eq!(
            verified_redirect(&back).1.get("status"),
            Some("authenticated")
        );
    }
    gateway_loopback::background::notice_changes(&notify, &*h.feed).await;
    while gateway_loopback::background::deliver_memory(&notify, &queue).await > 0 {}
    assert_eq!(
        receiver.received().len(),
        2 * pairs,
        "every event delivered"
    );
    recording.writes.lock().unwrap().clone()
}

/// One index partition key's load at the sized-for rate.
struct PartitionLoad {
    index: &'static str,
    partition: &'static str,
    units_per_authentication: f64,
    per_second: f64,
}

fn loads(cost: &Cost) -> Vec<PartitionLoad> {
    let per_tenant = f64::from(SIZED_FOR.authentications_per_tenant_per_sec);
    let tenants = f64::from(SIZED_FOR.tenants_at_peak);
    let units =
        |index: Index, kind: Kind| cost.by.get(&(index.name(), kind)).copied().unwrap_or(0.0);
    let listing_shards = f64::from(ListingPartition::SHARDS);
    let mut loads = Vec::new();
    for (kind, partition) in [
        (Kind::AuthenticationSession, "`{tenant}#AUTH#{shard}`"),
        (Kind::Event, "`{tenant}#EVENT#{shard}`"),
    ] {
        let per_authentication = units(Index::ByTenant, kind);
        loads.push(PartitionLoad {
            index: Index::ByTenant.name(),
            partition,
            units_per_authentication: per_authentication,
            per_second: per_tenant * per_authentication / listing_shards,
        });
    }
    // Every tenant's challenges share the deadline index; the flows above are half
    // challenged, and the worst case is all of them: twice the average.
    let per_challenge = 2.0 * units(Index::ByDeadline, Kind::AuthenticationSession);
    loads.push(PartitionLoad {
        index: Index::ByDeadline.name(),
        partition: "`{minute}#{shard}`",
        units_per_authentication: per_challenge,
        per_second: tenants * per_tenant * per_challenge / f64::from(DeadlinePartition::SHARDS),
    });
    loads
}

#[tokio::test]
async fn every_index_partition_holds_1000_authentications_a_second_per_tenant() {
    let writes = authentications(3).await;
    let cost = Cost::of(&writes, 6.0);
    // Nothing but sessions and events is in an index.
    for (index, kind) in cost.by.keys() {
        assert!(
            matches!(kind, Kind::AuthenticationSession | Kind::Event),
            "{index}: {kind:?}"
        );
    }
    let loads = loads(&cost);
    let mut table = format!(
        "Sized for {} authentications a second for each of {} tenants at once.\n\n\
         | Index | Partition key | Write units per authentication | Per partition at peak (WCU/s) | Headroom |\n\
         |---|---|---|---|---|\n",
        SIZED_FOR.authentications_per_tenant_per_sec, SIZED_FOR.tenants_at_peak
    );
    for load in &loads {
        table.push_str(&format!(
            "| {} | {} | {:.2} | {:.0} | {:.1}x |\n",
            load.index,
            load.partition,
            load.units_per_authentication,
            load.per_second,
            PARTITION_WCU_PER_SEC / load.per_second
        ));
        assert!(
            load.per_second <= 0.8 * PARTITION_WCU_PER_SEC,
            "{} {}: {:.0} WCU/s",
            load.index,
            load.partition,
            load.per_second
        );
    }
    let doc = include_str!("../docs/capacity.md");
    let block = doc
        .split("<!-- capacity:indexes -->\n")
        .nth(1)
        .and_then(|rest| rest.split("<!-- /capacity:indexes -->").next())
        .expect("docs/capacity.md has the indexes block");
    assert_eq!(
        block, table,
        "docs/capacity.md's index table (left) is not what the code writes (right)"
    );
}

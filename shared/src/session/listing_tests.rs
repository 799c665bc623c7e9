//! The sessions' listing read from its sharded index: every session once, newest first,
//! and a bounded cost per page whatever the tenant (or its neighbour) holds.

use std::sync::Arc;
use std::time::Duration;

use crate::clock::OffsetClock;
use crate::config::SessionSettings;
use crate::domain::{ReferenceCode, TenantId};
use crate::lease::contract::settings;
use crate::session::fixtures::sealed;
use crate::session::repo::SessionFilter;
use crate::session::{SessionRef, SessionState, Sessions};
use crate::store::counting::{Calls, CountingStore};
use crate::store::listing::{ListingPartition, ScanBudget};
use crate::store::memory::MemoryStore;

fn tenant(name: &str) -> TenantId {
    TenantId::parse("tenant", name).unwrap()
}

struct Listed {
    sessions: Sessions,
    store: Arc<CountingStore>,
    clock: Arc<OffsetClock>,
}

impl Listed {
    fn new() -> Self {
        let clock = Arc::new(OffsetClock::default());
        let store = Arc::new(CountingStore::new(Arc::new(MemoryStore::new())));
        let sessions = Sessions::new(
            store.clone(),
            clock.clone(),
            SessionSettings {
                challenge_deadline: Duration::from_secs(600),
                record_ttl: Duration::from_secs(3600),
                lease: settings(50),
            },
        );
        Self {
            sessions,
            store,
            clock,
        }
    }

    /// `count` setups of `tenant`, a few per millisecond (so ties are ordered by id).
    async fn set_up(&self, tenant: &TenantId, count: usize) {
        for n in 0..count {
            let reference = ReferenceCode::parse("reference", &format!("order-{n:05}")).unwrap();
            let session = SessionRef::new(tenant.clone(), reference);
            self.sessions
                .record_setup(&session, "fp", sealed())
                .await
                .unwrap();
            if n % 3 == 2 {
                self.clock.advance(Duration::from_millis(1));
            }
        }
        self.store.take();
    }

    /// The reference codes of every page, following the cursors.
    async fn list_all(&self, tenant: &TenantId, limit: usize) -> Vec<Vec<String>> {
        let mut pages = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self
                .sessions
                .page(tenant, SessionFilter::default(), after.as_deref(), limit)
                .await
                .unwrap()
                .expect("a cursor of ours");
            pages.push(
                page.sessions
                    .iter()
                    .map(|s| s.reference_code.as_str().to_owned())
                    .collect(),
            );
            match page.next {
                Some(cursor) => after = Some(cursor.token()),
                None => return pages,
            }
        }
    }

    /// What one listing of `tenant` for a state none of its sessions is in asks of the
    /// store: the most a page can cost.
    async fn cost_of_a_fruitless_page(&self, tenant: &TenantId) -> Calls {
        self.store.take();
        let filter = SessionFilter {
            state: Some(SessionState::Authenticated),
            created_after: None,
        };
        let page = self
            .sessions
            .page(tenant, filter, None, 100)
            .await
            .unwrap()
            .unwrap();
        assert!(page.sessions.is_empty());
        self.store.take()
    }
}

#[tokio::test]
async fn pages_through_a_tenants_sessions_list_each_once_newest_first_across_the_shards() {
    let listed = Listed::new();
    let shop = tenant("shop-a");
    listed.set_up(&shop, 250).await;
    listed.set_up(&tenant("shop-b"), 40).await;

    let pages = listed.list_all(&shop, 37).await;
    let all: Vec<String> = pages.concat();
    let expected: Vec<String> = (0..250).rev().map(|n| format!("order-{n:05}")).collect();
    assert_eq!(all, expected, "every session once, newest first");
    assert!(pages[..pages.len() - 1].iter().all(|page| page.len() == 37));

    // A last page that is exactly full says there is no more.
    let pages = listed.list_all(&tenant("shop-b"), 20).await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [20, 20]);
}

#[tokio::test]
async fn a_listing_costs_the_same_whatever_the_tenant_holds() {
    let listed = Listed::new();
    let (small, large, larger) = (tenant("small"), tenant("large"), tenant("larger"));
    listed.set_up(&small, 10).await;
    listed.set_up(&large, 5_000).await;
    listed.set_up(&larger, 10_000).await;

    let of_small = listed.cost_of_a_fruitless_page(&small).await;
    let of_large = listed.cost_of_a_fruitless_page(&large).await;
    let of_larger = listed.cost_of_a_fruitless_page(&larger).await;
    // 10 sessions are read to their end; 5,000 and 10,000 stop at the same budget.
    assert_eq!(of_large, of_larger, "the cost stops growing at the budget");
    assert!(of_small.queries <= of_large.queries && of_small.keys_read <= of_large.keys_read);
    let budget = ScanBudget::PER_REQUEST;
    assert!(of_larger.queries <= budget.queries, "{of_larger:?}");
    assert!(of_larger.keys_read <= budget.entries, "{of_larger:?}");
    assert_eq!((of_larger.reads, of_larger.writes), (0, 0));
    // A tenant with little reads the little it has: one query per shard.
    assert_eq!(of_small.queries, ListingPartition::SHARDS as usize);
    assert_eq!(of_small.keys_read, 10);
}

#[tokio::test]
async fn a_neighbours_sessions_add_nothing_to_a_tenants_listing() {
    let listed = Listed::new();
    let shop = tenant("shop-a");
    listed.set_up(&shop, 12).await;
    let alone = listed.cost_of_a_fruitless_page(&shop).await;
    listed.set_up(&tenant("big-neighbour"), 5_000).await;
    let beside_a_big_neighbour = listed.cost_of_a_fruitless_page(&shop).await;
    assert_eq!(alone, beside_a_big_neighbour);
}

#[tokio::test]
async fn a_page_past_the_budget_comes_back_short_with_a_cursor_that_continues() {
    let listed = Listed::new();
    let shop = tenant("shop-a");
    listed.set_up(&shop, 1_000).await;
    let filter = SessionFilter {
        state: Some(SessionState::Authenticated),
        created_after: None,
    };
    let mut after: Option<String> = None;
    let mut requests = 0;
    // No session is authenticated: each page reads its budget's worth and hands on.
    loop {
        requests += 1;
        let page = listed
            .sessions
            .page(&shop, filter, after.as_deref(), 100)
            .await
            .unwrap()
            .unwrap();
        assert!(page.sessions.is_empty());
        match page.next {
            Some(cursor) => after = Some(cursor.token()),
            None => break,
        }
        assert!(requests < 10, "a cursor that does not move on");
    }
    assert_eq!(
        requests,
        1_000_usize.div_ceil(ScanBudget::PER_REQUEST.entries),
        "each request examines a full budget until the end"
    );
}

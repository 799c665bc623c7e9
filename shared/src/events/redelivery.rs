//! Redeliveries a tenant asks for (`POST /v1/events/{id}/redeliver`), capped so that no
//! tenant can fill the delivery queue: one in flight per event (a flag on the event from
//! the request until its attempt), and [`RedeliveryLimits::per_tenant_per_hour`] per
//! tenant (a counter per tenant and hour). Each is one conditional write.

use std::time::Duration;

use super::{attr, key};
use crate::domain::TenantId;
use crate::store::{Guard, Kind, Mutation, Patch, SharedStore, StoreError, Written, number_value};

/// The caps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RedeliveryLimits {
    /// Redeliveries one tenant may ask for in one clock hour.
    pub per_tenant_per_hour: i64,
    /// A redelivery queued longer ago than this no longer counts as in flight (its
    /// message was lost): another may be asked for.
    pub in_flight_for: Duration,
}

impl Default for RedeliveryLimits {
    fn default() -> Self {
        Self {
            per_tenant_per_hour: 100,
            in_flight_for: Duration::from_secs(15 * 60),
        }
    }
}

/// Why a redelivery was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No such event of the tenant's.
    NotFound,
    /// One is queued and not yet attempted.
    InFlight,
    /// The tenant's hourly cap is reached: ask again after this long.
    OverQuota { retry_after: Duration },
}

/// The counter's attribute.
const COUNT: &str = "count";
const EXPIRES_AT: &str = crate::store::attr::EXPIRES_AT;
const HOUR_MS: i64 = 3_600_000;

/// Takes a redelivery for one of a tenant's events at `now_ms`: marks it in flight, then
/// counts it against the tenant's hour (and takes the mark back if the hour is full).
/// `Ok(Ok(()))`: queue it.
pub async fn take(
    store: &SharedStore,
    limits: RedeliveryLimits,
    tenant: &TenantId,
    event_id: &str,
    now_ms: i64,
) -> Result<Result<(), Refusal>, StoreError> {
    let event_key = key(tenant, event_id);
    let stale_before = now_ms - limits.in_flight_for.as_millis() as i64;
    let mark = Mutation {
        guard: Guard::And(vec![
            Guard::equals(attr::EVENT_ID, event_id),
            Guard::Or(vec![
                Guard::Missing(attr::REDELIVERY_QUEUED_AT),
                Guard::Lt(attr::REDELIVERY_QUEUED_AT, stale_before),
            ]),
        ]),
        patch: Patch::default().set_n(attr::REDELIVERY_QUEUED_AT, now_ms),
    };
    match store.write(&event_key, &mark).await? {
        Written::Applied(_) => {}
        Written::Refused(None) => return Ok(Err(Refusal::NotFound)),
        Written::Refused(Some(_)) => return Ok(Err(Refusal::InFlight)),
    }
    let hour = now_ms.div_euclid(HOUR_MS);
    let count = Mutation {
        guard: Guard::Or(vec![
            Guard::Missing(COUNT),
            Guard::Lt(COUNT, limits.per_tenant_per_hour),
        ]),
        patch: Patch::default()
            .increment(COUNT, 1)
            .set_if_absent(
                crate::store::attr::KIND,
                crate::store::string_value(Kind::RedeliveryQuota.as_str()),
            )
            // Kept a little past its hour, then deleted by the table's TTL.
            .set_if_absent(EXPIRES_AT, number_value((hour + 2) * 3_600)),
    };
    let quota_key = Kind::RedeliveryQuota.key(&[tenant.as_str(), &hour.to_string()]);
    if let Written::Applied(_) = store.write(&quota_key, &count).await? {
        return Ok(Ok(()));
    }
    // Over the cap: the mark this request set goes.
    give_back(store, tenant, event_id, now_ms).await?;
    let next_hour_ms = (hour + 1) * HOUR_MS;
    Ok(Err(Refusal::OverQuota {
        retry_after: Duration::from_millis((next_hour_ms - now_ms) as u64),
    }))
}

/// Takes back the in-flight mark a request set at `queued_at_ms` (it could not queue
/// the redelivery, or the hour was full), unless something replaced it since.
pub async fn give_back(
    store: &SharedStore,
    tenant: &TenantId,
    event_id: &str,
    queued_at_ms: i64,
) -> Result<(), StoreError> {
    let unmark = Mutation {
        guard: Guard::Eq(attr::REDELIVERY_QUEUED_AT, number_value(queued_at_ms)),
        patch: Patch::default().remove(attr::REDELIVERY_QUEUED_AT),
    };
    store.write(&key(tenant, event_id), &unmark).await?;
    Ok(())
}

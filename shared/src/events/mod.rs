//! Events: what changed, told to the tenant it belongs to. They are derived from the
//! table's change stream — the item before and after each write — never from a second
//! write a handler might not reach ([`derive`]): a terminal transition of an
//! authentication, an issuer record's change. Each has a stable id (from the record and
//! the write that changed it), so however often the stream delivers a change, one event
//! is recorded.
//!
//! An event is recorded as one item ([`RecordedEvent`], `EVENT#<tenant>#<id>`, created
//! only if absent), in the tenant's listing index by day, with the exact body its
//! deliveries send and the attempts made. No card data is ever in it: the outcome fields
//! of the status route, the card's network and last four digits.

mod derive;
pub mod queue;
pub mod redelivery;
pub mod webhooks;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub use crate::store::Change;
pub use derive::event_of;

use crate::clock::rfc3339;
use crate::domain::TenantId;
use crate::store::index;
use crate::store::listing::{
    Cursor, ListingKey, ListingPartition, ListingScan, ScanBudget, read_page,
};
use crate::store::record::{stored_record, the_same};
use crate::store::{
    Guard, Item, Kind, Mutation, Patch, SharedStore, StoreError, Written, number_value,
};
use crate::tenants::Role;
use queue::Purpose;

/// How long events are kept (and listable).
pub const RETENTION_DAYS: i64 = 30;

/// The kinds of events, as the `type` field names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventType {
    #[serde(rename = "authentication.succeeded")]
    AuthenticationSucceeded,
    #[serde(rename = "authentication.failed")]
    AuthenticationFailed,
    #[serde(rename = "authentication.expired")]
    AuthenticationExpired,
    #[serde(rename = "authentication.canceled")]
    AuthenticationCanceled,
    /// An authenticated result was taken to an authorization (single use).
    #[serde(rename = "authentication.consumed")]
    AuthenticationConsumed,
    #[serde(rename = "card.enrolled")]
    CardEnrolled,
    #[serde(rename = "card.enrollment_updated")]
    CardEnrollmentUpdated,
    #[serde(rename = "card.unenrolled")]
    CardUnenrolled,
    #[serde(rename = "cardholder.updated")]
    CardholderUpdated,
    /// A bulk enrollment job finished every item (some may have failed).
    #[serde(rename = "job.completed")]
    JobCompleted,
    /// A job could not run.
    #[serde(rename = "job.failed")]
    JobFailed,
    /// A job was canceled by its program.
    #[serde(rename = "job.canceled")]
    JobCanceled,
}

impl EventType {
    pub const ALL: [EventType; 12] = [
        EventType::AuthenticationSucceeded,
        EventType::AuthenticationFailed,
        EventType::AuthenticationExpired,
        EventType::AuthenticationCanceled,
        EventType::AuthenticationConsumed,
        EventType::CardEnrolled,
        EventType::CardEnrollmentUpdated,
        EventType::CardUnenrolled,
        EventType::CardholderUpdated,
        EventType::JobCompleted,
        EventType::JobFailed,
        EventType::JobCanceled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::AuthenticationSucceeded => "authentication.succeeded",
            EventType::AuthenticationFailed => "authentication.failed",
            EventType::AuthenticationExpired => "authentication.expired",
            EventType::AuthenticationCanceled => "authentication.canceled",
            EventType::AuthenticationConsumed => "authentication.consumed",
            EventType::CardEnrolled => "card.enrolled",
            EventType::CardEnrollmentUpdated => "card.enrollment_updated",
            EventType::CardUnenrolled => "card.unenrolled",
            EventType::CardholderUpdated => "cardholder.updated",
            EventType::JobCompleted => "job.completed",
            EventType::JobFailed => "job.failed",
            EventType::JobCanceled => "job.canceled",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// Which side of the tenant hears it (whose webhook).
    pub fn audience(self) -> Role {
        match self {
            EventType::AuthenticationSucceeded
            | EventType::AuthenticationFailed
            | EventType::AuthenticationExpired
            | EventType::AuthenticationCanceled
            | EventType::AuthenticationConsumed => Role::Merchant,
            _ => Role::Issuer,
        }
    }
}

/// An event derived from a change, before it is recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub id: String,
    pub tenant: TenantId,
    pub kind: EventType,
    pub created_at: i64,
    pub data: Value,
}

impl NewEvent {
    /// The body every delivery of it sends (the Standard Webhooks payload shape).
    pub fn body(&self) -> String {
        json!({
            "id": self.id,
            "type": self.kind.as_str(),
            "timestamp": rfc3339(self.created_at),
            "tenant": self.tenant,
            "data": self.data,
        })
        .to_string()
    }
}

/// A stable id: the record and the version of it the write made. The same change
/// delivered twice gives the same id.
fn event_id(key: &str, version: &str) -> String {
    let digest = Sha256::new()
        .chain_update(key.as_bytes())
        .chain_update([0])
        .chain_update(version.as_bytes())
        .finalize();
    format!("evt_{}", &hex::encode(digest)[..32])
}

/// Where an event's deliveries stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Recorded; deliveries are being made.
    Pending,
    Delivered,
    /// Every attempt of the retry schedule failed: in the dead-letter queue.
    Failed,
    /// The tenant has no webhook endpoint for it: listed only.
    NotSent,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::NotSent => "not_sent",
        }
    }
}

/// One delivery attempt, as kept with its event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    /// Epoch ms.
    pub at: i64,
    /// The endpoint's HTTP status, if it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    pub latency_ms: u64,
    /// Why it failed without an answer (`timeout`, `unreachable`, `endpoint refused`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The last attempts of an event, stored as one JSON string (the last
/// [`Attempts::KEPT`]; the count says how many there were).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Attempts(pub Vec<Attempt>);

impl Attempts {
    pub const KEPT: usize = 20;

    fn push(&mut self, attempt: Attempt) {
        self.0.push(attempt);
        let over = self.0.len().saturating_sub(Self::KEPT);
        self.0.drain(..over);
    }
}

impl Serialize for Attempts {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let text = serde_json::to_string(&self.0).map_err(serde::ser::Error::custom)?;
        serializer.serialize_str(&text)
    }
}

impl<'de> Deserialize<'de> for Attempts {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        serde_json::from_str(&text)
            .map(Attempts)
            .map_err(serde::de::Error::custom)
    }
}

stored_record! {
    /// An event as recorded.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct RecordedEvent, attributes in attr {
        event_id: String => EVENT_ID,
        tenant_id: TenantId => TENANT_ID,
        event_type: EventType => TYPE as "type",
        /// Epoch ms.
        created_at: i64 => CREATED_AT,
        /// The exact body every delivery sends (signed as it is).
        body: String => BODY,
        status: DeliveryStatus => STATUS,
        /// Every attempt made, redeliveries included.
        attempt_count: i64 => ATTEMPT_COUNT,
        /// The attempts the retry schedule made (what decides the next one, whatever the
        /// queue's receive count says).
        #[serde(default)]
        scheduled_attempts: i64 => SCHEDULED_ATTEMPTS,
        /// When a redelivery the tenant asked for was queued, until it is attempted: one
        /// in flight per event.
        #[serde(default)]
        redelivery_queued_at: Option<i64> => REDELIVERY_QUEUED_AT,
        #[serde(default)]
        attempts: Attempts => ATTEMPTS,
        #[serde(default)]
        delivered_at: Option<i64> => DELIVERED_AT,
        expires_at: i64 => EXPIRES_AT,
    }
}

the_same! {
    attr::TENANT_ID => crate::store::attr::TENANT_ID,
    attr::CREATED_AT => crate::store::attr::CREATED_AT,
    attr::EXPIRES_AT => crate::store::attr::EXPIRES_AT,
}

impl RecordedEvent {
    /// The event's place in its tenant's listing.
    pub fn listing_key(&self) -> ListingKey {
        ListingKey::new(self.created_at, self.event_id.as_str())
    }

    /// Recorded, meant for an endpoint, and never attempted: a delivery may not have been
    /// queued yet.
    pub fn never_attempted(&self) -> bool {
        self.status == DeliveryStatus::Pending && self.attempt_count == 0
    }

    /// The tenant-facing view: the event, its data and its deliveries.
    pub fn view(&self) -> Value {
        let body: Value = serde_json::from_str(&self.body).unwrap_or(Value::Null);
        json!({
            "id": self.event_id,
            "type": self.event_type.as_str(),
            "created_at": rfc3339(self.created_at),
            "delivery": {
                "status": self.status.as_str(),
                "attempt_count": self.attempt_count,
                "delivered_at": self.delivered_at.map(rfc3339),
                "attempts": self.attempts.0,
            },
            "data": body.get("data").cloned().unwrap_or(Value::Null),
        })
    }
}

fn decode(item: Item) -> Result<RecordedEvent, StoreError> {
    serde_dynamo::from_item(item).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// The store key of an event.
fn key(tenant: &TenantId, event_id: &str) -> String {
    Kind::Event.key(&[tenant.as_str(), event_id])
}

/// An event id as a tenant gives it: what ours look like, and short.
fn plausible_id(event_id: &str) -> bool {
    (1..=64).contains(&event_id.len())
        && event_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// One page of a tenant's events, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct EventPage {
    pub events: Vec<RecordedEvent>,
    /// Where the next page starts, if there may be one.
    pub next: Option<Cursor>,
}

/// The events of the table.
#[derive(Clone)]
pub struct Events {
    store: SharedStore,
}

impl Events {
    pub fn new(store: SharedStore) -> Self {
        Self { store }
    }

    /// Records the event once (a repeat of the same change writes nothing). Returns
    /// whether this call recorded it.
    pub async fn record(&self, event: &NewEvent, deliverable: bool) -> Result<bool, StoreError> {
        let status = if deliverable {
            DeliveryStatus::Pending
        } else {
            DeliveryStatus::NotSent
        };
        let listing = ListingPartition::of(&event.tenant, Kind::Event, &event.id);
        let mutation = Mutation {
            guard: Guard::Absent,
            patch: Patch::default()
                .set_s(crate::store::attr::KIND, Kind::Event.as_str())
                .set_s(attr::EVENT_ID, &event.id)
                .set_s(attr::TENANT_ID, event.tenant.as_str())
                .set_s(attr::TYPE, event.kind.as_str())
                .set_n(attr::CREATED_AT, event.created_at)
                .set_s(attr::BODY, event.body())
                .set_s(attr::STATUS, status.as_str())
                .set_n(attr::ATTEMPT_COUNT, 0)
                .set_s(attr::ATTEMPTS, "[]")
                .set_s(index::attr::LIST_PK, listing.to_string())
                .set_s(
                    index::attr::LIST_SK,
                    ListingKey::new(event.created_at, event.id.as_str()).encode(),
                )
                .set_n(
                    attr::EXPIRES_AT,
                    event.created_at / 1000 + RETENTION_DAYS * 86_400,
                ),
        };
        let written = self
            .store
            .write(&key(&event.tenant, &event.id), &mutation)
            .await?;
        Ok(matches!(written, Written::Applied(_)))
    }

    /// One of `tenant`'s events; another tenant's answers like one that does not exist.
    pub async fn get(
        &self,
        tenant: &TenantId,
        event_id: &str,
    ) -> Result<Option<RecordedEvent>, StoreError> {
        if !plausible_id(event_id) {
            return Ok(None);
        }
        self.store
            .read(&key(tenant, event_id))
            .await?
            .map(decode)
            .transpose()
    }

    /// A tenant's events, newest first: `limit` of them of `kind` if given, from the last
    /// `RETENTION_DAYS` days, after `after` — a cursor a page handed out, or (as before
    /// cursors) one of the tenant's event ids. Its work is bounded whatever the tenant
    /// holds ([`ScanBudget`]): a page may come back short, with a cursor to continue.
    /// `None` when `after` is neither a cursor nor one of the tenant's events.
    pub async fn page(
        &self,
        tenant: &TenantId,
        kind: Option<EventType>,
        after: Option<&str>,
        limit: usize,
        now_ms: i64,
    ) -> Result<Option<EventPage>, StoreError> {
        let before = match after {
            None => None,
            Some(after) => match Cursor::parse(after) {
                Some(Cursor(position)) => Some(position),
                None => match self.get(tenant, after).await? {
                    Some(last) => Some(last.listing_key()),
                    None => return Ok(None),
                },
            },
        };
        let oldest = now_ms - RETENTION_DAYS * 86_400_000;
        let budget = ScanBudget::PER_REQUEST;
        let scan = ListingScan::new(
            &*self.store,
            tenant,
            Kind::Event,
            before,
            oldest,
            now_ms,
            budget,
        );
        let pick = |item| {
            decode(item)
                .ok()
                .filter(|event: &RecordedEvent| kind.is_none_or(|k| event.event_type == k))
        };
        let (events, next) = read_page(scan, limit, budget, pick).await?;
        Ok(Some(EventPage { events, next }))
    }

    /// Appends one delivery attempt made for `purpose`, and the status it leads to (a
    /// scheduled attempt is counted as one of the schedule's; a redelivery's ends the
    /// redelivery in flight). Guarded by the attempt count, so two deliveries of one
    /// event (a redelivery beside a retry) never lose an attempt: the loser reads again
    /// and appends after.
    pub async fn record_attempt(
        &self,
        tenant: &TenantId,
        event_id: &str,
        attempt: &Attempt,
        purpose: Purpose,
        new_status: DeliveryStatus,
    ) -> Result<(), StoreError> {
        let key = key(tenant, event_id);
        for _ in 0..5 {
            let Some(mut event) = self.get(tenant, event_id).await? else {
                return Ok(());
            };
            let count = event.attempt_count;
            event.attempts.push(attempt.clone());
            // A delivered event stays delivered, whatever a late attempt says.
            let status = if event.status == DeliveryStatus::Delivered {
                DeliveryStatus::Delivered
            } else {
                new_status
            };
            let mut patch = Patch::default()
                .set_n(attr::ATTEMPT_COUNT, count + 1)
                .set(
                    attr::ATTEMPTS,
                    serde_dynamo::to_attribute_value(&event.attempts).expect("attempts serialize"),
                )
                .set_s(attr::STATUS, status.as_str());
            if new_status == DeliveryStatus::Delivered {
                patch = patch.set_if_absent(attr::DELIVERED_AT, number_value(attempt.at));
            }
            patch = match purpose {
                Purpose::Delivery => patch.increment(attr::SCHEDULED_ATTEMPTS, 1),
                Purpose::Redelivery => patch.remove(attr::REDELIVERY_QUEUED_AT),
            };
            let guard = Guard::Eq(attr::ATTEMPT_COUNT, number_value(count));
            if let Written::Applied(_) = self.store.write(&key, &Mutation { guard, patch }).await? {
                return Ok(());
            }
        }
        tracing::warn!("a delivery attempt could not be recorded after five tries");
        Ok(())
    }

    /// Takes one of a tenant's redeliveries of `event_id` (see [`redelivery`]): `Ok(Ok(()))`
    /// means queue it.
    pub async fn take_redelivery(
        &self,
        limits: redelivery::RedeliveryLimits,
        tenant: &TenantId,
        event_id: &str,
        now_ms: i64,
    ) -> Result<Result<(), redelivery::Refusal>, StoreError> {
        if !plausible_id(event_id) {
            return Ok(Err(redelivery::Refusal::NotFound));
        }
        redelivery::take(&self.store, limits, tenant, event_id, now_ms).await
    }

    /// Takes back a redelivery's in-flight mark when it could not be queued.
    pub async fn give_back_redelivery(
        &self,
        tenant: &TenantId,
        event_id: &str,
        queued_at_ms: i64,
    ) -> Result<(), StoreError> {
        redelivery::give_back(&self.store, tenant, event_id, queued_at_ms).await
    }

    /// Gives up on a pending event (its delivery message left the queue without its
    /// attempts: the dead-letter queue). One conditional write: a delivered event stays
    /// delivered. Returns whether it was marked.
    pub async fn mark_failed(&self, tenant: &TenantId, event_id: &str) -> Result<bool, StoreError> {
        let mutation = Mutation {
            guard: Guard::equals(attr::STATUS, DeliveryStatus::Pending.as_str()),
            patch: Patch::default().set_s(attr::STATUS, DeliveryStatus::Failed.as_str()),
        };
        let written = self.store.write(&key(tenant, event_id), &mutation).await?;
        let marked = matches!(written, Written::Applied(_));
        if marked {
            crate::telemetry::metrics::delivery_failed();
        }
        Ok(marked)
    }
}

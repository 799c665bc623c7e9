//! Events: what changed, told to the tenant it belongs to. They are derived from the
//! table's change stream — the item before and after each write — never from a second
//! write a handler might not reach: a terminal transition of an authentication, an issuer
//! record's change. Each has a stable id (from the record and the write that changed
//! it), so however often the stream delivers a change, one event is recorded.
//!
//! An event is recorded as one item (`EVENT#<tenant>#<id>`, created only if absent), in
//! the tenant's listing index by day, with the exact body its deliveries send and the
//! attempts made. No card data is ever in it: the outcome fields of the status route,
//! the card's network and last four digits.

pub mod queue;
pub mod webhooks;

use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::clock::{rfc3339, utc_date};
use crate::session::{AuthenticationSession, SessionState};
use crate::store::{
    Guard, Index, Item, Mutation, Patch, SharedStore, StoreError, Written, days_back, newest_first,
    number, number_value, string,
};
use crate::tenants::Role;

/// How long events are kept (and listable).
pub const RETENTION_DAYS: i64 = 30;

/// The kinds of events, as the `type` field names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum EventType {
    #[serde(rename = "authentication.succeeded")]
    AuthenticationSucceeded,
    #[serde(rename = "authentication.failed")]
    AuthenticationFailed,
    #[serde(rename = "authentication.expired")]
    AuthenticationExpired,
    #[serde(rename = "authentication.canceled")]
    AuthenticationCanceled,
    #[serde(rename = "card.enrolled")]
    CardEnrolled,
    #[serde(rename = "card.enrollment_updated")]
    CardEnrollmentUpdated,
    #[serde(rename = "card.unenrolled")]
    CardUnenrolled,
    #[serde(rename = "cardholder.updated")]
    CardholderUpdated,
}

impl EventType {
    pub const ALL: [EventType; 8] = [
        EventType::AuthenticationSucceeded,
        EventType::AuthenticationFailed,
        EventType::AuthenticationExpired,
        EventType::AuthenticationCanceled,
        EventType::CardEnrolled,
        EventType::CardEnrollmentUpdated,
        EventType::CardUnenrolled,
        EventType::CardholderUpdated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::AuthenticationSucceeded => "authentication.succeeded",
            EventType::AuthenticationFailed => "authentication.failed",
            EventType::AuthenticationExpired => "authentication.expired",
            EventType::AuthenticationCanceled => "authentication.canceled",
            EventType::CardEnrolled => "card.enrolled",
            EventType::CardEnrollmentUpdated => "card.enrollment_updated",
            EventType::CardUnenrolled => "card.unenrolled",
            EventType::CardholderUpdated => "cardholder.updated",
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
            | EventType::AuthenticationCanceled => Role::Merchant,
            _ => Role::Issuer,
        }
    }
}

pub use crate::store::Change;

/// An event derived from a change, before it is recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub id: String,
    pub tenant: String,
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

/// The event a change makes, if any.
pub fn event_of(change: &Change) -> Option<NewEvent> {
    let new = change.new.as_ref()?;
    match string(new, "kind")? {
        crate::session::KIND => authentication_event(change, new),
        "card_enrollment" => card_event(change, new),
        "cardholder" => cardholder_event(change, new),
        _ => None,
    }
}

fn authentication_event(change: &Change, new: &Item) -> Option<NewEvent> {
    let session: AuthenticationSession = serde_dynamo::from_item(new.clone()).ok()?;
    let before = change
        .old
        .as_ref()
        .and_then(|old| string(old, crate::session::attr::STATE))
        .unwrap_or("");
    let was_terminal = ["AUTHENTICATED", "FAILED", "EXPIRED", "CANCELED"].contains(&before);
    if !session.state.is_terminal() || was_terminal {
        return None;
    }
    let kind = match session.state {
        SessionState::Authenticated => EventType::AuthenticationSucceeded,
        SessionState::Failed => EventType::AuthenticationFailed,
        SessionState::Expired => EventType::AuthenticationExpired,
        _ => EventType::AuthenticationCanceled,
    };
    // Decided straight from check enroll, or after a challenge.
    let flow = if before == "ENROLLING" {
        "frictionless"
    } else {
        "challenge"
    };
    let version = string(new, crate::session::attr::MUTATION_ID)?;
    Some(NewEvent {
        id: event_id(&change.key, version),
        tenant: session.tenant_id.clone(),
        kind,
        created_at: session.updated_at,
        data: authentication_data(&session, flow),
    })
}

/// The status route's outcome fields — no card number, expiry, CAVV or XID.
fn authentication_data(session: &AuthenticationSession, flow: &str) -> Value {
    let network = session.card.as_ref().and_then(|c| c.network.clone());
    let result = session.result.clone().unwrap_or_default();
    json!({
        "reference_code": session.reference_code,
        "state": session.state.as_str(),
        "flow": flow,
        "transaction_status": result.transaction_status,
        "authentication": session.result.as_ref().map(|r| json!({
            "eci": r.eci,
            "eci_raw": r.eci_raw,
            "pares_status": r.pares_status,
            "commerce_indicator": r.commerce_indicator,
            "specification_version": r.specification_version,
            "authentication_transaction_id": r.authentication_transaction_id,
            "liability_shift": r.liability_shift(network.as_deref()),
        })),
        "card": {
            "network": network,
            "last4": session.card.as_ref().and_then(|c| c.last4.clone()),
        },
        "reason": session.reason(),
        "liability_shift": session.liability_shift(),
        "decided_at": rfc3339(session.updated_at),
    })
}

fn card_event(change: &Change, new: &Item) -> Option<NewEvent> {
    let old = change.old.as_ref();
    let previous = old.and_then(|old| string(old, "cardholder_id"));
    let was_enrolled = old.and_then(|old| string(old, "status")) == Some("ENROLLED");
    let cardholder = string(new, "cardholder_id");
    let kind = match (string(new, "status")?, was_enrolled) {
        ("ENROLLED", false) => EventType::CardEnrolled,
        ("ENROLLED", true) if previous != cardholder => EventType::CardEnrollmentUpdated,
        ("UNENROLLED", true) => EventType::CardUnenrolled,
        _ => return None,
    };
    let updated_at = number(new, "updated_at")?;
    let mut data = json!({
        "card_id": string(new, "card_id")?,
        "cardholder_id": cardholder,
        "status": string(new, "status"),
        "updated_at": rfc3339(updated_at),
    });
    if kind != EventType::CardEnrolled {
        data["previous_cardholder_id"] = json!(previous);
    }
    Some(NewEvent {
        id: event_id(&change.key, &updated_at.to_string()),
        tenant: string(new, "tenant_id")?.to_owned(),
        kind,
        created_at: updated_at,
        data,
    })
}

fn cardholder_event(change: &Change, new: &Item) -> Option<NewEvent> {
    let updated_at = number(new, "updated_at")?;
    let before = change
        .old
        .as_ref()
        .and_then(|old| number(old, "updated_at"));
    if before == Some(updated_at) {
        return None;
    }
    Some(NewEvent {
        id: event_id(&change.key, &updated_at.to_string()),
        tenant: string(new, "tenant_id")?.to_owned(),
        kind: EventType::CardholderUpdated,
        created_at: updated_at,
        data: json!({
            "cardholder_id": string(new, "cardholder_id")?,
            "budget_id": string(new, "budget_id"),
            "updated_at": rfc3339(updated_at),
        }),
    })
}

/// Attribute names of an event's item.
pub mod attr {
    pub const KIND: &str = "kind";
    pub const EVENT_ID: &str = "event_id";
    pub const TENANT_ID: &str = "tenant_id";
    pub const TYPE: &str = "type";
    pub const CREATED_AT: &str = "created_at";
    pub const BODY: &str = "body";
    pub const STATUS: &str = "status";
    pub const ATTEMPTS: &str = "attempts";
    pub const ATTEMPT_COUNT: &str = "attempt_count";
    pub const DELIVERED_AT: &str = "delivered_at";
    pub const EXPIRES_AT: &str = "expires_at";
}

const EVENT_KIND: &str = "event";

/// The store key of an event.
pub fn key(tenant: &str, event_id: &str) -> String {
    format!("EVENT#{tenant}#{event_id}")
}

/// The listing index's partition of a tenant's events on one day.
fn list_partition(tenant: &str, epoch_ms: i64) -> String {
    format!("{tenant}#EVENT#{}", utc_date(epoch_ms))
}

/// Where an event stands.
pub mod status {
    /// Recorded; deliveries are being made.
    pub const PENDING: &str = "pending";
    pub const DELIVERED: &str = "delivered";
    /// Every attempt of the retry schedule failed: in the dead-letter queue.
    pub const FAILED: &str = "failed";
    /// The tenant has no webhook endpoint for it: listed only.
    pub const NOT_SENT: &str = "not_sent";
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
        let state = if deliverable {
            status::PENDING
        } else {
            status::NOT_SENT
        };
        let mutation = Mutation {
            guard: Guard::Absent,
            patch: Patch::default()
                .set_s(attr::KIND, EVENT_KIND)
                .set_s(attr::EVENT_ID, &event.id)
                .set_s(attr::TENANT_ID, &event.tenant)
                .set_s(attr::TYPE, event.kind.as_str())
                .set_n(attr::CREATED_AT, event.created_at)
                .set_s(attr::BODY, event.body())
                .set_s(attr::STATUS, state)
                .set_n(attr::ATTEMPT_COUNT, 0)
                .set_s(attr::ATTEMPTS, "[]")
                .set_s(
                    Index::ByTenantDay.partition_attr(),
                    list_partition(&event.tenant, event.created_at),
                )
                .set_s(
                    Index::ByTenantDay.sort_attr(),
                    format!("{:013}#{}", event.created_at, event.id),
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

    pub async fn get(&self, tenant: &str, event_id: &str) -> Result<Option<Item>, StoreError> {
        self.store.read(&key(tenant, event_id)).await
    }

    /// A tenant's events, newest first: `limit` of them older than `before` (an item's
    /// listing sort key), of `kind` if given, from the last `RETENTION_DAYS` days up to
    /// `now`. Returns the events and whether more may follow.
    pub async fn list(
        &self,
        tenant: &str,
        kind: Option<EventType>,
        before: Option<&str>,
        limit: usize,
        now_ms: i64,
    ) -> Result<(Vec<Item>, bool), StoreError> {
        let start = before
            .and_then(|b| b.split('#').next()?.parse::<i64>().ok())
            .unwrap_or(now_ms);
        let oldest = now_ms - RETENTION_DAYS * 86_400_000;
        let days = days_back(start, oldest, RETENTION_DAYS).map(|day| list_partition(tenant, day));
        newest_first(&*self.store, days, before, limit, |item| {
            kind.is_none_or(|k| string(item, attr::TYPE) == Some(k.as_str()))
        })
        .await
    }

    /// Appends one delivery attempt, and the status it leads to. Guarded by the attempt
    /// count, so two deliveries of one event (a redelivery beside a retry) never lose an
    /// attempt: the loser reads again and appends after.
    pub async fn record_attempt(
        &self,
        tenant: &str,
        event_id: &str,
        attempt: &Attempt,
        new_status: &str,
    ) -> Result<(), StoreError> {
        let key = key(tenant, event_id);
        for _ in 0..5 {
            let Some(item) = self.store.read(&key).await? else {
                return Ok(());
            };
            let count = number(&item, attr::ATTEMPT_COUNT).unwrap_or(0);
            let mut attempts: Vec<Value> = string(&item, attr::ATTEMPTS)
                .and_then(|a| serde_json::from_str(a).ok())
                .unwrap_or_default();
            attempts.push(serde_json::to_value(attempt).expect("an attempt serializes"));
            // The last 20 are kept: the count says how many there were.
            let keep = attempts.len().saturating_sub(20);
            attempts.drain(..keep);
            // A delivered event stays delivered, whatever a late attempt says.
            let status = if string(&item, attr::STATUS) == Some(status::DELIVERED) {
                status::DELIVERED
            } else {
                new_status
            };
            let mut patch = Patch::default()
                .set_n(attr::ATTEMPT_COUNT, count + 1)
                .set_s(attr::ATTEMPTS, Value::Array(attempts).to_string())
                .set_s(attr::STATUS, status);
            if new_status == status::DELIVERED {
                patch = patch.set_if_absent(attr::DELIVERED_AT, number_value(attempt.at));
            }
            let guard = Guard::Eq(attr::ATTEMPT_COUNT, number_value(count));
            if let Written::Applied(_) = self.store.write(&key, &Mutation { guard, patch }).await? {
                return Ok(());
            }
        }
        tracing::warn!("a delivery attempt could not be recorded after five tries");
        Ok(())
    }
}

/// One delivery attempt, as kept with its event.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Attempt {
    /// Epoch ms.
    pub at: i64,
    /// The endpoint's HTTP status, if it answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    pub latency_ms: u64,
    /// Why it failed without an answer (`timeout`, `unreachable`, `endpoint refused`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The merchant-facing view of a recorded event.
pub fn view(item: &Item) -> Value {
    let body: Value = string(item, attr::BODY)
        .and_then(|b| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null);
    let attempts: Value = string(item, attr::ATTEMPTS)
        .and_then(|a| serde_json::from_str(a).ok())
        .unwrap_or(json!([]));
    json!({
        "id": string(item, attr::EVENT_ID),
        "type": string(item, attr::TYPE),
        "created_at": number(item, attr::CREATED_AT).map(rfc3339),
        "delivery": {
            "status": string(item, attr::STATUS),
            "attempt_count": number(item, attr::ATTEMPT_COUNT).unwrap_or(0),
            "delivered_at": number(item, attr::DELIVERED_AT).map(rfc3339),
            "attempts": attempts,
        },
        "data": body.get("data").cloned().unwrap_or(Value::Null),
    })
}

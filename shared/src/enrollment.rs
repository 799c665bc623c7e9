//! Issuer side: what the gateway keeps per card and per cardholder, one item each in the
//! single table — the card's 3DS enrollment status (the upstream documentation's "Store
//! Enrollment Status") and which tenant owns a card or a cardholder contact.
//!
//! Ownership is written with the record, in the same conditional write: a record of
//! another tenant is never overwritten, so a card or contact, once a tenant's, stays
//! theirs.

use serde::{Deserialize, Serialize};

use crate::clock::SharedClock;
use crate::domain::{BudgetId, CardId, CardholderId, TenantId};
use crate::store::{
    Guard, Item, Mutation, Patch, SharedStore, StoreError, Written, number_value, string,
};

const CARD_KIND: &str = "card_enrollment";
const CARDHOLDER_KIND: &str = "cardholder";

/// Attribute names of the issuer-side records.
pub mod attr {
    pub const KIND: &str = "kind";
    pub const CARD_ID: &str = "card_id";
    pub const CARDHOLDER_ID: &str = "cardholder_id";
    pub const BUDGET_ID: &str = "budget_id";
    pub const STATUS: &str = "status";
    pub const TENANT_ID: &str = "tenant_id";
    pub const ENROLLED_AT: &str = "enrolled_at";
    pub const CREATED_AT: &str = "created_at";
    pub const UPDATED_AT: &str = "updated_at";
    pub const CONFIRMED_AT: &str = "confirmed_at";
}

/// A card's 3DS status in its record.
pub mod status {
    /// The upstream confirmed the card is linked to `cardholder_id`.
    pub const ENROLLED: &str = "ENROLLED";
    /// The upstream confirmed the card has no 3DS link any more.
    pub const UNENROLLED: &str = "UNENROLLED";
}

/// A card's record as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardEnrollment {
    pub card_id: String,
    /// The linked cardholder; none once unenrolled.
    #[serde(default)]
    pub cardholder_id: Option<String>,
    /// The budget the card was issued from (which card program it is); absent on
    /// records written before it was kept.
    #[serde(default)]
    pub budget_id: Option<String>,
    /// [`status`]: `ENROLLED` or `UNENROLLED`.
    pub status: String,
    /// The tenant (card program) that owns the card.
    pub tenant_id: String,
    /// Epoch milliseconds of the first confirmed enrollment.
    pub enrolled_at: i64,
    /// Epoch milliseconds of the last confirmed change.
    pub updated_at: i64,
    /// Epoch milliseconds the upstream last confirmed the record (a change, or a refresh
    /// that found it as recorded).
    #[serde(default)]
    pub confirmed_at: Option<i64>,
}

/// A cardholder contact's record: whose it is, in which budget.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardholderRecord {
    pub cardholder_id: String,
    pub budget_id: String,
    pub tenant_id: String,
    pub created_at: i64,
}

/// The store key of a card's record.
pub fn key(card_id: &str) -> String {
    format!("CARD#{card_id}")
}

/// The store key of a cardholder's record.
pub fn cardholder_key(cardholder_id: &str) -> String {
    format!("CARDHOLDER#{cardholder_id}")
}

/// What a record write came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    Written,
    /// A newer confirmation is already recorded (two changes raced); ours is older.
    Newer,
    /// The record is another tenant's: nothing was written.
    OtherTenant,
}

#[derive(Clone)]
pub struct Enrollments {
    store: SharedStore,
    clock: SharedClock,
}

fn decode<T: serde::de::DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    serde_dynamo::from_item(item).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// The record is absent or this tenant's.
fn absent_or_owned_by(tenant: &TenantId) -> Guard {
    Guard::Or(vec![
        Guard::Absent,
        Guard::equals(attr::TENANT_ID, tenant.as_str()),
    ])
}

impl Enrollments {
    pub fn new(store: SharedStore, clock: SharedClock) -> Self {
        Self { store, clock }
    }

    pub async fn card(&self, card_id: &CardId) -> Result<Option<CardEnrollment>, StoreError> {
        self.store
            .read(&key(card_id.as_str()))
            .await?
            .map(decode)
            .transpose()
    }

    pub async fn cardholder(
        &self,
        cardholder_id: &CardholderId,
    ) -> Result<Option<CardholderRecord>, StoreError> {
        self.store
            .read(&cardholder_key(cardholder_id.as_str()))
            .await?
            .map(decode)
            .transpose()
    }

    /// Records that the upstream confirmed `card_id` → `cardholder_id` just now, for
    /// `tenant`. One conditional write: another tenant's record is left alone, and a
    /// confirmation older than the stored one (two changes racing) is refused, so the
    /// record always shows the latest confirmed link.
    pub async fn record_confirmed(
        &self,
        card_id: &CardId,
        cardholder_id: &CardholderId,
        card_budget: &BudgetId,
        tenant: &TenantId,
    ) -> Result<Recorded, StoreError> {
        self.record_card(card_id, Some(cardholder_id), card_budget, tenant)
            .await
    }

    /// Records that the upstream confirmed `card_id` has no 3DS link now (unenrolled, or
    /// found so by a refresh). Same guards as [`Enrollments::record_confirmed`].
    pub async fn record_unenrolled(
        &self,
        card_id: &CardId,
        card_budget: &BudgetId,
        tenant: &TenantId,
    ) -> Result<Recorded, StoreError> {
        self.record_card(card_id, None, card_budget, tenant).await
    }

    /// One conditional write of a card's confirmed link (`None`: no link). Another
    /// tenant's record is left alone, and a confirmation older than the stored one (two
    /// changes racing) is refused, so the record always shows the latest confirmed state.
    async fn record_card(
        &self,
        card_id: &CardId,
        cardholder_id: Option<&CardholderId>,
        card_budget: &BudgetId,
        tenant: &TenantId,
    ) -> Result<Recorded, StoreError> {
        let now = self.clock.now_ms();
        let patch = Patch::default()
            .set_s(attr::KIND, CARD_KIND)
            .set_s(attr::CARD_ID, card_id.as_str())
            .set_s(attr::BUDGET_ID, card_budget.as_str())
            .set_s(attr::TENANT_ID, tenant.as_str())
            .set_n(attr::UPDATED_AT, now)
            .set_n(attr::CONFIRMED_AT, now);
        let patch = match cardholder_id {
            Some(cardholder) => patch
                .set_s(attr::CARDHOLDER_ID, cardholder.as_str())
                .set_s(attr::STATUS, status::ENROLLED)
                .set_if_absent(attr::ENROLLED_AT, number_value(now)),
            None => patch
                .set_s(attr::STATUS, status::UNENROLLED)
                .remove(attr::CARDHOLDER_ID),
        };
        let mutation = Mutation {
            guard: Guard::And(vec![
                absent_or_owned_by(tenant),
                Guard::Or(vec![Guard::Absent, Guard::Lt(attr::UPDATED_AT, now)]),
            ]),
            patch,
        };
        let written = self.store.write(&key(card_id.as_str()), &mutation).await?;
        Ok(refusal(written, tenant, "card"))
    }

    /// A refresh found the record as the upstream has it: only when it was confirmed moves.
    pub async fn record_still_confirmed(
        &self,
        card_id: &CardId,
        tenant: &TenantId,
    ) -> Result<Recorded, StoreError> {
        let mutation = Mutation {
            guard: Guard::equals(attr::TENANT_ID, tenant.as_str()),
            patch: Patch::default().set_n(attr::CONFIRMED_AT, self.clock.now_ms()),
        };
        let written = self.store.write(&key(card_id.as_str()), &mutation).await?;
        Ok(refusal(written, tenant, "card"))
    }

    /// The records of up to 100 cards, in one round trip.
    pub async fn cards(
        &self,
        card_ids: &[CardId],
    ) -> Result<std::collections::HashMap<String, CardEnrollment>, StoreError> {
        let keys: Vec<String> = card_ids.iter().map(|c| key(c.as_str())).collect();
        let items = self.store.read_many(&keys).await?;
        items
            .into_values()
            .map(|item| decode::<CardEnrollment>(item).map(|r| (r.card_id.clone(), r)))
            .collect()
    }

    /// Records that `tenant` owns the cardholder contact, in `budget_id`. One conditional
    /// write; another tenant's record is left alone.
    pub async fn record_cardholder(
        &self,
        cardholder_id: &CardholderId,
        budget_id: &BudgetId,
        tenant: &TenantId,
    ) -> Result<Recorded, StoreError> {
        let now = self.clock.now_ms();
        let mutation = Mutation {
            guard: absent_or_owned_by(tenant),
            patch: Patch::default()
                .set_s(attr::KIND, CARDHOLDER_KIND)
                .set_s(attr::CARDHOLDER_ID, cardholder_id.as_str())
                .set_s(attr::BUDGET_ID, budget_id.as_str())
                .set_s(attr::TENANT_ID, tenant.as_str())
                .set_if_absent(attr::CREATED_AT, number_value(now)),
        };
        let written = self
            .store
            .write(&cardholder_key(cardholder_id.as_str()), &mutation)
            .await?;
        Ok(refusal(written, tenant, "cardholder"))
    }
}

impl Enrollments {
    /// Records that the upstream confirmed an update of `tenant`'s contact just now (its
    /// `updated_at`: the change stream makes it a `cardholder.updated` event). The record
    /// is the caller's (checked before the update); another tenant's is left alone.
    pub async fn record_contact_update(
        &self,
        cardholder_id: &CardholderId,
        tenant: &TenantId,
    ) -> Result<Recorded, StoreError> {
        let now = self.clock.now_ms();
        let mutation = Mutation {
            guard: Guard::equals(attr::TENANT_ID, tenant.as_str()),
            patch: Patch::default().set_n(attr::UPDATED_AT, now),
        };
        let written = self
            .store
            .write(&cardholder_key(cardholder_id.as_str()), &mutation)
            .await?;
        Ok(refusal(written, tenant, "cardholder"))
    }
}

fn refusal(written: Written, tenant: &TenantId, what: &str) -> Recorded {
    match written {
        Written::Applied(_) => Recorded::Written,
        Written::Refused(Some(item)) if string(&item, attr::TENANT_ID) != Some(tenant.as_str()) => {
            tracing::warn!(what, "a record of another tenant was not overwritten");
            Recorded::OtherTenant
        }
        Written::Refused(_) => {
            tracing::info!(what, "a newer confirmation is already recorded");
            Recorded::Newer
        }
    }
}

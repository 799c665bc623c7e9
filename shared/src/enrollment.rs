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
use crate::store::record::{stored_record, the_same};
use crate::store::{
    Guard, Item, Kind, Mutation, Patch, SharedStore, StoreError, Written, number_value, string,
};

/// A card's 3DS status in its record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EnrollmentStatus {
    /// The upstream confirmed the card is linked to `cardholder_id`.
    Enrolled,
    /// The upstream confirmed the card has no 3DS link any more.
    Unenrolled,
}

impl EnrollmentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EnrollmentStatus::Enrolled => "ENROLLED",
            EnrollmentStatus::Unenrolled => "UNENROLLED",
        }
    }
}

stored_record! {
    /// A card's record as stored.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct CardEnrollment, attributes in attr {
        card_id: CardId => CARD_ID,
        /// The linked cardholder; none once unenrolled.
        #[serde(default)]
        cardholder_id: Option<CardholderId> => CARDHOLDER_ID,
        /// The budget the card was issued from (which card program it is); absent on
        /// records written before it was kept.
        #[serde(default)]
        budget_id: Option<BudgetId> => BUDGET_ID,
        status: EnrollmentStatus => STATUS,
        /// The tenant (card program) that owns the card.
        tenant_id: TenantId => TENANT_ID,
        /// Epoch milliseconds of the first confirmed enrollment.
        enrolled_at: i64 => ENROLLED_AT,
        /// Epoch milliseconds of the last confirmed change.
        updated_at: i64 => UPDATED_AT,
        /// Epoch milliseconds the upstream last confirmed the record (a change, or a
        /// refresh that found it as recorded).
        #[serde(default)]
        confirmed_at: Option<i64> => CONFIRMED_AT,
    }
}

stored_record! {
    /// A cardholder contact's record: whose it is, in which budget.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct CardholderRecord, attributes in cardholder_attr {
        cardholder_id: CardholderId => CARDHOLDER_ID,
        budget_id: BudgetId => BUDGET_ID,
        tenant_id: TenantId => TENANT_ID,
        created_at: i64 => CREATED_AT,
        /// Epoch milliseconds the contact last changed through the gateway (a
        /// `cardholder.updated` event each time).
        #[serde(default)]
        updated_at: Option<i64> => UPDATED_AT,
    }
}

the_same! {
    attr::TENANT_ID => crate::store::attr::TENANT_ID,
    attr::UPDATED_AT => crate::store::attr::UPDATED_AT,
    cardholder_attr::TENANT_ID => crate::store::attr::TENANT_ID,
    cardholder_attr::CREATED_AT => crate::store::attr::CREATED_AT,
    cardholder_attr::UPDATED_AT => crate::store::attr::UPDATED_AT,
    cardholder_attr::CARDHOLDER_ID => attr::CARDHOLDER_ID,
    cardholder_attr::BUDGET_ID => attr::BUDGET_ID,
}

/// What an earlier version of a card's record said (a stream's old image, which may carry
/// less than a whole record).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct PreviousLink {
    #[serde(default)]
    pub status: Option<EnrollmentStatus>,
    #[serde(default)]
    pub cardholder_id: Option<CardholderId>,
}

the_same! {
    attr::STATUS => "status",
    attr::CARDHOLDER_ID => "cardholder_id",
}

impl PreviousLink {
    pub fn of(item: &Item) -> Self {
        serde_dynamo::from_item(item.clone()).unwrap_or_default()
    }

    pub fn was_enrolled(&self) -> bool {
        self.status == Some(EnrollmentStatus::Enrolled)
    }
}

impl CardEnrollment {
    /// A card's record from its stored item (a change stream's image, a read).
    pub fn from_item(item: Item) -> Result<Self, StoreError> {
        decode(item)
    }

    /// The card is linked to a cardholder now.
    pub fn is_enrolled(&self) -> bool {
        self.status == EnrollmentStatus::Enrolled
    }
}

impl CardholderRecord {
    /// When a stored version of a contact's record last changed through the gateway (a
    /// stream's old image, which may carry less than a whole record).
    pub fn updated_at_of(item: &Item) -> Option<i64> {
        #[derive(Deserialize)]
        struct Stamp {
            #[serde(default)]
            updated_at: Option<i64>,
        }
        the_same!(cardholder_attr::UPDATED_AT => "updated_at");
        serde_dynamo::from_item::<_, Stamp>(item.clone())
            .ok()?
            .updated_at
    }

    /// A contact's record from its stored item.
    pub fn from_item(item: Item) -> Result<Self, StoreError> {
        decode(item)
    }
}

/// The store key of a card's record.
pub fn key(card_id: &CardId) -> String {
    Kind::CardEnrollment.key(&[card_id.as_str()])
}

/// The store key of a cardholder's record.
pub fn cardholder_key(cardholder_id: &CardholderId) -> String {
    Kind::Cardholder.key(&[cardholder_id.as_str()])
}

/// What a record write came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordWrite {
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
            .read(&key(card_id))
            .await?
            .map(decode)
            .transpose()
    }

    pub async fn cardholder(
        &self,
        cardholder_id: &CardholderId,
    ) -> Result<Option<CardholderRecord>, StoreError> {
        self.store
            .read(&cardholder_key(cardholder_id))
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
    ) -> Result<RecordWrite, StoreError> {
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
    ) -> Result<RecordWrite, StoreError> {
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
    ) -> Result<RecordWrite, StoreError> {
        let now = self.clock.now_ms();
        let patch = Patch::default()
            .set_s(crate::store::attr::KIND, Kind::CardEnrollment.as_str())
            .set_s(attr::CARD_ID, card_id.as_str())
            .set_s(attr::BUDGET_ID, card_budget.as_str())
            .set_s(attr::TENANT_ID, tenant.as_str())
            .set_n(attr::UPDATED_AT, now)
            .set_n(attr::CONFIRMED_AT, now);
        let patch = match cardholder_id {
            Some(cardholder) => patch
                .set_s(attr::CARDHOLDER_ID, cardholder.as_str())
                .set_s(attr::STATUS, EnrollmentStatus::Enrolled.as_str())
                .set_if_absent(attr::ENROLLED_AT, number_value(now)),
            None => patch
                .set_s(attr::STATUS, EnrollmentStatus::Unenrolled.as_str())
                .remove(attr::CARDHOLDER_ID),
        };
        let mutation = Mutation {
            guard: Guard::And(vec![
                absent_or_owned_by(tenant),
                Guard::Or(vec![Guard::Absent, Guard::Lt(attr::UPDATED_AT, now)]),
            ]),
            patch,
        };
        let written = self.store.write(&key(card_id), &mutation).await?;
        Ok(refusal(written, tenant, "card"))
    }

    /// A refresh found the record as the upstream has it: only when it was confirmed moves.
    pub async fn record_still_confirmed(
        &self,
        card_id: &CardId,
        tenant: &TenantId,
    ) -> Result<RecordWrite, StoreError> {
        let mutation = Mutation {
            guard: Guard::equals(attr::TENANT_ID, tenant.as_str()),
            patch: Patch::default().set_n(attr::CONFIRMED_AT, self.clock.now_ms()),
        };
        let written = self.store.write(&key(card_id), &mutation).await?;
        Ok(refusal(written, tenant, "card"))
    }

    /// The records of up to 100 cards, in one round trip.
    pub async fn cards(
        &self,
        card_ids: &[CardId],
    ) -> Result<std::collections::HashMap<String, CardEnrollment>, StoreError> {
        let keys: Vec<String> = card_ids.iter().map(key).collect();
        let items = self.store.read_many(&keys).await?;
        items
            .into_values()
            .map(|item| decode::<CardEnrollment>(item).map(|r| (r.card_id.to_string(), r)))
            .collect()
    }

    /// Moves the card's or contact's record `key` of `budget` from card program `from` to
    /// `to` (the budget was moved): one conditional write, applied only while the record
    /// is still `from`'s and of that budget. Returns whether it moved.
    pub async fn transfer(
        &self,
        key: &str,
        budget: &BudgetId,
        from: &TenantId,
        to: &TenantId,
    ) -> Result<bool, StoreError> {
        if !matches!(
            Kind::of_key(key),
            Some(Kind::CardEnrollment | Kind::Cardholder)
        ) {
            return Ok(false);
        }
        let mutation = Mutation {
            guard: Guard::And(vec![
                Guard::equals(attr::TENANT_ID, from.as_str()),
                Guard::equals(attr::BUDGET_ID, budget.as_str()),
            ]),
            patch: Patch::default().set_s(attr::TENANT_ID, to.as_str()),
        };
        let written = self.store.write(key, &mutation).await?;
        Ok(matches!(written, Written::Applied(_)))
    }

    /// Records a contact the upstream just created as `tenant`'s, in `budget_id`: one
    /// conditional write that only a contact never recorded passes (a new contact has no
    /// record). A refusal means the upstream answered with a contact already known —
    /// whoever's it is, it is not taken over.
    pub async fn record_new_cardholder(
        &self,
        cardholder_id: &CardholderId,
        budget_id: &BudgetId,
        tenant: &TenantId,
    ) -> Result<bool, StoreError> {
        let now = self.clock.now_ms();
        let mutation = Mutation {
            guard: Guard::Absent,
            patch: Patch::default()
                .set_s(crate::store::attr::KIND, Kind::Cardholder.as_str())
                .set_s(cardholder_attr::CARDHOLDER_ID, cardholder_id.as_str())
                .set_s(cardholder_attr::BUDGET_ID, budget_id.as_str())
                .set_s(cardholder_attr::TENANT_ID, tenant.as_str())
                .set_n(cardholder_attr::CREATED_AT, now),
        };
        let written = self
            .store
            .write(&cardholder_key(cardholder_id), &mutation)
            .await?;
        Ok(matches!(written, Written::Applied(_)))
    }

    /// Records that `tenant` owns the cardholder contact, in `budget_id`. One conditional
    /// write; another tenant's record is left alone.
    pub async fn record_cardholder(
        &self,
        cardholder_id: &CardholderId,
        budget_id: &BudgetId,
        tenant: &TenantId,
    ) -> Result<RecordWrite, StoreError> {
        let now = self.clock.now_ms();
        let mutation = Mutation {
            guard: absent_or_owned_by(tenant),
            patch: Patch::default()
                .set_s(crate::store::attr::KIND, Kind::Cardholder.as_str())
                .set_s(cardholder_attr::CARDHOLDER_ID, cardholder_id.as_str())
                .set_s(cardholder_attr::BUDGET_ID, budget_id.as_str())
                .set_s(cardholder_attr::TENANT_ID, tenant.as_str())
                .set_if_absent(cardholder_attr::CREATED_AT, number_value(now)),
        };
        let written = self
            .store
            .write(&cardholder_key(cardholder_id), &mutation)
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
    ) -> Result<RecordWrite, StoreError> {
        let now = self.clock.now_ms();
        let mutation = Mutation {
            guard: Guard::equals(cardholder_attr::TENANT_ID, tenant.as_str()),
            patch: Patch::default().set_n(cardholder_attr::UPDATED_AT, now),
        };
        let written = self
            .store
            .write(&cardholder_key(cardholder_id), &mutation)
            .await?;
        Ok(refusal(written, tenant, "cardholder"))
    }
}

fn refusal(written: Written, tenant: &TenantId, what: &str) -> RecordWrite {
    match written {
        Written::Applied(_) => RecordWrite::Written,
        Written::Refused(Some(item)) if string(&item, attr::TENANT_ID) != Some(tenant.as_str()) => {
            tracing::warn!(what, "a record of another tenant was not overwritten");
            RecordWrite::OtherTenant
        }
        Written::Refused(_) => {
            tracing::info!(what, "a newer confirmation is already recorded");
            RecordWrite::Newer
        }
    }
}

//! Issuer side: the 3DS enrollment status we keep per card (the upstream documentation's
//! "Store Enrollment Status"), one item per card in the single table.

use serde::{Deserialize, Serialize};

use crate::clock::SharedClock;
use crate::domain::{CardId, CardholderId};
use crate::store::{Guard, Mutation, Patch, SharedStore, StoreError, Written, number_value};

pub const KIND: &str = "card_enrollment";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardEnrollment {
    pub card_id: String,
    pub cardholder_id: String,
    /// `ENROLLED`: the upstream confirmed the card is linked to `cardholder_id`.
    pub status: String,
    /// The caller (issuer program) that made the change.
    pub client_id: String,
    /// Epoch milliseconds of the first confirmed enrollment.
    pub enrolled_at: i64,
    /// Epoch milliseconds of the last confirmed change.
    pub updated_at: i64,
}

/// The store key of a card's record.
pub fn key(card_id: &str) -> String {
    format!("CARD#{card_id}")
}

#[derive(Clone)]
pub struct Enrollments {
    store: SharedStore,
    clock: SharedClock,
}

impl Enrollments {
    pub fn new(store: SharedStore, clock: SharedClock) -> Self {
        Self { store, clock }
    }

    /// Records that the upstream confirmed `card_id` → `cardholder_id` just now. One
    /// conditional write: a confirmation older than the stored one (two changes racing)
    /// is refused, so the record always shows the latest confirmed link.
    pub async fn record_confirmed(
        &self,
        card_id: &CardId,
        cardholder_id: &CardholderId,
        client_id: &str,
    ) -> Result<(), StoreError> {
        let now = self.clock.now_ms();
        let mutation = Mutation {
            guard: Guard::Or(vec![Guard::Absent, Guard::Lt("updated_at", now)]),
            patch: Patch::default()
                .set_s("kind", KIND)
                .set_s("card_id", card_id.as_str())
                .set_s("cardholder_id", cardholder_id.as_str())
                .set_s("status", "ENROLLED")
                .set_s("client_id", client_id)
                .set_n("updated_at", now)
                .set_if_absent("enrolled_at", number_value(now)),
        };
        if let Written::Refused(_) = self.store.write(&key(card_id.as_str()), &mutation).await? {
            tracing::info!("a newer enrollment confirmation is already recorded");
        }
        Ok(())
    }
}

//! The merchant-side authentication session, keyed by the merchant's `reference_code`.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::clock::SharedClock;
use crate::crypto::SealedData;
use crate::store::{Item, SharedStore, StoreError, Written, string};

pub mod keys;
pub mod state;

pub use state::{EnrollmentOutcome, SessionState, Transition};

/// Item kind marker (single table: enrollment records live beside sessions).
pub const KIND: &str = "authentication_session";

/// Attribute names of a session item; they match the serde names of
/// [`AuthenticationSession`].
pub mod attr {
    pub const KIND: &str = "kind";
    pub const REFERENCE_CODE: &str = "reference_code";
    pub const CLIENT_ID: &str = "client_id";
    pub const STATE: &str = "state";
    pub const CREATED_AT: &str = "created_at";
    pub const UPDATED_AT: &str = "updated_at";
    pub const EXPIRES_AT: &str = "expires_at";
    pub const MUTATION_ID: &str = "mutation_id";
    pub const SETUP_FINGERPRINT: &str = "setup_fingerprint";
    pub const SETUP_RESPONSE: &str = "setup_response";
    pub const ENROLL_FINGERPRINT: &str = "enroll_fingerprint";
    pub const ENROLL_RESPONSE: &str = "enroll_response";
    pub const CLAIM_ID: &str = "claim_id";
    pub const LEASE_UNTIL: &str = "lease_until";
    pub const CARD: &str = "card";
    pub const MERCHANT_RETURN_URL: &str = "merchant_return_url";
    pub const AUTHENTICATION_TRANSACTION_ID: &str = "authentication_transaction_id";
    pub const TRANSACTION_MAC: &str = "transaction_mac";
    pub const CHALLENGE_DEADLINE: &str = "challenge_deadline";
    pub const SEALED_PAYMENT_DATA: &str = "sealed_payment_data";
    pub const RESULT: &str = "result";
    pub const VALIDATE_RESPONSE: &str = "validate_response";
}

/// What we may keep of a card in clear: never the number or expiry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardSummary {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bin: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last4: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
}

/// The 3DS outcome fields a merchant needs for authorization.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthenticationResult {
    /// Upstream `transaction_info.status` (`Authentication_successful`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eci: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eci_raw: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cavv: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pares_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub veres_enrolled: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commerce_indicator: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication_transaction_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub specification_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_pares_status_reason: Option<String>,
}

impl AuthenticationResult {
    /// Liability shift per the check-enroll seed's ECI table: Visa/Amex (and the other
    /// non-Mastercard schemes) 05 or 06; Mastercard 01 or 02, read from `eci_raw`
    /// (Mastercard returns only `eci_raw`).
    pub fn liability_shift(&self, network: Option<&str>) -> bool {
        let is_mastercard = network.is_some_and(|n| n.eq_ignore_ascii_case("MASTERCARD"));
        if is_mastercard {
            matches!(self.eci_raw.as_deref(), Some("01" | "02"))
        } else {
            let eci = self.eci.as_deref().or(self.eci_raw.as_deref());
            matches!(eci, Some("05" | "06"))
        }
    }
}

/// One session item, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuthenticationSession {
    pub reference_code: String,
    pub client_id: String,
    pub state: SessionState,
    /// Epoch milliseconds.
    pub created_at: i64,
    pub updated_at: i64,
    /// TTL, epoch seconds: clean-up only.
    pub expires_at: i64,
    #[serde(default)]
    pub mutation_id: Option<String>,
    #[serde(default)]
    pub setup_fingerprint: Option<String>,
    #[serde(default)]
    pub setup_response: Option<SealedData>,
    #[serde(default)]
    pub enroll_fingerprint: Option<String>,
    #[serde(default)]
    pub enroll_response: Option<SealedData>,
    #[serde(default)]
    pub claim_id: Option<String>,
    #[serde(default)]
    pub lease_until: Option<i64>,
    #[serde(default)]
    pub card: Option<CardSummary>,
    #[serde(default)]
    pub merchant_return_url: Option<String>,
    #[serde(default)]
    pub authentication_transaction_id: Option<String>,
    #[serde(default)]
    pub transaction_mac: Option<String>,
    #[serde(default)]
    pub challenge_deadline: Option<i64>,
    #[serde(default)]
    pub sealed_payment_data: Option<SealedData>,
    #[serde(default)]
    pub result: Option<AuthenticationResult>,
    #[serde(default)]
    pub validate_response: Option<SealedData>,
}

impl AuthenticationSession {
    /// The state as it stands at `now_ms`: a challenge past its deadline is expired even
    /// before anything wrote EXPIRED (DynamoDB TTL is not a clock).
    pub fn effective_state(&self, now_ms: i64) -> SessionState {
        let past_deadline = self.challenge_deadline.is_some_and(|d| d <= now_ms);
        let lapsed = self.lease_until.is_none_or(|l| l < now_ms);
        match self.state {
            SessionState::ChallengePending if past_deadline => SessionState::Expired,
            SessionState::Validating if past_deadline && lapsed => SessionState::Expired,
            state => state,
        }
    }

    /// Someone holds a live claim on it right now.
    pub fn is_claimed_at(&self, now_ms: i64) -> bool {
        self.state.is_claimed() && self.lease_until.is_some_and(|l| l >= now_ms)
    }
}

/// Result of applying a transition.
#[derive(Debug, Clone, PartialEq)]
pub enum Applied {
    Done(Box<AuthenticationSession>),
    /// The guard did not hold; the session as it was, if it exists.
    Refused(Option<Box<AuthenticationSession>>),
}

/// Sessions over the storage port.
#[derive(Clone)]
pub struct Sessions {
    store: SharedStore,
    clock: SharedClock,
}

pub fn key(reference_code: &str) -> String {
    format!("AUTH#{reference_code}")
}

fn decode(item: Item) -> Result<AuthenticationSession, StoreError> {
    serde_dynamo::from_item(item).map_err(|e| StoreError::Corrupt(e.to_string()))
}

impl Sessions {
    pub fn new(store: SharedStore, clock: SharedClock) -> Self {
        Self { store, clock }
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    pub async fn apply(
        &self,
        reference_code: &str,
        transition: &Transition,
    ) -> Result<Applied, StoreError> {
        self.apply_as(
            reference_code,
            transition,
            &uuid::Uuid::new_v4().to_string(),
        )
        .await
    }

    /// [`Sessions::apply`] with a given mutation id: sending the same id twice is how a
    /// retried write looks to the store.
    pub async fn apply_as(
        &self,
        reference_code: &str,
        transition: &Transition,
        mutation_id: &str,
    ) -> Result<Applied, StoreError> {
        let mutation = transition.mutation(mutation_id);
        match self.store.write(&key(reference_code), &mutation).await? {
            Written::Applied(item) => Ok(Applied::Done(Box::new(decode(item)?))),
            // Our own write landed but its answer was lost and the SDK retried it: the
            // retry is refused by the state we wrote. It is still ours.
            Written::Refused(Some(item))
                if string(&item, attr::MUTATION_ID) == Some(mutation_id) =>
            {
                Ok(Applied::Done(Box::new(decode(item)?)))
            }
            Written::Refused(item) => Ok(Applied::Refused(
                item.map(decode).transpose()?.map(Box::new),
            )),
        }
    }

    pub async fn get(
        &self,
        reference_code: &str,
    ) -> Result<Option<AuthenticationSession>, StoreError> {
        self.store
            .read(&key(reference_code))
            .await?
            .map(decode)
            .transpose()
    }

    /// Waits while another invocation holds a live claim on the session (a concurrent
    /// duplicate), polling with strongly consistent reads, up to `max_wait`. Returns the
    /// session as last read.
    pub async fn wait_while_claimed(
        &self,
        reference_code: &str,
        max_wait: Duration,
    ) -> Result<Option<AuthenticationSession>, StoreError> {
        let started = Instant::now();
        let mut delay = Duration::from_millis(50);
        loop {
            let session = self.get(reference_code).await?;
            let claimed = session
                .as_ref()
                .is_some_and(|s| s.is_claimed_at(self.now_ms()));
            if !claimed || started.elapsed() + delay > max_wait {
                return Ok(session);
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_millis(400));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(eci: Option<&str>, eci_raw: Option<&str>) -> AuthenticationResult {
        AuthenticationResult {
            eci: eci.map(str::to_owned),
            eci_raw: eci_raw.map(str::to_owned),
            ..Default::default()
        }
    }

    #[test]
    fn liability_shift_follows_the_eci_table() {
        assert!(result(Some("05"), Some("05")).liability_shift(Some("VISA")));
        assert!(result(Some("06"), Some("06")).liability_shift(Some("AMEX")));
        assert!(!result(Some("07"), Some("07")).liability_shift(Some("VISA")));
        assert!(result(None, Some("02")).liability_shift(Some("MASTERCARD")));
        assert!(result(None, Some("01")).liability_shift(Some("MASTERCARD")));
        assert!(!result(None, Some("00")).liability_shift(Some("MASTERCARD")));
        // A Mastercard "05" is not a Visa 05.
        assert!(!result(Some("05"), Some("05")).liability_shift(Some("MASTERCARD")));
        assert!(!result(None, None).liability_shift(Some("VISA")));
    }
}

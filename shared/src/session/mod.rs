//! The merchant-side authentication session, keyed by the merchant's `reference_code`:
//! the item as stored ([`AuthenticationSession`]), its states and transitions
//! ([`state`]), reading and writing it ([`repo`]), the two lease requests that make an
//! upstream call happen once ([`claims`], on the one lease protocol of `crate::lease`),
//! what is sealed in it ([`sealing`]), the one view of its outcome ([`outcome`]), what an
//! acquirer needs of it ([`authorization`]), its single use ([`consumption`]) and the
//! sweeper of abandoned challenges ([`sweeper`]).

use serde::{Deserialize, Serialize};

use crate::crypto::SealedData;
use crate::domain::{
    Amount, AuthenticationResult, CardSummary, CompletionMode, ReferenceCode, TenantId,
};
use crate::store::Kind;
use crate::store::record::{stored_record, the_same};

pub mod authorization;
pub mod claims;
pub mod consumption;
#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod listing_tests;
pub mod outcome;
pub mod repo;
pub mod sealing;
pub mod state;
pub mod sweeper;

pub use consumption::Consumption;
pub use outcome::{Flow, LiabilityShift, Outcome};
pub use repo::{Expired, Recorded, SessionPage, Sessions, StoredAnswer};
pub use sealing::RecordedResult;
pub use state::{EnrollmentOutcome, SessionState, Transition};

/// Which session: a reference code of a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRef {
    pub tenant: TenantId,
    pub reference: ReferenceCode,
}

impl SessionRef {
    pub fn new(tenant: TenantId, reference: ReferenceCode) -> Self {
        Self { tenant, reference }
    }

    /// The session's store key — the tenant's namespace, then its reference code: two
    /// tenants may use the same reference code, and neither can address the other's.
    /// Also the context its sealed data is bound to.
    pub fn key(&self) -> String {
        Kind::AuthenticationSession.key(&[self.tenant.as_str(), self.reference.as_str()])
    }
}

stored_record! {
    /// One session item, as stored.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct AuthenticationSession, attributes in attr {
        reference_code: ReferenceCode => REFERENCE_CODE,
        tenant_id: TenantId => TENANT_ID,
        state: SessionState => STATE,
        /// Epoch milliseconds.
        created_at: i64 => CREATED_AT,
        updated_at: i64 => UPDATED_AT,
        /// TTL, epoch seconds: clean-up only.
        expires_at: i64 => EXPIRES_AT,
        /// The id of the write that made this version (a retried write that landed is
        /// recognised as ours; the event of a change is named by it).
        #[serde(default)]
        mutation_id: Option<String> => MUTATION_ID,
        #[serde(default)]
        setup_fingerprint: Option<String> => SETUP_FINGERPRINT,
        #[serde(default)]
        setup_response: Option<SealedData> => SETUP_RESPONSE,
        #[serde(default)]
        enroll_fingerprint: Option<String> => ENROLL_FINGERPRINT,
        #[serde(default)]
        enroll_response: Option<SealedData> => ENROLL_RESPONSE,
        #[serde(default)]
        claim_id: Option<String> => CLAIM_ID,
        #[serde(default)]
        lease_until: Option<i64> => LEASE_UNTIL,
        #[serde(default)]
        card: Option<CardSummary> => CARD,
        #[serde(default)]
        merchant_return_url: Option<String> => MERCHANT_RETURN_URL,
        #[serde(default)]
        authentication_transaction_id: Option<String> => AUTHENTICATION_TRANSACTION_ID,
        /// The digest of the transaction id the claim of a validation compares.
        #[serde(default)]
        transaction_mac: Option<String> => TRANSACTION_MAC,
        #[serde(default)]
        challenge_deadline: Option<i64> => CHALLENGE_DEADLINE,
        #[serde(default)]
        sealed_payment_data: Option<SealedData> => SEALED_PAYMENT_DATA,
        /// The result without CAVV and XID, which are in `sealed_authentication_values`.
        #[serde(default)]
        result: Option<AuthenticationResult> => RESULT,
        #[serde(default)]
        sealed_authentication_values: Option<SealedData> => SEALED_AUTHENTICATION_VALUES,
        #[serde(default)]
        validate_response: Option<SealedData> => VALIDATE_RESPONSE,
        /// How the browser's return ends (a challenge's), as check enroll asked.
        #[serde(default)]
        completion: Option<CompletionMode> => COMPLETION,
        /// A challenge's check-enroll result (no CAVV or XID: nothing was decided): what
        /// only check enroll says (the ARes status, the ids) completes validate's.
        #[serde(default)]
        enrollment_result: Option<AuthenticationResult> => ENROLLMENT_RESULT,
        /// The amount and currency check enroll authenticated, as the merchant sent
        /// them; with the amount in thousandths, which a consume's guard compares.
        #[serde(default)]
        authenticated_total_amount: Option<String> => AUTHENTICATED_TOTAL_AMOUNT,
        #[serde(default)]
        authenticated_currency: Option<String> => AUTHENTICATED_CURRENCY,
        #[serde(default)]
        authenticated_thousandths: Option<i64> => AUTHENTICATED_THOUSANDTHS,
        /// When and by which order the authenticated result was used (single use).
        #[serde(default)]
        consumption: Option<Consumption> => CONSUMPTION,
    }
}

the_same! {
    attr::REFERENCE_CODE => crate::store::index::attr::SESSION_REFERENCE_CODE,
    attr::TENANT_ID => crate::store::attr::TENANT_ID,
    attr::CREATED_AT => crate::store::attr::CREATED_AT,
    attr::UPDATED_AT => crate::store::attr::UPDATED_AT,
    attr::EXPIRES_AT => crate::store::attr::EXPIRES_AT,
    attr::CLAIM_ID => crate::lease::attr::CLAIM_ID,
    attr::LEASE_UNTIL => crate::lease::attr::LEASE_UNTIL,
}

impl AuthenticationSession {
    /// A session from its stored item (a read, a change stream's image).
    pub fn from_item(item: crate::store::Item) -> Result<Self, crate::store::StoreError> {
        serde_dynamo::from_item(item).map_err(|e| crate::store::StoreError::Corrupt(e.to_string()))
    }

    /// The state a stored item shows, read alone (a stream's old image may carry less
    /// than a whole session); `None` when it shows none.
    pub fn state_of(item: &crate::store::Item) -> Option<SessionState> {
        #[derive(Deserialize)]
        struct StateOnly {
            #[serde(default)]
            state: Option<SessionState>,
        }
        the_same!(attr::STATE => "state");
        serde_dynamo::from_item::<_, StateOnly>(item.clone())
            .ok()?
            .state
    }

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

    /// The amount and currency check enroll authenticated, when recorded.
    pub fn authenticated_amount(&self) -> Option<Amount> {
        Some(Amount {
            total_amount: self.authenticated_total_amount.clone()?,
            currency: self.authenticated_currency.clone()?,
        })
    }

    /// Whether a stored item (a stream's old image) shows a consumption.
    pub fn consumed_in(item: &crate::store::Item) -> bool {
        item.contains_key(attr::CONSUMPTION)
    }

    /// Someone holds a live claim on it right now.
    pub fn is_claimed_at(&self, now_ms: i64) -> bool {
        self.state.is_claimed() && self.lease_until.is_some_and(|l| l >= now_ms)
    }

    /// The session's own name.
    pub fn session_ref(&self) -> SessionRef {
        SessionRef::new(self.tenant_id.clone(), self.reference_code.clone())
    }
}

impl crate::lease::Leased for AuthenticationSession {
    fn lease(&self) -> Option<(&str, i64)> {
        Some((self.claim_id.as_deref()?, self.lease_until?))
    }

    fn is_held_at(&self, now_ms: i64) -> bool {
        self.is_claimed_at(now_ms)
    }
}

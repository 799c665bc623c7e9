//! The merchant-side authentication session, keyed by the merchant's `reference_code`:
//! the item as stored ([`AuthenticationSession`]), its states and transitions
//! ([`state`]), reading and writing it ([`repo`]), the one claim protocol that makes an
//! upstream call happen once ([`claim`]), and what is sealed in it ([`sealing`]).

use serde::{Deserialize, Serialize};

use crate::crypto::SealedData;
use crate::domain::{AuthenticationResult, CardSummary, CompletionMode, ReferenceCode, TenantId};

pub mod claim;
pub mod claims;
mod repo;
pub mod sealing;
pub mod state;
pub mod sweeper;

pub use repo::{Recorded, Sessions};
pub use sealing::{RecordedResult, SessionKeys};
pub use state::{EnrollmentOutcome, SessionState, Transition};

/// Item kind marker (single table: enrollment records live beside sessions).
pub const KIND: &str = "authentication_session";

/// Attribute names of a session item; they match the serde names of
/// [`AuthenticationSession`].
pub mod attr {
    pub const KIND: &str = "kind";
    pub const REFERENCE_CODE: &str = "reference_code";
    pub const TENANT_ID: &str = "tenant_id";
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
    pub const SEALED_AUTHENTICATION_VALUES: &str = "sealed_authentication_values";
    pub const COMPLETION: &str = "completion";
    /// The deadline index (`crate::store::Index::ByDeadline`): only pending challenges.
    pub const SWEEP_PK: &str = "sweep_pk";
    pub const SWEEP_SK: &str = "sweep_sk";
    pub const VALIDATE_RESPONSE: &str = "validate_response";
}

/// The store key of a session: the tenant's namespace, then its reference code. Two
/// tenants may use the same reference code; neither can address the other's.
pub fn key(tenant: &str, reference_code: &str) -> String {
    format!("AUTH#{tenant}#{reference_code}")
}

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

    /// The session's store key, also the context its sealed data is bound to.
    pub fn key(&self) -> String {
        key(self.tenant.as_str(), self.reference.as_str())
    }
}

/// One session item, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuthenticationSession {
    pub reference_code: String,
    pub tenant_id: String,
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
    /// The result without CAVV and XID, which are in `sealed_authentication_values`.
    #[serde(default)]
    pub result: Option<AuthenticationResult>,
    #[serde(default)]
    pub sealed_authentication_values: Option<SealedData>,
    #[serde(default)]
    pub validate_response: Option<SealedData>,
    /// How the browser's return ends (a challenge's), as check enroll asked.
    #[serde(default)]
    pub completion: Option<CompletionMode>,
}

impl AuthenticationSession {
    /// A session from its stored item (`None` if the item is not one).
    pub fn from_item(item: crate::store::Item) -> Option<Self> {
        serde_dynamo::from_item(item).ok()
    }

    /// `challenge` when the cardholder was sent to the bank's page, else `frictionless`.
    pub fn flow(&self) -> &'static str {
        if self.challenge_deadline.is_some() {
            "challenge"
        } else {
            "frictionless"
        }
    }

    /// Why it did not succeed, for the merchant to act on: from the upstream's
    /// `pares_status` for a failure, or how the challenge ended.
    pub fn reason(&self) -> Option<&'static str> {
        match self.state {
            SessionState::Failed => Some(
                match self.result.as_ref().and_then(|r| r.pares_status.as_deref()) {
                    Some("U") => "AUTHENTICATION_UNAVAILABLE",
                    Some("R") => "AUTHENTICATION_REJECTED",
                    _ => "NOT_AUTHENTICATED",
                },
            ),
            SessionState::Expired => Some("CHALLENGE_EXPIRED"),
            SessionState::Canceled => Some("CANCELED_BY_MERCHANT"),
            _ => None,
        }
    }

    /// `true` / `false` once decided; `unknown` while not (or never: expired, canceled).
    pub fn liability_shift(&self) -> &'static str {
        let network = self.card.as_ref().and_then(|c| c.network.as_deref());
        match (&self.result, self.state) {
            (Some(result), SessionState::Authenticated | SessionState::Failed) => {
                if result.liability_shift(network) {
                    "true"
                } else {
                    "false"
                }
            }
            _ => "unknown",
        }
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

    /// Someone holds a live claim on it right now.
    pub fn is_claimed_at(&self, now_ms: i64) -> bool {
        self.state.is_claimed() && self.lease_until.is_some_and(|l| l >= now_ms)
    }
}

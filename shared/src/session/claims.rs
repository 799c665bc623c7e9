//! The two claims the gateway makes on a session, and how each reads a refusal: the
//! enrollment claim (check enroll) and the validation claim (the browser's return, the
//! merchant's validate). The protocol that runs them is [`super::claim`].

use super::claim::{ClaimRequest, Verdict};
use super::{AuthenticationSession, SessionState, Transition};
use crate::config::SessionSettings;
use crate::crypto::constant_time_eq;

/// Check enroll's claim: by reference code, for one caller and one request body (its
/// fingerprint).
pub struct EnrollmentClaim<'a> {
    pub reference_code: &'a str,
    pub client_id: &'a str,
    pub fingerprint: String,
    pub settings: &'a SessionSettings,
}

/// Why an enrollment claim is refused for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnrollmentRefusal {
    /// Another caller's session, or this caller's with another request body.
    ReferenceInUse,
}

impl ClaimRequest for EnrollmentClaim<'_> {
    type Refusal = EnrollmentRefusal;

    fn claim(&self, claim_id: &str, now_ms: i64, lease_until_ms: i64) -> Transition {
        Transition::ClaimEnrollment {
            reference_code: self.reference_code.to_owned(),
            client_id: self.client_id.to_owned(),
            fingerprint: self.fingerprint.clone(),
            claim_id: claim_id.to_owned(),
            now_ms,
            lease_until_ms,
            expires_at: self.settings.record_expiry(now_ms),
        }
    }

    fn inspect(&self, session: &AuthenticationSession, now_ms: i64) -> Verdict<EnrollmentRefusal> {
        if session.client_id != self.client_id {
            return Verdict::Refuse(EnrollmentRefusal::ReferenceInUse);
        }
        // Set up, or released by a duplicate whose upstream call failed: ours to claim.
        if session.state == SessionState::SetupCompleted {
            return Verdict::Retry;
        }
        if session.enroll_fingerprint.as_deref() != Some(self.fingerprint.as_str()) {
            return Verdict::Refuse(EnrollmentRefusal::ReferenceInUse);
        }
        if session.is_claimed_at(now_ms) {
            return Verdict::Wait;
        }
        if session.enroll_response.is_some() {
            return Verdict::Replay;
        }
        // A lapsed claim of this same request: take it over.
        Verdict::Retry
    }
}

/// Validation's claim: by the transaction id's digest, for anyone holding the return URL
/// (`client_id: None`) or for the merchant that owns the session.
pub struct ValidationClaim<'a> {
    pub transaction_mac: String,
    pub client_id: Option<&'a str>,
}

/// Why a validation claim is refused for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValidationRefusal {
    /// No such session (or, for a merchant, not theirs).
    NotFound,
    /// The session has no challenge to validate.
    NoChallenge,
    /// The transaction id is not this session's.
    Forged,
}

impl ClaimRequest for ValidationClaim<'_> {
    type Refusal = ValidationRefusal;

    fn claim(&self, claim_id: &str, now_ms: i64, lease_until_ms: i64) -> Transition {
        Transition::ClaimValidation {
            transaction_mac: self.transaction_mac.clone(),
            client_id: self.client_id.map(str::to_owned),
            claim_id: claim_id.to_owned(),
            now_ms,
            lease_until_ms,
        }
    }

    fn inspect(&self, session: &AuthenticationSession, now_ms: i64) -> Verdict<ValidationRefusal> {
        if self.client_id.is_some_and(|c| c != session.client_id) {
            return Verdict::Refuse(ValidationRefusal::NotFound);
        }
        let Some(stored_mac) = session.transaction_mac.as_deref() else {
            return Verdict::Refuse(ValidationRefusal::NoChallenge);
        };
        if !constant_time_eq(stored_mac, &self.transaction_mac) {
            tracing::warn!("a transaction id that does not belong to this session was presented");
            return Verdict::Refuse(ValidationRefusal::Forged);
        }
        match session.effective_state(now_ms) {
            SessionState::Authenticated | SessionState::Failed => Verdict::Replay,
            SessionState::Expired => Verdict::Expire,
            SessionState::Validating if session.is_claimed_at(now_ms) => Verdict::Wait,
            // Its holder died: take the claim over.
            SessionState::Validating | SessionState::ChallengePending => Verdict::Retry,
            SessionState::SetupCompleted | SessionState::Enrolling => {
                Verdict::Refuse(ValidationRefusal::NoChallenge)
            }
        }
    }
}

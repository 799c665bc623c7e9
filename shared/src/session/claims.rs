//! The two claims the gateway makes on a session, and how each reads a refusal: the
//! enrollment claim (check enroll) and the validation claim (the browser's return, the
//! merchant's validate). The protocol that runs them is [`super::claim`].
//!
//! Both compare a keyed digest (the request's fingerprint, the transaction id's digest)
//! inside the claim's condition. A digest made before a session-key rotation names its
//! key: each claim carries its digest under every key it holds, claims with the current
//! key's, and on a refusal that shows an older key's digest, claims again with that one.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::claim::{ClaimRequest, Verdict};
use super::{AuthenticationSession, SessionState, Transition};
use crate::config::SessionSettings;
use crate::crypto::constant_time_eq;

/// A value made under each session key (the current key's first), and which of them the
/// session holds, once a refusal has shown it.
pub struct KeyedValue {
    values: Vec<String>,
    chosen: AtomicUsize,
}

impl KeyedValue {
    pub fn new(values: Vec<String>) -> Self {
        assert!(
            !values.is_empty(),
            "a keyed value is made under one key at least"
        );
        Self {
            values,
            chosen: AtomicUsize::new(0),
        }
    }

    /// The value to claim with.
    fn current(&self) -> &str {
        &self.values[self.chosen.load(Ordering::Relaxed)]
    }

    /// Whether `stored` is one of the values (compared in constant time); if it is, it is
    /// the one claimed with from now on.
    fn matches(&self, stored: &str) -> bool {
        let found = self
            .values
            .iter()
            .position(|value| constant_time_eq(value, stored));
        if let Some(index) = found {
            self.chosen.store(index, Ordering::Relaxed);
        }
        found.is_some()
    }
}

/// Check enroll's claim: by reference code, for one request body (its fingerprint).
pub struct EnrollmentClaim<'a> {
    pub reference_code: &'a str,
    pub tenant_id: &'a str,
    pub fingerprint: KeyedValue,
    pub settings: &'a SessionSettings,
}

/// Why an enrollment claim is refused for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnrollmentRefusal {
    /// The reference code was used with another request body.
    ReferenceInUse,
}

impl ClaimRequest for EnrollmentClaim<'_> {
    type Refusal = EnrollmentRefusal;
    const OPERATION: &'static str = "enroll";

    fn claim(&self, claim_id: &str, now_ms: i64, lease_until_ms: i64) -> Transition {
        Transition::ClaimEnrollment {
            reference_code: self.reference_code.to_owned(),
            tenant_id: self.tenant_id.to_owned(),
            fingerprint: self.fingerprint.current().to_owned(),
            claim_id: claim_id.to_owned(),
            now_ms,
            lease_until_ms,
            expires_at: self.settings.record_expiry(now_ms),
        }
    }

    fn inspect(&self, session: &AuthenticationSession, now_ms: i64) -> Verdict<EnrollmentRefusal> {
        // Set up, or released by a duplicate whose upstream call failed: ours to claim.
        if session.state == SessionState::SetupCompleted {
            return Verdict::Retry;
        }
        let same_request = session
            .enroll_fingerprint
            .as_deref()
            .is_some_and(|stored| self.fingerprint.matches(stored));
        // A claim whose holder died: any request of the merchant's may take it over.
        let lapsed = session.state == SessionState::Enrolling && !session.is_claimed_at(now_ms);
        if lapsed {
            return Verdict::Retry;
        }
        if !same_request {
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

/// Validation's claim: by the transaction id's digest, which only the session's own
/// challenge gives.
pub struct ValidationClaim {
    pub transaction_mac: KeyedValue,
}

/// Why a validation claim is refused for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValidationRefusal {
    /// No such session.
    NotFound,
    /// The session has no challenge to validate.
    NoChallenge,
    /// The transaction id is not this session's.
    Forged,
    /// The merchant canceled the challenge.
    Canceled,
}

impl ClaimRequest for ValidationClaim {
    type Refusal = ValidationRefusal;
    const OPERATION: &'static str = "validate";

    fn claim(&self, claim_id: &str, now_ms: i64, lease_until_ms: i64) -> Transition {
        Transition::ClaimValidation {
            transaction_mac: self.transaction_mac.current().to_owned(),
            claim_id: claim_id.to_owned(),
            now_ms,
            lease_until_ms,
        }
    }

    fn inspect(&self, session: &AuthenticationSession, now_ms: i64) -> Verdict<ValidationRefusal> {
        let Some(stored_mac) = session.transaction_mac.as_deref() else {
            return Verdict::Refuse(ValidationRefusal::NoChallenge);
        };
        if !self.transaction_mac.matches(stored_mac) {
            tracing::warn!("a transaction id that does not belong to this session was presented");
            return Verdict::Refuse(ValidationRefusal::Forged);
        }
        match session.effective_state(now_ms) {
            SessionState::Authenticated | SessionState::Failed => Verdict::Replay,
            SessionState::Expired => Verdict::Expire,
            SessionState::Canceled => Verdict::Refuse(ValidationRefusal::Canceled),
            SessionState::Validating if session.is_claimed_at(now_ms) => Verdict::Wait,
            // Pending, or its holder died: claim (again).
            SessionState::Validating | SessionState::ChallengePending => Verdict::Retry,
            SessionState::SetupCompleted | SessionState::Enrolling => {
                Verdict::Refuse(ValidationRefusal::NoChallenge)
            }
        }
    }
}

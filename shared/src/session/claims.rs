//! The two lease requests the gateway makes on a session, and how each reads a refusal:
//! the enrollment claim (check enroll) and the validation claim (the browser's return,
//! the merchant's validate). The protocol that runs them is `crate::lease`; the sessions
//! are its book ([`Sessions`]).
//!
//! Both compare a keyed digest (the request's fingerprint, the transaction id's digest)
//! inside the claim's condition. A digest made before a session-key rotation names its
//! key: each claim carries its digest under every key it holds, claims with the current
//! key's, and on a refusal that shows an older key's digest, claims again with that one.

use std::time::Duration;

use super::{AuthenticationSession, SessionRef, SessionState, Sessions, Transition};
pub use crate::keys::KeyedValue;
use crate::lease::{LeaseRequest, Verdict};

/// A session under a lease we hold.
pub type HeldSession = crate::lease::Held<SessionRef, AuthenticationSession>;

/// What a claim comes to.
pub type ClaimStep<R> = crate::lease::NextStep<SessionRef, AuthenticationSession, R>;

/// The TTL (epoch seconds) of a session record written at `now_ms`.
fn expiry(record_ttl: Duration, now_ms: i64) -> i64 {
    now_ms / 1000 + record_ttl.as_secs() as i64
}

/// Check enroll's claim: by reference code, for one request body (its fingerprint).
pub struct EnrollmentClaim {
    pub fingerprint: KeyedValue,
    /// How long the record is kept (`SESSION_TTL_SECS`).
    pub record_ttl: Duration,
}

/// Why an enrollment claim is refused for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnrollmentRefusal {
    /// The reference code was used with another request body.
    ReferenceInUse,
}

impl LeaseRequest<Sessions> for EnrollmentClaim {
    type Refusal = EnrollmentRefusal;
    const OPERATION: &'static str = "enroll";

    fn take(&self, claim_id: &str, now_ms: i64, until_ms: i64) -> Transition {
        Transition::ClaimEnrollment {
            fingerprint: self.fingerprint.current().to_owned(),
            claim_id: claim_id.to_owned(),
            now_ms,
            lease_until_ms: until_ms,
            expires_at: expiry(self.record_ttl, now_ms),
        }
    }

    /// Not a decline: nothing was decided. The session is free for a retry.
    fn release(&self, claim_id: &str, now_ms: i64) -> Transition {
        Transition::ReleaseEnrollment {
            claim_id: claim_id.to_owned(),
            now_ms,
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
    /// How long the record is kept once decided (`SESSION_TTL_SECS`).
    pub record_ttl: Duration,
}

/// Why a validation claim is refused for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValidationRefusal {
    /// The session has no challenge to validate.
    NoChallenge,
    /// The transaction id is not this session's.
    Forged,
    /// The merchant canceled the challenge.
    Canceled,
}

impl LeaseRequest<Sessions> for ValidationClaim {
    type Refusal = ValidationRefusal;
    const OPERATION: &'static str = "validate";

    fn take(&self, claim_id: &str, now_ms: i64, until_ms: i64) -> Transition {
        Transition::ClaimValidation {
            transaction_mac: self.transaction_mac.current().to_owned(),
            claim_id: claim_id.to_owned(),
            now_ms,
            lease_until_ms: until_ms,
        }
    }

    /// Nothing was decided: the session goes back to CHALLENGE_PENDING, so a later return
    /// or validate completes it.
    fn release(&self, claim_id: &str, now_ms: i64) -> Transition {
        Transition::ReleaseValidation {
            claim_id: claim_id.to_owned(),
            now_ms,
        }
    }

    /// A challenge past its deadline is expired (which also drops the card data).
    fn close(&self, now_ms: i64) -> Option<Transition> {
        Some(Transition::Expire {
            now_ms,
            expires_at: expiry(self.record_ttl, now_ms),
        })
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
            SessionState::Expired if session.state == SessionState::Expired => Verdict::Closed,
            SessionState::Expired => Verdict::Close,
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

//! The one claim protocol: how an upstream call made on behalf of a session (check
//! enroll, validate) happens once, however many requests arrive for it at the same time.
//!
//! 1. **Claim**: one conditional write moves the session into a claimed state under a
//!    lease. Whoever wins it proceeds ([`NextStep::Proceed`]).
//! 2. **Inspect a refusal**: a refused claim returns the session as it is; the caller's
//!    [`ClaimRequest::inspect`] reads it as a replay, a conflict, a claim held by someone
//!    else, a session free again, or an expired challenge.
//! 3. **Wait for the holder**, polling with consistent reads, for at most the caller's
//!    patience; then act on what the wait saw (a decision is answered, a released claim is
//!    taken), never on what it saw before.
//! 4. **Take over** a claim whose lease ran out: the claim's own guard admits it, so a
//!    claim left by an invocation that died never blocks a session for longer than a lease.
//! 5. **Complete or release** with one write guarded by the claim id: a holder that lost
//!    its claim (its lease ran out and someone took over) is told so, and writes nothing.

use std::time::{Duration, Instant};

use super::{AuthenticationSession, Recorded, SessionRef, Sessions, Transition};
use crate::config::{CLOCK_SKEW_MARGIN, STORE_OPERATION_TIMEOUT, SessionSettings};
use crate::store::StoreError;
use crate::telemetry::metrics;

/// What a refused claim (or a wait) left the session as, in the caller's reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict<R> {
    /// Decided before (a replay, or the duplicate we waited for): answer from the store.
    Replay,
    /// Another invocation holds a live claim: wait for it.
    Wait,
    /// Free again (released after an upstream fault, or changed under us): claim again.
    Retry,
    /// Past its deadline: record the expiry.
    Expire,
    /// Refused for good, for the caller's reason.
    Refuse(R),
}

/// A kind of claim: the write that takes it and how to read a refusal.
pub trait ClaimRequest {
    /// Why a claim can be refused for good.
    type Refusal;

    /// The operation's name in metrics.
    const OPERATION: &'static str;

    /// The conditional write that takes the claim.
    fn claim(&self, claim_id: &str, now_ms: i64, lease_until_ms: i64) -> Transition;

    /// What to make of the session as it stands.
    fn inspect(&self, session: &AuthenticationSession, now_ms: i64) -> Verdict<Self::Refusal>;
}

/// A claim we hold: the session as our claim left it.
#[derive(Debug, Clone, PartialEq)]
pub struct Held {
    pub session_ref: SessionRef,
    pub claim_id: String,
    pub session: Box<AuthenticationSession>,
}

impl Held {
    /// When an upstream call made under this claim must be over: before its lease runs
    /// out, leaving the time to record the outcome and a margin for clock skew. However
    /// slow the claim's own write was, the call cannot outlive the lease.
    pub fn upstream_deadline(&self, now_ms: i64) -> Instant {
        let lease_left = self.session.lease_until.unwrap_or(now_ms) - now_ms;
        let usable = Duration::from_millis(lease_left.max(0) as u64)
            .saturating_sub(STORE_OPERATION_TIMEOUT + CLOCK_SKEW_MARGIN);
        Instant::now() + usable
    }
}

/// What the caller does next.
#[derive(Debug, Clone, PartialEq)]
pub enum NextStep<R> {
    /// We hold the claim: make the upstream call, then complete or release.
    Proceed(Held),
    /// Decided already: answer with the stored outcome.
    Replay(Box<AuthenticationSession>),
    /// The challenge is past its deadline (recorded now, or before).
    Expired(Box<AuthenticationSession>),
    /// Refused for good.
    Refused(R),
    /// No such session, and this claim may not create one.
    NotFound,
    /// Another invocation still holds the claim when our patience ran out.
    InProgress,
}

/// Claims taken, then lost to a refreshed state, before giving up: enough for a duplicate
/// that saw its holder release (upstream fault) to take the claim itself.
const MAX_CLAIMS: usize = 3;

/// Verdicts read on one refusal before giving up (a wait, then an expiry, then a replay).
const MAX_VERDICTS: usize = 4;

impl Sessions {
    /// Runs the protocol until the caller can act: it holds the claim, or has its answer.
    pub async fn claim<C: ClaimRequest>(
        &self,
        session_ref: &SessionRef,
        request: &C,
        settings: &SessionSettings,
    ) -> Result<NextStep<C::Refusal>, StoreError> {
        let next = self.run_claim(session_ref, request, settings).await?;
        match &next {
            NextStep::Replay(_) => metrics::replay(C::OPERATION),
            NextStep::InProgress => metrics::claim_conflict(C::OPERATION),
            _ => {}
        }
        Ok(next)
    }

    async fn run_claim<C: ClaimRequest>(
        &self,
        session_ref: &SessionRef,
        request: &C,
        settings: &SessionSettings,
    ) -> Result<NextStep<C::Refusal>, StoreError> {
        let patience_ends = Instant::now() + settings.settle_wait;
        for _ in 0..MAX_CLAIMS {
            let claim_id = uuid::Uuid::new_v4().to_string();
            let now = self.now_ms();
            let lease_until = now + settings.claim_lease.as_millis() as i64;
            let transition = request.claim(&claim_id, now, lease_until);
            let current = match self.apply(session_ref, &transition).await? {
                Recorded::Done(session) => {
                    return Ok(NextStep::Proceed(Held {
                        session_ref: session_ref.clone(),
                        claim_id,
                        session,
                    }));
                }
                Recorded::Refused(None) => return Ok(NextStep::NotFound),
                Recorded::Refused(Some(current)) => current,
            };
            let next = self
                .settle(session_ref, request, current, settings, patience_ends)
                .await?;
            if let Some(next) = next {
                return Ok(next);
            }
        }
        Ok(NextStep::InProgress)
    }

    /// Acts on the verdicts a refused claim leads to. `None`: claim again.
    async fn settle<C: ClaimRequest>(
        &self,
        session_ref: &SessionRef,
        request: &C,
        mut current: Box<AuthenticationSession>,
        settings: &SessionSettings,
        patience_ends: Instant,
    ) -> Result<Option<NextStep<C::Refusal>>, StoreError> {
        for _ in 0..MAX_VERDICTS {
            current = match request.inspect(&current, self.now_ms()) {
                Verdict::Replay => return Ok(Some(NextStep::Replay(current))),
                Verdict::Refuse(reason) => return Ok(Some(NextStep::Refused(reason))),
                Verdict::Retry => return Ok(None),
                Verdict::Expire => match self.expire(session_ref, current, settings).await? {
                    Ok(expired) => return Ok(Some(NextStep::Expired(expired))),
                    // Someone else moved it first: read what they left.
                    Err(Some(moved)) => moved,
                    Err(None) => return Ok(Some(NextStep::NotFound)),
                },
                Verdict::Wait => {
                    let patience = patience_ends.saturating_duration_since(Instant::now());
                    if patience.is_zero() {
                        return Ok(Some(NextStep::InProgress));
                    }
                    tracing::info!("another request holds the claim: waiting for its outcome");
                    match self.wait_while_claimed(session_ref, patience).await? {
                        // Gone while we waited: claim again (the claim says what then).
                        None => return Ok(None),
                        Some(seen) if seen.is_claimed_at(self.now_ms()) => {
                            return Ok(Some(NextStep::InProgress));
                        }
                        Some(seen) => Box::new(seen),
                    }
                }
            };
        }
        Ok(Some(NextStep::InProgress))
    }

    /// Records the expiry of a challenge past its deadline (one conditional write, which
    /// also drops the card data). `Err` carries the session when the write was refused.
    pub async fn expire(
        &self,
        session_ref: &SessionRef,
        current: Box<AuthenticationSession>,
        settings: &SessionSettings,
    ) -> Result<Result<Box<AuthenticationSession>, Option<Box<AuthenticationSession>>>, StoreError>
    {
        if current.state == super::SessionState::Expired {
            return Ok(Ok(current));
        }
        let now = self.now_ms();
        let expire = Transition::Expire {
            now_ms: now,
            expires_at: settings.record_expiry(now),
        };
        Ok(match self.apply(session_ref, &expire).await? {
            Recorded::Done(session) => {
                tracing::info!("challenge expired before validation");
                Ok(session)
            }
            Recorded::Refused(current) => Err(current),
        })
    }

    /// Completes a claim with its outcome (a transition guarded by our claim id).
    /// `Refused` means we lost the claim: someone took it over after our lease ran out.
    pub async fn complete(
        &self,
        held: &Held,
        transition: &Transition,
    ) -> Result<Recorded, StoreError> {
        let recorded = self.apply(&held.session_ref, transition).await?;
        if matches!(recorded, Recorded::Refused(_)) {
            tracing::warn!("the claim was lost before its outcome could be recorded");
        }
        Ok(recorded)
    }

    /// Gives a claim back after an upstream fault, so the request can be retried to
    /// completion. A failure here is logged: the lease runs out on its own.
    pub async fn release(&self, held: &Held, transition: &Transition) {
        match self.apply(&held.session_ref, transition).await {
            Ok(Recorded::Done(_)) => tracing::info!("claim released: the request can be retried"),
            Ok(Recorded::Refused(_)) => tracing::warn!("claim was no longer ours to release"),
            Err(error) => {
                tracing::warn!(%error, "could not release the claim; its lease will lapse")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::{Clock, OffsetClock};
    use crate::crypto::SealedData;
    use crate::domain::{AuthenticationResult, CardSummary};
    use crate::domain::{ReferenceCode, TenantId};
    use crate::session::claims::{
        EnrollmentClaim, EnrollmentRefusal, KeyedValue, ValidationClaim, ValidationRefusal,
    };
    use crate::session::{EnrollmentOutcome, SessionState};
    use crate::store::memory::MemoryStore;

    /// The browser's validation claim of the challenge `pending` leaves.
    fn validate() -> ValidationClaim {
        ValidationClaim {
            transaction_mac: KeyedValue::new(vec!["mac".into()]),
        }
    }

    fn session_of(tenant: &str) -> SessionRef {
        SessionRef::new(
            TenantId::parse("tenant", tenant).unwrap(),
            ReferenceCode::parse("reference", "r").unwrap(),
        )
    }

    /// The session `pending` makes.
    fn r() -> SessionRef {
        session_of("shop-a")
    }

    fn settings(patience_ms: u64) -> SessionSettings {
        SessionSettings {
            challenge_deadline: Duration::from_secs(600),
            record_ttl: Duration::from_secs(3600),
            claim_lease: Duration::from_secs(25),
            settle_wait: Duration::from_millis(patience_ms),
        }
    }

    fn sealed() -> SealedData {
        SealedData {
            key_id: "k".into(),
            nonce: vec![0; 12],
            ciphertext: vec![1],
        }
    }

    /// A session whose challenge is pending, as check enroll leaves it.
    async fn pending() -> (Sessions, Arc<OffsetClock>) {
        let clock = Arc::new(OffsetClock::default());
        let sessions = Sessions::new(Arc::new(MemoryStore::new()), clock.clone());
        let now = clock.now_ms();
        let claim = Transition::ClaimEnrollment {
            reference_code: "r".into(),
            tenant_id: "shop-a".into(),
            fingerprint: "fp".into(),
            claim_id: "e".into(),
            now_ms: now,
            lease_until_ms: now + 1_000,
            expires_at: 0,
        };
        sessions.apply(&r(), &claim).await.unwrap();
        let complete = Transition::CompleteEnrollment {
            claim_id: "e".into(),
            outcome: EnrollmentOutcome::Challenge {
                authentication_transaction_id: "T".into(),
                transaction_mac: "mac".into(),
                challenge_deadline_ms: now + 600_000,
                sweep_partition: "0#0".into(),
                completion: Default::default(),
                merchant_return_url: "https://shop.example/r".into(),
                sealed_payment_data: sealed(),
            },
            card: CardSummary::default(),
            response: sealed(),
            now_ms: now,
            expires_at: 0,
        };
        sessions.apply(&r(), &complete).await.unwrap();
        (sessions, clock)
    }

    async fn proceed(sessions: &Sessions, patience_ms: u64) -> Held {
        match sessions
            .claim(&r(), &validate(), &settings(patience_ms))
            .await
        {
            Ok(NextStep::Proceed(held)) => held,
            other => panic!("expected to hold the claim: {other:?}"),
        }
    }

    fn decision(held: &Held, now_ms: i64) -> Transition {
        Transition::CompleteValidation {
            claim_id: held.claim_id.clone(),
            state: SessionState::Authenticated,
            result: crate::session::RecordedResult {
                result: AuthenticationResult::default(),
                sealed_values: None,
            },
            response: sealed(),
            now_ms,
            expires_at: 0,
        }
    }

    #[tokio::test]
    async fn a_claim_left_by_a_dead_holder_is_taken_over_after_its_lease() {
        let (sessions, clock) = pending().await;
        let dead = proceed(&sessions, 50).await;
        assert_eq!(
            sessions
                .claim(&r(), &validate(), &settings(50))
                .await
                .unwrap(),
            NextStep::InProgress,
            "a live lease holds"
        );
        clock.advance(Duration::from_secs(26));
        let taker = proceed(&sessions, 50).await;
        assert_ne!(taker.claim_id, dead.claim_id);
    }

    #[tokio::test]
    async fn a_waiter_that_sees_the_decision_answers_with_it() {
        let (sessions, clock) = pending().await;
        let holder = proceed(&sessions, 50).await;
        let completing = {
            let sessions = sessions.clone();
            let now = clock.now_ms();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(150)).await;
                sessions.complete(&holder, &decision(&holder, now)).await
            })
        };
        let waited = sessions
            .claim(&r(), &validate(), &settings(5_000))
            .await
            .unwrap();
        let NextStep::Replay(session) = waited else {
            panic!("expected the holder's decision: {waited:?}")
        };
        assert_eq!(session.state, SessionState::Authenticated);
        assert!(matches!(
            completing.await.unwrap().unwrap(),
            Recorded::Done(_)
        ));
    }

    #[tokio::test]
    async fn a_waiter_whose_holder_dies_takes_the_claim_over_when_the_lease_lapses() {
        let (sessions, clock) = pending().await;
        let dead = proceed(&sessions, 50).await;
        let lapse = {
            let clock = clock.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(150)).await;
                clock.advance(Duration::from_secs(26));
            })
        };
        let waited = sessions
            .claim(&r(), &validate(), &settings(5_000))
            .await
            .unwrap();
        lapse.await.unwrap();
        let NextStep::Proceed(taker) = waited else {
            panic!("the waiter should take the lapsed claim: {waited:?}")
        };
        assert_ne!(taker.claim_id, dead.claim_id);
    }

    #[tokio::test]
    async fn a_transaction_id_of_another_session_is_refused_without_a_write() {
        let (sessions, _clock) = pending().await;
        let before = sessions.get(&r()).await.unwrap();
        let forged = ValidationClaim {
            transaction_mac: KeyedValue::new(vec!["another".into()]),
        };
        assert_eq!(
            sessions.claim(&r(), &forged, &settings(50)).await.unwrap(),
            NextStep::Refused(ValidationRefusal::Forged)
        );
        assert_eq!(
            sessions
                .claim(&session_of("shop-b"), &validate(), &settings(50))
                .await
                .unwrap(),
            NextStep::NotFound,
            "another tenant's reference code is another session"
        );
        assert_eq!(sessions.get(&r()).await.unwrap(), before);
    }

    #[tokio::test]
    async fn a_replayed_enrollment_is_answered_and_another_body_is_refused() {
        let (sessions, _clock) = pending().await;
        let settings = settings(50);
        let claim = |fingerprints: &[&str]| EnrollmentClaim {
            reference_code: "r",
            tenant_id: "shop-a",
            fingerprint: KeyedValue::new(fingerprints.iter().map(|f| f.to_string()).collect()),
            settings: &settings,
        };
        assert!(matches!(
            sessions
                .claim(&r(), &claim(&["fp"]), &settings)
                .await
                .unwrap(),
            NextStep::Replay(_)
        ));
        assert!(
            matches!(
                sessions
                    .claim(&r(), &claim(&["fp-under-a-new-key", "fp"]), &settings)
                    .await
                    .unwrap(),
                NextStep::Replay(_)
            ),
            "a request fingerprinted before a key rotation is still the same request"
        );
        assert_eq!(
            sessions
                .claim(&r(), &claim(&["other"]), &settings)
                .await
                .unwrap(),
            NextStep::Refused(EnrollmentRefusal::ReferenceInUse)
        );
    }

    #[tokio::test]
    async fn a_challenge_recorded_before_a_key_rotation_is_claimed_with_its_old_digest() {
        let (sessions, _clock) = pending().await;
        let rotated = ValidationClaim {
            transaction_mac: KeyedValue::new(vec!["mac-under-a-new-key".into(), "mac".into()]),
        };
        assert!(matches!(
            sessions.claim(&r(), &rotated, &settings(50)).await.unwrap(),
            NextStep::Proceed(_)
        ));
    }

    #[tokio::test]
    async fn an_upstream_call_under_a_claim_must_end_before_its_lease() {
        let (sessions, clock) = pending().await;
        let held = proceed(&sessions, 50).await;
        let deadline = held.upstream_deadline(clock.now_ms());
        let left = deadline.saturating_duration_since(Instant::now());
        // A 25 s lease less the outcome's write (3 s) and the skew margin (2 s).
        assert!(
            left <= Duration::from_secs(20) && left > Duration::from_secs(19),
            "{left:?}"
        );
        let late = held.upstream_deadline(clock.now_ms() + 24_000);
        assert!(
            late <= Instant::now(),
            "a claim whose lease is nearly over makes no call"
        );
    }

    #[tokio::test]
    async fn a_waiter_that_runs_out_of_patience_says_in_progress() {
        let (sessions, _clock) = pending().await;
        let _holder = proceed(&sessions, 50).await;
        let started = Instant::now();
        let waited = sessions
            .claim(&r(), &validate(), &settings(300))
            .await
            .unwrap();
        assert_eq!(waited, NextStep::InProgress);
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[tokio::test]
    async fn a_holder_that_lost_its_claim_cannot_complete() {
        let (sessions, clock) = pending().await;
        let slow = proceed(&sessions, 50).await;
        clock.advance(Duration::from_secs(26));
        let taker = proceed(&sessions, 50).await;
        let late = sessions
            .complete(&slow, &decision(&slow, clock.now_ms()))
            .await
            .unwrap();
        let Recorded::Refused(Some(current)) = late else {
            panic!("the superseded holder must be refused: {late:?}")
        };
        assert_eq!(current.claim_id.as_deref(), Some(taker.claim_id.as_str()));
        assert!(matches!(
            sessions
                .complete(&taker, &decision(&taker, clock.now_ms()))
                .await
                .unwrap(),
            Recorded::Done(_)
        ));
    }

    #[tokio::test]
    async fn a_released_claim_is_taken_by_the_next_request() {
        let (sessions, clock) = pending().await;
        let failed = proceed(&sessions, 50).await;
        let release = Transition::ReleaseValidation {
            claim_id: failed.claim_id.clone(),
            now_ms: clock.now_ms(),
        };
        sessions.release(&failed, &release).await;
        proceed(&sessions, 50).await;
    }

    #[tokio::test]
    async fn a_challenge_past_its_deadline_is_expired_once() {
        let (sessions, clock) = pending().await;
        clock.advance(Duration::from_secs(601));
        let NextStep::Expired(first) = sessions
            .claim(&r(), &validate(), &settings(50))
            .await
            .unwrap()
        else {
            panic!("expected the expiry")
        };
        assert_eq!(first.state, SessionState::Expired);
        assert!(first.sealed_payment_data.is_none());
        let again = sessions
            .claim(&r(), &validate(), &settings(50))
            .await
            .unwrap();
        assert!(matches!(again, NextStep::Expired(s) if s.updated_at == first.updated_at));
        assert_eq!(
            sessions
                .claim(&session_of("shop-b"), &validate(), &settings(50))
                .await
                .unwrap(),
            NextStep::NotFound
        );
    }
}

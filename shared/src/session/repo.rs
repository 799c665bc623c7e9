//! Reading and writing sessions: every write is one [`Transition`], applied as one
//! conditional write. The sessions are the lease protocol's book for the claims
//! (`crate::lease`, [`super::claims`]); the other writes have names of their own.

use async_trait::async_trait;
use serde_json::Value;

use super::claims::{ClaimStep, HeldSession};
use super::{AuthenticationSession, Consumption, SessionRef, SessionState, Transition, attr};
use crate::clock::SharedClock;
use crate::config::SessionSettings;
use crate::crypto::SealedData;
use crate::domain::{ReferenceCode, TenantId};
use crate::keys::{GatewayKeys, SealError};
use crate::lease::{self, Applied, LeaseBook, LeaseRequest};
use crate::store::listing::{Cursor, ListingKey, ListingScan, ScanBudget, read_page};
use crate::store::{Item, Kind, SharedStore, StoreError, Written, string};
use crate::telemetry::metrics::{self, Flow};

/// What became of a transition.
pub type Recorded = Applied<AuthenticationSession>;

/// An authentication's final state, counted once: by the one writer whose conditional
/// write made it.
fn count_outcome(transition: &Transition) {
    let flow = match transition {
        Transition::CompleteEnrollment { .. } => Flow::Frictionless,
        Transition::CompleteValidation { .. }
        | Transition::Expire { .. }
        | Transition::Cancel { .. } => Flow::Challenge,
        _ => return,
    };
    let state = transition.target();
    if state.is_terminal() {
        metrics::authentication(flow, &state.as_str().to_ascii_lowercase());
    }
}

/// What an expiry came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Expired {
    /// Expired by this write (its card data dropped).
    Now(Box<AuthenticationSession>),
    /// Expired before.
    Already(Box<AuthenticationSession>),
    /// Moved on before the write (decided, canceled, or claimed): as it is now.
    Moved(Box<AuthenticationSession>),
    /// No such session.
    Gone,
}

/// An answer a session keeps (sealed) to replay a request made again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoredAnswer {
    Setup,
    Enroll,
    Validate,
}

impl StoredAnswer {
    /// The attribute it is kept in, also the context it is sealed under.
    fn field(self) -> &'static str {
        match self {
            StoredAnswer::Setup => attr::SETUP_RESPONSE,
            StoredAnswer::Enroll => attr::ENROLL_RESPONSE,
            StoredAnswer::Validate => attr::VALIDATE_RESPONSE,
        }
    }

    fn of(self, session: &AuthenticationSession) -> Option<&SealedData> {
        match self {
            StoredAnswer::Setup => session.setup_response.as_ref(),
            StoredAnswer::Enroll => session.enroll_response.as_ref(),
            StoredAnswer::Validate => session.validate_response.as_ref(),
        }
    }

    /// Seals an upstream answer to be kept in a session.
    pub fn seal(self, keys: &GatewayKeys, session: &SessionRef, answer: &Value) -> SealedData {
        keys.seal(&session.key(), self.field(), answer)
    }
}

/// Which of a tenant's sessions a listing shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionFilter {
    /// In this state (as it stands now: a challenge past its deadline is expired).
    pub state: Option<SessionState>,
    /// Created after this instant, epoch ms.
    pub created_after: Option<i64>,
}

/// One page of a tenant's sessions, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionPage {
    pub sessions: Vec<AuthenticationSession>,
    /// Where the next page starts, if there may be one.
    pub next: Option<Cursor>,
}

/// How far back a listing walks (sessions are deleted a week after their decision).
const LOOKBACK_DAYS: i64 = 31;

/// Sessions over the storage port.
#[derive(Clone)]
pub struct Sessions {
    store: SharedStore,
    clock: SharedClock,
    settings: SessionSettings,
}

fn decode(item: Item) -> Result<AuthenticationSession, StoreError> {
    serde_dynamo::from_item(item).map_err(|e| StoreError::Corrupt(e.to_string()))
}

impl Sessions {
    pub fn new(store: SharedStore, clock: SharedClock, settings: SessionSettings) -> Self {
        Self {
            store,
            clock,
            settings,
        }
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    pub fn settings(&self) -> &SessionSettings {
        &self.settings
    }

    pub(crate) async fn apply(
        &self,
        session: &SessionRef,
        transition: &Transition,
    ) -> Result<Recorded, StoreError> {
        self.apply_as(session, transition, &uuid::Uuid::new_v4().to_string())
            .await
    }

    /// Any transition, as one conditional write: for the store contract suite, which
    /// walks the state machine write by write. (The gateway's own code goes through the
    /// claims and the named writes.)
    #[cfg(feature = "test-support")]
    pub async fn apply_transition(
        &self,
        session: &SessionRef,
        transition: &Transition,
    ) -> Result<Recorded, StoreError> {
        self.apply(session, transition).await
    }

    /// [`Sessions::apply`] with a given mutation id: sending the same id twice is how a
    /// retried write looks to the store.
    #[cfg(any(test, feature = "test-support"))]
    pub async fn apply_retried(
        &self,
        session: &SessionRef,
        transition: &Transition,
        mutation_id: &str,
    ) -> Result<Recorded, StoreError> {
        self.apply_as(session, transition, mutation_id).await
    }

    async fn apply_as(
        &self,
        session: &SessionRef,
        transition: &Transition,
        mutation_id: &str,
    ) -> Result<Recorded, StoreError> {
        let mutation = transition.mutation(session, mutation_id);
        match self.store.write(&session.key(), &mutation).await? {
            Written::Applied(item) => {
                count_outcome(transition);
                Ok(Recorded::Done(Box::new(decode(item)?)))
            }
            // Our own write landed but its answer was lost and the SDK retried it: the
            // retry is refused by the state we wrote. It is still ours.
            Written::Refused(Some(item))
                if string(&item, attr::MUTATION_ID) == Some(mutation_id) =>
            {
                count_outcome(transition);
                Ok(Recorded::Done(Box::new(decode(item)?)))
            }
            Written::Refused(item) => Ok(Recorded::Refused(
                item.map(decode).transpose()?.map(Box::new),
            )),
        }
    }

    pub async fn get(
        &self,
        session: &SessionRef,
    ) -> Result<Option<AuthenticationSession>, StoreError> {
        self.store
            .read(&session.key())
            .await?
            .map(decode)
            .transpose()
    }

    /// The TTL (epoch seconds) of a record written at `now_ms`.
    pub fn record_expiry(&self, now_ms: i64) -> i64 {
        self.settings.record_expiry(now_ms)
    }

    /// Runs the lease protocol for a claim until the caller can act.
    pub async fn claim<Q: LeaseRequest<Self>>(
        &self,
        session: &SessionRef,
        request: &Q,
    ) -> Result<ClaimStep<Q::Refusal>, StoreError> {
        lease::acquire(self, session, request, &self.settings.lease).await
    }

    /// Records the outcome of a claim's upstream call (a transition guarded by its claim
    /// id). `Refused` means the claim was lost: someone took it over after it lapsed.
    pub async fn complete(
        &self,
        held: &HeldSession,
        transition: &Transition,
    ) -> Result<Recorded, StoreError> {
        lease::complete(self, held, transition).await
    }

    /// Gives a claim back after an upstream fault, so the request can be retried to
    /// completion.
    pub async fn release<Q: LeaseRequest<Self>>(&self, request: &Q, held: &HeldSession) {
        lease::release(self, request, held).await
    }

    /// Records a setup (the session's first write), or finds the session it made before.
    pub async fn record_setup(
        &self,
        session: &SessionRef,
        fingerprint: &str,
        response: SealedData,
    ) -> Result<Recorded, StoreError> {
        let now = self.now_ms();
        let setup = Transition::RecordSetup {
            fingerprint: fingerprint.to_owned(),
            response,
            now_ms: now,
            expires_at: self.record_expiry(now),
        };
        self.apply(session, &setup).await
    }

    /// The merchant gives up on a pending challenge: one conditional write, refused while
    /// a validation holds a live claim.
    pub async fn cancel(&self, session: &SessionRef) -> Result<Recorded, StoreError> {
        let now = self.now_ms();
        let cancel = Transition::Cancel {
            now_ms: now,
            expires_at: self.record_expiry(now),
        };
        self.apply(session, &cancel).await
    }

    /// Marks an authenticated result used: one conditional write, refused (with the
    /// session as it is) unless it is authenticated, never consumed, and the amount
    /// named is within the authenticated one.
    pub async fn consume(
        &self,
        session: &SessionRef,
        consumption: Consumption,
    ) -> Result<Recorded, StoreError> {
        self.apply(session, &Transition::Consume { consumption })
            .await
    }

    /// Records the expiry of a challenge past its deadline (one conditional write, which
    /// also drops the card data), as `current` was read.
    pub async fn expire(
        &self,
        session: &SessionRef,
        current: &AuthenticationSession,
    ) -> Result<Expired, StoreError> {
        if current.state == SessionState::Expired {
            return Ok(Expired::Already(Box::new(current.clone())));
        }
        let now = self.now_ms();
        let expire = Transition::Expire {
            now_ms: now,
            expires_at: self.record_expiry(now),
        };
        Ok(match self.apply(session, &expire).await? {
            Recorded::Done(expired) => {
                tracing::info!("challenge expired before validation");
                Expired::Now(expired)
            }
            Recorded::Refused(Some(moved)) => Expired::Moved(moved),
            Recorded::Refused(None) => Expired::Gone,
        })
    }

    /// Expires a challenge the deadline index says is due, without reading it first (one
    /// conditional write; refused if it moved on meanwhile).
    pub async fn expire_due(
        &self,
        session: &SessionRef,
        now_ms: i64,
    ) -> Result<Expired, StoreError> {
        let expire = Transition::Expire {
            now_ms,
            expires_at: self.record_expiry(now_ms),
        };
        Ok(match self.apply(session, &expire).await? {
            Recorded::Done(expired) => Expired::Now(expired),
            Recorded::Refused(Some(current)) if current.state == SessionState::Expired => {
                Expired::Already(current)
            }
            Recorded::Refused(Some(moved)) => Expired::Moved(moved),
            Recorded::Refused(None) => Expired::Gone,
        })
    }

    /// An answer the session keeps, opened: what a replay of the request answers.
    pub fn stored_answer(
        &self,
        keys: &GatewayKeys,
        session: &AuthenticationSession,
        which: StoredAnswer,
    ) -> Result<Option<Value>, SealError> {
        let Some(sealed) = which.of(session) else {
            return Ok(None);
        };
        let key = session.session_ref().key();
        keys.open(&key, which.field(), sealed).map(Some)
    }

    /// A page of `tenant`'s sessions, newest first: `limit` of them that `filter` keeps,
    /// after `after` — a cursor a page handed out, or (as before cursors) one of the
    /// tenant's reference codes. Its work is bounded whatever the tenant holds
    /// ([`ScanBudget`]): a page may come back short, with a cursor to continue. `None`
    /// when `after` is neither a cursor nor one of the tenant's sessions.
    pub async fn page(
        &self,
        tenant: &TenantId,
        filter: SessionFilter,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Option<SessionPage>, StoreError> {
        let now = self.now_ms();
        let before = match after {
            None => None,
            Some(after) => match self.position_of(tenant, after).await? {
                Some(position) => Some(position),
                None => return Ok(None),
            },
        };
        let oldest = filter
            .created_after
            .map_or(now - LOOKBACK_DAYS * 86_400_000, |after| after + 1);
        let budget = ScanBudget::PER_REQUEST;
        let scan = ListingScan::new(
            &*self.store,
            tenant,
            Kind::AuthenticationSession,
            before,
            oldest,
            now,
            budget,
        );
        let pick = |item| {
            decode(item).ok().filter(|s: &AuthenticationSession| {
                filter
                    .state
                    .is_none_or(|wanted| s.effective_state(now) == wanted)
            })
        };
        let (sessions, next) = read_page(scan, limit, budget, pick).await?;
        Ok(Some(SessionPage { sessions, next }))
    }

    /// Where a listing continues after `after`: a cursor's place, or a session's own.
    async fn position_of(
        &self,
        tenant: &TenantId,
        after: &str,
    ) -> Result<Option<ListingKey>, StoreError> {
        if let Some(Cursor(position)) = Cursor::parse(after) {
            return Ok(Some(position));
        }
        let Ok(reference) = ReferenceCode::parse("after", after) else {
            return Ok(None);
        };
        let session = SessionRef::new(tenant.clone(), reference);
        Ok(self
            .get(&session)
            .await?
            .map(|last| ListingKey::new(last.created_at, last.reference_code.as_str())))
    }
}

#[async_trait]
impl LeaseBook for Sessions {
    type Key = SessionRef;
    type Record = AuthenticationSession;
    type Write = Transition;

    fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    async fn apply(&self, key: &SessionRef, write: &Transition) -> Result<Recorded, StoreError> {
        Sessions::apply(self, key, write).await
    }

    async fn get(&self, key: &SessionRef) -> Result<Option<AuthenticationSession>, StoreError> {
        Sessions::get(self, key).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::clock::{Clock, OffsetClock};
    use crate::domain::AuthenticationResult;
    use crate::lease::NextStep;
    use crate::lease::contract::{Subject, lease_contract_tests, settings};
    use crate::session::RecordedResult;
    use crate::session::claims::{
        EnrollmentClaim, EnrollmentRefusal, KeyedValue, ValidationClaim, ValidationRefusal,
    };
    use crate::session::fixtures::{leave_pending, sealed};
    use crate::store::memory::MemoryStore;

    const TTL: Duration = Duration::from_secs(3600);

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

    fn session_settings(patience_ms: u64) -> SessionSettings {
        SessionSettings {
            challenge_deadline: Duration::from_secs(600),
            record_ttl: TTL,
            lease: settings(patience_ms),
        }
    }

    /// The browser's validation claim of the challenge `pending` leaves.
    fn validate() -> ValidationClaim {
        ValidationClaim {
            transaction_mac: KeyedValue::new(vec!["mac".into()]),
            record_ttl: TTL,
        }
    }

    /// A session whose challenge is pending, as check enroll leaves it.
    async fn pending(patience_ms: u64) -> (Sessions, Arc<OffsetClock>) {
        let clock = Arc::new(OffsetClock::default());
        let sessions = Sessions::new(
            Arc::new(MemoryStore::new()),
            clock.clone(),
            session_settings(patience_ms),
        );
        let now = clock.now_ms();
        leave_pending(&sessions, &r(), now, now + 600_000).await;
        (sessions, clock)
    }

    /// The validation claim, held to the lease protocol's contract.
    struct ValidationSubject;

    impl Subject for ValidationSubject {
        type Book = Sessions;
        type Request = ValidationClaim;

        async fn arrange() -> (Sessions, Arc<OffsetClock>, SessionRef) {
            let (sessions, clock) = pending(50).await;
            (sessions, clock, r())
        }

        fn request() -> ValidationClaim {
            validate()
        }

        fn decision(held: &HeldSession, now_ms: i64) -> Transition {
            Transition::CompleteValidation {
                claim_id: held.claim_id.clone(),
                state: SessionState::Authenticated,
                result: RecordedResult {
                    result: AuthenticationResult::default(),
                    sealed_values: None,
                },
                response: sealed(),
                now_ms,
                expires_at: 0,
            }
        }

        fn is_decided(session: &AuthenticationSession) -> bool {
            session.state == SessionState::Authenticated
        }
    }

    lease_contract_tests!(ValidationSubject);

    async fn claim<Q: LeaseRequest<Sessions>>(
        sessions: &Sessions,
        session: &SessionRef,
        request: &Q,
    ) -> ClaimStep<Q::Refusal> {
        sessions.claim(session, request).await.unwrap()
    }

    #[tokio::test]
    async fn a_transaction_id_of_another_session_is_refused_without_a_write() {
        let (sessions, _clock) = pending(50).await;
        let before = sessions.get(&r()).await.unwrap();
        let forged = ValidationClaim {
            transaction_mac: KeyedValue::new(vec!["another".into()]),
            record_ttl: TTL,
        };
        assert!(matches!(
            claim(&sessions, &r(), &forged).await,
            NextStep::Refused(ValidationRefusal::Forged)
        ));
        assert!(
            matches!(
                claim(&sessions, &session_of("shop-b"), &validate()).await,
                NextStep::NotFound
            ),
            "another tenant's reference code is another session"
        );
        assert_eq!(sessions.get(&r()).await.unwrap(), before);
    }

    #[tokio::test]
    async fn a_replayed_enrollment_is_answered_and_another_body_is_refused() {
        let (sessions, _clock) = pending(50).await;
        let enrollment = |fingerprints: &[&str]| EnrollmentClaim {
            fingerprint: KeyedValue::new(fingerprints.iter().map(|f| f.to_string()).collect()),
            record_ttl: TTL,
        };
        assert!(matches!(
            claim(&sessions, &r(), &enrollment(&["fp"])).await,
            NextStep::Replay(_)
        ));
        assert!(
            matches!(
                claim(&sessions, &r(), &enrollment(&["fp-under-a-new-key", "fp"])).await,
                NextStep::Replay(_)
            ),
            "a request fingerprinted before a key rotation is still the same request"
        );
        assert!(matches!(
            claim(&sessions, &r(), &enrollment(&["other"])).await,
            NextStep::Refused(EnrollmentRefusal::ReferenceInUse)
        ));
    }

    #[tokio::test]
    async fn a_challenge_recorded_before_a_key_rotation_is_claimed_with_its_old_digest() {
        let (sessions, _clock) = pending(50).await;
        let rotated = ValidationClaim {
            transaction_mac: KeyedValue::new(vec!["mac-under-a-new-key".into(), "mac".into()]),
            record_ttl: TTL,
        };
        assert!(matches!(
            claim(&sessions, &r(), &rotated).await,
            NextStep::Proceed(_)
        ));
    }

    #[tokio::test]
    async fn a_challenge_past_its_deadline_is_expired_once() {
        let (sessions, clock) = pending(50).await;
        clock.advance(Duration::from_secs(601));
        let NextStep::Closed(first) = claim(&sessions, &r(), &validate()).await else {
            panic!("expected the expiry")
        };
        assert_eq!(first.state, SessionState::Expired);
        assert!(first.sealed_payment_data.is_none());
        let again = claim(&sessions, &r(), &validate()).await;
        assert!(matches!(again, NextStep::Closed(s) if s.updated_at == first.updated_at));
        assert!(matches!(
            claim(&sessions, &session_of("shop-b"), &validate()).await,
            NextStep::NotFound
        ));
    }

    #[tokio::test]
    async fn an_expiry_says_whether_it_expired_the_challenge_now_before_or_never() {
        let (sessions, clock) = pending(50).await;
        let current = sessions.get(&r()).await.unwrap().unwrap();
        assert!(
            matches!(
                sessions.expire(&r(), &current).await.unwrap(),
                Expired::Moved(_)
            ),
            "a challenge before its deadline is not expired"
        );
        clock.advance(Duration::from_secs(601));
        let Expired::Now(expired) = sessions.expire(&r(), &current).await.unwrap() else {
            panic!("expected the expiry")
        };
        assert!(matches!(
            sessions.expire(&r(), &expired).await.unwrap(),
            Expired::Already(_)
        ));
        assert!(matches!(
            sessions
                .expire(&session_of("shop-b"), &current)
                .await
                .unwrap(),
            Expired::Gone
        ));
    }
}

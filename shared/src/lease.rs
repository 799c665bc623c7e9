//! The one lease protocol: how work that must happen once (an upstream call made for an
//! authentication session, an issuer write under an `Idempotency-Key`) happens once,
//! however many requests arrive for it at the same time.
//!
//! 1. **Take**: one conditional write puts a lease on the record (a claim id and the time
//!    it lapses). Whoever wins it proceeds ([`NextStep::Proceed`]).
//! 2. **Inspect a refusal**: a refused take returns the record as it is; the request's
//!    [`LeaseRequest::inspect`] reads it as a replay, a conflict, a lease held by someone
//!    else, a record free again, or one to close (a challenge past its deadline).
//! 3. **Wait for the holder**, polling with consistent reads and a growing pause, for at
//!    most the caller's patience; then act on what the wait saw (a decision is answered, a
//!    released record is taken), never on what it saw before.
//! 4. **Take over** a lease that lapsed: the take's own guard admits it
//!    ([`claimable`]), so a lease left by an invocation that died never blocks a record
//!    for longer than the lease.
//! 5. **Complete or release** with one write guarded by the claim id ([`held_by`]): a
//!    holder that lost its lease (it lapsed and someone took over) is told so, and writes
//!    nothing. Work under a lease ends before the lease does ([`Held::deadline`]), and a
//!    function whose settings would let it outlive the lease refuses to start
//!    ([`LeaseSettings::check`]).
//!
//! The protocol is generic over where the record lives ([`LeaseBook`]) and what the
//! request is ([`LeaseRequest`]): the session claims and the idempotency keys are its two
//! users, held to the same unit tests ([`contract`]).

use std::time::{Duration, Instant};

use async_trait::async_trait;

pub use crate::config::LeaseSettings;
use crate::config::{CLOCK_SKEW_MARGIN, STORE_OPERATION_TIMEOUT};
use crate::store::{Guard, Patch, StoreError, number_value, string_value};
use crate::telemetry::metrics;

/// The lease's attributes on a record, whatever its kind.
pub mod attr {
    /// Who holds the lease (a fresh id per take).
    pub const CLAIM_ID: &str = "claim_id";
    /// When the lease lapses, epoch ms. Absent when nobody holds it.
    pub const LEASE_UNTIL: &str = "lease_until";
}

/// Nobody holds a live lease on the record: its lease lapsed before `now_ms`. (A record
/// without a lease is not matched: each user admits its free states by name.)
pub fn claimable(now_ms: i64) -> Guard {
    Guard::Lt(attr::LEASE_UNTIL, now_ms)
}

/// The lease is still the one `claim_id` took.
pub fn held_by(claim_id: &str) -> Guard {
    Guard::Eq(attr::CLAIM_ID, string_value(claim_id))
}

/// Puts a lease on the record.
pub fn taken(patch: Patch, claim_id: &str, until_ms: i64) -> Patch {
    patch
        .set(attr::CLAIM_ID, string_value(claim_id))
        .set(attr::LEASE_UNTIL, number_value(until_ms))
}

/// Takes the lease off the record (its work completed or was given up).
pub fn ended(patch: Patch) -> Patch {
    patch.remove(attr::CLAIM_ID).remove(attr::LEASE_UNTIL)
}

/// A record that carries a lease.
pub trait Leased {
    /// The lease's claim id and when it lapses, if someone took it.
    fn lease(&self) -> Option<(&str, i64)>;

    /// Someone holds a live lease on it at `now_ms`.
    fn is_held_at(&self, now_ms: i64) -> bool {
        self.lease().is_some_and(|(_, until)| until >= now_ms)
    }
}

/// What a conditional write of a leased record did.
#[derive(Debug, Clone, PartialEq)]
pub enum Applied<R> {
    /// Written; the record as it is now.
    Done(Box<R>),
    /// The guard did not hold; the record as it was, if it exists.
    Refused(Option<Box<R>>),
}

/// Where leased records of one kind live: one conditional write, one consistent read.
#[async_trait]
pub trait LeaseBook: Send + Sync {
    /// How a record is named.
    type Key: Clone + Send + Sync;
    type Record: Leased + Send + Sync;
    /// One conditional write of a record (a transition, a mutation).
    type Write: Send + Sync;

    fn now_ms(&self) -> i64;
    async fn apply(
        &self,
        key: &Self::Key,
        write: &Self::Write,
    ) -> Result<Applied<Self::Record>, StoreError>;
    async fn get(&self, key: &Self::Key) -> Result<Option<Self::Record>, StoreError>;
}

/// What a refused take (or a wait) left the record as, in the request's reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict<R> {
    /// Decided before (a replay, or the duplicate we waited for): answer from the record.
    Replay,
    /// Another invocation holds a live lease: wait for it.
    Wait,
    /// Free again (released after a fault, lapsed, or changed under us): take again.
    Retry,
    /// Its time ran out (a challenge past its deadline): close it with
    /// [`LeaseRequest::close`].
    Close,
    /// Closed already.
    Closed,
    /// Refused for good, for the request's reason.
    Refuse(R),
}

/// A kind of lease request: the writes that take, release and close, and how to read a
/// refusal.
pub trait LeaseRequest<B: LeaseBook>: Sync {
    /// Why a take can be refused for good.
    type Refusal: Send;

    /// The operation's name in metrics.
    const OPERATION: &'static str;

    /// The conditional write that takes the lease.
    fn take(&self, claim_id: &str, now_ms: i64, until_ms: i64) -> B::Write;

    /// The write that gives the lease back when the work failed and may be tried again.
    fn release(&self, claim_id: &str, now_ms: i64) -> B::Write;

    /// What to make of the record as it stands.
    fn inspect(&self, record: &B::Record, now_ms: i64) -> Verdict<Self::Refusal>;

    /// The write that closes a record [`Verdict::Close`] named; `None` when the request
    /// never closes one.
    fn close(&self, _now_ms: i64) -> Option<B::Write> {
        None
    }
}

/// A lease we hold: the record as our take left it.
#[derive(Debug, Clone, PartialEq)]
pub struct Held<K, R> {
    pub key: K,
    pub claim_id: String,
    /// When our lease lapses, epoch ms.
    pub until_ms: i64,
    pub record: Box<R>,
}

impl<K, R> Held<K, R> {
    /// When work done under this lease (an upstream call) must be over: before the lease
    /// lapses, leaving the time to record the outcome and a margin for clock skew.
    /// However slow the take's own write was, the work cannot outlive the lease.
    pub fn deadline(&self, now_ms: i64) -> Instant {
        let left = Duration::from_millis((self.until_ms - now_ms).max(0) as u64);
        Instant::now() + left.saturating_sub(STORE_OPERATION_TIMEOUT + CLOCK_SKEW_MARGIN)
    }
}

/// What the caller does next.
#[derive(Debug, Clone, PartialEq)]
pub enum NextStep<K, R, F> {
    /// We hold the lease: do the work, then complete or release.
    Proceed(Held<K, R>),
    /// Decided already: answer from the record.
    Replay(Box<R>),
    /// Its time ran out (closed now, or before).
    Closed(Box<R>),
    /// Refused for good.
    Refused(F),
    /// No such record, and this take may not create one.
    NotFound,
    /// Another invocation still holds the lease when our patience ran out.
    InProgress,
}

/// Takes, then lost to a refreshed state, before giving up: enough for a duplicate that
/// saw its holder release (a fault) to take the lease itself.
const MAX_TAKES: usize = 3;

/// Verdicts read on one refusal before giving up (a wait, then a close, then a replay).
const MAX_VERDICTS: usize = 4;

/// The next step of one step of [`acquire`]: `None` takes again.
type Settled<B, Q> = Option<
    NextStep<<B as LeaseBook>::Key, <B as LeaseBook>::Record, <Q as LeaseRequest<B>>::Refusal>,
>;

/// Runs the protocol until the caller can act: it holds the lease, or has its answer.
pub async fn acquire<B, Q>(
    book: &B,
    key: &B::Key,
    request: &Q,
    settings: &LeaseSettings,
) -> Result<NextStep<B::Key, B::Record, Q::Refusal>, StoreError>
where
    B: LeaseBook,
    Q: LeaseRequest<B>,
{
    let next = run(book, key, request, settings).await?;
    match &next {
        NextStep::Replay(_) => metrics::replay(Q::OPERATION),
        NextStep::InProgress => metrics::claim_conflict(Q::OPERATION),
        _ => {}
    }
    Ok(next)
}

async fn run<B, Q>(
    book: &B,
    key: &B::Key,
    request: &Q,
    settings: &LeaseSettings,
) -> Result<NextStep<B::Key, B::Record, Q::Refusal>, StoreError>
where
    B: LeaseBook,
    Q: LeaseRequest<B>,
{
    let patience_ends = Instant::now() + settings.patience;
    for _ in 0..MAX_TAKES {
        let claim_id = uuid::Uuid::new_v4().to_string();
        let now = book.now_ms();
        let until_ms = settings.until(now);
        let current = match book
            .apply(key, &request.take(&claim_id, now, until_ms))
            .await?
        {
            Applied::Done(record) => {
                return Ok(NextStep::Proceed(Held {
                    key: key.clone(),
                    claim_id,
                    until_ms,
                    record,
                }));
            }
            Applied::Refused(None) => return Ok(NextStep::NotFound),
            Applied::Refused(Some(current)) => current,
        };
        if let Some(next) = settle(book, key, request, current, patience_ends).await? {
            return Ok(next);
        }
    }
    Ok(NextStep::InProgress)
}

/// Acts on the verdicts a refused take leads to. `None`: take again.
async fn settle<B, Q>(
    book: &B,
    key: &B::Key,
    request: &Q,
    mut current: Box<B::Record>,
    patience_ends: Instant,
) -> Result<Settled<B, Q>, StoreError>
where
    B: LeaseBook,
    Q: LeaseRequest<B>,
{
    for _ in 0..MAX_VERDICTS {
        current = match request.inspect(&current, book.now_ms()) {
            Verdict::Replay => return Ok(Some(NextStep::Replay(current))),
            Verdict::Closed => return Ok(Some(NextStep::Closed(current))),
            Verdict::Refuse(reason) => return Ok(Some(NextStep::Refused(reason))),
            Verdict::Retry => return Ok(None),
            Verdict::Close => {
                let Some(close) = request.close(book.now_ms()) else {
                    return Ok(Some(NextStep::InProgress));
                };
                match book.apply(key, &close).await? {
                    Applied::Done(closed) => return Ok(Some(NextStep::Closed(closed))),
                    // Someone else moved it first: read what they left.
                    Applied::Refused(Some(moved)) => moved,
                    Applied::Refused(None) => return Ok(Some(NextStep::NotFound)),
                }
            }
            Verdict::Wait => {
                let patience = patience_ends.saturating_duration_since(Instant::now());
                if patience.is_zero() {
                    return Ok(Some(NextStep::InProgress));
                }
                tracing::info!("another request holds the lease: waiting for its outcome");
                match wait_while_held(book, key, patience).await? {
                    // Gone while we waited: take again (the take says what then).
                    None => return Ok(None),
                    Some(seen) if seen.is_held_at(book.now_ms()) => {
                        return Ok(Some(NextStep::InProgress));
                    }
                    Some(seen) => Box::new(seen),
                }
            }
        };
    }
    Ok(Some(NextStep::InProgress))
}

/// Waits while another invocation holds a live lease on the record (a concurrent
/// duplicate), polling with strongly consistent reads and a pause that doubles (50 ms up
/// to 400 ms), for at most `patience`. Returns the record as last read.
pub async fn wait_while_held<B: LeaseBook>(
    book: &B,
    key: &B::Key,
    patience: Duration,
) -> Result<Option<B::Record>, StoreError> {
    let started = Instant::now();
    let mut pause = Duration::from_millis(50);
    loop {
        let record = book.get(key).await?;
        let held = record.as_ref().is_some_and(|r| r.is_held_at(book.now_ms()));
        if !held || started.elapsed() + pause > patience {
            return Ok(record);
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(400));
    }
}

/// Records the outcome of the work done under a lease, with a write guarded by our claim
/// id. `Refused` means we lost the lease: someone took it over after it lapsed.
pub async fn complete<B: LeaseBook>(
    book: &B,
    held: &Held<B::Key, B::Record>,
    write: &B::Write,
) -> Result<Applied<B::Record>, StoreError> {
    let applied = book.apply(&held.key, write).await?;
    if matches!(applied, Applied::Refused(_)) {
        tracing::warn!("the lease was lost before its outcome could be recorded");
    }
    Ok(applied)
}

/// Gives a lease back when its work failed and may be tried again at once. A failure
/// here is logged: the lease lapses on its own.
pub async fn release<B, Q>(book: &B, request: &Q, held: &Held<B::Key, B::Record>)
where
    B: LeaseBook,
    Q: LeaseRequest<B>,
{
    let write = request.release(&held.claim_id, book.now_ms());
    match book.apply(&held.key, &write).await {
        Ok(Applied::Done(_)) => tracing::info!("lease released: the request can be retried"),
        Ok(Applied::Refused(_)) => tracing::warn!("the lease was no longer ours to release"),
        Err(error) => tracing::warn!(%error, "could not release the lease; it will lapse"),
    }
}

/// The unit tests every user of the protocol runs on its own records (the session claims,
/// the idempotency keys): lapse and takeover, a waiter that sees the decision, a waiter
/// whose holder dies, a waiter that runs out of patience, a refused completion, a
/// released lease, and the deadline of work under a lease.
#[cfg(test)]
pub(crate) mod contract {
    use std::sync::Arc;

    use super::*;
    use crate::clock::{Clock, OffsetClock};

    /// A user of the protocol, set up with one record a request can take a lease on.
    pub(crate) trait Subject: Sized + Send + Sync + 'static {
        type Book: LeaseBook + Clone + 'static;
        type Request: LeaseRequest<Self::Book> + Send + 'static;

        /// The book, its clock, and the key of a record the request may take.
        fn arrange() -> impl std::future::Future<
            Output = (Self::Book, Arc<OffsetClock>, <Self::Book as LeaseBook>::Key),
        > + Send;

        fn request() -> Self::Request;

        /// The write that records the work's outcome under `held`.
        fn decision(
            held: &Held<<Self::Book as LeaseBook>::Key, <Self::Book as LeaseBook>::Record>,
            now_ms: i64,
        ) -> <Self::Book as LeaseBook>::Write;

        /// Whether the record shows the outcome [`Subject::decision`] writes.
        fn is_decided(record: &<Self::Book as LeaseBook>::Record) -> bool;
    }

    pub(crate) fn settings(patience_ms: u64) -> LeaseSettings {
        LeaseSettings {
            lease: Duration::from_secs(25),
            patience: Duration::from_millis(patience_ms),
        }
    }

    type Step<S> = NextStep<
        <<S as Subject>::Book as LeaseBook>::Key,
        <<S as Subject>::Book as LeaseBook>::Record,
        <<S as Subject>::Request as LeaseRequest<<S as Subject>::Book>>::Refusal,
    >;

    async fn attempt<S: Subject>(
        book: &S::Book,
        key: &<S::Book as LeaseBook>::Key,
        patience_ms: u64,
    ) -> Step<S> {
        acquire(book, key, &S::request(), &settings(patience_ms))
            .await
            .expect("the store answers")
    }

    async fn proceed<S: Subject>(
        book: &S::Book,
        key: &<S::Book as LeaseBook>::Key,
    ) -> Held<<S::Book as LeaseBook>::Key, <S::Book as LeaseBook>::Record> {
        match attempt::<S>(book, key, 50).await {
            NextStep::Proceed(held) => held,
            _ => panic!("expected to hold the lease"),
        }
    }

    pub(crate) async fn a_lease_left_by_a_dead_holder_is_taken_over_after_it_lapses<S: Subject>() {
        let (book, clock, key) = S::arrange().await;
        let dead = proceed::<S>(&book, &key).await;
        assert!(
            matches!(attempt::<S>(&book, &key, 50).await, NextStep::InProgress),
            "a live lease holds"
        );
        clock.advance(Duration::from_secs(26));
        let taker = proceed::<S>(&book, &key).await;
        assert_ne!(taker.claim_id, dead.claim_id);
    }

    pub(crate) async fn a_waiter_that_sees_the_decision_answers_with_it<S: Subject>() {
        let (book, clock, key) = S::arrange().await;
        let holder = proceed::<S>(&book, &key).await;
        let completing = {
            let book = book.clone();
            let now = clock.now_ms();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(150)).await;
                complete(&book, &holder, &S::decision(&holder, now)).await
            })
        };
        let NextStep::Replay(record) = attempt::<S>(&book, &key, 5_000).await else {
            panic!("expected the holder's decision")
        };
        assert!(S::is_decided(&record));
        assert!(matches!(
            completing.await.unwrap().unwrap(),
            Applied::Done(_)
        ));
    }

    pub(crate) async fn a_waiter_whose_holder_dies_takes_the_lease_when_it_lapses<S: Subject>() {
        let (book, clock, key) = S::arrange().await;
        let dead = proceed::<S>(&book, &key).await;
        let lapse = {
            let clock = clock.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(150)).await;
                clock.advance(Duration::from_secs(26));
            })
        };
        let waited = attempt::<S>(&book, &key, 5_000).await;
        lapse.await.unwrap();
        let NextStep::Proceed(taker) = waited else {
            panic!("the waiter should take the lapsed lease")
        };
        assert_ne!(taker.claim_id, dead.claim_id);
    }

    pub(crate) async fn a_waiter_that_runs_out_of_patience_says_in_progress<S: Subject>() {
        let (book, _clock, key) = S::arrange().await;
        let _holder = proceed::<S>(&book, &key).await;
        let started = Instant::now();
        assert!(matches!(
            attempt::<S>(&book, &key, 300).await,
            NextStep::InProgress
        ));
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    pub(crate) async fn a_holder_that_lost_its_lease_cannot_complete<S: Subject>() {
        let (book, clock, key) = S::arrange().await;
        let slow = proceed::<S>(&book, &key).await;
        clock.advance(Duration::from_secs(26));
        let taker = proceed::<S>(&book, &key).await;
        let late = complete(&book, &slow, &S::decision(&slow, clock.now_ms()))
            .await
            .unwrap();
        let Applied::Refused(Some(current)) = late else {
            panic!("the superseded holder must be refused")
        };
        assert_eq!(
            current.lease().map(|(claim, _)| claim),
            Some(taker.claim_id.as_str())
        );
        assert!(matches!(
            complete(&book, &taker, &S::decision(&taker, clock.now_ms()))
                .await
                .unwrap(),
            Applied::Done(_)
        ));
    }

    pub(crate) async fn a_released_lease_is_taken_by_the_next_request<S: Subject>() {
        let (book, _clock, key) = S::arrange().await;
        let failed = proceed::<S>(&book, &key).await;
        release(&book, &S::request(), &failed).await;
        let next = proceed::<S>(&book, &key).await;
        assert_ne!(next.claim_id, failed.claim_id);
    }

    pub(crate) async fn work_under_a_lease_must_end_before_it_lapses<S: Subject>() {
        let (book, clock, key) = S::arrange().await;
        let held = proceed::<S>(&book, &key).await;
        let left = held
            .deadline(clock.now_ms())
            .saturating_duration_since(Instant::now());
        // A 25 s lease less the outcome's write (3 s) and the skew margin (2 s).
        assert!(
            left <= Duration::from_secs(20) && left > Duration::from_secs(19),
            "{left:?}"
        );
        assert!(
            held.deadline(clock.now_ms() + 24_000) <= Instant::now(),
            "a lease that is nearly over leaves no time for work"
        );
    }

    /// The contract's tests, for one subject.
    macro_rules! lease_contract_tests {
        ($subject:ty) => {
            mod lease_contract {
                use super::*;
                use $crate::lease::contract;

                #[tokio::test]
                async fn a_lease_left_by_a_dead_holder_is_taken_over_after_it_lapses() {
                    contract::a_lease_left_by_a_dead_holder_is_taken_over_after_it_lapses::<$subject>().await
                }
                #[tokio::test]
                async fn a_waiter_that_sees_the_decision_answers_with_it() {
                    contract::a_waiter_that_sees_the_decision_answers_with_it::<$subject>().await
                }
                #[tokio::test]
                async fn a_waiter_whose_holder_dies_takes_the_lease_when_it_lapses() {
                    contract::a_waiter_whose_holder_dies_takes_the_lease_when_it_lapses::<$subject>().await
                }
                #[tokio::test]
                async fn a_waiter_that_runs_out_of_patience_says_in_progress() {
                    contract::a_waiter_that_runs_out_of_patience_says_in_progress::<$subject>().await
                }
                #[tokio::test]
                async fn a_holder_that_lost_its_lease_cannot_complete() {
                    contract::a_holder_that_lost_its_lease_cannot_complete::<$subject>().await
                }
                #[tokio::test]
                async fn a_released_lease_is_taken_by_the_next_request() {
                    contract::a_released_lease_is_taken_by_the_next_request::<$subject>().await
                }
                #[tokio::test]
                async fn work_under_a_lease_must_end_before_it_lapses() {
                    contract::work_under_a_lease_must_end_before_it_lapses::<$subject>().await
                }
            }
        };
    }
    pub(crate) use lease_contract_tests;
}

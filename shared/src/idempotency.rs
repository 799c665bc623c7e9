//! Idempotency keys on the issuer's writes (`Idempotency-Key` header): a client that
//! retries after a timeout gets the first answer, and the upstream is called once.
//!
//! One record per tenant and key ([`IdempotencyRecord`], `IDEM#<tenant>#<sha256 of the
//! key>`), kept [`RETENTION`]: the route and a keyed fingerprint (an HMAC under the
//! idempotency keys: the bodies hold personal data) of the request as parsed, a lease
//! while the first request runs (the one lease protocol of `crate::lease`: concurrent
//! duplicates make one upstream call, the others wait for its answer), then its answer,
//! sealed. Every upstream call under a key gets its deadline from the lease
//! ([`crate::lease::Held::deadline`]).
//!
//! Only an answer that changed something (2xx) is kept. A failure that proves nothing
//! happened upstream (our refusal, the upstream's 4xx, a connection never made) releases
//! the key, and the same request may be retried. After any other failure the outcome is
//! unknown: a repeatable write (one the upstream takes twice as once) is released too,
//! but a write that must not run twice ([`Repeat::Never`]: creating a contact) keeps its
//! key `UNKNOWN`, and a retry is `409 IDEMPOTENCY_OUTCOME_UNKNOWN` — never a second call.
//! So is a retry after the first run died holding the key. Another body under a key
//! already used is `409 IDEMPOTENCY_KEY_REUSED`.

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::clock::SharedClock;
use crate::crypto::SealedData;
use crate::domain::{FieldError, TenantId};
use crate::error::{ApiError, ErrorCode};
use crate::keys::{GatewayKeys, KeyedValue};
use crate::lease::{self, Applied, LeaseBook, LeaseRequest, LeaseSettings, NextStep, Verdict};
use crate::store::record::{stored_record, the_same};
use crate::store::{Guard, Item, Kind, Mutation, Patch, SharedStore, StoreError, Written};

/// How long a key's answer is kept.
pub const RETENTION: Duration = Duration::from_secs(24 * 3600);

/// A client's idempotency key: 1 to 255 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub const HEADER: &'static str = "idempotency-key";

    pub fn parse(value: &str) -> Result<Self, FieldError> {
        let ok = (1..=255).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_graphic());
        if !ok {
            return Err(FieldError::new(
                "Idempotency-Key",
                "must be 1 to 255 visible ASCII characters",
            ));
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// From a request's headers; `None` when the client sent none.
    pub fn from_headers(headers: &http::HeaderMap) -> Result<Option<Self>, FieldError> {
        match headers.get(Self::HEADER) {
            None => Ok(None),
            Some(value) => {
                let text = value.to_str().map_err(|_| {
                    FieldError::new(
                        "Idempotency-Key",
                        "must be 1 to 255 visible ASCII characters",
                    )
                })?;
                Self::parse(text).map(Some)
            }
        }
    }
}

/// Where a key stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum KeyState {
    /// Its first request runs under the lease.
    Pending,
    /// The request failed and changed nothing: the same request may run again.
    Released,
    /// The request's answer is kept.
    Done,
    /// The request of a write that must not run twice failed after it may have reached
    /// the upstream: it is not run again under this key.
    Unknown,
}

impl KeyState {
    fn as_str(self) -> &'static str {
        match self {
            KeyState::Pending => "PENDING",
            KeyState::Released => "RELEASED",
            KeyState::Done => "DONE",
            KeyState::Unknown => "UNKNOWN",
        }
    }
}

/// Whether a keyed write may run again when its first run's outcome is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeat {
    /// The upstream takes it twice as once (an update, an unenroll, an enroll whose
    /// repeat is reconciled): a retry is safe.
    Safe,
    /// A second run would do it twice (creating a contact): an unknown outcome is kept
    /// unknown.
    Never,
}

stored_record! {
    /// An idempotency key's record.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct IdempotencyRecord, attributes in attr {
        tenant_id: TenantId => TENANT_ID,
        /// The route the key was first used on.
        route: String => ROUTE,
        /// The request's fingerprint under the key set's current key when it was taken.
        fingerprint: String => FINGERPRINT,
        state: KeyState => STATE,
        #[serde(default)]
        claim_id: Option<String> => CLAIM_ID,
        #[serde(default)]
        lease_until: Option<i64> => LEASE_UNTIL,
        /// Epoch ms; the key is free again [`RETENTION`] later.
        created_at: i64 => CREATED_AT,
        /// The kept answer, sealed.
        #[serde(default)]
        answer: Option<SealedData> => ANSWER,
        expires_at: i64 => EXPIRES_AT,
    }
}

the_same! {
    attr::TENANT_ID => crate::store::attr::TENANT_ID,
    attr::CREATED_AT => crate::store::attr::CREATED_AT,
    attr::EXPIRES_AT => crate::store::attr::EXPIRES_AT,
    attr::CLAIM_ID => crate::lease::attr::CLAIM_ID,
    attr::LEASE_UNTIL => crate::lease::attr::LEASE_UNTIL,
}

impl lease::Leased for IdempotencyRecord {
    fn lease(&self) -> Option<(&str, i64)> {
        Some((self.claim_id.as_deref()?, self.lease_until?))
    }

    fn is_held_at(&self, now_ms: i64) -> bool {
        self.state == KeyState::Pending && self.lease_until.is_some_and(|l| l >= now_ms)
    }
}

/// The answer kept for a key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeptAnswer {
    pub status: u16,
    pub body: Value,
}

/// The idempotency records: the lease protocol's book for the keys.
#[derive(Clone)]
pub struct KeyBook {
    store: SharedStore,
    clock: SharedClock,
}

fn decode(item: Item) -> Result<IdempotencyRecord, StoreError> {
    serde_dynamo::from_item(item).map_err(|e| StoreError::Corrupt(e.to_string()))
}

#[async_trait]
impl LeaseBook for KeyBook {
    type Key = String;
    type Record = IdempotencyRecord;
    type Write = Mutation;

    fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    async fn apply(
        &self,
        key: &String,
        write: &Mutation,
    ) -> Result<Applied<IdempotencyRecord>, StoreError> {
        Ok(match self.store.write(key, write).await? {
            Written::Applied(item) => Applied::Done(Box::new(decode(item)?)),
            Written::Refused(item) => Applied::Refused(item.map(decode).transpose()?.map(Box::new)),
        })
    }

    async fn get(&self, key: &String) -> Result<Option<IdempotencyRecord>, StoreError> {
        self.store.read(key).await?.map(decode).transpose()
    }
}

/// A request under a key: its tenant, its route and its fingerprints (one per key of
/// the set, the current one first).
pub struct KeyedRequest {
    tenant: TenantId,
    route: String,
    repeat: Repeat,
    fingerprints: KeyedValue,
}

/// Why a keyed request is refused for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRefusal {
    /// The key was used with another request (or on another route).
    Reused,
    /// The first run of a write that must not run twice may have taken effect.
    OutcomeUnknown,
}

impl LeaseRequest<KeyBook> for KeyedRequest {
    type Refusal = KeyRefusal;
    const OPERATION: &'static str = "idempotency";

    fn take(&self, claim_id: &str, now_ms: i64, until_ms: i64) -> Mutation {
        // The same request under any key of the set (a fingerprint made before a key
        // rotation is still this request's).
        let same_request = Guard::And(vec![
            Guard::equals(attr::ROUTE, self.route.clone()),
            Guard::Or(
                self.fingerprints
                    .all()
                    .iter()
                    .map(|f| Guard::equals(attr::FINGERPRINT, f.clone()))
                    .collect(),
            ),
        ]);
        let mut free_again = vec![Guard::equals(attr::STATE, KeyState::Released.as_str())];
        if self.repeat == Repeat::Safe {
            // Its first run died or gave up without releasing it: safe to run again.
            free_again.push(Guard::And(vec![
                Guard::equals(attr::STATE, KeyState::Pending.as_str()),
                lease::claimable(now_ms),
            ]));
        }
        let free_again = Guard::Or(free_again);
        let patch = Patch::default()
            .set_s(crate::store::attr::KIND, Kind::Idempotency.as_str())
            .set_s(attr::TENANT_ID, self.tenant.as_str())
            .set_s(attr::ROUTE, self.route.clone())
            .set_s(attr::FINGERPRINT, self.fingerprints.current())
            .set_s(attr::STATE, KeyState::Pending.as_str())
            .set_n(attr::CREATED_AT, now_ms)
            .set_n(attr::EXPIRES_AT, now_ms / 1000 + RETENTION.as_secs() as i64)
            .remove(attr::ANSWER);
        Mutation {
            guard: Guard::Or(vec![
                Guard::Absent,
                // Kept past its retention: the key is free again.
                Guard::Lt(attr::CREATED_AT, now_ms - RETENTION.as_millis() as i64),
                Guard::And(vec![same_request, free_again]),
            ]),
            patch: lease::taken(patch, claim_id, until_ms),
        }
    }

    fn release(&self, claim_id: &str, _now_ms: i64) -> Mutation {
        Mutation {
            guard: lease::held_by(claim_id),
            patch: lease::ended(Patch::default().set_s(attr::STATE, KeyState::Released.as_str())),
        }
    }

    fn inspect(&self, record: &IdempotencyRecord, now_ms: i64) -> Verdict<KeyRefusal> {
        let same = record.route == self.route && self.fingerprints.matches(&record.fingerprint);
        if !same {
            return Verdict::Refuse(KeyRefusal::Reused);
        }
        match record.state {
            KeyState::Done => Verdict::Replay,
            KeyState::Unknown => Verdict::Refuse(KeyRefusal::OutcomeUnknown),
            KeyState::Pending if lease::Leased::is_held_at(record, now_ms) => Verdict::Wait,
            // The first run died holding it: it may have reached the upstream.
            KeyState::Pending if self.repeat == Repeat::Never => {
                Verdict::Refuse(KeyRefusal::OutcomeUnknown)
            }
            KeyState::Pending | KeyState::Released => Verdict::Retry,
        }
    }
}

/// A key held by the request that runs under it.
pub type HeldKey = lease::Held<String, IdempotencyRecord>;

/// What a request with a key does.
pub enum Begin {
    /// It is the first: run it (its upstream calls end by [`lease::Held::deadline`]), then
    /// [`Idempotency::complete`] or [`Idempotency::release`].
    Proceed(Box<HeldKey>, KeyedRequest),
    /// It ran before: answer this.
    Replay(KeptAnswer),
}

/// The idempotency keys of one function, with the key set that fingerprints requests and
/// seals answers.
pub struct Idempotency {
    book: KeyBook,
    settings: LeaseSettings,
}

fn record_key(tenant: &TenantId, key: &IdempotencyKey) -> String {
    let digest = hex::encode(Sha256::digest(key.0.as_bytes()));
    Kind::Idempotency.key(&[tenant.as_str(), &digest])
}

impl Idempotency {
    pub fn new(store: SharedStore, clock: SharedClock, settings: LeaseSettings) -> Self {
        Self {
            book: KeyBook { store, clock },
            settings,
        }
    }

    /// Takes the key for this request (`route` and its parsed `request`), or finds the
    /// answer it already has.
    pub async fn begin(
        &self,
        keys: &GatewayKeys,
        tenant: &TenantId,
        key: &IdempotencyKey,
        (route, repeat): (&str, Repeat),
        request: &Value,
    ) -> Result<Begin, ApiError> {
        let keyed = KeyedRequest {
            tenant: tenant.clone(),
            route: route.to_owned(),
            repeat,
            fingerprints: KeyedValue::new(keys.fingerprints(
                &format!("idempotency:{route}"),
                tenant.as_str(),
                request,
            )),
        };
        let record = record_key(tenant, key);
        match lease::acquire(&self.book, &record, &keyed, &self.settings).await? {
            NextStep::Proceed(held) => Ok(Begin::Proceed(Box::new(held), keyed)),
            NextStep::Replay(done) => Ok(Begin::Replay(kept(keys, &record, &done)?)),
            NextStep::Refused(KeyRefusal::Reused) => {
                Err(ApiError::of(ErrorCode::IdempotencyKeyReused))
            }
            NextStep::Refused(KeyRefusal::OutcomeUnknown) => {
                Err(ApiError::of(ErrorCode::IdempotencyOutcomeUnknown))
            }
            NextStep::InProgress => Err(ApiError::with_message(
                ErrorCode::RequestInProgress,
                "a request with this Idempotency-Key is being processed; retry shortly",
            )),
            NextStep::Closed(_) | NextStep::NotFound => Err(ApiError::Internal(
                "an idempotency key can neither be closed nor missing".into(),
            )),
        }
    }

    /// Keeps the answer of the request that held the key.
    pub async fn complete(
        &self,
        keys: &GatewayKeys,
        held: &HeldKey,
        answer: &KeptAnswer,
    ) -> Result<(), ApiError> {
        let sealed = keys.seal(&held.key, attr::ANSWER, answer);
        let write = Mutation {
            guard: lease::held_by(&held.claim_id),
            patch: lease::ended(
                Patch::default()
                    .set_s(attr::STATE, KeyState::Done.as_str())
                    .set(
                        attr::ANSWER,
                        serde_dynamo::to_attribute_value(&sealed).expect("sealed data serializes"),
                    ),
            ),
        };
        lease::complete(&self.book, held, &write).await?;
        Ok(())
    }

    /// Ends the key's run after `error`: released when the error proves nothing happened
    /// or the write is safe to repeat (the same request may run again at once), kept
    /// `UNKNOWN` otherwise. Returns whether the outcome is now unknown for good.
    pub async fn fail(&self, request: &KeyedRequest, held: &HeldKey, error: &ApiError) -> bool {
        if request.repeat == Repeat::Safe || error.proves_nothing_happened() {
            lease::release(&self.book, request, held).await;
            return false;
        }
        let unknown = Mutation {
            guard: lease::held_by(&held.claim_id),
            patch: lease::ended(Patch::default().set_s(attr::STATE, KeyState::Unknown.as_str())),
        };
        // Kept unknown even if this write fails: the lapsed lease of a write that must not
        // run twice is refused the same way.
        if let Err(error) = lease::complete(&self.book, held, &unknown).await {
            tracing::warn!(%error, "an unknown outcome could not be recorded on its key");
        }
        true
    }
}

/// A kept answer, opened.
fn kept(
    keys: &GatewayKeys,
    record: &str,
    done: &IdempotencyRecord,
) -> Result<KeptAnswer, ApiError> {
    let sealed = done
        .answer
        .as_ref()
        .ok_or_else(|| ApiError::Internal("a kept answer could not be read".into()))?;
    Ok(keys.open(record, attr::ANSWER, sealed)?)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::OffsetClock;
    use crate::lease::contract::{Subject, lease_contract_tests};
    use crate::store::memory::MemoryStore;

    /// An issuer's update-contact request under one key (a repeatable write), held to the
    /// lease protocol's contract.
    struct KeySubject;

    fn request() -> KeyedRequest {
        keyed("update_cardholder", Repeat::Safe)
    }

    fn keyed(route: &str, repeat: Repeat) -> KeyedRequest {
        KeyedRequest {
            tenant: TenantId::parse("tenant", "bank-x").unwrap(),
            route: route.into(),
            repeat,
            fingerprints: KeyedValue::new(vec!["fp".into()]),
        }
    }

    impl Subject for KeySubject {
        type Book = KeyBook;
        type Request = KeyedRequest;

        async fn arrange() -> (KeyBook, Arc<OffsetClock>, String) {
            let clock = Arc::new(OffsetClock::default());
            let book = KeyBook {
                store: Arc::new(MemoryStore::new()),
                clock: clock.clone(),
            };
            (book, clock, "IDEM#bank-x#digest".into())
        }

        fn request() -> KeyedRequest {
            request()
        }

        fn decision(held: &HeldKey, _now_ms: i64) -> Mutation {
            Mutation {
                guard: lease::held_by(&held.claim_id),
                patch: lease::ended(Patch::default().set_s(attr::STATE, KeyState::Done.as_str())),
            }
        }

        fn is_decided(record: &IdempotencyRecord) -> bool {
            record.state == KeyState::Done
        }
    }

    lease_contract_tests!(KeySubject);

    #[tokio::test]
    async fn a_key_used_with_another_request_or_route_is_refused() {
        let (book, _clock, key) = KeySubject::arrange().await;
        let settings = crate::lease::contract::settings(50);
        let NextStep::Proceed(_) = lease::acquire(&book, &key, &request(), &settings)
            .await
            .unwrap()
        else {
            panic!("the first request takes the key")
        };
        let other_body = KeyedRequest {
            fingerprints: KeyedValue::new(vec!["another".into()]),
            ..request()
        };
        let other_route = KeyedRequest {
            route: "unenroll".into(),
            ..request()
        };
        for refused in [other_body, other_route] {
            assert!(matches!(
                lease::acquire(&book, &key, &refused, &settings)
                    .await
                    .unwrap(),
                NextStep::Refused(KeyRefusal::Reused)
            ));
        }
    }

    #[tokio::test]
    async fn a_request_fingerprinted_before_a_key_rotation_is_still_the_same_request() {
        let (book, _clock, key) = KeySubject::arrange().await;
        let settings = crate::lease::contract::settings(50);
        let NextStep::Proceed(held) = lease::acquire(&book, &key, &request(), &settings)
            .await
            .unwrap()
        else {
            panic!("the first request takes the key")
        };
        lease::release(&book, &request(), &held).await;
        let rotated = KeyedRequest {
            fingerprints: KeyedValue::new(vec!["fp-under-a-new-key".into(), "fp".into()]),
            ..request()
        };
        assert!(
            matches!(
                lease::acquire(&book, &key, &rotated, &settings)
                    .await
                    .unwrap(),
                NextStep::Proceed(_)
            ),
            "a released key is taken by the same request after a rotation"
        );
    }

    fn idempotency(book: &KeyBook) -> Idempotency {
        Idempotency {
            book: book.clone(),
            settings: crate::lease::contract::settings(50),
        }
    }

    fn timeout() -> ApiError {
        ApiError::Upstream(crate::outbound::UpstreamError::Timeout {
            upstream: crate::outbound::Upstream::CardIssuance,
        })
    }

    #[tokio::test]
    async fn a_create_that_timed_out_is_kept_unknown_and_never_run_again_under_its_key() {
        let (book, _clock, key) = KeySubject::arrange().await;
        let create = keyed("create_cardholder", Repeat::Never);
        let settings = crate::lease::contract::settings(50);
        let NextStep::Proceed(held) = lease::acquire(&book, &key, &create, &settings)
            .await
            .unwrap()
        else {
            panic!("the first request takes the key")
        };
        // The upstream may have created it: the key is not released.
        assert!(idempotency(&book).fail(&create, &held, &timeout()).await);
        let again = lease::acquire(&book, &key, &create, &settings)
            .await
            .unwrap();
        assert!(matches!(
            again,
            NextStep::Refused(KeyRefusal::OutcomeUnknown)
        ));
        assert_eq!(
            book.get(&key).await.unwrap().unwrap().state,
            KeyState::Unknown
        );
    }

    #[tokio::test]
    async fn a_create_refused_before_any_effect_releases_its_key_for_the_same_request() {
        let (book, _clock, key) = KeySubject::arrange().await;
        let create = keyed("create_cardholder", Repeat::Never);
        let settings = crate::lease::contract::settings(50);
        for error in [
            ApiError::of(ErrorCode::BudgetNotFound),
            ApiError::Upstream(crate::outbound::UpstreamError::Unreachable {
                upstream: crate::outbound::Upstream::CardIssuance,
            }),
        ] {
            let NextStep::Proceed(held) = lease::acquire(&book, &key, &create, &settings)
                .await
                .unwrap()
            else {
                panic!("released: taken again by the same request ({error})")
            };
            assert!(!idempotency(&book).fail(&create, &held, &error).await);
        }
    }

    #[tokio::test]
    async fn a_create_whose_first_run_died_holding_the_key_is_not_taken_over() {
        let (book, clock, key) = KeySubject::arrange().await;
        let create = keyed("create_cardholder", Repeat::Never);
        let settings = crate::lease::contract::settings(50);
        let NextStep::Proceed(_died) = lease::acquire(&book, &key, &create, &settings)
            .await
            .unwrap()
        else {
            panic!("the first request takes the key")
        };
        clock.advance(std::time::Duration::from_secs(60));
        let again = lease::acquire(&book, &key, &create, &settings)
            .await
            .unwrap();
        assert!(matches!(
            again,
            NextStep::Refused(KeyRefusal::OutcomeUnknown)
        ));
        // A repeatable write in the same spot is taken over.
        let update = keyed("create_cardholder", Repeat::Safe);
        let taken = lease::acquire(&book, &key, &update, &settings)
            .await
            .unwrap();
        assert!(matches!(taken, NextStep::Proceed(_)));
    }
}

//! Idempotency keys on the issuer's writes (`Idempotency-Key` header): a client that
//! retries after a timeout gets the first answer, and the upstream is called once.
//!
//! One record per tenant and key (`IDEM#<tenant>#<sha256 of the key>`), kept 24 hours:
//! the route and a keyed fingerprint (HMAC under the session MAC keys: the bodies hold
//! personal data) of the request as parsed, a claim with a lease while the first request
//! runs, then its answer, sealed. The claim is one conditional write, so concurrent
//! duplicates make one upstream call: the others wait for its answer.
//!
//! Only an answer that changed something (2xx) is kept. A refusal or a fault changed
//! nothing upstream, so its claim is released and the same key may be retried; another
//! body under a key already used is `409 IDEMPOTENCY_KEY_REUSED`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::clock::SharedClock;
use crate::crypto::SealedData;
use crate::domain::{FieldError, TenantId};
use crate::error::{ApiError, ErrorCode};
use crate::secrets::Cached;
use crate::session::SessionKeys;
use crate::store::{Guard, Item, Mutation, Patch, SharedStore, Written, number_value, string};

/// How long a key's answer is kept.
pub const RETENTION: Duration = Duration::from_secs(24 * 3600);

/// How long a request may hold its key before a duplicate may take it over.
const LEASE: Duration = Duration::from_secs(25);

/// How long a duplicate waits for the first request's answer.
const WAIT: Duration = Duration::from_secs(10);

mod attr {
    pub const KIND: &str = "kind";
    pub const TENANT_ID: &str = "tenant_id";
    pub const ROUTE: &str = "route";
    pub const FINGERPRINT: &str = "fingerprint";
    pub const STATE: &str = "state";
    pub const CLAIM_ID: &str = "claim_id";
    pub const LEASE_UNTIL: &str = "lease_until";
    pub const CREATED_AT: &str = "created_at";
    pub const ANSWER: &str = "answer";
    pub const EXPIRES_AT: &str = "expires_at";
}

const PENDING: &str = "PENDING";
const DONE: &str = "DONE";

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

/// The answer kept for a key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeptAnswer {
    pub status: u16,
    pub body: Value,
}

/// What a request with a key does.
pub enum Begin {
    /// It is the first: run it, then [`Idempotency::complete`] or [`Idempotency::release`].
    Proceed(Claim),
    /// It ran before: answer this.
    Replay(KeptAnswer),
}

/// The key held by the request that runs.
pub struct Claim {
    record: String,
    claim_id: String,
}

pub struct Idempotency {
    store: SharedStore,
    clock: SharedClock,
    keys: Arc<Cached<SessionKeys>>,
}

fn record_key(tenant: &TenantId, key: &IdempotencyKey) -> String {
    let digest = hex::encode(Sha256::digest(key.0.as_bytes()));
    format!("IDEM#{tenant}#{digest}")
}

impl Idempotency {
    pub fn new(store: SharedStore, clock: SharedClock, keys: Arc<Cached<SessionKeys>>) -> Self {
        Self { store, clock, keys }
    }

    /// Claims the key for this request (`route` and its parsed `request`), or finds the
    /// answer it already has.
    pub async fn begin(
        &self,
        tenant: &TenantId,
        key: &IdempotencyKey,
        route: &str,
        request: &Value,
    ) -> Result<Begin, ApiError> {
        let keys = self.keys.get().await?;
        let fingerprints =
            keys.fingerprints(&format!("idempotency:{route}"), tenant.as_str(), request);
        let record = record_key(tenant, key);
        let started = Instant::now();
        loop {
            let now = self.clock.now_ms();
            let claim_id = uuid::Uuid::new_v4().to_string();
            let mutation = Mutation {
                guard: Guard::Or(vec![
                    Guard::Absent,
                    // Kept past its day: the key is free again.
                    Guard::Lt(attr::CREATED_AT, now - RETENTION.as_millis() as i64),
                    // The same request, whose first run died or gave up: take it over.
                    Guard::And(vec![
                        Guard::equals(attr::STATE, PENDING),
                        Guard::Lt(attr::LEASE_UNTIL, now),
                        Guard::equals(attr::FINGERPRINT, fingerprints[0].clone()),
                    ]),
                ]),
                patch: Patch::default()
                    .set_s(attr::KIND, "idempotency")
                    .set_s(attr::TENANT_ID, tenant.as_str())
                    .set_s(attr::ROUTE, route)
                    .set_s(attr::FINGERPRINT, fingerprints[0].clone())
                    .set_s(attr::STATE, PENDING)
                    .set_s(attr::CLAIM_ID, &claim_id)
                    .set_n(attr::LEASE_UNTIL, now + LEASE.as_millis() as i64)
                    .set_n(attr::CREATED_AT, now)
                    .set_n(attr::EXPIRES_AT, now / 1000 + RETENTION.as_secs() as i64)
                    .remove(attr::ANSWER),
            };
            let current = match self.store.write(&record, &mutation).await? {
                Written::Applied(_) => return Ok(Begin::Proceed(Claim { record, claim_id })),
                Written::Refused(None) => continue,
                Written::Refused(Some(current)) => current,
            };
            let same = string(&current, attr::ROUTE) == Some(route)
                && string(&current, attr::FINGERPRINT)
                    .is_some_and(|stored| fingerprints.iter().any(|f| f == stored));
            if !same {
                return Err(ApiError::of(ErrorCode::IdempotencyKeyReused));
            }
            if let Some(answer) = self.kept(&keys, &record, &current)? {
                return Ok(Begin::Replay(answer));
            }
            // The first request is still running: wait for its answer, briefly.
            if started.elapsed() >= WAIT {
                return Err(ApiError::with_message(
                    ErrorCode::RequestInProgress,
                    "a request with this Idempotency-Key is being processed; retry shortly",
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn kept(
        &self,
        keys: &SessionKeys,
        record: &str,
        item: &Item,
    ) -> Result<Option<KeptAnswer>, ApiError> {
        if string(item, attr::STATE) != Some(DONE) {
            return Ok(None);
        }
        let sealed: SealedData = item
            .get(attr::ANSWER)
            .cloned()
            .and_then(|a| serde_dynamo::from_attribute_value(a).ok())
            .ok_or_else(|| ApiError::Internal("a kept answer could not be read".into()))?;
        Ok(Some(keys.open(record, "answer", &sealed)?))
    }

    /// Keeps the answer of the request that held the key.
    pub async fn complete(&self, claim: Claim, answer: &KeptAnswer) -> Result<(), ApiError> {
        let keys = self.keys.get().await?;
        let sealed = keys.seal(&claim.record, "answer", answer);
        let mutation = Mutation {
            guard: Guard::equals(attr::CLAIM_ID, claim.claim_id),
            patch: Patch::default()
                .set_s(attr::STATE, DONE)
                .set(
                    attr::ANSWER,
                    serde_dynamo::to_attribute_value(&sealed).expect("sealed data serializes"),
                )
                .remove(attr::CLAIM_ID)
                .remove(attr::LEASE_UNTIL),
        };
        if let Written::Refused(_) = self.store.write(&claim.record, &mutation).await? {
            tracing::warn!("an idempotency claim was taken over before its answer was kept");
        }
        Ok(())
    }

    /// Nothing changed (a refusal or a fault): the same request may run again at once.
    pub async fn release(&self, claim: Claim) {
        let mutation = Mutation {
            guard: Guard::equals(attr::CLAIM_ID, claim.claim_id),
            patch: Patch::default().set(attr::LEASE_UNTIL, number_value(0)),
        };
        if let Err(error) = self.store.write(&claim.record, &mutation).await {
            tracing::warn!(%error, "an idempotency claim could not be released: it lapses");
        }
    }
}

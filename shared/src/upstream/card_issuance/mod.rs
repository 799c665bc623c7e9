//! Ahrvo card-issuance 3DS API (issuer side): the client for its six 3DS endpoints, and
//! two inferred ones: the card detail ([`CardIssuance::card_budget`]) and unenroll
//! ([`CardIssuance::unenroll`]). Wire
//! types in [`wire`], reading the answers in [`answer`].
//!
//! Every call carries `Authorization: Bearer` and `x-api-key`, states its retry policy,
//! and passes the client-side rate limit that keeps bursts under the upstream's 1000
//! requests per 10 s.

use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

use crate::config::{CardIssuanceSettings, Secret};
use crate::domain::{CardId, CardholderId};
use crate::outbound::{Call, HttpClient, RequestRateLimit, RetryPolicy, Upstream, join_url};
use crate::secrets::SecretDocument;

pub mod answer;
pub mod wire;

pub use answer::{CardIssuanceError, Refusal, RefusalKind, redact_security_answers};

pub const PATH_PREFIX: &str = "/card/issuance/api/issuing";

/// What a successful enroll looked like.
#[derive(Debug, Clone, PartialEq)]
pub struct Enrolled {
    /// The upstream envelope to return to our caller.
    pub envelope: Value,
    /// The upstream said 409 and its enrollment detail showed the card already linked to
    /// this very cardholder — typically our own earlier attempt that timed out.
    pub reconciled: bool,
}

/// Card-issuance credentials: the gateway's own (the secret `CARD_ISSUANCE_SECRET_ID`,
/// `{"api_key", "access_token"}`), or a card program's from the tenant registry.
#[derive(Clone, Debug)]
pub struct CardIssuanceCredentials {
    pub api_key: Secret,
    pub access_token: Secret,
}

impl SecretDocument for CardIssuanceCredentials {
    type Context = ();

    fn parse(text: &str, _: &()) -> Result<Self, String> {
        #[derive(Deserialize)]
        struct Document {
            api_key: String,
            access_token: String,
        }
        let document: Document = serde_json::from_str(text).map_err(|_| {
            "not a card-issuance credentials document ({\"api_key\", \"access_token\"})".to_owned()
        })?;
        if document.api_key.trim().is_empty() || document.access_token.trim().is_empty() {
            return Err("api_key and access_token must not be empty".into());
        }
        Ok(Self {
            api_key: Secret::new(document.api_key),
            access_token: Secret::new(document.access_token),
        })
    }
}

/// The client, with the credentials of one call's caller.
pub struct CardIssuanceClient {
    http: HttpClient,
    base: Url,
    rate_limit: RequestRateLimit,
}

/// The client bound to the credentials one request is made with.
pub struct CardIssuance<'a> {
    client: &'a CardIssuanceClient,
    credentials: Arc<CardIssuanceCredentials>,
    deadline: Option<Instant>,
}

impl CardIssuanceClient {
    pub fn new(http: HttpClient, settings: &CardIssuanceSettings) -> Self {
        Self {
            http,
            base: settings.base_url.clone(),
            rate_limit: RequestRateLimit::per_10_seconds(
                settings.max_requests_per_10s,
                settings.burst,
            ),
        }
    }

    /// The endpoints, called with `credentials`.
    pub fn with(&self, credentials: Arc<CardIssuanceCredentials>) -> CardIssuance<'_> {
        CardIssuance {
            client: self,
            credentials,
            deadline: None,
        }
    }
}

impl<'a> CardIssuance<'a> {
    /// The same, with every call over by `deadline` (a lease's, a batch's).
    pub fn until(self, deadline: Option<Instant>) -> CardIssuance<'a> {
        CardIssuance { deadline, ..self }
    }
}

impl CardIssuance<'_> {
    async fn send(
        &self,
        operation: &'static str,
        policy: RetryPolicy,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<Value, CardIssuanceError> {
        let call = Call {
            upstream: Upstream::CardIssuance,
            operation,
            policy,
            rate_limit: Some(&self.client.rate_limit),
            deadline: self.deadline,
        };
        let response = self
            .client
            .http
            .send(call, |client| {
                build(client)
                    .header(http::header::ACCEPT, "application/json")
                    .bearer_auth(self.credentials.access_token.expose())
                    .header("x-api-key", self.credentials.api_key.expose())
            })
            .await?;
        answer::read_envelope(&response)
    }

    async fn post<T: Serialize>(
        &self,
        operation: &'static str,
        path: &str,
        policy: RetryPolicy,
        body: &T,
    ) -> Result<Value, CardIssuanceError> {
        let url = join_url(&self.client.base, &format!("{PATH_PREFIX}/{path}"));
        self.send(operation, policy, |c| c.post(url.clone()).json(body))
            .await
    }

    async fn get<Q: Serialize>(
        &self,
        operation: &'static str,
        path: &str,
        query: &Q,
    ) -> Result<Value, CardIssuanceError> {
        let url = join_url(&self.client.base, &format!("{PATH_PREFIX}/{path}"));
        self.send(operation, RetryPolicy::Idempotent, |c| {
            c.get(url.clone()).query(query)
        })
        .await
    }

    /// `POST cardholders/v2/create`. Not repeated once it may have landed: a second
    /// create would make a second cardholder.
    pub async fn create_cardholder(
        &self,
        request: &wire::CreateCardholderRequest,
    ) -> Result<Value, CardIssuanceError> {
        self.post(
            "create_cardholder",
            "cardholders/v2/create",
            RetryPolicy::NotIfProcessed,
            request,
        )
        .await
    }

    /// `POST cardholders/v2/update` (sets the contact: repeating it is harmless).
    pub async fn update_cardholder(
        &self,
        request: &wire::UpdateCardholderRequest,
    ) -> Result<Value, CardIssuanceError> {
        self.post(
            "update_cardholder",
            "cardholders/v2/update",
            RetryPolicy::Idempotent,
            request,
        )
        .await
    }

    /// `GET cardholders/v2/detail`.
    pub async fn query_cardholders(
        &self,
        query: &wire::CardholderQuery,
    ) -> Result<Value, CardIssuanceError> {
        self.get("query_cardholders", "cardholders/v2/detail", query)
            .await
    }

    /// `GET 3ds/v2/detail?card_id=`.
    pub async fn enrollment_detail(&self, card_id: &CardId) -> Result<Value, CardIssuanceError> {
        self.get(
            "enrollment_detail",
            "3ds/v2/detail",
            &[("card_id", card_id.as_str())],
        )
        .await
    }

    /// `GET card/v2/detail?card_id=`: the budget the card was issued from, which says
    /// which card program it is. The path is inferred — the single-card sibling of the
    /// documented card list `card/v2/detail-list`, whose cards carry their budget — and
    /// served by the sandbox; `None` when the answer names no budget.
    pub async fn card_budget(&self, card_id: &CardId) -> Result<Option<String>, CardIssuanceError> {
        let envelope = self
            .get(
                "card_detail",
                "card/v2/detail",
                &[("card_id", card_id.as_str())],
            )
            .await?;
        Ok(answer::card_budget(&envelope))
    }

    /// `POST 3ds/v2/unenroll` with `{"card_id"}`: removes the card's 3DS link. The path
    /// is INFERRED (the documentation names "Unenroll Card from 3DS" without its page):
    /// the path and envelope of its siblings, served by the sandbox. Repeating it is
    /// harmless (a second answers `CARD_NOT_ENROLLED`).
    pub async fn unenroll(&self, card_id: &CardId) -> Result<Value, CardIssuanceError> {
        self.post(
            "unenroll",
            "3ds/v2/unenroll",
            RetryPolicy::Idempotent,
            &wire::UnenrollRequest {
                card_id: card_id.to_string(),
            },
        )
        .await
    }

    /// `POST 3ds/v2/update`: re-points an enrolled card (repeating it is harmless).
    pub async fn update_enrollment(
        &self,
        card_id: &CardId,
        cardholder_id: &CardholderId,
    ) -> Result<Value, CardIssuanceError> {
        self.post(
            "update_enrollment",
            "3ds/v2/update",
            RetryPolicy::Idempotent,
            &enrollment_body(card_id, cardholder_id),
        )
        .await
    }

    /// `POST 3ds/v2/enroll`, made idempotent: retried like a read (a repeat that lands
    /// twice is answered 409), and a 409 is reconciled through the enrollment detail —
    /// linked to this same cardholder means enrolled (our earlier attempt, or the
    /// caller's retry after a timeout), another cardholder stays a conflict.
    pub async fn enroll(
        &self,
        card_id: &CardId,
        cardholder_id: &CardholderId,
    ) -> Result<Enrolled, CardIssuanceError> {
        let body = enrollment_body(card_id, cardholder_id);
        match self
            .post("enroll", "3ds/v2/enroll", RetryPolicy::Idempotent, &body)
            .await
        {
            Ok(envelope) => Ok(Enrolled {
                envelope,
                reconciled: false,
            }),
            Err(CardIssuanceError::Refused(conflict))
                if conflict.kind == RefusalKind::AlreadyEnrolled =>
            {
                self.reconcile_conflict(card_id, cardholder_id, conflict)
                    .await
            }
            Err(other) => Err(other),
        }
    }

    async fn reconcile_conflict(
        &self,
        card_id: &CardId,
        cardholder_id: &CardholderId,
        conflict: Refusal,
    ) -> Result<Enrolled, CardIssuanceError> {
        // The 409 stands whatever the detail says; it only tells whose it is.
        let detail = match self.enrollment_detail(card_id).await {
            Ok(detail) => detail,
            Err(error) => {
                tracing::warn!(%error, "the enrollment detail after a 409 could not be read");
                return Err(CardIssuanceError::AlreadyEnrolled {
                    conflict,
                    linked_budget: None,
                });
            }
        };
        let linked = |field: &str| {
            detail
                .pointer(&format!("/data/{field}"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        if linked("cardholder_id").as_deref() != Some(cardholder_id.as_str()) {
            return Err(CardIssuanceError::AlreadyEnrolled {
                conflict,
                linked_budget: linked("budget_id"),
            });
        }
        tracing::info!("enroll answered 409 for the same cardholder: reconciled as enrolled");
        Ok(Enrolled {
            envelope: serde_json::json!({
                "code": "SUCCESS",
                "data": { "isSuccess": true, "reconciled": true }
            }),
            reconciled: true,
        })
    }
}

fn enrollment_body(card_id: &CardId, cardholder_id: &CardholderId) -> wire::CardEnrollmentRequest {
    wire::CardEnrollmentRequest {
        card_id: card_id.to_string(),
        cardholder_id: cardholder_id.to_string(),
    }
}

//! The check-enroll function (merchant side): drop-in setup and check enroll of the
//! payer-authentication API, with the authentication session kept in the store, and the
//! status of a stored authentication.
//!
//! Check enroll is one claim, one upstream call, one outcome write: the claim makes
//! concurrent duplicates call the upstream once; a replay of the same request is answered
//! from the store; the same reference code with another request is a conflict; an upstream
//! fault releases the claim so the request can be retried to completion.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router, middleware};
use serde_json::{Value, json};
use url::Url;

use crate::api::{self, ApiError, Caller, HasClientKeys, JsonBody};
use crate::callback::callback_url;
use crate::clock::{SharedClock, rfc3339, utc_date};
use crate::config::{CheckEnrollConfig, ClientKeys, SessionKeys, SessionSettings};
use crate::http_client::HttpClient;
use crate::redirect::ReturnUrlPolicy;
use crate::session::{
    self, Applied, AuthenticationSession, CardSummary, EnrollmentOutcome, SessionState, Sessions,
    Transition,
};
use crate::store::SharedStore;
use crate::upstream::payer_auth::{
    CheckEnrollRequest, ENROLL_PATH, EnrollmentDecision, PayerAuthClient, SETUP_PATH, SetupRequest,
    validate_reference_code,
};

/// How long the record of a session whose challenge is pending outlives its deadline
/// before DynamoDB's TTL may remove it (with the sealed card data). Decided sessions keep
/// `SESSION_TTL_SECS`.
const PENDING_RECORD_MARGIN_SECS: i64 = 24 * 3600;

pub struct MerchantApp {
    clients: ClientKeys,
    payer_auth: PayerAuthClient,
    sessions: Sessions,
    keys: SessionKeys,
    return_urls: ReturnUrlPolicy,
    public_base_url: Option<Url>,
    settings: SessionSettings,
}

impl HasClientKeys for MerchantApp {
    fn client_keys(&self) -> &ClientKeys {
        &self.clients
    }
}

/// A response replayed from the store carries this header.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

pub(crate) fn replayed(body: Value) -> Response {
    let mut response = Json(body).into_response();
    response
        .headers_mut()
        .insert(REPLAYED_HEADER, http::HeaderValue::from_static("true"));
    response
}

pub(crate) fn note_reference(reference_code: &str) {
    tracing::Span::current().record("reference_code", reference_code);
}

pub(crate) fn reference_in_use() -> ApiError {
    ApiError::Conflict {
        code: "REFERENCE_CODE_IN_USE",
        message: "this reference_code was already used with a different request".into(),
    }
}

impl MerchantApp {
    pub fn new(
        config: &CheckEnrollConfig,
        http: HttpClient,
        store: SharedStore,
        clock: SharedClock,
    ) -> Self {
        Self {
            clients: config.clients.clone(),
            payer_auth: PayerAuthClient::new(http, &config.payer_auth),
            sessions: Sessions::new(store, clock),
            keys: config.keys.clone(),
            return_urls: config.return_urls.clone(),
            public_base_url: config.public_base_url.clone(),
            settings: config.session.clone(),
        }
    }

    fn now_ms(&self) -> i64 {
        self.sessions.now_ms()
    }

    /// Where the browser comes back after the challenge: our callback route, bound to
    /// this session.
    fn return_url_for(&self, parts: &Parts, reference_code: &str) -> Result<Url, ApiError> {
        let base = self
            .public_base_url
            .clone()
            .or_else(|| api::public_base_url_from_context(parts))
            .ok_or_else(|| {
                ApiError::Internal(
                    "PUBLIC_BASE_URL is not set and the request did not come through API Gateway"
                        .into(),
                )
            })?;
        Ok(callback_url(
            &base,
            reference_code,
            &self.keys.return_url_binding(reference_code),
        ))
    }
}

pub fn router(app: Arc<MerchantApp>) -> Router {
    Router::new()
        .route(SETUP_PATH, post(setup))
        .route(ENROLL_PATH, post(check_enroll))
        .route("/v1/risk/authentication/{reference_code}", get(status))
        .fallback(api::route_not_found)
        .method_not_allowed_fallback(api::method_not_allowed)
        .with_state(app)
        .layer(middleware::map_response(api::payer_auth_envelope))
        .layer(middleware::from_fn(api::request_span))
}

/// `POST /v1/risk/authentication/setup`: forwarded, then recorded with one conditional
/// write. A replay gets the stored answer. (The upstream setup is repeated on a replay —
/// the write that detects it comes after the call, keeping the happy path read-free — and
/// is harmless: setup creates no authentication.)
async fn setup(
    State(app): State<Arc<MerchantApp>>,
    caller: Caller,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let request: SetupRequest = api::typed(body.clone())?;
    request.validate(utc_date(app.now_ms()))?;
    let reference = request.transaction_info.reference_code.trim().to_owned();
    note_reference(&reference);
    let fingerprint = app.keys.fingerprint("setup", &caller.client_id, &body);
    let answer = app.payer_auth.setup(&body).await?;
    let key = session::key(&reference);
    let now = app.now_ms();
    let record = Transition::RecordSetup {
        reference_code: reference.clone(),
        client_id: caller.client_id.clone(),
        fingerprint: fingerprint.clone(),
        response: app.keys.seal(&key, "setup_response", &answer.body),
        now_ms: now,
        expires_at: app.settings.record_expiry(now),
    };
    match app.sessions.apply(&reference, &record).await? {
        Applied::Done(_) => {
            tracing::info!("payer authentication set up");
            Ok(Json(answer.body).into_response())
        }
        Applied::Refused(Some(current))
            if current.client_id == caller.client_id
                && current.setup_fingerprint.as_deref() == Some(fingerprint.as_str()) =>
        {
            let sealed = current
                .setup_response
                .as_ref()
                .ok_or_else(|| ApiError::Internal("a recorded setup has no response".into()))?;
            tracing::info!("setup replayed from the store");
            Ok(replayed(app.keys.open(&key, "setup_response", sealed)?))
        }
        Applied::Refused(_) => Err(reference_in_use()),
    }
}

/// What a claim attempt came to.
enum Claim {
    Granted {
        claim_id: String,
    },
    /// Answered from the store (a replay, or a duplicate that waited for the first).
    Answered(Response),
}

impl MerchantApp {
    async fn claim_enrollment(
        &self,
        reference: &str,
        caller: &Caller,
        fingerprint: &str,
    ) -> Result<Claim, ApiError> {
        let key = session::key(reference);
        // Twice at most: a duplicate that waited for the first request and saw it fail
        // (its claim released) may take the claim itself.
        for _ in 0..2 {
            let claim_id = uuid::Uuid::new_v4().to_string();
            let now = self.now_ms();
            let claim = Transition::ClaimEnrollment {
                reference_code: reference.to_owned(),
                client_id: caller.client_id.clone(),
                fingerprint: fingerprint.to_owned(),
                claim_id: claim_id.clone(),
                now_ms: now,
                lease_until_ms: now + self.settings.claim_lease.as_millis() as i64,
                expires_at: self.settings.record_expiry(now),
            };
            let current = match self.sessions.apply(reference, &claim).await? {
                Applied::Done(_) => return Ok(Claim::Granted { claim_id }),
                Applied::Refused(current) => current.ok_or_else(|| {
                    ApiError::Internal("a refused claim returned no record".into())
                })?,
            };
            if current.client_id != caller.client_id {
                return Err(reference_in_use());
            }
            let same_request = current.enroll_fingerprint.as_deref() == Some(fingerprint);
            let current = if same_request && current.is_claimed_at(self.now_ms()) {
                tracing::info!("a duplicate request is in flight: waiting for its outcome");
                self.sessions
                    .wait_while_claimed(reference, self.settings.settle_wait)
                    .await?
                    .map(Box::new)
                    .unwrap_or(current)
            } else {
                current
            };
            if current.state == SessionState::SetupCompleted
                && current.client_id == caller.client_id
            {
                continue;
            }
            if current.enroll_fingerprint.as_deref() != Some(fingerprint) {
                return Err(reference_in_use());
            }
            if let Some(sealed) = &current.enroll_response {
                tracing::info!("check enroll replayed from the store");
                return Ok(Claim::Answered(replayed(self.keys.open(
                    &key,
                    "enroll_response",
                    sealed,
                )?)));
            }
            break;
        }
        Err(ApiError::Conflict {
            code: "REQUEST_IN_PROGRESS",
            message: "a request with this reference_code is being processed; retry shortly".into(),
        })
    }

    async fn release_enrollment(&self, reference: &str, claim_id: &str) {
        let release = Transition::ReleaseEnrollment {
            claim_id: claim_id.to_owned(),
            now_ms: self.now_ms(),
        };
        match self.sessions.apply(reference, &release).await {
            Ok(Applied::Done(_)) => tracing::info!("claim released: the request can be retried"),
            Ok(Applied::Refused(_)) => tracing::warn!("claim was no longer ours to release"),
            // The lease runs out on its own.
            Err(error) => tracing::warn!(%error, "could not release the claim"),
        }
    }
}

/// `POST /v1/risk/authentication/enroll` (check enroll).
async fn check_enroll(
    State(app): State<Arc<MerchantApp>>,
    caller: Caller,
    parts: Parts,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let request: CheckEnrollRequest = api::typed(body.clone())?;
    let merchant_return_url = request.validate(utc_date(app.now_ms()), &app.return_urls)?;
    let reference = request.transaction_info.reference_code.trim().to_owned();
    note_reference(&reference);
    let our_return_url = app.return_url_for(&parts, &reference)?;
    let fingerprint = app
        .keys
        .fingerprint("check_enroll", &caller.client_id, &body);

    let claim_id = match app
        .claim_enrollment(&reference, &caller, &fingerprint)
        .await?
    {
        Claim::Granted { claim_id } => claim_id,
        Claim::Answered(response) => return Ok(response),
    };

    // The upstream (and the ACS behind it) sends the browser back to us, not to the
    // merchant: we validate first, then redirect the browser to the merchant, signed.
    let mut upstream_body = body;
    upstream_body["authentication"]["return_url"] = Value::String(our_return_url.to_string());
    let decided = match app.payer_auth.check_enroll(&upstream_body).await {
        Ok(answer) => answer
            .enrollment_decision()
            .map(|decision| (answer, decision))
            .map_err(ApiError::from),
        Err(error) => Err(ApiError::from(error)),
    };
    let (answer, decision) = match decided {
        Ok(decided) => decided,
        Err(error) => {
            // Not a decline: nothing was decided. Free the session for a retry.
            app.release_enrollment(&reference, &claim_id).await;
            return Err(error);
        }
    };

    let key = session::key(&reference);
    let now = app.now_ms();
    let upstream_card = answer.card_summary();
    let mut card = request.card.summary();
    card.network = upstream_card.network.or(card.network);
    card.bin = card.bin.or(upstream_card.bin);
    let (outcome, expires_at) = match decision {
        EnrollmentDecision::Authenticated(result) => (
            EnrollmentOutcome::Final {
                state: SessionState::Authenticated,
                result,
            },
            app.settings.record_expiry(now),
        ),
        EnrollmentDecision::Failed(result) => (
            EnrollmentOutcome::Final {
                state: SessionState::Failed,
                result,
            },
            app.settings.record_expiry(now),
        ),
        EnrollmentDecision::ChallengeRequired {
            authentication_transaction_id,
        } => {
            let deadline = now + app.settings.challenge_deadline.as_millis() as i64;
            (
                EnrollmentOutcome::Challenge {
                    transaction_mac: app.keys.transaction_mac(&authentication_transaction_id),
                    authentication_transaction_id,
                    challenge_deadline_ms: deadline,
                    merchant_return_url: merchant_return_url.to_string(),
                    sealed_payment_data: app.keys.seal(
                        &key,
                        "payment_data",
                        &request.payment_data(),
                    ),
                },
                deadline / 1000 + PENDING_RECORD_MARGIN_SECS,
            )
        }
    };
    let complete = Transition::CompleteEnrollment {
        claim_id,
        outcome,
        card,
        response: app.keys.seal(&key, "enroll_response", &answer.body),
        now_ms: now,
        expires_at,
    };
    let state = complete.target();
    match app.sessions.apply(&reference, &complete).await? {
        Applied::Done(_) => {
            tracing::info!(state = state.as_str(), "check enroll recorded");
            Ok(Json(answer.body).into_response())
        }
        Applied::Refused(_) => Err(ApiError::Conflict {
            code: "SESSION_SUPERSEDED",
            message: "the session changed while the upstream call was in flight; retry the request"
                .into(),
        }),
    }
}

/// `GET /v1/risk/authentication/{reference_code}`: the stored state and result.
async fn status(
    State(app): State<Arc<MerchantApp>>,
    caller: Caller,
    Path(reference): Path<String>,
) -> Result<Json<Value>, ApiError> {
    validate_reference_code("reference_code", &reference)?;
    note_reference(&reference);
    let session = app
        .sessions
        .get(&reference)
        .await?
        .filter(|s| s.client_id == caller.client_id)
        .ok_or_else(|| ApiError::NotFound {
            code: "SESSION_NOT_FOUND",
            message: "no authentication with this reference_code".into(),
        })?;
    let now = app.now_ms();
    let state = session.effective_state(now);
    if state == SessionState::Expired && session.state != SessionState::Expired {
        // Expiry is decided here, in code; recording it also drops the sealed card data.
        let expire = Transition::Expire {
            now_ms: now,
            expires_at: app.settings.record_expiry(now),
        };
        if let Err(error) = app.sessions.apply(&reference, &expire).await {
            tracing::warn!(%error, "could not record the expiry");
        }
    }
    Ok(Json(json!({
        "status": "success",
        "message": "Authentication found",
        "data": status_view(&session, state),
    })))
}

/// The merchant-facing view of a session: outcome fields, BIN and last four — never the
/// card number, expiry, tokens or the sealed data.
pub fn status_view(session: &AuthenticationSession, state: SessionState) -> Value {
    let card = session.card.clone().unwrap_or_default();
    let CardSummary {
        bin,
        last4,
        network,
    } = card;
    let mut view = json!({
        "reference_code": session.reference_code,
        "state": state.as_str(),
        "created_at": rfc3339(session.created_at),
        "updated_at": rfc3339(session.updated_at),
        "card": {"bin": bin, "last4": last4, "network": network},
    });
    if let Some(deadline) = session.challenge_deadline {
        view["challenge_deadline"] = json!(rfc3339(deadline));
    }
    if let Some(tid) = &session.authentication_transaction_id {
        view["authentication_transaction_id"] = json!(tid);
    }
    if let Some(result) = &session.result {
        view["transaction_status"] = json!(result.transaction_status);
        view["authentication"] = json!({
            "eci": result.eci,
            "eci_raw": result.eci_raw,
            "cavv": result.cavv,
            "xid": result.xid,
            "pares_status": result.pares_status,
            "veres_enrolled": result.veres_enrolled,
            "commerce_indicator": result.commerce_indicator,
            "authentication_transaction_id": result.authentication_transaction_id,
            "specification_version": result.specification_version,
            "liability_shift": result.liability_shift(network.as_deref()),
        });
    }
    view
}

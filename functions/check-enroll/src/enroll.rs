//! `POST /v1/risk/authentication/enroll` (check enroll): one claim, one upstream call,
//! one outcome write. The claim makes concurrent duplicates call the upstream once; a
//! replay of the same request is answered from the store; the same reference code with
//! another request is a conflict; an upstream fault releases the claim so the request can
//! be retried to completion.

use axum::Json;
use axum::extract::State;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use gateway::config::SessionSettings;
use gateway::domain::ReferenceCode;
use gateway::error::{ApiError, ErrorCode};
use gateway::http::{self, Caller, JsonBody};
use gateway::merchant::requests::ValidCheckEnroll;
use gateway::session::claim::{ClaimRequest, Held, NextStep, Verdict};
use gateway::session::{
    self, AuthenticationSession, EnrollmentOutcome, Recorded, SessionKeys, SessionState, Transition,
};
use gateway::telemetry::note_reference;
use gateway::upstream::payer_auth::{EnrollmentDecision, PayerAuthAnswer};
use serde_json::Value;

use crate::State as AppState;

/// How long the record of a session whose challenge is pending outlives its deadline
/// before DynamoDB's TTL may remove it (with the sealed card data). Decided sessions keep
/// `SESSION_TTL_SECS`.
const PENDING_RECORD_MARGIN_SECS: i64 = 24 * 3600;

pub(crate) async fn check_enroll(
    State(app): State<AppState>,
    caller: Caller,
    parts: Parts,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let merchant = &app.merchant;
    let request = ValidCheckEnroll::parse(
        http::from_value(body.clone())?,
        merchant.today(),
        &merchant.return_urls,
    )?;
    note_reference(request.reference.as_str());
    let our_return_url = app.return_url_for(&parts, &request.reference)?;
    let claim = EnrollmentClaim {
        reference: &request.reference,
        client_id: &caller.client_id,
        fingerprint: merchant
            .keys
            .fingerprint("check_enroll", &caller.client_id, &body),
        settings: &merchant.settings,
    };
    let held = match merchant
        .sessions
        .claim(request.reference.as_str(), &claim, &merchant.settings)
        .await?
    {
        NextStep::Proceed(held) => held,
        NextStep::Replay(session) => return replay(&merchant.keys, &session),
        NextStep::Refused(code) => return Err(code.into()),
        NextStep::InProgress => return Err(ErrorCode::RequestInProgress.into()),
        NextStep::Expired(_) | NextStep::NotFound => {
            return Err(ApiError::Internal(
                "an enrollment claim cannot expire".into(),
            ));
        }
    };
    // The upstream (and the ACS behind it) sends the browser back to us, not to the
    // merchant: we validate first, then redirect the browser to the merchant, signed.
    let mut upstream_body = body;
    upstream_body["authentication"]["return_url"] = Value::String(our_return_url.to_string());
    let (answer, decision) = match ask_upstream(&app, &upstream_body).await {
        Ok(decided) => decided,
        Err(error) => {
            // Not a decline: nothing was decided. Free the session for a retry.
            let release = Transition::ReleaseEnrollment {
                claim_id: held.claim_id.clone(),
                now_ms: merchant.now_ms(),
            };
            merchant.sessions.release(&held, &release).await;
            return Err(error);
        }
    };
    let complete = completion(&app, &held, &request, &answer, decision);
    let state = complete.target();
    match merchant.sessions.complete(&held, &complete).await? {
        Recorded::Done(_) => {
            tracing::info!(state = state.as_str(), "check enroll recorded");
            Ok(Json(answer.body).into_response())
        }
        Recorded::Refused(_) => Err(ErrorCode::SessionSuperseded.into()),
    }
}

/// The enrollment claim: by reference code, for one caller and one request body.
struct EnrollmentClaim<'a> {
    reference: &'a ReferenceCode,
    client_id: &'a str,
    fingerprint: String,
    settings: &'a SessionSettings,
}

impl ClaimRequest for EnrollmentClaim<'_> {
    type Refusal = ErrorCode;

    fn claim(&self, claim_id: &str, now_ms: i64, lease_until_ms: i64) -> Transition {
        Transition::ClaimEnrollment {
            reference_code: self.reference.to_string(),
            client_id: self.client_id.to_owned(),
            fingerprint: self.fingerprint.clone(),
            claim_id: claim_id.to_owned(),
            now_ms,
            lease_until_ms,
            expires_at: self.settings.record_expiry(now_ms),
        }
    }

    fn inspect(&self, session: &AuthenticationSession, now_ms: i64) -> Verdict<ErrorCode> {
        if session.client_id != self.client_id {
            return Verdict::Refuse(ErrorCode::ReferenceCodeInUse);
        }
        // Set up, or released by a duplicate whose upstream call failed: ours to claim.
        if session.state == SessionState::SetupCompleted {
            return Verdict::Retry;
        }
        if session.enroll_fingerprint.as_deref() != Some(self.fingerprint.as_str()) {
            return Verdict::Refuse(ErrorCode::ReferenceCodeInUse);
        }
        if session.is_claimed_at(now_ms) {
            return Verdict::Wait;
        }
        if session.enroll_response.is_some() {
            return Verdict::Replay;
        }
        Verdict::Retry
    }
}

/// The stored answer of a check enroll already made with this request.
fn replay(keys: &SessionKeys, session: &AuthenticationSession) -> Result<Response, ApiError> {
    let sealed = session
        .enroll_response
        .as_ref()
        .ok_or_else(|| ApiError::Internal("a decided enrollment has no answer".into()))?;
    tracing::info!("check enroll replayed from the store");
    let record_key = session::key(&session.reference_code);
    Ok(http::replayed(keys.open(
        &record_key,
        "enroll_response",
        sealed,
    )?))
}

async fn ask_upstream(
    app: &AppState,
    body: &Value,
) -> Result<(PayerAuthAnswer, EnrollmentDecision), ApiError> {
    let answer = app.merchant.payer_auth.check_enroll(body).await?;
    let decision = answer.enrollment_decision()?;
    Ok((answer, decision))
}

/// The write that records the upstream's decision: final for a frictionless outcome;
/// for a challenge, what validate needs later (sealed) and the deadline.
fn completion(
    app: &AppState,
    held: &Held,
    request: &ValidCheckEnroll,
    answer: &PayerAuthAnswer,
    decision: EnrollmentDecision,
) -> Transition {
    let merchant = &app.merchant;
    let record_key = session::key(request.reference.as_str());
    let now = merchant.now_ms();
    let (outcome, expires_at) = match decision {
        EnrollmentDecision::Authenticated(result) => (
            EnrollmentOutcome::Final {
                state: SessionState::Authenticated,
                result,
            },
            merchant.settings.record_expiry(now),
        ),
        EnrollmentDecision::Failed(result) => (
            EnrollmentOutcome::Final {
                state: SessionState::Failed,
                result,
            },
            merchant.settings.record_expiry(now),
        ),
        EnrollmentDecision::ChallengeRequired {
            authentication_transaction_id,
        } => {
            let deadline = now + merchant.settings.challenge_deadline.as_millis() as i64;
            (
                EnrollmentOutcome::Challenge {
                    transaction_mac: merchant
                        .keys
                        .transaction_mac(&authentication_transaction_id),
                    authentication_transaction_id,
                    challenge_deadline_ms: deadline,
                    merchant_return_url: request.merchant_return_url.to_string(),
                    sealed_payment_data: merchant.keys.seal(
                        &record_key,
                        "payment_data",
                        &request.payment_data(),
                    ),
                },
                deadline / 1000 + PENDING_RECORD_MARGIN_SECS,
            )
        }
    };
    Transition::CompleteEnrollment {
        claim_id: held.claim_id.clone(),
        outcome,
        card: request.card_summary().merged_with(answer.card_summary()),
        response: merchant
            .keys
            .seal(&record_key, "enroll_response", &answer.body),
        now_ms: now,
        expires_at,
    }
}

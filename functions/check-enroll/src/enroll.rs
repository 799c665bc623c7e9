//! `POST /v1/risk/authentication/enroll` (check enroll): one claim, one upstream call,
//! one outcome write. The claim makes concurrent duplicates call the upstream once; a
//! replay of the same request is answered from the store; the same reference code with
//! another request is a conflict; an upstream fault releases the claim so the request can
//! be retried to completion.

use std::time::Instant;

use axum::Json;
use axum::extract::State;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use gateway::config::Secret;
use gateway::error::{ApiError, ErrorCode};
use gateway::http::{self, JsonBody, MerchantCaller};
use gateway::keys::GatewayKeys;
use gateway::lease::NextStep;
use gateway::merchant::requests::ValidCheckEnroll;
use gateway::session::claims::{EnrollmentClaim, EnrollmentRefusal, HeldSession, KeyedValue};
use gateway::session::sealing::seal_result;
use gateway::session::{
    EnrollmentOutcome, Recorded, SessionRef, SessionState, StoredAnswer, Transition,
};
use gateway::telemetry::note_reference;
use gateway::upstream::payer_auth::wire::CheckEnrollRequest;
use gateway::upstream::payer_auth::{EnrollmentDecision, PayerAuthAnswer};
use serde_json::Value;

use crate::State as AppState;

/// How long the record of a session whose challenge is pending outlives its deadline
/// before DynamoDB's TTL may remove it (with the sealed card data). Decided sessions keep
/// `SESSION_TTL_SECS`.
const PENDING_RECORD_MARGIN_SECS: i64 = 24 * 3600;

pub(crate) async fn check_enroll(
    State(app): State<AppState>,
    caller: MerchantCaller,
    parts: Parts,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let merchant = &app.merchant;
    let request =
        ValidCheckEnroll::from_body(body, merchant.today(), &caller.merchant().return_urls)?;
    note_reference(request.reference.as_str());
    let session = SessionRef::new(caller.id().clone(), request.reference.clone());
    let keys = merchant.keys().await?;
    let our_return_url = app.return_url_for(&parts, &session, &keys)?;
    let api_key = merchant.payer_auth_key(caller.merchant()).await?;
    let claim = EnrollmentClaim {
        fingerprint: KeyedValue::new(keys.fingerprints(
            "check_enroll",
            session.tenant.as_str(),
            &request.fingerprint_body(),
        )),
        record_ttl: merchant.sessions.settings().record_ttl,
    };
    let held = match take_claim(&app, &session, &keys, &claim).await? {
        Claimed::Held(held) => held,
        Claimed::Answered(replay) => return Ok(replay),
    };
    // The upstream (and the ACS behind it) sends the browser back to us, not to the
    // merchant: we validate first, then redirect the browser to the merchant, signed.
    let upstream_body = request.upstream_body(&our_return_url);
    let deadline = held.deadline(merchant.now_ms());
    let (answer, decision) = match ask_upstream(&app, &api_key, &upstream_body, deadline).await {
        Ok(decided) => decided,
        Err(error) => {
            // Not a decline: nothing was decided. Free the session for a retry.
            merchant.sessions.release(&claim, &held).await;
            return Err(error);
        }
    };
    let completion_mode = request.completion.unwrap_or(caller.merchant().completion);
    let outcome = record_decision(
        &app,
        &keys,
        &held,
        &request,
        &answer,
        decision,
        completion_mode,
    );
    let complete = Transition::CompleteEnrollment {
        claim_id: held.claim_id.clone(),
        card: request.card_summary().merged_with(answer.card_summary()),
        amount: request.authenticated_amount(),
        response: StoredAnswer::Enroll.seal(&keys, &session, &answer.body),
        now_ms: merchant.now_ms(),
        expires_at: outcome.1,
        outcome: outcome.0,
    };
    match merchant.sessions.complete(&held, &complete).await? {
        Recorded::Done(_) => {
            tracing::info!(state = complete.target().as_str(), "check enroll recorded");
            Ok(Json(answer.body).into_response())
        }
        Recorded::Refused(_) => Err(ErrorCode::SessionSuperseded.into()),
    }
}

/// Where the claim left this request.
enum Claimed {
    /// Ours: make the upstream call.
    Held(HeldSession),
    /// Answered from the store (a replay, or the duplicate we waited for).
    Answered(Response),
}

async fn take_claim(
    app: &AppState,
    session: &SessionRef,
    keys: &GatewayKeys,
    claim: &EnrollmentClaim,
) -> Result<Claimed, ApiError> {
    let sessions = &app.merchant.sessions;
    match sessions.claim(session, claim).await? {
        NextStep::Proceed(held) => Ok(Claimed::Held(held)),
        NextStep::Replay(stored) => {
            let answer = sessions
                .stored_answer(keys, &stored, StoredAnswer::Enroll)?
                .ok_or_else(|| ApiError::Internal("a decided enrollment has no answer".into()))?;
            tracing::info!("check enroll replayed from the store");
            Ok(Claimed::Answered(http::replayed(answer)))
        }
        NextStep::Refused(EnrollmentRefusal::ReferenceInUse) => {
            Err(ErrorCode::ReferenceCodeInUse.into())
        }
        NextStep::InProgress => Err(ErrorCode::RequestInProgress.into()),
        NextStep::Closed(_) | NextStep::NotFound => Err(ApiError::Internal(
            "an enrollment claim can neither miss its session nor close it".into(),
        )),
    }
}

async fn ask_upstream(
    app: &AppState,
    api_key: &Secret,
    body: &CheckEnrollRequest,
    deadline: Instant,
) -> Result<(PayerAuthAnswer, EnrollmentDecision), ApiError> {
    let answer = app
        .merchant
        .payer_auth
        .check_enroll(api_key, body, deadline)
        .await?;
    Ok(answer.into_enrollment()?)
}

/// What the session records of the upstream's decision, and until when it is kept: final
/// for a frictionless outcome; for a challenge, what validate needs later (sealed) and the
/// deadline.
fn record_decision(
    app: &AppState,
    keys: &GatewayKeys,
    held: &HeldSession,
    request: &ValidCheckEnroll,
    answer: &PayerAuthAnswer,
    decision: EnrollmentDecision,
    completion: gateway::domain::CompletionMode,
) -> (EnrollmentOutcome, i64) {
    let sessions = &app.merchant.sessions;
    let record_key = held.key.key();
    let now = sessions.now_ms();
    let decided = |state, result| {
        (
            EnrollmentOutcome::Final {
                state,
                result: Box::new(seal_result(keys, &record_key, result)),
            },
            sessions.record_expiry(now),
        )
    };
    match decision {
        EnrollmentDecision::Authenticated(result) => decided(SessionState::Authenticated, result),
        EnrollmentDecision::Failed(result) => decided(SessionState::Failed, result),
        EnrollmentDecision::ChallengeRequired {
            authentication_transaction_id,
        } => {
            let deadline = now + sessions.settings().challenge_deadline.as_millis() as i64;
            (
                EnrollmentOutcome::Challenge {
                    transaction_mac: keys.transaction_macs(&authentication_transaction_id)[0]
                        .clone(),
                    authentication_transaction_id,
                    challenge_deadline_ms: deadline,
                    completion,
                    merchant_return_url: request.merchant_return_url.to_string(),
                    sealed_payment_data: keys.seal(
                        &record_key,
                        "payment_data",
                        &request.payment_data(),
                    ),
                    enrollment_result: Box::new(answer.result()),
                },
                deadline / 1000 + PENDING_RECORD_MARGIN_SECS,
            )
        }
    }
}

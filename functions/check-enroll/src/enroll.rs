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
use gateway::domain::CompletionMode;
use gateway::error::{ApiError, ErrorCode};
use gateway::http::{self, JsonBody, MerchantCaller};
use gateway::merchant::requests::ValidCheckEnroll;
use gateway::session::claim::{Held, NextStep};
use gateway::session::claims::{EnrollmentClaim, EnrollmentRefusal, KeyedValue};
use gateway::session::state::sweep_partition;
use gateway::session::{
    AuthenticationSession, EnrollmentOutcome, Recorded, SessionKeys, SessionRef, SessionState,
    Transition,
};
use gateway::telemetry::note_reference;
use gateway::upstream::payer_auth::answer::challenge_window_size;
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
    let request = ValidCheckEnroll::parse(
        http::from_value(body.clone())?,
        merchant.today(),
        &caller.merchant().return_urls,
    )?;
    note_reference(request.reference.as_str());
    // An added field of ours (dropped before the upstream): how the challenge ends.
    let asked_completion = match body.get("completion") {
        None | Some(Value::Null) => None,
        Some(Value::String(mode)) => Some(CompletionMode::parse("completion", mode)?),
        Some(_) => {
            return Err(ApiError::invalid(
                "completion",
                "must be redirect, top or post_message",
            ));
        }
    };
    let completion_mode = asked_completion.unwrap_or(caller.merchant().completion);
    let session = SessionRef::new(caller.id().clone(), request.reference.clone());
    let keys = merchant.keys().await?;
    let our_return_url = app.return_url_for(&parts, &session, &keys)?;
    let api_key = merchant.payer_auth_key(caller.merchant()).await?;
    // The request as the merchant sent it, typed and normalised: what a replay is.
    let mut canonical = serde_json::to_value(request.upstream_body(&request.merchant_return_url))
        .expect("check-enroll requests serialize");
    if let Some(mode) = asked_completion {
        canonical["completion"] = Value::from(mode.as_str());
    }
    let held = match take_claim(&app, &session, &keys, &canonical).await? {
        Claimed::Held(held) => held,
        Claimed::Answered(replay) => return Ok(replay),
    };
    // The upstream (and the ACS behind it) sends the browser back to us, not to the
    // merchant: we validate first, then redirect the browser to the merchant, signed.
    let upstream_body = request.upstream_body(&our_return_url);
    let deadline = held.upstream_deadline(merchant.now_ms());
    let (mut answer, decision) = match ask_upstream(&app, &api_key, &upstream_body, deadline).await
    {
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
    // Added to the upstream's answer (nothing renamed): the size the challenge frame needs.
    if matches!(decision, EnrollmentDecision::ChallengeRequired { .. })
        && let Some(size) = challenge_window_size(&answer.body)
        && let Some(info) = answer.body.pointer_mut("/data/consumer_auth_info")
    {
        info["challenge_window_size"] = Value::from(size);
    }
    let complete = completion(
        &app,
        &keys,
        &held,
        &request,
        &answer,
        decision,
        completion_mode,
    );
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
    Held(Held),
    /// Answered from the store (a replay, or the duplicate we waited for).
    Answered(Response),
}

async fn take_claim(
    app: &AppState,
    session: &SessionRef,
    keys: &SessionKeys,
    body: &Value,
) -> Result<Claimed, ApiError> {
    let merchant = &app.merchant;
    let tenant = session.tenant.as_str();
    let claim = EnrollmentClaim {
        reference_code: session.reference.as_str(),
        tenant_id: tenant,
        fingerprint: KeyedValue::new(keys.fingerprints("check_enroll", tenant, body)),
        settings: &merchant.settings,
    };
    match merchant
        .sessions
        .claim(session, &claim, &merchant.settings)
        .await?
    {
        NextStep::Proceed(held) => Ok(Claimed::Held(held)),
        NextStep::Replay(stored) => replay(keys, session, &stored).map(Claimed::Answered),
        NextStep::Refused(EnrollmentRefusal::ReferenceInUse) => {
            Err(ErrorCode::ReferenceCodeInUse.into())
        }
        NextStep::InProgress => Err(ErrorCode::RequestInProgress.into()),
        NextStep::Expired(_) | NextStep::NotFound => Err(ApiError::Internal(
            "an enrollment claim can neither miss its session nor expire it".into(),
        )),
    }
}

/// The stored answer of a check enroll already made with this request.
fn replay(
    keys: &SessionKeys,
    session: &SessionRef,
    stored: &AuthenticationSession,
) -> Result<Response, ApiError> {
    let sealed = stored
        .enroll_response
        .as_ref()
        .ok_or_else(|| ApiError::Internal("a decided enrollment has no answer".into()))?;
    tracing::info!("check enroll replayed from the store");
    Ok(http::replayed(keys.open(
        &session.key(),
        "enroll_response",
        sealed,
    )?))
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
    let decision = answer.enrollment_decision()?;
    Ok((answer, decision))
}

/// The write that records the upstream's decision: final for a frictionless outcome;
/// for a challenge, what validate needs later (sealed) and the deadline.
fn completion(
    app: &AppState,
    keys: &SessionKeys,
    held: &Held,
    request: &ValidCheckEnroll,
    answer: &PayerAuthAnswer,
    decision: EnrollmentDecision,
    completion_mode: CompletionMode,
) -> Transition {
    let merchant = &app.merchant;
    let record_key = held.session_ref.key();
    let now = merchant.now_ms();
    let (outcome, expires_at) = match decision {
        EnrollmentDecision::Authenticated(result) => (
            EnrollmentOutcome::Final {
                state: SessionState::Authenticated,
                result: keys.seal_result(&record_key, result),
            },
            merchant.settings.record_expiry(now),
        ),
        EnrollmentDecision::Failed(result) => (
            EnrollmentOutcome::Final {
                state: SessionState::Failed,
                result: keys.seal_result(&record_key, result),
            },
            merchant.settings.record_expiry(now),
        ),
        EnrollmentDecision::ChallengeRequired {
            authentication_transaction_id,
        } => {
            let deadline = now + merchant.settings.challenge_deadline.as_millis() as i64;
            (
                EnrollmentOutcome::Challenge {
                    transaction_mac: keys.transaction_macs(&authentication_transaction_id)[0]
                        .clone(),
                    authentication_transaction_id,
                    challenge_deadline_ms: deadline,
                    sweep_partition: sweep_partition(&record_key, deadline),
                    completion: completion_mode,
                    merchant_return_url: request.merchant_return_url.to_string(),
                    sealed_payment_data: keys.seal(
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
        response: keys.seal(&record_key, "enroll_response", &answer.body),
        now_ms: now,
        expires_at,
    }
}

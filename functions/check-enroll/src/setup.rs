//! `POST /v1/risk/authentication/setup`: forwarded, then recorded with one conditional
//! write. A replay gets the stored answer. (The upstream setup is repeated on a replay —
//! the write that detects it comes after the call, keeping the happy path read-free — and
//! is harmless: setup creates no authentication.)

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use gateway::crypto::constant_time_eq;
use gateway::error::{ApiError, ErrorCode};
use gateway::http::{self, JsonBody, MerchantCaller};
use gateway::merchant::requests::ValidSetup;
use gateway::session::{Recorded, SessionRef, Transition};
use gateway::telemetry::note_reference;
use serde_json::Value;

use crate::State as AppState;

pub(crate) async fn setup(
    State(app): State<AppState>,
    caller: MerchantCaller,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let merchant = &app.merchant;
    let request = ValidSetup::parse(http::from_value(body.clone())?, merchant.today())?;
    note_reference(request.reference.as_str());
    let session = SessionRef::new(caller.id().clone(), request.reference.clone());
    let keys = merchant.keys().await?;
    let upstream_body = request.upstream_body();
    let canonical = serde_json::to_value(&upstream_body).expect("setup requests serialize");
    let fingerprints = keys.fingerprints("setup", session.tenant.as_str(), &canonical);
    let api_key = merchant.payer_auth_key(caller.merchant()).await?;
    let answer = merchant.payer_auth.setup(&api_key, &upstream_body).await?;
    let now = merchant.now_ms();
    let record = Transition::RecordSetup {
        reference_code: session.reference.to_string(),
        tenant_id: session.tenant.to_string(),
        fingerprint: fingerprints[0].clone(),
        response: keys.seal(&session.key(), "setup_response", &answer.body),
        now_ms: now,
        expires_at: merchant.settings.record_expiry(now),
    };
    match merchant.sessions.apply(&session, &record).await? {
        Recorded::Done(_) => {
            tracing::info!("payer authentication set up");
            Ok(Json(answer.body).into_response())
        }
        Recorded::Refused(Some(current))
            if current
                .setup_fingerprint
                .as_deref()
                .is_some_and(|stored| fingerprints.iter().any(|f| constant_time_eq(f, stored))) =>
        {
            let sealed = current
                .setup_response
                .as_ref()
                .ok_or_else(|| ApiError::Internal("a recorded setup has no response".into()))?;
            tracing::info!("setup replayed from the store");
            Ok(http::replayed(keys.open(
                &session.key(),
                "setup_response",
                sealed,
            )?))
        }
        Recorded::Refused(_) => Err(ErrorCode::ReferenceCodeInUse.into()),
    }
}

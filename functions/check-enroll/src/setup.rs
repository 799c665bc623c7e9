//! `POST /v1/risk/authentication/setup`: forwarded, then recorded with one conditional
//! write. A replay gets the stored answer. (The upstream setup is repeated on a replay —
//! the write that detects it comes after the call, keeping the happy path read-free — and
//! is harmless: setup creates no authentication.)

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use gateway::error::{ApiError, ErrorCode};
use gateway::http::{self, Caller, JsonBody};
use gateway::merchant::requests::ValidSetup;
use gateway::session::{self, Recorded, Transition};
use gateway::telemetry::note_reference;
use serde_json::Value;

use crate::State as AppState;

pub(crate) async fn setup(
    State(app): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let merchant = &app.merchant;
    let request = ValidSetup::parse(http::from_value(body.clone())?, merchant.today())?;
    let reference = request.reference.as_str();
    note_reference(reference);
    let fingerprint = merchant.keys.fingerprint("setup", &caller.client_id, &body);
    let answer = merchant.payer_auth.setup(&body).await?;
    let record_key = session::key(reference);
    let now = merchant.now_ms();
    let record = Transition::RecordSetup {
        reference_code: reference.to_owned(),
        client_id: caller.client_id.clone(),
        fingerprint: fingerprint.clone(),
        response: merchant
            .keys
            .seal(&record_key, "setup_response", &answer.body),
        now_ms: now,
        expires_at: merchant.settings.record_expiry(now),
    };
    match merchant.sessions.apply(reference, &record).await? {
        Recorded::Done(_) => {
            tracing::info!("payer authentication set up");
            Ok(Json(answer.body).into_response())
        }
        Recorded::Refused(Some(current))
            if current.client_id == caller.client_id
                && current.setup_fingerprint.as_deref() == Some(fingerprint.as_str()) =>
        {
            let sealed = current
                .setup_response
                .as_ref()
                .ok_or_else(|| ApiError::Internal("a recorded setup has no response".into()))?;
            tracing::info!("setup replayed from the store");
            Ok(http::replayed(merchant.keys.open(
                &record_key,
                "setup_response",
                sealed,
            )?))
        }
        Recorded::Refused(_) => Err(ErrorCode::ReferenceCodeInUse.into()),
    }
}

//! `POST /v1/risk/authentication/setup`: forwarded, then recorded with one conditional
//! write. A replay gets the stored answer. (The upstream setup is repeated on a replay —
//! the write that detects it comes after the call, keeping the happy path read-free — and
//! is harmless: setup creates no authentication.)

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use gateway::error::{ApiError, ErrorCode};
use gateway::http::{self, JsonBody, MerchantCaller};
use gateway::keys::KeyedValue;
use gateway::merchant::requests::ValidSetup;
use gateway::session::{Recorded, SessionRef, StoredAnswer};
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
    let fingerprint = KeyedValue::new(keys.fingerprints(
        "setup",
        session.tenant.as_str(),
        &request.fingerprint_body(),
    ));
    let api_key = merchant.payer_auth_key(caller.merchant()).await?;
    let answer = merchant
        .payer_auth
        .setup(&api_key, &request.upstream_body())
        .await?;
    let sealed = StoredAnswer::Setup.seal(&keys, &session, &answer.body);
    let sessions = &merchant.sessions;
    match sessions
        .record_setup(&session, fingerprint.current(), sealed)
        .await?
    {
        Recorded::Done(_) => {
            tracing::info!("payer authentication set up");
            Ok(Json(answer.body).into_response())
        }
        Recorded::Refused(Some(current))
            if current
                .setup_fingerprint
                .as_deref()
                .is_some_and(|stored| fingerprint.matches(stored)) =>
        {
            let answer = sessions
                .stored_answer(&keys, &current, StoredAnswer::Setup)?
                .ok_or_else(|| ApiError::Internal("a recorded setup has no response".into()))?;
            tracing::info!("setup replayed from the store");
            Ok(http::replayed(answer))
        }
        Recorded::Refused(_) => Err(ErrorCode::ReferenceCodeInUse.into()),
    }
}

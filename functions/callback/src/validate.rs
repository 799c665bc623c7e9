//! `POST /v1/risk/authentication/validate` (drop-in): the merchant's own validate body,
//! through the same one-shot validation as the browser's return. A replay answers the
//! stored upstream answer.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use gateway::error::{ApiError, ErrorCode};
use gateway::http::{self, Caller, JsonBody};
use gateway::merchant::requests::ValidValidate;
use gateway::session;
use gateway::telemetry::note_reference;
use serde_json::Value;

use crate::State as AppState;
use crate::validation::{Presenter, Validation};

pub(crate) async fn merchant_validate(
    State(app): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let request = ValidValidate::parse(http::from_value(body)?, app.merchant.today())?;
    note_reference(request.reference.as_str());
    let presenter = Presenter::Merchant {
        client_id: &caller.client_id,
        payment: Box::new(request.payment),
    };
    let outcome = app
        .validate_once(&request.reference, &request.transaction_id, presenter)
        .await?;
    match outcome {
        Validation::Decided { answer, .. } => Ok(Json(answer.body).into_response()),
        Validation::AlreadyDecided(session) => {
            let sealed = session
                .validate_response
                .as_ref()
                .ok_or(ApiError::of(ErrorCode::NoChallengePending))?;
            let record_key = session::key(request.reference.as_str());
            Ok(http::replayed(app.merchant.keys.open(
                &record_key,
                "validate_response",
                sealed,
            )?))
        }
        Validation::Expired(_) => Err(ErrorCode::AuthenticationExpired.into()),
        Validation::StillValidating => Err(ApiError::with_message(
            ErrorCode::RequestInProgress,
            "this authentication is being validated; retry shortly",
        )),
    }
}

//! `POST /v1/risk/authentication/validate` (drop-in): the merchant's own validate body,
//! through the same one-shot validation as the browser's return. A replay answers the
//! stored upstream answer.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use gateway::error::{ApiError, ErrorCode};
use gateway::http::{self, JsonBody, MerchantCaller};
use gateway::merchant::requests::ValidValidate;
use gateway::session::SessionRef;
use gateway::telemetry::note_reference;
use serde_json::Value;

use crate::State as AppState;
use crate::validation::{Attempt, Presenter, Validation};

pub(crate) async fn merchant_validate(
    State(app): State<AppState>,
    caller: MerchantCaller,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let request = ValidValidate::parse(http::from_value(body)?, app.merchant.today())?;
    note_reference(request.reference.as_str());
    let session = SessionRef::new(caller.id().clone(), request.reference);
    let outcome = app
        .validate_once(Attempt {
            session: &session,
            transaction_id: &request.transaction_id,
            presenter: Presenter::Merchant {
                payment: Box::new(request.payment),
            },
            merchant: caller.merchant(),
        })
        .await?;
    match outcome {
        Validation::Decided { answer, .. } => Ok(Json(answer.body).into_response()),
        Validation::AlreadyDecided(stored) => {
            let sealed = stored
                .validate_response
                .as_ref()
                .ok_or(ApiError::of(ErrorCode::NoChallengePending))?;
            let keys = app.merchant.keys().await?;
            Ok(http::replayed(keys.open(
                &session.key(),
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

//! `POST /v1/risk/authentication/validate` (drop-in): the merchant's own validate body,
//! through the same one-shot validation as the browser's return. A replay answers the
//! stored upstream answer.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use gateway::error::{ApiError, ErrorCode};
use gateway::http::{self, JsonBody, MerchantCaller};
use gateway::merchant::requests::ValidValidate;
use gateway::session::{SessionRef, StoredAnswer};
use gateway::telemetry::note_reference;
use serde_json::Value;

use gateway::merchant::validation::{Presenter, Validation, ValidationInputs};

use crate::State as AppState;

pub(crate) async fn merchant_validate(
    State(app): State<AppState>,
    caller: MerchantCaller,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let request = ValidValidate::parse(http::from_value(body)?, app.merchant.today())?;
    note_reference(request.reference.as_str());
    let session = SessionRef::new(caller.id().clone(), request.reference);
    let outcome = app
        .merchant
        .validate_once(ValidationInputs {
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
            let keys = app.merchant.keys().await?;
            let answer = app
                .merchant
                .sessions
                .stored_answer(&keys, &stored, StoredAnswer::Validate)?
                .ok_or(ApiError::of(ErrorCode::NoChallengePending))?;
            Ok(http::replayed(answer))
        }
        Validation::Expired(_) => Err(ErrorCode::AuthenticationExpired.into()),
        Validation::StillValidating => Err(ApiError::with_message(
            ErrorCode::RequestInProgress,
            "this authentication is being validated; retry shortly",
        )),
    }
}

//! `POST /v1/risk/authentication/{reference_code}/cancel`: the merchant gives up on a
//! pending challenge (the shopper left, the order was abandoned). One conditional write
//! ends it as `CANCELED` and drops its card data; its `authentication.canceled` event
//! follows from the change stream. Idempotent: canceling a canceled session answers the
//! same. A cardholder who comes back later is sent to the merchant with `status=canceled`.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use gateway::domain::ReferenceCode;
use gateway::error::{ApiError, ErrorCode};
use gateway::http::MerchantCaller;
use gateway::http::PathParams;
use gateway::session::{Recorded, SessionRef, SessionState};
use gateway::telemetry::note_reference;

use crate::State as AppState;
use crate::status::view;

pub(crate) async fn cancel(
    State(app): State<AppState>,
    caller: MerchantCaller,
    PathParams(reference): PathParams<String>,
) -> Result<Response, ApiError> {
    let reference = ReferenceCode::parse("reference_code", &reference)?;
    note_reference(reference.as_str());
    let session_ref = SessionRef::new(caller.id().clone(), reference);
    let merchant = &app.merchant;
    let now = merchant.now_ms();
    let current = match merchant.sessions.cancel(&session_ref).await? {
        Recorded::Done(canceled) => {
            tracing::info!("challenge canceled by the merchant");
            let answer = view(
                &app,
                &session_ref,
                &canceled,
                "Authentication canceled",
                None,
            );
            return answer.await.map(IntoResponse::into_response);
        }
        Recorded::Refused(None) => return Err(ErrorCode::SessionNotFound.into()),
        Recorded::Refused(Some(current)) => current,
    };
    match current.effective_state(now) {
        SessionState::Canceled => {
            let Json(body) = view(
                &app,
                &session_ref,
                &current,
                "Authentication canceled",
                None,
            )
            .await?;
            Ok(gateway::http::replayed(body))
        }
        SessionState::Validating => Err(ApiError::with_message(
            ErrorCode::RequestInProgress,
            "the cardholder's answer is being validated; read the status shortly",
        )),
        state if state.is_terminal() => Err(ApiError::with_message(
            ErrorCode::NoChallengePending,
            format!("this authentication is already {}", state.as_str()),
        )),
        _ => Err(ErrorCode::NoChallengePending.into()),
    }
}

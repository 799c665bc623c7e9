//! `POST /v1/risk/authentication/{reference_code}/consume`: the merchant takes an
//! authenticated result to an authorization, once (`gateway::session::consumption`).
//! The body is optional: `order_id`, and `amount` with `currency` (at most the amount
//! check enroll authenticated, in its currency). One conditional write marks it used and
//! the answer is the status view with its `authorization` (and `?format=` shape); the
//! `authentication.consumed` event follows from the change stream. A second consume is
//! `409 AUTHENTICATION_ALREADY_CONSUMED`, naming when and by which order; the same
//! consume retried under its `Idempotency-Key` gets the same answer again.

use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use gateway::clock::rfc3339;
use gateway::domain::ReferenceCode;
use gateway::error::{ApiError, ErrorCode};
use gateway::http::PathParams;
use gateway::http::{MerchantCaller, parse_json, read_body, replayed};
use gateway::idempotency::IdempotencyKey;
use gateway::session::consumption::{ConsumeBody, ConsumeDigests, ConsumeRequest, Refusal};
use gateway::session::{Consumption, Recorded, SessionRef};
use gateway::telemetry::note_reference;

use crate::State as AppState;
use crate::status::{format_of, view};

pub(crate) async fn consume(
    State(app): State<AppState>,
    caller: MerchantCaller,
    PathParams(reference): PathParams<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    // Bounded like every other body: a larger one is a 413 in the merchant's envelope.
    let body = read_body(body).await?;
    let reference = ReferenceCode::parse("reference_code", &reference)?;
    note_reference(reference.as_str());
    let format = format_of(query.as_deref())?;
    let idempotency_key = IdempotencyKey::from_headers(&headers)?;
    let request = ConsumeRequest::parse(consume_body(&body)?)?;
    let session_ref = SessionRef::new(caller.id().clone(), reference);
    let merchant = &app.merchant;
    let keys = merchant.keys().await?;
    let digests = ConsumeDigests::of(
        &keys,
        session_ref.tenant.as_str(),
        idempotency_key.as_ref().map(IdempotencyKey::as_str),
        &request,
    );
    let now = merchant.now_ms();
    let consumption = Consumption::new(&request, &digests, now);
    let current = match merchant.sessions.consume(&session_ref, consumption).await? {
        Recorded::Done(consumed) => {
            tracing::info!("authentication consumed");
            let answer = view(
                &app,
                &session_ref,
                &consumed,
                "Authentication consumed",
                format,
            );
            return answer.await.map(IntoResponse::into_response);
        }
        Recorded::Refused(current) => current,
    };
    match Refusal::of(current.as_deref(), &request, &digests, now) {
        Refusal::Repeated => {
            let current = current.expect("a repeated consume found its session");
            let answer = view(
                &app,
                &session_ref,
                &current,
                "Authentication consumed",
                format,
            );
            Ok(replayed(answer.await?.0))
        }
        refusal => Err(refused(refusal)),
    }
}

/// The body, which may be empty (a consume with nothing to check).
fn consume_body(body: &Bytes) -> Result<ConsumeBody, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(ConsumeBody::default());
    }
    parse_json(body)
}

/// A refusal as the merchant is told it.
fn refused(refusal: Refusal) -> ApiError {
    match refusal {
        Refusal::NotFound => ErrorCode::SessionNotFound.into(),
        Refusal::NotAuthenticated(state) => ApiError::with_message(
            ErrorCode::AuthenticationNotUsable,
            format!(
                "this authentication is {}: only an authenticated result can be consumed",
                state.as_str()
            ),
        ),
        Refusal::KeyReused => ErrorCode::IdempotencyKeyReused.into(),
        Refusal::AlreadyConsumed(earlier) => {
            let by = earlier
                .order_id
                .map(|order| format!(" by order {order}"))
                .unwrap_or_default();
            ApiError::with_message(
                ErrorCode::AuthenticationAlreadyConsumed,
                format!(
                    "this authentication was used at {}{by}",
                    rfc3339(earlier.consumed_at)
                ),
            )
        }
        Refusal::OtherCurrency { authenticated } => ApiError::invalid(
            "currency",
            format!(
                "must be the authenticated currency, {}",
                authenticated.currency
            ),
        ),
        Refusal::AboveAuthenticated { authenticated } => ApiError::invalid(
            "amount",
            format!(
                "must not exceed the authenticated amount, {} {}",
                authenticated.total_amount, authenticated.currency
            ),
        ),
        Refusal::Repeated | Refusal::Unexplained => {
            ApiError::Internal("a consume was refused by a session that admits it".into())
        }
    }
}

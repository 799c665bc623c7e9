//! Card enrollment: enroll, re-point to another cardholder, unenroll, read the enrollment
//! detail — each only for the caller's own cards and cardholders.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use gateway::domain::CardId;
use gateway::error::{ApiError, ErrorCode};
use gateway::http::{IssuerCaller, JsonBody, query_param};
use gateway::telemetry::note_card;
use gateway::upstream::card_issuance::wire::{CardEnrollmentRequest, UnenrollRequest};
use gateway::upstream::card_issuance::{CardIssuanceError, Refusal, redact_security_answers};
use serde_json::Value;

use crate::State as AppState;
use crate::enroller::CardLink;

/// `POST 3ds/v2/enroll`.
pub(crate) async fn enroll(
    State(app): State<AppState>,
    caller: IssuerCaller,
    headers: HeaderMap,
    JsonBody(request): JsonBody<CardEnrollmentRequest>,
) -> Result<Response, ApiError> {
    let link = CardLink::parse(&request, "")?;
    note_card(link.card_id.as_str());
    let (app, caller) = (&app, &caller);
    app.once(
        caller,
        &headers,
        crate::idempotent::ENROLL,
        &request,
        |deadline| async move {
            let enrolled = app.enroll_card(&link, caller, deadline).await?;
            Ok(Json(enrolled.envelope))
        },
    )
    .await
}

/// `POST 3ds/v2/update`: re-points one of the caller's enrolled cards to another of its
/// cardholders.
pub(crate) async fn update_enrollment(
    State(app): State<AppState>,
    caller: IssuerCaller,
    headers: HeaderMap,
    JsonBody(request): JsonBody<CardEnrollmentRequest>,
) -> Result<Response, ApiError> {
    let link = CardLink::parse(&request, "")?;
    note_card(link.card_id.as_str());
    let (app, caller) = (&app, &caller);
    app.once(
        caller,
        &headers,
        crate::idempotent::UPDATE_ENROLLMENT,
        &request,
        |deadline| async move {
            let upstream = app.upstream_for(caller, deadline).await?;
            let card_budget = app.own_card(caller, &upstream, &link.card_id).await?;
            app.own_cardholder(caller, &upstream, &link.cardholder_id)
                .await?;
            let envelope = upstream
                .update_enrollment(&link.card_id, &link.cardholder_id)
                .await?;
            app.record(&link, &card_budget, caller).await?;
            tracing::info!("3DS enrollment re-pointed to another cardholder");
            Ok(Json(envelope))
        },
    )
    .await
}

/// `POST 3ds/v2/unenroll` with `{"card_id"}`: removes one of the caller's cards from 3DS
/// (the upstream route is inferred). On success the record says `UNENROLLED` and the card
/// can be enrolled again with another cardholder (the seed's "Re-enrollment: first
/// unenroll"). Where the upstream has no such route, `501 UNENROLL_NOT_AVAILABLE` and
/// nothing is recorded.
pub(crate) async fn unenroll(
    State(app): State<AppState>,
    caller: IssuerCaller,
    headers: HeaderMap,
    JsonBody(request): JsonBody<UnenrollRequest>,
) -> Result<Response, ApiError> {
    let card_id = CardId::parse("card_id", &request.card_id)?;
    note_card(card_id.as_str());
    let (app, caller) = (&app, &caller);
    app.once(
        caller,
        &headers,
        crate::idempotent::UNENROLL,
        &request,
        |deadline| async move {
            let upstream = app.upstream_for(caller, deadline).await?;
            let card_budget = app.own_card(caller, &upstream, &card_id).await?;
            match upstream.unenroll(&card_id).await {
                Ok(envelope) => {
                    app.enrollments
                        .record_unenrolled(&card_id, &card_budget, caller.id())
                        .await?;
                    tracing::info!("card unenrolled from 3DS");
                    Ok(Json(envelope))
                }
                Err(CardIssuanceError::Refused(refusal)) if route_missing(&refusal) => {
                    tracing::warn!(
                        status = refusal.status,
                        "the card-issuance API has no unenroll route: nothing recorded"
                    );
                    Err(ErrorCode::UnenrollNotAvailable.into())
                }
                Err(CardIssuanceError::Refused(refusal))
                    if refusal.code.as_deref() == Some("CARD_NOT_ENROLLED") =>
                {
                    // The upstream says the card has no link (a repeat of an unenroll that
                    // landed, or one made elsewhere): the record follows it.
                    app.enrollments
                        .record_unenrolled(&card_id, &card_budget, caller.id())
                        .await?;
                    Err(CardIssuanceError::Refused(refusal).into())
                }
                Err(other) => Err(other.into()),
            }
        },
    )
    .await
}

/// The upstream answered as for a route it does not have — not a refusal about the card.
fn route_missing(refusal: &Refusal) -> bool {
    let about_the_card = matches!(
        refusal.code.as_deref(),
        Some("CARD_NOT_FOUND" | "CARD_NOT_ENROLLED" | "CARDHOLDER_NOT_FOUND")
    );
    matches!(refusal.status, 404 | 405 | 501) && !about_the_card
}

/// `GET 3ds/v2/detail?card_id=`: the contact of one of the caller's cards, without the
/// security answer.
pub(crate) async fn enrollment_detail(
    State(app): State<AppState>,
    caller: IssuerCaller,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let card_id = query_param(query.as_deref(), "card_id").unwrap_or_default();
    let card_id = CardId::parse("card_id", &card_id)?;
    note_card(card_id.as_str());
    let upstream = app.upstream_for(&caller, None).await?;
    app.own_card(&caller, &upstream, &card_id).await?;
    let mut envelope = upstream.enrollment_detail(&card_id).await?;
    // Linked outside the gateway to another program's cardholder: that contact is not
    // the caller's to read.
    if !app.detail_is_callers(&caller, &envelope) {
        return Err(ApiError::of(ErrorCode::CardNotFound));
    }
    redact_security_answers(&mut envelope);
    Ok(Json(envelope))
}

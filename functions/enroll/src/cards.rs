//! Card enrollment: enroll, re-point to another cardholder, read the enrollment detail.

use axum::Json;
use axum::extract::{RawQuery, State};
use gateway::domain::{CardId, CardholderId, Check};
use gateway::error::ApiError;
use gateway::http::{Caller, JsonBody};
use gateway::telemetry::note_card;
use gateway::upstream::card_issuance::redact_security_answers;
use gateway::upstream::card_issuance::wire::CardEnrollmentRequest;
use serde_json::Value;

use crate::{EnrollApp, State as AppState};

/// A card and the cardholder it is (to be) linked to, checked.
pub(crate) struct CardLink {
    pub card_id: CardId,
    pub cardholder_id: CardholderId,
}

impl CardLink {
    /// `prefix` names the body's position in a larger one (`items[3].`).
    pub(crate) fn parse(request: &CardEnrollmentRequest, prefix: &str) -> Check<Self> {
        Ok(Self {
            card_id: CardId::parse(&format!("{prefix}card_id"), &request.card_id)?,
            cardholder_id: CardholderId::parse(
                &format!("{prefix}cardholder_id"),
                &request.cardholder_id,
            )?,
        })
    }
}

impl EnrollApp {
    /// Enrolls upstream, then records the status. A store failure after the upstream
    /// said yes is reported (502/504) so the caller retries; the retry's 409 is then
    /// reconciled as enrolled and recorded.
    pub(crate) async fn enroll_card(
        &self,
        link: &CardLink,
        caller: &Caller,
    ) -> Result<Value, ApiError> {
        let enrolled = self
            .card_issuance
            .enroll(&link.card_id, &link.cardholder_id)
            .await?;
        self.enrollments
            .record_confirmed(&link.card_id, &link.cardholder_id, &caller.client_id)
            .await?;
        tracing::info!(reconciled = enrolled.reconciled, "card enrolled for 3DS");
        Ok(enrolled.envelope)
    }
}

/// `POST 3ds/v2/enroll`.
pub(crate) async fn enroll(
    State(app): State<AppState>,
    caller: Caller,
    JsonBody(request): JsonBody<CardEnrollmentRequest>,
) -> Result<Json<Value>, ApiError> {
    let link = CardLink::parse(&request, "")?;
    note_card(link.card_id.as_str());
    app.enroll_card(&link, &caller).await.map(Json)
}

/// `POST 3ds/v2/update`: re-points an enrolled card to another cardholder.
pub(crate) async fn update_enrollment(
    State(app): State<AppState>,
    caller: Caller,
    JsonBody(request): JsonBody<CardEnrollmentRequest>,
) -> Result<Json<Value>, ApiError> {
    let link = CardLink::parse(&request, "")?;
    note_card(link.card_id.as_str());
    let envelope = app
        .card_issuance
        .update_enrollment(&link.card_id, &link.cardholder_id)
        .await?;
    app.enrollments
        .record_confirmed(&link.card_id, &link.cardholder_id, &caller.client_id)
        .await?;
    tracing::info!("3DS enrollment re-pointed to another cardholder");
    Ok(Json(envelope))
}

/// `GET 3ds/v2/detail?card_id=`: the card's 3DS contact, without the security answer.
pub(crate) async fn enrollment_detail(
    State(app): State<AppState>,
    _caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let card_id = gateway::http::query_param(query.as_deref(), "card_id").unwrap_or_default();
    let card_id = CardId::parse("card_id", &card_id)?;
    note_card(card_id.as_str());
    let mut envelope = app.card_issuance.enrollment_detail(&card_id).await?;
    redact_security_answers(&mut envelope);
    Ok(Json(envelope))
}

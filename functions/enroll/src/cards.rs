//! Card enrollment: enroll, re-point to another cardholder, read the enrollment detail —
//! each only for the caller's own cards and cardholders.

use std::time::Instant;

use axum::Json;
use axum::extract::{RawQuery, State};
use gateway::domain::{BudgetId, CardId, CardholderId, Check};
use gateway::enrollment::Recorded;
use gateway::error::{ApiError, ErrorCode};
use gateway::http::{IssuerCaller, JsonBody, query_param};
use gateway::telemetry::note_card;
use gateway::upstream::card_issuance::redact_security_answers;
use gateway::upstream::card_issuance::wire::CardEnrollmentRequest;
use serde_json::Value;

use crate::ownership::not_found;
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
    /// Enrolls upstream, then records the status (and the caller's ownership). Both the
    /// card and the cardholder must be the caller's before the upstream hears of them. A
    /// store failure after the upstream said yes is reported (502/504) so the caller
    /// retries; the retry's 409 is then reconciled as enrolled and recorded.
    /// With a `deadline` (a batch's), every upstream call is over by then.
    pub(crate) async fn enroll_card(
        &self,
        link: &CardLink,
        caller: &IssuerCaller,
        deadline: Option<Instant>,
    ) -> Result<Value, ApiError> {
        let credentials = self.credentials_for(caller).await?;
        let mut upstream = self.card_issuance.with(&credentials);
        if let Some(deadline) = deadline {
            upstream = upstream.until(deadline);
        }
        let card_budget = self.own_card(caller, &upstream, &link.card_id).await?;
        self.own_cardholder(caller, &upstream, &link.cardholder_id)
            .await?;
        let enrolled = upstream.enroll(&link.card_id, &link.cardholder_id).await?;
        self.record(link, &card_budget, caller).await?;
        tracing::info!(reconciled = enrolled.reconciled, "card enrolled for 3DS");
        Ok(enrolled.envelope)
    }

    async fn record(
        &self,
        link: &CardLink,
        card_budget: &BudgetId,
        caller: &IssuerCaller,
    ) -> Result<(), ApiError> {
        match self
            .enrollments
            .record_confirmed(&link.card_id, &link.cardholder_id, card_budget, caller.id())
            .await?
        {
            Recorded::OtherTenant => Err(not_found(ErrorCode::CardNotFound)),
            Recorded::Written | Recorded::Newer => Ok(()),
        }
    }
}

/// `POST 3ds/v2/enroll`.
pub(crate) async fn enroll(
    State(app): State<AppState>,
    caller: IssuerCaller,
    JsonBody(request): JsonBody<CardEnrollmentRequest>,
) -> Result<Json<Value>, ApiError> {
    let link = CardLink::parse(&request, "")?;
    note_card(link.card_id.as_str());
    app.enroll_card(&link, &caller, None).await.map(Json)
}

/// `POST 3ds/v2/update`: re-points one of the caller's enrolled cards to another of its
/// cardholders.
pub(crate) async fn update_enrollment(
    State(app): State<AppState>,
    caller: IssuerCaller,
    JsonBody(request): JsonBody<CardEnrollmentRequest>,
) -> Result<Json<Value>, ApiError> {
    let link = CardLink::parse(&request, "")?;
    note_card(link.card_id.as_str());
    let credentials = app.credentials_for(&caller).await?;
    let upstream = app.card_issuance.with(&credentials);
    let card_budget = app.own_card(&caller, &upstream, &link.card_id).await?;
    app.own_cardholder(&caller, &upstream, &link.cardholder_id)
        .await?;
    let envelope = upstream
        .update_enrollment(&link.card_id, &link.cardholder_id)
        .await?;
    app.record(&link, &card_budget, &caller).await?;
    tracing::info!("3DS enrollment re-pointed to another cardholder");
    Ok(Json(envelope))
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
    let credentials = app.credentials_for(&caller).await?;
    let upstream = app.card_issuance.with(&credentials);
    app.own_card(&caller, &upstream, &card_id).await?;
    let mut envelope = upstream.enrollment_detail(&card_id).await?;
    // Linked outside the gateway to another program's cardholder: that contact is not
    // the caller's to read.
    if !app.detail_is_callers(&caller, &envelope) {
        return Err(not_found(ErrorCode::CardNotFound));
    }
    redact_security_answers(&mut envelope);
    Ok(Json(envelope))
}

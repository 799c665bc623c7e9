//! A card's 3DS status from the gateway's own record (the documentation's "Get Card 3DS
//! Status", and its advice to "Store Enrollment Status"): no upstream call for a card
//! the gateway has a record of. `?refresh=true` reads the upstream's enrollment detail,
//! brings the record in line with one conditional write, and says whether they differed.
//! The batch reads up to 100 records in one round trip.

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::{RawQuery, State};
use gateway::clock::rfc3339;
use gateway::domain::{BudgetId, CardId, CardholderId};
use gateway::enrollment::{CardEnrollment, EnrollmentStatus};
use gateway::error::ApiError;
use gateway::http::{IssuerCaller, JsonBody, query_param};
use gateway::telemetry::note_card;
use gateway::upstream::card_issuance::{CardIssuance, CardIssuanceError};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::State as AppState;

/// Most cards one batch may ask about (DynamoDB's `BatchGetItem` limit).
const MAX_BATCH_CARDS: usize = 100;

/// The view of a card's record: never a contact detail or a secret.
fn view(card_id: &str, record: Option<&CardEnrollment>) -> Value {
    let Some(record) = record else {
        return json!({"card_id": card_id, "enrolled": false, "status": "NOT_ENROLLED"});
    };
    json!({
        "card_id": card_id,
        "enrolled": record.is_enrolled(),
        "status": record.status.as_str(),
        "cardholder_id": record.cardholder_id,
        "enrolled_at": rfc3339(record.enrolled_at),
        "updated_at": rfc3339(record.updated_at),
        "confirmed_at": record.confirmed_at.map(rfc3339),
    })
}

/// `GET 3ds/v2/status?card_id=&refresh=`.
pub(crate) async fn card_status(
    State(app): State<AppState>,
    caller: IssuerCaller,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let query = query.as_deref();
    let card_id = CardId::parse(
        "card_id",
        &query_param(query, "card_id").unwrap_or_default(),
    )?;
    note_card(card_id.as_str());
    let refresh = match query_param(query, "refresh").as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(ApiError::invalid("refresh", "must be true or false")),
    };
    let upstream = app.upstream_for(&caller, None).await?;
    // Another program's card, or none: 404 CARD_NOT_FOUND (from the record when there is
    // one, with no upstream call).
    let (budget, before) = app
        .own_card_and_record(&caller, &upstream, &card_id)
        .await?;
    if !refresh {
        return Ok(Json(
            json!({"code": "SUCCESS", "data": view(card_id.as_str(), before.as_ref())}),
        ));
    }
    let linked = upstream_link(&upstream, &card_id).await?;
    let differed = reconcile(
        &app,
        &caller,
        &card_id,
        &budget,
        before.as_ref(),
        linked.as_ref(),
    )
    .await?;
    let after = app.enrollments.card(&card_id).await?;
    let mut data = view(card_id.as_str(), after.as_ref());
    data["refreshed"] = json!(true);
    data["differed"] = json!(differed);
    Ok(Json(json!({"code": "SUCCESS", "data": data})))
}

/// The cardholder the upstream links the card to, or `None`: not enrolled.
async fn upstream_link(
    upstream: &CardIssuance<'_>,
    card_id: &CardId,
) -> Result<Option<String>, ApiError> {
    match upstream.enrollment_detail(card_id).await {
        Ok(detail) => Ok(detail
            .pointer("/data/cardholder_id")
            .and_then(Value::as_str)
            .map(str::to_owned)),
        Err(CardIssuanceError::Refused(refusal))
            if refusal.code.as_deref() == Some("CARD_NOT_ENROLLED") =>
        {
            Ok(None)
        }
        Err(other) => Err(other.into()),
    }
}

/// One conditional write bringing the record in line with the upstream; whether they
/// differed.
async fn reconcile(
    app: &AppState,
    caller: &IssuerCaller,
    card_id: &CardId,
    budget: &BudgetId,
    before: Option<&CardEnrollment>,
    linked: Option<&String>,
) -> Result<bool, ApiError> {
    let recorded_link = before
        .filter(|r| r.status == EnrollmentStatus::Enrolled)
        .and_then(|r| r.cardholder_id.as_ref().map(|c| c.as_str()));
    let enrollments = &app.enrollments;
    if recorded_link == linked.map(String::as_str) {
        if before.is_some() {
            enrollments
                .record_still_confirmed(card_id, caller.id())
                .await?;
        }
        return Ok(false);
    }
    match linked {
        Some(cardholder) => {
            let cardholder = CardholderId::parse("cardholder_id", cardholder).map_err(|_| {
                ApiError::Internal("the upstream named an invalid cardholder".into())
            })?;
            enrollments
                .record_confirmed(card_id, &cardholder, budget, caller.id())
                .await?;
        }
        None => {
            enrollments
                .record_unenrolled(card_id, budget, caller.id())
                .await?;
        }
    }
    tracing::info!("a card's record differed from the upstream and was brought in line");
    Ok(true)
}

#[derive(Debug, Deserialize)]
pub(crate) struct BatchStatusRequest {
    #[serde(default)]
    card_ids: Vec<String>,
}

/// `POST 3ds/v2/status/batch` with `{"card_ids": [...]}`: the caller's records, one round
/// trip, no upstream call. A card with no record of the caller's is `UNKNOWN`, whether
/// it is nobody's record or another program's.
pub(crate) async fn card_status_batch(
    State(app): State<AppState>,
    caller: IssuerCaller,
    JsonBody(request): JsonBody<BatchStatusRequest>,
) -> Result<Json<Value>, ApiError> {
    if request.card_ids.is_empty() || request.card_ids.len() > MAX_BATCH_CARDS {
        return Err(ApiError::invalid(
            "card_ids",
            format!("must hold 1 to {MAX_BATCH_CARDS} card ids"),
        ));
    }
    let mut cards = Vec::with_capacity(request.card_ids.len());
    let mut seen = BTreeSet::new();
    for (i, raw) in request.card_ids.iter().enumerate() {
        let card = CardId::parse(&format!("card_ids[{i}]"), raw)?;
        if seen.insert(card.to_string()) {
            cards.push(card);
        }
    }
    let records = app.enrollments.cards(&cards).await?;
    let results: Vec<Value> = cards
        .iter()
        .map(|card| {
            // The single route's rule: the caller's record, of a budget still the
            // caller's (a budget moved to another program answers for it no more).
            let own = records.get(card.as_str()).filter(|r| {
                r.tenant_id == *caller.id()
                    && r.budget_id
                        .as_ref()
                        .is_some_and(|budget| caller.issuer().owns_budget(budget.as_str()))
            });
            match own {
                Some(record) => view(card.as_str(), Some(record)),
                None => json!({"card_id": card.as_str(), "status": "UNKNOWN"}),
            }
        })
        .collect();
    Ok(Json(
        json!({"code": "SUCCESS", "data": {"total": results.len(), "results": results}}),
    ))
}

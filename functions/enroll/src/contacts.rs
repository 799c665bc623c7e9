//! Cardholder 3DS contacts (the OTP email and mobile, the security question): create,
//! update, query.

use std::time::Instant;

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use gateway::domain::field as f;
use gateway::domain::{BudgetId, CardholderId, Check, FieldError};
use gateway::error::{ApiError, ErrorCode};
use gateway::http::{IssuerCaller, JsonBody, query_param};
use gateway::upstream::card_issuance::redact_security_answers;
use gateway::upstream::card_issuance::wire::{
    CardholderQuery, CreateCardholderRequest, UpdateCardholderRequest,
};
use serde_json::Value;

use crate::State as AppState;

/// `POST cardholders/v2/create`: a contact in one of the caller's budgets, recorded as
/// theirs.
pub(crate) async fn create_cardholder(
    State(app): State<AppState>,
    caller: IssuerCaller,
    headers: HeaderMap,
    JsonBody(request): JsonBody<CreateCardholderRequest>,
) -> Result<Response, ApiError> {
    let budget = BudgetId::parse("budget_id", &request.budget_id)?;
    f::text("first_name", &request.first_name, 64)?;
    f::text("last_name", &request.last_name, 64)?;
    request.contact().check(app.today())?;
    if !caller.issuer().owns_budget(budget.as_str()) {
        return Err(ApiError::of(ErrorCode::BudgetNotFound));
    }
    let request = request.trimmed();
    let (app, caller, request, budget) = (&app, &caller, &request, &budget);
    app.once(
        caller,
        &headers,
        crate::idempotent::CREATE_CARDHOLDER,
        request,
        |deadline| async move {
            let created = app.create_cardholder(caller, request, budget, deadline);
            created.await.map(Json)
        },
    )
    .await
}

/// `POST cardholders/v2/update`: replaces one of the caller's contacts (name and budget
/// stay).
pub(crate) async fn update_cardholder(
    State(app): State<AppState>,
    caller: IssuerCaller,
    headers: HeaderMap,
    JsonBody(request): JsonBody<UpdateCardholderRequest>,
) -> Result<Response, ApiError> {
    let cardholder = CardholderId::parse("cardholder_id", &request.cardholder_id)?;
    request.contact().check(app.today())?;
    let request = request.trimmed();
    app.once(
        &caller,
        &headers,
        crate::idempotent::UPDATE_CARDHOLDER,
        &request,
        |deadline| update(&app, &caller, &request, &cardholder, deadline),
    )
    .await
}

async fn update(
    app: &AppState,
    caller: &IssuerCaller,
    request: &UpdateCardholderRequest,
    cardholder: &CardholderId,
    deadline: Option<Instant>,
) -> Result<Json<Value>, ApiError> {
    let upstream = app.upstream_for(caller, deadline).await?;
    app.own_cardholder(caller, &upstream, cardholder).await?;
    let mut envelope = upstream.update_cardholder(request).await?;
    // Recorded so the change stream tells the card program (`cardholder.updated`).
    app.enrollments
        .record_contact_update(cardholder, caller.id())
        .await?;
    redact_security_answers(&mut envelope);
    tracing::info!("cardholder 3DS contact updated");
    Ok(Json(envelope))
}

/// `GET cardholders/v2/detail?budget_id=&cardholder_id=&page_no=&page_size=`: the
/// caller's own contacts only.
pub(crate) async fn query_cardholders(
    State(app): State<AppState>,
    caller: IssuerCaller,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let query = parse_query(query.as_deref())?;
    if let Some(budget) = &query.budget_id
        && !caller.issuer().owns_budget(budget)
    {
        return Err(ApiError::of(ErrorCode::BudgetNotFound));
    }
    let upstream = app.upstream_for(&caller, None).await?;
    if let Some(cardholder) = &query.cardholder_id {
        let cardholder = CardholderId::parse("cardholder_id", cardholder)?;
        app.own_cardholder(&caller, &upstream, &cardholder).await?;
    }
    let mut envelope = upstream.query_cardholders(&query).await?;
    keep_own_contacts(&mut envelope, &caller);
    redact_security_answers(&mut envelope);
    Ok(Json(envelope))
}

/// Drops from a contact list any contact outside the caller's budgets (the upstream
/// filters by what was asked; this holds even if it did not).
fn keep_own_contacts(envelope: &mut Value, caller: &IssuerCaller) {
    if let Some(list) = envelope
        .pointer_mut("/data/list")
        .and_then(Value::as_array_mut)
    {
        list.retain(|contact| {
            contact["budget_id"]
                .as_str()
                .is_some_and(|budget| caller.issuer().owns_budget(budget))
        });
    }
}

/// The drop-in query string: at least one filter, bounded pages.
fn parse_query(query: Option<&str>) -> Check<CardholderQuery> {
    let get = |name: &str| {
        query_param(query, name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let number = |name: &str, default: u32, max: u32| -> Check<u32> {
        match get(name) {
            None => Ok(default),
            Some(raw) => raw
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(|| {
                    FieldError::new(name, format!("must be an integer from 1 to {max}"))
                }),
        }
    };
    let budget_id = get("budget_id")
        .map(|b| BudgetId::parse("budget_id", &b))
        .transpose()?;
    let cardholder_id = get("cardholder_id")
        .map(|c| CardholderId::parse("cardholder_id", &c))
        .transpose()?;
    if budget_id.is_none() && cardholder_id.is_none() {
        return Err(FieldError::new(
            "budget_id",
            "budget_id or cardholder_id is required",
        ));
    }
    Ok(CardholderQuery {
        page_no: number("page_no", 1, 100_000)?,
        page_size: number("page_size", 20, 100)?,
        budget_id: budget_id.map(|b| b.to_string()),
        cardholder_id: cardholder_id.map(|c| c.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cardholder_queries_need_a_filter_and_bounded_pages() {
        assert!(parse_query(None).is_err());
        let q = parse_query(Some("budget_id=ci202008281528472924")).unwrap();
        assert_eq!((q.page_no, q.page_size), (1, 20));
        let err = parse_query(Some("cardholder_id=1&page_size=500")).unwrap_err();
        assert_eq!(err.field, "page_size");
    }
}

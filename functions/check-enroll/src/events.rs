//! The events API, for every tenant (merchants and card programs alike):
//!
//! * `GET /v1/events?after=&type=&limit=`: the caller's own events, newest first, with
//!   their delivery attempts; `after` is the last event id of the previous page.
//! * `POST /v1/events/{id}/redeliver`: one more delivery of one of its events (queued;
//!   sent even if delivered before, with the same `webhook-id`).
//!
//! Another tenant's event answers exactly like one that does not exist.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gateway::error::{ApiError, ErrorCode};
use gateway::events::queue::DeliveryMessage;
use gateway::events::{EventType, attr, view};
use gateway::http::{TenantCaller, page_limit, query_param};
use gateway::store::{Index, string};
use serde_json::{Value, json};

use crate::State as AppState;

const DEFAULT_LIMIT: usize = 20;
const MAX_LIMIT: usize = 100;

pub(crate) async fn list(
    State(app): State<AppState>,
    caller: TenantCaller,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let query = query.as_deref();
    let kind = match query_param(query, "type") {
        None => None,
        Some(name) => Some(EventType::parse(&name).ok_or_else(|| {
            ApiError::invalid(
                "type",
                "is not an event type (authentication.succeeded, ...)",
            )
        })?),
    };
    let limit = page_limit(query, DEFAULT_LIMIT, MAX_LIMIT)?;
    let events = &app.events;
    let tenant = caller.id().as_str();
    // `after`: an event of the caller's; the page continues below its place.
    let before = match query_param(query, "after") {
        None => None,
        Some(id) => {
            let item = events
                .get(tenant, &id)
                .await?
                .ok_or_else(|| ApiError::invalid("after", "is not one of your events"))?;
            string(&item, Index::ByTenantDay.sort_attr()).map(str::to_owned)
        }
    };
    let (items, has_more) = events
        .list(
            tenant,
            kind,
            before.as_deref(),
            limit,
            app.merchant.now_ms(),
        )
        .await?;
    let views: Vec<Value> = items.iter().map(view).collect();
    let last = items.last().and_then(|i| string(i, attr::EVENT_ID));
    Ok(Json(json!({
        "status": "success",
        "message": "Events found",
        "data": {
            "events": views,
            "has_more": has_more,
            "next_after": if has_more { last } else { None },
        }
    })))
}

pub(crate) async fn redeliver(
    State(app): State<AppState>,
    caller: TenantCaller,
    Path(event_id): Path<String>,
) -> Result<Response, ApiError> {
    let events = &app.events;
    let tenant = caller.id().as_str();
    let not_found = || ApiError::of(ErrorCode::EventNotFound);
    if event_id.len() > 64 {
        return Err(not_found());
    }
    let item = events.get(tenant, &event_id).await?.ok_or_else(not_found)?;
    let kind = string(&item, attr::TYPE)
        .and_then(EventType::parse)
        .ok_or_else(not_found)?;
    if caller.tenant().webhook(kind.audience()).is_none() {
        return Err(ErrorCode::NoWebhookEndpoint.into());
    }
    let queue = app.deliveries.as_ref().ok_or_else(|| {
        ApiError::Internal("this deployment has no delivery queue (DELIVERY_QUEUE_URL)".into())
    })?;
    queue
        .enqueue(&DeliveryMessage {
            tenant: tenant.to_owned(),
            event_id: event_id.clone(),
            redelivery: true,
        })
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    tracing::info!("a redelivery was queued");
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({
            "status": "success",
            "message": "Redelivery queued",
            "data": {"id": event_id, "queued": true},
        })),
    )
        .into_response())
}

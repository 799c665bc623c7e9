//! The events API, for every tenant (merchants and card programs alike):
//!
//! * `GET /v1/events?after=&type=&limit=`: the caller's own events, newest first, with
//!   their delivery attempts; `after` is the `next_after` cursor of the previous page
//!   (or, as before cursors, the last event id shown).
//! * `POST /v1/events/{id}/redeliver`: one more delivery of one of its events (queued;
//!   sent even if delivered before, with the same `webhook-id`): one in flight per event,
//!   and a capped number per tenant and hour (`REDELIVERIES_PER_TENANT_PER_HOUR`).
//!
//! Another tenant's event answers exactly like one that does not exist.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gateway::error::{ApiError, ErrorCode};
use gateway::events::EventType;
use gateway::events::queue::{DeliveryMessage, Purpose};
use gateway::events::redelivery::Refusal;
use gateway::http::PathParams;
use gateway::http::{TenantCaller, page_limit, query_param};
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
    let after = query_param(query, "after");
    let page = app
        .events
        .page(
            caller.id(),
            kind,
            after.as_deref(),
            limit,
            app.clock.now_ms(),
        )
        .await?
        .ok_or_else(|| ApiError::invalid("after", "is not one of your events"))?;
    let views: Vec<Value> = page.events.iter().map(|event| event.view()).collect();
    Ok(Json(json!({
        "status": "success",
        "message": "Events found",
        "data": {
            "events": views,
            "has_more": page.next.is_some(),
            "next_after": page.next.map(|cursor| cursor.token()),
        }
    })))
}

pub(crate) async fn redeliver(
    State(app): State<AppState>,
    caller: TenantCaller,
    PathParams(event_id): PathParams<String>,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::of(ErrorCode::EventNotFound);
    let event = app
        .events
        .get(caller.id(), &event_id)
        .await?
        .ok_or_else(not_found)?;
    if caller
        .tenant()
        .webhook(event.event_type.audience())
        .is_none()
    {
        return Err(ErrorCode::NoWebhookEndpoint.into());
    }
    let queue = app.deliveries.as_ref().ok_or_else(|| {
        ApiError::Internal("this deployment has no delivery queue (DELIVERY_QUEUE_URL)".into())
    })?;
    let now = app.clock.now_ms();
    let taken = app
        .events
        .take_redelivery(app.redeliveries, caller.id(), &event.event_id, now)
        .await?;
    match taken {
        Ok(()) => {}
        Err(Refusal::NotFound) => return Err(not_found()),
        Err(Refusal::InFlight) => return Err(ErrorCode::RedeliveryInProgress.into()),
        Err(Refusal::OverQuota { retry_after }) => {
            return Err(ApiError::Limited {
                code: ErrorCode::TooManyRedeliveries,
                retry_after,
            });
        }
    }
    let queued = queue
        .enqueue(&DeliveryMessage {
            tenant: caller.id().clone(),
            event_id: event.event_id.clone(),
            purpose: Purpose::Redelivery,
        })
        .await;
    if let Err(error) = queued {
        // Not queued: not in flight either, so the caller may ask again.
        app.events
            .give_back_redelivery(caller.id(), &event.event_id, now)
            .await?;
        return Err(ApiError::Internal(error.to_string()));
    }
    tracing::info!("a redelivery was queued");
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({
            "status": "success",
            "message": "Redelivery queued",
            "data": {"id": event.event_id, "queued": true},
        })),
    )
        .into_response())
}

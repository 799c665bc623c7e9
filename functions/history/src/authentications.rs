//! `GET /v1/risk/authentication?state=&created_after=&after=&limit=`: the calling
//! merchant's authentications, newest first, paginated — outcome fields only, no card
//! data. Read from the listing index, a bounded amount per request: a page can come back short
//! with `has_more` and a `next_after` cursor to continue from.

use axum::Json;
use axum::extract::{RawQuery, State};
use gateway::clock::rfc3339;
use gateway::error::ApiError;
use gateway::http::{MerchantCaller, page_limit, query_param};
use gateway::session::repo::SessionFilter;
use gateway::session::{AuthenticationSession, Outcome, SessionState};
use serde_json::{Value, json};

use crate::State as AppState;

const DEFAULT_LIMIT: usize = 20;
const MAX_LIMIT: usize = 100;

pub(crate) async fn list(
    State(app): State<AppState>,
    caller: MerchantCaller,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let query = query.as_deref();
    let state = match query_param(query, "state") {
        None => None,
        Some(name) => Some(SessionState::parse(&name).ok_or_else(|| {
            ApiError::invalid("state", "is not a session state (AUTHENTICATED, ...)")
        })?),
    };
    let created_after = match query_param(query, "created_after") {
        None => None,
        Some(raw) => Some(
            chrono::DateTime::parse_from_rfc3339(&raw)
                .map(|t| t.timestamp_millis())
                .map_err(|_| ApiError::invalid("created_after", "must be an RFC 3339 time"))?,
        ),
    };
    let limit = page_limit(query, DEFAULT_LIMIT, MAX_LIMIT)?;
    // `after`: the `next_after` of the previous page (or one of the caller's reference
    // codes); the page continues below it.
    let after = query_param(query, "after");
    let filter = SessionFilter {
        state,
        created_after,
    };
    let page = app
        .sessions
        .page(caller.id(), filter, after.as_deref(), limit)
        .await?
        .ok_or_else(|| ApiError::invalid("after", "is not one of your authentications"))?;
    let now = app.sessions.now_ms();
    let views: Vec<Value> = page.sessions.iter().map(|s| summary(s, now)).collect();
    Ok(Json(json!({
        "status": "success",
        "message": "Authentications found",
        "data": {
            "authentications": views,
            "has_more": page.next.is_some(),
            "next_after": page.next.map(|cursor| cursor.token()),
        }
    })))
}

/// One authentication in a listing: its outcome, never its card data.
fn summary(session: &AuthenticationSession, now: i64) -> Value {
    let outcome = Outcome::at(session, now);
    json!({
        "reference_code": session.reference_code,
        "state": outcome.state.as_str(),
        "flow": outcome.flow,
        "reason": outcome.reason,
        "liability_shift": outcome.liability_shift,
        "created_at": rfc3339(session.created_at),
        "updated_at": rfc3339(session.updated_at),
        "network": session.card.as_ref().and_then(|c| c.network.clone()),
        "eci": outcome.eci,
        "directory_server_transaction_id": outcome.directory_server_transaction_id,
        "specification_version": outcome.specification_version,
        "authenticated_amount": session.authenticated_amount(),
        // Used for an authorization (single use): when; `null` while unused.
        "consumed_at": session.consumption.as_ref().map(|c| rfc3339(c.consumed_at)),
    })
}

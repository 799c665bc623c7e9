//! `GET /v1/risk/authentication?state=&created_after=&after=&limit=`: the calling
//! merchant's authentications, newest first, paginated — outcome fields only, no card
//! data. Read from the listing index (a tenant's sessions by creation day), so it costs
//! one query per day walked, whatever the table holds.

use axum::Json;
use axum::extract::{RawQuery, State};
use gateway::clock::rfc3339;
use gateway::error::ApiError;
use gateway::http::{MerchantCaller, page_limit, query_param};
use gateway::session::state::listing_partition;
use gateway::session::{AuthenticationSession, SessionState};
use gateway::store::{Index, days_back, newest_first, string};
use serde_json::{Value, json};

use crate::State as AppState;

const DEFAULT_LIMIT: usize = 20;
const MAX_LIMIT: usize = 100;
/// How far back a listing walks (sessions are deleted a week after their decision).
const LOOKBACK_DAYS: i64 = 31;

pub(crate) async fn list(
    State(app): State<AppState>,
    caller: MerchantCaller,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let query = query.as_deref();
    let wanted_state = match query_param(query, "state") {
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
    let merchant = &app.merchant;
    let tenant = caller.id().as_str();
    let now = merchant.now_ms();
    // `after`: one of the caller's reference codes; the page continues below it.
    let before = match query_param(query, "after") {
        None => None,
        Some(reference) => {
            let session = gateway::domain::ReferenceCode::parse("after", &reference)?;
            let item = merchant
                .store_item(&gateway::session::SessionRef::new(
                    caller.id().clone(),
                    session,
                ))
                .await?
                .ok_or_else(|| ApiError::invalid("after", "is not one of your authentications"))?;
            string(&item, Index::ByTenantDay.sort_attr()).map(str::to_owned)
        }
    };
    let start = before
        .as_deref()
        .and_then(|b| b.split('#').next()?.parse::<i64>().ok())
        .unwrap_or(now);
    let oldest = created_after.unwrap_or(now - LOOKBACK_DAYS * 86_400_000);
    let days = days_back(start, oldest, LOOKBACK_DAYS).map(|day| listing_partition(tenant, day));
    let (items, has_more) =
        newest_first(merchant.store(), days, before.as_deref(), limit, |item| {
            let session = AuthenticationSession::from_item(item.clone());
            session.is_some_and(|s| {
                created_after.is_none_or(|after| s.created_at > after)
                    && wanted_state.is_none_or(|wanted| s.effective_state(now) == wanted)
            })
        })
        .await?;
    let sessions: Vec<AuthenticationSession> = items
        .into_iter()
        .filter_map(AuthenticationSession::from_item)
        .collect();
    let views: Vec<Value> = sessions.iter().map(|s| summary(s, now)).collect();
    Ok(Json(json!({
        "status": "success",
        "message": "Authentications found",
        "data": {
            "authentications": views,
            "has_more": has_more,
            "next_after": if has_more { sessions.last().map(|s| s.reference_code.clone()) } else { None },
        }
    })))
}

/// One authentication in a listing: its outcome, never its card data.
fn summary(session: &AuthenticationSession, now: i64) -> Value {
    let state = session.effective_state(now);
    json!({
        "reference_code": session.reference_code,
        "state": state.as_str(),
        "flow": session.flow(),
        "reason": match state {
            SessionState::Expired => Some("CHALLENGE_EXPIRED"),
            _ => session.reason(),
        },
        "liability_shift": session.liability_shift(),
        "created_at": rfc3339(session.created_at),
        "updated_at": rfc3339(session.updated_at),
        "network": session.card.as_ref().and_then(|c| c.network.clone()),
    })
}

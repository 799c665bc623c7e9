//! The HTTP edge every function shares: extraction (bounded JSON bodies, the caller's
//! key), the envelopes errors are rendered in, pages for the browser, route tables,
//! request spans, and the Lambda adapter. Nothing here knows a flow.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use lambda_http::RequestExt;
use lambda_http::request::RequestContext;
use tracing::Instrument;
use url::Url;

mod envelope;
mod extract;
pub mod lambda;
pub mod pages;
pub mod routes;

pub use envelope::{
    browser_page, callers_own_envelope, card_issuance_envelope, payer_auth_envelope,
};
pub use extract::{
    Caller, HasTenants, IssuerCaller, JsonBody, MerchantCaller, TenantCaller, from_value,
    parse_json, read_body,
};
pub use routes::{Envelope, Route, router};

use crate::error::{ApiError, ErrorCode};

pub async fn route_not_found() -> ApiError {
    ApiError::of(ErrorCode::RouteNotFound)
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::of(ErrorCode::MethodNotAllowed)
}

/// A response replayed from the store carries this header.
const REPLAYED_HEADER: &str = "idempotent-replayed";

/// A stored answer, sent again, marked as a replay.
pub fn replayed(body: serde_json::Value) -> Response {
    let mut response = axum::Json(body).into_response();
    response
        .headers_mut()
        .insert(REPLAYED_HEADER, http::HeaderValue::from_static("true"));
    response
}

/// Wraps each request in a span carrying the request id (Lambda's, when running in
/// Lambda) and the fields handlers fill in later (`tenant`, `reference_code`,
/// `card_id`), so every log line of the request can be found by any of them.
pub async fn request_span(request: Request, next: Next) -> Response {
    let request_id = request
        .lambda_context_ref()
        .map(|ctx| ctx.request_id.clone())
        .or_else(|| {
            request
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .filter(|v| v.len() <= 64 && v.chars().all(|c| c.is_ascii_graphic()))
                .map(str::to_owned)
        })
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %request.method(),
        route = %route,
        tenant = tracing::field::Empty,
        reference_code = tracing::field::Empty,
        card_id = tracing::field::Empty,
    );
    let started = Instant::now();
    let response = next.run(request).instrument(span.clone()).await;
    span.in_scope(|| {
        tracing::info!(
            status = response.status().as_u16(),
            latency_ms = started.elapsed().as_millis() as u64,
            "request completed"
        )
    });
    response
}

/// Our public base URL as API Gateway saw the request: `https://{domain}/{stage}` on the
/// execute-api domain (where the stage is part of the path), `https://{domain}` on a
/// custom domain or the `$default` stage. `None` outside API Gateway.
pub fn public_base_url_from_context(parts: &http::request::Parts) -> Option<Url> {
    let (domain, stage) = match parts.request_context_ref()? {
        RequestContext::ApiGatewayV1(ctx) => (ctx.domain_name.clone()?, ctx.stage.clone()),
        RequestContext::ApiGatewayV2(ctx) => (ctx.domain_name.clone()?, ctx.stage.clone()),
        _ => return None,
    };
    let mut base = Url::parse(&format!("https://{domain}")).ok()?;
    if let Some(stage) = stage.filter(|s| s != "$default" && !s.is_empty())
        && domain.contains(".execute-api.")
    {
        base.set_path(&stage);
    }
    Some(base)
}

/// A listing's `limit` query parameter: `default` when absent, 1 to `max` when given.
pub fn page_limit(query: Option<&str>, default: usize, max: usize) -> Result<usize, ApiError> {
    match query_param(query, "limit") {
        None => Ok(default),
        Some(raw) => raw
            .parse::<usize>()
            .ok()
            .filter(|l| (1..=max).contains(l))
            .ok_or_else(|| ApiError::invalid("limit", format!("must be 1 to {max}"))),
    }
}

/// The first value of `name` in a query string.
pub fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

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
    Caller, HasTenants, IssuerCaller, JsonBody, MerchantCaller, PathParams, TenantCaller,
    from_value, parse_json, read_body,
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

/// The header that carries a request's id, both ways.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

tokio::task_local! {
    /// The id of the request being answered, for the error envelopes.
    static REQUEST_ID: String;
}

/// The id of the request being answered, inside [`request_span`].
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// A caller's own request id is kept when it is well formed: 1 to 64 of letters,
/// digits and `-._:` (nothing a log line or a header could be bent by).
fn well_formed_request_id(value: &str) -> bool {
    (1..=64).contains(&value.len())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | ':'))
}

/// API Gateway's own id of the request: the `requestId` of its access log.
fn api_gateway_request_id(request: &Request) -> Option<String> {
    match request.request_context_ref()? {
        RequestContext::ApiGatewayV1(ctx) => ctx.request_id.clone(),
        RequestContext::ApiGatewayV2(ctx) => ctx.request_id.clone(),
        _ => None,
    }
}

/// Wraps each request in a span carrying the request id and the fields handlers fill in
/// later (`tenant`, `reference_code`, `card_id`), so every log line of the request can
/// be found by any of them; and answers with the same id (`x-request-id`, and in every
/// error body), so a caller can quote it. The id is the caller's own when well formed,
/// else API Gateway's (its access log's `requestId`), else Lambda's, else a new one; API
/// Gateway's and Lambda's are logged beside it, to join the access log and the platform's
/// own lines (START, REPORT).
pub async fn request_span(request: Request, next: Next) -> Response {
    let gateway_request_id = api_gateway_request_id(&request);
    let lambda_request_id = request
        .lambda_context_ref()
        .map(|ctx| ctx.request_id.clone());
    let request_id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| well_formed_request_id(v))
        .map(str::to_owned)
        .or_else(|| gateway_request_id.clone())
        .or_else(|| lambda_request_id.clone())
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        api_gateway_request_id = gateway_request_id.as_deref(),
        lambda_request_id = lambda_request_id.as_deref(),
        method = %request.method(),
        route = %route,
        tenant = tracing::field::Empty,
        reference_code = tracing::field::Empty,
        card_id = tracing::field::Empty,
    );
    let started = Instant::now();
    let mut response = REQUEST_ID
        .scope(
            request_id.clone(),
            next.run(request).instrument(span.clone()),
        )
        .await;
    if let Ok(value) = http::HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
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

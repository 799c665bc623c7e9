//! Runs a function's router on the Lambda runtime.
//!
//! `lambda_http` turns API Gateway REST (v1) and HTTP API (v2) events into `http`
//! requests (decoding base64 bodies). Depending on the event, the path it builds may
//! carry the stage (`/prod/card/...`), so routes are matched on the path with the stage
//! removed.

use axum::Router;
use lambda_http::RequestExt;
use lambda_http::request::RequestContext;

/// The request path without the API Gateway stage prefix.
pub fn gateway_path<B>(request: &http::Request<B>) -> String {
    let raw = request.raw_http_path();
    let raw = if raw.is_empty() {
        request.uri().path()
    } else {
        raw
    };
    let stage = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(ctx)) => ctx.stage.as_deref(),
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.stage.as_deref(),
        _ => None,
    };
    if let Some(stage) = stage.filter(|s| *s != "$default" && !s.is_empty())
        && let Some(rest) = raw.strip_prefix('/').and_then(|r| r.strip_prefix(stage))
    {
        if rest.is_empty() {
            return "/".into();
        }
        if rest.starts_with('/') {
            return rest.into();
        }
    }
    raw.into()
}

/// Rewrites the request URI to the stage-less path (query kept).
pub fn normalize<B>(mut request: http::Request<B>) -> http::Request<B> {
    let path = gateway_path(&request);
    let path_and_query = match request.uri().query() {
        Some(query) => format!("{path}?{query}"),
        None => path,
    };
    if let Ok(uri) = path_and_query.parse() {
        *request.uri_mut() = uri;
    }
    request
}

/// Serves `router` on the Lambda runtime until the runtime shuts the process down.
pub async fn run(router: Router) -> Result<(), lambda_http::Error> {
    let service = tower::ServiceBuilder::new()
        .map_request(normalize::<lambda_http::Body>)
        .service(router);
    lambda_http::run(service).await
}

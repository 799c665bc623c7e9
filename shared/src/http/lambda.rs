//! Runs a function's router on the Lambda runtime.
//!
//! `lambda_http` turns API Gateway REST (v1) and HTTP API (v2) events into `http`
//! requests (decoding base64 bodies) and prefixes the stage to the URI path. Routes are
//! matched on the event's own path instead: a REST event's `path` never carries the
//! stage, an HTTP API event's `rawPath` does for a named stage, so only there is it
//! removed. (Stripping it from a REST path would break a stage named like a route
//! prefix, such as stage `v1` in front of `/v1/risk/...`.)

use axum::Router;
use lambda_http::RequestExt;
use lambda_http::request::RequestContext;

/// The request path without the API Gateway stage prefix.
fn gateway_path<B>(request: &http::Request<B>) -> String {
    let raw = request.raw_http_path();
    let raw = if raw.is_empty() {
        request.uri().path()
    } else {
        raw
    };
    let stage = match request.request_context_ref() {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn event(json: serde_json::Value) -> lambda_http::Request {
        lambda_http::request::from_str(&json.to_string()).unwrap()
    }

    #[test]
    fn a_rest_stage_named_like_a_route_prefix_is_not_stripped() {
        let rest = event(serde_json::json!({
            "resource": "/{proxy+}", "path": "/v1/risk/authentication/setup", "httpMethod": "POST",
            "headers": {}, "multiValueHeaders": {}, "requestContext": {"stage": "v1", "httpMethod": "POST",
            "path": "/v1/v1/risk/authentication/setup", "domainName": "x.execute-api.eu-west-1.amazonaws.com"},
            "body": null, "isBase64Encoded": false
        }));
        assert_eq!(gateway_path(&rest), "/v1/risk/authentication/setup");
    }

    #[test]
    fn an_http_api_named_stage_is_stripped_once() {
        let http_api = |raw_path: &str, stage: &str| {
            event(serde_json::json!({
                "version": "2.0", "routeKey": "$default", "rawPath": raw_path, "rawQueryString": "",
                "headers": {}, "requestContext": {"stage": stage, "http": {"method": "GET", "path": raw_path}},
                "isBase64Encoded": false
            }))
        };
        assert_eq!(
            gateway_path(&http_api("/v1/v1/risk/authentication/r1", "v1")),
            "/v1/risk/authentication/r1"
        );
        assert_eq!(gateway_path(&http_api("/prod", "prod")), "/");
        assert_eq!(
            gateway_path(&http_api("/production/x", "prod")),
            "/production/x"
        );
        assert_eq!(gateway_path(&http_api("/card/x", "$default")), "/card/x");
    }
}

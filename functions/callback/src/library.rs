//! `GET /v1/js/gateway.js`: the browser library (`assets/gateway.js`), served as is. Its
//! path is its version; the merchant guide publishes its SRI hash (a test keeps them in step), so
//! it is served to any origin (`crossorigin` loads need CORS).

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, header};

/// The library's source: what the merchant guide's SRI hash is of.
pub const GATEWAY_JS: &str = include_str!("../assets/gateway.js");

pub(crate) async fn gateway_js() -> Response {
    // The path is the version (and merchants pin its SRI hash): it never changes, so
    // browsers and any CDN keep it a year and a flood of loads never reaches us twice
    // from one browser.
    static_file(
        GATEWAY_JS,
        "text/javascript; charset=utf-8",
        "public, max-age=31536000, immutable",
    )
}

/// A file of the function's own, the same for every caller: readable from any origin
/// (`crossorigin` loads and tooling need CORS), never sniffed as another type.
pub(crate) fn static_file(
    body: &'static str,
    content_type: &'static str,
    cache_control: &'static str,
) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache_control),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

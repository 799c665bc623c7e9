//! `/docs/api`: the API reference, the contract (`/v1/openapi.json`) rendered by Redoc in
//! the browser. The page and Redoc's standalone bundle are built into
//! `target/api-reference` by `npm run reference --prefix e2e` (the test command does it);
//! nothing is loaded from a CDN. Without that build the page says how to make it.

use std::path::PathBuf;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

/// Where `npm run reference` writes the reference (the workspace's target directory).
fn directory() -> PathBuf {
    std::env::var_os("API_REFERENCE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../target/api-reference"
            ))
        })
}

/// Everything from this origin only: Redoc's own attribution image (from its CDN) is
/// refused, and so is anything else that would reach off the machine. Redoc's styles are
/// inline (styled-components) and its search runs in a worker made from a blob.
const PAGE_POLICY: &str = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; \
     font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; frame-ancestors 'none'";

pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route("/docs/api", get(page)).route(
        "/docs/api/redoc.standalone.js",
        get(|| file("redoc.standalone.js", "text/javascript; charset=utf-8")),
    )
}

async fn page() -> Response {
    let mut page = file("index.html", "text/html; charset=utf-8").await;
    page.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static(PAGE_POLICY),
    );
    page
}

async fn file(name: &'static str, content_type: &'static str) -> Response {
    match tokio::fs::read(directory().join(name)).await {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, content_type),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            bytes,
        )
            .into_response(),
        Err(_) => (
            StatusCode::NOT_FOUND,
            Html(
                "<!doctype html><title>API reference not built</title>\
                 <p>The API reference is built from the contract with \
                 <code>npm ci --prefix e2e &amp;&amp; npm run reference --prefix e2e</code>; \
                 the contract itself is at <a href=\"/v1/openapi.json\">/v1/openapi.json</a>.</p>",
            ),
        )
            .into_response(),
    }
}

//! `GET /v1/openapi.json`: the API contract (`docs/openapi.json`, OpenAPI 3.1), served as
//! it is kept in the repository. Keyless and the same for every caller: it describes the
//! routes, never a tenant. Tests hold it to the route tables, the template, the error
//! codes and the event types, and a fuzzer holds the functions' answers to it.

use axum::response::Response;

use crate::library::static_file;

/// The document, as published.
pub const OPENAPI_JSON: &str = include_str!("../../../docs/openapi.json");

pub(crate) async fn openapi_json() -> Response {
    // It changes with a deployment: cached briefly, so a new route shows within minutes.
    static_file(OPENAPI_JSON, "application/json", "public, max-age=300")
}

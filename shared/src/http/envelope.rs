//! How an [`ApiError`] becomes a response: `into_response` sets the status (and
//! `Retry-After`) and carries the error inside the response; the layer a function's
//! `build` puts on its router renders the body in the envelope its callers already parse
//! and logs the refusal once.

use std::sync::Arc;

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode};
use serde_json::json;

use super::pages;
use crate::error::ApiError;
use crate::tenants::Role;

/// The error travels to the envelope layer inside the response.
#[derive(Clone)]
struct PendingError(Arc<ApiError>);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = status.into_response();
        if let Some(wait) = self.retry_after() {
            response.headers_mut().insert(
                http::header::RETRY_AFTER,
                // Whole seconds, rounded up: asking again after it is never too soon.
                HeaderValue::from(wait.as_millis().div_ceil(1000).max(1) as u64),
            );
        }
        response
            .extensions_mut()
            .insert(PendingError(Arc::new(self)));
        response
    }
}

fn take_error(response: &mut Response) -> Option<Arc<ApiError>> {
    response
        .extensions_mut()
        .remove::<PendingError>()
        .map(|p| p.0)
}

fn with_body(mut response: Response, body: Response) -> Response {
    let (parts, body) = body.into_parts();
    *response.body_mut() = body;
    for (name, value) in parts.headers {
        if let Some(name) = name {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

/// Card-issuance (issuer) envelope: `{"code", "message", "field"?, "request_id"}`.
pub async fn card_issuance_envelope(mut response: Response) -> Response {
    let Some(error) = take_error(&mut response) else {
        return response;
    };
    error.log();
    let mut body = json!({ "code": error.code(), "message": error.public_message() });
    if let Some(field) = error.field() {
        body["field"] = json!(field);
    }
    if let Some(id) = super::current_request_id() {
        body["request_id"] = json!(id);
    }
    with_body(response, Json(body).into_response())
}

/// Payer-authentication (merchant) envelope: `{"status": "fail"|"error", "message",
/// "error": {"reason", "message", "field"?}, "request_id"}` — `status`/`message` as the
/// upstream sends them, the `error` object shaped like the upstream's pending-scenario
/// one, and the request's id to quote.
pub async fn payer_auth_envelope(mut response: Response) -> Response {
    let Some(error) = take_error(&mut response) else {
        return response;
    };
    error.log();
    let status = if error.status() >= 500 {
        "error"
    } else {
        "fail"
    };
    let message = error.public_message();
    let mut detail = json!({ "reason": error.code(), "message": message });
    if let Some(field) = error.field() {
        detail["field"] = json!(field);
    }
    let mut body = json!({ "status": status, "message": message, "error": detail });
    if let Some(id) = super::current_request_id() {
        body["request_id"] = json!(id);
    }
    with_body(response, Json(body).into_response())
}

/// The caller's own envelope, on routes every tenant calls (the events API): a card
/// program's key gets the card-issuance envelope, any other caller the
/// payer-authentication one.
pub async fn callers_own_envelope<S: super::HasTenants + Send + Sync>(
    axum::extract::State(state): axum::extract::State<Arc<S>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let card_program = match state.tenants().get().await {
        Ok(registry) => request
            .headers()
            .get("x-api-key")
            .and_then(|v| v.to_str().ok())
            .and_then(|key| registry.authenticate(key))
            .is_some_and(|tenant| {
                tenant.has_role(Role::Issuer) && !tenant.has_role(Role::Merchant)
            }),
        Err(_) => false,
    };
    let response = next.run(request).await;
    if card_program {
        card_issuance_envelope(response).await
    } else {
        payer_auth_envelope(response).await
    }
}

/// Browser pages (the 3DS return URL): a plain HTML page, no scripts, no echo of input.
pub async fn browser_page(mut response: Response) -> Response {
    let Some(error) = take_error(&mut response) else {
        return response;
    };
    error.log();
    let title = if error.status() >= 500 {
        "We could not finish checking your payment"
    } else {
        "This payment link is not valid"
    };
    let message = match super::current_request_id() {
        Some(id) => format!("{} (reference: {id})", error.public_message()),
        None => error.public_message(),
    };
    let page = pages::message_page(response.status(), title, &message);
    with_body(response, page)
}

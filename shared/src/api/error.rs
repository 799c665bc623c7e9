//! The one error type of every route, its one mapping to HTTP status, and its rendering
//! in each API's envelope.
//!
//! Handlers return `Result<_, ApiError>`. `ApiError::into_response` only sets the status
//! and stashes the error in the response; the router's envelope layer
//! ([`card_issuance_envelope`], [`payer_auth_envelope`], [`browser_page`]) renders the
//! body in the shape the caller's integration already parses and logs the refusal once.
//! Messages are written by us and never carry a request value, so they are safe to log
//! and to return.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::response::{Html, IntoResponse, Response};
use http::{HeaderValue, StatusCode};
use serde_json::json;

use crate::http_client::UpstreamError;
use crate::store::StoreError;

#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    #[error("{field}: {message}")]
    InvalidField { field: String, message: String },
    #[error("the request body is not valid JSON (line {line}, column {column})")]
    MalformedJson { line: usize, column: usize },
    #[error("the request body must not be larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("no such route")]
    RouteNotFound,
    #[error("this route does not accept that method")]
    MethodNotAllowed,
    #[error("missing or invalid x-api-key")]
    Unauthorized,
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    #[error("{message}")]
    NotFound { code: &'static str, message: String },
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// The upstream refused the request (4xx): passed on with its status.
    #[error("{message}")]
    UpstreamRefused {
        status: u16,
        code: String,
        message: String,
        retry_after: Option<Duration>,
    },
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::InvalidField {
            field: field.into(),
            message: message.into(),
        }
    }

    /// An upstream's refusal, passed on with its status. Its code and message are text we
    /// did not write: the code is kept only if it looks like one (UPPER_SNAKE), the
    /// message is redacted and bounded; our defaults stand in otherwise.
    pub fn upstream_refused(
        status: u16,
        code: Option<String>,
        default_code: &str,
        message: Option<String>,
        default_message: &str,
        retry_after: Option<Duration>,
    ) -> Self {
        let looks_like_a_code = |c: &String| {
            !c.is_empty()
                && c.len() <= 64
                && c.chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        };
        ApiError::UpstreamRefused {
            status,
            code: code
                .filter(looks_like_a_code)
                .unwrap_or_else(|| default_code.to_owned()),
            message: message
                .map(|m| redact_untrusted(&m))
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| default_message.to_owned()),
            retry_after,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::InvalidField { .. } | ApiError::MalformedJson { .. } => {
                StatusCode::BAD_REQUEST
            }
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::RouteNotFound | ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden { .. } => StatusCode::FORBIDDEN,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::UpstreamRefused { status, .. } => StatusCode::from_u16(*status)
                .ok()
                .filter(StatusCode::is_client_error)
                .unwrap_or(StatusCode::BAD_GATEWAY),
            ApiError::Upstream(e) if e.is_timeout() => StatusCode::GATEWAY_TIMEOUT,
            ApiError::Upstream(_) => StatusCode::BAD_GATEWAY,
            ApiError::Store(StoreError::Timeout) => StatusCode::GATEWAY_TIMEOUT,
            ApiError::Store(StoreError::Unavailable(_)) => StatusCode::BAD_GATEWAY,
            ApiError::Store(StoreError::Corrupt(_)) | ApiError::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    /// Machine-readable code, UPPER_SNAKE like the upstreams'.
    pub fn code(&self) -> &str {
        match self {
            ApiError::InvalidField { .. } => "INVALID_PARAMETER",
            ApiError::MalformedJson { .. } => "MALFORMED_JSON",
            ApiError::PayloadTooLarge { .. } => "PAYLOAD_TOO_LARGE",
            ApiError::RouteNotFound => "ROUTE_NOT_FOUND",
            ApiError::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            ApiError::Unauthorized => "UNAUTHORIZED",
            ApiError::Forbidden { code, .. }
            | ApiError::NotFound { code, .. }
            | ApiError::Conflict { code, .. } => code,
            ApiError::UpstreamRefused { code, .. } => code,
            ApiError::Upstream(e) if e.is_timeout() => "UPSTREAM_TIMEOUT",
            ApiError::Upstream(_) => "UPSTREAM_UNAVAILABLE",
            ApiError::Store(StoreError::Timeout) => "STORE_TIMEOUT",
            ApiError::Store(StoreError::Unavailable(_)) => "STORE_UNAVAILABLE",
            ApiError::Store(StoreError::Corrupt(_)) | ApiError::Internal(_) => "INTERNAL_ERROR",
        }
    }

    pub fn field(&self) -> Option<&str> {
        match self {
            ApiError::InvalidField { field, .. } => Some(field),
            _ => None,
        }
    }

    /// What the caller is told. Internal details (store errors) stay in our logs.
    pub fn public_message(&self) -> String {
        match self {
            ApiError::Store(StoreError::Timeout) => {
                "the session store did not answer in time; retry the request".into()
            }
            ApiError::Store(StoreError::Unavailable(_)) => {
                "the session store is unavailable; retry the request".into()
            }
            ApiError::Store(StoreError::Corrupt(_)) | ApiError::Internal(_) => {
                "internal error".into()
            }
            ApiError::Upstream(e) => format!("{e}; nothing was decided, retry the request"),
            other => other.to_string(),
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            ApiError::UpstreamRefused { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    fn log(&self) {
        let status = self.status().as_u16();
        if status >= 500 {
            tracing::error!(status, code = self.code(), error = %self, "request failed");
        } else {
            tracing::warn!(status, code = self.code(), field = self.field(), detail = %self, "request refused");
        }
    }
}

/// The error travels to the envelope layer inside the response.
#[derive(Clone)]
struct PendingError(Arc<ApiError>);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = self.status().into_response();
        if let Some(wait) = self.retry_after() {
            response.headers_mut().insert(
                http::header::RETRY_AFTER,
                HeaderValue::from(wait.as_secs().max(1)),
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

/// Card-issuance (issuer) envelope: `{"code", "message", "field"?}`.
pub async fn card_issuance_envelope(mut response: Response) -> Response {
    let Some(error) = take_error(&mut response) else {
        return response;
    };
    error.log();
    let mut body = json!({ "code": error.code(), "message": error.public_message() });
    if let Some(field) = error.field() {
        body["field"] = json!(field);
    }
    with_body(response, Json(body).into_response())
}

/// Payer-authentication (merchant) envelope: `{"status": "fail"|"error", "message",
/// "error": {"reason", "message", "field"?}}` — `status`/`message` as the upstream
/// sends them, the `error` object shaped like the upstream's pending-scenario one.
pub async fn payer_auth_envelope(mut response: Response) -> Response {
    let Some(error) = take_error(&mut response) else {
        return response;
    };
    error.log();
    let status = if error.status().is_server_error() {
        "error"
    } else {
        "fail"
    };
    let message = error.public_message();
    let mut detail = json!({ "reason": error.code(), "message": message });
    if let Some(field) = error.field() {
        detail["field"] = json!(field);
    }
    let body = json!({ "status": status, "message": message, "error": detail });
    with_body(response, Json(body).into_response())
}

/// Browser pages (the 3DS return URL): a plain HTML page, no scripts, no echo of input.
pub async fn browser_page(mut response: Response) -> Response {
    let Some(error) = take_error(&mut response) else {
        return response;
    };
    error.log();
    let title = if error.status().is_server_error() {
        "We could not finish checking your payment"
    } else {
        "This payment link is not valid"
    };
    let page = crate::pages::message_page(title, &error.public_message());
    with_body(response, Html(page).into_response())
}

/// Masks digit runs that could be card numbers in text we did not write (upstream
/// messages), and bounds its length.
pub fn redact_untrusted(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(300));
    let mut digits = String::new();
    let flush = |digits: &mut String, out: &mut String| {
        let count = digits.chars().filter(char::is_ascii_digit).count();
        if count >= 8 {
            out.push_str("[redacted]");
        } else {
            out.push_str(digits);
        }
        digits.clear();
    };
    for c in text.chars().take(300) {
        let in_run = c.is_ascii_digit() || (!digits.is_empty() && (c == ' ' || c == '-'));
        if in_run {
            digits.push(c);
        } else {
            flush(&mut digits, &mut out);
            if !c.is_control() {
                out.push(c);
            }
        }
    }
    flush(&mut digits, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_in_one_place() {
        let timeout = ApiError::Upstream(UpstreamError::Timeout {
            upstream: crate::http_client::Upstream::PayerAuth,
        });
        assert_eq!(timeout.status(), StatusCode::GATEWAY_TIMEOUT);
        let five = ApiError::Upstream(UpstreamError::ServerError {
            upstream: crate::http_client::Upstream::PayerAuth,
            status: 500,
        });
        assert_eq!(five.status(), StatusCode::BAD_GATEWAY);
        let refused = |status| ApiError::UpstreamRefused {
            status,
            code: "X".into(),
            message: "m".into(),
            retry_after: None,
        };
        assert_eq!(refused(409).status(), StatusCode::CONFLICT);
        assert_eq!(refused(302).status(), StatusCode::BAD_GATEWAY);
        assert_eq!(
            ApiError::Store(StoreError::Unavailable("x".into())).status(),
            StatusCode::BAD_GATEWAY
        );
    }

    #[test]
    fn untrusted_text_loses_card_like_digit_runs() {
        assert_eq!(
            redact_untrusted("card 4000 0000 0000 2503 declined, code 42"),
            "card [redacted]declined, code 42"
        );
        assert_eq!(
            redact_untrusted("bad\u{7}4111111111111111"),
            "bad[redacted]"
        );
        assert!(redact_untrusted(&"x".repeat(1_000)).len() <= 300);
    }
}

//! The middleware in front of every upstream route: records each call, and injects the
//! fault a rule or the `x-sandbox-fault` header asks for.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::faults::{Fault, RecordedCall, header_fault};
use crate::server::DropConnection;
use crate::state::SandboxState;

fn error_body(path: &str, status: u16) -> serde_json::Value {
    if path.starts_with("/v1/risk") {
        let kind = if status >= 500 { "error" } else { "fail" };
        serde_json::json!({"status": kind, "message": "Sandbox injected fault", "data": ""})
    } else {
        let code = match status {
            429 => "TOO_MANY_REQUESTS",
            503 => "SERVICE_UNAVAILABLE",
            s if s >= 500 => "INTERNAL_ERROR",
            _ => "INJECTED_FAULT",
        };
        serde_json::json!({"code": code, "message": "Sandbox injected fault"})
    }
}

pub async fn record_and_inject(
    State(state): State<Arc<SandboxState>>,
    request: Request,
    next: Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 1 << 20).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let path = parts.uri.path().to_owned();
    let query = parts.uri.query().map(str::to_owned);
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let fault = parts
        .headers
        .get("x-sandbox-fault")
        .and_then(|v| v.to_str().ok())
        .and_then(header_fault)
        .or_else(|| {
            state.take_fault(|rule| rule.matches(&path, query.as_deref().unwrap_or(""), &text))
        });
    state.record(RecordedCall {
        method: parts.method.to_string(),
        path: path.clone(),
        query,
        headers: parts
            .headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_owned()))
            .collect(),
        body: serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::String(text)),
        fault: fault.clone(),
        at_ms: chrono::Utc::now().timestamp_millis(),
    });
    let drop_switch = parts.extensions.get::<DropConnection>().cloned();
    let _in_flight = InFlight::enter(&state);
    let request = Request::from_parts(parts, Body::from(bytes));
    match fault {
        None => next.run(request).await,
        Some(Fault::Latency { ms }) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            next.run(request).await
        }
        Some(Fault::SlowResponse { ms }) => {
            let response = next.run(request).await;
            tokio::time::sleep(Duration::from_millis(ms)).await;
            response
        }
        Some(Fault::Status {
            status,
            retry_after_secs,
        }) => {
            let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut response = (code, axum::Json(error_body(&path, status))).into_response();
            if let Some(secs) = retry_after_secs {
                response
                    .headers_mut()
                    .insert("retry-after", HeaderValue::from(secs));
            }
            response
        }
        Some(Fault::MalformedBody) => (
            StatusCode::OK,
            [("content-type", "application/json")],
            "<html><body>upstream proxy error</body></html>",
        )
            .into_response(),
        Some(Fault::DropConnection) => match drop_switch {
            Some(switch) => switch.drop_now().await,
            None => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        },
    }
}

/// Counts a request as in flight until dropped (also when its connection is dropped).
struct InFlight<'a>(&'a SandboxState);

impl<'a> InFlight<'a> {
    fn enter(state: &'a SandboxState) -> Self {
        use std::sync::atomic::Ordering::SeqCst;
        let now = state.in_flight.fetch_add(1, SeqCst) + 1;
        state.max_in_flight.fetch_max(now, SeqCst);
        Self(state)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0
            .in_flight
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

//! Call recording and fault injection, applied to every upstream route.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::server::DropConnection;
use crate::state::SandboxState;

/// A request as the sandbox received it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RecordedCall {
    pub method: String,
    pub path: String,
    #[serde(default)]
    pub query: Option<String>,
    pub headers: Vec<(String, String)>,
    /// The body as JSON when it is JSON, else as a string.
    pub body: serde_json::Value,
    /// The fault applied to this call, if any.
    #[serde(default)]
    pub fault: Option<Fault>,
}

impl RecordedCall {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What to do to a matching request.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// Wait, then handle the request normally (a slow upstream).
    Latency { ms: u64 },
    /// Handle the request, then wait before answering (the upstream acted, but its
    /// answer arrives late: the case a client timeout cannot tell apart).
    SlowResponse { ms: u64 },
    /// Answer with this status (and an error body in the upstream's style).
    Status {
        status: u16,
        #[serde(default)]
        retry_after_secs: Option<u64>,
    },
    /// Answer 200 with a body that is not JSON.
    MalformedBody,
    /// Close the connection without answering.
    DropConnection,
}

/// Selects requests for a fault: by path (exact, or prefix with a trailing `*`) and
/// optionally by a substring of the body or query (a reference code, a card id), for at
/// most `times` requests (unlimited when `None`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FaultRule {
    pub path: String,
    #[serde(default)]
    pub contains: Option<String>,
    pub fault: Fault,
    #[serde(default)]
    pub times: Option<u32>,
}

impl FaultRule {
    pub fn on(path: &str, fault: Fault) -> Self {
        Self {
            path: path.into(),
            contains: None,
            fault,
            times: None,
        }
    }

    pub fn containing(mut self, text: &str) -> Self {
        self.contains = Some(text.into());
        self
    }

    pub fn times(mut self, times: u32) -> Self {
        self.times = Some(times);
        self
    }

    fn matches(&self, path: &str, query: &str, body: &str) -> bool {
        let path_ok = match self.path.strip_suffix('*') {
            Some(prefix) => path.starts_with(prefix),
            None => path == self.path,
        };
        path_ok
            && self
                .contains
                .as_deref()
                .is_none_or(|needle| body.contains(needle) || query.contains(needle))
    }
}

/// `x-sandbox-fault: status=503`, `latency=1500`, `malformed`, `drop`: a fault for this one
/// request, for calling the sandbox directly.
fn header_fault(value: &str) -> Option<Fault> {
    match value.split_once('=') {
        Some(("status", s)) => s.parse().ok().map(|status| Fault::Status {
            status,
            retry_after_secs: None,
        }),
        Some(("latency", ms)) => ms.parse().ok().map(|ms| Fault::Latency { ms }),
        None if value == "malformed" => Some(Fault::MalformedBody),
        None if value == "drop" => Some(Fault::DropConnection),
        _ => None,
    }
}

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

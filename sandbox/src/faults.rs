//! What the sandbox records of each call, and the faults a test can ask for (injected by
//! the injection middleware).

use serde::{Deserialize, Serialize};

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
    /// When it arrived, epoch ms (the wall clock: rates are counted by it).
    #[serde(default)]
    pub at_ms: i64,
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

    pub(crate) fn matches(&self, path: &str, query: &str, body: &str) -> bool {
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
pub(crate) fn header_fault(value: &str) -> Option<Fault> {
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

//! Reading the card-issuance API's answers. Success is HTTP 2xx with
//! `{"code": "SUCCESS", ...}`; anything else is an error, parsed leniently since the
//! upstream documents no error body. Its documented refusals are a closed enum.

use serde_json::Value;

use crate::outbound::{JsonAnswer, Upstream, UpstreamError, UpstreamResponse};

/// The refusals the card-issuance pages document, by HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalKind {
    /// 400: a parameter was rejected.
    InvalidParameter,
    /// 401: the gateway's credentials (bearer token or key) were rejected.
    Unauthorized,
    /// 403: 3DS is not enabled for the account.
    FeatureNotEnabled,
    /// 404: the card or cardholder does not exist (or the card is not enrolled).
    NotFound,
    /// 409: the card is already enrolled.
    AlreadyEnrolled,
    /// 429: over 1000 requests in 10 s.
    RateLimited,
    /// Any other 4xx.
    Other,
}

impl RefusalKind {
    pub fn from_status(status: u16) -> Self {
        match status {
            400 => RefusalKind::InvalidParameter,
            401 => RefusalKind::Unauthorized,
            403 => RefusalKind::FeatureNotEnabled,
            404 => RefusalKind::NotFound,
            409 => RefusalKind::AlreadyEnrolled,
            429 => RefusalKind::RateLimited,
            _ => RefusalKind::Other,
        }
    }
}

/// An HTTP 4xx of the card-issuance API. Only its status and its code are kept: its free
/// text may quote what was sent (a security answer, a card number), and is never passed
/// on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub kind: RefusalKind,
    pub code: Option<String>,
    pub retry_after_secs: Option<u64>,
}

/// Errors of the card-issuance API, before they become answers for our caller.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum CardIssuanceError {
    #[error(transparent)]
    Transport(#[from] UpstreamError),
    #[error("the card-issuance API refused the request with HTTP {}", .0.status)]
    Refused(Refusal),
    /// Enroll's 409: the card is linked to another cardholder (of this budget, when its
    /// enrollment detail could be read).
    #[error("the card is already enrolled for 3DS with another cardholder")]
    AlreadyEnrolled {
        conflict: Refusal,
        linked_budget: Option<String>,
    },
    /// HTTP 2xx whose `code` is not `SUCCESS`.
    #[error("the card-issuance API answered {code}")]
    NotSuccess { code: String },
}

/// Reads the upstream envelope: 2xx + `code == "SUCCESS"` is success; everything else
/// is an error, whatever shape its body has.
pub(super) fn read_envelope(response: &UpstreamResponse) -> Result<Value, CardIssuanceError> {
    let text = |body: &Value, key: &str| body.get(key).and_then(Value::as_str).map(str::to_owned);
    let body = match response.json(Upstream::CardIssuance)? {
        JsonAnswer::Refused { status, body } => {
            let body = body.unwrap_or_default();
            return Err(CardIssuanceError::Refused(Refusal {
                status,
                kind: RefusalKind::from_status(status),
                code: text(&body, "code").or_else(|| text(&body, "error_code")),
                retry_after_secs: response.retry_after().map(|d| d.as_secs().max(1)),
            }));
        }
        JsonAnswer::Answered { body } => body,
    };
    match body.get("code").and_then(Value::as_str) {
        Some("SUCCESS") => Ok(body),
        Some(code) => Err(CardIssuanceError::NotSuccess {
            code: code.to_owned(),
        }),
        None => Err(CardIssuanceError::Transport(UpstreamError::Malformed {
            upstream: Upstream::CardIssuance,
            status: response.status.as_u16(),
        })),
    }
}

/// The budget a card was issued from, as `card/v2/detail` names it.
pub(super) fn card_budget(envelope: &Value) -> Option<String> {
    envelope
        .pointer("/data/budget_id")
        .and_then(Value::as_str)
        .filter(|budget| !budget.is_empty())
        .map(str::to_owned)
}

/// Replaces `security_answer` values anywhere in an upstream answer: they are
/// credentials for cardholder verification and never leave the gateway.
pub fn redact_security_answers(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map.iter_mut() {
                if key == "security_answer" {
                    *inner = Value::String("[REDACTED]".into());
                } else {
                    redact_security_answers(inner);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_security_answers),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn security_answers_are_redacted_everywhere() {
        let mut value = serde_json::json!({"data": {"list": [{"security_answer": "Han", "x": 1}], "security_answer": "Han"}});
        redact_security_answers(&mut value);
        assert!(!value.to_string().contains("Han"));
    }
}

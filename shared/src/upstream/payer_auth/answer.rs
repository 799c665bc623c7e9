//! Reading the payer-authentication API's answers: the `status`/`message`/`data`
//! envelope, and the transaction statuses as closed enums mapped exhaustively to what
//! the gateway decides. An answer that fits no documented scenario is malformed, never a
//! decline.

use serde_json::Value;

use crate::domain::{AuthenticationResult, CardSummary};
use crate::outbound::{JsonAnswer, Upstream, UpstreamError, UpstreamResponse};

/// The envelope's top-level `status` (the 3DS pages write it lower-case, the payments
/// pages capitalised: both are read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EnvelopeStatus {
    /// The call worked; `data` holds the answer (a 3DS decline is a success).
    Success,
    /// The request itself was refused.
    Fail,
    /// The upstream failed.
    Error,
}

impl EnvelopeStatus {
    fn parse(raw: &str) -> Option<Self> {
        match raw.to_ascii_lowercase().as_str() {
            "success" => Some(EnvelopeStatus::Success),
            "fail" => Some(EnvelopeStatus::Fail),
            "error" => Some(EnvelopeStatus::Error),
            _ => None,
        }
    }
}

/// `data.transaction_info.status`, every value the documentation gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TransactionStatus {
    /// Setup.
    Completed,
    AuthenticationSuccessful,
    PendingAuthentication,
    AuthenticationFailed,
}

impl TransactionStatus {
    fn parse(raw: &str) -> Option<Self> {
        match raw {
            "Completed" => Some(TransactionStatus::Completed),
            "Authentication_successful" => Some(TransactionStatus::AuthenticationSuccessful),
            "Pending_authentication" => Some(TransactionStatus::PendingAuthentication),
            "Authentication_failed" => Some(TransactionStatus::AuthenticationFailed),
            _ => None,
        }
    }
}

/// The challenge window size (`01`–`05`, EMV 3DS) of a challenge, decoded from the
/// check-enroll answer's `pareq` (base64 of the challenge request, `CReq`, JSON), when it
/// carries one.
pub fn challenge_window_size(body: &Value) -> Option<String> {
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    let pareq = body
        .pointer("/data/consumer_auth_info/pareq")
        .and_then(Value::as_str)?;
    let trimmed = pareq.trim().trim_end_matches('=');
    let bytes = URL_SAFE_NO_PAD
        .decode(trimmed)
        .or_else(|_| STANDARD.decode(pareq.trim()))
        .ok()?;
    let creq: Value = serde_json::from_slice(&bytes).ok()?;
    creq.get("challengeWindowSize")
        .and_then(Value::as_str)
        .filter(|size| matches!(*size, "01" | "02" | "03" | "04" | "05"))
        .map(str::to_owned)
}

/// What check enroll decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnrollmentDecision {
    /// `Authentication_successful` (frictionless).
    Authenticated(AuthenticationResult),
    /// `Authentication_failed`: final, no validate step.
    Failed(AuthenticationResult),
    /// `Pending_authentication`: the cardholder must complete a challenge.
    ChallengeRequired {
        authentication_transaction_id: String,
    },
}

/// The upstream refused the request itself (HTTP 4xx, or `"status": "fail"`) — not a
/// 3DS decline, which is a successful call saying `Authentication_failed`. Only its status
/// and its code are kept: its free text may quote what was sent, and is never passed on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum PayerAuthError {
    #[error(transparent)]
    Transport(#[from] UpstreamError),
    #[error("the payer-authentication API refused the request with HTTP {}", .0.status)]
    Refused(Refusal),
}

fn malformed(status: u16) -> UpstreamError {
    UpstreamError::Malformed {
        upstream: Upstream::PayerAuth,
        status,
    }
}

/// A `"status": "success"` answer of the payer-authentication API.
#[derive(Debug, Clone, PartialEq)]
pub struct PayerAuthAnswer {
    pub body: Value,
}

impl PayerAuthAnswer {
    fn text(&self, pointer: &str) -> Option<String> {
        self.body
            .pointer(pointer)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    }

    fn transaction_status(&self) -> Result<TransactionStatus, UpstreamError> {
        self.text("/data/transaction_info/status")
            .as_deref()
            .and_then(TransactionStatus::parse)
            .ok_or_else(|| malformed(200))
    }

    /// The outcome fields of `consumer_auth_info`, as the documentation names them
    /// (`specificationVersion`; `specification_version` is accepted too).
    pub fn result(&self) -> AuthenticationResult {
        let info = |name: &str| self.text(&format!("/data/consumer_auth_info/{name}"));
        AuthenticationResult {
            transaction_status: self.text("/data/transaction_info/status"),
            eci: info("eci"),
            eci_raw: info("eci_raw"),
            cavv: info("cavv"),
            xid: info("xid"),
            pares_status: info("pares_status"),
            veres_enrolled: info("veres_enrolled"),
            commerce_indicator: info("commerce_indicator"),
            authentication_transaction_id: info("authentication_transaction_id"),
            specification_version: info("specificationVersion")
                .or_else(|| info("specification_version")),
            signed_pares_status_reason: info("signed_pares_status_reason"),
            tree_dss_server_transaction_id: info("tree_dss_server_transaction_id"),
            directory_server_transaction_id: info("directory_server_transaction_id"),
            acs_transaction_id: info("acs_transaction_id"),
            acs_reference_number: info("acs_reference_number"),
        }
    }

    /// BIN and network as the upstream reports them.
    pub fn card_summary(&self) -> CardSummary {
        CardSummary {
            bin: self.text("/data/card/bin"),
            last4: None,
            network: self.text("/data/card/type"),
        }
    }

    /// The check-enroll answer as the merchant gets it — the upstream's, with what the
    /// gateway adds (nothing renamed: the challenge window size a challenge frame needs)
    /// — and its decision.
    pub fn into_enrollment(mut self) -> Result<(Self, EnrollmentDecision), UpstreamError> {
        let decision = self.enrollment_decision()?;
        if matches!(decision, EnrollmentDecision::ChallengeRequired { .. })
            && let Some(size) = challenge_window_size(&self.body)
            && let Some(info) = self.body.pointer_mut("/data/consumer_auth_info")
        {
            info["challenge_window_size"] = Value::from(size);
        }
        Ok((self, decision))
    }

    /// Check enroll's decision, one arm per documented status.
    pub fn enrollment_decision(&self) -> Result<EnrollmentDecision, UpstreamError> {
        match self.transaction_status()? {
            TransactionStatus::AuthenticationSuccessful => {
                Ok(EnrollmentDecision::Authenticated(self.result()))
            }
            TransactionStatus::AuthenticationFailed => {
                Ok(EnrollmentDecision::Failed(self.result()))
            }
            TransactionStatus::PendingAuthentication => self
                .text("/data/consumer_auth_info/authentication_transaction_id")
                .map(|id| EnrollmentDecision::ChallengeRequired {
                    authentication_transaction_id: id,
                })
                .ok_or_else(|| malformed(200)),
            TransactionStatus::Completed => Err(malformed(200)),
        }
    }

    /// Validate's decision: `true` authenticated, `false` failed.
    pub fn validation_succeeded(&self) -> Result<bool, UpstreamError> {
        match self.transaction_status()? {
            TransactionStatus::AuthenticationSuccessful => Ok(true),
            TransactionStatus::AuthenticationFailed => Ok(false),
            TransactionStatus::PendingAuthentication | TransactionStatus::Completed => {
                Err(malformed(200))
            }
        }
    }
}

/// Reads the envelope of any payer-authentication answer.
pub(super) fn read_envelope(
    response: &UpstreamResponse,
) -> Result<PayerAuthAnswer, PayerAuthError> {
    let body = match response.json(Upstream::PayerAuth)? {
        JsonAnswer::Refused { status, body } => return Err(refusal(body.as_ref(), status)),
        JsonAnswer::Answered { body } => body,
    };
    let status = response.status.as_u16();
    let envelope = body
        .get("status")
        .and_then(Value::as_str)
        .and_then(EnvelopeStatus::parse);
    match envelope {
        Some(EnvelopeStatus::Success) => Ok(PayerAuthAnswer { body }),
        None => Err(malformed(status).into()),
        // A refusal in a 2xx envelope: read as 422, the request was not acceptable.
        Some(EnvelopeStatus::Fail) => Err(refusal(Some(&body), 422)),
        Some(EnvelopeStatus::Error) => Err(UpstreamError::ServerError {
            upstream: Upstream::PayerAuth,
            status,
        }
        .into()),
    }
}

fn refusal(body: Option<&Value>, status: u16) -> PayerAuthError {
    let text = |pointer: &str| {
        body.and_then(|b| b.pointer(pointer))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    PayerAuthError::Refused(Refusal {
        status,
        reason: text("/error/reason").or_else(|| text("/data/error/reason")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: &str, info: Value) -> PayerAuthAnswer {
        PayerAuthAnswer {
            body: serde_json::json!({"status": "success", "data": {
                "transaction_info": {"status": status}, "consumer_auth_info": info}}),
        }
    }

    #[test]
    fn the_three_documented_scenarios_are_read_and_nothing_else_is_a_decision() {
        let ok = answer(
            "Authentication_successful",
            serde_json::json!({"eci": "05", "specificationVersion": "2.2.0"}),
        );
        let EnrollmentDecision::Authenticated(result) = ok.enrollment_decision().unwrap() else {
            panic!()
        };
        assert_eq!(result.specification_version.as_deref(), Some("2.2.0"));
        assert!(matches!(
            answer("Authentication_failed", serde_json::json!({})).enrollment_decision(),
            Ok(EnrollmentDecision::Failed(_))
        ));
        assert_eq!(
            answer(
                "Pending_authentication",
                serde_json::json!({"authentication_transaction_id": "T1"})
            )
            .enrollment_decision(),
            Ok(EnrollmentDecision::ChallengeRequired {
                authentication_transaction_id: "T1".into()
            })
        );
        for unreadable in [
            answer("Pending_authentication", serde_json::json!({})),
            answer("Authentication_maybe", serde_json::json!({})),
            answer("Completed", serde_json::json!({})),
        ] {
            assert!(unreadable.enrollment_decision().is_err());
            assert!(unreadable.validation_succeeded().is_err());
        }
    }
}

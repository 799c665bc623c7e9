//! The one view of an authentication's outcome: built once from a session at a moment
//! ([`Outcome::at`]) and rendered by every surface that shows it — the status route, the
//! listing, the events and the signed redirect. What "flow", "reason" and "liability
//! shift" mean is decided here only.

use serde::Serialize;

use super::{AuthenticationSession, SessionState};
pub use crate::domain::Flow;

/// Why an authentication did not succeed, for the merchant to act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Reason {
    /// The issuer did not authenticate the cardholder (`pares_status` N, or none).
    NotAuthenticated,
    /// The issuer rejected the authentication (`pares_status` R).
    AuthenticationRejected,
    /// Authentication could not be performed (`pares_status` U).
    AuthenticationUnavailable,
    /// The cardholder did not finish the challenge by its deadline.
    ChallengeExpired,
    /// The merchant canceled the pending challenge.
    CanceledByMerchant,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::NotAuthenticated => "NOT_AUTHENTICATED",
            Reason::AuthenticationRejected => "AUTHENTICATION_REJECTED",
            Reason::AuthenticationUnavailable => "AUTHENTICATION_UNAVAILABLE",
            Reason::ChallengeExpired => "CHALLENGE_EXPIRED",
            Reason::CanceledByMerchant => "CANCELED_BY_MERCHANT",
        }
    }
}

/// Whether the liability for fraud moved to the issuer: known once decided, never for
/// an authentication that expired or was canceled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiabilityShift {
    Shifted,
    NotShifted,
    Unknown,
}

impl LiabilityShift {
    /// As the signed redirect says it (a query parameter is text): `true`, `false` or
    /// `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            LiabilityShift::Shifted => "true",
            LiabilityShift::NotShifted => "false",
            LiabilityShift::Unknown => "unknown",
        }
    }
}

/// In JSON (the status route, the listing, the events) one type everywhere: a boolean,
/// or `null` while unknown — never a string, whose `"false"` a script would take as true.
impl Serialize for LiabilityShift {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            LiabilityShift::Shifted => serializer.serialize_bool(true),
            LiabilityShift::NotShifted => serializer.serialize_bool(false),
            LiabilityShift::Unknown => serializer.serialize_none(),
        }
    }
}

/// An authentication's outcome as it stands at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The state as it stands (a challenge past its deadline is expired, written or not).
    pub state: SessionState,
    pub flow: Flow,
    /// Why it did not succeed; `None` while pending and when it succeeded.
    pub reason: Option<Reason>,
    pub liability_shift: LiabilityShift,
    /// The ECI a merchant authorizes with (Mastercard's raw one where it gives only that).
    pub eci: Option<String>,
    /// When it was decided (or expired, or canceled), epoch ms; `None` while pending.
    pub decided_at: Option<i64>,
    /// What Mastercard requires in the authorization, with the ECI and the CAVV: the
    /// directory server's transaction id and the 3-D Secure version.
    pub directory_server_transaction_id: Option<String>,
    pub specification_version: Option<String>,
}

impl Outcome {
    /// The outcome of `session` at `now_ms`.
    pub fn at(session: &AuthenticationSession, now_ms: i64) -> Self {
        let state = session.effective_state(now_ms);
        let result = session.result.as_ref();
        let network = session.card.as_ref().and_then(|c| c.network.as_deref());
        let reason = match state {
            SessionState::Failed => Some(match result.and_then(|r| r.pares_status.as_deref()) {
                Some("U") => Reason::AuthenticationUnavailable,
                Some("R") => Reason::AuthenticationRejected,
                _ => Reason::NotAuthenticated,
            }),
            SessionState::Expired => Some(Reason::ChallengeExpired),
            SessionState::Canceled => Some(Reason::CanceledByMerchant),
            _ => None,
        };
        let liability_shift = match (result, state) {
            (Some(result), SessionState::Authenticated | SessionState::Failed) => {
                if result.liability_shift(network) {
                    LiabilityShift::Shifted
                } else {
                    LiabilityShift::NotShifted
                }
            }
            _ => LiabilityShift::Unknown,
        };
        let decided_at = match state {
            // Expired by the clock before anything wrote it: at its deadline.
            SessionState::Expired if session.state != SessionState::Expired => {
                session.challenge_deadline
            }
            state if state.is_terminal() => Some(session.updated_at),
            _ => None,
        };
        Self {
            state,
            // Sent to the bank's page, or decided straight from check enroll.
            flow: if session.challenge_deadline.is_some() {
                Flow::Challenge
            } else {
                Flow::Frictionless
            },
            reason,
            liability_shift,
            eci: result.and_then(|r| r.eci.clone().or_else(|| r.eci_raw.clone())),
            decided_at,
            directory_server_transaction_id: result
                .and_then(|r| r.directory_server_transaction_id.clone()),
            specification_version: result.and_then(|r| r.specification_version.clone()),
        }
    }

    /// The outcome as the signed redirect (and a `post_message`) carries it: `status`
    /// (`authenticated`, `failed`, `expired` or `canceled`), `flow`, `liability_shift`,
    /// then `reason`, `eci`, `directory_server_transaction_id` and
    /// `specification_version` where they apply; and `details`, the path of the status
    /// route that has the rest (the CAVV, which a URL must not carry, and the
    /// authorization view). Every name here is reserved: a merchant's `return_url` may not
    /// carry it (`redirect::RESERVED_PARAMS`).
    pub fn redirect_params(&self, reference_code: &str) -> Vec<(&'static str, String)> {
        let status = match self.state {
            SessionState::Authenticated => "authenticated",
            SessionState::Failed => "failed",
            SessionState::Canceled => "canceled",
            _ => "expired",
        };
        let mut params = vec![
            ("status", status.to_owned()),
            ("flow", self.flow.as_str().to_owned()),
            ("liability_shift", self.liability_shift.as_str().to_owned()),
        ];
        if let Some(reason) = self.reason {
            params.push(("reason", reason.as_str().to_owned()));
        }
        let optional = [
            ("eci", &self.eci),
            (
                "directory_server_transaction_id",
                &self.directory_server_transaction_id,
            ),
            ("specification_version", &self.specification_version),
        ];
        for (name, value) in optional {
            if let Some(value) = value {
                params.push((name, value.clone()));
            }
        }
        params.push((
            "details",
            format!("/v1/risk/authentication/{reference_code}"),
        ));
        params
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redirect::ReturnUrlPolicy;

    /// A merchant's `return_url` carrying a name the gateway adds would make the signed
    /// redirect hold it twice, which every verifier refuses: each is refused up front.
    #[test]
    fn every_parameter_of_the_redirect_is_one_a_return_url_may_not_carry() {
        let outcome = Outcome {
            state: SessionState::Failed,
            flow: Flow::Challenge,
            reason: Some(Reason::NotAuthenticated),
            liability_shift: LiabilityShift::NotShifted,
            eci: Some("07".into()),
            decided_at: Some(1),
            directory_server_transaction_id: Some("ds-1".into()),
            specification_version: Some("2.2.0".into()),
        };
        let policy = ReturnUrlPolicy::new(["https://shop.example"], false).expect("a policy");
        let params = outcome.redirect_params("r-1");
        assert_eq!(params.len(), 8, "every optional parameter present");
        for (name, _) in params {
            let url = format!("https://shop.example/return?{name}=mine");
            assert!(policy.check(&url).is_err(), "{name} must be reserved");
        }
    }
}

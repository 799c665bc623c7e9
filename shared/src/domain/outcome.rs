//! The outcome of an authentication, as the merchant needs it for authorization, and how
//! it reaches the merchant's page.

use serde::{Deserialize, Serialize};

use super::field::FieldError;

/// How the browser's return ends, once the challenge is decided (the step-up iframe
/// loads our return URL, so the merchant's page is its parent):
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CompletionMode {
    /// A signed 303 to the merchant's return URL (inside the frame).
    #[default]
    Redirect,
    /// A page that sends the top window to the signed URL (out of the frame).
    Top,
    /// A page that posts the signed result to the parent window, at the merchant's
    /// registered origin only, then says the frame can be closed.
    PostMessage,
}

impl CompletionMode {
    pub const ALL: [CompletionMode; 3] = [
        CompletionMode::Redirect,
        CompletionMode::Top,
        CompletionMode::PostMessage,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CompletionMode::Redirect => "redirect",
            CompletionMode::Top => "top",
            CompletionMode::PostMessage => "post_message",
        }
    }

    pub fn parse(field: &str, value: &str) -> Result<Self, FieldError> {
        Self::ALL
            .into_iter()
            .find(|m| m.as_str() == value)
            .ok_or_else(|| FieldError::new(field, "must be redirect, top or post_message"))
    }
}

/// How an authentication was decided: straight from check enroll, or after the
/// cardholder's challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flow {
    Frictionless,
    Challenge,
}

impl Flow {
    pub fn as_str(self) -> &'static str {
        match self {
            Flow::Frictionless => "frictionless",
            Flow::Challenge => "challenge",
        }
    }
}

/// The 3DS outcome fields a merchant needs for authorization.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthenticationResult {
    /// Upstream `transaction_info.status` (`Authentication_successful`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eci: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eci_raw: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cavv: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pares_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub veres_enrolled: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commerce_indicator: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication_transaction_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub specification_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_pares_status_reason: Option<String>,
    /// The 3DS server's transaction id (the seed's name, `tree_dss_server_transaction_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tree_dss_server_transaction_id: Option<String>,
    /// The directory server's transaction id: Mastercard requires it (with the version)
    /// in the authorization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory_server_transaction_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acs_transaction_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acs_reference_number: Option<String>,
}

impl AuthenticationResult {
    /// The result of a challenge: validate's answer, with what only check enroll said
    /// filled in (the transaction ids, the ACS reference number, the enrollment status
    /// and the version), so a challenge ends with every field a frictionless outcome has.
    /// The decision's own fields (statuses, ECI, CAVV) are validate's alone.
    pub fn completing(self, enrollment: &AuthenticationResult) -> Self {
        let or = |ours: Option<String>, theirs: &Option<String>| ours.or_else(|| theirs.clone());
        Self {
            veres_enrolled: or(self.veres_enrolled, &enrollment.veres_enrolled),
            specification_version: or(
                self.specification_version,
                &enrollment.specification_version,
            ),
            tree_dss_server_transaction_id: or(
                self.tree_dss_server_transaction_id,
                &enrollment.tree_dss_server_transaction_id,
            ),
            directory_server_transaction_id: or(
                self.directory_server_transaction_id,
                &enrollment.directory_server_transaction_id,
            ),
            acs_transaction_id: or(self.acs_transaction_id, &enrollment.acs_transaction_id),
            acs_reference_number: or(self.acs_reference_number, &enrollment.acs_reference_number),
            authentication_transaction_id: or(
                self.authentication_transaction_id,
                &enrollment.authentication_transaction_id,
            ),
            ..self
        }
    }

    /// Liability shift per the check-enroll documentation's ECI table: Visa/Amex (and the
    /// other non-Mastercard schemes) 05 or 06; Mastercard 01 or 02, read from `eci_raw`
    /// (Mastercard returns only `eci_raw`).
    pub fn liability_shift(&self, network: Option<&str>) -> bool {
        let is_mastercard = network.is_some_and(|n| n.eq_ignore_ascii_case("MASTERCARD"));
        if is_mastercard {
            matches!(self.eci_raw.as_deref(), Some("01" | "02"))
        } else {
            let eci = self.eci.as_deref().or(self.eci_raw.as_deref());
            matches!(eci, Some("05" | "06"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(eci: Option<&str>, eci_raw: Option<&str>) -> AuthenticationResult {
        AuthenticationResult {
            eci: eci.map(str::to_owned),
            eci_raw: eci_raw.map(str::to_owned),
            ..Default::default()
        }
    }

    #[test]
    fn liability_shift_follows_the_eci_table() {
        assert!(result(Some("05"), Some("05")).liability_shift(Some("VISA")));
        assert!(result(Some("06"), Some("06")).liability_shift(Some("AMEX")));
        assert!(!result(Some("07"), Some("07")).liability_shift(Some("VISA")));
        assert!(result(None, Some("02")).liability_shift(Some("MASTERCARD")));
        assert!(result(None, Some("01")).liability_shift(Some("MASTERCARD")));
        assert!(!result(None, Some("00")).liability_shift(Some("MASTERCARD")));
        // A Mastercard "05" is not a Visa 05.
        assert!(!result(Some("05"), Some("05")).liability_shift(Some("MASTERCARD")));
        assert!(!result(None, None).liability_shift(Some("VISA")));
    }
}

/// An amount and its currency, as the merchant sent them (the amount a check enroll
/// authenticated, `order_info.amount_details`; the amount of an order that uses it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Amount {
    pub total_amount: String,
    pub currency: String,
}

impl Amount {
    /// The amount in thousandths of the currency unit (amounts have at most three
    /// decimals), to compare: `None` for an amount that is not a decimal of at most three
    /// decimals or that is beyond `i64` (a quintillion units).
    pub fn thousandths(&self) -> Option<i64> {
        let (whole, fraction) = self
            .total_amount
            .split_once('.')
            .unwrap_or((&self.total_amount, ""));
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || fraction.len() > 3 || !digits(whole) || !digits(fraction) {
            return None;
        }
        let whole: i64 = whole.parse().ok()?;
        let fraction: i64 = format!("{fraction:0<3}").parse().ok()?;
        whole.checked_mul(1000)?.checked_add(fraction)
    }

    /// Whether `asked` is within this amount, in its currency.
    pub fn covers(&self, asked: &Amount) -> bool {
        match (asked.thousandths(), self.thousandths()) {
            (Some(asked_thousandths), Some(ours)) => {
                asked.currency == self.currency && asked_thousandths <= ours
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod amount_tests {
    use super::*;

    fn amount(total_amount: &str, currency: &str) -> Amount {
        Amount {
            total_amount: total_amount.into(),
            currency: currency.into(),
        }
    }

    #[test]
    fn an_amount_is_covered_up_to_what_was_authenticated_in_its_currency() {
        let authenticated = amount("10.50", "USD");
        assert!(authenticated.covers(&amount("10.5", "USD")));
        assert!(authenticated.covers(&amount("10.499", "USD")));
        assert!(authenticated.covers(&amount("1", "USD")));
        assert!(!authenticated.covers(&amount("10.501", "USD")));
        assert!(!authenticated.covers(&amount("11", "USD")));
        assert!(!authenticated.covers(&amount("10", "EUR")));
        assert!(!authenticated.covers(&amount("ten", "USD")));
        assert!(!authenticated.covers(&amount("-1", "USD")));
        assert_eq!(amount("1000", "MXN").thousandths(), Some(1_000_000));
        assert_eq!(amount("99999999999999999", "MXN").thousandths(), None);
    }
}

//! The payer-authentication API's request bodies, field for field. They are also the
//! gateway's own drop-in request bodies; what each field must hold is checked where the
//! request enters (the merchant module's request checks). Card and billing data never print.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransactionInfo {
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub reference_code: String,
}

/// Card data. Its `Debug` shows neither the number nor the expiry.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Card {
    #[serde(default)]
    pub number: String,
    #[serde(default)]
    pub expiration_date: String,
}

impl fmt::Debug for Card {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Card").finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AmountDetails {
    #[serde(default)]
    pub total_amount: String,
    #[serde(default)]
    pub currency: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderInfo {
    #[serde(default)]
    pub amount_details: AmountDetails,
}

/// Billing details (personal data: sealed at rest like the card).
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillTo {
    #[serde(default)]
    pub first_name: String,
    #[serde(default)]
    pub last_name: String,
    #[serde(default)]
    pub country: String,
    #[serde(default)]
    pub address_1: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_2: Option<String>,
    #[serde(default)]
    pub city: String,
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub phone_number: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub postal_code: String,
}

impl fmt::Debug for BillTo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BillTo").finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuyerInfo {
    #[serde(default)]
    pub mobile_phone: String,
}

/// Browser data collected by the Songbird SDK (three JSON booleans, the rest strings).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfo {
    #[serde(default)]
    pub ip_address: String,
    #[serde(default)]
    pub http_browser_color_depth: String,
    #[serde(default)]
    pub http_browser_java_enabled: Option<bool>,
    #[serde(default)]
    pub http_browser_js_enabled: Option<bool>,
    #[serde(default)]
    pub http_browser_screen_height: String,
    #[serde(default)]
    pub http_browser_screen_width: String,
    #[serde(default)]
    pub http_browser_time_offset: String,
    #[serde(default)]
    pub user_agent: String,
    #[serde(default)]
    pub cookies_accepted: Option<bool>,
    #[serde(default)]
    pub http_browser_language: String,
    #[serde(default)]
    pub http_accept_content: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authentication {
    #[serde(default)]
    pub reference_id: String,
    #[serde(default)]
    pub return_url: String,
    #[serde(default)]
    pub device_channel: String,
    #[serde(default)]
    pub mode: String,
    #[serde(default)]
    pub token: String,
}

/// `POST /v1/risk/authentication/setup`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetupRequest {
    #[serde(default)]
    pub transaction_info: TransactionInfo,
    #[serde(default)]
    pub card: Card,
}

/// `POST /v1/risk/authentication/enroll` (check enroll).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckEnrollRequest {
    #[serde(default)]
    pub transaction_info: TransactionInfo,
    #[serde(default)]
    pub card: Card,
    #[serde(default)]
    pub order_info: OrderInfo,
    #[serde(default)]
    pub bill_to: BillTo,
    #[serde(default)]
    pub buyer_info: BuyerInfo,
    #[serde(default)]
    pub device_info: DeviceInfo,
    #[serde(default)]
    pub authentication: Authentication,
}

/// Card, order and billing data kept (encrypted) between check enroll and validate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentData {
    pub card: Card,
    pub order_info: OrderInfo,
    pub bill_to: BillTo,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidateAuthentication {
    #[serde(default)]
    pub transaction_id: String,
}

/// `POST /v1/risk/authentication/validate`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidateRequest {
    #[serde(default)]
    pub transaction_info: TransactionInfo,
    #[serde(default)]
    pub card: Card,
    #[serde(default)]
    pub order_info: OrderInfo,
    #[serde(default)]
    pub bill_to: BillTo,
    #[serde(default)]
    pub authentication: ValidateAuthentication,
}

impl ValidateRequest {
    /// The validate body for a session: its reference, its card data, the transaction id.
    pub fn new(reference_code: &str, data: PaymentData, transaction_id: &str) -> Self {
        Self {
            transaction_info: TransactionInfo {
                kind: "validate_result".into(),
                reference_code: reference_code.into(),
            },
            card: data.card,
            order_info: data.order_info,
            bill_to: data.bill_to,
            authentication: ValidateAuthentication {
                transaction_id: transaction_id.into(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_data_never_debug_prints() {
        let card = Card {
            number: "4000000000002701".into(),
            expiration_date: "01/2030".into(),
        };
        let bill_to = BillTo {
            email: "accept@gmsectec.com".into(),
            ..Default::default()
        };
        let data = PaymentData {
            card,
            order_info: OrderInfo::default(),
            bill_to,
        };
        let debug = format!("{data:?}");
        assert!(
            !debug.contains("4000000000002701") && !debug.contains("01/2030"),
            "{debug}"
        );
        assert!(!debug.contains("gmsectec"), "{debug}");
    }
}

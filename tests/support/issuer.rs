//! The card program's side, as a test drives it: the card-issuance routes, drop-in.

use serde_json::{Value, json};

use crate::{Answer, Harness, get, post_json, send};

/// Where the card-issuance routes live.
pub const ISSUING: &str = "/card/issuance/api/issuing";

/// Emma's OTP contact (the documentation's example), with `mobile`.
pub fn emma_contact(mobile: &str) -> Value {
    json!({
        "cardholder_id": sandbox::state::CARDHOLDER_ID, "call_prefix": "+1", "mobile": mobile,
        "email": "emma.johnson@example.com", "date_of_birth": "1996-10-31", "state": "Illinois",
        "city": "Chicago", "address_line": "456 Maple Avenue", "post_code": "60601",
        "country_code": "US", "security_index": "2", "security_answer": "Han"
    })
}

impl Harness {
    /// `POST {ISSUING}/{path}` as the card program holding `key`.
    pub async fn issuer_post(&self, key: &str, path: &str, body: &Value) -> Answer {
        send(
            &self.issuer().await,
            post_json(&format!("{ISSUING}/{path}"), Some(key), body),
        )
        .await
    }

    /// `GET {ISSUING}/{path_and_query}` as the card program holding `key`.
    pub async fn issuer_get(&self, key: &str, path_and_query: &str) -> Answer {
        send(
            &self.issuer().await,
            get(&format!("{ISSUING}/{path_and_query}"), Some(key)),
        )
        .await
    }
}

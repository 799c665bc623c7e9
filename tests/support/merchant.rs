//! The merchant's side, as a test drives it: the documentation's request bodies, setup
//! then check enroll, a session as stored.

use gateway::session::AuthenticationSession;
use http::StatusCode;
use serde_json::{Value, json};

use crate::{
    Answer, Harness, MERCHANT, MERCHANT_KEY, MERCHANT_ORIGIN, get, post_json, send, session_ref,
};

pub const SETUP: &str = "/v1/risk/authentication/setup";
pub const ENROLL: &str = "/v1/risk/authentication/enroll";
pub const EXPIRY: &str = "01/2030";

pub fn setup_body(reference: &str, card: &str) -> Value {
    json!({
        "transaction_info": {"type": "setup", "reference_code": reference},
        "card": {"number": card, "expiration_date": EXPIRY}
    })
}

/// The documentation's check-enroll request, for `card`, after a setup that gave
/// `reference_id`, returning to merchant `shop-a`.
pub fn enroll_body(reference: &str, card: &str, reference_id: &str) -> Value {
    enroll_body_for(MERCHANT_ORIGIN, reference, card, reference_id)
}

/// The same request, returning to `origin`.
pub fn enroll_body_for(origin: &str, reference: &str, card: &str, reference_id: &str) -> Value {
    json!({
        "transaction_info": {"type": "check_enroll", "reference_code": reference},
        "card": {"number": card, "expiration_date": EXPIRY},
        "order_info": {"amount_details": {"total_amount": "1000", "currency": "MXN"}},
        "bill_to": {
            "first_name": "John", "last_name": "Doe", "country": "US",
            "address_1": "1 Market St", "address_2": "Suite 200", "city": "san francisco",
            "state": "CA", "phone_number": "4158880000", "email": "accept@gmsectec.com",
            "postal_code": "94105"
        },
        "buyer_info": {"mobile_phone": "4158880000"},
        "device_info": {
            "ip_address": "190.123.237.237", "http_browser_color_depth": "30",
            "http_browser_java_enabled": false, "http_browser_js_enabled": true,
            "http_browser_screen_height": "1117", "http_browser_screen_width": "1728",
            "http_browser_time_offset": "240",
            "user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36",
            "cookies_accepted": true, "http_browser_language": "en-US",
            "http_accept_content": "application/json"
        },
        "authentication": {
            "reference_id": reference_id,
            "return_url": format!("{origin}/checkout/return?order=42"),
            "device_channel": "Browser",
            "mode": "S",
            "token": "AxixbwSTl1LdGx33S/NFAU9+ZWgkZAKH0MmkmXoxkcwdAJgAOBao"
        }
    })
}

/// Runs setup through the gateway and returns the body check enroll needs.
pub async fn prepared_enroll(
    h: &Harness,
    merchant: &axum::Router,
    reference: &str,
    card: &str,
) -> Value {
    let _ = h;
    prepared_enroll_as(merchant, MERCHANT_KEY, MERCHANT_ORIGIN, reference, card).await
}

/// Setup as the merchant holding `key`; the check-enroll body returns to `origin`.
pub async fn prepared_enroll_as(
    merchant: &axum::Router,
    key: &str,
    origin: &str,
    reference: &str,
    card: &str,
) -> Value {
    let answer = send(
        merchant,
        post_json(SETUP, Some(key), &setup_body(reference, card)),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "setup: {}", answer.text());
    let reference_id = answer.json()["data"]["consumer_auth_info"]["reference_id"]
        .as_str()
        .unwrap()
        .to_owned();
    enroll_body_for(origin, reference, card, &reference_id)
}

/// shop-a's session as stored: decoded by its own module, with the raw item beside it
/// for what only storage shows (index attributes, a dump searched for card data).
pub async fn session_item(h: &Harness, reference: &str) -> StoredSession {
    let key = session_ref(MERCHANT, reference).key();
    let item = h.item(&key).await.expect("session item");
    StoredSession {
        session: AuthenticationSession::from_item(item.clone()).expect("a session"),
        item,
    }
}

/// A session as stored.
#[derive(Clone, PartialEq)]
pub struct StoredSession {
    pub session: AuthenticationSession,
    pub item: gateway::store::Item,
}

impl std::ops::Deref for StoredSession {
    type Target = AuthenticationSession;

    fn deref(&self) -> &AuthenticationSession {
        &self.session
    }
}

impl std::fmt::Debug for StoredSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.item.fmt(f)
    }
}

impl StoredSession {
    /// Whether the stored item carries the attribute (named by its owning module).
    pub fn has(&self, attribute: &str) -> bool {
        self.item.contains_key(attribute)
    }
}

/// No card number, expiry, billing contact or step-up token anywhere in the item.
pub fn assert_no_clear_card_data(item: &StoredSession, card: &str) {
    let dump = format!("{item:?}");
    for secret in [
        card,
        EXPIRY,
        "accept@gmsectec.com",
        "4158880000",
        "1 Market St",
        "eyJhbGciOi",
    ] {
        assert!(!dump.contains(secret), "{secret:?} stored in clear: {dump}");
    }
}

pub fn state_of(item: &StoredSession) -> String {
    item.state.as_str().to_owned()
}

pub async fn status(merchant: &axum::Router, reference: &str, key: &str) -> Answer {
    send(
        merchant,
        get(&format!("/v1/risk/authentication/{reference}"), Some(key)),
    )
    .await
}

impl Harness {
    /// `POST /v1/risk/authentication/enroll` as the merchant holding `key`.
    pub async fn check_enroll(&self, key: &str, body: &Value) -> Answer {
        send(&self.merchant().await, post_json(ENROLL, Some(key), body)).await
    }

    /// `GET /v1/risk/authentication/{reference}` as the merchant holding `key`.
    pub async fn status_of(&self, reference: &str, key: &str) -> Answer {
        status(&self.merchant().await, reference, key).await
    }

    /// `POST /v1/risk/authentication/{reference}/cancel` as the merchant holding `key`.
    pub async fn cancel(&self, reference: &str, key: &str) -> Answer {
        let path = format!("/v1/risk/authentication/{reference}/cancel");
        send(
            &self.merchant().await,
            post_json(&path, Some(key), &json!({})),
        )
        .await
    }

    /// `GET /v1/risk/authentication?{query}` (the history function) as the merchant
    /// holding `key`.
    pub async fn list_authentications(&self, query: &str, key: &str) -> Answer {
        let path = format!("/v1/risk/authentication?{query}");
        send(&self.history().await, get(&path, Some(key))).await
    }
}

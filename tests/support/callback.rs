//! The cardholder's side of a challenge, as a test drives it: check enroll that asks for
//! one, the sandbox's step-up page over HTTP, the return to our URL, and the merchant's
//! check of the signed redirect.

use std::time::Duration;

use axum::body::Body;
use gateway::redirect::verify_redirect;
use http::{Request, StatusCode};
use serde_json::{Value, json};

use crate::merchant::{ENROLL, prepared_enroll_as};
use crate::{
    Answer, Harness, MERCHANT_KEY, MERCHANT_ORIGIN, PUBLIC_BASE_URL, merchant_redirect_keys,
    post_json, send,
};

/// A challenge the gateway started: what the merchant page gets from check enroll.
pub struct Challenge {
    pub reference: String,
    pub enroll_body: Value,
    pub stepup_url: String,
    pub access_token: String,
    pub transaction_id: String,
}

pub async fn challenged(h: &Harness, reference: &str, card: &str) -> Challenge {
    challenged_as(h, MERCHANT_KEY, MERCHANT_ORIGIN, reference, card).await
}

/// A challenge the merchant holding `key` started, returning to `origin`.
pub async fn challenged_as(
    h: &Harness,
    key: &str,
    origin: &str,
    reference: &str,
    card: &str,
) -> Challenge {
    let merchant = h.merchant().await;
    let enroll_body = prepared_enroll_as(&merchant, key, origin, reference, card).await;
    let answer = send(&merchant, post_json(ENROLL, Some(key), &enroll_body)).await;
    challenge_of(reference, enroll_body, &answer)
}

/// The challenge a check-enroll answer asks for.
pub fn challenge_of(reference: &str, enroll_body: Value, answer: &Answer) -> Challenge {
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let info = answer.json()["data"]["consumer_auth_info"].clone();
    assert_eq!(
        answer.json()["data"]["transaction_info"]["status"],
        "Pending_authentication"
    );
    Challenge {
        reference: reference.into(),
        enroll_body,
        stepup_url: info["stepup_url"].as_str().unwrap().into(),
        access_token: info["access_token"].as_str().unwrap().into(),
        transaction_id: info["authentication_transaction_id"]
            .as_str()
            .unwrap()
            .into(),
    }
}

/// What the ACS page auto-posts to the return URL.
#[derive(Debug, Clone)]
pub struct AcsReturn {
    pub path: String,
    pub transaction_id: String,
    pub md: String,
}

impl AcsReturn {
    pub fn form(&self) -> String {
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("TransactionId", &self.transaction_id)
            .append_pair("MD", &self.md)
            .finish()
    }
}

fn html_attr(html: &str, before: &str) -> String {
    let start = html
        .find(before)
        .unwrap_or_else(|| panic!("{before} not in {html}"))
        + before.len();
    let end = start + html[start..].find('"').unwrap();
    html[start..end]
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The cardholder at the sandbox ACS: the merchant page posts the step-up JWT (and MD)
/// into the iframe; the cardholder types `otp` (or cancels); the page auto-posts back.
pub async fn at_the_acs(challenge: &Challenge, action: &str, otp: &str) -> AcsReturn {
    let client = reqwest::Client::new();
    let page = client
        .post(&challenge.stepup_url)
        .form(&[("JWT", challenge.access_token.as_str()), ("MD", "order-42")])
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains("one-time code"), "{page}");
    let complete_url = challenge
        .stepup_url
        .replace("/V2/Cruise/StepUp", "/V2/Cruise/StepUp/complete");
    let tid = html_attr(&page, "name=\"TransactionId\" value=\"");
    let returned = client
        .post(complete_url)
        .form(&[
            ("TransactionId", tid.as_str()),
            ("MD", "order-42"),
            ("otp", otp),
            ("action", action),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let action_url = html_attr(&returned, "action=\"");
    AcsReturn {
        path: action_url
            .strip_prefix(PUBLIC_BASE_URL)
            .expect("posts to our return URL")
            .into(),
        transaction_id: html_attr(&returned, "name=\"TransactionId\" value=\""),
        md: html_attr(&returned, "name=\"MD\" value=\""),
    }
}

pub fn form_post(path: &str, form: String) -> Request<Body> {
    Request::post(path)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(form))
        .unwrap()
}

/// Checks the redirect's signature with the function a merchant would use and returns
/// its parameters.
pub fn verified_redirect(answer: &Answer) -> (String, gateway::redirect::VerifiedRedirect) {
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.text());
    let location = answer.header("location").expect("Location").to_owned();
    assert!(
        location.starts_with("https://shop.example/checkout/return?order=42&"),
        "{location}"
    );
    let query = url::Url::parse(&location)
        .unwrap()
        .query()
        .unwrap()
        .to_owned();
    let keys = merchant_redirect_keys();
    let now = chrono::Utc::now().timestamp() + 3600;
    let verified =
        verify_redirect(&query, &keys, now, Duration::from_secs(7200)).expect("a valid signature");
    (location, verified)
}

pub fn validate_body(challenge: &Challenge, transaction_id: &str) -> Value {
    validate_body_for(&challenge.reference, &challenge.enroll_body, transaction_id)
}

/// The merchant's validate request for a session it made with `enroll`.
pub fn validate_body_for(reference: &str, enroll: &Value, transaction_id: &str) -> Value {
    json!({
        "transaction_info": {"type": "validate_result", "reference_code": reference},
        "card": enroll["card"],
        "order_info": enroll["order_info"],
        "bill_to": enroll["bill_to"],
        "authentication": {"transaction_id": transaction_id}
    })
}

/// The drop-in validate route (the check-enroll function), as the merchant holding `key`.
pub const VALIDATE: &str = "/v1/risk/authentication/validate";

impl Harness {
    /// `POST /v1/risk/authentication/validate` as the merchant holding `key`.
    pub async fn validate(&self, key: Option<&str>, body: &Value) -> Answer {
        send(&self.merchant().await, post_json(VALIDATE, key, body)).await
    }
}

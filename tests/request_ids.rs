//! Every answer carries a request id a caller can quote — in the `x-request-id` header
//! and in every error body — and it is the id the request's log lines carry: API
//! Gateway's own (its access log's `requestId`), or the caller's when well formed.

use gateway_tests::*;
use http::StatusCode;
use sandbox::state::CARDHOLDER_ID;
use serde_json::{Value, json};

/// API Gateway's id in the events `apigw_v1_event` makes (each test's event gets one of
/// its own: every test of a process logs to one file).
const TEMPLATE_REQUEST_ID: &str = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef";

/// The "request completed" line logged for `request_id`.
fn completed_line(request_id: &str) -> Value {
    logged_lines()
        .into_iter()
        .find(|line| {
            line["span"]["request_id"] == request_id && line["message"] == "request completed"
        })
        .unwrap_or_else(|| panic!("no log line of request {request_id}"))
}

/// A merchant's setup with a malformed body, as API Gateway delivers it with its request
/// id `gateway_request_id`, and the caller's own `x-request-id` if given.
async fn malformed_setup(
    merchant: &axum::Router,
    gateway_request_id: &str,
    callers_id: Option<&str>,
) -> Answer {
    let mut headers = vec![
        ("x-api-key", MERCHANT_KEY),
        ("content-type", "application/json"),
    ];
    headers.extend(callers_id.map(|id| ("x-request-id", id)));
    let event = apigw_v1_event(
        "POST",
        "/v1/risk/authentication/setup",
        "v1",
        &headers,
        Some("{not json"),
        false,
    )
    .replace(TEMPLATE_REQUEST_ID, gateway_request_id);
    send_event(merchant, &event).await
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[tokio::test]
async fn a_refusal_names_api_gateways_request_id_in_its_header_body_and_log_line() {
    let h = Harness::new().await;
    let merchant = h.merchant().await;
    let gateway_request_id = new_id();
    let answer = malformed_setup(&merchant, &gateway_request_id, None).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        answer.header("x-request-id"),
        Some(gateway_request_id.as_str())
    );
    assert_eq!(
        answer.json_as_sent()["request_id"],
        gateway_request_id.as_str()
    );
    assert_eq!(answer.json()["error"]["reason"], "MALFORMED_JSON");
    let line = completed_line(&gateway_request_id);
    assert_eq!(line["status"], 400);
    assert_eq!(
        line["span"]["api_gateway_request_id"],
        gateway_request_id.as_str()
    );
}

#[tokio::test]
async fn a_callers_own_well_formed_request_id_is_kept_and_api_gateways_logged_beside_it() {
    let h = Harness::new().await;
    let merchant = h.merchant().await;
    let theirs = "order-4711:attempt.2";
    let gateway_request_id = new_id();
    let answer = malformed_setup(&merchant, &gateway_request_id, Some(theirs)).await;
    assert_eq!(answer.header("x-request-id"), Some(theirs));
    assert_eq!(answer.json_as_sent()["request_id"], theirs);
    let line = completed_line(theirs);
    assert_eq!(
        line["span"]["api_gateway_request_id"],
        gateway_request_id.as_str()
    );
}

#[tokio::test]
async fn a_request_id_that_could_bend_a_log_line_or_a_header_is_not_taken() {
    let h = Harness::new().await;
    let merchant = h.merchant().await;
    for bad in ["two words", "quote\"d", &"x".repeat(65), ""] {
        let gateway_request_id = new_id();
        let answer = malformed_setup(&merchant, &gateway_request_id, Some(bad)).await;
        assert_eq!(
            answer.header("x-request-id"),
            Some(gateway_request_id.as_str()),
            "{bad:?}"
        );
    }
}

#[tokio::test]
async fn a_success_and_a_card_programs_refusal_carry_their_request_ids_too() {
    let h = Harness::new().await;
    let issuer = h.issuer().await;
    let refused = send(
        &issuer,
        post_json(
            "/card/issuance/api/issuing/3ds/v2/enroll",
            Some(ISSUER_KEY),
            &json!({"card_id": "not a card", "cardholder_id": CARDHOLDER_ID}),
        ),
    )
    .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    let id = refused
        .header("x-request-id")
        .expect("a request id")
        .to_owned();
    assert_eq!(refused.json_as_sent()["request_id"], id.as_str());
    assert_eq!(refused.json()["field"], "card_id");
    assert_eq!(completed_line(&id)["status"], 400);

    let history = h.history().await;
    let listed = send(&history, get("/v1/events?limit=1", Some(ISSUER_KEY))).await;
    assert_eq!(listed.status, StatusCode::OK);
    let id = listed
        .header("x-request-id")
        .expect("a request id")
        .to_owned();
    assert_eq!(completed_line(&id)["status"], 200);
}

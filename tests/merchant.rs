//! The check-enroll function against the payer-authentication sandbox and DynamoDB (moto).

use gateway::session::SessionState;
use gateway_tests::*;
use http::StatusCode;
use serde_json::{Value, json};

/// A frictionless outcome per the test cards: what the upstream says and what we record.
struct Frictionless {
    card: &'static str,
    transaction_status: &'static str,
    state: &'static str,
    eci: Option<&'static str>,
    eci_raw: &'static str,
    liability_shift: bool,
}

/// Check enroll with `expected.card` is decided at once, recorded with its ECI and
/// liability shift, and keeps no card data.
async fn frictionless(expected: Frictionless) {
    let Frictionless {
        card,
        transaction_status,
        state,
        eci,
        eci_raw,
        liability_shift: shift,
    } = expected;
    let h = Harness::new().await;
    let merchant = h.merchant().await;
    let reference = "frictionless-1";
    let body = prepared_enroll(&h, &merchant, reference, card).await;
    let answer = send(&merchant, post_json(ENROLL, Some(MERCHANT_KEY), &body)).await;
    assert_eq!(answer.status, StatusCode::OK, "{card}: {}", answer.text());
    let upstream_answer = answer.json();
    assert_eq!(upstream_answer["status"], "success");
    assert_eq!(
        upstream_answer["data"]["transaction_info"]["status"], transaction_status,
        "{card}"
    );
    assert_eq!(
        upstream_answer["data"]["transaction_info"]["type"],
        "check_enroll_response"
    );
    assert_eq!(
        upstream_answer["data"]["consumer_auth_info"]["eci_raw"], eci_raw,
        "{card}"
    );

    let item = session_item(&h, reference).await;
    assert_eq!(state_of(&item), state, "{card}");
    assert!(
        item.sealed_payment_data.is_none(),
        "{card}: nothing to keep after a frictionless decision"
    );
    assert!(item.claim_id.is_none());
    assert_no_clear_card_data(&item, card);
    // CAVV and XID are proof of the authentication, usable in an authorization: sealed
    // at rest, opened for the owner only.
    let cavv = upstream_answer["data"]["consumer_auth_info"]["cavv"].as_str();
    if let Some(cavv) = cavv {
        assert!(
            !format!("{item:?}").contains(cavv),
            "{card}: the CAVV is not stored in clear"
        );
        assert!(item.sealed_authentication_values.is_some());
    }

    let view = status(&merchant, reference, MERCHANT_KEY).await.json();
    let data = &view["data"];
    assert_eq!(data["authentication"]["cavv"].as_str(), cavv, "{card}");
    assert_eq!(data["state"], state);
    assert_eq!(data["transaction_status"], transaction_status);
    assert_eq!(data["authentication"]["eci"].as_str(), eci, "{card}");
    assert_eq!(data["authentication"]["eci_raw"], eci_raw, "{card}");
    assert_eq!(data["authentication"]["liability_shift"], shift, "{card}");
    assert_eq!(data["authentication"]["specification_version"], "2.2.0");
    assert_eq!(data["card"]["bin"], &card[..6]);
    assert_eq!(data["card"]["last4"], &card[card.len() - 4..]);
    assert!(
        !view.to_string().contains(card),
        "the status never shows the card number"
    );
    assert!(!view.to_string().contains(EXPIRY));
    assert_eq!(h.sandbox.calls_to("authentication/enroll").len(), 1);
}

mod frictionless_outcomes_are_recorded_with_their_eci_and_liability_shift {
    use super::*;

    macro_rules! cases {
        ($($name:ident: $card:literal, $status:literal, $state:literal, $eci:expr, $eci_raw:literal, $shift:literal;)*) => {
            $(
                #[tokio::test]
                async fn $name() {
                    frictionless(Frictionless {
                        card: $card,
                        transaction_status: $status,
                        state: $state,
                        eci: $eci,
                        eci_raw: $eci_raw,
                        liability_shift: $shift,
                    })
                    .await;
                }
            )*
        };
    }

    cases! {
        visa_success: "4000000000002701", "Authentication_successful", "AUTHENTICATED", Some("05"), "05", true;
        visa_attempts: "4000000000002719", "Authentication_successful", "AUTHENTICATED", Some("06"), "06", true;
        visa_failed: "4000000000002925", "Authentication_failed", "FAILED", Some("07"), "07", false;
        visa_unavailable: "4000000000002313", "Authentication_failed", "FAILED", Some("07"), "07", false;
        visa_rejected: "4000000000002537", "Authentication_failed", "FAILED", Some("07"), "07", false;
        mastercard_success: "5200000000002235", "Authentication_successful", "AUTHENTICATED", None, "02", true;
        mastercard_failed: "5200000000002276", "Authentication_failed", "FAILED", None, "00", false;
        amex_failed: "340000000002237", "Authentication_failed", "FAILED", Some("07"), "07", false;
    }
}

#[tokio::test]
async fn a_challenge_keeps_the_session_with_our_bound_return_url_and_sealed_data() {
    let h = Harness::new().await;
    let merchant = h.merchant().await;
    let card = "4000000000002503";
    let body = prepared_enroll(&h, &merchant, "challenge-1", card).await;
    let before = h.clock.now_ms();
    let answer = send(&merchant, post_json(ENROLL, Some(MERCHANT_KEY), &body)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let data = answer.json()["data"].clone();
    assert_eq!(data["transaction_info"]["status"], "Pending_authentication");
    let info = &data["consumer_auth_info"];
    assert_eq!(info["pares_status"], "C");
    assert!(
        info["stepup_url"]
            .as_str()
            .unwrap()
            .ends_with("/V2/Cruise/StepUp")
    );
    let tid = info["authentication_transaction_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(data["error"]["reason"], "CONSUMER_AUTHENTICATION_REQUIRED");

    // The upstream got our return URL, bound to this session, not the merchant's.
    let sent = &h.sandbox.calls_to("authentication/enroll")[0].body;
    let ours = sent["authentication"]["return_url"].as_str().unwrap();
    assert!(
        ours.starts_with(&format!(
            "{PUBLIC_BASE_URL}/v1/risk/authentication/callback/{MERCHANT}/challenge-1/"
        )),
        "{ours}"
    );
    assert!(
        ours.len() > PUBLIC_BASE_URL.len() + 60,
        "a binding token follows: {ours}"
    );
    assert_eq!(
        sent["card"]["number"], card,
        "the upstream still gets the card"
    );

    let item = session_item(&h, "challenge-1").await;
    assert_eq!(state_of(&item), "CHALLENGE_PENDING");
    assert_eq!(
        item.authentication_transaction_id.as_deref(),
        Some(tid.as_str())
    );
    assert_ne!(item.transaction_mac.as_deref(), Some(tid.as_str()));
    assert_eq!(
        item.merchant_return_url.as_deref(),
        Some("https://shop.example/checkout/return?order=42")
    );
    let deadline = item.challenge_deadline.unwrap();
    assert!((before + 600_000..=h.clock.now_ms() + 600_000).contains(&deadline));
    let sealed = item
        .sealed_payment_data
        .as_ref()
        .expect("what validate needs is kept, sealed");
    assert_eq!(sealed.key_id, "k1");
    assert_no_clear_card_data(&item, card);

    let view = status(&merchant, "challenge-1", MERCHANT_KEY).await.json();
    assert_eq!(view["data"]["state"], "CHALLENGE_PENDING");
    assert_eq!(view["data"]["authentication_transaction_id"], tid);
    assert!(
        view["data"]["authentication"].is_null(),
        "no result before validate"
    );
}

#[tokio::test]
async fn a_replay_is_answered_from_the_store_and_a_different_request_is_a_conflict() {
    let h = Harness::new().await;
    let merchant = h.merchant().await;
    let body = prepared_enroll(&h, &merchant, "replay-1", "4000000000002503").await;
    let first = send(&merchant, post_json(ENROLL, Some(MERCHANT_KEY), &body)).await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.header("idempotent-replayed"), None);

    let replay = send(&merchant, post_json(ENROLL, Some(MERCHANT_KEY), &body)).await;
    assert_eq!(replay.status, StatusCode::OK);
    assert_eq!(
        replay.json(),
        first.json(),
        "the stored answer, byte for byte"
    );
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_eq!(
        h.sandbox.calls_to("authentication/enroll").len(),
        1,
        "no second upstream call"
    );

    let mut different = body.clone();
    different["order_info"]["amount_details"]["total_amount"] = json!("2000");
    let conflict = send(&merchant, post_json(ENROLL, Some(MERCHANT_KEY), &different)).await;
    assert_eq!(conflict.status, StatusCode::CONFLICT);
    assert_eq!(conflict.json()["status"], "fail");
    assert_eq!(conflict.json()["error"]["reason"], "REFERENCE_CODE_IN_USE");
    assert!(
        conflict.json()["message"]
            .as_str()
            .unwrap()
            .contains("different request")
    );

    // Another merchant's request never reaches this session: its reference codes are its
    // own, and this return URL is not on its origins.
    let other = send(
        &merchant,
        post_json(ENROLL, Some(OTHER_MERCHANT_KEY), &body),
    )
    .await;
    assert_eq!(other.status, StatusCode::BAD_REQUEST, "{}", other.text());
    assert_eq!(other.json()["error"]["field"], "authentication.return_url");
    assert_eq!(
        status(&merchant, "replay-1", OTHER_MERCHANT_KEY)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(h.sandbox.calls_to("authentication/enroll").len(), 1);
    assert_eq!(
        state_of(&session_item(&h, "replay-1").await),
        "CHALLENGE_PENDING"
    );
}

#[tokio::test]
async fn concurrent_duplicates_call_the_upstream_once_and_all_get_its_answer() {
    let h = Harness::new().await;
    let merchant = h.merchant().await;
    let body = prepared_enroll(&h, &merchant, "race-enroll", "4000000000002701").await;
    h.sandbox
        .inject(FaultRule::on(ENROLL, Fault::Latency { ms: 150 }));
    let answers = futures_util::future::join_all(
        (0..8).map(|_| send(&merchant, post_json(ENROLL, Some(MERCHANT_KEY), &body))),
    )
    .await;
    assert_eq!(h.sandbox.calls_to("authentication/enroll").len(), 1);
    let first = answers[0].json();
    for answer in &answers {
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
        assert_eq!(answer.json(), first);
    }
    assert_eq!(
        answers
            .iter()
            .filter(|a| a.header("idempotent-replayed").is_some())
            .count(),
        7
    );
}

#[tokio::test]
async fn setup_is_recorded_once_and_replays_its_answer() {
    let h = Harness::new().await;
    let merchant = h.merchant().await;
    let body = setup_body("setup-1", "4000000000002701");
    let first = send(&merchant, post_json(SETUP, Some(MERCHANT_KEY), &body)).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text());
    let data = &first.json()["data"];
    assert_eq!(data["transaction_info"]["status"], "Completed");
    assert_eq!(data["transaction_info"]["type"], "setup_auth_response");
    assert!(
        data["consumer_auth_info"]["device_data_collection_url"]
            .as_str()
            .unwrap()
            .ends_with("/V1/Cruise/Collect")
    );

    let item = session_item(&h, "setup-1").await;
    assert_eq!(state_of(&item), "SETUP_COMPLETED");
    assert_eq!(item.tenant_id.as_str(), MERCHANT);
    assert!(item.expires_at > h.clock.now_ms() / 1000 + 6 * 24 * 3600);
    assert_no_clear_card_data(&item, "4000000000002701");

    let replay = send(&merchant, post_json(SETUP, Some(MERCHANT_KEY), &body)).await;
    assert_eq!(replay.json(), first.json());
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    let other = send(
        &merchant,
        post_json(
            SETUP,
            Some(MERCHANT_KEY),
            &setup_body("setup-1", "4000000000002503"),
        ),
    )
    .await;
    assert_eq!(other.status, StatusCode::CONFLICT);
    assert_eq!(other.json()["error"]["reason"], "REFERENCE_CODE_IN_USE");
}

#[tokio::test]
async fn upstream_faults_never_fail_the_session_and_the_same_request_completes_on_retry() {
    let cases = [
        (
            Fault::Latency { ms: 700 },
            StatusCode::GATEWAY_TIMEOUT,
            "UPSTREAM_TIMEOUT",
            1,
        ),
        (
            Fault::Status {
                status: 500,
                retry_after_secs: None,
            },
            StatusCode::BAD_GATEWAY,
            "UPSTREAM_UNAVAILABLE",
            1,
        ),
        // A 503 may come from a proxy after the upstream acted: a check enroll
        // is not idempotent upstream, so it is not retried within the call;
        // the merchant's retry of the same request is safe.
        (
            Fault::Status {
                status: 503,
                retry_after_secs: None,
            },
            StatusCode::BAD_GATEWAY,
            "UPSTREAM_UNAVAILABLE",
            1,
        ),
        (
            Fault::MalformedBody,
            StatusCode::BAD_GATEWAY,
            "UPSTREAM_UNAVAILABLE",
            1,
        ),
        (
            Fault::DropConnection,
            StatusCode::BAD_GATEWAY,
            "UPSTREAM_UNAVAILABLE",
            1,
        ),
    ];
    for (fault, status, reason, calls) in cases {
        let h = Harness::new().await;
        let merchant = h.merchant().await;
        let body = prepared_enroll(&h, &merchant, "fault-1", "4000000000002925").await;
        h.sandbox.inject(FaultRule::on(ENROLL, fault.clone()));
        let answer = send(&merchant, post_json(ENROLL, Some(MERCHANT_KEY), &body)).await;
        assert_eq!(answer.status, status, "{fault:?}: {}", answer.text());
        assert_eq!(answer.json()["status"], "error");
        assert_eq!(answer.json()["error"]["reason"], reason, "{fault:?}");
        assert_eq!(
            h.sandbox.calls_to("authentication/enroll").len(),
            calls,
            "{fault:?}"
        );
        let item = session_item(&h, "fault-1").await;
        assert_eq!(
            state_of(&item),
            "SETUP_COMPLETED",
            "{fault:?}: released, not failed"
        );
        assert!(item.enroll_response.is_none() && item.claim_id.is_none());

        h.sandbox.clear_faults();
        let retry = send(&merchant, post_json(ENROLL, Some(MERCHANT_KEY), &body)).await;
        assert_eq!(retry.status, StatusCode::OK, "{fault:?}: {}", retry.text());
        assert_eq!(
            retry.json()["data"]["transaction_info"]["status"],
            "Authentication_failed"
        );
        assert_eq!(state_of(&session_item(&h, "fault-1").await), "FAILED");
    }
}

#[tokio::test]
async fn an_upstream_refusal_is_not_a_decline_either() {
    let h = Harness::new().await;
    let merchant = h.merchant().await;
    // The upstream refuses an unknown device-data reference (setup skipped).
    let body = enroll_body(
        "refused-1",
        "4000000000002701",
        "00000000-0000-0000-0000-000000000000",
    );
    let answer = send(&merchant, post_json(ENROLL, Some(MERCHANT_KEY), &body)).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.text());
    assert_eq!(answer.json()["error"]["reason"], "UPSTREAM_REJECTED");
    assert_eq!(
        answer.json()["message"],
        "the payer-authentication API refused the request",
        "our own words: the upstream's free text is never passed on"
    );
    let item = session_item(&h, "refused-1").await;
    assert_eq!(
        state_of(&item),
        "SETUP_COMPLETED",
        "released for a corrected retry"
    );
}

#[tokio::test]
async fn a_token_expression_is_accepted_in_place_of_card_data() {
    let h = Harness::new().await;
    let merchant = h.merchant().await;
    let token = "{{tok_8f2a : detokenize}}";
    let mut body = prepared_enroll(&h, &merchant, "token-1", "4000000000002701").await;
    body["card"] = json!({"number": token, "expiration_date": token});
    let answer = send(&merchant, post_json(ENROLL, Some(MERCHANT_KEY), &body)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(
        h.sandbox.calls_to("authentication/enroll")[0].body["card"]["number"],
        token
    );
    let view = status(&merchant, "token-1", MERCHANT_KEY).await.json();
    assert_eq!(
        view["data"]["card"]["bin"], "400000",
        "from the upstream answer"
    );
    assert_eq!(view["data"]["card"]["network"], "VISA");
    assert!(view["data"]["card"]["last4"].is_null());
}

/// Every class of bad input: 400 naming the field, no upstream call, nothing written.
/// Bad input is refused with a clear 4xx naming the field, before any upstream call or
/// write: one named case per rule.
mod bad_input {
    use super::*;

    /// The seed's check-enroll request with one change.
    fn good() -> Value {
        enroll_body("bad-1", "4000000000002701", "ref-id")
    }

    fn with(pointer: &str, value: Value) -> Value {
        let mut body = good();
        *body.pointer_mut(pointer).unwrap() = value;
        body
    }

    fn without(parent: &str, field: &str) -> Value {
        let mut body = good();
        body.pointer_mut(parent)
            .unwrap()
            .as_object_mut()
            .unwrap()
            .remove(field);
        body
    }

    /// Nothing reached the upstream or the store.
    async fn nothing_happened(h: &Harness) {
        assert!(
            h.sandbox.calls().is_empty(),
            "bad input reached the upstream"
        );
        assert!(
            h.item(&session_ref(MERCHANT, "bad-1").key())
                .await
                .is_none(),
            "bad input was written"
        );
    }

    /// Check enroll with `body` is refused, naming `field`.
    async fn refused(body: Value, field: &str) {
        let h = Harness::new().await;
        let answer = send(
            &h.merchant().await,
            post_json(ENROLL, Some(MERCHANT_KEY), &body),
        )
        .await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{field}: {}",
            answer.text()
        );
        let json = answer.json();
        assert_eq!(json["status"], "fail");
        assert_eq!(
            json["error"]["reason"], "INVALID_PARAMETER",
            "{field}: {json}"
        );
        assert_eq!(json["error"]["field"], field, "{json}");
        assert!(json["message"].as_str().unwrap().starts_with(field));
        assert!(
            !answer.text().contains("4000000000002701")
                && !answer.text().contains("4000000000002702")
        );
        nothing_happened(&h).await;
    }

    macro_rules! cases {
        ($($name:ident: $body:expr => $field:literal;)*) => {
            $(
                #[tokio::test]
                async fn $name() {
                    refused($body, $field).await;
                }
            )*
        };
    }

    cases! {
        no_transaction_type: without("/transaction_info", "type") => "transaction_info.type";
        another_transaction_type: with("/transaction_info/type", json!("setup")) => "transaction_info.type";
        reference_code_with_a_space: with("/transaction_info/reference_code", json!("has space")) => "transaction_info.reference_code";
        card_number_with_dashes: with("/card/number", json!("4000-0000-0000-2701")) => "card.number";
        card_number_too_short: with("/card/number", json!("40000000027")) => "card.number";
        card_number_failing_luhn: with("/card/number", json!("4000000000002702")) => "card.number";
        card_number_as_a_number: with("/card/number", json!(4000000000002701_u64)) => "card.number";
        expiry_not_mm_yy: with("/card/expiration_date", json!("2030-01")) => "card.expiration_date";
        expiry_in_the_past: with("/card/expiration_date", json!("01/20")) => "card.expiration_date";
        expiry_month_13: with("/card/expiration_date", json!("13/2030")) => "card.expiration_date";
        amount_zero: with("/order_info/amount_details/total_amount", json!("0")) => "order_info.amount_details.total_amount";
        amount_negative: with("/order_info/amount_details/total_amount", json!("-5")) => "order_info.amount_details.total_amount";
        amount_as_a_number: with("/order_info/amount_details/total_amount", json!(1000)) => "order_info.amount_details.total_amount";
        currency_not_three_letters: with("/order_info/amount_details/currency", json!("PESO")) => "order_info.amount_details.currency";
        currency_not_iso_4217: with("/order_info/amount_details/currency", json!("XYZ")) => "order_info.amount_details.currency";
        billing_country_not_alpha_2: with("/bill_to/country", json!("USA")) => "bill_to.country";
        billing_email_not_an_address: with("/bill_to/email", json!("accept@")) => "bill_to.email";
        no_billing: without("", "bill_to") => "bill_to.first_name";
        no_postal_code: without("/bill_to", "postal_code") => "bill_to.postal_code";
        no_buyer_info: without("", "buyer_info") => "buyer_info.mobile_phone";
        no_device_info: without("", "device_info") => "device_info.ip_address";
        no_cookies_accepted: without("/device_info", "cookies_accepted") => "device_info.cookies_accepted";
        js_enabled_as_a_string: with("/device_info/http_browser_js_enabled", json!("yes")) => "device_info.http_browser_js_enabled";
        ip_address_incomplete: with("/device_info/ip_address", json!("190.123.237")) => "device_info.ip_address";
        no_reference_id: without("/authentication", "reference_id") => "authentication.reference_id";
        no_token: without("/authentication", "token") => "authentication.token";
        unknown_device_channel: with("/authentication/device_channel", json!("Fax")) => "authentication.device_channel";
        return_url_on_another_origin: with("/authentication/return_url", json!("https://evil.example/steal")) => "authentication.return_url";
        return_url_over_plain_http: with("/authentication/return_url", json!("http://shop.example/return")) => "authentication.return_url";
        return_url_with_a_reserved_parameter: with("/authentication/return_url", json!("https://shop.example/r?signature=x")) => "authentication.return_url";
        no_authentication: without("", "authentication") => "authentication.reference_id";
    }

    #[tokio::test]
    async fn a_body_over_64_kib() {
        let h = Harness::new().await;
        let oversize = format!("{{\"pad\":\"{}\"}}", "x".repeat(65 * 1024));
        let answer = send(
            &h.merchant().await,
            post_raw(ENROLL, Some(MERCHANT_KEY), oversize),
        )
        .await;
        assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
        nothing_happened(&h).await;
    }

    #[tokio::test]
    async fn a_consume_body_over_64_kib_is_refused_in_the_merchants_envelope() {
        let h = Harness::new().await;
        let oversize = format!("{{\"order_id\":\"{}\"}}", "x".repeat(65 * 1024));
        let answer = send(
            &h.merchant().await,
            post_raw(
                "/v1/risk/authentication/order-1/consume",
                Some(MERCHANT_KEY),
                oversize,
            ),
        )
        .await;
        assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(answer.json()["error"]["reason"], "PAYLOAD_TOO_LARGE");
        nothing_happened(&h).await;
    }

    #[tokio::test]
    async fn a_reference_code_that_is_not_utf8_is_named_in_json() {
        let h = Harness::new().await;
        let answer = send(
            &h.merchant().await,
            get("/v1/risk/authentication/order-%FF", Some(MERCHANT_KEY)),
        )
        .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST);
        assert_eq!(answer.json()["error"]["reason"], "INVALID_PARAMETER");
        assert_eq!(answer.json()["error"]["field"], "reference_code");
        nothing_happened(&h).await;
    }

    #[tokio::test]
    async fn truncated_json() {
        let h = Harness::new().await;
        let answer = send(
            &h.merchant().await,
            post_raw(ENROLL, Some(MERCHANT_KEY), "{\"card\":"),
        )
        .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST);
        assert_eq!(answer.json()["error"]["reason"], "MALFORMED_JSON");
        nothing_happened(&h).await;
    }

    #[tokio::test]
    async fn no_api_key() {
        let h = Harness::new().await;
        let answer = send(&h.merchant().await, post_json(ENROLL, None, &good())).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
        nothing_happened(&h).await;
    }

    #[tokio::test]
    async fn setup_with_a_one_digit_expiry_month() {
        let h = Harness::new().await;
        let answer = send(&h.merchant().await, post_json(SETUP, Some(MERCHANT_KEY), &json!({"transaction_info": {"type": "setup", "reference_code": "s"}, "card": {"number": "4000000000002701", "expiration_date": "1/30"}}))).await;
        assert_eq!(answer.json()["error"]["field"], "card.expiration_date");
        nothing_happened(&h).await;
    }

    #[tokio::test]
    async fn status_of_a_reference_with_a_space() {
        let h = Harness::new().await;
        let answer = status(&h.merchant().await, "no%20such", MERCHANT_KEY).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST);
        nothing_happened(&h).await;
    }
}

#[tokio::test]
async fn a_pending_challenge_past_its_deadline_reads_as_expired_and_loses_its_card_data() {
    let h = Harness::with_env(&[("CHALLENGE_DEADLINE_SECS", "60")]).await;
    let merchant = h.merchant().await;
    let body = prepared_enroll(&h, &merchant, "expiry-1", "4000000000002503").await;
    assert_eq!(
        send(&merchant, post_json(ENROLL, Some(MERCHANT_KEY), &body))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        status(&merchant, "expiry-1", MERCHANT_KEY).await.json()["data"]["state"],
        "CHALLENGE_PENDING"
    );

    h.clock.advance(std::time::Duration::from_secs(61));
    let view = status(&merchant, "expiry-1", MERCHANT_KEY).await.json();
    assert_eq!(view["data"]["state"], "EXPIRED");
    let item = session_item(&h, "expiry-1").await;
    assert_eq!(state_of(&item), SessionState::Expired.as_str());
    assert!(item.sealed_payment_data.is_none());
}

#[tokio::test]
async fn through_api_gateway_our_return_url_comes_from_the_request_context() {
    let h = Harness::with_env(&[("PUBLIC_BASE_URL", "")]).await;
    let merchant = h.merchant().await;
    let setup = setup_body("apigw-1", "4000000000002503").to_string();
    let headers = [
        ("content-type", "application/json"),
        ("x-api-key", MERCHANT_KEY),
    ];
    let answer = send_event(
        &merchant,
        &apigw_v1_event("POST", SETUP, "v1", &headers, Some(&setup), false),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let reference_id = answer.json()["data"]["consumer_auth_info"]["reference_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let enroll = enroll_body("apigw-1", "4000000000002503", &reference_id).to_string();
    let answer = send_event(
        &merchant,
        &apigw_v1_event("POST", ENROLL, "v1", &headers, Some(&enroll), false),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let sent = &h.sandbox.calls_to("authentication/enroll")[0].body;
    assert!(sent["authentication"]["return_url"].as_str().unwrap().starts_with(
        "https://1234567890.execute-api.eu-west-1.amazonaws.com/v1/v1/risk/authentication/callback/shop-a/apigw-1/"
    ));
    let view = send_event(
        &merchant,
        &apigw_v2_event(
            "GET",
            "/v1/v1/risk/authentication/apigw-1",
            "",
            "v1",
            &headers,
            None,
            false,
        ),
    )
    .await;
    assert_eq!(
        view.json()["data"]["state"],
        "CHALLENGE_PENDING",
        "{}",
        view.text()
    );
}

/// Operators see outcomes and upstream health as CloudWatch metrics: embedded-metric
/// lines beside the logs, one per final state (counted once, by the writer that made
/// it), per upstream call, per replay.
#[tokio::test]
async fn outcomes_upstream_calls_and_replays_are_emitted_as_embedded_metrics() {
    let h = Harness::new().await;
    let merchant = h.merchant().await;
    // This test's own metric lines: the other tests of the process emit theirs meanwhile.
    let ((), metrics) = gateway::telemetry::metrics::captured(async {
        let body = prepared_enroll(&h, &merchant, "metrics-1", "4000000000002701").await;
        for _ in 0..2 {
            let answer = send(&merchant, post_json(ENROLL, Some(MERCHANT_KEY), &body)).await;
            assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
        }
    })
    .await;
    let named = |name: &str| -> Vec<&Value> {
        metrics
            .iter()
            .filter(|m| m["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"] == name)
            .collect()
    };
    let outcomes = named("Authentications");
    assert_eq!(
        outcomes.len(),
        1,
        "one final state, one count: {outcomes:?}"
    );
    assert_eq!(outcomes[0]["Flow"], "frictionless");
    assert_eq!(outcomes[0]["Outcome"], "authenticated");
    assert_eq!(
        outcomes[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        "ThreeDSGateway"
    );
    let latency = named("UpstreamLatency");
    assert!(
        latency
            .iter()
            .any(|m| m["Upstream"] == "payer-auth" && m["Operation"] == "check_enroll"),
        "{latency:?}"
    );
    assert!(
        named("UpstreamErrors")
            .iter()
            .all(|m| m["UpstreamErrors"] == 0.0)
    );
    let replays = named("Replays");
    assert_eq!(replays.len(), 1, "{replays:?}");
    assert_eq!(replays[0]["Operation"], "enroll");
    assert!(
        metrics.iter().all(|m| !m.to_string().contains("metrics-1")),
        "no reference code, tenant or card in a metric"
    );
}

/// A check enroll whose invocation died (a crash or a Lambda timeout) leaves its claim;
/// once the lease lapses the merchant's next request completes the session, even with a
/// corrected body (the dead attempt's outcome is unknown either way).
#[tokio::test]
async fn after_a_crashed_check_enroll_a_corrected_request_completes_the_session() {
    let h = Harness::new().await;
    let merchant = h.merchant().await;
    let body = prepared_enroll(&h, &merchant, "crashed-1", "4000000000002701").await;
    let sessions = h.sessions();
    let now = h.clock.now_ms();
    let dead = gateway::session::Transition::ClaimEnrollment {
        fingerprint: "the-dead-attempts-fingerprint".into(),
        claim_id: "dead".into(),
        now_ms: now,
        lease_until_ms: now + 1_000,
        expires_at: now / 1000 + 3600,
    };
    let session = gateway::session::SessionRef::new(
        gateway::domain::TenantId::parse("tenant", MERCHANT).unwrap(),
        gateway::domain::ReferenceCode::parse("reference_code", "crashed-1").unwrap(),
    );
    sessions.apply_transition(&session, &dead).await.unwrap();
    let early = send(&merchant, post_json(ENROLL, Some(MERCHANT_KEY), &body)).await;
    assert_eq!(
        early.status,
        StatusCode::CONFLICT,
        "the claim is still live"
    );
    h.clock.advance(std::time::Duration::from_secs(2));
    let corrected = send(&merchant, post_json(ENROLL, Some(MERCHANT_KEY), &body)).await;
    assert_eq!(corrected.status, StatusCode::OK, "{}", corrected.text());
    assert_eq!(
        state_of(&session_item(&h, "crashed-1").await),
        "AUTHENTICATED"
    );
    assert_eq!(h.sandbox.calls_to("authentication/enroll").len(), 1);
}

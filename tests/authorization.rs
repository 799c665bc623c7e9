//! From an authentication to an authorization: every result field kept after a
//! challenge, the `authorization` view and the acquirers' external-3DS shapes
//! (docs/authorization.md's tables), and single use (`/consume`) under races, retries,
//! amounts and other tenants.

use std::sync::Arc;

use gateway::events::EventType;
use gateway_tests::events::Notifying;
use gateway_tests::*;
use http::StatusCode;
use serde_json::{Value, json};

fn consume_path(reference: &str, query: &str) -> String {
    format!("/v1/risk/authentication/{reference}/consume{query}")
}

/// `POST .../consume` as the merchant holding `key`, with `Idempotency-Key` if given.
async fn consume(
    merchant: &axum::Router,
    reference: &str,
    key: &str,
    idempotency_key: Option<&str>,
    body: &Value,
) -> Answer {
    let mut request = post_json(&consume_path(reference, ""), Some(key), body);
    if let Some(idempotency_key) = idempotency_key {
        request
            .headers_mut()
            .insert("idempotency-key", idempotency_key.parse().unwrap());
    }
    send(merchant, request).await
}

/// A frictionless check enroll of `card` by shop-a; returns the upstream's answer.
async fn frictionless(h: &Harness, merchant: &axum::Router, reference: &str, card: &str) -> Value {
    let body = prepared_enroll(h, merchant, reference, card).await;
    let answer = send(merchant, post_json(ENROLL, Some(MERCHANT_KEY), &body)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    answer.json()
}

/// A challenge of `card` passed at the ACS and completed by the merchant's validate;
/// returns validate's upstream answer (what the sandbox said).
async fn challenge_passed(h: &Harness, reference: &str, card: &str) -> Value {
    let challenge = challenged(h, reference, card).await;
    at_the_acs(&challenge, "submit", "1234").await;
    let answer = h
        .validate(
            Some(MERCHANT_KEY),
            &validate_body(&challenge, &challenge.transaction_id),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    answer.json()
}

async fn status_with(merchant: &axum::Router, reference: &str, query: &str) -> Value {
    let path = format!("/v1/risk/authentication/{reference}{query}");
    let answer = send(merchant, get(&path, Some(MERCHANT_KEY))).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    answer.json()["data"].clone()
}

#[tokio::test]
async fn a_mastercard_challenge_ends_with_the_ds_transaction_id_and_version_everywhere() {
    let n = Notifying::start(0, "1").await;
    let h = &n.h;
    let merchant = h.merchant().await;
    let validated = challenge_passed(h, "mc-challenge", "5200000000002151").await;
    let upstream = &validated["data"]["consumer_auth_info"];
    let ds_id = upstream["directory_server_transaction_id"]
        .as_str()
        .unwrap();
    assert_eq!(upstream["specificationVersion"], "2.2.0");

    let data = status_with(&merchant, "mc-challenge", "").await;
    let authentication = &data["authentication"];
    // Every result field of the seed, named as it names them.
    for field in [
        "tree_dss_server_transaction_id",
        "directory_server_transaction_id",
        "acs_transaction_id",
        "acs_reference_number",
        "pares_status",
        "veres_enrolled",
        "commerce_indicator",
        "eci_raw",
        "cavv",
    ] {
        assert_eq!(authentication[field], upstream[field], "{field}");
    }
    assert_eq!(authentication["specification_version"], "2.2.0");
    assert_eq!(
        authentication["eci"],
        Value::Null,
        "Mastercard returns eci_raw only"
    );
    assert_eq!(
        data["authenticated_amount"],
        json!({"total_amount": "1000", "currency": "MXN"})
    );

    let authorization = &data["authorization"];
    assert_eq!(authorization["network"], "MASTERCARD");
    assert_eq!(authorization["directory_server_transaction_id"], ds_id);
    assert_eq!(authorization["three_ds_version"], "2.2.0");
    assert_eq!(authorization["authentication_status"], "Y");
    assert_eq!(
        authorization["ares_trans_status"], "C",
        "the ARes asked for the challenge"
    );
    assert_eq!(authorization["rreq_trans_status"], "Y");
    assert_eq!(authorization["eci"], "02");
    assert_eq!(authorization["cryptogram"], upstream["cavv"]);
    assert_eq!(authorization["liability_shift"], true);
    assert_eq!(data["consumption"], Value::Null);

    n.notice_changes().await;
    let events = n.events_of(MERCHANT).await;
    let decided = events
        .iter()
        .find(|e| e.event_type == EventType::AuthenticationSucceeded)
        .expect("the decision's event");
    let body: Value = serde_json::from_str(&decided.body).unwrap();
    let event_authentication = &body["data"]["authentication"];
    assert_eq!(
        event_authentication["directory_server_transaction_id"],
        ds_id
    );
    assert_eq!(event_authentication["specification_version"], "2.2.0");
    assert_eq!(
        event_authentication["acs_transaction_id"],
        upstream["acs_transaction_id"]
    );
    assert!(
        !decided.body.contains(upstream["cavv"].as_str().unwrap()),
        "no CAVV in an event"
    );
}

#[tokio::test]
async fn the_browsers_return_carries_the_ds_transaction_id_and_says_where_the_rest_is() {
    let h = Harness::new().await;
    let callback = h.callback().await;
    let challenge = challenged(&h, "mc-browser", "5200000000002151").await;
    let acs = at_the_acs(&challenge, "submit", "1234").await;
    let answer = send(&callback, form_post(&acs.path, acs.form())).await;
    let (location, redirect) = verified_redirect(&answer);
    let data = status_with(&h.merchant().await, "mc-browser", "").await;
    assert_eq!(
        redirect.get("directory_server_transaction_id"),
        data["authorization"]["directory_server_transaction_id"].as_str()
    );
    assert_eq!(redirect.get("specification_version"), Some("2.2.0"));
    assert_eq!(
        redirect.get("details"),
        Some("/v1/risk/authentication/mc-browser")
    );
    let cavv = data["authentication"]["cavv"].as_str().unwrap();
    assert!(!location.contains(cavv), "never a CAVV in a URL");
}

/// Stripe's `payment_method_options.card.three_d_secure` (docs/authorization.md).
fn stripe(ares: &str, eci: &str, a: &Value) -> Value {
    json!({"payment_method_options": {"card": {"three_d_secure": {
        "ares_trans_status": ares,
        "cryptogram": a["cavv"],
        "electronic_commerce_indicator": eci,
        "transaction_id": a["directory_server_transaction_id"],
        "version": "2.2.0",
    }}}})
}

/// Adyen's `mpiData`: `authenticationResponse` only after a challenge.
fn adyen(rreq: Option<&str>, ares: &str, eci: &str, a: &Value) -> Value {
    let mut mpi = json!({
        "directoryResponse": ares,
        "cavv": a["cavv"],
        "dsTransID": a["directory_server_transaction_id"],
        "eci": eci,
        "threeDSVersion": "2.2.0",
    });
    if let Some(rreq) = rreq {
        mpi["authenticationResponse"] = json!(rreq);
    }
    json!({"mpiData": mpi})
}

/// Cybersource's fields: Mastercard's cryptogram is UCAF data (collection indicator 2
/// when authenticated), the others' a CAVV with its XID.
fn cybersource(mastercard: bool, eci: &str, commerce_indicator: &str, a: &Value) -> Value {
    let mut info = json!({
        "eciRaw": eci,
        "paresStatus": "Y",
        "veresEnrolled": "Y",
        "directoryServerTransactionId": a["directory_server_transaction_id"],
        "paSpecificationVersion": "2.2.0",
    });
    if mastercard {
        info["ucafAuthenticationData"] = a["cavv"].clone();
        info["ucafCollectionIndicator"] = json!("2");
    } else {
        info["cavv"] = a["cavv"].clone();
        info["xid"] = a["xid"].clone();
    }
    json!({
        "consumerAuthenticationInformation": info,
        "processingInformation": {"commerceIndicator": commerce_indicator},
    })
}

/// An authenticated outcome and what its shapes hold.
struct Case {
    reference: &'static str,
    card: &'static str,
    challenge: bool,
    eci: &'static str,
    commerce_indicator: &'static str,
}

/// The three shapes of `case`'s outcome against docs/authorization.md's tables, with
/// the values the status route's own fields hold.
async fn assert_shapes(h: &Harness, merchant: &axum::Router, case: Case) {
    let Case {
        reference,
        card,
        challenge,
        eci,
        commerce_indicator,
    } = case;
    if challenge {
        challenge_passed(h, reference, card).await;
    } else {
        frictionless(h, merchant, reference, card).await;
    }
    let a = status_with(merchant, reference, "").await["authentication"].clone();
    assert!(a["cavv"].is_string() && a["directory_server_transaction_id"].is_string());
    // A challenge's ARes said C and its RReq the result; frictionless, the ARes did.
    let (ares, rreq) = if challenge {
        ("C", Some("Y"))
    } else {
        ("Y", None)
    };
    let mastercard = card.starts_with('5');
    for (format, shape) in [
        ("stripe", stripe(ares, eci, &a)),
        ("adyen", adyen(rreq, ares, eci, &a)),
        (
            "cybersource",
            cybersource(mastercard, eci, commerce_indicator, &a),
        ),
    ] {
        let shaped = status_with(merchant, reference, &format!("?format={format}")).await;
        assert_eq!(shaped["external_3ds"]["format"], format);
        assert_eq!(
            shaped["external_3ds"]["fields"], shape,
            "{reference}: {format}"
        );
    }
}

#[tokio::test]
async fn each_acquirer_shape_has_its_fields_for_visa_mastercard_and_amex() {
    let h = Harness::new().await;
    let merchant = h.merchant().await;
    let cases = [
        Case {
            reference: "visa-frictionless",
            card: "4000000000002701",
            challenge: false,
            eci: "05",
            commerce_indicator: "vbv",
        },
        Case {
            reference: "visa-challenge",
            card: "4000000000002503",
            challenge: true,
            eci: "05",
            commerce_indicator: "vbv",
        },
        Case {
            reference: "mc-frictionless",
            card: "5200000000002235",
            challenge: false,
            eci: "02",
            commerce_indicator: "spa",
        },
        Case {
            reference: "mc-challenge",
            card: "5200000000002151",
            challenge: true,
            eci: "02",
            commerce_indicator: "spa",
        },
        Case {
            reference: "amex-challenge",
            card: "340000000002534",
            challenge: true,
            eci: "05",
            commerce_indicator: "aesk",
        },
    ];
    for case in cases {
        assert_shapes(&h, &merchant, case).await;
    }
}

#[tokio::test]
async fn a_failed_authentication_has_no_authorization_and_a_bad_format_names_the_field() {
    let h = Harness::new().await;
    let merchant = h.merchant().await;
    frictionless(&h, &merchant, "visa-failed", "4000000000002925").await;
    let data = status_with(&merchant, "visa-failed", "?format=adyen").await;
    assert_eq!(data["authorization"], Value::Null);
    assert_eq!(data["external_3ds"]["fields"], Value::Null);
    assert_eq!(data["authentication"]["signed_pares_status_reason"], "01");

    let answer = send(
        &merchant,
        get(
            "/v1/risk/authentication/visa-failed?format=worldpay",
            Some(MERCHANT_KEY),
        ),
    )
    .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.json()["error"]["field"], "format");
}

#[tokio::test]
async fn a_consume_uses_the_result_once_and_a_second_names_when_and_by_which_order() {
    let n = Notifying::start(0, "1").await;
    let h = &n.h;
    let merchant = h.merchant().await;
    frictionless(h, &merchant, "order-1", "4000000000002701").await;
    h.clock.advance(std::time::Duration::from_millis(10));
    let first = consume(
        &merchant,
        "order-1",
        MERCHANT_KEY,
        None,
        &json!({"order_id": "ord-1", "amount": "1000", "currency": "MXN"}),
    )
    .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text());
    let data = &first.json()["data"];
    assert_eq!(data["authorization"]["authentication_status"], "Y");
    assert!(data["authorization"]["cryptogram"].is_string());
    assert_eq!(data["consumption"]["order_id"], "ord-1");
    assert_eq!(
        data["consumption"]["amount"],
        json!({"total_amount": "1000", "currency": "MXN"})
    );
    let consumed_at = data["consumption"]["consumed_at"]
        .as_str()
        .unwrap()
        .to_owned();

    let second = consume(&merchant, "order-1", MERCHANT_KEY, None, &json!({})).await;
    assert_eq!(second.status, StatusCode::CONFLICT);
    let error = &second.json()["error"];
    assert_eq!(error["reason"], "AUTHENTICATION_ALREADY_CONSUMED");
    let message = error["message"].as_str().unwrap();
    assert!(message.contains(&consumed_at), "{message}");
    assert!(message.contains("ord-1"), "{message}");

    // Shown in the status route and the listing, and told as an event.
    let status = status_with(&merchant, "order-1", "").await;
    assert_eq!(status["consumption"]["consumed_at"], consumed_at.as_str());
    assert_eq!(status["state"], "AUTHENTICATED");
    let listed = h.list_authentications("", MERCHANT_KEY).await.json();
    assert_eq!(
        listed["data"]["authentications"][0]["consumed_at"],
        consumed_at.as_str()
    );

    n.notice_changes().await;
    let events = n.events_of(MERCHANT).await;
    let kinds: Vec<EventType> = events.iter().map(|e| e.event_type).collect();
    assert_eq!(
        kinds,
        vec![
            EventType::AuthenticationConsumed,
            EventType::AuthenticationSucceeded
        ],
        "one event per change, newest first"
    );
    let body: Value = serde_json::from_str(&events[0].body).unwrap();
    assert_eq!(body["data"]["consumption"]["order_id"], "ord-1");
    assert!(body["data"].get("authorization").is_none());
    assert!(
        !events[0]
            .body
            .contains(data["authorization"]["cryptogram"].as_str().unwrap())
    );
}

#[tokio::test]
async fn twenty_concurrent_consumes_give_exactly_one_success() {
    let h = Harness::new().await;
    let merchant = Arc::new(h.merchant().await);
    frictionless(&h, &merchant, "raced", "5200000000002235").await;
    let attempts = (0..20).map(|i| {
        let merchant = merchant.clone();
        tokio::spawn(async move {
            let body = json!({"order_id": format!("ord-{i}")});
            consume(&merchant, "raced", MERCHANT_KEY, None, &body).await
        })
    });
    let answers: Vec<Answer> = futures_util::future::join_all(attempts)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let won: Vec<&Answer> = answers
        .iter()
        .filter(|a| a.status == StatusCode::OK)
        .collect();
    assert_eq!(won.len(), 1, "exactly one consume wins");
    let winner = won[0].json()["data"]["consumption"]["order_id"].clone();
    for lost in answers.iter().filter(|a| a.status != StatusCode::OK) {
        assert_eq!(lost.status, StatusCode::CONFLICT);
        assert_eq!(
            lost.json()["error"]["reason"],
            "AUTHENTICATION_ALREADY_CONSUMED"
        );
        let message = lost.json()["error"]["message"].as_str().unwrap().to_owned();
        assert!(message.contains(winner.as_str().unwrap()), "{message}");
    }
}

#[tokio::test]
async fn a_consume_retried_under_its_idempotency_key_gets_the_same_answer() {
    let h = Harness::new().await;
    let merchant = h.merchant().await;
    frictionless(&h, &merchant, "retried", "4000000000002701").await;
    let body = json!({"order_id": "ord-7"});
    let keyed = |body: Value| {
        let merchant = merchant.clone();
        async move {
            consume(
                &merchant,
                "retried",
                MERCHANT_KEY,
                Some("consume-ord-7"),
                &body,
            )
            .await
        }
    };
    let first = keyed(body.clone()).await;
    assert_eq!(first.status, StatusCode::OK);
    let again = keyed(body.clone()).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text());
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.json()["data"], first.json()["data"]);

    let reused = keyed(json!({"order_id": "ord-8"})).await;
    assert_eq!(reused.status, StatusCode::CONFLICT);
    assert_eq!(reused.json()["error"]["reason"], "IDEMPOTENCY_KEY_REUSED");
    let other_key = consume(&merchant, "retried", MERCHANT_KEY, Some("another"), &body).await;
    assert_eq!(
        other_key.json()["error"]["reason"],
        "AUTHENTICATION_ALREADY_CONSUMED"
    );
}

#[tokio::test]
async fn a_consume_above_the_authenticated_amount_or_in_another_currency_is_refused() {
    let h = Harness::new().await;
    let merchant = h.merchant().await;
    frictionless(&h, &merchant, "amounts", "4000000000002701").await;
    for (body, field) in [
        (json!({"amount": "1000.01", "currency": "MXN"}), "amount"),
        (json!({"amount": "10", "currency": "USD"}), "currency"),
        (json!({"amount": "10"}), "currency"),
        (json!({"amount": "-1", "currency": "MXN"}), "amount"),
        (json!({"order_id": 42}), "order_id"),
        (json!({"ammount": "10"}), "ammount"),
    ] {
        let answer = consume(&merchant, "amounts", MERCHANT_KEY, None, &body).await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{body}: {}",
            answer.text()
        );
        let error = &answer.json()["error"];
        assert_eq!(error["field"], field, "{body}");
    }
    let item = session_item(&h, "amounts").await;
    assert!(
        item.consumption.is_none(),
        "nothing written by a refused consume"
    );
    let within = consume(
        &merchant,
        "amounts",
        MERCHANT_KEY,
        None,
        &json!({"amount": "999.5", "currency": "MXN"}),
    )
    .await;
    assert_eq!(within.status, StatusCode::OK, "{}", within.text());
}

#[tokio::test]
async fn only_an_authenticated_result_can_be_consumed() {
    let h = Harness::new().await;
    let merchant = h.merchant().await;
    frictionless(&h, &merchant, "declined", "4000000000002925").await;
    let answer = consume(&merchant, "declined", MERCHANT_KEY, None, &json!({})).await;
    assert_eq!(answer.status, StatusCode::CONFLICT);
    assert_eq!(
        answer.json()["error"]["reason"],
        "AUTHENTICATION_NOT_USABLE"
    );
    assert!(
        answer.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("FAILED")
    );

    let challenge = challenged(&h, "pending", "4000000000002503").await;
    let answer = consume(&merchant, "pending", MERCHANT_KEY, None, &json!({})).await;
    assert_eq!(
        answer.json()["error"]["reason"],
        "AUTHENTICATION_NOT_USABLE"
    );
    assert_eq!(
        h.cancel(&challenge.reference, MERCHANT_KEY).await.status,
        StatusCode::OK
    );
    let answer = consume(&merchant, "pending", MERCHANT_KEY, None, &json!({})).await;
    assert!(
        answer.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("CANCELED")
    );

    let answer = consume(&merchant, "never-made", MERCHANT_KEY, None, &json!({})).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn another_merchant_cannot_consume_or_learn_of_an_authentication() {
    let h = Harness::new().await;
    let merchant = h.merchant().await;
    frictionless(&h, &merchant, "shop-a-order", "4000000000002701").await;
    // The attack: shop-b, which guessed shop-a's reference code, tries to burn it.
    let stolen = consume(
        &merchant,
        "shop-a-order",
        OTHER_MERCHANT_KEY,
        None,
        &json!({}),
    )
    .await;
    let missing = consume(
        &merchant,
        "no-such-order",
        OTHER_MERCHANT_KEY,
        None,
        &json!({}),
    )
    .await;
    assert_eq!(stolen.status, StatusCode::NOT_FOUND);
    assert_eq!(
        stolen.json(),
        missing.json(),
        "exactly like one that does not exist"
    );
    let item = session_item(&h, "shop-a-order").await;
    assert!(item.consumption.is_none());
    let own = consume(&merchant, "shop-a-order", MERCHANT_KEY, None, &json!({})).await;
    assert_eq!(own.status, StatusCode::OK);
}

#[tokio::test]
async fn each_test_cards_scenario_keeps_its_ids_and_reason_code() {
    let h = Harness::new().await;
    let merchant = h.merchant().await;
    // (card, reference, how it is decided, the seed's reason code)
    let frictionless_cards = [
        ("4000000000002701", "visa-y", None),
        ("4000000000002925", "visa-n", Some("01")),
        ("4000000000002313", "visa-u", Some("14")),
        ("4000000000002537", "visa-r", Some("11")),
        ("5200000000002276", "mc-n", Some("01")),
        ("340000000002237", "amex-n", Some("01")),
    ];
    for (card, reference, _) in frictionless_cards {
        frictionless(&h, &merchant, reference, card).await;
    }
    let challenge_cards = [
        ("5200000000002490", "mc-stepup-n", Some("01")),
        ("340000000002534", "amex-stepup-y", None),
    ];
    for (card, reference, _) in challenge_cards {
        challenge_passed(&h, reference, card).await;
    }
    for (card, reference, reason) in frictionless_cards.into_iter().chain(challenge_cards) {
        let data = status_with(&merchant, reference, "").await;
        let authentication = &data["authentication"];
        assert_eq!(
            authentication["signed_pares_status_reason"].as_str(),
            reason,
            "{card}"
        );
        for id in [
            "tree_dss_server_transaction_id",
            "directory_server_transaction_id",
            "acs_transaction_id",
        ] {
            let value = authentication[id].as_str().unwrap_or_default();
            assert_eq!(value.len(), 36, "{card}: {id} is a UUID");
        }
        assert_eq!(authentication["acs_reference_number"], "Cardinal ACS");
        assert_eq!(authentication["veres_enrolled"], "Y", "{card}");
    }
}

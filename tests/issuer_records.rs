//! The issuer side completed: a card's 3DS status from the gateway's own records,
//! unenroll (inferred upstream route), and idempotency keys on the issuer's writes.

use axum::body::Body;
use gateway_tests::*;
use http::{Request, StatusCode};
use sandbox::state::{
    ACTIVE_CARD_ID, BUDGET_ID, CARDHOLDER_ID, SECOND_CARDHOLDER_ID, THIRD_BUDGET_CARD_ID,
    THIRD_BUDGET_CARDHOLDER_ID, seeded_card_id,
};
use serde_json::{Value, json};

const ISSUING: &str = "/card/issuance/api/issuing";

fn path(route: &str) -> String {
    format!("{ISSUING}/{route}")
}

fn link(card: &str, holder: &str) -> Value {
    json!({"card_id": card, "cardholder_id": holder})
}

async fn write(issuer: &axum::Router, route: &str, key: &str, body: &Value) -> Answer {
    send(issuer, post_json(&path(route), Some(key), body)).await
}

/// bank-x's function, with its card enrolled to Emma.
async fn enrolled_by_bank_x(h: &Harness) -> axum::Router {
    let issuer = h.issuer().await;
    let answer = write(
        &issuer,
        "3ds/v2/enroll",
        ISSUER_KEY,
        &link(ACTIVE_CARD_ID, CARDHOLDER_ID),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    issuer
}

async fn status_of(issuer: &axum::Router, card: &str, key: &str) -> Answer {
    send(
        issuer,
        get(&path(&format!("3ds/v2/status?card_id={card}")), Some(key)),
    )
    .await
}

#[tokio::test]
async fn the_status_follows_enroll_re_point_and_unenroll_without_an_upstream_call() {
    let h = Harness::new().await;
    let issuer = h.issuer().await;
    let enrolled = write(
        &issuer,
        "3ds/v2/enroll",
        ISSUER_KEY,
        &link(ACTIVE_CARD_ID, CARDHOLDER_ID),
    )
    .await;
    assert_eq!(enrolled.status, StatusCode::OK, "{}", enrolled.text());
    h.sandbox.clear_calls();

    let status = status_of(&issuer, ACTIVE_CARD_ID, ISSUER_KEY).await;
    assert_eq!(status.status, StatusCode::OK, "{}", status.text());
    let data = &status.json()["data"];
    assert_eq!(data["enrolled"], true);
    assert_eq!(data["status"], "ENROLLED");
    assert_eq!(data["cardholder_id"], CARDHOLDER_ID);
    assert!(data["enrolled_at"].is_string() && data["confirmed_at"].is_string());
    assert_eq!(status.json()["code"], "SUCCESS");
    assert!(h.sandbox.calls().is_empty(), "from our record");

    write(
        &issuer,
        "3ds/v2/update",
        ISSUER_KEY,
        &link(ACTIVE_CARD_ID, SECOND_CARDHOLDER_ID),
    )
    .await;
    h.clock.advance(std::time::Duration::from_millis(5));
    h.sandbox.clear_calls();
    let status = status_of(&issuer, ACTIVE_CARD_ID, ISSUER_KEY).await;
    assert_eq!(status.json()["data"]["cardholder_id"], SECOND_CARDHOLDER_ID);
    assert!(h.sandbox.calls().is_empty());

    let unenrolled = write(
        &issuer,
        "3ds/v2/unenroll",
        ISSUER_KEY,
        &json!({"card_id": ACTIVE_CARD_ID}),
    )
    .await;
    assert_eq!(unenrolled.status, StatusCode::OK, "{}", unenrolled.text());
    assert_eq!(h.sandbox.calls_to("3ds/v2/unenroll").len(), 1);
    let record = h.card_record(ACTIVE_CARD_ID).await.unwrap();
    assert_eq!(Some(record.status.as_str()), Some("UNENROLLED"));
    assert!(record.cardholder_id.is_none());
    h.clock.advance(std::time::Duration::from_millis(5));
    h.sandbox.clear_calls();
    let status = status_of(&issuer, ACTIVE_CARD_ID, ISSUER_KEY).await;
    assert_eq!(status.json()["data"]["enrolled"], false);
    assert_eq!(status.json()["data"]["status"], "UNENROLLED");
    assert!(h.sandbox.calls().is_empty());

    // The seed's re-enrollment: first unenroll, then enroll with another cardholder.
    let again = write(
        &issuer,
        "3ds/v2/enroll",
        ISSUER_KEY,
        &link(ACTIVE_CARD_ID, SECOND_CARDHOLDER_ID),
    )
    .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text());
    let status = status_of(&issuer, ACTIVE_CARD_ID, ISSUER_KEY).await;
    assert_eq!(status.json()["data"]["status"], "ENROLLED");
    assert_eq!(status.json()["data"]["cardholder_id"], SECOND_CARDHOLDER_ID);
}

#[tokio::test]
async fn a_refresh_brings_the_record_in_line_with_a_change_made_outside_the_gateway() {
    let h = Harness::new().await;
    let issuer = enrolled_by_bank_x(&h).await;
    // The card program re-points the card at the upstream directly.
    let outside = reqwest::Client::new()
        .post(format!("{}{ISSUING}/3ds/v2/update", h.sandbox.base_url))
        .header("x-api-key", sandbox::state::ISSUANCE_API_KEY)
        .bearer_auth(sandbox::state::ISSUANCE_ACCESS_TOKEN)
        .json(&link(ACTIVE_CARD_ID, SECOND_CARDHOLDER_ID))
        .send()
        .await
        .unwrap();
    assert!(outside.status().is_success());
    h.clock.advance(std::time::Duration::from_millis(5));
    let stale = status_of(&issuer, ACTIVE_CARD_ID, ISSUER_KEY).await;
    assert_eq!(
        stale.json()["data"]["cardholder_id"],
        CARDHOLDER_ID,
        "our record, as it was"
    );

    let refreshed = send(
        &issuer,
        get(
            &path(&format!(
                "3ds/v2/status?card_id={ACTIVE_CARD_ID}&refresh=true"
            )),
            Some(ISSUER_KEY),
        ),
    )
    .await;
    let data = &refreshed.json()["data"];
    assert_eq!(data["refreshed"], true);
    assert_eq!(data["differed"], true, "{data}");
    assert_eq!(data["cardholder_id"], SECOND_CARDHOLDER_ID);
    assert!(!refreshed.text().contains("security_answer") && !refreshed.text().contains("email"));
    h.clock.advance(std::time::Duration::from_millis(5));
    let again = send(
        &issuer,
        get(
            &path(&format!(
                "3ds/v2/status?card_id={ACTIVE_CARD_ID}&refresh=true"
            )),
            Some(ISSUER_KEY),
        ),
    )
    .await;
    assert_eq!(again.json()["data"]["differed"], false);
    let bad = send(
        &issuer,
        get(
            &path(&format!(
                "3ds/v2/status?card_id={ACTIVE_CARD_ID}&refresh=yes"
            )),
            Some(ISSUER_KEY),
        ),
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.json()["field"], "refresh");
}

#[tokio::test]
async fn a_card_program_cannot_read_or_unenroll_another_programs_card() {
    let h = Harness::new().await;
    let issuer = enrolled_by_bank_x(&h).await;
    h.sandbox.clear_calls();
    let theirs = status_of(&issuer, ACTIVE_CARD_ID, OTHER_ISSUER_KEY).await;
    let nothing = status_of(&issuer, "card00000000000000000000", OTHER_ISSUER_KEY).await;
    assert_eq!(theirs.status, nothing.status);
    assert_eq!(theirs.json(), nothing.json());
    assert_eq!(theirs.json()["code"], "CARD_NOT_FOUND");
    let attack = write(
        &issuer,
        "3ds/v2/unenroll",
        OTHER_ISSUER_KEY,
        &json!({"card_id": ACTIVE_CARD_ID}),
    )
    .await;
    assert_eq!(attack.json()["code"], "CARD_NOT_FOUND");
    assert!(
        h.sandbox.calls_to("3ds/v2/unenroll").is_empty(),
        "the upstream never heard of it"
    );
    let status = status_of(&issuer, ACTIVE_CARD_ID, ISSUER_KEY).await;
    assert_eq!(status.json()["data"]["status"], "ENROLLED");
}

#[tokio::test]
async fn where_the_upstream_has_no_unenroll_route_the_answer_is_501_and_nothing_is_recorded() {
    let config = SandboxConfig {
        unenroll_route: false,
        ..SandboxConfig::default()
    };
    let h = Harness::with(default_backend(), config, &[]).await;
    let issuer = h.issuer().await;
    write(
        &issuer,
        "3ds/v2/enroll",
        ISSUER_KEY,
        &link(ACTIVE_CARD_ID, CARDHOLDER_ID),
    )
    .await;
    let before = h.card_record(ACTIVE_CARD_ID).await;
    let answer = write(
        &issuer,
        "3ds/v2/unenroll",
        ISSUER_KEY,
        &json!({"card_id": ACTIVE_CARD_ID}),
    )
    .await;
    assert_eq!(
        answer.status,
        StatusCode::NOT_IMPLEMENTED,
        "{}",
        answer.text()
    );
    assert_eq!(answer.json()["code"], "UNENROLL_NOT_AVAILABLE");
    assert_eq!(
        h.card_record(ACTIVE_CARD_ID).await,
        before,
        "nothing recorded"
    );
    // A card that is not enrolled is the upstream's refusal, not a missing route.
    let h2 = Harness::new().await;
    let issuer2 = h2.issuer().await;
    let not_enrolled = write(
        &issuer2,
        "3ds/v2/unenroll",
        ISSUER_KEY,
        &json!({"card_id": ACTIVE_CARD_ID}),
    )
    .await;
    assert_eq!(not_enrolled.status, StatusCode::NOT_FOUND);
    assert_eq!(not_enrolled.json()["code"], "CARD_NOT_ENROLLED");
}

fn keyed(route: &str, api_key: &str, idempotency_key: &str, body: &Value) -> Request<Body> {
    Request::post(path(route))
        .header("content-type", "application/json")
        .header("x-api-key", api_key)
        .header("idempotency-key", idempotency_key)
        .body(Body::from(body.to_string()))
        .unwrap()
}

/// `cardholders/v2/create` under an idempotency key.
async fn create_contact(
    issuer: &axum::Router,
    api_key: &str,
    idempotency_key: &str,
    body: &Value,
) -> Answer {
    send(
        issuer,
        keyed("cardholders/v2/create", api_key, idempotency_key, body),
    )
    .await
}

fn contact(budget: &str, mobile: &str) -> Value {
    json!({
        "budget_id": budget, "first_name": "Ava", "last_name": "Lee", "call_prefix": "+1",
        "mobile": mobile, "email": "ava.lee@example.com", "date_of_birth": "1990-02-03",
        "state": "Illinois", "city": "Chicago", "address_line": "1 Main St", "post_code": "60601",
        "country_code": "US", "security_index": "2", "security_answer": "Oak"
    })
}

#[tokio::test]
async fn a_retried_create_contact_with_the_same_key_makes_one_upstream_call() {
    let h = Harness::new().await;
    let issuer = h.issuer().await;
    let body = contact(BUDGET_ID, "3125550101");
    let first = create_contact(&issuer, ISSUER_KEY, "order-7-contact", &body).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text());
    let retried = create_contact(&issuer, ISSUER_KEY, "order-7-contact", &body).await;
    assert_eq!(retried.status, StatusCode::OK);
    assert_eq!(retried.json(), first.json(), "the first answer");
    assert_eq!(retried.header("idempotent-replayed"), Some("true"));
    assert_eq!(
        h.sandbox.calls_to("cardholders/v2/create").len(),
        1,
        "one contact upstream"
    );
    assert!(
        !retried.text().contains("Oak"),
        "the security answer stays redacted"
    );

    // The same key with another body is refused, before any upstream call.
    let other = contact(BUDGET_ID, "3125550199");
    let reused = create_contact(&issuer, ISSUER_KEY, "order-7-contact", &other).await;
    assert_eq!(reused.status, StatusCode::CONFLICT);
    assert_eq!(reused.json()["code"], "IDEMPOTENCY_KEY_REUSED");
    assert_eq!(h.sandbox.calls_to("cardholders/v2/create").len(), 1);

    // Keys are per tenant: bank-y's same key is its own.
    let theirs = create_contact(
        &issuer,
        OTHER_ISSUER_KEY,
        "order-7-contact",
        &contact(sandbox::state::THIRD_BUDGET_ID, "3125550101"),
    )
    .await;
    assert_eq!(theirs.status, StatusCode::OK, "{}", theirs.text());
    assert_ne!(
        theirs.json()["data"]["cardholder_id"],
        first.json()["data"]["cardholder_id"]
    );
    assert_eq!(h.sandbox.calls_to("cardholders/v2/create").len(), 2);

    // A day later the key is free again.
    h.clock
        .advance(std::time::Duration::from_secs(24 * 3600 + 1));
    let later = create_contact(&issuer, ISSUER_KEY, "order-7-contact", &other).await;
    assert_eq!(later.status, StatusCode::OK);
    assert_eq!(h.sandbox.calls_to("cardholders/v2/create").len(), 3);
}

#[tokio::test]
async fn concurrent_duplicates_under_one_key_make_one_upstream_call() {
    let h = Harness::new().await;
    let issuer = h.issuer().await;
    h.sandbox.inject(FaultRule::on(
        "/card/issuance/api/issuing/3ds/v2/enroll",
        Fault::Latency { ms: 150 },
    ));
    let body = link(seeded_card_id(7).as_str(), CARDHOLDER_ID);
    let requests = (0..6).map(|_| {
        send(
            &issuer,
            keyed("3ds/v2/enroll", ISSUER_KEY, "enroll-7", &body),
        )
    });
    let answers = futures_util::future::join_all(requests).await;
    for answer in &answers {
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
        assert_eq!(answer.json(), answers[0].json());
    }
    assert_eq!(h.sandbox.calls_to("3ds/v2/enroll").len(), 1);
}

#[tokio::test]
async fn every_issuer_write_takes_an_idempotency_key() {
    let h = Harness::new().await;
    let issuer = h.issuer().await;
    let writes = [
        ("3ds/v2/enroll", link(ACTIVE_CARD_ID, CARDHOLDER_ID)),
        ("3ds/v2/update", link(ACTIVE_CARD_ID, SECOND_CARDHOLDER_ID)),
        ("3ds/v2/unenroll", json!({"card_id": ACTIVE_CARD_ID})),
        (
            "cardholders/v2/update",
            json!({
            "cardholder_id": CARDHOLDER_ID, "call_prefix": "+1", "mobile": "2125550000",
            "email": "emma.johnson@example.com", "date_of_birth": "1996-10-31", "state": "Illinois",
            "city": "Chicago", "address_line": "456 Maple Avenue", "post_code": "60601",
            "country_code": "US", "security_index": "2", "security_answer": "Han"}),
        ),
    ];
    for (route, body) in writes {
        let key = format!("key-{}", route.replace('/', "-"));
        let first = send(&issuer, keyed(route, ISSUER_KEY, &key, &body)).await;
        assert_eq!(first.status, StatusCode::OK, "{route}: {}", first.text());
        let calls = h.sandbox.calls_to(route).len();
        let again = send(&issuer, keyed(route, ISSUER_KEY, &key, &body)).await;
        assert_eq!(again.header("idempotent-replayed"), Some("true"), "{route}");
        assert_eq!(
            h.sandbox.calls_to(route).len(),
            calls,
            "{route}: no second call"
        );
        h.clock.advance(std::time::Duration::from_millis(5));
    }
    let bad = send(
        &issuer,
        keyed(
            "3ds/v2/enroll",
            ISSUER_KEY,
            "has space",
            &link(ACTIVE_CARD_ID, CARDHOLDER_ID),
        ),
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.json()["field"], "Idempotency-Key");
}

#[tokio::test]
async fn a_batch_status_reads_the_callers_records_in_one_round_trip() {
    let h = Harness::new().await;
    let issuer = enrolled_by_bank_x(&h).await;
    write(
        &issuer,
        "3ds/v2/enroll",
        ISSUER_KEY,
        &link(&seeded_card_id(1), CARDHOLDER_ID),
    )
    .await;
    write(
        &issuer,
        "3ds/v2/enroll",
        OTHER_ISSUER_KEY,
        &link(THIRD_BUDGET_CARD_ID, THIRD_BUDGET_CARDHOLDER_ID),
    )
    .await;
    h.sandbox.clear_calls();
    let asked = json!({"card_ids": [ACTIVE_CARD_ID, seeded_card_id(1), THIRD_BUDGET_CARD_ID, "card00000000000000000000", ACTIVE_CARD_ID]});
    let answer = write(&issuer, "3ds/v2/status/batch", ISSUER_KEY, &asked).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let results = answer.json()["data"]["results"].clone();
    let statuses: Vec<&str> = results
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["ENROLLED", "ENROLLED", "UNKNOWN", "UNKNOWN"],
        "duplicates once; another program's like none"
    );
    assert_eq!(results[2]["card_id"], THIRD_BUDGET_CARD_ID);
    assert!(results[2].get("cardholder_id").is_none());
    assert!(h.sandbox.calls().is_empty(), "no upstream call");
    let too_many: Vec<String> = (0..101).map(seeded_card_id).collect();
    let refused = write(
        &issuer,
        "3ds/v2/status/batch",
        ISSUER_KEY,
        &json!({"card_ids": too_many}),
    )
    .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert_eq!(refused.json()["field"], "card_ids");
}

#[tokio::test]
async fn bad_card_ids_are_named_before_any_upstream_call_or_write() {
    let h = Harness::new().await;
    let issuer = h.issuer().await;
    let cases = [
        get(&path("3ds/v2/status?card_id=card%201"), Some(ISSUER_KEY)),
        get(&path("3ds/v2/status"), Some(ISSUER_KEY)),
        post_json(
            &path("3ds/v2/unenroll"),
            Some(ISSUER_KEY),
            &json!({"card_id": "card 1"}),
        ),
        post_json(&path("3ds/v2/unenroll"), Some(ISSUER_KEY), &json!({})),
    ];
    for request in cases {
        let answer = send(&issuer, request).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.text());
        assert_eq!(answer.json()["field"], "card_id", "{}", answer.text());
    }
    let batch = send(
        &issuer,
        post_json(
            &path("3ds/v2/status/batch"),
            Some(ISSUER_KEY),
            &json!({"card_ids": [ACTIVE_CARD_ID, "x y"]}),
        ),
    )
    .await;
    assert_eq!(batch.json()["field"], "card_ids[1]");
    assert!(h.sandbox.calls().is_empty(), "no upstream call");
    assert!(
        h.card_record(ACTIVE_CARD_ID).await.is_none(),
        "nothing written"
    );
}

#[tokio::test]
async fn a_keyed_retry_after_the_upstream_created_the_contact_but_answered_late_creates_nothing_more()
 {
    let h = Harness::new().await;
    let issuer = h.issuer().await;
    // The upstream creates the contact, but answers after our timeout (400 ms).
    h.sandbox.inject(
        FaultRule::on(
            "/card/issuance/api/issuing/cardholders/v2/create",
            Fault::SlowResponse { ms: 700 },
        )
        .times(1),
    );
    let body = contact(BUDGET_ID, "3125550111");
    let first = create_contact(&issuer, ISSUER_KEY, "contact-emma-0001", &body).await;
    assert_eq!(
        first.status,
        StatusCode::GATEWAY_TIMEOUT,
        "{}",
        first.text()
    );
    assert_eq!(first.json()["code"], "UPSTREAM_TIMEOUT");
    let message = first.json()["message"].as_str().unwrap().to_owned();
    assert!(message.contains("the outcome is unknown"), "{message}");
    assert!(!message.contains("nothing was"), "{message}");

    // The client retries with the same key, as it should: nothing is created again.
    for _ in 0..2 {
        let retried = create_contact(&issuer, ISSUER_KEY, "contact-emma-0001", &body).await;
        assert_eq!(retried.status, StatusCode::CONFLICT, "{}", retried.text());
        assert_eq!(retried.json()["code"], "IDEMPOTENCY_OUTCOME_UNKNOWN");
    }
    assert_eq!(
        h.sandbox.calls_to("cardholders/v2/create").len(),
        1,
        "one contact upstream, never a duplicate"
    );

    // A refusal that proves nothing happened still frees the key for the same request.
    h.sandbox.inject(
        FaultRule::on(
            "/card/issuance/api/issuing/cardholders/v2/create",
            Fault::Status {
                status: 400,
                retry_after_secs: None,
            },
        )
        .times(1),
    );
    let other = contact(BUDGET_ID, "3125550112");
    let refused = create_contact(&issuer, ISSUER_KEY, "contact-noah-0001", &other).await;
    assert_eq!(
        refused.status,
        StatusCode::BAD_REQUEST,
        "{}",
        refused.text()
    );
    let created = create_contact(&issuer, ISSUER_KEY, "contact-noah-0001", &other).await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.text());
}

#[tokio::test]
async fn an_update_that_timed_out_is_repeated_because_a_repeat_is_safe() {
    let h = Harness::new().await;
    let issuer = h.issuer().await;
    let created = create_contact(
        &issuer,
        ISSUER_KEY,
        "c-1",
        &contact(BUDGET_ID, "3125550121"),
    )
    .await;
    let id = created.json()["data"]["cardholder_id"]
        .as_str()
        .unwrap()
        .to_owned();
    h.sandbox.inject(
        FaultRule::on(
            "/card/issuance/api/issuing/cardholders/v2/update",
            Fault::SlowResponse { ms: 700 },
        )
        .times(1),
    );
    let mut update = contact(BUDGET_ID, "3125550122");
    update["cardholder_id"] = json!(id);
    update.as_object_mut().unwrap().remove("budget_id");
    let first = send(
        &issuer,
        keyed("cardholders/v2/update", ISSUER_KEY, "u-1", &update),
    )
    .await;
    // Unlike a create, the timed-out update is simply made again (the upstream takes it
    // twice as once), within the same request.
    assert_eq!(first.status, StatusCode::OK, "{}", first.text());
    assert_eq!(h.sandbox.calls_to("cardholders/v2/update").len(), 2);
}

#[tokio::test]
async fn an_upstream_answering_a_create_with_another_programs_contact_does_not_hand_it_over() {
    let h = Harness::new().await;
    // The contact the upstream will answer with is already bank-y's.
    let enrollments = gateway::enrollment::Enrollments::new(h.store.clone(), h.clock());
    let theirs = gateway::domain::CardholderId::parse("c", "471041678120400001").unwrap();
    let their_budget =
        gateway::domain::BudgetId::parse("b", sandbox::state::THIRD_BUDGET_ID).unwrap();
    assert!(
        enrollments
            .record_new_cardholder(&theirs, &their_budget, &tenant_id(OTHER_ISSUER))
            .await
            .unwrap()
    );
    let issuer = h.issuer().await;
    let created = create_contact(
        &issuer,
        ISSUER_KEY,
        "c-dup",
        &contact(BUDGET_ID, "3125550131"),
    )
    .await;
    assert_eq!(
        created.status,
        StatusCode::BAD_GATEWAY,
        "{}",
        created.text()
    );
    assert_eq!(created.json()["code"], "UPSTREAM_REJECTED");
    assert!(!created.text().contains("471041678120400001"));
    // Still bank-y's: bank-x cannot now manage it.
    let update = {
        let mut body = contact(BUDGET_ID, "3125550132");
        body["cardholder_id"] = json!("471041678120400001");
        body.as_object_mut().unwrap().remove("budget_id");
        body
    };
    let takeover = send(
        &issuer,
        keyed("cardholders/v2/update", ISSUER_KEY, "u-dup", &update),
    )
    .await;
    assert_eq!(
        takeover.status,
        StatusCode::NOT_FOUND,
        "{}",
        takeover.text()
    );
    assert!(h.sandbox.calls_to("cardholders/v2/update").is_empty());
}

#[tokio::test]
async fn a_budget_moved_to_another_program_moves_its_cards_and_the_old_owner_answers_for_them_no_more()
 {
    let h = Harness::new().await;
    let issuer = h.issuer().await;
    let enrolled = write(
        &issuer,
        "3ds/v2/enroll",
        ISSUER_KEY,
        &link(ACTIVE_CARD_ID, CARDHOLDER_ID),
    )
    .await;
    assert_eq!(enrolled.status, StatusCode::OK, "{}", enrolled.text());

    // The operator moves the card's budget from bank-x to bank-y: the records first
    // (admin transfer-budget --table), then the registry.
    let budget = gateway::domain::BudgetId::parse("b", sandbox::state::SECOND_BUDGET_ID).unwrap();
    let enrollments = gateway::enrollment::Enrollments::new(h.store.clone(), h.clock());
    let card_key = gateway::store::Kind::CardEnrollment.key(&[ACTIVE_CARD_ID]);
    assert!(
        enrollments
            .transfer(
                &card_key,
                &budget,
                &tenant_id(ISSUER),
                &tenant_id(OTHER_ISSUER)
            )
            .await
            .unwrap()
    );
    let mut registry = test_registry();
    registry["tenants"][0]["issuer"]["budget_ids"] = json!([sandbox::state::BUDGET_ID]);
    registry["tenants"][1]["issuer"]["budget_ids"] = json!([
        sandbox::state::THIRD_BUDGET_ID,
        sandbox::state::SECOND_BUDGET_ID
    ]);
    h.set_registry(&registry);
    h.clock.advance(std::time::Duration::from_secs(301));

    let asked = json!({"card_ids": [ACTIVE_CARD_ID]});
    let old = write(&issuer, "3ds/v2/status/batch", ISSUER_KEY, &asked).await;
    assert_eq!(
        old.json()["data"]["results"][0]["status"],
        "UNKNOWN",
        "{}",
        old.text()
    );
    let new = write(&issuer, "3ds/v2/status/batch", OTHER_ISSUER_KEY, &asked).await;
    assert_eq!(
        new.json()["data"]["results"][0]["status"],
        "ENROLLED",
        "{}",
        new.text()
    );
    let single = send(
        &issuer,
        get(
            &path(&format!("3ds/v2/status?card_id={ACTIVE_CARD_ID}")),
            Some(OTHER_ISSUER_KEY),
        ),
    )
    .await;
    assert_eq!(single.status, StatusCode::OK, "{}", single.text());
}

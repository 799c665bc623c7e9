//! The enroll function against the card-issuance sandbox and DynamoDB (moto).

use gateway::enrollment::EnrollmentStatus;
use gateway_tests::*;
use http::StatusCode;
use sandbox::state::{
    ACTIVE_CARD_ID, BUDGET_ID, CARDHOLDER_ID, INACTIVE_CARD_ID, SECOND_CARDHOLDER_ID,
    seeded_card_id,
};
use serde_json::{Value, json};

const ENROLL: &str = "/card/issuance/api/issuing/3ds/v2/enroll";
const BATCH: &str = "/card/issuance/api/issuing/3ds/v2/enroll/batch";
const UPDATE: &str = "/card/issuance/api/issuing/3ds/v2/update";
const DETAIL: &str = "/card/issuance/api/issuing/3ds/v2/detail";
const CREATE_CARDHOLDER: &str = "/card/issuance/api/issuing/cardholders/v2/create";
const QUERY_CARDHOLDERS: &str = "/card/issuance/api/issuing/cardholders/v2/detail";

fn enroll_body(card: &str, holder: &str) -> Value {
    json!({"card_id": card, "cardholder_id": holder})
}

fn contact() -> Value {
    json!({
        "budget_id": BUDGET_ID, "first_name": "Emma", "last_name": "Johnson",
        "call_prefix": "+1", "mobile": "2125551234", "email": "emma.johnson@example.com",
        "date_of_birth": "1996-10-31", "state": "Illinois", "city": "Chicago",
        "address_line": "456 Maple Avenue", "post_code": "60601", "country_code": "US",
        "security_index": "2", "security_answer": "Han"
    })
}

/// The cardholder a card's record links it to.
fn linked(record: &gateway::enrollment::CardEnrollment) -> Option<&str> {
    record.cardholder_id.as_ref().map(|c| c.as_str())
}

#[tokio::test]
async fn enroll_success_links_the_card_upstream_and_records_the_status() {
    let h = Harness::new().await;
    let answer = send(
        &h.issuer().await,
        post_json(
            ENROLL,
            Some(ISSUER_KEY),
            &enroll_body(ACTIVE_CARD_ID, CARDHOLDER_ID),
        ),
    )
    .await;

    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(
        answer.json(),
        json!({"code": "SUCCESS", "data": {"isSuccess": true}})
    );
    let calls = h.sandbox.calls_to("3ds/v2/enroll");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].body, enroll_body(ACTIVE_CARD_ID, CARDHOLDER_ID));
    assert_eq!(
        calls[0].header("authorization"),
        Some("Bearer sandbox-ahrvo-access-token")
    );
    assert_eq!(calls[0].header("x-api-key"), Some("sandbox-ahrvo-api-key"));
    assert_eq!(calls[0].header("accept"), Some("application/json"));
    assert_eq!(
        h.sandbox.enrolled_cardholder(ACTIVE_CARD_ID).as_deref(),
        Some(CARDHOLDER_ID)
    );

    let record = h
        .card_record(ACTIVE_CARD_ID)
        .await
        .expect("enrollment recorded");
    assert_eq!(record.card_id.as_str(), ACTIVE_CARD_ID);
    assert_eq!(linked(&record), Some(CARDHOLDER_ID));
    assert_eq!(record.status, EnrollmentStatus::Enrolled);
    assert_eq!(record.tenant_id.as_str(), ISSUER);
    assert!(record.enrolled_at > 0);
    assert!(record.updated_at > 0);
}

#[tokio::test]
async fn a_card_enrolled_with_another_cardholder_is_a_conflict_and_nothing_is_written() {
    let h = Harness::new().await;
    h.sandbox.link_card(ACTIVE_CARD_ID, SECOND_CARDHOLDER_ID);
    let answer = send(
        &h.issuer().await,
        post_json(
            ENROLL,
            Some(ISSUER_KEY),
            &enroll_body(ACTIVE_CARD_ID, CARDHOLDER_ID),
        ),
    )
    .await;

    assert_eq!(answer.status, StatusCode::CONFLICT);
    assert_eq!(answer.json()["code"], "CARD_ALREADY_ENROLLED");
    assert!(
        answer.json()["message"]
            .as_str()
            .unwrap()
            .contains("another cardholder")
    );
    assert_eq!(h.sandbox.calls_to("3ds/v2/enroll").len(), 1);
    assert_eq!(
        h.sandbox.calls_to("3ds/v2/detail").len(),
        1,
        "the 409 is checked against the detail"
    );
    assert!(h.card_record(ACTIVE_CARD_ID).await.is_none());
}

#[tokio::test]
async fn an_enroll_that_timed_out_and_is_retried_into_a_409_is_reconciled_as_enrolled() {
    let h = Harness::new().await;
    // The first attempt is processed upstream but answers after our timeout (400 ms).
    h.sandbox.inject(
        FaultRule::on(
            "/card/issuance/api/issuing/3ds/v2/enroll",
            Fault::SlowResponse { ms: 700 },
        )
        .times(1),
    );
    let answer = send(
        &h.issuer().await,
        post_json(
            ENROLL,
            Some(ISSUER_KEY),
            &enroll_body(ACTIVE_CARD_ID, CARDHOLDER_ID),
        ),
    )
    .await;

    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(answer.json()["code"], "SUCCESS");
    assert_eq!(answer.json()["data"]["isSuccess"], true);
    assert_eq!(answer.json()["data"]["reconciled"], true);
    assert_eq!(
        h.sandbox.calls_to("3ds/v2/enroll").len(),
        2,
        "timed out, then retried"
    );
    assert_eq!(h.sandbox.calls_to("3ds/v2/detail").len(), 1);
    let record = h.card_record(ACTIVE_CARD_ID).await.expect("recorded");
    assert_eq!(linked(&record), Some(CARDHOLDER_ID));
}

#[tokio::test]
async fn a_caller_retrying_after_our_504_gets_enrolled_not_a_conflict() {
    let h = Harness::new().await;
    h.sandbox.inject(
        FaultRule::on(
            "/card/issuance/api/issuing/3ds/v2/enroll",
            Fault::Latency { ms: 700 },
        )
        .times(3),
    );
    let issuer = h.issuer().await;
    let first = send(
        &issuer,
        post_json(
            ENROLL,
            Some(ISSUER_KEY),
            &enroll_body(ACTIVE_CARD_ID, CARDHOLDER_ID),
        ),
    )
    .await;
    assert_eq!(first.status, StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(first.json()["code"], "UPSTREAM_TIMEOUT");
    assert!(
        h.card_record(ACTIVE_CARD_ID).await.is_none(),
        "nothing recorded on a timeout"
    );

    let retry = send(
        &issuer,
        post_json(
            ENROLL,
            Some(ISSUER_KEY),
            &enroll_body(ACTIVE_CARD_ID, CARDHOLDER_ID),
        ),
    )
    .await;
    assert_eq!(retry.status, StatusCode::OK, "{}", retry.text());
    assert!(h.card_record(ACTIVE_CARD_ID).await.is_some());
}

#[tokio::test]
async fn each_documented_enroll_error_reaches_the_caller_with_its_status_and_code() {
    let h = Harness::new().await;
    let issuer = h.issuer().await;
    let cases = [
        (
            enroll_body("card00000000000000000000", CARDHOLDER_ID),
            StatusCode::NOT_FOUND,
            "CARD_NOT_FOUND",
        ),
        (
            enroll_body(ACTIVE_CARD_ID, "999999999999999999"),
            StatusCode::NOT_FOUND,
            "CARDHOLDER_NOT_FOUND",
        ),
        (
            enroll_body(INACTIVE_CARD_ID, CARDHOLDER_ID),
            StatusCode::BAD_REQUEST,
            "CARD_NOT_ACTIVE",
        ),
    ];
    for (body, status, code) in cases {
        let answer = send(&issuer, post_json(ENROLL, Some(ISSUER_KEY), &body)).await;
        assert_eq!(answer.status, status, "{body}: {}", answer.text());
        assert_eq!(answer.json()["code"], code);
        assert!(
            answer.json()["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
        assert!(
            h.card_record(body["card_id"].as_str().unwrap())
                .await
                .is_none()
        );
    }
}

#[tokio::test]
async fn an_account_without_3ds_gets_403_and_bad_upstream_credentials_401() {
    let h = Harness::new().await;
    h.set_card_issuance_credentials(
        sandbox::state::ISSUANCE_API_KEY_WITHOUT_3DS,
        sandbox::state::ISSUANCE_ACCESS_TOKEN,
    );
    let answer = send(
        &h.issuer().await,
        post_json(
            ENROLL,
            Some(ISSUER_KEY),
            &enroll_body(ACTIVE_CARD_ID, CARDHOLDER_ID),
        ),
    )
    .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(answer.json()["code"], "FEATURE_NOT_ENABLED");

    let h = Harness::new().await;
    h.set_card_issuance_credentials(sandbox::state::ISSUANCE_API_KEY, "expired-token");
    let answer = send(
        &h.issuer().await,
        post_json(
            ENROLL,
            Some(ISSUER_KEY),
            &enroll_body(ACTIVE_CARD_ID, CARDHOLDER_ID),
        ),
    )
    .await;
    assert_eq!(
        answer.status,
        StatusCode::BAD_GATEWAY,
        "not the caller's 401"
    );
    assert_eq!(
        answer.json()["code"],
        "UPSTREAM_UNAUTHORIZED",
        "not to be confused with the caller's own key"
    );
    assert!(!answer.text().contains("expired-token"));
    assert!(h.card_record(ACTIVE_CARD_ID).await.is_none());
}

#[tokio::test]
async fn over_the_upstream_rate_limit_the_caller_gets_429_with_retry_after() {
    // Two enrolls of a cardholder created outside the gateway: a contact lookup (its
    // budget, once), and for each card its detail (its budget) and the enroll.
    let config = SandboxConfig {
        issuance_requests_per_10s: 5,
        ..SandboxConfig::default()
    };
    let h = Harness::with(default_backend(), config, &[]).await;
    let issuer = h.issuer().await;
    for i in 0..2 {
        let answer = send(
            &issuer,
            post_json(
                ENROLL,
                Some(ISSUER_KEY),
                &enroll_body(&seeded_card_id(i), CARDHOLDER_ID),
            ),
        )
        .await;
        assert_eq!(answer.status, StatusCode::OK);
    }
    let answer = send(
        &issuer,
        post_json(
            ENROLL,
            Some(ISSUER_KEY),
            &enroll_body(&seeded_card_id(2), CARDHOLDER_ID),
        ),
    )
    .await;
    assert_eq!(
        answer.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        answer.text()
    );
    assert_eq!(answer.json()["code"], "TOO_MANY_REQUESTS");
    let retry_after: u64 = answer
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .unwrap();
    assert!((1..=10).contains(&retry_after));
    // The third card's detail read met the limit; the sandbox asked for more than our
    // 2 s retry ceiling: not retried, and nothing was enrolled.
    assert_eq!(h.sandbox.calls_to("card/v2/detail").len(), 3);
    assert_eq!(h.sandbox.calls_to("3ds/v2/enroll").len(), 2);
}

#[tokio::test]
async fn a_short_429_or_503_is_retried_honouring_retry_after() {
    let h = Harness::new().await;
    h.sandbox.inject(
        FaultRule::on(
            "/card/issuance/api/issuing/3ds/v2/enroll",
            Fault::Status {
                status: 429,
                retry_after_secs: Some(0),
            },
        )
        .times(1),
    );
    h.sandbox.inject(
        FaultRule::on(
            "/card/issuance/api/issuing/3ds/v2/enroll",
            Fault::Status {
                status: 503,
                retry_after_secs: None,
            },
        )
        .times(1),
    );
    let answer = send(
        &h.issuer().await,
        post_json(
            ENROLL,
            Some(ISSUER_KEY),
            &enroll_body(ACTIVE_CARD_ID, CARDHOLDER_ID),
        ),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(h.sandbox.calls_to("3ds/v2/enroll").len(), 3);
    assert!(h.card_record(ACTIVE_CARD_ID).await.is_some());
}

#[tokio::test]
async fn upstream_faults_become_502_or_504_and_record_nothing() {
    let cases = [
        (
            Fault::Status {
                status: 500,
                retry_after_secs: None,
            },
            StatusCode::BAD_GATEWAY,
            "UPSTREAM_UNAVAILABLE",
        ),
        (
            Fault::MalformedBody,
            StatusCode::BAD_GATEWAY,
            "UPSTREAM_UNAVAILABLE",
        ),
        (
            Fault::DropConnection,
            StatusCode::BAD_GATEWAY,
            "UPSTREAM_UNAVAILABLE",
        ),
        (
            Fault::Latency { ms: 700 },
            StatusCode::GATEWAY_TIMEOUT,
            "UPSTREAM_TIMEOUT",
        ),
    ];
    for (fault, status, code) in cases {
        let h = Harness::new().await;
        h.sandbox.link_card(ACTIVE_CARD_ID, SECOND_CARDHOLDER_ID);
        h.sandbox.inject(FaultRule::on(
            "/card/issuance/api/issuing/3ds/v2/update",
            fault.clone(),
        ));
        let answer = send(
            &h.issuer().await,
            post_json(
                UPDATE,
                Some(ISSUER_KEY),
                &enroll_body(ACTIVE_CARD_ID, CARDHOLDER_ID),
            ),
        )
        .await;
        assert_eq!(answer.status, status, "{fault:?}: {}", answer.text());
        assert_eq!(answer.json()["code"], code);
        assert!(h.card_record(ACTIVE_CARD_ID).await.is_none());
        // Re-pointing is idempotent: every fault is retried, within the attempts and the
        // call budget (3 x 400 ms): after a timed-out attempt, only one more fits unless
        // the jittered wait happens to be zero.
        let calls = h.sandbox.calls_to("3ds/v2/update").len();
        let expected = if matches!(fault, Fault::Latency { .. }) {
            2..=3
        } else {
            3..=3
        };
        assert!(expected.contains(&calls), "{fault:?}: {calls} calls");
    }
}

#[tokio::test]
async fn creating_a_cardholder_is_not_repeated_once_it_may_have_landed() {
    let h = Harness::new().await;
    h.sandbox.inject(FaultRule::on(
        "/card/issuance/api/issuing/cardholders/v2/create",
        Fault::Status {
            status: 500,
            retry_after_secs: None,
        },
    ));
    let answer = send(
        &h.issuer().await,
        post_json(CREATE_CARDHOLDER, Some(ISSUER_KEY), &contact()),
    )
    .await;
    assert_eq!(answer.status, StatusCode::BAD_GATEWAY);
    assert_eq!(
        h.sandbox.calls_to("cardholders/v2/create").len(),
        1,
        "a 500 may have created it"
    );
}

#[tokio::test]
async fn update_enrollment_repoints_the_card_and_the_record() {
    let h = Harness::new().await;
    let issuer = h.issuer().await;
    let enrolled = send(
        &issuer,
        post_json(
            ENROLL,
            Some(ISSUER_KEY),
            &enroll_body(ACTIVE_CARD_ID, CARDHOLDER_ID),
        ),
    )
    .await;
    assert_eq!(enrolled.status, StatusCode::OK);
    let before = h.card_record(ACTIVE_CARD_ID).await.unwrap();
    h.clock.advance(std::time::Duration::from_secs(5));

    let answer = send(
        &issuer,
        post_json(
            UPDATE,
            Some(ISSUER_KEY),
            &enroll_body(ACTIVE_CARD_ID, SECOND_CARDHOLDER_ID),
        ),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(answer.json(), json!({"code": "SUCCESS"}));
    assert_eq!(
        h.sandbox.enrolled_cardholder(ACTIVE_CARD_ID).as_deref(),
        Some(SECOND_CARDHOLDER_ID)
    );
    let after = h.card_record(ACTIVE_CARD_ID).await.unwrap();
    assert_eq!(linked(&after), Some(SECOND_CARDHOLDER_ID));
    assert_eq!(after.enrolled_at, before.enrolled_at);
    assert_ne!(after.updated_at, before.updated_at);

    let not_enrolled = send(
        &issuer,
        post_json(
            UPDATE,
            Some(ISSUER_KEY),
            &enroll_body(&seeded_card_id(7), CARDHOLDER_ID),
        ),
    )
    .await;
    assert_eq!(not_enrolled.status, StatusCode::NOT_FOUND);
    assert_eq!(not_enrolled.json()["code"], "CARD_NOT_ENROLLED");
    assert!(h.card_record(&seeded_card_id(7)).await.is_none());
}

#[tokio::test]
async fn enrollment_detail_passes_through_without_the_security_answer() {
    let h = Harness::new().await;
    h.sandbox.link_card(ACTIVE_CARD_ID, CARDHOLDER_ID);
    let answer = send(
        &h.issuer().await,
        get(
            &format!("{DETAIL}?card_id={ACTIVE_CARD_ID}"),
            Some(ISSUER_KEY),
        ),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    let body = answer.json();
    assert_eq!(body["code"], "SUCCESS");
    assert_eq!(body["data"]["cardholder_id"], CARDHOLDER_ID);
    assert_eq!(body["data"]["country"], "United States");
    assert_eq!(
        body["data"]["security_question"],
        "What is your maternal grandmother's maiden name?"
    );
    assert_eq!(body["data"]["security_answer"], "[REDACTED]");
    assert!(!answer.text().contains("Han\""));
    assert_eq!(
        h.sandbox.calls_to("3ds/v2/detail")[0].query.as_deref(),
        Some(format!("card_id={ACTIVE_CARD_ID}").as_str())
    );

    let missing = send(
        &h.issuer().await,
        get(
            &format!("{DETAIL}?card_id={}", seeded_card_id(9)),
            Some(ISSUER_KEY),
        ),
    )
    .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.json()["code"], "CARD_NOT_ENROLLED");
}

/// The update body of a contact: the create body without its budget and name.
fn update_of(id: &str, mobile: &str) -> Value {
    let mut update = contact();
    let fields = update.as_object_mut().unwrap();
    for kept_upstream in ["budget_id", "first_name", "last_name"] {
        fields.remove(kept_upstream);
    }
    fields.insert("cardholder_id".into(), json!(id));
    fields.insert("mobile".into(), json!(mobile));
    update
}

#[tokio::test]
async fn cardholder_contacts_are_created_updated_and_queried() {
    let h = Harness::new().await;
    let created = h
        .issuer_post(ISSUER_KEY, "cardholders/v2/create", &contact())
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.text());
    let id = created.json()["data"]["cardholder_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(id.len(), 18);
    assert_eq!(
        h.sandbox.calls_to("cardholders/v2/create")[0].body,
        contact()
    );

    let updated = h
        .issuer_post(
            ISSUER_KEY,
            "cardholders/v2/update",
            &update_of(&id, "3125559999"),
        )
        .await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.text());

    let listed = h
        .issuer_get(
            ISSUER_KEY,
            &format!("cardholders/v2/detail?cardholder_id={id}"),
        )
        .await;
    assert_eq!(listed.status, StatusCode::OK);
    let body = listed.json();
    assert_eq!(body["data"]["total"], 1);
    assert_eq!(body["data"]["list"][0]["mobile"], "3125559999");
    assert_eq!(body["data"]["list"][0]["security_answer"], "[REDACTED]");
    assert_eq!(
        h.sandbox.calls_to("cardholders/v2/detail")[0]
            .query
            .as_deref(),
        Some(format!("page_no=1&page_size=20&cardholder_id={id}").as_str())
    );
}

#[tokio::test]
async fn a_contact_in_an_unknown_budget_or_an_unknown_contact_is_not_found() {
    let h = Harness::new().await;
    let mut elsewhere = contact();
    elsewhere["budget_id"] = json!("ci209901010000000000");
    let unknown_budget = h
        .issuer_post(ISSUER_KEY, "cardholders/v2/create", &elsewhere)
        .await;
    assert_eq!(unknown_budget.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown_budget.json()["code"], "BUDGET_NOT_FOUND");

    let unknown = h
        .issuer_post(
            ISSUER_KEY,
            "cardholders/v2/update",
            &update_of("999999999999999999", "3125559999"),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.json()["code"], "CARDHOLDER_NOT_FOUND");
    assert!(h.sandbox.calls_to("cardholders/v2/create").is_empty());
}

/// Bad input: a 4xx naming the field; no upstream call; nothing written.
/// Bad input is refused with a clear 4xx naming the field, before any upstream call or
/// write: one named case per rule.
mod bad_input {
    use super::*;

    /// Sends `request` to the enroll function and checks the refusal, and that nothing
    /// reached the upstream or the store.
    async fn refused(
        request: http::Request<axum::body::Body>,
        status: StatusCode,
        code: &str,
        field: Option<&str>,
    ) {
        let h = Harness::new().await;
        let what = format!("{} {}", request.method(), request.uri());
        let answer = send(&h.issuer().await, request).await;
        assert_eq!(answer.status, status, "{what}: {}", answer.text());
        let body = answer.json();
        assert_eq!(body["code"], code, "{what}: {body}");
        assert_eq!(body["field"].as_str(), field, "{what}: {body}");
        assert!(!body["message"].as_str().unwrap().is_empty());
        assert!(!answer.text().contains("Han"), "security answer echoed");
        assert!(
            h.sandbox.calls().is_empty(),
            "bad input reached the upstream: {:?}",
            h.sandbox.calls()
        );
        assert!(h.card_record(ACTIVE_CARD_ID).await.is_none());
    }

    fn contact_with(change: impl FnOnce(&mut Value)) -> Value {
        let mut c = contact();
        change(&mut c);
        c
    }

    macro_rules! cases {
        ($($name:ident: $request:expr => $status:ident, $code:literal, $field:expr;)*) => {
            $(
                #[tokio::test]
                async fn $name() {
                    refused($request, StatusCode::$status, $code, $field).await;
                }
            )*
        };
    }

    cases! {
        truncated_json: post_raw(ENROLL, Some(ISSUER_KEY), "{\"card_id\": ")
            => BAD_REQUEST, "MALFORMED_JSON", None;
        empty_body: post_raw(ENROLL, Some(ISSUER_KEY), "")
            => BAD_REQUEST, "INVALID_PARAMETER", Some("body");
        card_id_as_a_number: post_json(ENROLL, Some(ISSUER_KEY), &json!({"card_id": 5, "cardholder_id": CARDHOLDER_ID}))
            => BAD_REQUEST, "INVALID_PARAMETER", Some("card_id");
        no_cardholder_id: post_json(ENROLL, Some(ISSUER_KEY), &json!({"card_id": ACTIVE_CARD_ID}))
            => BAD_REQUEST, "INVALID_PARAMETER", Some("cardholder_id");
        blank_card_id: post_json(ENROLL, Some(ISSUER_KEY), &json!({"card_id": "  ", "cardholder_id": CARDHOLDER_ID}))
            => BAD_REQUEST, "INVALID_PARAMETER", Some("card_id");
        card_id_too_long: post_json(ENROLL, Some(ISSUER_KEY), &json!({"card_id": "c".repeat(65), "cardholder_id": CARDHOLDER_ID}))
            => BAD_REQUEST, "INVALID_PARAMETER", Some("card_id");
        card_id_with_other_characters: post_json(ENROLL, Some(ISSUER_KEY), &json!({"card_id": "card 1;drop", "cardholder_id": CARDHOLDER_ID}))
            => BAD_REQUEST, "INVALID_PARAMETER", Some("card_id");
        body_over_64_kib: post_raw(ENROLL, Some(ISSUER_KEY), format!(
                r#"{{"card_id":"{ACTIVE_CARD_ID}","cardholder_id":"{CARDHOLDER_ID}","pad":"{}"}}"#,
                "x".repeat(70 * 1024)
            ))
            => PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE", None;
        no_api_key: post_json(ENROLL, None, &enroll_body(ACTIVE_CARD_ID, CARDHOLDER_ID))
            => UNAUTHORIZED, "UNAUTHORIZED", None;
        unknown_api_key: post_json(ENROLL, Some("wrong-key-0123456789"), &enroll_body(ACTIVE_CARD_ID, CARDHOLDER_ID))
            => UNAUTHORIZED, "UNAUTHORIZED", None;
        unknown_route: post_json("/card/issuance/api/issuing/3ds/v2/disenroll", Some(ISSUER_KEY), &json!({}))
            => NOT_FOUND, "ROUTE_NOT_FOUND", None;
        wrong_method: get(ENROLL, Some(ISSUER_KEY))
            => METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED", None;
        detail_without_card_id: get(DETAIL, Some(ISSUER_KEY))
            => BAD_REQUEST, "INVALID_PARAMETER", Some("card_id");
        contact_query_without_a_filter: get(&format!("{QUERY_CARDHOLDERS}?page_no=1"), Some(ISSUER_KEY))
            => BAD_REQUEST, "INVALID_PARAMETER", Some("budget_id");
        contact_email_not_an_address: post_json(CREATE_CARDHOLDER, Some(ISSUER_KEY), &contact_with(|c| c["email"] = json!("emma")))
            => BAD_REQUEST, "INVALID_PARAMETER", Some("email");
        contact_call_prefix_not_accepted: post_json(CREATE_CARDHOLDER, Some(ISSUER_KEY), &contact_with(|c| c["call_prefix"] = json!("+99")))
            => BAD_REQUEST, "INVALID_PARAMETER", Some("call_prefix");
        contact_date_of_birth_not_iso: post_json(CREATE_CARDHOLDER, Some(ISSUER_KEY), &contact_with(|c| c["date_of_birth"] = json!("31/10/1996")))
            => BAD_REQUEST, "INVALID_PARAMETER", Some("date_of_birth");
        contact_country_not_alpha_2: post_json(CREATE_CARDHOLDER, Some(ISSUER_KEY), &contact_with(|c| c["country_code"] = json!("USA")))
            => BAD_REQUEST, "INVALID_PARAMETER", Some("country_code");
        contact_without_security_answer: post_json(CREATE_CARDHOLDER, Some(ISSUER_KEY), &contact_with(|c| {
                c.as_object_mut().unwrap().remove("security_answer");
            }))
            => BAD_REQUEST, "INVALID_PARAMETER", Some("security_answer");
        contact_mobile_as_a_number: post_json(CREATE_CARDHOLDER, Some(ISSUER_KEY), &contact_with(|c| c["mobile"] = json!(2125551234_u64)))
            => BAD_REQUEST, "INVALID_PARAMETER", Some("mobile");
        empty_batch: post_json(BATCH, Some(ISSUER_KEY), &json!({"items": []}))
            => BAD_REQUEST, "INVALID_PARAMETER", Some("items");
        batch_with_a_card_twice: post_json(BATCH, Some(ISSUER_KEY), &json!({"items": [enroll_body(ACTIVE_CARD_ID, CARDHOLDER_ID), enroll_body(ACTIVE_CARD_ID, SECOND_CARDHOLDER_ID)]}))
            => BAD_REQUEST, "INVALID_PARAMETER", Some("items[1].card_id");
        batch_item_without_cardholder: post_json(BATCH, Some(ISSUER_KEY), &json!({"items": [enroll_body(ACTIVE_CARD_ID, CARDHOLDER_ID), {"card_id": "x"}]}))
            => BAD_REQUEST, "INVALID_PARAMETER", Some("items[1].cardholder_id");
        batch_of_101: post_json(BATCH, Some(ISSUER_KEY), &json!({"items": (0..101).map(|i| enroll_body(&seeded_card_id(i), CARDHOLDER_ID)).collect::<Vec<_>>()}))
            => BAD_REQUEST, "INVALID_PARAMETER", Some("items");
    }
}

#[tokio::test]
async fn bulk_enrollment_reports_each_item_and_one_failure_does_not_fail_the_rest() {
    let h = Harness::new().await;
    h.sandbox
        .link_card(&seeded_card_id(1), SECOND_CARDHOLDER_ID);
    let items = json!({"items": [
        enroll_body(&seeded_card_id(0), CARDHOLDER_ID),
        enroll_body(&seeded_card_id(1), CARDHOLDER_ID),
        enroll_body("card00000000000000000000", CARDHOLDER_ID),
        enroll_body(&seeded_card_id(3), CARDHOLDER_ID),
    ]});
    let answer = send(
        &h.issuer().await,
        post_json(BATCH, Some(ISSUER_KEY), &items),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let body = answer.json();
    assert_eq!(body["code"], "SUCCESS");
    assert_eq!(body["data"]["total"], 4);
    assert_eq!(body["data"]["enrolled"], 2);
    assert_eq!(body["data"]["failed"], 2);
    let results = body["data"]["results"].as_array().unwrap();
    let status: Vec<&str> = results
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(status, ["ENROLLED", "FAILED", "FAILED", "ENROLLED"]);
    assert_eq!(results[1]["code"], "CARD_ALREADY_ENROLLED");
    assert_eq!(results[1]["http_status"], 409);
    assert_eq!(results[2]["code"], "CARD_NOT_FOUND");
    assert_eq!(results[2]["card_id"], "card00000000000000000000");
    for (i, enrolled) in [(0, true), (1, false), (3, true)] {
        assert_eq!(
            h.card_record(&seeded_card_id(i)).await.is_some(),
            enrolled,
            "item {i}"
        );
    }
}

#[tokio::test]
async fn a_full_batch_of_100_runs_with_bounded_concurrency() {
    let h = Harness::with_env(&[("ENROLL_BATCH_CONCURRENCY", "6")]).await;
    // A realistic upstream latency, so that concurrent calls overlap and can be counted.
    h.sandbox.inject(FaultRule::on(
        "/card/issuance/api/issuing/3ds/v2/enroll",
        Fault::Latency { ms: 40 },
    ));
    let items: Vec<Value> = (0..100)
        .map(|i| enroll_body(&seeded_card_id(i), CARDHOLDER_ID))
        .collect();
    let answer = send(
        &h.issuer().await,
        post_json(BATCH, Some(ISSUER_KEY), &json!({"items": items})),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.json()["data"]["enrolled"], 100, "{}", answer.text());
    assert_eq!(h.sandbox.calls_to("3ds/v2/enroll").len(), 100);
    let peak = h.sandbox.max_in_flight();
    assert!((4..=6).contains(&peak), "peak concurrency {peak}");
    for i in [0, 42, 99] {
        assert!(h.card_record(&seeded_card_id(i)).await.is_some());
    }
}

#[tokio::test]
async fn a_batch_answers_by_its_deadline_and_its_unfinished_items_are_safe_to_resend() {
    let h = Harness::with_env(&[
        ("ENROLL_BATCH_CONCURRENCY", "1"),
        ("ENROLL_BATCH_DEADLINE_MS", "1800"),
    ])
    .await;
    // Eight enrolls of 300 ms (under the tests' 400 ms upstream timeout), one at a time:
    // 2.4 s of work for a 1.8 s deadline — room for the first to finish on a loaded
    // machine, none for the last.
    h.sandbox.inject(FaultRule::on(
        "/card/issuance/api/issuing/3ds/v2/enroll",
        Fault::Latency { ms: 300 },
    ));
    let items: Vec<Value> = (0..8)
        .map(|i| enroll_body(&seeded_card_id(i), CARDHOLDER_ID))
        .collect();
    let issuer = h.issuer().await;
    let answer = send(
        &issuer,
        post_json(BATCH, Some(ISSUER_KEY), &json!({"items": items.clone()})),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let data = &answer.json()["data"];
    let results = data["results"].as_array().unwrap().clone();
    assert_eq!(results.len(), 8, "a result per item");
    let timed_out: Vec<&Value> = results
        .iter()
        .filter(|r| r["status"] == "TIMEOUT")
        .collect();
    assert!(!timed_out.is_empty(), "{data}");
    assert!(data["enrolled"].as_u64().unwrap() >= 1, "{data}");
    assert_eq!(
        data["enrolled"].as_u64().unwrap() + data["timed_out"].as_u64().unwrap(),
        8
    );
    // Resent as they are, the unfinished items enroll (one that landed upstream just
    // before the deadline is reconciled), and nothing is enrolled twice.
    h.sandbox.clear_faults();
    let again: Vec<Value> = timed_out
        .iter()
        .map(|r| enroll_body(r["card_id"].as_str().unwrap(), CARDHOLDER_ID))
        .collect();
    // Resent to an instance with the default deadline: what is timed is the first batch,
    // and on a loaded machine seven items may take longer than its 1.8 s.
    let mut config = enroll::EnrollConfig::from_env(&h.config_env()).unwrap();
    config.batch_deadline = std::time::Duration::from_secs(25);
    let unhurried = enroll::build(&config, &h.platform()).await.unwrap();
    let resent = send(
        &unhurried,
        post_json(BATCH, Some(ISSUER_KEY), &json!({"items": again})),
    )
    .await;
    assert_eq!(
        resent.json()["data"]["enrolled"].as_u64(),
        Some(timed_out.len() as u64),
        "{}",
        resent.text()
    );
    for i in 0..8 {
        assert!(h.card_record(&seeded_card_id(i)).await.is_some());
    }
}

#[tokio::test]
async fn the_per_instance_rate_limit_holds_even_when_a_batch_would_exceed_it() {
    // 11 per 10 s: one request a second, no burst beyond one.
    let h = Harness::with_env(&[
        ("AHRVO_MAX_REQUESTS_PER_10S", "11"),
        ("ENROLL_BATCH_DEADLINE_MS", "1500"),
    ])
    .await;
    let items: Vec<Value> = (0..3)
        .map(|i| enroll_body(&seeded_card_id(i), CARDHOLDER_ID))
        .collect();
    let answer = send(
        &h.issuer().await,
        post_json(BATCH, Some(ISSUER_KEY), &json!({"items": items})),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(answer.json()["data"]["timed_out"], 3, "{}", answer.text());
    let calls = h.sandbox.calls().len();
    assert!(
        calls <= 2,
        "at most one request a second reached the upstream in 1.5 s: {calls}"
    );
}

#[tokio::test]
async fn api_gateway_events_route_with_and_without_a_stage_prefix() {
    let h = Harness::new().await;
    let issuer = h.issuer().await;
    let body = enroll_body(ACTIVE_CARD_ID, CARDHOLDER_ID).to_string();
    let headers = [
        ("content-type", "application/json"),
        ("x-api-key", ISSUER_KEY),
    ];

    let v1 = apigw_v1_event("POST", ENROLL, "prod", &headers, Some(&body), false);
    let answer = send_event(&issuer, &v1).await;
    assert_eq!(answer.status, StatusCode::OK, "REST v1: {}", answer.text());

    let detail = apigw_v1_event(
        "GET",
        &format!("{DETAIL}?card_id={ACTIVE_CARD_ID}"),
        "prod",
        &headers,
        None,
        false,
    );
    let answer = send_event(&issuer, &detail).await;
    assert_eq!(
        answer.status,
        StatusCode::OK,
        "REST v1 GET: {}",
        answer.text()
    );
    assert_eq!(answer.json()["data"]["cardholder_id"], CARDHOLDER_ID);

    let update = enroll_body(ACTIVE_CARD_ID, SECOND_CARDHOLDER_ID).to_string();
    let encoded = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &update);
    let v2_staged = apigw_v2_event(
        "POST",
        &format!("/prod{UPDATE}"),
        "",
        "prod",
        &headers,
        Some(&encoded),
        true,
    );
    let answer = send_event(&issuer, &v2_staged).await;
    assert_eq!(
        answer.status,
        StatusCode::OK,
        "HTTP API v2 with stage, base64 body: {}",
        answer.text()
    );

    let v2_default = apigw_v2_event(
        "GET",
        DETAIL,
        &format!("card_id={ACTIVE_CARD_ID}"),
        "$default",
        &headers,
        None,
        false,
    );
    let answer = send_event(&issuer, &v2_default).await;
    assert_eq!(
        answer.status,
        StatusCode::OK,
        "HTTP API v2 $default: {}",
        answer.text()
    );
    assert_eq!(answer.json()["data"]["cardholder_id"], SECOND_CARDHOLDER_ID);

    let unknown = apigw_v2_event(
        "POST",
        "/prod/card/issuance/api/issuing/3ds/v2/nope",
        "",
        "prod",
        &headers,
        Some("{}"),
        false,
    );
    let answer = send_event(&issuer, &unknown).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(answer.json()["code"], "ROUTE_NOT_FOUND");
}

#[tokio::test]
async fn an_id_padded_with_unicode_space_reaches_the_upstream_as_it_was_authorized() {
    let h = Harness::new().await;
    let created = h
        .issuer_post(ISSUER_KEY, "cardholders/v2/create", &contact())
        .await;
    let id = created.json()["data"]["cardholder_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // The id checked (trimmed) is the caller's; the one forwarded must be that one, not
    // the raw string with its no-break space.
    let mut padded = update_of(&format!("{id}\u{a0}"), "3125559999");
    padded["city"] = json!(" Mexico City\u{2003}");
    let updated = h
        .issuer_post(ISSUER_KEY, "cardholders/v2/update", &padded)
        .await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.text());
    let forwarded = &h.sandbox.calls_to("cardholders/v2/update")[0].body;
    assert_eq!(forwarded["cardholder_id"], json!(id));
    assert_eq!(forwarded["city"], "Mexico City");

    let mut padded_create = contact();
    padded_create["budget_id"] = json!(format!(
        "{}\u{a0}",
        contact()["budget_id"].as_str().unwrap()
    ));
    let again = h
        .issuer_post(ISSUER_KEY, "cardholders/v2/create", &padded_create)
        .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text());
    assert_eq!(
        h.sandbox.calls_to("cardholders/v2/create")[1].body["budget_id"],
        contact()["budget_id"]
    );
}

//! Two card programs (`bank-x`, `bank-y`) and two merchants (`shop-a`, `shop-b`) on one
//! deployment: each test is an attack one tenant could try on another, and shows it
//! answered exactly like something that does not exist, with no upstream call and nothing
//! written.

use std::time::Duration;

use gateway::redirect::{SignatureError, verify_redirect};
use gateway_tests::*;
use http::StatusCode;
use sandbox::state::{
    ACTIVE_CARD_ID, CARDHOLDER_ID, SECOND_BUDGET_ID, THIRD_BUDGET_CARD_ID,
    THIRD_BUDGET_CARDHOLDER_ID, THIRD_BUDGET_ID,
};
use serde_json::{Value, json};

const ISSUING: &str = "/card/issuance/api/issuing";

fn path(route: &str) -> String {
    format!("{ISSUING}/{route}")
}

/// `bank-x` enrolls its card with its cardholder (Emma, in its budget).
async fn enrolled_by_bank_x(h: &Harness) {
    let answer = send(
        &h.issuer().await,
        post_json(
            &path("3ds/v2/enroll"),
            Some(ISSUER_KEY),
            &json!({"card_id": ACTIVE_CARD_ID, "cardholder_id": CARDHOLDER_ID}),
        ),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    h.sandbox.clear_calls();
}

fn contact_update(cardholder: &str) -> Value {
    json!({
        "cardholder_id": cardholder, "call_prefix": "+1", "mobile": "5550001111",
        "email": "attacker@evil.example", "date_of_birth": "1990-01-01", "state": "Illinois",
        "city": "Chicago", "address_line": "1 Evil St", "post_code": "60601",
        "country_code": "US", "security_index": "2", "security_answer": "Mine"
    })
}

/// The answer to a request about something that does not exist at all.
async fn answer_for_nothing(
    h: &Harness,
    request: http::Request<axum::body::Body>,
) -> (StatusCode, Value) {
    let answer = send(&h.issuer().await, request).await;
    (answer.status, answer.json())
}

#[tokio::test]
async fn a_card_program_cannot_read_another_programs_card_contact() {
    let h = Harness::new().await;
    enrolled_by_bank_x(&h).await;
    let issuer = h.issuer().await;
    let theirs = send(
        &issuer,
        get(
            &path(&format!("3ds/v2/detail?card_id={ACTIVE_CARD_ID}")),
            Some(OTHER_ISSUER_KEY),
        ),
    )
    .await;
    assert!(
        h.sandbox.calls().is_empty(),
        "decided from our record, no upstream call"
    );
    let (status, nothing) = answer_for_nothing(
        &h,
        get(
            &path("3ds/v2/detail?card_id=card00000000000000000000"),
            Some(OTHER_ISSUER_KEY),
        ),
    )
    .await;
    assert_eq!(theirs.status, status);
    assert_eq!(
        theirs.json(),
        nothing,
        "exactly like a card that does not exist"
    );
    assert_eq!(theirs.json()["code"], "CARD_NOT_FOUND");
    assert!(!theirs.text().contains("Emma") && !theirs.text().contains("emma"));
}

#[tokio::test]
async fn a_card_program_cannot_rewrite_another_programs_otp_contact() {
    let h = Harness::new().await;
    let issuer = h.issuer().await;
    let attack = send(
        &issuer,
        post_json(
            &path("cardholders/v2/update"),
            Some(OTHER_ISSUER_KEY),
            &contact_update(CARDHOLDER_ID),
        ),
    )
    .await;
    assert!(
        h.sandbox.calls_to("cardholders/v2/update").is_empty(),
        "the upstream update never happened"
    );
    let (status, nothing) = answer_for_nothing(
        &h,
        post_json(
            &path("cardholders/v2/update"),
            Some(OTHER_ISSUER_KEY),
            &contact_update("999999999999999999"),
        ),
    )
    .await;
    assert_eq!((attack.status, attack.json()), (status, nothing));
    assert_eq!(attack.json()["code"], "CARDHOLDER_NOT_FOUND");
    // Emma's contact is untouched upstream; her own program still manages it.
    let own = send(
        &issuer,
        post_json(
            &path("cardholders/v2/update"),
            Some(ISSUER_KEY),
            &contact_update(CARDHOLDER_ID),
        ),
    )
    .await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.text());
}

#[tokio::test]
async fn a_card_program_cannot_re_point_another_programs_card_to_its_cardholder() {
    let h = Harness::new().await;
    enrolled_by_bank_x(&h).await;
    let attack = send(
        &h.issuer().await,
        post_json(
            &path("3ds/v2/update"),
            Some(OTHER_ISSUER_KEY),
            &json!({"card_id": ACTIVE_CARD_ID, "cardholder_id": THIRD_BUDGET_CARDHOLDER_ID}),
        ),
    )
    .await;
    assert_eq!(attack.status, StatusCode::NOT_FOUND, "{}", attack.text());
    assert_eq!(attack.json()["code"], "CARD_NOT_FOUND");
    assert!(h.sandbox.calls_to("3ds/v2/update").is_empty());
    assert_eq!(
        h.sandbox.enrolled_cardholder(ACTIVE_CARD_ID).as_deref(),
        Some(CARDHOLDER_ID),
        "the OTPs still go to Emma"
    );
    let record = h.card_record(ACTIVE_CARD_ID).await.unwrap();
    assert_eq!(record.tenant_id.as_str(), ISSUER);
    assert_eq!(
        record.cardholder_id.as_ref().map(|c| c.as_str()),
        Some(CARDHOLDER_ID)
    );
}

#[tokio::test]
async fn a_card_program_cannot_enroll_another_programs_card_or_use_its_cardholder() {
    let h = Harness::new().await;
    enrolled_by_bank_x(&h).await;
    let issuer = h.issuer().await;
    let card_of_bank_x = send(
        &issuer,
        post_json(
            &path("3ds/v2/enroll"),
            Some(OTHER_ISSUER_KEY),
            &json!({"card_id": ACTIVE_CARD_ID, "cardholder_id": THIRD_BUDGET_CARDHOLDER_ID}),
        ),
    )
    .await;
    assert_eq!(card_of_bank_x.json()["code"], "CARD_NOT_FOUND");
    let cardholder_of_bank_x = send(
        &issuer,
        post_json(
            &path("3ds/v2/enroll"),
            Some(OTHER_ISSUER_KEY),
            &json!({"card_id": THIRD_BUDGET_CARD_ID, "cardholder_id": CARDHOLDER_ID}),
        ),
    )
    .await;
    assert_eq!(cardholder_of_bank_x.json()["code"], "CARDHOLDER_NOT_FOUND");
    assert!(h.sandbox.calls_to("3ds/v2/enroll").is_empty());
    assert!(h.card_record(THIRD_BUDGET_CARD_ID).await.is_none());
}

#[tokio::test]
async fn a_card_program_cannot_claim_another_programs_card_before_it_is_enrolled() {
    let h = Harness::new().await;
    let issuer = h.issuer().await;
    // bank-x's card, issued from its budget and not enrolled yet: bank-y tries to link
    // it to its own cardholder first.
    const NOT_YET_ENROLLED: &str = "card20820230817163921206780";
    let attack = send(
        &issuer,
        post_json(
            &path("3ds/v2/enroll"),
            Some(OTHER_ISSUER_KEY),
            &json!({"card_id": NOT_YET_ENROLLED, "cardholder_id": THIRD_BUDGET_CARDHOLDER_ID}),
        ),
    )
    .await;
    assert!(
        h.sandbox.calls_to("3ds/v2/enroll").is_empty(),
        "the upstream never heard of the enrollment"
    );
    assert!(h.card_record(NOT_YET_ENROLLED).await.is_none());
    let (status, nothing) = answer_for_nothing(
        &h,
        post_json(
            &path("3ds/v2/enroll"),
            Some(OTHER_ISSUER_KEY),
            &json!({"card_id": "card00000000000000000000", "cardholder_id": THIRD_BUDGET_CARDHOLDER_ID}),
        ),
    )
    .await;
    assert_eq!((attack.status, attack.json()), (status, nothing));
    assert_eq!(attack.json()["code"], "CARD_NOT_FOUND");
    // Re-pointing and reading it are refused the same way.
    for request in [
        post_json(
            &path("3ds/v2/update"),
            Some(OTHER_ISSUER_KEY),
            &json!({"card_id": NOT_YET_ENROLLED, "cardholder_id": THIRD_BUDGET_CARDHOLDER_ID}),
        ),
        get(
            &path(&format!("3ds/v2/detail?card_id={NOT_YET_ENROLLED}")),
            Some(OTHER_ISSUER_KEY),
        ),
    ] {
        let answer = send(&issuer, request).await;
        assert_eq!(answer.json()["code"], "CARD_NOT_FOUND", "{}", answer.text());
    }
    // bank-y's own card enrolls with its own cardholder; bank-x's card still enrolls
    // with bank-x's.
    let own = send(
        &issuer,
        post_json(
            &path("3ds/v2/enroll"),
            Some(OTHER_ISSUER_KEY),
            &json!({"card_id": THIRD_BUDGET_CARD_ID, "cardholder_id": THIRD_BUDGET_CARDHOLDER_ID}),
        ),
    )
    .await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.text());
    let rightful = send(
        &issuer,
        post_json(
            &path("3ds/v2/enroll"),
            Some(ISSUER_KEY),
            &json!({"card_id": NOT_YET_ENROLLED, "cardholder_id": CARDHOLDER_ID}),
        ),
    )
    .await;
    assert_eq!(rightful.status, StatusCode::OK, "{}", rightful.text());
    let record = h.card_record(NOT_YET_ENROLLED).await.unwrap();
    assert_eq!(record.tenant_id.as_str(), "bank-x");
}

#[tokio::test]
async fn a_card_program_cannot_query_or_create_contacts_in_another_programs_budget() {
    let h = Harness::new().await;
    let issuer = h.issuer().await;
    let query = send(
        &issuer,
        get(
            &path(&format!(
                "cardholders/v2/detail?budget_id={SECOND_BUDGET_ID}"
            )),
            Some(OTHER_ISSUER_KEY),
        ),
    )
    .await;
    let unknown = send(
        &issuer,
        get(
            &path("cardholders/v2/detail?budget_id=ci209901010000000000"),
            Some(OTHER_ISSUER_KEY),
        ),
    )
    .await;
    assert!(
        h.sandbox
            .calls()
            .iter()
            .all(|c| !c.path.contains("cardholders/v2/detail")
                || c.query
                    .as_deref()
                    .is_some_and(|q| q.contains("ci209901010000000000"))),
        "the other program's budget was never asked for"
    );
    assert_eq!(
        (query.status, query.json()),
        (unknown.status, unknown.json())
    );
    assert_eq!(query.json()["code"], "BUDGET_NOT_FOUND");

    let mut create = contact_update("x");
    create.as_object_mut().unwrap().remove("cardholder_id");
    create["budget_id"] = json!(SECOND_BUDGET_ID);
    create["first_name"] = json!("Eve");
    create["last_name"] = json!("Attacker");
    let created = send(
        &issuer,
        post_json(
            &path("cardholders/v2/create"),
            Some(OTHER_ISSUER_KEY),
            &create,
        ),
    )
    .await;
    assert_eq!(created.json()["code"], "BUDGET_NOT_FOUND");
    assert!(h.sandbox.calls_to("cardholders/v2/create").is_empty());

    // Its own budget works, and lists only its own contacts.
    let own = send(
        &issuer,
        get(
            &path(&format!(
                "cardholders/v2/detail?budget_id={THIRD_BUDGET_ID}"
            )),
            Some(OTHER_ISSUER_KEY),
        ),
    )
    .await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.text());
    let list = own.json()["data"]["list"].as_array().unwrap().clone();
    assert!(list.iter().all(|c| c["budget_id"] == THIRD_BUDGET_ID) && !list.is_empty());
}

#[tokio::test]
async fn each_role_is_refused_on_the_other_roles_routes_before_any_upstream_call() {
    let h = Harness::new().await;
    let merchant_on_issuer = send(
        &h.issuer().await,
        post_json(
            &path("3ds/v2/enroll"),
            Some(MERCHANT_KEY),
            &json!({"card_id": ACTIVE_CARD_ID, "cardholder_id": CARDHOLDER_ID}),
        ),
    )
    .await;
    assert_eq!(merchant_on_issuer.status, StatusCode::FORBIDDEN);
    assert_eq!(merchant_on_issuer.json()["code"], "ROLE_NOT_ALLOWED");
    let issuer_on_merchant = send(
        &h.merchant().await,
        post_json(
            SETUP,
            Some(ISSUER_KEY),
            &setup_body("role-1", "4000000000002701"),
        ),
    )
    .await;
    assert_eq!(issuer_on_merchant.status, StatusCode::FORBIDDEN);
    assert_eq!(
        issuer_on_merchant.json()["error"]["reason"],
        "ROLE_NOT_ALLOWED"
    );
    assert!(h.sandbox.calls().is_empty());
    assert!(
        h.item(&session_ref(MERCHANT, "role-1").key())
            .await
            .is_none()
    );
}

#[tokio::test]
async fn a_merchant_cannot_use_another_merchants_origin_as_its_return_url() {
    let h = Harness::new().await;
    let merchant = h.merchant().await;
    let body = prepared_enroll_as(
        &merchant,
        MERCHANT_KEY,
        OTHER_MERCHANT_ORIGIN,
        "origin-1",
        "4000000000002503",
    )
    .await;
    h.sandbox.clear_calls();
    let answer = send(&merchant, post_json(ENROLL, Some(MERCHANT_KEY), &body)).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.text());
    assert_eq!(answer.json()["error"]["field"], "authentication.return_url");
    assert!(h.sandbox.calls().is_empty());
    let item = h
        .item(&session_ref(MERCHANT, "origin-1").key())
        .await
        .unwrap();
    assert_eq!(
        string_attr(&item, "state").as_deref(),
        Some("SETUP_COMPLETED")
    );
}

/// `shop-a` completes a challenge; the gateway redirects its browser, signed.
async fn redirect_of_a_challenge(h: &Harness, reference: &str) -> String {
    let challenge = challenged_as(
        h,
        MERCHANT_KEY,
        MERCHANT_ORIGIN,
        reference,
        "4000000000002503",
    )
    .await;
    let acs = at_the_acs(&challenge, "submit", "1234").await;
    let answer = send(&h.callback().await, form_post(&acs.path, acs.form())).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.text());
    let location = answer.header("location").unwrap().to_owned();
    url::Url::parse(&location)
        .unwrap()
        .query()
        .unwrap()
        .to_owned()
}

fn keys(list: &[(&str, &str)]) -> gateway::crypto::MacKeys {
    gateway::crypto::MacKeys::new(
        list.iter()
            .map(|(kid, secret)| {
                (
                    (*kid).to_owned(),
                    gateway::crypto::MacKey::new(secret.as_bytes()),
                )
            })
            .collect(),
    )
    .unwrap()
}

#[tokio::test]
async fn a_redirect_for_one_merchant_does_not_verify_for_another() {
    let h = Harness::new().await;
    let query = redirect_of_a_challenge(&h, "signed-1").await;
    let now = chrono::Utc::now().timestamp();
    let verified = verify_redirect(
        &query,
        &merchant_redirect_keys(),
        now,
        Duration::from_secs(600),
    )
    .unwrap();
    assert_eq!(
        verified.get("tenant"),
        Some(MERCHANT),
        "the tenant is in the signed set"
    );
    assert_eq!(verified.get("kid"), Some(REDIRECT_KID));
    let shop_b = keys(&[("shop-b-1", OTHER_REDIRECT_KEY)]);
    assert_eq!(
        verify_redirect(&query, &shop_b, now, Duration::from_secs(600)),
        Err(SignatureError::UnknownKey)
    );
    // Even with its key id forged onto the URL, shop-b's key does not verify it.
    let forged = query.replace(&format!("kid={REDIRECT_KID}"), "kid=shop-b-1");
    assert_eq!(
        verify_redirect(&forged, &shop_b, now, Duration::from_secs(600)),
        Err(SignatureError::Mismatch)
    );
}

#[tokio::test]
async fn a_merchant_cannot_read_or_validate_another_merchants_session() {
    let h = Harness::new().await;
    let challenge = challenged_as(
        &h,
        OTHER_MERCHANT_KEY,
        OTHER_MERCHANT_ORIGIN,
        "order-9",
        "4000000000002503",
    )
    .await;
    let merchant = h.merchant().await;
    let read = status(&merchant, "order-9", MERCHANT_KEY).await;
    let unknown = status(&merchant, "never-was", MERCHANT_KEY).await;
    assert_eq!((read.status, read.json()), (unknown.status, unknown.json()));
    assert_eq!(read.json()["error"]["reason"], "SESSION_NOT_FOUND");

    h.sandbox.clear_calls();
    let validate = send(
        &h.merchant().await,
        post_json(
            "/v1/risk/authentication/validate",
            Some(MERCHANT_KEY),
            &validate_body(&challenge, &challenge.transaction_id),
        ),
    )
    .await;
    assert_eq!(
        validate.status,
        StatusCode::NOT_FOUND,
        "{}",
        validate.text()
    );
    assert_eq!(validate.json()["error"]["reason"], "SESSION_NOT_FOUND");
    assert!(h.sandbox.calls().is_empty(), "no upstream validate");
    let theirs = h
        .item(&session_ref(OTHER_MERCHANT, "order-9").key())
        .await
        .unwrap();
    assert_eq!(
        string_attr(&theirs, "state").as_deref(),
        Some("CHALLENGE_PENDING")
    );
}

#[tokio::test]
async fn two_merchants_use_the_same_reference_code_independently() {
    let h = Harness::new().await;
    let merchant = h.merchant().await;
    for (key, origin, card) in [
        (MERCHANT_KEY, MERCHANT_ORIGIN, "4000000000002701"),
        (
            OTHER_MERCHANT_KEY,
            OTHER_MERCHANT_ORIGIN,
            "4000000000002925",
        ),
    ] {
        let body = prepared_enroll_as(&merchant, key, origin, "ORDER-1001", card).await;
        let answer = send(&merchant, post_json(ENROLL, Some(key), &body)).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    }
    let a = status(&merchant, "ORDER-1001", MERCHANT_KEY).await.json();
    let b = status(&merchant, "ORDER-1001", OTHER_MERCHANT_KEY)
        .await
        .json();
    assert_eq!(a["data"]["state"], "AUTHENTICATED");
    assert_eq!(b["data"]["state"], "FAILED");
    assert!(
        h.item(&session_ref(MERCHANT, "ORDER-1001").key())
            .await
            .is_some()
    );
    assert!(
        h.item(&session_ref(OTHER_MERCHANT, "ORDER-1001").key())
            .await
            .is_some()
    );
}

/// The registry with merchant `shop-a`'s entry changed.
fn registry_with_shop_a(change: impl FnOnce(&mut Value)) -> Value {
    let mut registry = test_registry();
    change(&mut registry["tenants"][2]);
    registry
}

const SECRETS_TTL: Duration = Duration::from_secs(301);

#[tokio::test]
async fn after_a_redirect_key_rotation_the_old_key_verifies_until_it_is_removed() {
    let h = Harness::new().await;
    let before = redirect_of_a_challenge(&h, "rotate-1").await;
    h.set_registry(&registry_with_shop_a(|shop_a| {
        shop_a["merchant"]["redirect_keys"] = json!([
            {"kid": "shop-a-2", "secret": "the-new-redirect-key-of-shop-a-0123456"},
            {"kid": REDIRECT_KID, "secret": REDIRECT_KEY}
        ]);
    }));
    h.clock.advance(SECRETS_TTL);
    let after = redirect_of_a_challenge(&h, "rotate-2").await;
    assert!(
        after.contains("kid=shop-a-2"),
        "the first key signs: {after}"
    );
    let both = keys(&[
        ("shop-a-2", "the-new-redirect-key-of-shop-a-0123456"),
        (REDIRECT_KID, REDIRECT_KEY),
    ]);
    let now = h.clock.now_ms() / 1000;
    for query in [&before, &after] {
        assert!(verify_redirect(query, &both, now, Duration::from_secs(600)).is_ok());
    }
    let new_only = keys(&[("shop-a-2", "the-new-redirect-key-of-shop-a-0123456")]);
    assert_eq!(
        verify_redirect(&before, &new_only, now, Duration::from_secs(600)),
        Err(SignatureError::UnknownKey)
    );
}

#[tokio::test]
async fn an_api_key_removed_from_the_registry_stops_working_after_the_ttl() {
    let h = Harness::new().await;
    let merchant = h.merchant().await;
    let new_key = "shop-a-second-api-key-01";
    h.set_registry(&registry_with_shop_a(|shop_a| {
        shop_a["api_key_sha256"] = json!([gateway::tenants::api_key_digest(new_key)]);
    }));
    let setup = |key: &'static str, reference: &'static str| {
        post_json(SETUP, Some(key), &setup_body(reference, "4000000000002701"))
    };
    let cached = send(&merchant, setup(MERCHANT_KEY, "key-1")).await;
    assert_eq!(
        cached.status,
        StatusCode::OK,
        "the registry read at cold start holds until its TTL"
    );
    h.clock.advance(SECRETS_TTL);
    let removed = send(&merchant, setup(MERCHANT_KEY, "key-2")).await;
    assert_eq!(removed.status, StatusCode::UNAUTHORIZED);
    assert_eq!(removed.json()["error"]["reason"], "UNAUTHORIZED");
    let rotated_in = send(&merchant, setup(new_key, "key-3")).await;
    assert_eq!(rotated_in.status, StatusCode::OK, "{}", rotated_in.text());
    assert!(
        h.item(&session_ref(MERCHANT, "key-2").key())
            .await
            .is_none()
    );
}

/// The same registry rotation, through AWS Secrets Manager (moto's, on loopback): the
/// functions read their secrets at cold start and again after the TTL.
#[tokio::test]
async fn secrets_come_from_secrets_manager_and_a_rotation_needs_no_redeploy() {
    let Some(endpoint) = dynamodb_endpoint() else {
        eprintln!("skipped: needs moto_server (scripts/test.sh starts it)");
        return;
    };
    let h = Harness::new().await;
    let moto = h.on_secrets_manager(&endpoint).await;
    let (platform, manager, prefix) = (&moto.platform, &moto.manager, &moto.prefix);
    let config = check_enroll::CheckEnrollConfig::from_env(&moto.env()).unwrap();
    let merchant = check_enroll::build(&config, platform).await.unwrap();
    let setup = |key: &'static str, reference: &'static str| {
        post_json(SETUP, Some(key), &setup_body(reference, "4000000000002701"))
    };
    assert_eq!(
        send(&merchant, setup(MERCHANT_KEY, "sm-1")).await.status,
        StatusCode::OK
    );

    let new_key = "shop-a-second-api-key-01";
    let rotated = registry_with_shop_a(|shop_a| {
        shop_a["api_key_sha256"] = json!([gateway::tenants::api_key_digest(new_key)]);
    });
    manager
        .client()
        .put_secret_value()
        .secret_id(format!("{prefix}/{TENANTS_SECRET}"))
        .secret_string(rotated.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(
        send(&merchant, setup(MERCHANT_KEY, "sm-2")).await.status,
        StatusCode::OK,
        "cached"
    );
    h.clock.advance(SECRETS_TTL);
    assert_eq!(
        send(&merchant, setup(MERCHANT_KEY, "sm-3")).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        send(&merchant, setup(new_key, "sm-4")).await.status,
        StatusCode::OK
    );

    let missing = check_enroll::CheckEnrollConfig::from_env(&gateway::config::Env::from_map(
        [("TENANT_REGISTRY_SECRET_ID", "gateway-test/never-created")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .chain(
                h.env
                    .clone()
                    .into_iter()
                    .filter(|(k, _)| k != "TENANT_REGISTRY_SECRET_ID"),
            )
            .collect(),
    ))
    .unwrap();
    let Err(error) = check_enroll::build(&missing, platform).await else {
        panic!("a missing secret fails the cold start");
    };
    assert_eq!(
        error.to_string(),
        "secret gateway-test/never-created does not exist"
    );
}

#[tokio::test]
async fn a_new_tenant_under_an_offboarded_tenants_id_is_refused_not_given_its_data() {
    let h = Harness::new().await;
    let merchant = h.merchant().await;
    // shop-a offboarded, and a new merchant registered under its id.
    let mut registry = test_registry();
    registry["retired"] = serde_json::json!([{"id": MERCHANT, "retired_at": 1_700_000_000}]);
    let policy = gateway::tenants::RegistryPolicy::default();
    let error = gateway::tenants::Registry::check(whole(&registry), &policy).unwrap_err();
    assert!(error.contains("never used again"), "{error}");
    // A running function keeps the registry it had rather than take the impostor's, and
    // a cold start refuses to start on it.
    h.set_registry(&registry);
    h.clock.advance(std::time::Duration::from_secs(301));
    let status = send(
        &merchant,
        get("/v1/risk/authentication/anything", Some(MERCHANT_KEY)),
    )
    .await;
    assert_eq!(
        status.status,
        http::StatusCode::NOT_FOUND,
        "{}",
        status.text()
    );
    let config = check_enroll::CheckEnrollConfig::from_env(&h.config_env()).unwrap();
    assert!(check_enroll::build(&config, &h.platform()).await.is_err());
}

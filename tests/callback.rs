//! The callback function: the browser's return after the challenge and the merchant's
//! validate, against the sandbox (its step-up pages driven over HTTP) and DynamoDB (moto).

use std::time::Duration;

use axum::body::Body;
use gateway_tests::*;
use http::{Request, StatusCode};
use serde_json::json;

#[tokio::test]
async fn challenge_success_per_network_validates_once_and_redirects_signed() {
    struct Case {
        card: &'static str,
        /// What the redirect carries (Mastercard's is its raw ECI).
        eci: &'static str,
    }
    let h = Harness::new().await;
    let callback = h.callback().await;
    let cases = [
        Case {
            card: "4000000000002503",
            eci: "05",
        },
        Case {
            card: "5200000000002151",
            eci: "02",
        },
        Case {
            card: "340000000002534",
            eci: "05",
        },
    ];
    for (i, Case { card, eci }) in cases.into_iter().enumerate() {
        let challenge = challenged(&h, &format!("stepup-ok-{i}"), card).await;
        let acs = at_the_acs(&challenge, "submit", "1234").await;
        assert_eq!(acs.transaction_id, challenge.transaction_id);
        assert_eq!(acs.md, "order-42");
        let answer = send(&callback, form_post(&acs.path, acs.form())).await;
        let (_, redirect) = verified_redirect(&answer);
        assert_eq!(redirect.get("status"), Some("authenticated"), "{card}");
        assert_eq!(
            redirect.get("reference_code"),
            Some(challenge.reference.as_str())
        );
        assert_eq!(redirect.get("eci"), Some(eci), "{card}");
        assert_eq!(redirect.get("liability_shift"), Some("true"), "{card}");
        assert_eq!(answer.header("cache-control"), Some("no-store"));

        let calls = h.sandbox.calls_to("authentication/validate");
        let call = calls.last().unwrap();
        assert_eq!(call.body["transaction_info"]["type"], "validate_result");
        assert_eq!(
            call.body["transaction_info"]["reference_code"],
            challenge.reference
        );
        assert_eq!(
            call.body["authentication"]["transaction_id"],
            challenge.transaction_id
        );
        assert_eq!(
            call.body["card"]["number"], card,
            "unsealed for the upstream"
        );
        assert_eq!(call.body["bill_to"]["email"], "accept@gmsectec.com");

        let item = session_item(&h, &challenge.reference).await;
        assert_eq!(Some(item.state.as_str()), Some("AUTHENTICATED"));
        assert!(
            item.sealed_payment_data.is_none(),
            "card data removed once decided"
        );
        assert!(item.claim_id.is_none());
        assert_no_clear_card_data(&item, card);
    }
    assert_eq!(h.sandbox.calls_to("authentication/validate").len(), 3);
    let view = send(
        &h.merchant().await,
        get("/v1/risk/authentication/stepup-ok-1", Some(MERCHANT_KEY)),
    )
    .await
    .json();
    assert_eq!(view["data"]["state"], "AUTHENTICATED");
    assert_eq!(view["data"]["authentication"]["eci_raw"], "02");
    assert_eq!(view["data"]["authentication"]["liability_shift"], true);
    assert_eq!(
        view["data"]["transaction_status"],
        "Authentication_successful"
    );
}

#[tokio::test]
async fn challenge_failure_unavailable_and_cancel_redirect_with_their_outcome() {
    let h = Harness::new().await;
    let callback = h.callback().await;
    // card, what the cardholder does, status, eci, liability shift
    let cases = [
        (
            "4000000000002503",
            ("submit", "9999"),
            "failed",
            "07",
            "false",
        ),
        (
            "4000000000002370",
            ("submit", "1234"),
            "failed",
            "07",
            "false",
        ),
        (
            "5200000000002490",
            ("submit", "1234"),
            "failed",
            "00",
            "false",
        ),
        (
            "4000000000002420",
            ("submit", "1234"),
            "authenticated",
            "07",
            "false",
        ),
        (
            "5200000000002664",
            ("submit", "1234"),
            "authenticated",
            "00",
            "false",
        ),
        ("4000000000002503", ("cancel", ""), "failed", "07", "false"),
    ];
    for (i, (card, (action, otp), status, eci, shift)) in cases.into_iter().enumerate() {
        let challenge = challenged(&h, &format!("stepup-{i}"), card).await;
        let acs = at_the_acs(&challenge, action, otp).await;
        let answer = send(&callback, form_post(&acs.path, acs.form())).await;
        let (_, redirect) = verified_redirect(&answer);
        assert_eq!(
            redirect.get("status"),
            Some(status),
            "{card} {action} {otp}"
        );
        assert_eq!(redirect.get("eci"), Some(eci), "{card}");
        assert_eq!(redirect.get("liability_shift"), Some(shift), "{card}");
        let item = session_item(&h, &challenge.reference).await;
        let expected = if status == "failed" {
            "FAILED"
        } else {
            "AUTHENTICATED"
        };
        assert_eq!(Some(item.state.as_str()), Some(expected));
        assert!(item.sealed_payment_data.is_none());
    }
}

#[tokio::test]
async fn a_replay_after_completion_redirects_with_the_stored_outcome_and_calls_nothing() {
    let h = Harness::new().await;
    let callback = h.callback().await;
    let challenge = challenged(&h, "replay-cb", "4000000000002503").await;
    let acs = at_the_acs(&challenge, "submit", "1234").await;
    let first = send(&callback, form_post(&acs.path, acs.form())).await;
    let (location, _) = verified_redirect(&first);
    h.clock.advance(Duration::from_secs(30));
    let again = send(&callback, form_post(&acs.path, acs.form())).await;
    assert_eq!(
        again.header("location"),
        Some(location.as_str()),
        "the same redirect, byte for byte"
    );
    assert_eq!(h.sandbox.calls_to("authentication/validate").len(), 1);
}

#[tokio::test]
async fn twenty_concurrent_callbacks_validate_once_and_all_end_at_the_same_redirect() {
    let h = Harness::new().await;
    let callback = h.callback().await;
    let challenge = challenged(&h, "race-cb", "4000000000002503").await;
    let acs = at_the_acs(&challenge, "submit", "1234").await;
    // A slow validate, so that the duplicates arrive while it is in flight.
    h.sandbox
        .inject(FaultRule::on(VALIDATE, Fault::Latency { ms: 250 }));
    let answers = futures_util::future::join_all(
        (0..20).map(|_| send(&callback, form_post(&acs.path, acs.form()))),
    )
    .await;
    assert_eq!(
        h.sandbox.calls_to("authentication/validate").len(),
        1,
        "exactly one upstream validate"
    );
    let (location, redirect) = verified_redirect(&answers[0]);
    assert_eq!(redirect.get("status"), Some("authenticated"));
    for answer in &answers {
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.text());
        assert_eq!(answer.header("location"), Some(location.as_str()));
    }
}

#[tokio::test]
async fn after_the_deadline_the_callback_expires_the_session_without_calling_validate() {
    let h = Harness::new().await;
    let callback = h.callback().await;
    let challenge = challenged(&h, "late-cb", "4000000000002503").await;
    let acs = at_the_acs(&challenge, "submit", "1234").await;
    h.clock.advance(Duration::from_secs(601));
    let answer = send(&callback, form_post(&acs.path, acs.form())).await;
    let (_, redirect) = verified_redirect(&answer);
    assert_eq!(redirect.get("status"), Some("expired"));
    assert_eq!(redirect.get("eci"), None);
    assert!(h.sandbox.calls_to("authentication/validate").is_empty());
    let item = session_item(&h, "late-cb").await;
    assert_eq!(Some(item.state.as_str()), Some("EXPIRED"));
    assert!(item.sealed_payment_data.is_none());
}

#[tokio::test]
async fn a_forged_transaction_id_a_tampered_binding_or_an_unknown_session_is_refused_unvalidated() {
    let h = Harness::new().await;
    let callback = h.callback().await;
    let challenge = challenged(&h, "forged-cb", "4000000000002503").await;
    let acs = at_the_acs(&challenge, "submit", "1234").await;
    let before = session_item(&h, "forged-cb").await;

    // A valid return URL with a transaction id that is not the challenge's: the browser
    // still ends at the merchant, told (signed) that nothing was decided.
    let forged = AcsReturn {
        transaction_id: "AAAAAAAAAAAAAAAAAAAA".into(),
        ..acs.clone()
    };
    let answer = send(&callback, form_post(&acs.path, forged.form())).await;
    let (_, redirect) = verified_redirect(&answer);
    assert_eq!(redirect.get("status"), Some("error"));
    assert_eq!(redirect.get("reason"), Some("INVALID_PARAMETER"));
    assert_eq!(redirect.get("reference_code"), Some("forged-cb"));
    assert_eq!(redirect.get("eci"), None);

    // Not ours at all: our own page, and nothing about any merchant.
    let tampered = acs
        .path
        .rsplit_once('/')
        .map(|(p, b)| format!("{p}/{}x", &b[..b.len() - 1]))
        .unwrap();
    let answer = send(&callback, form_post(&tampered, acs.form())).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert!(answer.text().contains("does not belong"));
    assert!(answer.header("location").is_none());

    // Another session's (valid) return URL with this session's transaction id.
    let other = challenged(&h, "forged-cb-2", "4000000000002503").await;
    let other_acs = at_the_acs(&other, "submit", "1234").await;
    let answer = send(&callback, form_post(&other_acs.path, acs.form())).await;
    let (_, redirect) = verified_redirect(&answer);
    assert_eq!(
        (redirect.get("status"), redirect.get("reference_code")),
        (Some("error"), Some("forged-cb-2")),
        "not replayable against another session"
    );

    let missing = send(&callback, form_post(&acs.path, "MD=null".into())).await;
    let (_, redirect) = verified_redirect(&missing);
    assert_eq!(redirect.get("reason"), Some("INVALID_PARAMETER"));

    assert!(
        h.sandbox.calls_to("authentication/validate").is_empty(),
        "nothing reached validate"
    );
    let after = session_item(&h, "forged-cb").await;
    assert_eq!(Some(after.state.as_str()), Some("CHALLENGE_PENDING"));
    assert_eq!(
        after.mutation_id.clone(),
        before.mutation_id.clone(),
        "nothing written"
    );
    // The real return still completes it.
    let real = send(&callback, form_post(&acs.path, acs.form())).await;
    assert_eq!(
        verified_redirect(&real).1.get("status"),
        Some("authenticated")
    );

    let unknown = format!(
        "/v1/risk/authentication/callback/{MERCHANT}/never-seen/{}",
        h.binding("never-seen")
    );
    let answer = send(&callback, form_post(&unknown, acs.form())).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert!(
        answer
            .header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
}

#[tokio::test]
async fn an_upstream_refusal_of_validate_sends_the_cardholder_to_the_merchant_with_a_reason() {
    let h = Harness::new().await;
    let callback = h.callback().await;
    let challenge = challenged(&h, "refused-cb", "4000000000002503").await;
    let acs = at_the_acs(&challenge, "submit", "1234").await;
    h.sandbox.inject(FaultRule::on(
        VALIDATE,
        Fault::Status {
            status: 400,
            retry_after_secs: None,
        },
    ));
    let answer = send(&callback, form_post(&acs.path, acs.form())).await;
    let (_, redirect) = verified_redirect(&answer);
    assert_eq!(redirect.get("status"), Some("error"));
    assert_eq!(redirect.get("reason"), Some("UPSTREAM_REJECTED"));
    assert_eq!(h.sandbox.calls_to("authentication/validate").len(), 1);
    let item = session_item(&h, "refused-cb").await;
    assert_eq!(
        Some(item.state.as_str()),
        Some("CHALLENGE_PENDING"),
        "nothing was decided: released for a later try"
    );
}

#[tokio::test]
async fn a_head_request_on_the_return_url_never_validates() {
    let h = Harness::new().await;
    let callback = h.callback().await;
    let challenge = challenged(&h, "head-cb", "4000000000002503").await;
    let acs = at_the_acs(&challenge, "submit", "1234").await;
    let before = session_item(&h, "head-cb").await;
    let head = Request::head(format!("{}?{}", acs.path, acs.form()))
        .body(Body::empty())
        .unwrap();
    let answer = send(&callback, head).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(answer.header("location").is_none());
    assert!(h.sandbox.calls_to("authentication/validate").is_empty());
    assert_eq!(session_item(&h, "head-cb").await, before, "nothing written");
    // The browser's real return still validates.
    let real = send(&callback, form_post(&acs.path, acs.form())).await;
    assert_eq!(
        verified_redirect(&real).1.get("status"),
        Some("authenticated")
    );
}

#[tokio::test]
async fn get_json_and_base64_api_gateway_returns_are_accepted() {
    let h = Harness::new().await;
    let callback = h.callback().await;

    let challenge = challenged(&h, "get-cb", "4000000000002503").await;
    let acs = at_the_acs(&challenge, "submit", "1234").await;
    let answer = send(
        &callback,
        get(&format!("{}?{}", acs.path, acs.form()), None),
    )
    .await;
    assert_eq!(
        verified_redirect(&answer).1.get("status"),
        Some("authenticated")
    );

    let challenge = challenged(&h, "json-cb", "4000000000002503").await;
    let acs = at_the_acs(&challenge, "submit", "1234").await;
    let body = json!({"TransactionId": acs.transaction_id, "MD": acs.md}).to_string();
    let answer = send(&callback, post_raw(&acs.path, None, body)).await;
    assert_eq!(
        verified_redirect(&answer).1.get("status"),
        Some("authenticated")
    );

    let challenge = challenged(&h, "b64-cb", "4000000000002503").await;
    let acs = at_the_acs(&challenge, "submit", "1234").await;
    let encoded = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, acs.form());
    let headers = [("content-type", "application/x-www-form-urlencoded")];
    let event = apigw_v1_event("POST", &acs.path, "v1", &headers, Some(&encoded), true);
    let answer = send_event(&callback, &event).await;
    assert_eq!(
        verified_redirect(&answer).1.get("status"),
        Some("authenticated"),
        "REST v1, base64 body"
    );
    assert_eq!(h.sandbox.calls_to("authentication/validate").len(), 3);
}

#[tokio::test]
async fn a_validate_fault_leaves_the_challenge_pending_and_a_later_callback_completes_it() {
    struct Case {
        fault: Fault,
        /// The retry page's status: the fault as our own.
        status: StatusCode,
    }
    let too_slow = Fault::Latency { ms: 700 };
    let failing = Fault::Status {
        status: 500,
        retry_after_secs: None,
    };
    let cases = [
        Case {
            fault: too_slow,
            status: StatusCode::GATEWAY_TIMEOUT,
        },
        Case {
            fault: failing,
            status: StatusCode::BAD_GATEWAY,
        },
        Case {
            fault: Fault::DropConnection,
            status: StatusCode::BAD_GATEWAY,
        },
        Case {
            fault: Fault::MalformedBody,
            status: StatusCode::BAD_GATEWAY,
        },
    ];
    for Case { fault, status } in cases {
        let h = Harness::new().await;
        let callback = h.callback().await;
        let challenge = challenged(&h, "flaky-cb", "4000000000002503").await;
        let acs = at_the_acs(&challenge, "submit", "1234").await;
        h.sandbox
            .inject(FaultRule::on(VALIDATE, fault.clone()).times(1));

        let answer = send(&callback, form_post(&acs.path, acs.form())).await;
        assert_eq!(answer.status, status, "{fault:?}");
        let page = answer.text();
        assert!(
            page.contains("pending") && page.contains("Nothing was charged or declined"),
            "{page}"
        );
        assert!(
            page.contains(&format!("value=\"{}\"", acs.transaction_id)),
            "the page retries the same return"
        );
        let item = session_item(&h, "flaky-cb").await;
        assert_eq!(
            Some(item.state.as_str()),
            Some("CHALLENGE_PENDING"),
            "{fault:?}: never FAILED"
        );
        assert!(item.sealed_payment_data.is_some());
        assert!(item.claim_id.is_none());

        let retry = send(&callback, form_post(&acs.path, acs.form())).await;
        assert_eq!(
            verified_redirect(&retry).1.get("status"),
            Some("authenticated"),
            "{fault:?}"
        );
        assert_eq!(
            h.sandbox.calls_to("authentication/validate").len(),
            2,
            "{fault:?}"
        );
    }
}

#[tokio::test]
async fn a_claim_left_by_a_dead_invocation_is_taken_over_after_its_lease() {
    let h = Harness::new().await;
    let callback = h.callback().await;
    let challenge = challenged(&h, "dead-cb", "4000000000002503").await;
    let acs = at_the_acs(&challenge, "submit", "1234").await;
    // An invocation claims the session and dies before validating.
    let sessions = h.sessions();
    let now = h.clock.now_ms();
    let claim = gateway::session::Transition::ClaimValidation {
        transaction_mac: h.session_keys().transaction_macs(&acs.transaction_id)[0].clone(),
        claim_id: "died".into(),
        now_ms: now,
        lease_until_ms: now + 25_000,
    };
    assert!(matches!(
        sessions
            .apply_transition(&session_ref(MERCHANT, "dead-cb"), &claim)
            .await
            .unwrap(),
        gateway::session::Recorded::Done(_)
    ));

    h.clock.advance(Duration::from_secs(26));
    let answer = send(&callback, form_post(&acs.path, acs.form())).await;
    assert_eq!(
        verified_redirect(&answer).1.get("status"),
        Some("authenticated")
    );
    assert_eq!(
        Some(session_item(&h, "dead-cb").await.state.as_str()),
        Some("AUTHENTICATED")
    );
}

#[tokio::test]
async fn a_return_url_no_longer_allowed_is_never_redirected_to() {
    let h = Harness::new().await;
    let challenge = challenged(&h, "origin-cb", "4000000000002503").await;
    let acs = at_the_acs(&challenge, "submit", "1234").await;
    let mut registry = test_registry();
    registry["tenants"][2]["merchant"]["return_origins"] = json!(["https://other-shop.example"]);
    h.set_registry(&registry);
    let callback = h.callback().await;
    let answer = send(&callback, form_post(&acs.path, acs.form())).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert!(answer.header("location").is_none());
}

/// The upstream's validate body, for the session `reference` enrolled with `enroll`.

#[tokio::test]
async fn merchant_driven_validate_is_one_shot_too() {
    let h = Harness::new().await;
    let callback = h.callback().await;
    let challenge = challenged(&h, "api-validate", "4000000000002503").await;
    at_the_acs(&challenge, "submit", "1234").await; // completed in the browser, no return hit
    let body = validate_body(&challenge, &challenge.transaction_id);

    let answer = h.validate(Some(MERCHANT_KEY), &body).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let json = answer.json();
    assert_eq!(json["status"], "success");
    assert_eq!(
        json["data"]["transaction_info"]["type"],
        "validate_result_response"
    );
    assert_eq!(
        json["data"]["transaction_info"]["status"],
        "Authentication_successful"
    );
    assert_eq!(json["data"]["consumer_auth_info"]["eci"], "05");

    let replay = h.validate(Some(MERCHANT_KEY), &body).await;
    assert_eq!(replay.json(), json);
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_eq!(h.sandbox.calls_to("authentication/validate").len(), 1);

    // The browser's return after the merchant validated: the stored outcome, no call.
    let acs = AcsReturn {
        path: format!(
            "/v1/risk/authentication/callback/{MERCHANT}/api-validate/{}",
            h.binding("api-validate")
        ),
        transaction_id: challenge.transaction_id.clone(),
        md: "null".into(),
    };
    let browser = send(&callback, form_post(&acs.path, acs.form())).await;
    assert_eq!(
        verified_redirect(&browser).1.get("status"),
        Some("authenticated")
    );
    assert_eq!(h.sandbox.calls_to("authentication/validate").len(), 1);
}

#[tokio::test]
async fn merchant_validate_refusals() {
    let h = Harness::new().await;
    let _callback = h.callback().await;
    let challenge = challenged(&h, "api-refusals", "4000000000002503").await;
    at_the_acs(&challenge, "submit", "1234").await;

    let wrong = h
        .validate(
            Some(MERCHANT_KEY),
            &validate_body(&challenge, "BBBBBBBBBBBBBBBBBBBB"),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        wrong.json()["error"]["field"],
        "authentication.transaction_id"
    );

    let other = h
        .validate(
            Some(OTHER_MERCHANT_KEY),
            &validate_body(&challenge, &challenge.transaction_id),
        )
        .await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
    assert_eq!(other.json()["error"]["reason"], "SESSION_NOT_FOUND");

    let mut bad = validate_body(&challenge, &challenge.transaction_id);
    bad["card"]["number"] = json!("4000000000002504");
    let answer = h.validate(Some(MERCHANT_KEY), &bad).await;
    assert_eq!(answer.json()["error"]["field"], "card.number");
    let mut bad = validate_body(&challenge, &challenge.transaction_id);
    bad["transaction_info"]["type"] = json!("check_enroll");
    let answer = h.validate(Some(MERCHANT_KEY), &bad).await;
    assert_eq!(answer.json()["error"]["field"], "transaction_info.type");
    assert_eq!(
        h.validate(None, &bad).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert!(h.sandbox.calls_to("authentication/validate").is_empty());

    // A frictionless session has nothing to validate.
    let merchant = h.merchant().await;
    let body = prepared_enroll(&h, &merchant, "api-frictionless", "4000000000002701").await;
    assert_eq!(
        send(&merchant, post_json(ENROLL, Some(MERCHANT_KEY), &body))
            .await
            .status,
        StatusCode::OK
    );
    let frictionless = validate_body_for("api-frictionless", &body, "CCCCCCCCCCCCCCCCCCCC");
    let answer = h.validate(Some(MERCHANT_KEY), &frictionless).await;
    assert_eq!(answer.status, StatusCode::CONFLICT);
    assert_eq!(answer.json()["error"]["reason"], "NO_CHALLENGE_PENDING");

    h.clock.advance(Duration::from_secs(601));
    let late = h
        .validate(
            Some(MERCHANT_KEY),
            &validate_body(&challenge, &challenge.transaction_id),
        )
        .await;
    assert_eq!(late.status, StatusCode::CONFLICT);
    assert_eq!(late.json()["error"]["reason"], "AUTHENTICATION_EXPIRED");
    assert!(h.sandbox.calls_to("authentication/validate").is_empty());
}

/// A store whose first read of one key answers a snapshot taken earlier: a reader that
/// read just before another request's write.
struct StaleFirstRead {
    inner: gateway::store::SharedStore,
    stale: std::sync::Mutex<Option<(String, gateway::store::Item)>>,
}

#[async_trait::async_trait]
impl gateway::store::ItemStore for StaleFirstRead {
    async fn write(
        &self,
        key: &str,
        mutation: &gateway::store::Mutation,
    ) -> Result<gateway::store::Written, gateway::store::StoreError> {
        self.inner.write(key, mutation).await
    }

    async fn query(
        &self,
        query: &gateway::store::Query,
    ) -> Result<gateway::store::Page, gateway::store::StoreError> {
        self.inner.query(query).await
    }

    async fn read_many(
        &self,
        keys: &[String],
    ) -> Result<std::collections::HashMap<String, gateway::store::Item>, gateway::store::StoreError>
    {
        self.inner.read_many(keys).await
    }

    async fn write_together(
        &self,
        writes: &[(String, gateway::store::Mutation)],
    ) -> Result<bool, gateway::store::StoreError> {
        self.inner.write_together(writes).await
    }

    async fn read(
        &self,
        key: &str,
    ) -> Result<Option<gateway::store::Item>, gateway::store::StoreError> {
        let snapshot = {
            let mut stale = self.stale.lock().unwrap();
            if stale.as_ref().is_some_and(|(k, _)| k == key) {
                stale.take()
            } else {
                None
            }
        };
        match snapshot {
            Some((_, item)) => Ok(Some(item)),
            None => self.inner.read(key).await,
        }
    }
}

#[tokio::test]
async fn the_status_route_never_reports_expired_for_a_session_decided_meanwhile() {
    let h = Harness::new().await;
    let challenge = challenged(&h, "decided-late", "4000000000002503").await;
    let key = session_ref(MERCHANT, "decided-late").key();
    let pending = h.item(&key).await.unwrap();
    // The cardholder completes the challenge just before the deadline...
    let acs = at_the_acs(&challenge, "submit", "1234").await;
    let answer = send(&h.callback().await, form_post(&acs.path, acs.form())).await;
    assert_eq!(
        verified_redirect(&answer).1.get("status"),
        Some("authenticated")
    );
    // ...while a status read that saw it still pending acts after the deadline.
    h.clock.advance(Duration::from_secs(601));
    let platform = gateway::platform::Platform {
        store: std::sync::Arc::new(StaleFirstRead {
            inner: h.store.clone(),
            stale: std::sync::Mutex::new(Some((key.clone(), pending))),
        }),
        ..h.platform()
    };
    let config = check_enroll::CheckEnrollConfig::from_env(&h.config_env()).unwrap();
    let merchant = check_enroll::build(&config, &platform).await.unwrap();
    let view = status(&merchant, "decided-late", MERCHANT_KEY).await;
    assert_eq!(
        view.json()["data"]["state"],
        "AUTHENTICATED",
        "{}",
        view.text()
    );
    assert_eq!(
        string_attr(&h.item(&key).await.unwrap(), "state").as_deref(),
        Some("AUTHENTICATED"),
        "the expiry write was refused: the decision stands"
    );
}

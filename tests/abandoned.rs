//! Abandoned challenges: the merchant cancels one, or the sweeper expires it past its
//! deadline. Either way one conditional write ends it, its card data goes, and a
//! cardholder who comes back later is sent to the merchant with the signed outcome.

use std::time::Duration;

use gateway::session::sweeper::{Sweeper, Swept};
use gateway_tests::*;
use http::StatusCode;
use serde_json::json;

fn cancel_path(reference: &str) -> String {
    format!("/v1/risk/authentication/{reference}/cancel")
}

fn sweeper(h: &Harness) -> Sweeper {
    Sweeper::new(h.sessions(), h.store.clone())
}

#[tokio::test]
async fn a_merchant_cancels_a_pending_challenge_once_and_the_cardholder_comes_back_to_canceled() {
    let h = Harness::new().await;
    let challenge = challenged_as(
        &h,
        MERCHANT_KEY,
        MERCHANT_ORIGIN,
        "cancel-1",
        "4000000000002503",
    )
    .await;
    let acs = at_the_acs(&challenge, "submit", "1234").await;
    let merchant = h.merchant().await;

    let canceled = send(
        &merchant,
        post_json(&cancel_path("cancel-1"), Some(MERCHANT_KEY), &json!({})),
    )
    .await;
    assert_eq!(canceled.status, StatusCode::OK, "{}", canceled.text());
    assert_eq!(canceled.json()["data"]["state"], "CANCELED");
    let item = session_item(&h, "cancel-1").await;
    assert_eq!(state_of(&item), "CANCELED");
    for gone in [
        gateway::session::attr::SEALED_PAYMENT_DATA,
        gateway::store::index::attr::SWEEP_PK,
        gateway::store::index::attr::SWEEP_SK,
        gateway::session::attr::CLAIM_ID,
    ] {
        assert!(!item.has(gone), "{gone} removed");
    }

    // Idempotent: the same answer, marked as a replay, nothing written.
    let again = send(
        &merchant,
        post_json(&cancel_path("cancel-1"), Some(MERCHANT_KEY), &json!({})),
    )
    .await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.json()["data"]["state"], "CANCELED");
    assert_eq!(
        session_item(&h, "cancel-1").await.mutation_id.clone(),
        item.mutation_id.clone()
    );

    // The cardholder finishes at the bank anyway: back to the merchant, signed, canceled.
    let callback = h.callback().await;
    let back = send(&callback, form_post(&acs.path, acs.form())).await;
    assert_eq!(verified_redirect(&back).1.get("status"), Some("canceled"));
    let validate = h
        .validate(
            Some(MERCHANT_KEY),
            &validate_body(&challenge, &challenge.transaction_id),
        )
        .await;
    assert_eq!(validate.status, StatusCode::CONFLICT);
    assert_eq!(
        validate.json()["error"]["reason"],
        "AUTHENTICATION_CANCELED"
    );
    assert!(
        h.sandbox.calls_to("authentication/validate").is_empty(),
        "nothing validated"
    );
}

#[tokio::test]
async fn a_merchant_cannot_cancel_another_merchants_challenge() {
    let h = Harness::new().await;
    challenged_as(
        &h,
        MERCHANT_KEY,
        MERCHANT_ORIGIN,
        "cancel-theirs",
        "4000000000002503",
    )
    .await;
    let before = session_item(&h, "cancel-theirs").await;
    let merchant = h.merchant().await;
    let attack = send(
        &merchant,
        post_json(
            &cancel_path("cancel-theirs"),
            Some(OTHER_MERCHANT_KEY),
            &json!({}),
        ),
    )
    .await;
    let nothing = send(
        &merchant,
        post_json(
            &cancel_path("never-seen"),
            Some(OTHER_MERCHANT_KEY),
            &json!({}),
        ),
    )
    .await;
    assert_eq!(
        (attack.status, attack.json()),
        (nothing.status, nothing.json())
    );
    assert_eq!(attack.json()["error"]["reason"], "SESSION_NOT_FOUND");
    assert_eq!(
        session_item(&h, "cancel-theirs").await,
        before,
        "nothing written"
    );
}

#[tokio::test]
async fn a_decided_session_cannot_be_canceled() {
    let h = Harness::new().await;
    let challenge = challenged_as(
        &h,
        MERCHANT_KEY,
        MERCHANT_ORIGIN,
        "cancel-late",
        "4000000000002503",
    )
    .await;
    let acs = at_the_acs(&challenge, "submit", "1234").await;
    send(&h.callback().await, form_post(&acs.path, acs.form())).await;
    let merchant = h.merchant().await;
    let late = send(
        &merchant,
        post_json(&cancel_path("cancel-late"), Some(MERCHANT_KEY), &json!({})),
    )
    .await;
    assert_eq!(late.status, StatusCode::CONFLICT);
    assert_eq!(late.json()["error"]["reason"], "NO_CHALLENGE_PENDING");
    assert_eq!(
        state_of(&session_item(&h, "cancel-late").await),
        "AUTHENTICATED"
    );
}

#[tokio::test]
async fn the_sweeper_expires_an_abandoned_challenge_after_its_deadline_and_drops_its_card_data() {
    let h = Harness::new().await;
    let challenge = challenged_as(
        &h,
        MERCHANT_KEY,
        MERCHANT_ORIGIN,
        "swept-1",
        "4000000000002503",
    )
    .await;
    challenged_as(
        &h,
        MERCHANT_KEY,
        MERCHANT_ORIGIN,
        "not-yet",
        "4000000000002503",
    )
    .await;
    let sweeper = sweeper(&h);
    assert_eq!(sweeper.sweep().await.unwrap().expired, 0, "nothing due yet");

    // Past the deadline (600 s), within one sweeper period.
    h.clock.advance(Duration::from_secs(601));
    // A challenge made now is not due.
    challenged_as(
        &h,
        MERCHANT_KEY,
        MERCHANT_ORIGIN,
        "fresh",
        "4000000000002503",
    )
    .await;
    let swept: Swept = sweeper.sweep().await.unwrap();
    assert_eq!(swept.expired, 2, "{swept:?}");
    for reference in ["swept-1", "not-yet"] {
        let item = session_item(&h, reference).await;
        assert_eq!(state_of(&item), "EXPIRED");
        for gone in [
            gateway::session::attr::SEALED_PAYMENT_DATA,
            gateway::store::index::attr::SWEEP_PK,
            gateway::store::index::attr::SWEEP_SK,
        ] {
            assert!(!item.has(gone), "{reference}: {gone} removed");
        }
    }
    assert_eq!(
        state_of(&session_item(&h, "fresh").await),
        "CHALLENGE_PENDING"
    );
    assert_eq!(sweeper.sweep().await.unwrap().expired, 0, "each once");

    // The cardholder comes back late: to the merchant, signed, expired.
    let acs = at_the_acs(&challenge, "submit", "1234").await;
    let back = send(&h.callback().await, form_post(&acs.path, acs.form())).await;
    assert_eq!(verified_redirect(&back).1.get("status"), Some("expired"));
    let view = status(&h.merchant().await, "swept-1", MERCHANT_KEY).await;
    assert_eq!(view.json()["data"]["state"], "EXPIRED");
}

#[tokio::test]
async fn cancel_racing_the_callback_ends_in_exactly_one_terminal_state() {
    for round in 0..3 {
        let h = Harness::new().await;
        let reference = format!("race-{round}");
        let challenge = challenged_as(
            &h,
            MERCHANT_KEY,
            MERCHANT_ORIGIN,
            &reference,
            "4000000000002503",
        )
        .await;
        let acs = at_the_acs(&challenge, "submit", "1234").await;
        let (merchant, callback) = (h.merchant().await, h.callback().await);
        let returns = (0..5).map(|_| send(&callback, form_post(&acs.path, acs.form())));
        let cancels = (0..5).map(|_| {
            send(
                &merchant,
                post_json(&cancel_path(&reference), Some(MERCHANT_KEY), &json!({})),
            )
        });
        let (returned, canceled) = tokio::join!(
            futures_util::future::join_all(returns),
            futures_util::future::join_all(cancels)
        );
        let state = state_of(&session_item(&h, &reference).await).to_owned();
        assert!(state == "AUTHENTICATED" || state == "CANCELED", "{state}");
        // Every browser lands on the one outcome; cancels agree with it.
        let expected = if state == "CANCELED" {
            "canceled"
        } else {
            "authenticated"
        };
        for answer in &returned {
            assert_eq!(verified_redirect(answer).1.get("status"), Some(expected));
        }
        for answer in &canceled {
            match state.as_str() {
                "CANCELED" => assert_eq!(answer.status, StatusCode::OK),
                _ => assert!(answer.status == StatusCode::CONFLICT, "{}", answer.text()),
            }
        }
        let validations = h.sandbox.calls_to("authentication/validate").len();
        assert!(validations <= 1, "validated at most once: {validations}");
    }
}

#[tokio::test]
async fn the_sweeper_racing_a_late_cancel_ends_in_exactly_one_terminal_state() {
    let h = Harness::new().await;
    challenged_as(
        &h,
        MERCHANT_KEY,
        MERCHANT_ORIGIN,
        "race-sweep",
        "4000000000002503",
    )
    .await;
    h.clock.advance(Duration::from_secs(601));
    let merchant = h.merchant().await;
    let sweeper = sweeper(&h);
    let cancels = (0..5).map(|_| {
        send(
            &merchant,
            post_json(&cancel_path("race-sweep"), Some(MERCHANT_KEY), &json!({})),
        )
    });
    let (swept, canceled) = tokio::join!(sweeper.sweep(), futures_util::future::join_all(cancels));
    let state = state_of(&session_item(&h, "race-sweep").await).to_owned();
    assert!(state == "EXPIRED" || state == "CANCELED", "{state}");
    assert_eq!(swept.unwrap().expired == 1, state == "EXPIRED");
    let ok = canceled
        .iter()
        .filter(|a| a.status == StatusCode::OK)
        .count();
    assert_eq!(ok > 0, state == "CANCELED");
}

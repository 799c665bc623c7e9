//! Events and webhooks: every terminal outcome becomes exactly one event, derived from
//! the table's change stream (the memory store's log, or moto's DynamoDB Streams), and is
//! pushed to the tenant's endpoint signed as Standard Webhooks says — retried on
//! schedule, then dead-lettered — whatever the browser did.

use std::time::Duration;

use gateway::events::DeliveryStatus;
use gateway_tests::events::*;
use gateway_tests::*;
use http::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn an_outcome_is_pushed_as_one_signed_webhook_retried_until_the_endpoint_takes_it() {
    let n = Notifying::start(2, "5,300").await;
    let merchant = n.h.merchant().await;
    let body = prepared_enroll(&n.h, &merchant, "hook-1", "4000000000002701").await;
    let answer = send(&merchant, post_json(ENROLL, Some(MERCHANT_KEY), &body)).await;
    assert_eq!(answer.status, StatusCode::OK);

    n.run_for(Duration::from_secs(400)).await;
    let received = n.receiver.received();
    assert_eq!(
        received.len(),
        3,
        "two failures, then delivered: {received:?}"
    );
    let id = received[0].headers["webhook-id"].clone();
    assert!(id.starts_with("evt_"));
    for delivery in &received {
        assert_eq!(delivery.headers["webhook-id"], id, "one id across retries");
        assert_eq!(delivery.body, received[0].body, "the same body");
        assert_eq!(delivery.headers["webhook-key-id"], "wh-1");
        assert_eq!(delivery.headers["content-type"], "application/json");
    }
    let event: Value = serde_json::from_str(&received[2].body).unwrap();
    assert_eq!(event["type"], "authentication.succeeded");
    assert_eq!(event["id"], id);
    assert_eq!(event["tenant"], MERCHANT);
    assert_eq!(event["data"]["reference_code"], "hook-1");
    assert_eq!(event["data"]["flow"], "frictionless");
    assert_eq!(event["data"]["authentication"]["eci"], "05");
    assert_eq!(event["data"]["authentication"]["liability_shift"], true);
    assert_eq!(event["data"]["card"]["last4"], "2701");
    // (The first attempt's: the later ones are stamped with the test's moved clock,
    // minutes ahead of the library's.)
    if let Some(accepted) = library_accepts(&received[0], WEBHOOK_SECRET) {
        assert!(accepted, "the reference library verifies it");
    }

    let events = n.events_of(MERCHANT).await;
    assert_eq!(events.len(), 1, "one event");
    let stored = &events[0];
    assert_eq!(stored.status, DeliveryStatus::Delivered);
    let attempts = &stored.attempts.0;
    let statuses: Vec<Option<u16>> = attempts.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [Some(500), Some(500), Some(200)]);
    assert!(attempts.iter().all(|a| a.at > 0));

    // The stream delivering the same changes again records and sends nothing more.
    assert_eq!(n.notice_changes().await, 0);
    n.run_for(Duration::from_secs(10)).await;
    assert_eq!(n.receiver.received().len(), 3);
}

#[tokio::test]
async fn the_same_change_seen_twice_makes_one_event() {
    let n = Notifying::start(0, "5").await;
    let merchant = n.h.merchant().await;
    let body = prepared_enroll(&n.h, &merchant, "twice-1", "4000000000002925").await;
    send(&merchant, post_json(ENROLL, Some(MERCHANT_KEY), &body)).await;
    let changes = n.h.feed.poll().await.unwrap();
    for _ in 0..3 {
        for change in &changes {
            n.app.on_change(change).await.unwrap();
        }
    }
    let events = n.events_of(MERCHANT).await;
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0].event_type,
        gateway::events::EventType::AuthenticationFailed
    );
}

#[tokio::test]
async fn a_receiver_that_never_succeeds_gets_the_schedules_attempts_then_its_event_is_failed() {
    let n = Notifying::start(0, "1,1").await;
    n.receiver.fail_always();
    let merchant = n.h.merchant().await;
    let body = prepared_enroll(&n.h, &merchant, "dead-1", "4000000000002701").await;
    send(&merchant, post_json(ENROLL, Some(MERCHANT_KEY), &body)).await;
    n.run_for(Duration::from_secs(10)).await;
    assert_eq!(
        n.receiver.received().len(),
        3,
        "the schedule's three attempts"
    );
    let events = n.events_of(MERCHANT).await;
    assert_eq!(events[0].status, DeliveryStatus::Failed);
    assert_eq!(events[0].scheduled_attempts, 3);
    assert_eq!(n.queue.waiting(), 0, "the last attempt ended its message");
    assert!(
        n.queue.dead_letters().is_empty(),
        "an attempt's failure is no dead letter"
    );
}

#[tokio::test]
async fn the_reference_library_refuses_a_delivery_with_the_wrong_key_or_an_old_timestamp() {
    let n = Notifying::start(0, "5").await;
    let merchant = n.h.merchant().await;
    let body = prepared_enroll(&n.h, &merchant, "lib-1", "4000000000002701").await;
    send(&merchant, post_json(ENROLL, Some(MERCHANT_KEY), &body)).await;
    n.run_for(Duration::from_secs(2)).await;
    let delivery = n.receiver.received().pop().expect("delivered");
    let Some(accepted) = library_accepts(&delivery, WEBHOOK_SECRET) else {
        return;
    };
    assert!(accepted);
    let wrong = "whsec_d3Jvbmctd2ViaG9vay1zZWNyZXQtZm9yLXRlc3RzLTAx";
    assert_eq!(
        library_accepts(&delivery, wrong),
        Some(false),
        "another key"
    );
    // Signed correctly, but ten minutes ago: outside the library's tolerance.
    let old = chrono::Utc::now().timestamp() - 600;
    let secret = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        WEBHOOK_SECRET.trim_start_matches("whsec_"),
    )
    .unwrap();
    let id = delivery.headers["webhook-id"].clone();
    let signed =
        gateway::events::webhooks::sign(&id, old, &delivery.body, &[("wh-1".into(), secret)]);
    let mut stale = delivery.clone();
    stale
        .headers
        .insert("webhook-timestamp".into(), old.to_string());
    stale
        .headers
        .insert("webhook-signature".into(), signed.signature);
    assert_eq!(
        library_accepts(&stale, WEBHOOK_SECRET),
        Some(false),
        "an old timestamp"
    );
}

#[tokio::test]
async fn no_card_data_is_in_any_event() {
    let n = Notifying::start(0, "5").await;
    let merchant = n.h.merchant().await;
    let frictionless = prepared_enroll(&n.h, &merchant, "clean-1", "4000000000002701").await;
    send(
        &merchant,
        post_json(ENROLL, Some(MERCHANT_KEY), &frictionless),
    )
    .await;
    let challenge = challenged_as(
        &n.h,
        MERCHANT_KEY,
        MERCHANT_ORIGIN,
        "clean-2",
        "4000000000002503",
    )
    .await;
    let acs = at_the_acs(&challenge, "submit", "1234").await;
    send(&n.h.callback().await, form_post(&acs.path, acs.form())).await;
    n.run_for(Duration::from_secs(2)).await;
    let received = n.receiver.received();
    assert_eq!(received.len(), 2, "{received:?}");
    for delivery in &received {
        // The card numbers, their BIN, the expiry as sent, the CAVV's name. (Not bare
        // short digit runs: the events' random ids hold "123" or "2030" by chance.)
        for secret in [
            "4000000000002701",
            "4000000000002503",
            "400000",
            EXPIRY,
            "\"expiration_date\"",
            "cavv",
        ] {
            assert!(
                !delivery.body.contains(secret),
                "{secret} in {}",
                delivery.body
            );
        }
    }
    for event in n.events_of(MERCHANT).await {
        let stored = format!("{event:?}");
        assert!(!stored.contains("4000000000002503") && !stored.contains("4000000000002701"));
    }
}

#[tokio::test]
async fn callback_sweeper_and_cancel_racing_on_one_session_make_exactly_one_event() {
    for round in 0..3 {
        let n = Notifying::start(0, "5").await;
        let reference = format!("race-event-{round}");
        let challenge = challenged_as(
            &n.h,
            MERCHANT_KEY,
            MERCHANT_ORIGIN,
            &reference,
            "4000000000002503",
        )
        .await;
        let acs = at_the_acs(&challenge, "submit", "1234").await;
        let (merchant, callback) = (n.h.merchant().await, n.h.callback().await);
        // Right at the deadline: the callback may still claim, the sweeper may expire.
        n.h.clock
            .advance(Duration::from_millis(600_000 - 5 + round * 5));
        let cancel_path = format!("/v1/risk/authentication/{reference}/cancel");
        let returns = (0..3).map(|_| send(&callback, form_post(&acs.path, acs.form())));
        let cancels = (0..3).map(|_| {
            send(
                &merchant,
                post_json(&cancel_path, Some(MERCHANT_KEY), &json!({})),
            )
        });
        let sweeps = (0..2).map(|_| n.app.sweep());
        tokio::join!(
            futures_util::future::join_all(returns),
            futures_util::future::join_all(cancels),
            futures_util::future::join_all(sweeps),
        );
        n.run_for(Duration::from_secs(2)).await;
        let events = n.events_of(MERCHANT).await;
        assert_eq!(
            events.len(),
            1,
            "round {round}: exactly one event: {events:?}"
        );
        let received = n.receiver.received();
        assert_eq!(received.len(), 1);
        let state = state_of(&session_item(&n.h, &reference).await);
        let expected = match state.as_str() {
            "AUTHENTICATED" => "authentication.succeeded",
            "CANCELED" => "authentication.canceled",
            "EXPIRED" => "authentication.expired",
            other => panic!("{other}"),
        };
        assert_eq!(events[0].event_type.as_str(), expected);
    }
}

/// The notify function on moto's SQS (a delivery queue and its dead-letter queue, the
/// redrive policy after `max_receive_count` receives), shop-a's webhook on `receiver`.
struct OnSqs {
    h: Harness,
    sqs: gateway_loopback::queue::SqsDeliveries,
    app: notify::NotifyApp,
}

impl OnSqs {
    async fn start(receiver: &Receiver, schedule: &str, max_receive_count: u32) -> Option<Self> {
        let Some(endpoint) = dynamodb_endpoint() else {
            eprintln!("skipped: needs moto_server (scripts/test.sh starts it)");
            return None;
        };
        let name = format!("deliveries-{}", uuid::Uuid::new_v4());
        let sqs = gateway_loopback::queue::sqs_deliveries(&endpoint, &name, max_receive_count)
            .await
            .unwrap();
        let h = Harness::with_env(&[
            ("ALLOW_INSECURE_LOOPBACK_URLS", "true"),
            ("DELIVERY_QUEUE_URL", sqs.queue.url()),
            ("DELIVERY_DEAD_LETTER_QUEUE_ARN", &sqs.dead_letter_arn),
            ("WEBHOOK_RETRY_SCHEDULE_SECS", schedule),
        ])
        .await;
        h.set_registry(&registry_with_webhook(receiver));
        let config = notify::NotifyConfig::from_env(&h.config_env()).unwrap();
        let app = notify::build(&config, &h.platform(), sqs.queue.clone())
            .await
            .unwrap();
        Some(Self { h, sqs, app })
    }

    /// A frictionless authentication of shop-a's, its event recorded and queued.
    async fn one_event(&self, reference: &str) {
        let merchant = self.h.merchant().await;
        let body = prepared_enroll(&self.h, &merchant, reference, "4000000000002701").await;
        send(&merchant, post_json(ENROLL, Some(MERCHANT_KEY), &body)).await;
        for change in self.h.feed.poll().await.unwrap() {
            self.app.on_change(&change).await.unwrap();
        }
    }

    fn client(&self) -> &aws_sdk_sqs::Client {
        self.sqs.queue.client()
    }

    async fn visible_in(&self, url: &str) -> usize {
        let attributes = self
            .client()
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await
            .unwrap();
        attributes
            .attributes
            .and_then(|mut a| {
                a.remove(&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
            })
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }
}

#[tokio::test]
async fn with_sqs_a_failing_endpoint_gets_its_scheduled_attempts_counted_in_the_event_then_failed()
{
    let receiver = Receiver::start(0).await;
    receiver.fail_always();
    // Three attempts in all (schedule "0,0"); receives to spare before any dead letter.
    let Some(on) = OnSqs::start(&receiver, "0,0", 8).await else {
        return;
    };
    on.one_event("sqs-1").await;

    // The message is in the tenant's message group (an SQS fair queue's).
    let peek = on
        .client()
        .receive_message()
        .queue_url(on.sqs.queue.url())
        .message_system_attribute_names(
            aws_sdk_sqs::types::MessageSystemAttributeName::MessageGroupId,
        )
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    let group = peek[0].attributes.as_ref().and_then(|a| {
        a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::MessageGroupId)
            .cloned()
    });
    assert_eq!(group.as_deref(), Some(MERCHANT));
    // That receive made no attempt (as a throttled invocation would not): it costs none.
    on.client()
        .change_message_visibility()
        .queue_url(on.sqs.queue.url())
        .receipt_handle(peek[0].receipt_handle().unwrap())
        .visibility_timeout(0)
        .send()
        .await
        .unwrap();

    for attempt in 1..=3 {
        let batch = gateway_loopback::background::deliver_sqs(&on.app, &on.sqs).await;
        assert_eq!(batch, 1, "attempt {attempt}: the failed message came back");
    }
    let after = gateway_loopback::background::deliver_sqs(&on.app, &on.sqs).await;
    assert_eq!(after, 0, "the last attempt ended it");
    assert_eq!(
        receiver.received().len(),
        3,
        "three attempts, not four receives"
    );
    let events = events_of(&on.h, MERCHANT).await;
    assert_eq!(events[0].status, DeliveryStatus::Failed);
    assert_eq!(events[0].scheduled_attempts, 3);
    assert_eq!(
        on.visible_in(on.sqs.dead_letters.url()).await,
        0,
        "no dead letter"
    );
}

#[tokio::test]
async fn with_sqs_a_message_never_handled_goes_to_the_dead_letter_queue_whose_consumer_fails_its_event()
 {
    let receiver = Receiver::start(0).await;
    let Some(on) = OnSqs::start(&receiver, "0,0", 2).await else {
        return;
    };
    on.one_event("sqs-dead").await;
    // Two receives that never reach the function (throttled, or it crashed): the
    // redrive policy moves the message on the next.
    for _ in 0..2 {
        let received = on
            .client()
            .receive_message()
            .queue_url(on.sqs.queue.url())
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default();
        assert_eq!(received.len(), 1);
        on.client()
            .change_message_visibility()
            .queue_url(on.sqs.queue.url())
            .receipt_handle(received[0].receipt_handle().unwrap())
            .visibility_timeout(0)
            .send()
            .await
            .unwrap();
    }
    // This round's receive dead-letters it; the dead-letter queue's consumer marks the
    // event failed (the receiver never saw it).
    gateway_loopback::background::deliver_sqs(&on.app, &on.sqs).await;
    gateway_loopback::background::deliver_sqs(&on.app, &on.sqs).await;
    assert!(receiver.received().is_empty());
    let events = events_of(&on.h, MERCHANT).await;
    assert_eq!(events[0].status, DeliveryStatus::Failed);
    assert_eq!(events[0].attempt_count, 0);
    assert_eq!(
        on.visible_in(on.sqs.dead_letters.url()).await,
        0,
        "consumed"
    );
}

/// shop-a's three frictionless authentications and shop-b's one, their events delivered.
async fn three_of_ours_and_one_of_theirs() -> (Notifying, axum::Router) {
    let n = Notifying::start(0, "5").await;
    let merchant = n.api().await;
    for reference in ["list-1", "list-2", "list-3"] {
        n.frictionless(&merchant, MERCHANT_KEY, reference).await;
    }
    n.frictionless(&merchant, OTHER_MERCHANT_KEY, "theirs-1")
        .await;
    n.run_for(Duration::from_secs(2)).await;
    (n, merchant)
}

#[tokio::test]
async fn a_tenant_lists_its_own_events_newest_first_and_pages_through_them() {
    let (_n, merchant) = three_of_ours_and_one_of_theirs().await;

    let page = send(&merchant, get("/v1/events?limit=2", Some(MERCHANT_KEY))).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    let data = page.json()["data"].clone();
    let references: Vec<&str> = data["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["data"]["reference_code"].as_str().unwrap())
        .collect();
    assert_eq!(references, ["list-3", "list-2"], "newest first");
    assert_eq!(data["has_more"], true);
    let first = &data["events"][0];
    assert_eq!(first["type"], "authentication.succeeded");
    assert_eq!(first["delivery"]["status"], "delivered");
    assert_eq!(first["delivery"]["attempt_count"], 1);
    assert_eq!(first["delivery"]["attempts"][0]["status"], 200);

    let after = data["next_after"].as_str().unwrap();
    let rest = send(
        &merchant,
        get(
            &format!("/v1/events?limit=2&after={after}"),
            Some(MERCHANT_KEY),
        ),
    )
    .await;
    let rest = rest.json()["data"].clone();
    assert_eq!(rest["events"].as_array().unwrap().len(), 1);
    assert_eq!(rest["events"][0]["data"]["reference_code"], "list-1");
    assert_eq!(rest["has_more"], false);
}

#[tokio::test]
async fn another_tenants_events_event_ids_and_cursors_show_a_tenant_only_its_own() {
    let (_n, merchant) = three_of_ours_and_one_of_theirs().await;
    let page = send(&merchant, get("/v1/events?limit=2", Some(MERCHANT_KEY))).await;
    let data = page.json()["data"].clone();
    let first = &data["events"][0];
    let after = data["next_after"].as_str().unwrap();

    // Another merchant sees only its own; a filter by type; a bad type named.
    let theirs = send(&merchant, get("/v1/events", Some(OTHER_MERCHANT_KEY))).await;
    let theirs = theirs.json()["data"]["events"].clone();
    assert_eq!(theirs.as_array().unwrap().len(), 1);
    assert_eq!(theirs[0]["data"]["reference_code"], "theirs-1");
    let none = send(
        &merchant,
        get("/v1/events?type=authentication.failed", Some(MERCHANT_KEY)),
    )
    .await;
    assert_eq!(none.json()["data"]["events"], json!([]));
    let bad = send(
        &merchant,
        get("/v1/events?type=payment.made", Some(MERCHANT_KEY)),
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.json()["error"]["field"], "type");
    // Paging from another tenant's event is refused like an unknown one.
    let their_event = first["id"].as_str().unwrap();
    let cross = send(
        &merchant,
        get(
            &format!("/v1/events?after={their_event}"),
            Some(OTHER_MERCHANT_KEY),
        ),
    )
    .await;
    let unknown = send(
        &merchant,
        get("/v1/events?after=evt_0000", Some(OTHER_MERCHANT_KEY)),
    )
    .await;
    assert_eq!(
        (cross.status, cross.json()),
        (unknown.status, unknown.json())
    );
    assert_eq!(cross.status, StatusCode::BAD_REQUEST);
    assert_eq!(cross.json()["error"]["field"], "after");
    // A cursor is a place in a listing, not a record: from another tenant's cursor a
    // listing reads the caller's own partitions only.
    let from_their_cursor = send(
        &merchant,
        get(
            &format!("/v1/events?after={after}"),
            Some(OTHER_MERCHANT_KEY),
        ),
    )
    .await;
    assert_eq!(from_their_cursor.status, StatusCode::OK);
    for event in from_their_cursor.json()["data"]["events"]
        .as_array()
        .unwrap()
    {
        assert_eq!(event["data"]["reference_code"], "theirs-1");
    }
}

#[tokio::test]
async fn a_redelivery_sends_the_same_event_again_and_another_tenant_cannot_ask_for_it() {
    let n = Notifying::start(0, "5").await;
    let merchant = n.api().await;
    n.frictionless(&merchant, MERCHANT_KEY, "again-1").await;
    n.run_for(Duration::from_secs(2)).await;
    assert_eq!(n.receiver.received().len(), 1);
    let id = n.receiver.received()[0].headers["webhook-id"].clone();

    let path = format!("/v1/events/{id}/redeliver");
    let attack = send(
        &merchant,
        post_json(&path, Some(OTHER_MERCHANT_KEY), &json!({})),
    )
    .await;
    let unknown = send(
        &merchant,
        post_json(
            "/v1/events/evt_0000/redeliver",
            Some(OTHER_MERCHANT_KEY),
            &json!({}),
        ),
    )
    .await;
    assert_eq!(
        (attack.status, attack.json()),
        (unknown.status, unknown.json())
    );
    assert_eq!(attack.json()["error"]["reason"], "EVENT_NOT_FOUND");
    assert_eq!(n.queue.waiting(), 0, "nothing queued for the attacker");

    let asked = send(&merchant, post_json(&path, Some(MERCHANT_KEY), &json!({}))).await;
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{}", asked.text());
    n.run_for(Duration::from_secs(2)).await;
    let received = n.receiver.received();
    assert_eq!(received.len(), 2);
    assert_eq!(
        received[1].headers["webhook-id"], id,
        "the same id: receivers de-duplicate"
    );
    assert_eq!(received[1].body, received[0].body);
    let listed = send(&merchant, get("/v1/events", Some(MERCHANT_KEY))).await;
    assert_eq!(
        listed.json()["data"]["events"][0]["delivery"]["attempt_count"],
        2
    );
}

#[tokio::test]
async fn a_card_program_hears_of_its_enrollments_unenrollments_and_contact_updates() {
    let n = Notifying::start(0, "5").await;
    use sandbox::state::{ACTIVE_CARD_ID, CARDHOLDER_ID, SECOND_CARDHOLDER_ID};
    let steps = [
        (
            "3ds/v2/enroll",
            json!({"card_id": ACTIVE_CARD_ID, "cardholder_id": CARDHOLDER_ID}),
        ),
        (
            "3ds/v2/update",
            json!({"card_id": ACTIVE_CARD_ID, "cardholder_id": SECOND_CARDHOLDER_ID}),
        ),
        ("cardholders/v2/update", emma_contact("2125559999")),
        ("3ds/v2/unenroll", json!({"card_id": ACTIVE_CARD_ID})),
    ];
    for (path, body) in steps {
        let answer = n.h.issuer_post(ISSUER_KEY, path, &body).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}: {}", answer.text());
        n.h.clock.advance(Duration::from_millis(10));
    }
    n.run_for(Duration::from_secs(2)).await;

    let merchant = n.api().await;
    let listed = send(&merchant, get("/v1/events", Some(ISSUER_KEY))).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text());
    let events = listed.json()["data"]["events"].clone();
    let types: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "card.unenrolled",
            "cardholder.updated",
            "card.enrollment_updated",
            "card.enrolled"
        ]
    );
    assert_eq!(
        events[0]["data"]["previous_cardholder_id"],
        sandbox::state::SECOND_CARDHOLDER_ID
    );
    assert_eq!(
        events[2]["data"]["previous_cardholder_id"],
        sandbox::state::CARDHOLDER_ID
    );
    assert_eq!(events[3]["data"]["card_id"], sandbox::state::ACTIVE_CARD_ID);
    assert_eq!(
        events[0]["delivery"]["status"], "not_sent",
        "bank-x has no webhook"
    );
    let text = listed.text();
    for secret in ["Han", "2125559999", "emma.johnson"] {
        assert!(
            !text.contains(secret),
            "{secret}: no contact details in events"
        );
    }
    // The merchant's list does not show them.
    let shop = send(&merchant, get("/v1/events", Some(MERCHANT_KEY))).await;
    assert_eq!(shop.json()["data"]["events"], json!([]));
}

#[tokio::test]
async fn an_abandoned_challenge_is_expired_by_the_next_sweep_and_its_event_delivered() {
    let n = Notifying::start(0, "5").await;
    challenged_as(
        &n.h,
        MERCHANT_KEY,
        MERCHANT_ORIGIN,
        "abandoned-1",
        "4000000000002503",
    )
    .await;
    n.run_for(Duration::from_secs(2)).await;
    assert!(n.receiver.received().is_empty(), "nothing decided yet");
    // Deadline (600 s) passed: the next minute's sweep expires it.
    n.h.clock.advance(Duration::from_secs(600));
    let swept = n.app.sweep().await;
    assert_eq!(swept.expired, 1);
    n.run_for(Duration::from_secs(2)).await;
    let received = n.receiver.received();
    assert_eq!(received.len(), 1);
    let event: Value = serde_json::from_str(&received[0].body).unwrap();
    assert_eq!(event["type"], "authentication.expired");
    assert_eq!(event["data"]["reference_code"], "abandoned-1");
    assert_eq!(event["data"]["flow"], "challenge");
    let item = session_item(&n.h, "abandoned-1").await;
    assert!(item.sealed_payment_data.is_none(), "its card data is gone");
}

//! Capacity shared fairly, each test written as the attack it prevents: one tenant's
//! hanging endpoint and backlog, or its storm of redeliveries, does not take the webhooks
//! of the others.

use std::time::Duration;

use gateway::domain::TenantId;
use gateway::events::queue::{DeliveryMessage, Purpose};
use gateway::events::{DeliveryStatus, EventType, Events, NewEvent};
use gateway::queue::Queue;
use gateway_tests::events::*;
use gateway_tests::*;
use http::StatusCode;
use serde_json::json;

/// `count` events of `tenant`'s recorded and queued for delivery, as the stream would
/// leave them.
async fn backlog(n: &Notifying, tenant: &str, count: usize) {
    use futures_util::StreamExt as _;
    let events = Events::new(n.h.store.clone());
    let tenant = TenantId::parse("tenant", tenant).unwrap();
    let created_at = n.h.clock.now_ms();
    let recorded: Vec<_> = (0..count)
        .map(|number| {
            let (events, tenant) = (events.clone(), tenant.clone());
            async move {
                let event = NewEvent {
                    id: format!("evt_backlog{number:05}"),
                    tenant: tenant.clone(),
                    kind: EventType::AuthenticationSucceeded,
                    created_at,
                    data: json!({"reference_code": format!("backlog-{number}")}),
                };
                assert!(events.record(&event, true).await.unwrap());
                DeliveryMessage {
                    tenant,
                    event_id: event.id,
                    purpose: Purpose::Delivery,
                }
            }
        })
        .collect();
    let mut messages: Vec<DeliveryMessage> = futures_util::stream::iter(recorded)
        .buffer_unordered(32)
        .collect()
        .await;
    messages.sort_by(|a, b| a.event_id.cmp(&b.event_id));
    for message in messages {
        n.queue.enqueue(&message).await.unwrap();
    }
}

#[tokio::test]
async fn a_tenant_whose_endpoint_hangs_with_a_backlog_of_1000_does_not_delay_anothers_first_attempt()
 {
    let hanging = Receiver::start(0).await;
    hanging.hang();
    let healthy = Receiver::start(0).await;
    let n = Notifying::with(
        &[(MERCHANT, &hanging), (OTHER_MERCHANT, &healthy)],
        "5",
        &[("WEBHOOK_TIMEOUT_MS", "200")],
    )
    .await;
    backlog(&n, MERCHANT, 1_000).await;
    let merchant = n.api().await;
    n.frictionless(&merchant, OTHER_MERCHANT_KEY, "meanwhile-1")
        .await;
    // (The change stream may take more than one read to reach it.)
    for _ in 0..20 {
        if n.queue.waiting() > 1_000 {
            break;
        }
        n.notice_changes().await;
    }
    assert_eq!(
        n.queue.waiting(),
        1_001,
        "shop-b's event queued behind the backlog"
    );

    // Rounds of deliveries as Lambda's pollers make them (every batch of a round at once,
    // each held by the hanging endpoint's timeout), until shop-b's event is delivered.
    let mut rounds = 0;
    while healthy.received().is_empty() {
        rounds += 1;
        assert!(rounds <= 3, "shop-b waited behind shop-a's backlog");
        gateway_loopback::background::deliver_memory(&n.app, &n.queue).await;
    }
    let theirs = events_of(&n.h, OTHER_MERCHANT).await;
    assert_eq!(theirs[0].status, DeliveryStatus::Delivered);
    assert_eq!(theirs[0].attempt_count, 1, "on its first attempt");
    // Meanwhile shop-a's backlog is attempted no faster than its share, each attempt
    // cut at the timeout.
    let attempted = hanging.received().len();
    assert!(
        attempted < 100,
        "{attempted} of shop-a's attempts before shop-b's"
    );
    let oldest = Events::new(n.h.store.clone())
        .get(&tenant_id(MERCHANT), "evt_backlog00000")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(oldest.status, DeliveryStatus::Pending, "to be tried again");
    assert_eq!(oldest.attempts.0[0].error.as_deref(), Some("timeout"));
}

#[tokio::test]
async fn a_redelivery_storm_is_one_in_flight_per_event_and_capped_per_tenant_not_for_others() {
    let receiver = Receiver::start(0).await;
    let other = Receiver::start(0).await;
    let n = Notifying::with(
        &[(MERCHANT, &receiver), (OTHER_MERCHANT, &other)],
        "5",
        &[("REDELIVERIES_PER_TENANT_PER_HOUR", "3")],
    )
    .await;
    let api = n.api().await;
    for reference in ["storm-1", "storm-2", "storm-3"] {
        n.frictionless(&api, MERCHANT_KEY, reference).await;
    }
    n.frictionless(&api, OTHER_MERCHANT_KEY, "calm-1").await;
    n.run_for(Duration::from_secs(2)).await;
    assert_eq!(receiver.received().len(), 3);
    let ours: Vec<String> = events_of(&n.h, MERCHANT)
        .await
        .into_iter()
        .map(|event| event.event_id)
        .collect();
    let redeliver = |id: &str, key: &str| {
        let path = format!("/v1/events/{id}/redeliver");
        let request = post_json(&path, Some(key), &json!({}));
        let api = api.clone();
        async move { send(&api, request).await }
    };

    // Twenty at once for one event: one is queued, the rest are told it is in flight.
    let storm =
        futures_util::future::join_all((0..20).map(|_| redeliver(&ours[0], MERCHANT_KEY))).await;
    let accepted = storm
        .iter()
        .filter(|a| a.status == StatusCode::ACCEPTED)
        .count();
    assert_eq!(accepted, 1);
    for refused in storm.iter().filter(|a| a.status != StatusCode::ACCEPTED) {
        assert_eq!(refused.status, StatusCode::CONFLICT);
        assert_eq!(refused.json()["error"]["reason"], "REDELIVERY_IN_PROGRESS");
    }
    assert_eq!(n.queue.waiting(), 1, "one message queued");

    // Two more events take the hour's other two; the fourth is refused, with when to ask.
    assert_eq!(
        redeliver(&ours[1], MERCHANT_KEY).await.status,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        redeliver(&ours[2], MERCHANT_KEY).await.status,
        StatusCode::ACCEPTED
    );
    n.run_for(Duration::from_secs(2)).await;
    assert_eq!(receiver.received().len(), 6, "each redelivery sent once");
    let over = redeliver(&ours[0], MERCHANT_KEY).await;
    assert_eq!(
        over.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        over.text()
    );
    assert_eq!(over.json()["error"]["reason"], "TOO_MANY_REDELIVERIES");
    let wait: u64 = over.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3_600).contains(&wait), "{wait}");

    // shop-b's hour is its own.
    let theirs = events_of(&n.h, OTHER_MERCHANT).await;
    let calm = redeliver(&theirs[0].event_id, OTHER_MERCHANT_KEY).await;
    assert_eq!(calm.status, StatusCode::ACCEPTED, "{}", calm.text());

    // The next hour, shop-a may ask again.
    n.h.clock.advance(Duration::from_secs(wait));
    assert_eq!(
        redeliver(&ours[0], MERCHANT_KEY).await.status,
        StatusCode::ACCEPTED
    );
}

#[tokio::test]
async fn a_flood_of_junk_returns_is_refused_by_the_binding_before_any_store_read() {
    use gateway::store::counting::{Calls, CountingStore};
    let h = Harness::new().await;
    let counting = std::sync::Arc::new(CountingStore::new(h.store.clone()));
    let platform = gateway::platform::Platform {
        store: counting.clone(),
        ..h.platform()
    };
    let callback = h.callback_on(&platform).await;
    counting.take();

    // What a flood sends: any path values, made-up bindings, a real binding of another
    // reference, by GET and by POST.
    let real = h.binding("someone-else");
    let mut junk = vec![
        format!("/v1/risk/authentication/callback/{MERCHANT}/order-1/{real}"),
        format!("/v1/risk/authentication/callback/{OTHER_MERCHANT}/someone-else/{real}"),
    ];
    for n in 0..100 {
        junk.push(format!(
            "/v1/risk/authentication/callback/tenant-{n}/order-{n}/k1.{}",
            "A".repeat(43)
        ));
        junk.push(format!(
            "/v1/risk/authentication/callback/{MERCHANT}/order-{n}/junk{n}"
        ));
    }
    for path in &junk {
        let answer = send(&callback, form_post(path, "MD=x&PaRes=y".into())).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(
            send(&callback, get(path, None)).await.status,
            StatusCode::FORBIDDEN
        );
    }
    assert_eq!(
        counting.take(),
        Calls::default(),
        "no store call for any of them"
    );
    assert!(h.sandbox.calls().is_empty(), "nor any upstream call");
}

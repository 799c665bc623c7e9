//! One contract for both stores: the DynamoDB store (against moto_server) and the
//! in-memory store must apply guards, patches and session transitions identically.

use std::sync::Arc;

use gateway::domain::AuthenticationResult;
use gateway::session::{EnrollmentOutcome, Recorded, SessionState, Transition};
use gateway::store::{Guard, Mutation, Patch, Written, number_value, string_value};
use gateway_tests::*;

async fn stores() -> Vec<(Backend, Harness)> {
    let mut all = Vec::new();
    // DynamoDB when the test command runs moto_server; the in-memory store always.
    let backends = match dynamodb_endpoint() {
        Some(_) => vec![Backend::DynamoDb, Backend::Memory],
        None => vec![Backend::Memory],
    };
    for backend in backends {
        all.push((
            backend,
            Harness::with(backend, SandboxConfig::default(), &[]).await,
        ));
    }
    all
}

fn put_if_absent(value: &str) -> Mutation {
    Mutation {
        guard: Guard::Absent,
        patch: Patch::default()
            .set_s("state", value)
            .set_n("lease_until", 100),
    }
}

#[tokio::test]
async fn a_guarded_write_applies_once_and_the_refusal_returns_the_current_item() {
    for (backend, h) in stores().await {
        let first = h.store.write("T#1", &put_if_absent("A")).await.unwrap();
        let Written::Applied(item) = first else {
            panic!("{backend:?}: {first:?}")
        };
        assert_eq!(
            string_attr(&item, "state").as_deref(),
            Some("A"),
            "{backend:?}"
        );
        assert_eq!(
            string_attr(&item, "pk").as_deref(),
            Some("T#1"),
            "{backend:?}"
        );

        let second = h.store.write("T#1", &put_if_absent("B")).await.unwrap();
        let Written::Refused(Some(current)) = second else {
            panic!("{backend:?}: {second:?}")
        };
        assert_eq!(
            string_attr(&current, "state").as_deref(),
            Some("A"),
            "{backend:?}"
        );

        let on_missing = Mutation {
            guard: Guard::equals("state", "A"),
            patch: Patch::default().set_s("x", "y"),
        };
        assert_eq!(
            h.store.write("T#missing", &on_missing).await.unwrap(),
            Written::Refused(None),
            "{backend:?}"
        );
        assert!(
            h.store.read("T#missing").await.unwrap().is_none(),
            "{backend:?}: a refused write creates nothing"
        );
    }
}

#[tokio::test]
async fn comparisons_on_missing_attributes_are_false_and_patches_behave_alike() {
    for (backend, h) in stores().await {
        h.store.write("T#2", &put_if_absent("A")).await.unwrap();
        for (guard, holds) in [
            (Guard::Lt("lease_until", 101), true),
            (Guard::Lt("lease_until", 100), false),
            (Guard::Le("lease_until", 100), true),
            (Guard::Gt("lease_until", 99), true),
            (Guard::Lt("missing", 1_000), false),
            (Guard::Gt("missing", -1_000), false),
            (
                Guard::Or(vec![Guard::Absent, Guard::equals("state", "A")]),
                true,
            ),
            (
                Guard::And(vec![
                    Guard::equals("state", "A"),
                    Guard::equals("missing", "x"),
                ]),
                false,
            ),
        ] {
            let mutation = Mutation {
                guard: guard.clone(),
                patch: Patch::default().set_n("probe", 1),
            };
            let written = h.store.write("T#2", &mutation).await.unwrap();
            assert_eq!(
                matches!(written, Written::Applied(_)),
                holds,
                "{backend:?}: {guard:?}"
            );
        }
        let patch = Mutation {
            guard: Guard::equals("state", "A"),
            patch: Patch::default()
                .set_if_absent("state", string_value("ignored"))
                .set_if_absent("created", number_value(7))
                .set(
                    "nested",
                    gateway::store::AttributeValue::M([("k".to_owned(), string_value("v"))].into()),
                )
                .remove("lease_until"),
        };
        let Written::Applied(item) = h.store.write("T#2", &patch).await.unwrap() else {
            panic!()
        };
        assert_eq!(
            string_attr(&item, "state").as_deref(),
            Some("A"),
            "{backend:?}"
        );
        assert_eq!(
            gateway::store::number(&item, "created"),
            Some(7),
            "{backend:?}"
        );
        assert!(!item.contains_key("lease_until"), "{backend:?}");
        assert_eq!(
            item,
            h.store.read("T#2").await.unwrap().unwrap(),
            "{backend:?}"
        );
    }
}

fn claim(_reference: &str, claim_id: &str, now_ms: i64) -> Transition {
    Transition::ClaimEnrollment {
        fingerprint: "fp-1".into(),
        claim_id: claim_id.into(),
        now_ms,
        lease_until_ms: now_ms + 25_000,
        expires_at: now_ms / 1000 + 3600,
    }
}

#[tokio::test]
async fn twenty_concurrent_claims_have_exactly_one_winner() {
    for (backend, h) in stores().await {
        let sessions = Arc::new(h.sessions());
        let now = h.clock.now_ms();
        let tasks: Vec<_> = (0..20)
            .map(|i| {
                let sessions = sessions.clone();
                tokio::spawn(async move {
                    sessions
                        .apply_transition(
                            &session_ref("shop-a", "race-1"),
                            &claim("race-1", &format!("claim-{i}"), now),
                        )
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut winners = 0;
        for task in tasks {
            match task.await.unwrap() {
                Recorded::Done(session) => {
                    winners += 1;
                    assert_eq!(session.state, SessionState::Enrolling);
                }
                Recorded::Refused(current) => {
                    assert_eq!(
                        current.expect("the winner's item").state,
                        SessionState::Enrolling,
                        "{backend:?}"
                    );
                }
            }
        }
        assert_eq!(winners, 1, "{backend:?}");
    }
}

#[tokio::test]
async fn a_retried_write_that_already_landed_is_recognised_as_ours() {
    for (backend, h) in stores().await {
        let sessions = h.sessions();
        let now = h.clock.now_ms();
        let transition = claim("retry-1", "c1", now);
        assert!(matches!(
            sessions
                .apply_retried(&session_ref("shop-a", "retry-1"), &transition, "m-1")
                .await
                .unwrap(),
            Recorded::Done(_)
        ));
        // The same write again (an SDK retry after a lost answer): refused by the state it
        // wrote, but still reported as applied.
        assert!(
            matches!(
                sessions
                    .apply_retried(&session_ref("shop-a", "retry-1"), &transition, "m-1")
                    .await
                    .unwrap(),
                Recorded::Done(_)
            ),
            "{backend:?}"
        );
        // Someone else's identical-looking write is refused.
        assert!(
            matches!(
                sessions
                    .apply_retried(
                        &session_ref("shop-a", "retry-1"),
                        &claim("retry-1", "c2", now),
                        "m-2"
                    )
                    .await
                    .unwrap(),
                Recorded::Refused(Some(_))
            ),
            "{backend:?}"
        );
    }
}

/// Check enroll's outcome for a challenge, as the claim `c1` records it.
fn challenge_pending(now: i64, sealed: &gateway::crypto::SealedData) -> Transition {
    Transition::CompleteEnrollment {
        claim_id: "c1".into(),
        outcome: EnrollmentOutcome::Challenge {
            authentication_transaction_id: "TID".into(),
            transaction_mac: "mac".into(),
            challenge_deadline_ms: now + 600_000,
            completion: Default::default(),
            merchant_return_url: "https://shop.example/r".into(),
            sealed_payment_data: sealed.clone(),
            enrollment_result: Default::default(),
        },
        card: Default::default(),
        amount: gateway::domain::Amount {
            total_amount: "10.50".into(),
            currency: "USD".into(),
        },
        response: sealed.clone(),
        now_ms: now,
        expires_at: now / 1000 + 3600,
    }
}

/// Validate's decision, as the claim `v1` records it.
fn authenticated(now: i64, response: gateway::crypto::SealedData) -> Transition {
    Transition::CompleteValidation {
        claim_id: "v1".into(),
        state: SessionState::Authenticated,
        result: gateway::session::RecordedResult {
            result: AuthenticationResult {
                eci: Some("05".into()),
                ..Default::default()
            },
            sealed_values: None,
        },
        response,
        now_ms: now,
        expires_at: now / 1000 + 7200,
    }
}

#[tokio::test]
async fn a_session_walks_the_state_machine_with_one_write_per_step() {
    for (backend, h) in stores().await {
        let sessions = h.sessions();
        let walk = session_ref("shop-a", "walk-1");
        let apply = |transition: Transition| {
            let (sessions, walk) = (sessions.clone(), walk.clone());
            async move { sessions.apply_transition(&walk, &transition).await.unwrap() }
        };
        let now = h.clock.now_ms();
        assert!(matches!(
            apply(claim("walk-1", "c1", now)).await,
            Recorded::Done(_)
        ));
        let keys = gateway::crypto::KeyRing::new(vec![("k1".into(), [7; 32])]).unwrap();
        let sealed = keys.seal("AUTH#walk-1", b"{}");
        let wrong_claim = Transition::ReleaseEnrollment {
            claim_id: "c9".into(),
            now_ms: now,
        };
        assert!(
            matches!(apply(wrong_claim).await, Recorded::Refused(_)),
            "{backend:?}"
        );
        let Recorded::Done(session) = apply(challenge_pending(now, &sealed)).await else {
            panic!("{backend:?}")
        };
        assert_eq!(session.state, SessionState::ChallengePending);
        assert_eq!(session.sealed_payment_data, Some(sealed));
        assert_eq!(session.claim_id, None);

        let claim_validation = Transition::ClaimValidation {
            transaction_mac: "mac".into(),
            claim_id: "v1".into(),
            now_ms: now,
            lease_until_ms: now + 25_000,
        };
        let Recorded::Done(session) = apply(claim_validation.clone()).await else {
            panic!("{backend:?}")
        };
        assert_eq!(session.state, SessionState::Validating);
        let response = keys.seal("AUTH#walk-1#validate_response", b"{}");
        let Recorded::Done(session) = apply(authenticated(now, response)).await else {
            panic!("{backend:?}")
        };
        assert_eq!(session.state, SessionState::Authenticated);
        assert_eq!(
            session.sealed_payment_data, None,
            "{backend:?}: card data removed at the terminal state"
        );
        assert_eq!(session.result.unwrap().eci.as_deref(), Some("05"));
        assert!(
            matches!(apply(claim_validation).await, Recorded::Refused(Some(_))),
            "{backend:?}: terminal is final"
        );
    }
}

#[tokio::test]
async fn an_index_page_holds_its_partitions_items_up_to_a_bound_in_order() {
    use gateway::store::{Index, Query};
    for (backend, h) in stores().await {
        let store = &h.store;
        let put = |key: &'static str, partition: &'static str, deadline: i64| {
            let store = store.clone();
            async move {
                let mutation = Mutation {
                    guard: Guard::Absent,
                    patch: Patch::default()
                        .set_s("sweep_pk", partition)
                        .set_n("sweep_sk", deadline),
                };
                store.write(key, &mutation).await.unwrap();
            }
        };
        put("q-a", "100#0", 30).await;
        put("q-b", "100#0", 10).await;
        put("q-c", "100#0", 20).await;
        put("q-d", "100#1", 5).await;
        // An item without the index's attributes is not in it (sparse).
        store.write("q-e", &put_if_absent("x")).await.unwrap();
        let page = |up_to: Option<i64>, inclusive: bool, descending: bool, limit: usize| Query {
            index: Index::ByDeadline,
            partition: "100#0".into(),
            up_to: up_to.map(|bound| (number_value(bound), inclusive)),
            descending,
            limit,
            start_after: None,
        };
        let keys = |page: gateway::store::Page| -> Vec<String> {
            page.items
                .iter()
                .map(|i| gateway::store::string(i, "pk").unwrap().to_owned())
                .collect()
        };
        // An index read is eventually consistent; moto's is immediate.
        let all = store.query(&page(None, true, false, 10)).await.unwrap();
        assert_eq!(keys(all), ["q-b", "q-c", "q-a"], "{backend:?}");
        let due = store.query(&page(Some(20), true, false, 10)).await.unwrap();
        assert_eq!(keys(due), ["q-b", "q-c"], "{backend:?}");
        let before = store.query(&page(Some(20), false, true, 10)).await.unwrap();
        assert_eq!(keys(before), ["q-b"], "{backend:?}");
        let newest = store.query(&page(None, true, true, 2)).await.unwrap();
        let next = newest.next.clone().expect("a page follows");
        assert_eq!(keys(newest), ["q-a", "q-c"], "{backend:?}");
        let rest = store
            .query(&Query {
                start_after: Some(next),
                ..page(None, true, true, 2)
            })
            .await
            .unwrap();
        assert_eq!(keys(rest), ["q-b"], "{backend:?}: the page after");
    }
}

#[tokio::test]
async fn a_counter_rises_from_nothing_under_its_guard_and_a_missing_attribute_guards_a_flag() {
    for (backend, h) in stores().await {
        // A counter capped at 2: the third raise is refused, with the count it found.
        let raise = Mutation {
            guard: Guard::Or(vec![Guard::Missing("count"), Guard::Lt("count", 2)]),
            patch: Patch::default().increment("count", 1),
        };
        for expected in [1, 2] {
            let Written::Applied(item) = h.store.write("Q#1", &raise).await.unwrap() else {
                panic!("{backend:?}: raise {expected} refused")
            };
            assert_eq!(number_attr(&item, "count"), Some(expected), "{backend:?}");
        }
        let refused = h.store.write("Q#1", &raise).await.unwrap();
        let Written::Refused(Some(current)) = refused else {
            panic!("{backend:?}: {refused:?}")
        };
        assert_eq!(number_attr(&current, "count"), Some(2), "{backend:?}");

        // A flag set only where it is missing, on an item that exists.
        h.store.write("F#1", &put_if_absent("A")).await.unwrap();
        let flag = Mutation {
            guard: Guard::And(vec![Guard::equals("state", "A"), Guard::Missing("flag")]),
            patch: Patch::default().set_n("flag", 1),
        };
        assert!(matches!(
            h.store.write("F#1", &flag).await.unwrap(),
            Written::Applied(_)
        ));
        assert!(
            matches!(
                h.store.write("F#1", &flag).await.unwrap(),
                Written::Refused(_)
            ),
            "{backend:?}: the flag is set"
        );
        assert!(
            matches!(
                h.store.write("F#2", &flag).await.unwrap(),
                Written::Refused(None)
            ),
            "{backend:?}: no item, no flag"
        );
    }
}

#[tokio::test]
async fn writes_made_together_all_land_or_none_does() {
    for (backend, h) in stores().await {
        let counter = |by: i64| Mutation {
            guard: Guard::Or(vec![Guard::Absent, Guard::Missing("done")]),
            patch: Patch::default().increment("finished", by),
        };
        let together = |item_state: &str| {
            vec![
                ("TX#item".to_owned(), put_if_absent(item_state)),
                ("TX#job".to_owned(), counter(1)),
            ]
        };
        assert!(
            h.store.write_together(&together("A")).await.unwrap(),
            "{backend:?}"
        );
        // The item's guard refuses the second: the counter does not move either.
        assert!(
            !h.store.write_together(&together("B")).await.unwrap(),
            "{backend:?}"
        );
        let job = h.store.read("TX#job").await.unwrap().unwrap();
        assert_eq!(job.get("finished"), Some(&number_value(1)), "{backend:?}");
        let item = h.store.read("TX#item").await.unwrap().unwrap();
        assert_eq!(item.get("state"), Some(&string_value("A")), "{backend:?}");
    }
}

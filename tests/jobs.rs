//! Bulk enrollment as jobs against the card-issuance sandbox: a portfolio enrolled once
//! per card at the configured rate, fairly between programs, through faults, canceled,
//! walled off between tenants, and refused line by line before anything is queued.

use std::collections::HashMap;
use std::time::Duration;

use gateway::events::EventType;
use gateway_tests::events::{Notifying, Receiver};
use gateway_tests::jobs::{JobsStack, items};
use gateway_tests::*;
use http::StatusCode;
use sandbox::state::{
    CARDHOLDER_ID, THIRD_BUDGET_CARDHOLDER_ID, seeded_card_id, seeded_third_card_id,
};
use serde_json::{Value, json};

const ENROLL_PATH: &str = "/card/issuance/api/issuing/3ds/v2/enroll";

/// An upstream timeout a loaded test machine never reaches: without faults, every call
/// is answered, and each card is enrolled by exactly one call.
const PATIENT: &[(&str, &str)] = &[("UPSTREAM_TIMEOUT_MS", "10000")];

fn cards(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(seeded_card_id).collect()
}

/// Successful upstream enrolls per card id.
fn enrolls_by_card(h: &Harness) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for call in h.sandbox.calls_to(ENROLL_PATH) {
        if call.path == ENROLL_PATH
            && call.fault.is_none()
            && let Some(card) = call.body["card_id"].as_str()
        {
            *counts.entry(card.to_owned()).or_default() += 1;
        }
    }
    counts
}

#[tokio::test]
async fn an_inline_job_enrolls_each_card_once_and_says_so() {
    let h = Harness::with_env(PATIENT).await;
    let stack = h.jobs().await;
    let job_id = stack
        .create_inline(ISSUER_KEY, items(&cards(0..150), CARDHOLDER_ID))
        .await;
    let queued = stack.view(ISSUER_KEY, &job_id).await;
    assert_eq!(queued["state"], "queued");
    assert_eq!(queued["total"], 150);
    assert_eq!(queued["counts"]["pending"], 150);
    assert_eq!(stack.queue.waiting(), 2, "two chunks of at most 100 items");

    let done = stack.run_to_end(&h.clock, ISSUER_KEY, &job_id, 2, 3).await;
    assert_eq!(done["state"], "completed", "{done}");
    assert_eq!(done["counts"]["enrolled"], 150);
    assert_eq!(done["counts"]["failed"], 0);
    assert_eq!(done["progress"], 1.0);
    let enrolls = enrolls_by_card(&h);
    assert_eq!(enrolls.len(), 150);
    assert!(enrolls.values().all(|n| *n == 1), "each card enrolled once");

    let page = stack
        .items(ISSUER_KEY, &job_id, "state=enrolled&limit=100")
        .await
        .json();
    assert_eq!(page["data"]["items"].as_array().unwrap().len(), 100);
    assert_eq!(page["data"]["items"][0]["line"], 1);
    assert_eq!(page["data"]["has_more"], true);
    let after = page["data"]["next_after"].as_u64().unwrap();
    let rest = stack
        .items(
            ISSUER_KEY,
            &job_id,
            &format!("state=enrolled&after={after}"),
        )
        .await
        .json();
    assert_eq!(rest["data"]["items"].as_array().unwrap().len(), 50);
    assert_eq!(rest["data"]["has_more"], false);
}

#[tokio::test]
async fn a_ten_thousand_item_job_enrolls_every_card_once_within_the_fleets_rate_and_tells_its_webhook()
 {
    const ITEMS: usize = 10_000;
    // The upstream's limit, raised for the test, and the fleet's ceiling under it with
    // the template's headroom (requests in flight across a window's edge land a few
    // past the client's count): what the sandbox saw in every window stays under the
    // limit, and no call was refused for the rate.
    const UPSTREAM_PER_10S: usize = 6_600;
    let receiver = Receiver::start(0).await;
    // In memory: each item is a handful of store writes, and moto_server makes about
    // ten items a second, so ten thousand would take twenty minutes there. The writes
    // themselves are the store contract suite's, and the other job tests run on moto.
    let n = Notifying::on(
        Backend::Memory,
        &[(ISSUER, &receiver)],
        "1",
        &[
            PATIENT[0],
            // Five instances of 1,200 each: 6,000, under the raised limit.
            ("AHRVO_MAX_REQUESTS_PER_10S", "1200"),
            ("AHRVO_BURST", "12"),
            ("JOB_ITEM_CONCURRENCY", "16"),
        ],
    )
    .await;
    let h = &n.h;
    h.sandbox.seed_bulk_cards(ITEMS);
    h.sandbox.set_issuance_limit(UPSTREAM_PER_10S);
    let stack = h.jobs().await;
    let file: String = cards(0..ITEMS)
        .iter()
        .map(|card| format!("{card},{CARDHOLDER_ID}\n"))
        .collect();
    let job_id = upload_and_start(&stack, "csv", &format!("card_id,cardholder_id\n{file}")).await;

    let done = stack.run_to_end(&h.clock, ISSUER_KEY, &job_id, 5, 10).await;
    assert_eq!(done["state"], "completed", "{done}");
    assert_eq!(done["counts"]["enrolled"], ITEMS);
    let enrolls = enrolls_by_card(h);
    assert_eq!(enrolls.len(), ITEMS, "every card enrolled");
    assert!(enrolls.values().all(|n| *n == 1), "none twice");

    // The fleet's rate, counted by the sandbox in every 10 s window.
    let mut times: Vec<i64> = h.sandbox.calls().iter().map(|c| c.at_ms).collect();
    times.sort_unstable();
    let busiest = times
        .iter()
        .enumerate()
        .map(|(i, start)| times[i..].partition_point(|t| *t < start + 10_000))
        .max()
        .unwrap();
    assert!(
        busiest <= UPSTREAM_PER_10S,
        "{busiest} calls in one 10 s window"
    );
    assert!(
        busiest > 3_000,
        "the limit was what bound the pace: {busiest}"
    );

    n.run_for(Duration::from_secs(3)).await;
    let completed: Vec<Value> = receiver
        .received()
        .into_iter()
        .map(|d| serde_json::from_str::<Value>(&d.body).unwrap())
        .filter(|body| body["type"] == "job.completed")
        .collect();
    assert_eq!(completed.len(), 1, "one job.completed");
    assert_eq!(completed[0]["data"]["job_id"], job_id.as_str());
    assert_eq!(completed[0]["data"]["enrolled"], ITEMS);
    let enrolled_events = n
        .events_of(ISSUER)
        .await
        .iter()
        .filter(|e| e.event_type == EventType::CardEnrolled)
        .count();
    assert!(
        enrolled_events > 0,
        "each enrolled card still has its card.enrolled"
    );
}

/// Creates a job for an upload of `format`, `PUT`s `file` to its URL and starts it.
async fn upload_and_start(stack: &JobsStack, format: &str, file: &str) -> String {
    let created = stack
        .create(ISSUER_KEY, &json!({"upload": {"format": format}}), None)
        .await;
    assert_eq!(created.status, StatusCode::ACCEPTED, "{}", created.text());
    let data = &created.json()["data"];
    assert_eq!(data["state"], "awaiting_upload");
    let url = data["upload"]["url"].as_str().unwrap();
    let put = reqwest::Client::new()
        .put(url)
        .body(file.to_owned())
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success(), "{}", put.status());
    let job_id = data["job_id"].as_str().unwrap().to_owned();
    let started = stack.start(ISSUER_KEY, &job_id).await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{}", started.text());
    job_id
}

#[tokio::test]
async fn two_programs_jobs_progress_together() {
    // A limit high enough that the pace is the machine's: what is measured is the order.
    // In memory, as the ten-thousand-item job is: a thousand items take moto_server
    // minutes, and what is measured here is the queue's order, not the store.
    let h = Harness::with(
        Backend::Memory,
        SandboxConfig::default(),
        &[PATIENT[0], ("AHRVO_MAX_REQUESTS_PER_10S", "5000")],
    )
    .await;
    h.sandbox.seed_bulk_cards(1000);
    h.sandbox.set_issuance_limit(20_000);
    let stack = h.jobs().await;
    let big = stack
        .create_inline(ISSUER_KEY, items(&cards(0..1000), CARDHOLDER_ID))
        .await;
    let small_cards: Vec<String> = (0..50).map(seeded_third_card_id).collect();
    let small = stack
        .create_inline(
            OTHER_ISSUER_KEY,
            items(&small_cards, THIRD_BUDGET_CARDHOLDER_ID),
        )
        .await;
    stack
        .run_to_end(&h.clock, OTHER_ISSUER_KEY, &small, 2, 3)
        .await;
    stack.run_to_end(&h.clock, ISSUER_KEY, &big, 2, 3).await;
    let big_done = stack.view(ISSUER_KEY, &big).await;
    let small_done = stack.view(OTHER_ISSUER_KEY, &small).await;
    assert_eq!(big_done["state"], "completed");
    assert_eq!(small_done["state"], "completed");
    // When the small job finished, the big one had barely begun: its chunks did not
    // hold the other program's back.
    let small_finished = small_done["finished_at"].as_str().unwrap();
    let big_items = stack
        .items(ISSUER_KEY, &big, "state=enrolled&limit=1000")
        .await
        .json();
    let before = big_items["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|item| item["updated_at"].as_str().unwrap() < small_finished)
        .count();
    assert!(before <= 300, "{before} of the big job's items went first");
}

#[tokio::test]
async fn a_fault_storm_mid_job_ends_with_no_duplicate_and_no_lost_item() {
    let h = Harness::new().await;
    let stack = h.jobs().await;
    let job_cards = cards(0..120);
    // 503s for a while, and two enrolls the upstream makes but answers too late.
    h.sandbox.inject(
        FaultRule::on(
            ENROLL_PATH,
            Fault::Status {
                status: 503,
                retry_after_secs: None,
            },
        )
        .times(40),
    );
    for card in &job_cards[5..7] {
        h.sandbox.inject(
            FaultRule::on(ENROLL_PATH, Fault::SlowResponse { ms: 1_500 })
                .containing(card)
                .times(1),
        );
    }
    let job_id = stack
        .create_inline(ISSUER_KEY, items(&job_cards, CARDHOLDER_ID))
        .await;
    // The chunks that hit faults come again after their backoff.
    let done = stack.run_to_end(&h.clock, ISSUER_KEY, &job_id, 2, 10).await;
    assert_eq!(done["state"], "completed", "{done}");
    assert_eq!(done["counts"]["enrolled"], 120, "no item lost");
    assert!(
        done["counts"]["reconciled"].as_u64().unwrap() >= 2,
        "{done}"
    );
    let landed: HashMap<String, usize> = h
        .sandbox
        .calls_to(ENROLL_PATH)
        .iter()
        .filter(|c| c.path == ENROLL_PATH && !matches!(c.fault, Some(Fault::Status { .. })))
        .filter_map(|c| c.body["card_id"].as_str().map(str::to_owned))
        .fold(HashMap::new(), |mut m, card| {
            *m.entry(card).or_default() += 1;
            m
        });
    assert_eq!(landed.len(), 120);
    assert!(
        job_cards
            .iter()
            .all(|card| h.sandbox.enrolled_cardholder(card).as_deref() == Some(CARDHOLDER_ID))
    );
}

#[tokio::test]
async fn an_item_the_upstream_always_fails_is_failed_with_its_reason_not_retried_for_ever() {
    let h = Harness::new().await;
    let stack = h.jobs().await;
    let job_cards = cards(0..10);
    h.sandbox.inject(
        FaultRule::on(
            ENROLL_PATH,
            Fault::Status {
                status: 503,
                retry_after_secs: None,
            },
        )
        .containing(&job_cards[3]),
    );
    let job_id = stack
        .create_inline(ISSUER_KEY, items(&job_cards, CARDHOLDER_ID))
        .await;
    let done = stack.run_to_end(&h.clock, ISSUER_KEY, &job_id, 1, 12).await;
    assert_eq!(done["state"], "completed_with_errors", "{done}");
    assert_eq!(done["counts"]["enrolled"], 9);
    assert_eq!(done["counts"]["failed"], 1);
    let failed = stack
        .items(ISSUER_KEY, &job_id, "state=failed")
        .await
        .json();
    let item = &failed["data"]["items"][0];
    assert_eq!(item["card_id"], job_cards[3].as_str());
    assert_eq!(item["line"], 4);
    assert_eq!(item["code"], "UPSTREAM_UNAVAILABLE");
    assert_eq!(item["attempts"], 6);
}

#[tokio::test]
async fn a_dead_lettered_chunk_fails_its_unfinished_items_with_their_reason() {
    let h = Harness::new().await;
    let stack = h.jobs().await;
    let job_id = stack
        .create_inline(ISSUER_KEY, items(&cards(0..30), CARDHOLDER_ID))
        .await;
    // A chunk no worker could handle, as the redrive policy hands it over.
    let letter = stack.queue.receive(1).remove(0);
    stack.queue.delete(&letter.id);
    stack
        .queue
        .return_dead_letter(serde_json::from_str(&letter.body).unwrap());
    stack.run(1).await;
    let done = stack.view(ISSUER_KEY, &job_id).await;
    assert_eq!(done["state"], "completed_with_errors");
    assert_eq!(done["counts"]["failed"], 30);
    let failed = stack
        .items(ISSUER_KEY, &job_id, "state=failed")
        .await
        .json();
    assert_eq!(failed["data"]["items"][0]["code"], "NOT_PROCESSED");
    assert!(h.sandbox.calls_to(ENROLL_PATH).is_empty(), "none was run");
}

#[tokio::test]
async fn a_canceled_job_runs_no_item_that_had_not_started() {
    let h = Harness::new().await;
    let stack = h.jobs().await;
    let job_id = stack
        .create_inline(ISSUER_KEY, items(&cards(0..500), CARDHOLDER_ID))
        .await;
    assert!(stack.poll_once().await);
    let canceled = stack.cancel(ISSUER_KEY, &job_id).await;
    assert_eq!(canceled.status, StatusCode::OK, "{}", canceled.text());
    assert_eq!(canceled.json()["data"]["state"], "canceled");
    stack.run(2).await;
    let done = stack.view(ISSUER_KEY, &job_id).await;
    assert_eq!(done["state"], "canceled");
    assert_eq!(
        done["counts"]["enrolled"], 100,
        "the chunk that had started"
    );
    assert_eq!(done["counts"]["not_run"], 400);
    assert_eq!(enrolls_by_card(&h).len(), 100);
    let again = stack.cancel(ISSUER_KEY, &job_id).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
}

#[tokio::test]
async fn another_programs_job_answers_like_one_that_does_not_exist() {
    let h = Harness::new().await;
    let stack = h.jobs().await;
    let job_id = stack
        .create_inline(ISSUER_KEY, items(&cards(0..3), CARDHOLDER_ID))
        .await;
    let unknown = uuid::Uuid::new_v4().to_string();
    // The attack: bank-y, holding bank-x's job id, reads, lists, starts and cancels it.
    for (id, label) in [(&job_id, "bank-x's"), (&unknown, "no one's")] {
        let answers = [
            stack.job(OTHER_ISSUER_KEY, id).await,
            stack.items(OTHER_ISSUER_KEY, id, "state=pending").await,
            stack.start(OTHER_ISSUER_KEY, id).await,
            stack.cancel(OTHER_ISSUER_KEY, id).await,
        ];
        for answer in answers {
            assert_eq!(answer.status, StatusCode::NOT_FOUND, "{label}");
            assert_eq!(answer.json()["code"], "JOB_NOT_FOUND", "{label}");
        }
    }
    assert_eq!(stack.view(ISSUER_KEY, &job_id).await["state"], "queued");
    // A merchant's key is not a card program's.
    let merchant = stack.job(MERCHANT_KEY, &job_id).await;
    assert_eq!(merchant.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn bad_files_and_items_are_named_by_line_and_field_before_anything_is_queued() {
    let h = Harness::new().await;
    let stack = h.jobs().await;
    // Inline: the item's index and field.
    let mut bad = items(&cards(0..3), CARDHOLDER_ID);
    bad[1]["cardholder_id"] = json!("not an id!");
    let answer = stack.create(ISSUER_KEY, &json!({"items": bad}), None).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.json()["field"], "items[1].cardholder_id");
    assert_eq!(stack.queue.waiting(), 0);

    // A card of another program's budget is named, without saying whose.
    let mut foreign = items(&cards(0..2), CARDHOLDER_ID);
    foreign.push(json!({"card_id": seeded_third_card_id(0), "cardholder": {"budget_id": sandbox::state::THIRD_BUDGET_ID}}));
    let answer = stack
        .create(ISSUER_KEY, &json!({"items": foreign}), None)
        .await;
    assert_eq!(answer.json()["field"], "items[2].cardholder.budget_id");

    // An upload: the file's line and field; the job stays waiting for a good file.
    let created = stack
        .create(ISSUER_KEY, &json!({"upload": {"format": "csv"}}), None)
        .await
        .json();
    let job_id = created["data"]["job_id"].as_str().unwrap().to_owned();
    let not_yet = stack.start(ISSUER_KEY, &job_id).await;
    assert_eq!(not_yet.status, StatusCode::CONFLICT);
    assert_eq!(not_yet.json()["code"], "UPLOAD_MISSING");
    let url = created["data"]["upload"]["url"].as_str().unwrap();
    let file = format!(
        "card_id,cardholder_id\n{},{CARDHOLDER_ID}\n,{CARDHOLDER_ID}\n",
        seeded_card_id(0)
    );
    reqwest::Client::new()
        .put(url)
        .body(file)
        .send()
        .await
        .unwrap();
    let answer = stack.start(ISSUER_KEY, &job_id).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.text());
    assert_eq!(answer.json()["field"], "lines[3].card_id");
    assert_eq!(stack.queue.waiting(), 0, "nothing queued");
    assert_eq!(
        stack.view(ISSUER_KEY, &job_id).await["state"],
        "awaiting_upload"
    );

    let twice = format!(
        "card_id,cardholder_id\n{c},{CARDHOLDER_ID}\n{c},{CARDHOLDER_ID}\n",
        c = seeded_card_id(0)
    );
    reqwest::Client::new()
        .put(url)
        .body(twice)
        .send()
        .await
        .unwrap();
    let answer = stack.start(ISSUER_KEY, &job_id).await;
    assert_eq!(answer.json()["field"], "lines[3].card_id");
    assert!(
        answer.json()["message"]
            .as_str()
            .unwrap()
            .contains("line 2")
    );
}

#[tokio::test]
async fn a_retried_create_under_its_idempotency_key_finds_its_job() {
    let h = Harness::new().await;
    let stack = h.jobs().await;
    let body = json!({"items": items(&cards(0..5), CARDHOLDER_ID)});
    let first = stack
        .create(ISSUER_KEY, &body, Some("portfolio-2026-11"))
        .await;
    let again = stack
        .create(ISSUER_KEY, &body, Some("portfolio-2026-11"))
        .await;
    assert_eq!(again.status, StatusCode::ACCEPTED);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(
        again.json()["data"]["job_id"],
        first.json()["data"]["job_id"]
    );
    assert_eq!(stack.queue.waiting(), 1, "its chunk queued once");
    let other = json!({"items": items(&cards(0..6), CARDHOLDER_ID)});
    let reused = stack
        .create(ISSUER_KEY, &other, Some("portfolio-2026-11"))
        .await;
    assert_eq!(reused.status, StatusCode::CONFLICT);
    assert_eq!(reused.json()["code"], "IDEMPOTENCY_KEY_REUSED");
    // The same key of another program is its own.
    let theirs = json!({"items": items(&[seeded_third_card_id(0)], THIRD_BUDGET_CARDHOLDER_ID)});
    let other_program = stack
        .create(OTHER_ISSUER_KEY, &theirs, Some("portfolio-2026-11"))
        .await;
    assert_eq!(other_program.status, StatusCode::ACCEPTED);
    assert_ne!(
        other_program.json()["data"]["job_id"],
        first.json()["data"]["job_id"]
    );
}

#[tokio::test]
async fn a_new_cardholder_is_created_once_then_its_card_enrolled() {
    let h = Harness::new().await;
    let stack = h.jobs().await;
    let contact = json!({
        "budget_id": sandbox::state::SECOND_BUDGET_ID, "first_name": "Ava", "last_name": "Lee",
        "call_prefix": "+1", "mobile": "2125550199", "email": "ava.lee@example.com",
        "date_of_birth": "1990-01-02", "state": "New York", "city": "New York",
        "address_line": "1 Park Ave", "post_code": "10001", "country_code": "US",
        "security_index": "1", "security_answer": "Blue"
    });
    let job_id = stack
        .create_inline(
            ISSUER_KEY,
            vec![json!({"card_id": seeded_card_id(7), "cardholder": contact})],
        )
        .await;
    stack.run(1).await;
    let done = stack.view(ISSUER_KEY, &job_id).await;
    assert_eq!(done["state"], "completed", "{done}");
    let item = &stack
        .items(ISSUER_KEY, &job_id, "state=enrolled")
        .await
        .json()["data"]["items"][0];
    let cardholder = item["cardholder_id"].as_str().unwrap();
    assert_eq!(
        h.sandbox
            .calls_to("/card/issuance/api/issuing/cardholders/v2/create")
            .len(),
        1
    );
    assert_eq!(
        h.sandbox.enrolled_cardholder(&seeded_card_id(7)).as_deref(),
        Some(cardholder)
    );
    assert!(
        !item.to_string().contains("Blue"),
        "no contact detail in an item"
    );
}

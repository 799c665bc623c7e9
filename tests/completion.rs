//! How a challenge ends on the merchant's page (completion modes), the richer outcome
//! fields, the browser library's route, and the listing of a merchant's authentications.

use gateway_tests::*;
use http::StatusCode;
use serde_json::json;

/// A challenge started with `completion` (or the merchant's default), and the bank's
/// return, ready to post.
async fn challenge_with(h: &Harness, reference: &str, completion: Option<&str>) -> AcsReturn {
    let merchant = h.merchant().await;
    let mut body = prepared_enroll_as(
        &merchant,
        MERCHANT_KEY,
        MERCHANT_ORIGIN,
        reference,
        "4000000000002503",
    )
    .await;
    if let Some(mode) = completion {
        body["completion"] = json!(mode);
    }
    let answer = send(&merchant, post_json(ENROLL, Some(MERCHANT_KEY), &body)).await;
    assert_eq!(
        answer.json()["data"]["consumer_auth_info"]["challenge_window_size"],
        "02",
        "decoded from the pareq"
    );
    let challenge = challenge_of(reference, body, &answer);
    at_the_acs(&challenge, "submit", "1234").await
}

/// The nonce the page's Content-Security-Policy allows, and the page.
fn nonce_and_page(answer: &Answer) -> (String, String) {
    let policy = answer
        .header("content-security-policy")
        .expect("a CSP")
        .to_owned();
    assert!(!policy.contains("unsafe-inline"), "{policy}");
    assert!(policy.starts_with("default-src 'none'"), "{policy}");
    let nonce = policy
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .unwrap()
        .to_owned();
    (nonce, answer.text())
}

/// Every script of a page carries the nonce: no inline script runs without it.
fn scripts_carry(page: &str, nonce: &str) {
    let scripts = page.matches("<script").count();
    assert!(scripts >= 1);
    assert_eq!(
        page.matches(&format!("<script nonce=\"{nonce}\">")).count(),
        scripts,
        "{page}"
    );
}

#[tokio::test]
async fn post_message_completion_posts_the_signed_result_to_the_merchants_origin_only() {
    let h = Harness::new().await;
    let acs = challenge_with(&h, "pm-1", Some("post_message")).await;
    let answer = send(&h.callback().await, form_post(&acs.path, acs.form())).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(
        answer.header("location").is_none(),
        "no redirect: a message to the parent"
    );
    let (nonce, page) = nonce_and_page(&answer);
    scripts_carry(&page, &nonce);
    assert!(page.contains("window.parent.postMessage("));
    // Targeted at the registered origin of the merchant's return URL, never "*".
    assert!(
        page.contains(&format!(", \"{MERCHANT_ORIGIN}\");")),
        "{page}"
    );
    assert!(!page.contains("\"*\""));
    // The message carries the signed query, which verifies like a redirect.
    let signed = page
        .split("\"signed\":\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .replace("\\u0026", "&");
    let fields = gateway::redirect::verify_redirect(
        &signed,
        &merchant_redirect_keys(),
        chrono::Utc::now().timestamp() + 3600,
        std::time::Duration::from_secs(7200),
    )
    .expect("signed");
    assert_eq!(fields.get("status"), Some("authenticated"));
    assert_eq!(fields.get("flow"), Some("challenge"));
    assert_eq!(fields.get("liability_shift"), Some("true"));
    assert_eq!(answer.header("cache-control"), Some("no-store"));
}

#[tokio::test]
async fn top_completion_sends_the_top_window_to_the_signed_url() {
    let h = Harness::new().await;
    let acs = challenge_with(&h, "top-1", Some("top")).await;
    let answer = send(&h.callback().await, form_post(&acs.path, acs.form())).await;
    assert_eq!(answer.status, StatusCode::OK);
    let (nonce, page) = nonce_and_page(&answer);
    scripts_carry(&page, &nonce);
    assert!(page.contains("window.top.location.href = \"https://shop.example/checkout/return?"));
    assert!(
        page.contains("target=\"_top\""),
        "a link for browsers without scripts"
    );
}

#[tokio::test]
async fn a_merchants_default_completion_applies_and_a_check_enroll_may_ask_for_another() {
    let h = Harness::new().await;
    let mut registry = test_registry();
    registry["tenants"][2]["merchant"]["completion"] = json!("top");
    h.set_registry(&registry);
    let by_default = challenge_with(&h, "default-1", None).await;
    let answer = send(
        &h.callback().await,
        form_post(&by_default.path, by_default.form()),
    )
    .await;
    assert!(
        answer.text().contains("window.top.location.href"),
        "the merchant's default"
    );
    let asked = challenge_with(&h, "asked-1", Some("redirect")).await;
    let answer = send(&h.callback().await, form_post(&asked.path, asked.form())).await;
    assert_eq!(
        verified_redirect(&answer).1.get("status"),
        Some("authenticated")
    );

    let merchant = h.merchant().await;
    let mut bad = prepared_enroll(&h, &merchant, "bad-mode", "4000000000002503").await;
    bad["completion"] = json!("popup");
    let refused = send(&merchant, post_json(ENROLL, Some(MERCHANT_KEY), &bad)).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert_eq!(refused.json()["error"]["field"], "completion");
    assert!(
        h.sandbox.calls_to("authentication/enroll").len() == 2,
        "refused before the upstream"
    );
}

#[tokio::test]
async fn outcomes_say_their_flow_their_reason_and_a_three_valued_liability_shift() {
    let h = Harness::new().await;
    let merchant = h.merchant().await;
    let frictionless = prepared_enroll(&h, &merchant, "rich-1", "4000000000002925").await;
    send(
        &merchant,
        post_json(ENROLL, Some(MERCHANT_KEY), &frictionless),
    )
    .await;
    let view = status(&merchant, "rich-1", MERCHANT_KEY).await.json();
    assert_eq!(view["data"]["flow"], "frictionless");
    assert_eq!(view["data"]["reason"], "NOT_AUTHENTICATED");
    assert_eq!(view["data"]["liability_shift"], false);

    let acs = challenge_with(&h, "rich-2", Some("redirect")).await;
    let pending = status(&merchant, "rich-2", MERCHANT_KEY).await.json();
    assert_eq!(pending["data"]["flow"], "challenge");
    assert_eq!(pending["data"]["liability_shift"], serde_json::Value::Null);
    assert!(pending["data"].get("reason").is_none());
    let answer = send(&h.callback().await, form_post(&acs.path, acs.form())).await;
    let (_, redirect) = verified_redirect(&answer);
    assert_eq!(redirect.get("flow"), Some("challenge"));
    assert_eq!(redirect.get("liability_shift"), Some("true"));
    assert_eq!(redirect.get("reason"), None);
}

#[tokio::test]
async fn the_browser_library_is_served_as_is_with_its_published_hash() {
    let h = Harness::new().await;
    let answer = send(&h.callback().await, get("/v1/js/gateway.js", None)).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert_eq!(answer.header("access-control-allow-origin"), Some("*"));
    assert_eq!(answer.text(), ::callback::library::GATEWAY_JS);
    assert!(answer.text().contains("ThreeDSGateway"));
}

/// shop-a decides l-1 (authenticated), l-2 (failed), l-3 (authenticated), in that
/// order; shop-b one of its own.
async fn three_of_mine_and_one_of_theirs(h: &Harness) {
    let merchant = h.merchant().await;
    for (reference, card) in [
        ("l-1", "4000000000002701"),
        ("l-2", "4000000000002925"),
        ("l-3", "4000000000002701"),
    ] {
        let body = prepared_enroll(h, &merchant, reference, card).await;
        h.check_enroll(MERCHANT_KEY, &body).await;
        h.clock.advance(std::time::Duration::from_millis(10));
    }
    let body = prepared_enroll_as(
        &merchant,
        OTHER_MERCHANT_KEY,
        OTHER_MERCHANT_ORIGIN,
        "theirs",
        "4000000000002701",
    )
    .await;
    h.check_enroll(OTHER_MERCHANT_KEY, &body).await;
}

fn references(page: &Answer) -> Vec<String> {
    page.json()["data"]["authentications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["reference_code"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_merchant_lists_its_own_authentications_newest_first_without_card_data() {
    let h = Harness::new().await;
    three_of_mine_and_one_of_theirs(&h).await;

    let page = h.list_authentications("limit=2", MERCHANT_KEY).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    let data = page.json()["data"].clone();
    assert_eq!(references(&page), ["l-3", "l-2"]);
    assert_eq!(data["has_more"], true);
    assert_eq!(data["authentications"][1]["state"], "FAILED");
    assert_eq!(data["authentications"][1]["reason"], "NOT_AUTHENTICATED");
    assert!(!page.text().contains("4000000000002") && !page.text().contains("\"bin\""));

    let after = data["next_after"].as_str().unwrap();
    let rest = h
        .list_authentications(&format!("limit=2&after={after}"), MERCHANT_KEY)
        .await;
    assert_eq!(references(&rest), ["l-1"]);
    assert_eq!(rest.json()["data"]["has_more"], false);
}

#[tokio::test]
async fn a_merchants_listing_filters_by_state_and_time_and_shows_only_its_own() {
    let h = Harness::new().await;
    three_of_mine_and_one_of_theirs(&h).await;
    let failed = h.list_authentications("state=FAILED", MERCHANT_KEY).await;
    assert_eq!(references(&failed), ["l-2"]);
    let theirs = h.list_authentications("", OTHER_MERCHANT_KEY).await;
    assert_eq!(references(&theirs), ["theirs"]);
    let cross = h
        .list_authentications("after=l-1", OTHER_MERCHANT_KEY)
        .await;
    assert_eq!(
        cross.status,
        StatusCode::BAD_REQUEST,
        "another merchant's reference is not a cursor"
    );

    let later = chrono::DateTime::from_timestamp_millis(h.clock.now_ms() + 60_000)
        .unwrap()
        .to_rfc3339();
    let query = format!("created_after={}", later.replace('+', "%2B"));
    let none = h.list_authentications(&query, MERCHANT_KEY).await;
    assert_eq!(
        none.json()["data"]["authentications"],
        json!([]),
        "{}",
        none.text()
    );
    let bad = h.list_authentications("state=DONE", MERCHANT_KEY).await;
    assert_eq!(bad.json()["error"]["field"], "state");
}

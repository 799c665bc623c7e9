//! The documented key rotation, run whole against moto's Secrets Manager as an operator
//! runs it (the admin command's add, promote and remove of the session keys and of the
//! issuer's keys), with sessions and idempotent answers made before, during and after
//! it: every old session's status stays readable with its CAVV, every return URL made
//! before the promotion still validates, every kept answer still replays, and each step
//! is refused until it is safe.

use std::time::Duration;

use admin::keys::{add_keys, promote_keys, remove_key};
use admin::store::RegistryStore;
use axum::Router;
use gateway::keys::Rotation;
use gateway_tests::*;
use http::StatusCode;
use serde_json::{Value, json};

/// Longer than the functions' SECRETS_TTL_SECS (300 s by default).
const SECRETS_TTL: Duration = Duration::from_secs(301);

const ROTATION: Rotation = Rotation {
    secrets_ttl_secs: 300,
    keep_for_secs: 604_800,
};

/// The functions, on moto's secrets.
struct OnMoto {
    h: Harness,
    moto: MotoSecrets,
    merchant: Router,
    callback: Router,
    issuer: Router,
}

impl OnMoto {
    async fn start(endpoint: &str) -> Self {
        let h = Harness::new().await;
        let moto = h.on_secrets_manager(endpoint).await;
        let env = moto.env();
        let merchant = check_enroll::build(
            &check_enroll::CheckEnrollConfig::from_env(&env).unwrap(),
            &moto.platform,
        )
        .await
        .unwrap();
        let callback = ::callback::build(
            &::callback::CallbackConfig::from_env(&env).unwrap(),
            &moto.platform,
        )
        .await
        .unwrap();
        let issuer = enroll::build(
            &enroll::EnrollConfig::from_env(&env).unwrap(),
            &moto.platform,
        )
        .await
        .unwrap();
        Self {
            h,
            moto,
            merchant,
            callback,
            issuer,
        }
    }

    /// A key set's secret, as the admin command edits it.
    fn key_set(&self, id: &str) -> RegistryStore {
        RegistryStore::SecretsManager {
            client: self.moto.manager.client().clone(),
            secret_id: format!("{}/{id}", self.moto.prefix),
        }
    }

    fn now_secs(&self) -> i64 {
        self.h.clock.now_ms() / 1000
    }

    /// A frictionless authentication: its CAVV.
    async fn frictionless(&self, reference: &str) -> String {
        let body = prepared_enroll(&self.h, &self.merchant, reference, "4000000000002701").await;
        let answer = send(&self.merchant, post_json(ENROLL, Some(MERCHANT_KEY), &body)).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
        self.cavv(reference).await.expect("a CAVV")
    }

    /// The status route's CAVV of `reference` (it must answer 200).
    async fn cavv(&self, reference: &str) -> Option<String> {
        let view = status(&self.merchant, reference, MERCHANT_KEY).await;
        assert_eq!(view.status, StatusCode::OK, "{reference}: {}", view.text());
        view.json()["data"]["authentication"]["cavv"]
            .as_str()
            .map(str::to_owned)
    }

    /// A contact created under `key`: the answer.
    async fn create_contact(&self, key: &str, mobile: &str) -> Value {
        let body = json!({
            "budget_id": sandbox::state::BUDGET_ID, "first_name": "Ava", "last_name": "Lee",
            "call_prefix": "+1", "mobile": mobile, "email": "ava.lee@example.com",
            "date_of_birth": "1990-02-03", "state": "Illinois", "city": "Chicago",
            "address_line": "1 Main St", "post_code": "60601", "country_code": "US",
            "security_index": "2", "security_answer": "Oak"
        });
        let request = http::Request::post("/card/issuance/api/issuing/cardholders/v2/create")
            .header("content-type", "application/json")
            .header("x-api-key", ISSUER_KEY)
            .header("idempotency-key", key)
            .body(axum::body::Body::from(body.to_string()))
            .unwrap();
        let answer = send(&self.issuer, request).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
        answer.json()
    }

    /// Every instance has re-read its secrets.
    fn after_the_ttl(&self) {
        self.h.clock.advance(SECRETS_TTL);
    }
}

#[tokio::test]
async fn the_documented_rotation_keeps_every_session_return_url_and_kept_answer_readable() {
    let Some(endpoint) = dynamodb_endpoint() else {
        eprintln!("skipped: needs moto_server (scripts/test.sh starts it)");
        return;
    };
    let on = OnMoto::start(&endpoint).await;
    let sets = [
        on.key_set(SESSION_KEYS_SECRET),
        on.key_set(ISSUER_KEYS_SECRET),
    ];

    // Before: a decided session (its CAVV sealed) and a kept answer.
    let before = on.frictionless("rot-before").await;
    let kept = on.create_contact("rot-contact-before", "3125550201").await;

    // Step 1: new keys, known to every instance before they make anything.
    for set in &sets {
        add_keys(set, on.now_secs(), ROTATION).await.unwrap();
    }
    on.after_the_ttl();
    let during = on.frictionless("rot-during").await;
    for set in &sets {
        let early = promote_keys(set, None, None, on.now_secs(), ROTATION).await;
        assert!(early.unwrap_err().contains("added too recently"));
    }
    on.h.clock.advance(Duration::from_secs(3_600));
    // A challenge whose return URL is made under the old key, completed after promotion.
    let body = prepared_enroll(&on.h, &on.merchant, "rot-challenge", "4000000000002503").await;
    let answer = send(&on.merchant, post_json(ENROLL, Some(MERCHANT_KEY), &body)).await;
    let challenge = challenge_of("rot-challenge", body, &answer);
    let acs = at_the_acs(&challenge, "submit", "1234").await;

    // Step 2: the new keys make new values; the old ones still open and verify.
    for set in &sets {
        promote_keys(set, None, None, on.now_secs(), ROTATION)
            .await
            .unwrap();
    }
    on.after_the_ttl();
    let back = send(&on.callback, form_post(&acs.path, acs.form())).await;
    // (Its signature is checked elsewhere; here the clock has moved hours past it.)
    let location = back.header("location").unwrap_or_default().to_owned();
    assert!(
        location.contains("status=authenticated"),
        "{}: {location}",
        back.status
    );
    let after = on.frictionless("rot-after").await;
    let replayed = on.create_contact("rot-contact-before", "3125550201").await;
    assert_eq!(replayed, kept, "the answer kept under the old key replays");
    on.create_contact("rot-contact-after", "3125550202").await;
    for (reference, cavv) in [
        ("rot-before", &before),
        ("rot-during", &during),
        ("rot-after", &after),
    ] {
        assert_eq!(on.cavv(reference).await.as_ref(), Some(cavv), "{reference}");
    }
    assert!(on.cavv("rot-challenge").await.is_some());

    // Step 3: the old keys stay while anything sealed or made under them may be read.
    use gateway::secrets::{SecretDocument as _, SecretSource as _};
    let text = on
        .moto
        .manager
        .fetch(&format!("{}/{SESSION_KEYS_SECRET}", on.moto.prefix))
        .await
        .unwrap();
    let session_keys = gateway::keys::GatewayKeys::parse(&text, &()).unwrap();
    let old = session_keys.data_keys.key_ids()[1].to_owned();
    let kept_back = remove_key(&sets[0], &old, on.now_secs(), ROTATION).await;
    assert!(kept_back.unwrap_err().contains("may still be needed"));
    assert_eq!(on.cavv("rot-before").await.as_ref(), Some(&before));
}

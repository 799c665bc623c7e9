//! The demo merchant: a checkout page and the merchant's own small backend. The backend is
//! what a real merchant runs: it holds the gateway API key (the browser never sees it),
//! calls the gateway's setup and check enroll, and verifies the signed redirect that ends
//! a challenge with `gateway::redirect::verify_redirect` before showing the result. It
//! also receives the gateway's webhooks at `/demo/webhooks`, verifies them
//! (`gateway::events::webhooks::verify`), and shows them on the result page — the outcome
//! arrives there even when the browser never comes back.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use gateway::http::pages::escape;
use gateway::redirect::verify_redirect;
use serde::Deserialize;
use serde_json::{Value, json};

/// How old a signed redirect the demo accepts.
const REDIRECT_MAX_AGE: Duration = Duration::from_secs(600);

pub struct Demo {
    /// The gateway's base URL: this stack's own, or another's (`--gateway`, e.g. the
    /// routes `sam local start-api` serves).
    pub gateway: String,
    /// The demo merchant's own origin: its result page is the merchant's return URL.
    pub origin: String,
    /// The merchant the checkout plays; none when a registry file was given without
    /// `--demo-merchant-key`.
    pub merchant: Option<crate::tenants::DemoMerchant>,
    pub http: reqwest::Client,
    /// The webhooks its endpoint received and verified, newest last.
    pub webhooks: std::sync::Mutex<Vec<Value>>,
}

/// How far a webhook's timestamp may be from now (the Standard Webhooks libraries' 5 min).
const WEBHOOK_TOLERANCE: Duration = Duration::from_secs(300);

pub fn routes(demo: Arc<Demo>) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::to("/demo/") }))
        .route("/demo", get(|| async { Redirect::to("/demo/") }))
        .route("/demo/", get(checkout_page))
        .route("/demo/checkout.js", get(checkout_script))
        .route("/demo/webhooks.js", get(webhooks_script))
        .route("/demo/api/setup", post(setup))
        .route("/demo/api/enroll", post(enroll))
        .route("/demo/result", get(result))
        .route("/demo/api/cancel", post(cancel))
        .route("/demo/webhooks", post(receive_webhook))
        .route("/demo/api/webhooks", get(list_webhooks))
        .with_state(demo)
}

async fn checkout_page(State(demo): State<Arc<Demo>>) -> Html<String> {
    let rows: String = sandbox::TEST_CARDS
        .iter()
        .map(|card| {
            format!(
                "<tr class=\"card-row\" data-card=\"{n}\"><td><code>{n}</code></td><td>{net}</td><td>{s}</td></tr>",
                n = card.number,
                net = card.network,
                s = escape(card.scenario),
            )
        })
        .collect();
    // The browser library and the origin its result comes from: the gateway's, which is
    // this page's own unless the demo talks to a gateway elsewhere.
    let gateway = if demo.gateway == demo.origin {
        String::new()
    } else {
        demo.gateway.clone()
    };
    Html(
        include_str!("../assets/checkout.html")
            .replace("<!--TEST_CARDS-->", &rows)
            .replace("{{GATEWAY}}", &escape(&gateway)),
    )
}

/// Shows the webhooks the merchant received for this order on the result page.
async fn webhooks_script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("../assets/webhooks.js"),
    )
        .into_response()
}

async fn checkout_script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("../assets/checkout.js"),
    )
        .into_response()
}

impl Demo {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> Response {
        let Some(merchant) = &self.merchant else {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"message": "the demo checkout needs --demo-merchant-key with --tenants"})),
            )
                .into_response();
        };
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.gateway))
            .header("x-api-key", &merchant.api_key);
        if let Some(body) = body {
            request = request.json(body);
        }
        match request.send().await {
            Ok(response) => {
                let status = StatusCode::from_u16(response.status().as_u16())
                    .unwrap_or(StatusCode::BAD_GATEWAY);
                let body: Value = response.json().await.unwrap_or(Value::Null);
                (status, Json(body)).into_response()
            }
            Err(error) => (
                StatusCode::BAD_GATEWAY,
                Json(json!({"message": format!("gateway unreachable: {error}")})),
            )
                .into_response(),
        }
    }
}

#[derive(Deserialize)]
struct CardFields {
    card_number: String,
    expiration_date: String,
}

async fn setup(State(demo): State<Arc<Demo>>, Json(card): Json<CardFields>) -> Response {
    // Hyphenated: a 32-digit hex run could hold a Luhn-valid digit run the log scan flags.
    let reference_code = format!("demo-{}", uuid::Uuid::new_v4().hyphenated());
    let body = json!({
        "transaction_info": {"type": "setup", "reference_code": reference_code},
        "card": {"number": card.card_number, "expiration_date": card.expiration_date},
    });
    let response = demo
        .call(
            reqwest::Method::POST,
            "/v1/risk/authentication/setup",
            Some(&body),
        )
        .await;
    if !response.status().is_success() {
        return response;
    }
    let answer: Value = match axum::body::to_bytes(response.into_body(), 1 << 20).await {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        Err(_) => Value::Null,
    };
    let info = &answer["data"]["consumer_auth_info"];
    Json(json!({
        "reference_code": reference_code,
        "device_data_collection_url": info["device_data_collection_url"],
        "access_token": info["access_token"],
        "reference_id": info["reference_id"],
        "token": info["token"],
    }))
    .into_response()
}

#[derive(Deserialize)]
struct Browser {
    color_depth: String,
    screen_height: String,
    screen_width: String,
    time_offset: String,
    language: String,
    user_agent: String,
    java_enabled: bool,
    cookies_accepted: bool,
}

#[derive(Deserialize)]
struct EnrollFields {
    reference_code: String,
    card_number: String,
    expiration_date: String,
    reference_id: String,
    token: String,
    amount: String,
    currency: String,
    browser: Browser,
    /// How the challenge ends on the checkout (the gateway's `completion`).
    #[serde(default)]
    completion: Option<String>,
}

async fn enroll(State(demo): State<Arc<Demo>>, Json(fields): Json<EnrollFields>) -> Response {
    let b = &fields.browser;
    let mut body = json!({
        "transaction_info": {"type": "check_enroll", "reference_code": fields.reference_code},
        "card": {"number": fields.card_number, "expiration_date": fields.expiration_date},
        "order_info": {"amount_details": {"total_amount": fields.amount, "currency": fields.currency}},
        "bill_to": {
            "first_name": "John", "last_name": "Doe", "country": "US", "address_1": "1 Market St",
            "city": "San Francisco", "state": "CA", "phone_number": "4158880000",
            "email": "accept@gmsectec.com", "postal_code": "94105"
        },
        "buyer_info": {"mobile_phone": "4158880000"},
        "device_info": {
            "ip_address": "127.0.0.1",
            "http_browser_color_depth": b.color_depth,
            "http_browser_java_enabled": b.java_enabled,
            "http_browser_js_enabled": true,
            "http_browser_screen_height": b.screen_height,
            "http_browser_screen_width": b.screen_width,
            "http_browser_time_offset": b.time_offset,
            "user_agent": b.user_agent,
            "cookies_accepted": b.cookies_accepted,
            "http_browser_language": b.language,
            "http_accept_content": "text/html"
        },
        "authentication": {
            "reference_id": fields.reference_id,
            "return_url": format!("{}/demo/result", demo.origin),
            "device_channel": "Browser",
            "mode": "S",
            "token": fields.token
        }
    });
    if let Some(completion) = &fields.completion {
        body["completion"] = json!(completion);
    }
    demo.call(
        reqwest::Method::POST,
        "/v1/risk/authentication/enroll",
        Some(&body),
    )
    .await
}

/// What the result page shows.
struct Outcome {
    status: String,
    eci: String,
    liability_shift: String,
    proof: String,
}

fn result_page(http_status: StatusCode, outcome: &Outcome) -> Response {
    let heading = match outcome.status.as_str() {
        "authenticated" => "Payment authenticated",
        "failed" => "Payment not authenticated",
        "expired" => "Authentication expired",
        "canceled" => "Authentication canceled",
        _ => "Result unknown",
    };
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{h}</title>\
         <script>if (window.top !== window.self) {{ window.top.location.href = window.location.href; }}</script>\
         <style>body{{font-family:system-ui,sans-serif;margin:3rem auto;max-width:34rem;padding:0 1rem}}dt{{font-weight:600;margin-top:.6rem}}</style>\
         </head><body><h1 id=\"heading\">{h}</h1><dl>\
         <dt>Status</dt><dd id=\"result-status\">{s}</dd>\
         <dt>ECI</dt><dd id=\"result-eci\">{e}</dd>\
         <dt>Liability shift</dt><dd id=\"result-liability\">{l}</dd>\
         <dt>How we know</dt><dd id=\"result-proof\">{p}</dd>\
         <dt>Webhook</dt><dd id=\"result-webhook\">waiting for the gateway's webhook…</dd>\
         </dl><p><a href=\"/demo/\">Back to the checkout</a></p>\
         <script src=\"/demo/webhooks.js\"></script></body></html>",
        h = escape(heading),
        s = escape(&outcome.status),
        e = escape(&outcome.eci),
        l = escape(&outcome.liability_shift),
        p = escape(&outcome.proof),
    );
    (http_status, Html(page)).into_response()
}

/// The merchant's return page. After a challenge the gateway redirects here, signed: the
/// signature is checked before anything is shown. After a frictionless decision the
/// checkout comes here itself, and the result is read from the gateway's status API.
async fn result(State(demo): State<Arc<Demo>>, RawQuery(query): RawQuery) -> Response {
    let query = query.unwrap_or_default();
    let param = |name: &str| gateway::http::query_param(Some(&query), name);
    if param("signature").is_some() {
        return match verified(&demo, &query) {
            Ok(outcome) => result_page(StatusCode::OK, &outcome),
            Err(reason) => result_page(
                StatusCode::BAD_REQUEST,
                &Outcome {
                    status: "unknown".into(),
                    eci: "—".into(),
                    liability_shift: "—".into(),
                    proof: format!("signature rejected: {reason}"),
                },
            ),
        };
    }
    let Some(reference) = param("reference_code") else {
        return Redirect::to("/demo/").into_response();
    };
    read_status(&demo, &reference).await
}

/// What a merchant checks on its return page: the signature (by the key its `kid` names),
/// that the redirect is for this merchant (`tenant`), and that it is recent.
fn verified(demo: &Demo, query: &str) -> Result<Outcome, String> {
    let merchant = demo.merchant.as_ref().ok_or("no demo merchant")?;
    let now = chrono::Utc::now().timestamp();
    let verified = verify_redirect(query, &merchant.redirect_keys, now, REDIRECT_MAX_AGE)
        .map_err(|e| e.to_string())?;
    if verified.get("tenant") != Some(merchant.tenant.as_str()) {
        return Err("the redirect is for another merchant".into());
    }
    Ok(Outcome {
        status: verified.get("status").unwrap_or("unknown").into(),
        eci: verified.get("eci").unwrap_or("—").into(),
        liability_shift: match verified.get("liability_shift") {
            Some("true") => "yes".into(),
            _ => "no".into(),
        },
        proof: "signed redirect from the gateway, signature verified".into(),
    })
}

/// A frictionless outcome, read from the gateway's status API.
async fn read_status(demo: &Demo, reference: &str) -> Response {
    let path = format!("/v1/risk/authentication/{}", urlencoding(reference));
    let response = demo.call(reqwest::Method::GET, &path, None).await;
    let ok = response.status().is_success();
    let view: Value = match axum::body::to_bytes(response.into_body(), 1 << 20).await {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        Err(_) => Value::Null,
    };
    let data = &view["data"];
    let auth = &data["authentication"];
    let eci = auth["eci"]
        .as_str()
        .or(auth["eci_raw"].as_str())
        .unwrap_or("—");
    result_page(
        if ok {
            StatusCode::OK
        } else {
            StatusCode::BAD_GATEWAY
        },
        &Outcome {
            status: data["state"]
                .as_str()
                .unwrap_or("unknown")
                .to_ascii_lowercase(),
            eci: eci.into(),
            liability_shift: match auth["liability_shift"].as_bool() {
                Some(true) => "yes".into(),
                Some(false) => "no".into(),
                None => "—".into(),
            },
            proof: "frictionless: read from the gateway's status API".into(),
        },
    )
}

fn urlencoding(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes()).collect()
}

/// The merchant's webhook endpoint: verify, de-duplicate on `webhook-id`, keep.
async fn receive_webhook(
    State(demo): State<Arc<Demo>>,
    headers: axum::http::HeaderMap,
    body: String,
) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let Some(merchant) = demo.merchant.as_ref() else {
        return StatusCode::NOT_FOUND;
    };
    let secrets: Vec<&str> = merchant
        .webhook_secrets
        .iter()
        .map(String::as_str)
        .collect();
    let id = header("webhook-id");
    let verified = gateway::events::webhooks::verify(
        id,
        header("webhook-timestamp"),
        header("webhook-signature"),
        &body,
        &secrets,
        chrono::Utc::now().timestamp(),
        WEBHOOK_TOLERANCE,
    );
    if let Err(error) = verified {
        tracing::warn!(%error, "the demo merchant refused a webhook");
        return StatusCode::BAD_REQUEST;
    }
    let Ok(event) = serde_json::from_str::<Value>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    let mut kept = demo.webhooks.lock().expect("webhooks lock poisoned");
    // At least once: the same id may come again; it is kept once.
    if !kept.iter().any(|w| w["id"] == id) {
        kept.push(json!({
            "id": id,
            "event": event,
            "delivery": {
                "webhook-id": id,
                "webhook-timestamp": header("webhook-timestamp"),
                "webhook-signature": header("webhook-signature"),
                "body": body,
            },
        }));
    }
    StatusCode::NO_CONTENT
}

/// The webhooks received for one order (`reference_code`), for the result page.
async fn list_webhooks(State(demo): State<Arc<Demo>>, RawQuery(query): RawQuery) -> Response {
    let reference =
        gateway::http::query_param(query.as_deref(), "reference_code").unwrap_or_default();
    let kept = demo.webhooks.lock().expect("webhooks lock poisoned");
    let matching: Vec<&Value> = kept
        .iter()
        .filter(|w| w["event"]["data"]["reference_code"] == reference.as_str())
        .collect();
    Json(json!({"webhooks": matching})).into_response()
}

#[derive(Deserialize)]
struct CancelFields {
    reference_code: String,
}

/// The merchant gives up on the order: its backend cancels the pending challenge.
async fn cancel(State(demo): State<Arc<Demo>>, Json(fields): Json<CancelFields>) -> Response {
    let path = format!(
        "/v1/risk/authentication/{}/cancel",
        urlencoding(&fields.reference_code)
    );
    demo.call(reqwest::Method::POST, &path, Some(&json!({})))
        .await
}

/// `--gateway URL`: the demo merchant alone (its checkout, backend and result page) on
/// `address`, in front of a gateway served elsewhere — as a real merchant's site is. Its
/// merchant is the registry file's tenant whose API key is `api_key`.
pub async fn serve_alone(
    address: std::net::SocketAddr,
    gateway: &str,
    tenants_file: &str,
    api_key: &str,
) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|e| format!("cannot listen on {address}: {e}"))?;
    let origin = format!("http://{}", listener.local_addr().expect("bound"));
    let local = crate::tenants::local_tenants(Some(tenants_file), Some(api_key), &origin)?;
    if local.demo.is_none() {
        return Err(format!(
            "{tenants_file} has no merchant with the --demo-merchant-key"
        ));
    }
    let demo = Demo {
        gateway: gateway.to_owned(),
        origin: origin.clone(),
        merchant: local.demo,
        http: reqwest::Client::new(),
        webhooks: Default::default(),
    };
    eprintln!("\ndemo checkout {origin}/demo/ in front of the gateway at {gateway}\n");
    axum::serve(listener, routes(Arc::new(demo)))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| format!("serving the demo: {e}"))
}

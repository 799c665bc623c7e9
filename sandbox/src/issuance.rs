//! The card-issuance 3DS API (Ahrvo), stateful: cardholders, enrollments, the documented
//! 400/401/403/404/409, and 429 over the rate limit.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::state::{CardStatus, Cardholder, SandboxState};

pub const PREFIX: &str = "/card/issuance/api/issuing";

/// The card-issuance routes; `unenroll`: serve the inferred unenroll route too.
pub fn routes(unenroll: bool) -> Router<Arc<SandboxState>> {
    let router = Router::new()
        .route(
            &format!("{PREFIX}/cardholders/v2/create"),
            post(create_cardholder),
        )
        .route(
            &format!("{PREFIX}/cardholders/v2/update"),
            post(update_cardholder),
        )
        .route(
            &format!("{PREFIX}/cardholders/v2/detail"),
            get(query_cardholders),
        )
        .route(&format!("{PREFIX}/3ds/v2/enroll"), post(enroll))
        .route(&format!("{PREFIX}/3ds/v2/update"), post(update_enrollment))
        .route(&format!("{PREFIX}/3ds/v2/detail"), get(enrollment_detail))
        .route(&format!("{PREFIX}/card/v2/detail"), get(card_detail));
    if unenroll {
        router.route(&format!("{PREFIX}/3ds/v2/unenroll"), post(unenroll_card))
    } else {
        router
    }
}

/// The `card_id` query parameter of the GET routes.
fn card_id_param(query: &std::collections::HashMap<String, String>) -> Result<&str, Refusal> {
    query
        .get("card_id")
        .map(String::as_str)
        .filter(|c| !c.is_empty())
        .ok_or_else(|| {
            error(
                StatusCode::BAD_REQUEST,
                "INVALID_PARAMETER",
                "Invalid card_id",
            )
        })
}

fn card_not_found() -> Refusal {
    error(
        StatusCode::NOT_FOUND,
        "CARD_NOT_FOUND",
        "Card does not exist",
    )
}

fn card_not_enrolled() -> Refusal {
    error(
        StatusCode::NOT_FOUND,
        "CARD_NOT_ENROLLED",
        "Card is not enrolled for 3DS",
    )
}

/// An upstream error answer: `{"code", "message"}` with its status.
pub struct Refusal {
    status: StatusCode,
    code: &'static str,
    message: String,
    retry_after_secs: Option<u64>,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            Json(json!({"code": self.code, "message": self.message})),
        )
            .into_response();
        if let Some(secs) = self.retry_after_secs {
            response.headers_mut().insert("retry-after", secs.into());
        }
        response
    }
}

fn error(status: StatusCode, code: &'static str, message: &str) -> Refusal {
    Refusal {
        status,
        code,
        message: message.to_owned(),
        retry_after_secs: None,
    }
}

fn success(data: Option<Value>) -> Response {
    match data {
        Some(data) => Json(json!({"code": "SUCCESS", "data": data})).into_response(),
        None => Json(json!({"code": "SUCCESS"})).into_response(),
    }
}

/// Authentication, the 3DS feature switch and the rate limit, in the upstream's order.
fn admit(state: &SandboxState, headers: &HeaderMap) -> Result<(), Refusal> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let token_ok = header("authorization")
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| t == state.config.issuance_access_token);
    let key = header("x-api-key");
    let key_known = key == Some(&state.config.issuance_api_key)
        || key == Some(&state.config.issuance_api_key_without_3ds);
    if !token_ok || !key_known {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "Invalid or missing authentication token",
        ));
    }
    if key == Some(&state.config.issuance_api_key_without_3ds) {
        return Err(error(
            StatusCode::FORBIDDEN,
            "FEATURE_NOT_ENABLED",
            "3DS feature not enabled for this account",
        ));
    }
    let mut world = state.issuance.lock().unwrap();
    let now = Instant::now();
    let window = Duration::from_secs(10);
    while world
        .recent_requests
        .front()
        .is_some_and(|t| now.duration_since(*t) >= window)
    {
        world.recent_requests.pop_front();
    }
    let limit = state
        .issuance_limit
        .load(std::sync::atomic::Ordering::SeqCst);
    if world.recent_requests.len() >= limit {
        let oldest = *world.recent_requests.front().expect("non-empty");
        let wait = window
            .saturating_sub(now.duration_since(oldest))
            .as_secs()
            .max(1);
        return Err(Refusal {
            retry_after_secs: Some(wait),
            ..error(
                StatusCode::TOO_MANY_REQUESTS,
                "TOO_MANY_REQUESTS",
                "Rate limit of 1000 requests per 10 seconds exceeded",
            )
        });
    }
    world.recent_requests.push_back(now);
    Ok(())
}

/// The body as an object, or the 400 the upstream gives for an unreadable one.
fn object(body: &[u8]) -> Result<serde_json::Map<String, Value>, Refusal> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(error(
            StatusCode::BAD_REQUEST,
            "INVALID_PARAMETER",
            "Request body must be a JSON object",
        )),
    }
}

/// The longest contact field the sandbox takes, in characters. The upstream documents no
/// length; this is the longest the gateway's own checks let through (an email of 254; free
/// text is shorter), so a refusal here is never of a value the gateway passed as valid
/// (the contract fuzzer holds the two to that).
const MAX_FIELD_CHARS: usize = 254;

fn required(map: &serde_json::Map<String, Value>, field: &str) -> Result<String, Refusal> {
    match map.get(field).and_then(Value::as_str).map(str::trim) {
        Some(v) if !v.is_empty() && v.chars().count() <= MAX_FIELD_CHARS => Ok(v.to_owned()),
        _ => Err(error(
            StatusCode::BAD_REQUEST,
            "INVALID_PARAMETER",
            &format!("Invalid {field}"),
        )),
    }
}

const CONTACT_FIELDS: [&str; 11] = [
    "call_prefix",
    "mobile",
    "email",
    "date_of_birth",
    "state",
    "city",
    "address_line",
    "post_code",
    "country_code",
    "security_index",
    "security_answer",
];

fn security_question(index: &str) -> &'static str {
    match index {
        "1" => "What is the name of your first pet?",
        "2" => "What is your maternal grandmother's maiden name?",
        "3" => "What is the name of your favourite childhood friend?",
        "4" => "What was the make of your first car?",
        "5" => "In what city did your parents meet?",
        _ => "Security question",
    }
}

fn country_name(code: &str) -> String {
    match code {
        "US" => "United States",
        "GB" => "United Kingdom",
        "MX" => "Mexico",
        "CA" => "Canada",
        "AU" => "Australia",
        "HK" => "Hong Kong",
        "SG" => "Singapore",
        "FR" => "France",
        "JP" => "Japan",
        other => other,
    }
    .to_owned()
}

fn cardholder_json(c: &Cardholder) -> Value {
    json!({
        "cardholder_id": c.cardholder_id, "budget_id": c.budget_id,
        "first_name": c.first_name, "last_name": c.last_name, "email": c.email,
        "call_prefix": c.call_prefix, "mobile": c.mobile, "date_of_birth": c.date_of_birth,
        "country": country_name(&c.country_code), "country_code": c.country_code,
        "state": c.state, "city": c.city, "address_line": c.address_line,
        "post_code": c.post_code, "security_index": c.security_index,
        "security_question": security_question(&c.security_index),
        "security_answer": c.security_answer,
    })
}

fn apply_contact(c: &mut Cardholder, fields: &[(&str, String)]) {
    for (name, value) in fields {
        let slot = match *name {
            "call_prefix" => &mut c.call_prefix,
            "mobile" => &mut c.mobile,
            "email" => &mut c.email,
            "date_of_birth" => &mut c.date_of_birth,
            "state" => &mut c.state,
            "city" => &mut c.city,
            "address_line" => &mut c.address_line,
            "post_code" => &mut c.post_code,
            "country_code" => &mut c.country_code,
            "security_index" => &mut c.security_index,
            "security_answer" => &mut c.security_answer,
            _ => continue,
        };
        *slot = value.clone();
    }
}

fn contact(map: &serde_json::Map<String, Value>) -> Result<Vec<(&'static str, String)>, Refusal> {
    CONTACT_FIELDS
        .iter()
        .map(|f| required(map, f).map(|v| (*f, v)))
        .collect()
}

async fn create_cardholder(
    State(state): State<Arc<SandboxState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, Refusal> {
    admit(&state, &headers)?;
    let map = object(&body)?;
    let budget_id = required(&map, "budget_id")?;
    let first_name = required(&map, "first_name")?;
    let last_name = required(&map, "last_name")?;
    let fields = contact(&map)?;
    let mut world = state.issuance.lock().unwrap();
    if !world.budgets.contains(&budget_id) {
        return Err(error(
            StatusCode::NOT_FOUND,
            "BUDGET_NOT_FOUND",
            "Budget does not exist",
        ));
    }
    world.next_cardholder_id += 1;
    let id = world.next_cardholder_id.to_string();
    let mut cardholder = Cardholder {
        cardholder_id: id.clone(),
        budget_id,
        first_name,
        last_name,
        ..Cardholder::default()
    };
    apply_contact(&mut cardholder, &fields);
    world.cardholders.insert(id.clone(), cardholder);
    Ok(success(Some(json!({"cardholder_id": id}))))
}

async fn update_cardholder(
    State(state): State<Arc<SandboxState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, Refusal> {
    admit(&state, &headers)?;
    let map = object(&body)?;
    let id = required(&map, "cardholder_id")?;
    let fields = contact(&map)?;
    let mut world = state.issuance.lock().unwrap();
    let cardholder = world.cardholders.get_mut(&id).ok_or_else(|| {
        error(
            StatusCode::NOT_FOUND,
            "CARDHOLDER_NOT_FOUND",
            "Cardholder does not exist",
        )
    })?;
    apply_contact(cardholder, &fields);
    Ok(success(None))
}

async fn query_cardholders(
    State(state): State<Arc<SandboxState>>,
    headers: HeaderMap,
    Query(query): Query<std::collections::HashMap<String, String>>,
) -> Result<Response, Refusal> {
    admit(&state, &headers)?;
    let number = |name: &str, default: usize| {
        query
            .get(name)
            .and_then(|p| p.parse().ok())
            .unwrap_or(default)
    };
    let page_no = number("page_no", 1).max(1);
    let page_size = number("page_size", 20).clamp(1, 100);
    let budget = query.get("budget_id");
    let holder = query.get("cardholder_id");
    if budget.is_none() && holder.is_none() {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "INVALID_PARAMETER",
            "budget_id or cardholder_id is required",
        ));
    }
    let world = state.issuance.lock().unwrap();
    let matching: Vec<&Cardholder> = world
        .cardholders
        .values()
        .filter(|c| budget.is_none_or(|b| *b == c.budget_id))
        .filter(|c| holder.is_none_or(|h| *h == c.cardholder_id))
        .collect();
    let list: Vec<Value> = matching
        .iter()
        .skip((page_no - 1) * page_size)
        .take(page_size)
        .map(|c| cardholder_json(c))
        .collect();
    Ok(success(Some(
        json!({"total": matching.len(), "list": list}),
    )))
}

/// Checks card and cardholder exist (404s) and returns their ids.
fn card_and_cardholder(state: &SandboxState, body: &[u8]) -> Result<(String, String), Refusal> {
    let map = object(body)?;
    let card_id = required(&map, "card_id")?;
    let cardholder_id = required(&map, "cardholder_id")?;
    let world = state.issuance.lock().unwrap();
    if !world.cards.contains_key(&card_id) {
        return Err(card_not_found());
    }
    if !world.cardholders.contains_key(&cardholder_id) {
        return Err(error(
            StatusCode::NOT_FOUND,
            "CARDHOLDER_NOT_FOUND",
            "Cardholder does not exist",
        ));
    }
    Ok((card_id, cardholder_id))
}

async fn enroll(
    State(state): State<Arc<SandboxState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, Refusal> {
    admit(&state, &headers)?;
    let (card_id, cardholder_id) = card_and_cardholder(&state, &body)?;
    let mut world = state.issuance.lock().unwrap();
    if world.cards.get(&card_id).map(|c| c.card_status) == Some(CardStatus::Inactive) {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "CARD_NOT_ACTIVE",
            "The card must be active to be enrolled for 3DS",
        ));
    }
    if world.enrollments.contains_key(&card_id) {
        return Err(error(
            StatusCode::CONFLICT,
            "CARD_ALREADY_ENROLLED",
            "Card already enrolled for 3DS",
        ));
    }
    world.enrollments.insert(card_id, cardholder_id);
    Ok(success(Some(json!({"isSuccess": true}))))
}

async fn update_enrollment(
    State(state): State<Arc<SandboxState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, Refusal> {
    admit(&state, &headers)?;
    let (card_id, cardholder_id) = card_and_cardholder(&state, &body)?;
    let mut world = state.issuance.lock().unwrap();
    let linked = world
        .enrollments
        .get_mut(&card_id)
        .ok_or_else(card_not_enrolled)?;
    *linked = cardholder_id;
    Ok(success(None))
}

async fn enrollment_detail(
    State(state): State<Arc<SandboxState>>,
    headers: HeaderMap,
    Query(query): Query<std::collections::HashMap<String, String>>,
) -> Result<Response, Refusal> {
    admit(&state, &headers)?;
    let card_id = card_id_param(&query)?;
    let world = state.issuance.lock().unwrap();
    if !world.cards.contains_key(card_id) {
        return Err(card_not_found());
    }
    let cardholder = world
        .enrollments
        .get(card_id)
        .and_then(|id| world.cardholders.get(id))
        .ok_or_else(card_not_enrolled)?;
    Ok(success(Some(cardholder_json(cardholder))))
}

/// `GET card/v2/detail?card_id=` (inferred: the single-card sibling of the documented
/// `card/v2/detail-list`): the card's status and the budget it was issued from.
async fn card_detail(
    State(state): State<Arc<SandboxState>>,
    headers: HeaderMap,
    Query(query): Query<std::collections::HashMap<String, String>>,
) -> Result<Response, Refusal> {
    admit(&state, &headers)?;
    let card_id = card_id_param(&query)?;
    let world = state.issuance.lock().unwrap();
    let card = world.cards.get(card_id).ok_or_else(card_not_found)?;
    Ok(success(Some(json!({
        "card_id": card_id,
        "budget_id": card.budget_id,
        "card_status": card.card_status,
        "type": "SHARE",
    }))))
}

/// `POST 3ds/v2/unenroll` (inferred, with the path and envelope of its siblings): the
/// card's 3DS link is removed; 404 `CARD_NOT_ENROLLED` if it has none.
async fn unenroll_card(
    State(state): State<Arc<SandboxState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, Refusal> {
    admit(&state, &headers)?;
    let map = object(&body)?;
    let card_id = required(&map, "card_id")?;
    let mut world = state.issuance.lock().unwrap();
    if !world.cards.contains_key(&card_id) {
        return Err(card_not_found());
    }
    if world.enrollments.remove(&card_id).is_none() {
        return Err(card_not_enrolled());
    }
    Ok(success(Some(json!({"isSuccess": true}))))
}

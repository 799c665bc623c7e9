//! The payer-authentication API (Firstoken, wrapping Cybersource/Cardinal): setup, check
//! enroll and validate, driven by the Cardinal sandbox test cards.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::jwt;
use crate::state::{Challenge, ChallengeStatus, SandboxState};

/// A 3DS result as the issuer would give it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub successful: bool,
    pub pares_status: &'static str,
    /// ECI (for Mastercard the `eci_raw`; Mastercard returns no `eci`).
    pub eci: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Enroll decides: no challenge.
    Frictionless(Outcome),
    /// Enroll answers `Pending_authentication`; validate gives this after the
    /// cardholder passes the challenge.
    StepUp(Outcome),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestCard {
    pub number: &'static str,
    pub network: &'static str,
    pub scenario: &'static str,
    pub flow: Flow,
}

const fn ok(pares_status: &'static str, eci: &'static str) -> Outcome {
    Outcome {
        successful: true,
        pares_status,
        eci,
    }
}

const fn no(pares_status: &'static str, eci: &'static str) -> Outcome {
    Outcome {
        successful: false,
        pares_status,
        eci,
    }
}

macro_rules! card {
    ($number:literal, $network:literal, $scenario:literal, $flow:expr) => {
        TestCard {
            number: $number,
            network: $network,
            scenario: $scenario,
            flow: $flow,
        }
    };
}

/// The Cardinal/Cybersource 3DS 2.2 sandbox cards (upstream-apis.md C.7). Any expiry in
/// the future works.
pub static TEST_CARDS: &[TestCard] = &[
    card!(
        "4000000000002701",
        "VISA",
        "frictionless success",
        Flow::Frictionless(ok("Y", "05"))
    ),
    card!(
        "4000000000002925",
        "VISA",
        "frictionless failed",
        Flow::Frictionless(no("N", "07"))
    ),
    card!(
        "4000000000002719",
        "VISA",
        "frictionless attempts",
        Flow::Frictionless(ok("A", "06"))
    ),
    card!(
        "4000000000002313",
        "VISA",
        "frictionless unavailable",
        Flow::Frictionless(no("U", "07"))
    ),
    card!(
        "4000000000002537",
        "VISA",
        "frictionless rejected",
        Flow::Frictionless(no("R", "07"))
    ),
    card!(
        "4000000000002503",
        "VISA",
        "step-up success",
        Flow::StepUp(ok("Y", "05"))
    ),
    card!(
        "4000000000002370",
        "VISA",
        "step-up failed",
        Flow::StepUp(no("N", "07"))
    ),
    card!(
        "4000000000002420",
        "VISA",
        "step-up unavailable",
        Flow::StepUp(ok("U", "07"))
    ),
    card!(
        "5200000000002235",
        "MASTERCARD",
        "frictionless success",
        Flow::Frictionless(ok("Y", "02"))
    ),
    card!(
        "5200000000002276",
        "MASTERCARD",
        "frictionless failed",
        Flow::Frictionless(no("N", "00"))
    ),
    card!(
        "5200000000002151",
        "MASTERCARD",
        "step-up success",
        Flow::StepUp(ok("Y", "02"))
    ),
    card!(
        "5200000000002490",
        "MASTERCARD",
        "step-up failed",
        Flow::StepUp(no("N", "00"))
    ),
    card!(
        "5200000000002664",
        "MASTERCARD",
        "step-up unavailable",
        Flow::StepUp(ok("U", "00"))
    ),
    card!(
        "340000000002534",
        "AMEX",
        "step-up success",
        Flow::StepUp(ok("Y", "05"))
    ),
    card!(
        "340000000002237",
        "AMEX",
        "frictionless failed",
        Flow::Frictionless(no("N", "07"))
    ),
];

static GENERIC: [TestCard; 3] = [
    card!(
        "",
        "VISA",
        "enrolled, frictionless success",
        Flow::Frictionless(ok("Y", "05"))
    ),
    card!(
        "",
        "MASTERCARD",
        "enrolled, frictionless success",
        Flow::Frictionless(ok("Y", "02"))
    ),
    card!(
        "",
        "AMEX",
        "enrolled, frictionless success",
        Flow::Frictionless(ok("Y", "05"))
    ),
];

/// The test card for a number; other numbers (and token expressions) authenticate
/// frictionlessly.
pub fn test_card(number: &str) -> &'static TestCard {
    if let Some(card) = TEST_CARDS.iter().find(|c| c.number == number) {
        return card;
    }
    match number.as_bytes().first() {
        Some(b'5' | b'2') => &GENERIC[1],
        Some(b'3') => &GENERIC[2],
        _ => &GENERIC[0],
    }
}

pub fn routes() -> Router<Arc<SandboxState>> {
    Router::new()
        .route("/v1/risk/authentication/setup", post(setup))
        .route("/v1/risk/authentication/enroll", post(enroll))
        .route("/v1/risk/authentication/validate", post(validate))
}

/// An upstream refusal: `{"status": "fail", "message", "data": ""}` with its status.
pub struct Failure(StatusCode, String);

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let body = json!({"status": "fail", "message": self.1, "data": ""});
        (self.0, Json(body)).into_response()
    }
}

fn fail(status: StatusCode, message: &str) -> Failure {
    Failure(status, message.to_owned())
}

fn digits(n: usize) -> String {
    (0..n)
        .map(|_| char::from(b'0' + fastrand::u8(0..10)))
        .collect()
}

fn alnum(n: usize) -> String {
    (0..n).map(|_| fastrand::alphanumeric()).collect()
}

fn random_b64(bytes: usize) -> String {
    STANDARD.encode((0..bytes).map(|_| fastrand::u8(..)).collect::<Vec<_>>())
}

/// SHA-256 of `purpose` and `seed`, hex.
fn derived(purpose: &str, seed: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("{purpose}:{seed}").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Setup's device-data reference: random, or derived from the reference code.
fn reference_id_for(state: &SandboxState, reference_code: &str) -> String {
    if !state.config.deterministic_ids {
        return uuid::Uuid::new_v4().to_string();
    }
    let h = derived("reference_id", reference_code);
    format!(
        "{}-{}-4{}-8{}-{}",
        &h[..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

/// The authentication transaction id (20 characters, as Cardinal's).
fn transaction_id_for(state: &SandboxState, reference_code: &str) -> String {
    if !state.config.deterministic_ids {
        return alnum(20);
    }
    derived("transaction_id", reference_code)[..20].to_owned()
}

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn str_at<'a>(body: &'a Value, pointer: &str) -> Option<&'a str> {
    body.pointer(pointer)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// API key, JSON body, `transaction_info.type`, `reference_code` and card: what every
/// call needs. Returns the body and the resolved card number.
fn admit(
    state: &SandboxState,
    headers: &HeaderMap,
    body: &[u8],
    kind: &str,
) -> Result<(Value, String, String), Failure> {
    let key = headers.get("x-api-key").and_then(|v| v.to_str().ok());
    if key != Some(state.config.payer_auth_api_key.as_str()) {
        return Err(fail(StatusCode::UNAUTHORIZED, "Invalid API key"));
    }
    let body: Value = serde_json::from_slice(body)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| fail(StatusCode::BAD_REQUEST, "Malformed request body"))?;
    if str_at(&body, "/transaction_info/type") != Some(kind) {
        return Err(fail(
            StatusCode::BAD_REQUEST,
            &format!("transaction_info.type must be {kind}"),
        ));
    }
    let reference_code = str_at(&body, "/transaction_info/reference_code")
        .ok_or_else(|| {
            fail(
                StatusCode::BAD_REQUEST,
                "transaction_info.reference_code is required",
            )
        })?
        .to_owned();
    let number = str_at(&body, "/card/number")
        .ok_or_else(|| fail(StatusCode::BAD_REQUEST, "card.number is required"))?;
    str_at(&body, "/card/expiration_date")
        .ok_or_else(|| fail(StatusCode::BAD_REQUEST, "card.expiration_date is required"))?;
    // Token expressions resolve to the frictionless-success card.
    let number = if number.starts_with("{{") {
        "4000000000002701"
    } else {
        number
    }
    .to_owned();
    Ok((body, reference_code, number))
}

fn transaction_info(kind: &str, reference_code: &str, status: &str) -> Value {
    json!({
        "type": kind,
        "transaction_id": digits(22),
        "reference_code": reference_code,
        "request_id": digits(22),
        "status": status,
        "created_at": now_rfc3339(),
    })
}

fn commerce_indicator(network: &str, outcome: &Outcome) -> &'static str {
    match (network, outcome.successful, outcome.pares_status) {
        ("MASTERCARD", true, _) => "spa",
        ("AMEX", true, "A") => "aesk_attempted",
        ("AMEX", true, _) => "aesk",
        (_, true, "A") => "vbv_attempted",
        (_, true, _) => "vbv",
        _ => "internet",
    }
}

/// `consumer_auth_info` for a decided authentication, in the seed's field names.
fn decided_auth_info(card: &TestCard, outcome: &Outcome, tid: &str, ids: [&str; 3]) -> Value {
    let mut info = json!({
        "eci_raw": outcome.eci,
        "token": random_b64(40),
        "commerce_indicator": commerce_indicator(card.network, outcome),
        "pares_status": outcome.pares_status,
        "veres_enrolled": "Y",
        "acs_transaction_id": ids[0],
        "authentication_transaction_id": tid,
        "specificationVersion": "2.2.0",
        "tree_dss_server_transaction_id": ids[1],
        "directory_server_transaction_id": ids[2],
        "acs_reference_number": "Cardinal ACS",
    });
    // Mastercard returns only eci_raw.
    if card.network != "MASTERCARD" {
        info["eci"] = json!(outcome.eci);
    }
    if outcome.successful && matches!(outcome.pares_status, "Y" | "A") {
        let cavv = random_b64(20);
        info["cavv"] = json!(cavv);
        if card.network != "MASTERCARD" {
            info["xid"] = json!(cavv);
        }
    }
    if !outcome.successful {
        info["signed_pares_status_reason"] = json!("01");
    }
    info
}

fn card_info(card: &TestCard, number: &str) -> Value {
    json!({"bin": number.get(..6).unwrap_or(number), "type": card.network})
}

fn status_of(outcome: &Outcome) -> &'static str {
    if outcome.successful {
        "Authentication_successful"
    } else {
        "Authentication_failed"
    }
}

async fn setup(
    State(state): State<Arc<SandboxState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, Failure> {
    let (_, reference_code, _) = admit(&state, &headers, &body, "setup")?;
    let reference_id = reference_id_for(&state, &reference_code);
    state
        .payer
        .lock()
        .unwrap()
        .setups
        .insert(reference_id.clone(), reference_code.clone());
    let iat = chrono::Utc::now().timestamp();
    let access_token = jwt::sign(
        &state.jwt_secret,
        &json!({"jti": uuid::Uuid::new_v4().to_string(), "iat": iat, "exp": iat + 3600,
                "iss": "sandbox-api-key-id", "OrgUnitId": "sandbox-org-unit", "ReferenceId": reference_id}),
    );
    let info = transaction_info("setup_auth_response", &reference_code, "Completed");
    Ok(Json(json!({
        "status": "success",
        "message": "Payer authentication setup successful",
        "data": {
            "transaction_info": info,
            "consumer_auth_info": {
                "access_token": access_token,
                "device_data_collection_url": format!("{}/V1/Cruise/Collect", state.base_url),
                "reference_id": reference_id,
                "token": random_b64(38),
            }
        }
    }))
    .into_response())
}

async fn enroll(
    State(state): State<Arc<SandboxState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, Failure> {
    let (body, reference_code, number) = admit(&state, &headers, &body, "check_enroll")?;
    for required in [
        "/order_info/amount_details/total_amount",
        "/order_info/amount_details/currency",
        "/authentication/reference_id",
        "/authentication/return_url",
    ] {
        if str_at(&body, required).is_none() {
            let field = required.trim_start_matches('/').replace('/', ".");
            return Err(fail(
                StatusCode::BAD_REQUEST,
                &format!("{field} is required"),
            ));
        }
    }
    let reference_id = str_at(&body, "/authentication/reference_id").unwrap_or_default();
    if !state
        .payer
        .lock()
        .unwrap()
        .setups
        .contains_key(reference_id)
    {
        return Err(fail(
            StatusCode::BAD_REQUEST,
            "authentication.reference_id is unknown: run setup first",
        ));
    }
    let card = test_card(&number);
    let tid = transaction_id_for(&state, &reference_code);
    let ids = [
        uuid::Uuid::new_v4().to_string(),
        uuid::Uuid::new_v4().to_string(),
        uuid::Uuid::new_v4().to_string(),
    ];
    let ids_ref = [ids[0].as_str(), ids[1].as_str(), ids[2].as_str()];
    match card.flow {
        Flow::Frictionless(outcome) => {
            let message = if outcome.successful {
                "Check enroll successful, authentication succeded"
            } else {
                "Check enroll successful, authentication failed"
            };
            Ok(Json(json!({
                "status": "success",
                "message": message,
                "data": {
                    "transaction_info": transaction_info("check_enroll_response", &reference_code, status_of(&outcome)),
                    "card": card_info(card, &number),
                    "consumer_auth_info": decided_auth_info(card, &outcome, &tid, ids_ref),
                }
            }))
            .into_response())
        }
        Flow::StepUp(_) => {
            let return_url = str_at(&body, "/authentication/return_url")
                .unwrap_or_default()
                .to_owned();
            let creq = json!({"messageType": "CReq", "messageVersion": "2.2.0", "threeDSServerTransID": ids[1], "acsTransID": ids[0], "challengeWindowSize": "02"});
            let pareq = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(creq.to_string());
            let acs_url = format!("{}/MerchantACSWeb/creq.jsp", state.base_url);
            let iat = chrono::Utc::now().timestamp();
            let access_token = jwt::sign(
                &state.jwt_secret,
                &json!({"jti": uuid::Uuid::new_v4().to_string(), "iat": iat, "exp": iat + 600,
                        "iss": "sandbox-api-key-id", "OrgUnitId": "sandbox-org-unit",
                        "ReturnUrl": return_url, "ReferenceId": reference_id,
                        "Payload": {"ACSUrl": acs_url, "Payload": pareq, "TransactionId": tid},
                        "ObjectifyPayload": true}),
            );
            state.payer.lock().unwrap().challenges.insert(
                tid.clone(),
                Challenge {
                    reference_code: reference_code.clone(),
                    card,
                    bin: number.get(..6).unwrap_or(&number).to_owned(),
                    return_url,
                    status: ChallengeStatus::Pending,
                    acs_transaction_id: ids[0].clone(),
                    server_transaction_id: ids[1].clone(),
                    ds_transaction_id: ids[2].clone(),
                },
            );
            Ok(Json(json!({
                "status": "success",
                "message": "Check enroll successful, authentication pending",
                "data": {
                    "transaction_info": transaction_info("check_enroll_response", &reference_code, "Pending_authentication"),
                    "card": card_info(card, &number),
                    "consumer_auth_info": {
                        "token": random_b64(40),
                        "acs_transaction_id": ids[0],
                        "authentication_transaction_id": tid,
                        "specificationVersion": "2.2.0",
                        "tree_dss_server_transaction_id": ids[1],
                        "directory_server_transaction_id": ids[2],
                        "acs_reference_number": "Cardinal ACS",
                        "pares_status": "C",
                        "veres_enrolled": "Y",
                        "acs_url": acs_url,
                        "challenge_required": "Y",
                        "pareq": pareq,
                        "stepup_url": format!("{}/V2/Cruise/StepUp", state.base_url),
                        "access_token": access_token,
                    },
                    "error": {
                        "reason": "CONSUMER_AUTHENTICATION_REQUIRED",
                        "message": "The cardholder is enrolled in Payer Authentication. Please authenticate the cardholder before continuing with the transaction."
                    }
                }
            }))
            .into_response())
        }
    }
}

async fn validate(
    State(state): State<Arc<SandboxState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, Failure> {
    let (body, reference_code, number) = admit(&state, &headers, &body, "validate_result")?;
    let Some(tid) = str_at(&body, "/authentication/transaction_id") else {
        return Err(fail(
            StatusCode::BAD_REQUEST,
            "authentication.transaction_id is required",
        ));
    };
    let challenge = state.payer.lock().unwrap().challenges.get(tid).cloned();
    let Some(challenge) = challenge else {
        return Err(fail(
            StatusCode::BAD_REQUEST,
            "authentication.transaction_id is unknown",
        ));
    };
    if challenge.reference_code != reference_code || challenge.card.number != number {
        return Err(fail(
            StatusCode::BAD_REQUEST,
            "reference_code or card does not match the authentication",
        ));
    }
    let Flow::StepUp(passed) = challenge.card.flow else {
        return Err(fail(
            StatusCode::BAD_REQUEST,
            "no challenge was issued for this authentication",
        ));
    };
    let failed_eci = if challenge.card.network == "MASTERCARD" {
        "00"
    } else {
        "07"
    };
    let (outcome, cancelled) = match challenge.status {
        ChallengeStatus::Pending => {
            return Err(fail(
                StatusCode::BAD_REQUEST,
                "the cardholder has not completed the challenge",
            ));
        }
        ChallengeStatus::Passed => (passed, false),
        ChallengeStatus::Failed => (no("N", failed_eci), false),
        ChallengeStatus::Cancelled => (no("N", failed_eci), true),
    };
    let ids = [
        challenge.acs_transaction_id.as_str(),
        challenge.server_transaction_id.as_str(),
        challenge.ds_transaction_id.as_str(),
    ];
    let mut info = decided_auth_info(challenge.card, &outcome, tid, ids);
    info["authentication_result"] = json!(if outcome.successful { "0" } else { "9" });
    info["authentication_status_msg"] = json!(if outcome.successful {
        "Success"
    } else {
        "Failure"
    });
    if cancelled {
        info["challenge_cancel_indicator"] = json!("01");
    }
    let message = if outcome.successful {
        "Validation successful, authentication succeeded"
    } else {
        "Validation successful, authentication failed"
    };
    Ok(Json(json!({
        "status": "success",
        "message": message,
        "data": {
            "transaction_info": transaction_info("validate_result_response", &reference_code, status_of(&outcome)),
            "card": {"bin": challenge.bin, "type": challenge.card.network},
            "consumer_auth_info": info,
        }
    }))
    .into_response())
}

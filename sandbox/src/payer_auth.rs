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

use crate::cards::{Flow, Outcome, TestCard, commerce_indicator, no, test_card};
use crate::ids::{Ids, derived};
use crate::jwt;
use crate::state::{Challenge, ChallengeStatus, SandboxState};

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

/// The authentication's identifiers: random, or derived from the reference code
/// (`--deterministic-ids`).
fn ids_for(state: &SandboxState, reference_code: &str) -> Ids {
    if state.config.deterministic_ids {
        Ids::derived_from(reference_code)
    } else {
        Ids::random()
    }
}

/// The common fields of every `consumer_auth_info` (seed: "all scenarios").
fn auth_info(ids: &Ids, tid: &str) -> Value {
    json!({
        "token": random_b64(40),
        "acs_transaction_id": ids.acs_transaction_id,
        "authentication_transaction_id": tid,
        "specificationVersion": "2.2.0",
        "tree_dss_server_transaction_id": ids.three_ds_server_transaction_id,
        "directory_server_transaction_id": ids.directory_server_transaction_id,
        "acs_reference_number": Ids::ACS_REFERENCE_NUMBER,
    })
}

/// `consumer_auth_info` for a decided authentication, in the seed's field names.
fn decided_auth_info(card: &TestCard, outcome: &Outcome, tid: &str, ids: &Ids) -> Value {
    let mut info = auth_info(ids, tid);
    info["eci_raw"] = json!(outcome.eci);
    info["commerce_indicator"] = json!(commerce_indicator(card.network, outcome));
    info["pares_status"] = json!(outcome.pares_status);
    info["veres_enrolled"] = json!("Y");
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
    if let Some(reason) = outcome.reason() {
        info["signed_pares_status_reason"] = json!(reason);
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
    let ids = ids_for(&state, &reference_code);
    let data = match card.flow {
        Flow::Frictionless(outcome) => json!({
            "transaction_info": transaction_info("check_enroll_response", &reference_code, status_of(&outcome)),
            "card": card_info(card, &number),
            "consumer_auth_info": decided_auth_info(card, &outcome, &tid, &ids),
        }),
        Flow::StepUp(_) => step_up(&state, &body, card, &number, &reference_code, &tid, ids),
    };
    let message = match card.flow {
        Flow::Frictionless(outcome) if outcome.successful => {
            "Check enroll successful, authentication succeded"
        }
        Flow::Frictionless(_) => "Check enroll successful, authentication failed",
        Flow::StepUp(_) => "Check enroll successful, authentication pending",
    };
    Ok(Json(json!({"status": "success", "message": message, "data": data})).into_response())
}

/// A challenge: recorded for the step-up pages and validate, answered pending.
fn step_up(
    state: &SandboxState,
    body: &Value,
    card: &'static TestCard,
    number: &str,
    reference_code: &str,
    tid: &str,
    ids: Ids,
) -> Value {
    let return_url = str_at(body, "/authentication/return_url")
        .unwrap_or_default()
        .to_owned();
    let reference_id = str_at(body, "/authentication/reference_id").unwrap_or_default();
    let creq = json!({"messageType": "CReq", "messageVersion": "2.2.0", "threeDSServerTransID": ids.three_ds_server_transaction_id, "acsTransID": ids.acs_transaction_id, "challengeWindowSize": "02"});
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
    let mut info = auth_info(&ids, tid);
    for (field, value) in [
        ("pares_status", json!("C")),
        ("veres_enrolled", json!("Y")),
        ("acs_url", json!(acs_url)),
        ("challenge_required", json!("Y")),
        ("pareq", json!(pareq)),
        (
            "stepup_url",
            json!(format!("{}/V2/Cruise/StepUp", state.base_url)),
        ),
        ("access_token", json!(access_token)),
    ] {
        info[field] = value;
    }
    state.payer.lock().unwrap().challenges.insert(
        tid.to_owned(),
        Challenge {
            reference_code: reference_code.to_owned(),
            card,
            bin: number.get(..6).unwrap_or(number).to_owned(),
            return_url,
            status: ChallengeStatus::Pending,
            ids,
        },
    );
    json!({
        "transaction_info": transaction_info("check_enroll_response", reference_code, "Pending_authentication"),
        "card": card_info(card, number),
        "consumer_auth_info": info,
        "error": {
            "reason": "CONSUMER_AUTHENTICATION_REQUIRED",
            "message": "The cardholder is enrolled in Payer Authentication. Please authenticate the cardholder before continuing with the transaction."
        }
    })
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
    let mut info = decided_auth_info(challenge.card, &outcome, tid, &challenge.ids);
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

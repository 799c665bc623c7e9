//! The Cardinal-style browser pages: device data collection (hidden iframe after setup)
//! and the step-up challenge (iframe after a pending enroll), which ends by auto-posting
//! `TransactionId` and `MD` to the session's return URL, as Cardinal does.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::post;
use serde_json::Value;

use crate::jwt;
use crate::state::{ChallengeStatus, SandboxState};

pub fn routes() -> Router<Arc<SandboxState>> {
    Router::new()
        .route("/V1/Cruise/Collect", post(collect))
        .route("/V2/Cruise/StepUp", post(step_up))
        .route("/V2/Cruise/StepUp/complete", post(complete))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:1.5rem;color:#1f2933}h1{font-size:1.1rem}input{font-size:1.1rem;padding:.3rem;width:8rem}button{font-size:1rem;margin:.5rem .5rem 0 0;padding:.4rem .9rem}";

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style></head><body>{body}</body></html>",
        escape(title)
    ))
}

fn refused(message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        page(
            "Sandbox ACS",
            &format!("<h1>Sandbox ACS</h1><p>{}</p>", escape(message)),
        ),
    )
        .into_response()
}

/// Device data collection: accepts the setup JWT and tells the parent page it is done.
async fn collect(
    State(state): State<Arc<SandboxState>>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let Some(claims) = form
        .get("JWT")
        .and_then(|t| jwt::verify(&state.jwt_secret, t))
    else {
        return refused("The device data collection token is missing or invalid.");
    };
    let reference_id = claims
        .get("ReferenceId")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let message = serde_json::json!({
        "MessageType": "profile.completed",
        "SessionId": format!("0_{reference_id}"),
        "Status": true,
        "Payload": {"ActionCode": "SUCCESS", "SessionId": format!("0_{reference_id}"),
                    "DataSources": {"CardinalData": {"Attempted": true, "Completed": true}}}
    });
    page(
        "Device data collection",
        &format!(
            "<p>Collecting device data…</p><script>window.parent.postMessage({}, '*');</script>",
            serde_json::to_string(&message.to_string()).expect("string")
        ),
    )
    .into_response()
}

/// The challenge: the merchant page form-posts the step-up JWT (and optional `MD`) here.
async fn step_up(
    State(state): State<Arc<SandboxState>>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let Some(claims) = form
        .get("JWT")
        .and_then(|t| jwt::verify(&state.jwt_secret, t))
    else {
        return refused("The step-up token is missing or invalid.");
    };
    let Some(tid) = claims
        .pointer("/Payload/TransactionId")
        .and_then(Value::as_str)
    else {
        return refused("The step-up token carries no transaction.");
    };
    let status = state
        .payer
        .lock()
        .unwrap()
        .challenges
        .get(tid)
        .map(|c| c.status);
    if status != Some(ChallengeStatus::Pending) {
        return refused("This challenge is unknown or already completed.");
    }
    let md = form.get("MD").map(String::as_str).unwrap_or("null");
    page(
        "Verify your purchase",
        &format!(
            "<h1>Sandbox bank — verify your purchase</h1>\
             <p>Enter the one-time code we sent to your phone. <small>(Sandbox: the code is <b>{otp}</b>.)</small></p>\
             <form method=\"post\" action=\"/V2/Cruise/StepUp/complete\">\
             <input type=\"hidden\" name=\"TransactionId\" value=\"{tid}\">\
             <input type=\"hidden\" name=\"MD\" value=\"{md}\">\
             <label for=\"otp\">One-time code</label><br>\
             <input id=\"otp\" name=\"otp\" inputmode=\"numeric\" autocomplete=\"one-time-code\"><br>\
             <button id=\"submit\" name=\"action\" value=\"submit\">Submit</button>\
             <button id=\"cancel\" name=\"action\" value=\"cancel\">Cancel</button>\
             </form>",
            otp = escape(&state.config.otp_code),
            tid = escape(tid),
            md = escape(md),
        ),
    )
    .into_response()
}

/// Records the cardholder's answer, then sends the browser (still in the iframe) to the
/// return URL with `TransactionId` and `MD`, as a form POST.
async fn complete(
    State(state): State<Arc<SandboxState>>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let tid = form.get("TransactionId").cloned().unwrap_or_default();
    let md = form.get("MD").cloned().unwrap_or_else(|| "null".into());
    let outcome = if form.get("action").map(String::as_str) == Some("cancel") {
        ChallengeStatus::Cancelled
    } else if form.get("otp").map(|o| o.trim()) == Some(state.config.otp_code.as_str()) {
        ChallengeStatus::Passed
    } else {
        ChallengeStatus::Failed
    };
    let return_url = {
        let mut payer = state.payer.lock().unwrap();
        match payer.challenges.get_mut(&tid) {
            Some(challenge) if challenge.status == ChallengeStatus::Pending => {
                challenge.status = outcome;
                challenge.return_url.clone()
            }
            _ => return refused("This challenge is unknown or already completed."),
        }
    };
    page(
        "Returning to the merchant",
        &format!(
            "<p>Returning to the merchant…</p>\
             <form id=\"return\" method=\"post\" action=\"{url}\">\
             <input type=\"hidden\" name=\"TransactionId\" value=\"{tid}\">\
             <input type=\"hidden\" name=\"MD\" value=\"{md}\">\
             <noscript><button>Continue</button></noscript></form>\
             <script>document.getElementById('return').submit();</script>",
            url = escape(&return_url),
            tid = escape(&tid),
            md = escape(&md),
        ),
    )
    .into_response()
}

//! The browser's last hop: the outcome, signed (`gateway::redirect`), to the merchant —
//! as the session's completion mode says (`CompletionMode`): a 303 to the merchant's
//! return URL; a page sending the top window there (out of the bank's frame); or a page
//! posting the signed result to the parent window, at the merchant's registered origin
//! only. The pages' one inline script carries a per-response CSP nonce.

use axum::response::{IntoResponse, Response};
use gateway::domain::CompletionMode;
use gateway::error::{ApiError, ErrorCode};
use gateway::http::pages::{escape, no_store, page};
use gateway::redirect::sign_redirect;
use gateway::session::{AuthenticationSession, Outcome};
use gateway::tenants::Tenant;
use http::{HeaderValue, StatusCode, header};
use serde_json::{Value, json};
use url::Url;

use crate::CallbackApp;

/// The `type` of the message a `post_message` completion posts.
pub const MESSAGE_TYPE: &str = "3ds-gateway:result";

impl CallbackApp {
    /// The decided (or expired, or canceled) session's outcome, signed with the decision
    /// time: every completion for a decided session carries the same URL, however many
    /// browsers or retries arrive.
    pub(crate) fn redirect_to_merchant(
        &self,
        session: &AuthenticationSession,
        tenant: &Tenant,
    ) -> Result<Response, ApiError> {
        let outcome = Outcome::at(session, session.updated_at);
        self.complete(
            session,
            tenant,
            outcome.redirect_params(session.reference_code.as_str()),
            session.updated_at / 1000,
        )
    }

    /// Nothing was decided and retrying will not help (the upstream refused, the
    /// session changed, the return was not valid): the merchant hears it, signed, with
    /// a reason code from the API reference's table, and can read the session's status.
    pub(crate) fn redirect_with_error(
        &self,
        session: &AuthenticationSession,
        tenant: &Tenant,
        reason: ErrorCode,
    ) -> Result<Response, ApiError> {
        let outcome = Outcome::at(session, self.merchant.now_ms());
        let params = vec![
            ("status", "error".to_owned()),
            ("flow", outcome.flow.as_str().to_owned()),
            ("liability_shift", "unknown".to_owned()),
            ("reason", reason.as_str().to_owned()),
        ];
        self.complete(session, tenant, params, self.merchant.now_ms() / 1000)
    }

    /// The signed outcome on its way to the merchant, in the session's completion mode.
    /// The return URL is checked against the allowed origins again (configuration may
    /// have changed since it was stored): no open redirect, no message to another origin.
    fn complete(
        &self,
        session: &AuthenticationSession,
        tenant: &Tenant,
        outcome: Vec<(&'static str, String)>,
        timestamp_secs: i64,
    ) -> Result<Response, ApiError> {
        let merchant = tenant
            .merchant
            .as_ref()
            .ok_or(ApiError::of(ErrorCode::ReturnUrlNotAllowed))?;
        let stored = session.merchant_return_url.as_deref().ok_or_else(|| {
            ApiError::Internal("a challenged session has no merchant return URL".into())
        })?;
        let target = merchant
            .return_urls
            .check(stored)
            .map_err(|_| ApiError::of(ErrorCode::ReturnUrlNotAllowed))?;
        let status = outcome
            .first()
            .map(|(_, value)| value.clone())
            .unwrap_or_default();
        let mut params = vec![
            ("reference_code", session.reference_code.to_string()),
            ("tenant", tenant.id.to_string()),
        ];
        params.extend(outcome);
        // This function reads the redirect keys part (REGISTRY_PARTS): every merchant of
        // its registry has its keys.
        let keys = merchant.redirect_keys.as_ref().ok_or_else(|| {
            ApiError::Internal("the registry was read without the redirect keys".into())
        })?;
        let url = sign_redirect(&target, &params, timestamp_secs, keys);
        let mode = session.completion.unwrap_or(merchant.completion);
        tracing::info!(
            status,
            mode = mode.as_str(),
            "browser sent back to the merchant"
        );
        match mode {
            CompletionMode::Redirect => see_other(&url),
            CompletionMode::Top => Ok(page(
                StatusCode::OK,
                "Returning to the shop",
                &format!(
                    "<p>Returning to the shop…</p><p><a href=\"{u}\" target=\"_top\">Continue</a></p>",
                    u = escape(url.as_str())
                ),
                Some(&format!(
                    "window.top.location.href = {};",
                    script_value(&json!(url.as_str()))
                )),
            )),
            CompletionMode::PostMessage => {
                let origin = url.origin().ascii_serialization();
                let fields: serde_json::Map<String, Value> = url
                    .query_pairs()
                    .map(|(k, v)| (k.into_owned(), Value::from(v.into_owned())))
                    .collect();
                let message = json!({
                    "type": MESSAGE_TYPE,
                    "version": 1,
                    "result": fields,
                    // What the merchant's backend verifies, as for a redirect.
                    "signed": url.query().unwrap_or_default(),
                });
                Ok(page(
                    StatusCode::OK,
                    "You can close this window",
                    "<p>The bank has answered. You can close this window.</p>",
                    Some(&format!(
                        "window.parent.postMessage({}, {});",
                        script_value(&message),
                        script_value(&json!(origin))
                    )),
                ))
            }
        }
    }
}

fn see_other(url: &Url) -> Result<Response, ApiError> {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::LOCATION,
        HeaderValue::from_str(url.as_str())
            .map_err(|_| ApiError::Internal("unencodable redirect".into()))?,
    );
    no_store(headers);
    Ok(response)
}

/// A JSON value safe inside a `<script>` element.
fn script_value(value: &Value) -> String {
    value
        .to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

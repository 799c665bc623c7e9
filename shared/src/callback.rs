//! The callback function: the `return_url` the browser comes back to after the challenge
//! (the ACS / Cardinal page form-posts `TransactionId` and `MD` to it), and the drop-in
//! `POST /v1/risk/authentication/validate` for merchants whose front end completes the
//! challenge without it. Both run the same one-shot validation:
//!
//! 1. one conditional write claims the session (CHALLENGE_PENDING → VALIDATING) — its
//!    condition includes the transaction id's digest and the deadline — and returns it;
//! 2. one upstream validate, with the card data unsealed from the session;
//! 3. one conditional write records AUTHENTICATED or FAILED and drops the card data.
//!
//! A refused claim carries the session as it is, which tells a replay (decided: answer
//! from the store), a duplicate in flight (wait for it), a forged transaction id, an
//! expired challenge, or an unknown session apart — with no extra read. An upstream fault
//! puts the session back to CHALLENGE_PENDING: a later callback or validate completes it.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router, middleware};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde_json::Value;
use url::Url;

use crate::api::{self, ApiError, Caller, HasClientKeys, JsonBody};
use crate::clock::{SharedClock, utc_date};
use crate::config::{CallbackConfig, ClientKeys, SessionKeys, SessionSettings};
use crate::crypto::{MacKey, constant_time_eq};
use crate::http_client::HttpClient;
use crate::merchant::{note_reference, replayed};
use crate::pages;
use crate::redirect::{ReturnUrlPolicy, sign_redirect};
use crate::session::{self, Applied, AuthenticationSession, SessionState, Sessions, Transition};
use crate::store::SharedStore;
use crate::upstream::payer_auth::{
    PayerAuthAnswer, PayerAuthClient, PaymentData, VALIDATE_PATH, ValidateRequest,
    validate_reference_code,
};

/// The return URL route: the session's reference code and its binding token.
pub const CALLBACK_ROUTE: &str = "/v1/risk/authentication/callback/{reference_code}/{binding}";

/// `{base}/v1/risk/authentication/callback/{reference_code}/{binding}`.
pub fn callback_url(base: &Url, reference_code: &str, binding: &str) -> Url {
    let mut url = base.clone();
    url.set_query(None);
    url.set_fragment(None);
    url.path_segments_mut()
        .expect("http(s) base URLs have path segments")
        .pop_if_empty()
        .extend([
            "v1",
            "risk",
            "authentication",
            "callback",
            reference_code,
            binding,
        ]);
    url
}

pub struct CallbackApp {
    clients: ClientKeys,
    payer_auth: PayerAuthClient,
    sessions: Sessions,
    keys: SessionKeys,
    return_urls: ReturnUrlPolicy,
    redirect_key: MacKey,
    settings: SessionSettings,
}

impl HasClientKeys for CallbackApp {
    fn client_keys(&self) -> &ClientKeys {
        &self.clients
    }
}

pub fn router(app: Arc<CallbackApp>) -> Router {
    let browser = Router::new()
        .route(CALLBACK_ROUTE, get(browser_return).post(browser_return))
        .layer(middleware::map_response(api::browser_page));
    Router::new()
        .route(VALIDATE_PATH, post(merchant_validate))
        .merge(browser)
        .fallback(api::route_not_found)
        .method_not_allowed_fallback(api::method_not_allowed)
        .with_state(app)
        .layer(middleware::map_response(api::payer_auth_envelope))
        .layer(middleware::from_fn(api::request_span))
}

/// Where the card data for validate comes from.
enum PaymentSource {
    /// Sealed in the session at check enroll (the browser's return).
    Session,
    /// The merchant's own validate request.
    Request(Box<PaymentData>),
}

/// How one validation attempt ended.
enum Validation {
    /// We held the claim and the upstream decided now.
    Decided {
        session: Box<AuthenticationSession>,
        answer: PayerAuthAnswer,
    },
    /// Decided before (a replay, or the duplicate we waited for).
    AlreadyDecided(Box<AuthenticationSession>),
    /// The challenge deadline passed.
    Expired(Box<AuthenticationSession>),
    /// Another invocation still holds the claim after our wait.
    StillValidating,
}

fn not_found() -> ApiError {
    ApiError::NotFound {
        code: "SESSION_NOT_FOUND",
        message: "no authentication is waiting for this payment".into(),
    }
}

fn no_challenge() -> ApiError {
    ApiError::Conflict {
        code: "NO_CHALLENGE_PENDING",
        message: "this authentication has no challenge to validate".into(),
    }
}

impl CallbackApp {
    pub fn new(
        config: &CallbackConfig,
        http: HttpClient,
        store: SharedStore,
        clock: SharedClock,
    ) -> Self {
        Self {
            clients: config.clients.clone(),
            payer_auth: PayerAuthClient::new(http, &config.payer_auth),
            sessions: Sessions::new(store, clock),
            keys: config.keys.clone(),
            return_urls: config.return_urls.clone(),
            redirect_key: config.redirect_signing_key.clone(),
            settings: config.session.clone(),
        }
    }

    fn now_ms(&self) -> i64 {
        self.sessions.now_ms()
    }

    async fn validate_once(
        &self,
        reference: &str,
        transaction_id: &str,
        client_id: Option<&str>,
        source: PaymentSource,
    ) -> Result<Validation, ApiError> {
        let transaction_mac = self.keys.transaction_mac(transaction_id);
        // A few rounds at most: a duplicate we waited for may have released its claim
        // (upstream fault), leaving the session to be claimed again.
        for _ in 0..3 {
            let claim_id = uuid::Uuid::new_v4().to_string();
            let now = self.now_ms();
            let claim = Transition::ClaimValidation {
                transaction_mac: transaction_mac.clone(),
                client_id: client_id.map(str::to_owned),
                claim_id: claim_id.clone(),
                now_ms: now,
                lease_until_ms: now + self.settings.claim_lease.as_millis() as i64,
            };
            let current = match self.sessions.apply(reference, &claim).await? {
                Applied::Done(session) => {
                    return self
                        .validate_claimed(reference, transaction_id, *session, claim_id, source)
                        .await;
                }
                Applied::Refused(None) => return Err(not_found()),
                Applied::Refused(Some(current)) => current,
            };
            if client_id.is_some_and(|c| c != current.client_id) {
                return Err(not_found());
            }
            let Some(stored_mac) = current.transaction_mac.as_deref() else {
                return Err(no_challenge());
            };
            if !constant_time_eq(stored_mac, &transaction_mac) {
                tracing::warn!(
                    "a transaction id that does not belong to this session was presented"
                );
                return Err(ApiError::invalid(
                    "TransactionId",
                    "does not match this authentication",
                ));
            }
            match current.effective_state(now) {
                SessionState::Authenticated | SessionState::Failed => {
                    return Ok(Validation::AlreadyDecided(current));
                }
                SessionState::Expired => return self.expire(reference, current).await,
                SessionState::Validating => {
                    tracing::info!("another callback holds the claim: waiting for its outcome");
                    self.sessions
                        .wait_while_claimed(reference, self.settings.settle_wait)
                        .await?;
                }
                SessionState::ChallengePending => {} // changed under us: claim again
                SessionState::SetupCompleted | SessionState::Enrolling => {
                    return Err(no_challenge());
                }
            }
        }
        Ok(Validation::StillValidating)
    }

    /// Records the expiry (one conditional write, which also drops the card data).
    async fn expire(
        &self,
        reference: &str,
        current: Box<AuthenticationSession>,
    ) -> Result<Validation, ApiError> {
        if current.state == SessionState::Expired {
            return Ok(Validation::Expired(current));
        }
        let now = self.now_ms();
        let expire = Transition::Expire {
            now_ms: now,
            expires_at: self.settings.record_expiry(now),
        };
        match self.sessions.apply(reference, &expire).await? {
            Applied::Done(session) => {
                tracing::info!("challenge expired before validation");
                Ok(Validation::Expired(session))
            }
            Applied::Refused(Some(session)) if session.state.is_terminal() => {
                Ok(match session.state {
                    SessionState::Expired => Validation::Expired(session),
                    _ => Validation::AlreadyDecided(session),
                })
            }
            Applied::Refused(_) => Ok(Validation::StillValidating),
        }
    }

    async fn validate_claimed(
        &self,
        reference: &str,
        transaction_id: &str,
        session: AuthenticationSession,
        claim_id: String,
        source: PaymentSource,
    ) -> Result<Validation, ApiError> {
        let key = session::key(reference);
        let outcome = async {
            let data = match source {
                PaymentSource::Request(data) => *data,
                PaymentSource::Session => {
                    let sealed = session.sealed_payment_data.as_ref().ok_or_else(|| {
                        ApiError::Internal("a pending session has no sealed payment data".into())
                    })?;
                    self.keys.open(&key, "payment_data", sealed)?
                }
            };
            let request = ValidateRequest::new(reference, data, transaction_id);
            let answer = self.payer_auth.validate(&request).await?;
            let succeeded = answer.validation_succeeded()?;
            Ok::<_, ApiError>((answer, succeeded))
        }
        .await;
        let (answer, succeeded) = match outcome {
            Ok(decided) => decided,
            Err(error) => {
                // Nothing was decided: the session goes back to CHALLENGE_PENDING.
                let release = Transition::ReleaseValidation {
                    claim_id,
                    now_ms: self.now_ms(),
                };
                if let Err(store_error) = self.sessions.apply(reference, &release).await {
                    tracing::warn!(error = %store_error, "could not release the claim; its lease will lapse");
                }
                return Err(error);
            }
        };
        let now = self.now_ms();
        let state = if succeeded {
            SessionState::Authenticated
        } else {
            SessionState::Failed
        };
        let complete = Transition::CompleteValidation {
            claim_id,
            state,
            result: answer.result(),
            response: self.keys.seal(&key, "validate_response", &answer.body),
            now_ms: now,
            expires_at: self.settings.record_expiry(now),
        };
        match self.sessions.apply(reference, &complete).await? {
            Applied::Done(session) => {
                tracing::info!(state = state.as_str(), "authentication validated");
                Ok(Validation::Decided { session, answer })
            }
            Applied::Refused(_) => Err(ApiError::Conflict {
                code: "SESSION_SUPERSEDED",
                message: "the session changed while validation was in flight".into(),
            }),
        }
    }

    /// 303 to the merchant's stored return URL with the outcome, signed. The URL is
    /// checked against the allowed origins again (configuration may have changed since it
    /// was stored): no open redirect.
    fn redirect_to_merchant(&self, session: &AuthenticationSession) -> Result<Response, ApiError> {
        let stored = session.merchant_return_url.as_deref().ok_or_else(|| {
            ApiError::Internal("a challenged session has no merchant return URL".into())
        })?;
        let target = self
            .return_urls
            .check(stored)
            .map_err(|_| ApiError::Forbidden {
                code: "RETURN_URL_NOT_ALLOWED",
                message: "the merchant's return address is no longer allowed".into(),
            })?;
        let status = match session.state {
            SessionState::Authenticated => "authenticated",
            SessionState::Failed => "failed",
            _ => "expired",
        };
        let mut params = vec![
            ("reference_code", session.reference_code.clone()),
            ("status", status.to_owned()),
        ];
        if let Some(result) = &session.result {
            let network = session.card.as_ref().and_then(|c| c.network.as_deref());
            if let Some(eci) = result.eci.clone().or_else(|| result.eci_raw.clone()) {
                params.push(("eci", eci));
            }
            params.push((
                "liability_shift",
                result.liability_shift(network).to_string(),
            ));
        }
        // Signed with the decision time: every redirect for a decided session is the
        // same URL, however many browsers or retries arrive.
        let url = sign_redirect(
            &target,
            &params,
            session.updated_at / 1000,
            &self.redirect_key,
        );
        tracing::info!(status, "browser sent back to the merchant");
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
}

fn no_store(headers: &mut HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // Our return URL carries the binding token: not for the next site's Referer.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

/// The fields the ACS / Cardinal page posts: `TransactionId` (required) and `MD`.
struct ReturnFields {
    transaction_id: String,
    md: Option<String>,
}

fn return_fields(
    headers: &HeaderMap,
    query: Option<&str>,
    body: &[u8],
) -> Result<ReturnFields, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let mut pairs: Vec<(String, String)> = if content_type.starts_with("application/json") {
        let value: Value = api::parse_json(body)?;
        value
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
            .collect()
    } else {
        url::form_urlencoded::parse(body).into_owned().collect()
    };
    // GET, or a POST whose fields came in the query string.
    pairs.extend(url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()).into_owned());
    let field = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let transaction_id =
        field("TransactionId").ok_or_else(|| ApiError::invalid("TransactionId", "is required"))?;
    if transaction_id.len() > 64
        || !transaction_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return Err(ApiError::invalid(
            "TransactionId",
            "is not a transaction id",
        ));
    }
    Ok(ReturnFields {
        transaction_id,
        md: field("MD").filter(|md| md.len() <= 1024),
    })
}

/// A page for the browser with a retry of the same return, posted again (as the ACS did)
/// after a few seconds.
fn retry_page(status: StatusCode, title: &str, message: &str, fields: &ReturnFields) -> Response {
    let md = fields.md.as_deref().unwrap_or("null");
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}}</style></head>\
         <body><h1>{t}</h1><p>{m}</p>\
         <form id=\"retry\" method=\"post\"><input type=\"hidden\" name=\"TransactionId\" value=\"{tid}\">\
         <input type=\"hidden\" name=\"MD\" value=\"{md}\"><button>Check again</button></form>\
         <script>setTimeout(function(){{document.getElementById('retry').submit()}},4000)</script></body></html>",
        t = pages::escape(title),
        m = pages::escape(message),
        tid = pages::escape(&fields.transaction_id),
        md = pages::escape(md),
    );
    let mut response = (status, Html(page)).into_response();
    no_store(response.headers_mut());
    response
}

/// `GET|POST {return_url}`: the browser's return from the challenge.
async fn browser_return(
    State(app): State<Arc<CallbackApp>>,
    Path((reference, binding)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    validate_reference_code("reference_code", &reference)?;
    note_reference(&reference);
    if !constant_time_eq(&binding, &app.keys.return_url_binding(&reference)) {
        tracing::warn!("a return URL with a wrong binding token was used");
        return Err(ApiError::Forbidden {
            code: "RETURN_URL_NOT_VALID",
            message: "this return link does not belong to a payment of ours".into(),
        });
    }
    let (parts, body) = request.into_parts();
    let body = api::read_body(body).await?;
    let fields = return_fields(&parts.headers, query.as_deref(), &body)?;
    match app
        .validate_once(
            &reference,
            &fields.transaction_id,
            None,
            PaymentSource::Session,
        )
        .await
    {
        Ok(
            Validation::Decided { session, .. }
            | Validation::AlreadyDecided(session)
            | Validation::Expired(session),
        ) => app.redirect_to_merchant(&session),
        Ok(Validation::StillValidating) => Ok(retry_page(
            StatusCode::ACCEPTED,
            "Still checking your payment",
            "Your bank's answer is being confirmed. This page will check again in a moment.",
            &fields,
        )),
        Err(error @ (ApiError::Upstream(_) | ApiError::Store(_))) => {
            let status = error.status();
            tracing::warn!(
                status = status.as_u16(),
                code = error.code(),
                "validation deferred: nothing was decided"
            );
            Ok(retry_page(
                status,
                "Your payment result is pending",
                "We could not confirm the result with your bank yet. Nothing was charged or declined; this page will try again in a moment.",
                &fields,
            ))
        }
        Err(error) => Err(error),
    }
}

/// `POST /v1/risk/authentication/validate` (drop-in): the merchant's own validate body,
/// through the same one-shot validation. A replay answers the stored upstream answer.
async fn merchant_validate(
    State(app): State<Arc<CallbackApp>>,
    caller: Caller,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let request: ValidateRequest = api::typed(body)?;
    request.validate(utc_date(app.now_ms()))?;
    let reference = request.transaction_info.reference_code.trim().to_owned();
    note_reference(&reference);
    let transaction_id = request.authentication.transaction_id.trim().to_owned();
    let data = PaymentData {
        card: request.card,
        order_info: request.order_info,
        bill_to: request.bill_to,
    };
    let outcome = app
        .validate_once(
            &reference,
            &transaction_id,
            Some(&caller.client_id),
            PaymentSource::Request(Box::new(data)),
        )
        .await
        .map_err(|error| match error {
            // For the API the transaction id is a body field.
            ApiError::InvalidField { field, message } if field == "TransactionId" => {
                ApiError::InvalidField {
                    field: "authentication.transaction_id".into(),
                    message,
                }
            }
            other => other,
        })?;
    match outcome {
        Validation::Decided { answer, .. } => Ok(Json(answer.body).into_response()),
        Validation::AlreadyDecided(session) => {
            let sealed = session
                .validate_response
                .as_ref()
                .ok_or_else(no_challenge)?;
            let key = session::key(&reference);
            Ok(replayed(app.keys.open(
                &key,
                "validate_response",
                sealed,
            )?))
        }
        Validation::Expired(_) => Err(ApiError::Conflict {
            code: "AUTHENTICATION_EXPIRED",
            message: "the challenge deadline passed before validation".into(),
        }),
        Validation::StillValidating => Err(ApiError::Conflict {
            code: "REQUEST_IN_PROGRESS",
            message: "this authentication is being validated; retry shortly".into(),
        }),
    }
}

//! `GET|POST {return_url}`: the browser's return from the challenge. Validates once, then
//! sends the browser to the merchant, signed; while nothing is decided, a page that tries
//! the same return again. Once the binding token is valid the cardholder never dead-ends:
//! every other outcome is a signed redirect with `status=error` and a reason. Only a
//! return that is not ours (a wrong binding) gets our own error page.

use ::http::{HeaderMap, Method, StatusCode, header};
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use gateway::domain::{ReferenceCode, TenantId, TransactionId};
use gateway::error::{ApiError, ErrorCode};
use gateway::http::PathParams;
use gateway::http::{self, HasTenants, pages};
use gateway::session::SessionRef;
use gateway::telemetry::note_reference;
use serde_json::Value;

use gateway::merchant::validation::{Presenter, Validation, ValidationInputs};

use crate::State as AppState;

pub(crate) async fn browser_return(
    State(app): State<AppState>,
    PathParams((tenant, reference, binding)): PathParams<(String, String, String)>,
    RawQuery(query): RawQuery,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let reference = ReferenceCode::parse("reference_code", &reference)?;
    note_reference(reference.as_str());
    // A link checker or a prefetch asks with HEAD: it must never spend the one-shot
    // validation.
    if request.method() == Method::HEAD {
        let mut response = StatusCode::OK.into_response();
        pages::no_store(response.headers_mut());
        return Ok(response);
    }
    let keys = app.merchant.keys().await?;
    if !keys.binding_matches(&binding, &tenant, reference.as_str()) {
        tracing::warn!("a return URL with a wrong binding token was used");
        return Err(ErrorCode::ReturnUrlNotValid.into());
    }
    // The binding proves we made this URL, so the tenant id in it is ours too.
    let tenant = TenantId::parse("tenant", &tenant)?;
    let registry = app.merchant.tenants().get().await?;
    let Some(merchant) = registry.tenant(&tenant).filter(|t| t.merchant.is_some()) else {
        tracing::warn!(%tenant, "the tenant of a return URL is no longer a merchant");
        return Err(ErrorCode::ReturnUrlNotAllowed.into());
    };
    let profile = merchant.merchant.as_ref().expect("filtered above");
    let session = SessionRef::new(tenant, reference);
    let (parts, body) = request.into_parts();
    let outcome = match read_return(parts, body, query.as_deref()).await {
        Ok(fields) => validate_return(&app, &session, profile, fields).await,
        Err(error) => Err(error),
    };
    match outcome {
        Ok(Returned::Decided(decided)) => app.redirect_to_merchant(&decided, &merchant),
        Ok(Returned::Pending(page)) => Ok(page),
        Err(error) => {
            tracing::warn!(code = error.code(), "the return ended without a decision");
            // The merchant hears it, at its own return URL, when the session says where.
            // A session decided meanwhile sends it to its outcome.
            match app.merchant.sessions.get(&session).await {
                Ok(Some(stored)) if stored.merchant_return_url.is_none() => Err(error),
                Ok(Some(stored)) if stored.state.is_terminal() => {
                    app.redirect_to_merchant(&stored, &merchant)
                }
                Ok(Some(stored)) => app.redirect_with_error(&stored, &merchant, error.error_code()),
                _ => Err(error),
            }
        }
    }
}

/// Where one validation left the browser.
enum Returned {
    /// Decided (now or before) or expired: to the merchant with the outcome.
    Decided(Box<gateway::session::AuthenticationSession>),
    /// Nothing decided yet, and trying again will help: a page that does.
    Pending(Response),
}

async fn read_return(
    parts: ::http::request::Parts,
    body: axum::body::Body,
    query: Option<&str>,
) -> Result<ReturnFields, ApiError> {
    let body = http::read_body(body).await?;
    return_fields(&parts.headers, query, &body)
}

async fn validate_return(
    app: &AppState,
    session: &SessionRef,
    merchant: &gateway::tenants::MerchantProfile,
    fields: ReturnFields,
) -> Result<Returned, ApiError> {
    let outcome = app
        .merchant
        .validate_once(ValidationInputs {
            session,
            transaction_id: &fields.transaction_id,
            presenter: Presenter::Browser,
            merchant,
        })
        .await;
    match outcome {
        Ok(
            Validation::Decided { session, .. }
            | Validation::AlreadyDecided(session)
            | Validation::Expired(session),
        ) => Ok(Returned::Decided(session)),
        Ok(Validation::StillValidating) => Ok(Returned::Pending(retry_page(
            StatusCode::ACCEPTED,
            "Still checking your payment",
            "Your bank's answer is being confirmed. This page will check again in a moment.",
            &fields,
        ))),
        Err(error) if retryable(&error) => {
            let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_GATEWAY);
            tracing::warn!(
                status = status.as_u16(),
                code = error.code(),
                "validation deferred: nothing was decided"
            );
            Ok(Returned::Pending(retry_page(
                status,
                "Your payment result is pending",
                "We could not confirm the result with your bank yet. Nothing was charged or declined; this page will try again in a moment.",
                &fields,
            )))
        }
        Err(error) => Err(error),
    }
}

/// Nothing was decided and the same return later may succeed: an upstream or store
/// fault, or the upstream's rate limit.
fn retryable(error: &ApiError) -> bool {
    matches!(
        error.error_code(),
        ErrorCode::UpstreamUnavailable
            | ErrorCode::UpstreamTimeout
            | ErrorCode::StoreUnavailable
            | ErrorCode::StoreTimeout
            | ErrorCode::TooManyRequests
    )
}

/// The fields the ACS / Cardinal page posts: `TransactionId` (required) and `MD`.
struct ReturnFields {
    transaction_id: TransactionId,
    md: Option<String>,
}

/// Reads the return's fields from a form post, JSON, or the query string (GET, or a POST
/// whose fields came in the query).
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
        let value: Value = http::parse_json(body)?;
        value
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
            .collect()
    } else {
        url::form_urlencoded::parse(body).into_owned().collect()
    };
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
    Ok(ReturnFields {
        transaction_id: TransactionId::parse("TransactionId", &transaction_id)?,
        md: field("MD").filter(|md| md.len() <= 1024),
    })
}

/// A page for the browser with a retry of the same return, posted again (as the ACS did)
/// after a few seconds.
fn retry_page(status: StatusCode, title: &str, message: &str, fields: &ReturnFields) -> Response {
    let md = fields.md.as_deref().unwrap_or("null");
    let body = format!(
        "<p>{m}</p>\
         <form id=\"retry\" method=\"post\"><input type=\"hidden\" name=\"TransactionId\" value=\"{tid}\">\
         <input type=\"hidden\" name=\"MD\" value=\"{md}\"><button>Check again</button></form>",
        m = pages::escape(message),
        tid = pages::escape(fields.transaction_id.as_str()),
        md = pages::escape(md),
    );
    let retry = "setTimeout(function(){document.getElementById('retry').submit()},4000)";
    pages::page(status, title, &body, Some(retry))
}

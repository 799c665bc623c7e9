//! The browser's last hop: a 303 to the merchant's stored return URL with the outcome,
//! signed (`gateway::redirect`).

use axum::response::{IntoResponse, Response};
use gateway::error::{ApiError, ErrorCode};
use gateway::redirect::sign_redirect;
use gateway::session::{AuthenticationSession, SessionState};
use gateway::tenants::Tenant;
use http::{HeaderMap, HeaderValue, StatusCode, header};

use crate::CallbackApp;

impl CallbackApp {
    /// The decided (or expired, or canceled) session's outcome, signed with the decision time: every
    /// redirect for a decided session is the same URL, however many browsers or retries
    /// arrive.
    pub(crate) fn redirect_to_merchant(
        &self,
        session: &AuthenticationSession,
        tenant: &Tenant,
    ) -> Result<Response, ApiError> {
        let status = match session.state {
            SessionState::Authenticated => "authenticated",
            SessionState::Failed => "failed",
            SessionState::Canceled => "canceled",
            _ => "expired",
        };
        let mut params = vec![("status", status.to_owned())];
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
        self.signed_redirect(session, tenant, params, session.updated_at / 1000)
    }

    /// Nothing was decided and retrying will not help (the upstream refused, the
    /// session changed, the return was not valid): the merchant hears it, signed, with
    /// a reason code from the README's table, and can read the session's status.
    pub(crate) fn redirect_with_error(
        &self,
        session: &AuthenticationSession,
        tenant: &Tenant,
        reason: ErrorCode,
    ) -> Result<Response, ApiError> {
        let params = vec![
            ("status", "error".to_owned()),
            ("reason", reason.as_str().to_owned()),
        ];
        self.signed_redirect(session, tenant, params, self.merchant.now_ms() / 1000)
    }

    /// A 303 to the session's stored return URL with `outcome`, the reference code and
    /// the tenant, signed with the merchant's key. The URL is checked against the
    /// allowed origins again (configuration may have changed since it was stored): no
    /// open redirect.
    fn signed_redirect(
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
        let mut params = vec![
            ("reference_code", session.reference_code.clone()),
            ("tenant", tenant.id.to_string()),
        ];
        params.extend(outcome);
        let status = params
            .iter()
            .find(|(name, _)| *name == "status")
            .map(|(_, value)| value.clone())
            .unwrap_or_default();
        let url = sign_redirect(&target, &params, timestamp_secs, &merchant.redirect_keys);
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

pub(crate) fn no_store(headers: &mut HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // Our return URL carries the binding token: not for the next site's Referer.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

//! What the two merchant-side functions (check-enroll and callback) share: their common
//! configuration and context, the checks of the payer-authentication requests they
//! accept, and the callback URL one of them hands out and the other serves.

use url::Url;

use crate::clock::SharedClock;
use crate::config::{
    ClientKeys, ConfigError, Env, HttpSettings, PayerAuthSettings, SessionSettings, StoreSettings,
    check_lease, return_url_policy,
};
use crate::http::HasClientKeys;
use crate::outbound::HttpClient;
use crate::redirect::ReturnUrlPolicy;
use crate::session::{SessionKeys, Sessions};
use crate::store::SharedStore;
use crate::upstream::payer_auth::PayerAuthClient;

pub mod requests;

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

/// Settings both merchant-side functions read.
#[derive(Debug, Clone)]
pub struct MerchantConfig {
    pub http: HttpSettings,
    pub store: StoreSettings,
    pub payer_auth: PayerAuthSettings,
    pub clients: ClientKeys,
    pub session: SessionSettings,
    pub keys: SessionKeys,
    pub return_urls: ReturnUrlPolicy,
}

impl MerchantConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let http = HttpSettings::from_env(env)?;
        let session = SessionSettings::from_env(env)?;
        check_lease(&http, &session)?;
        Ok(Self {
            http,
            store: StoreSettings::from_env(env)?,
            payer_auth: PayerAuthSettings::from_env(env)?,
            clients: ClientKeys::from_env(env)?,
            session,
            keys: SessionKeys::from_env(env)?,
            return_urls: return_url_policy(env)?,
        })
    }
}

/// What both merchant-side functions hold, built once per cold start.
pub struct MerchantContext {
    pub clients: ClientKeys,
    pub payer_auth: PayerAuthClient,
    pub sessions: Sessions,
    pub keys: SessionKeys,
    pub return_urls: ReturnUrlPolicy,
    pub settings: SessionSettings,
}

impl MerchantContext {
    pub fn new(config: &MerchantConfig, store: SharedStore, clock: SharedClock) -> Self {
        Self {
            clients: config.clients.clone(),
            payer_auth: PayerAuthClient::new(
                HttpClient::new(config.http.clone()),
                &config.payer_auth,
            ),
            sessions: Sessions::new(store, clock),
            keys: config.keys.clone(),
            return_urls: config.return_urls.clone(),
            settings: config.session.clone(),
        }
    }

    pub fn now_ms(&self) -> i64 {
        self.sessions.now_ms()
    }

    pub fn today(&self) -> chrono::NaiveDate {
        crate::clock::utc_date(self.now_ms())
    }
}

impl HasClientKeys for MerchantContext {
    fn client_keys(&self) -> &ClientKeys {
        &self.clients
    }
}

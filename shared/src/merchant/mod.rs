//! What the two merchant-side functions (check-enroll and callback) share: their common
//! configuration and context, the checks of the payer-authentication requests they
//! accept, and the callback URL one of them hands out and the other serves.

use std::sync::Arc;

use url::Url;

use crate::config::{
    ConfigError, Env, HttpSettings, PayerAuthSettings, Secret, SecretSettings, SessionSettings,
    StoreSettings,
};
use crate::error::ApiError;
use crate::http::HasTenants;
use crate::keys::GatewayKeys;
use crate::outbound::HttpClient;
use crate::platform::Platform;
use crate::secrets::{Cached, SecretError};
use crate::session::{SessionRef, Sessions};
use crate::tenants::parts::RegistryPart;
use crate::tenants::{MerchantProfile, Registry};
use crate::upstream::payer_auth::{PayerAuthClient, PayerAuthCredentials};

pub mod requests;
pub mod validation;

/// The return URL route: the tenant, the session's reference code and its binding token.
pub const CALLBACK_ROUTE: &str =
    "/v1/risk/authentication/callback/{tenant}/{reference_code}/{binding}";

/// The shape of a return URL's path, as a regular expression (RE2 syntax, as AWS WAF
/// reads it): a tenant id, a reference code, a binding token (`kid.` and 43 base64url
/// characters), after an optional stage or base-path segment. The template's WAF rule
/// refuses any other path under the callback route before a function runs (a test keeps
/// the two equal).
pub const CALLBACK_PATH_PATTERN: &str = r"^(/[A-Za-z0-9_]+)?/v1/risk/authentication/callback/[a-z0-9][a-z0-9-]{0,62}/[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}/[A-Za-z0-9._-]{1,64}\.[A-Za-z0-9_-]{43}$";

/// `{base}/v1/risk/authentication/callback/{tenant}/{reference_code}/{binding}`.
pub fn callback_url(base: &Url, session: &SessionRef, binding: &str) -> Url {
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
            session.tenant.as_str(),
            session.reference.as_str(),
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
    pub session: SessionSettings,
    pub secrets: SecretSettings,
    /// The gateway's payer-authentication key (`PAYER_AUTH_SECRET_ID`).
    pub payer_auth_secret: String,
    /// The session keys (`SESSION_KEYS_SECRET_ID`).
    pub session_keys_secret: String,
    /// The parts of the tenant registry the function reads.
    pub registry_parts: Vec<RegistryPart>,
}

impl MerchantConfig {
    /// The settings of a merchant-side function that reads the registry's `parts`.
    pub fn from_env(env: &Env, registry_parts: &[RegistryPart]) -> Result<Self, ConfigError> {
        let http = HttpSettings::from_env(env)?;
        let session = SessionSettings::from_env(env)?;
        session.lease.check(http.call_budget())?;
        Ok(Self {
            http,
            store: StoreSettings::from_env(env)?,
            payer_auth: PayerAuthSettings::from_env(env)?,
            session,
            secrets: SecretSettings::from_env(env)?.holding(registry_parts)?,
            payer_auth_secret: env.required("PAYER_AUTH_SECRET_ID")?,
            session_keys_secret: env.required("SESSION_KEYS_SECRET_ID")?,
            registry_parts: registry_parts.to_vec(),
        })
    }
}

/// What both merchant-side functions hold, built once per cold start.
pub struct MerchantContext {
    pub payer_auth: PayerAuthClient,
    pub sessions: Sessions,
    tenants: Cached<Registry>,
    session_keys: Cached<GatewayKeys>,
    payer_auth_credentials: Cached<PayerAuthCredentials>,
}

impl MerchantContext {
    pub fn new(config: &MerchantConfig, platform: &Platform) -> Self {
        let secrets = &config.secrets;
        Self {
            payer_auth: PayerAuthClient::new(
                HttpClient::new(config.http.clone()),
                &config.payer_auth,
            ),
            sessions: Sessions::new(
                platform.store.clone(),
                platform.clock.clone(),
                config.session.clone(),
            ),
            tenants: platform.tenant_registry(secrets, &config.registry_parts),
            session_keys: platform.secret(&config.session_keys_secret, secrets, ()),
            payer_auth_credentials: platform.secret(&config.payer_auth_secret, secrets, ()),
        }
    }

    /// Reads every secret (cold start), in one round trip: a missing or malformed one
    /// stops the function.
    pub async fn load_secrets(&self) -> Result<(), SecretError> {
        crate::secrets::load_all(&[
            &self.tenants,
            &self.session_keys,
            &self.payer_auth_credentials,
        ])
        .await
    }

    pub fn now_ms(&self) -> i64 {
        self.sessions.now_ms()
    }

    pub fn today(&self) -> chrono::NaiveDate {
        crate::clock::utc_date(self.now_ms())
    }

    /// The session keys as they stand (re-read after their TTL).
    pub async fn keys(&self) -> Result<Arc<GatewayKeys>, ApiError> {
        Ok(self.session_keys.get().await?)
    }

    /// The payer-authentication key a merchant's calls are made with: its own, or the
    /// gateway's.
    pub async fn payer_auth_key(&self, merchant: &MerchantProfile) -> Result<Secret, ApiError> {
        if let Some(own) = &merchant.payer_auth_api_key {
            return Ok(own.clone());
        }
        Ok(self.payer_auth_credentials.get().await?.api_key.clone())
    }
}

impl HasTenants for MerchantContext {
    fn tenants(&self) -> &Cached<Registry> {
        &self.tenants
    }
}

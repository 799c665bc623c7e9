//! The check-enroll function (merchant side): drop-in setup, check enroll and validate of
//! the payer-authentication API, with the authentication session kept in the store; the
//! status, the cancel and the single use (consume) of a stored authentication. The merchant's checkout path, and
//! nothing that lists (the history function does).
//!
//! [`build`] is the one composition root: the Lambda main, the local stack and the tests
//! all call it. [`routes`] is the one route table.

use std::sync::Arc;

use axum::Router;
use axum::http::request::Parts;
use gateway::config::{ConfigError, Env, public_base_url};
use gateway::error::ApiError;
use gateway::http::{self, Envelope, HasTenants, Route};
use gateway::keys::GatewayKeys;
use gateway::merchant::{MerchantConfig, MerchantContext, callback_url};
use gateway::platform::Platform;
use gateway::secrets::{Cached, SecretError};
use gateway::session::SessionRef;
use gateway::store::Kind;
use gateway::store::scope::TableScope;
use gateway::tenants::Registry;
use gateway::tenants::parts::RegistryPart;
use url::Url;

mod cancel;
mod consume;
mod enroll;
mod setup;
mod status;
mod validate;

/// The parts of the tenant registry this function reads: a merchant's own
/// payer-authentication key (never its redirect or webhook keys).
pub const REGISTRY_PARTS: &[RegistryPart] = &[RegistryPart::PayerAuth];

/// The settings naming the secrets this function reads (and the template grants it).
pub const SECRET_SETTINGS: &[&str] = &[
    "TENANT_REGISTRY_SECRET_ID",
    "TENANT_PAYER_AUTH_SECRET_ID",
    "PAYER_AUTH_SECRET_ID",
    "SESSION_KEYS_SECRET_ID",
];

/// The check-enroll function's share of the table: the authentication sessions.
pub const TABLE_SCOPE: TableScope = TableScope {
    function: "check-enroll",
    reads: &[Kind::AuthenticationSession],
    writes: &[Kind::AuthenticationSession],
    queries: &[],
};

/// Settings of the check-enroll function.
#[derive(Debug, Clone)]
pub struct CheckEnrollConfig {
    pub merchant: MerchantConfig,
    /// Our public base URL for return URLs; derived from the request when unset.
    pub public_base_url: Option<Url>,
}

impl CheckEnrollConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            merchant: MerchantConfig::from_env(env, REGISTRY_PARTS)?,
            public_base_url: public_base_url(env)?,
        })
    }
}

/// What the check-enroll handlers hold, built once per cold start.
struct CheckEnrollApp {
    merchant: MerchantContext,
    public_base_url: Option<Url>,
}

impl HasTenants for CheckEnrollApp {
    fn tenants(&self) -> &Cached<Registry> {
        self.merchant.tenants()
    }
}

impl CheckEnrollApp {
    /// Where the browser comes back after the challenge: our callback route, bound to
    /// this session.
    fn return_url_for(
        &self,
        parts: &Parts,
        session: &SessionRef,
        keys: &GatewayKeys,
    ) -> Result<Url, ApiError> {
        let base = self
            .public_base_url
            .clone()
            .or_else(|| http::public_base_url_from_context(parts))
            .ok_or_else(|| {
                ApiError::Internal(
                    "PUBLIC_BASE_URL is not set and the request did not come through API Gateway"
                        .into(),
                )
            })?;
        let binding = keys.return_url_binding(session.tenant.as_str(), session.reference.as_str());
        Ok(callback_url(&base, session, &binding))
    }
}

type State = Arc<CheckEnrollApp>;

const SETUP: &str = "/v1/risk/authentication/setup";
const CHECK_ENROLL: &str = "/v1/risk/authentication/enroll";
const VALIDATE: &str = "/v1/risk/authentication/validate";
const STATUS: &str = "/v1/risk/authentication/{reference_code}";
const CANCEL: &str = "/v1/risk/authentication/{reference_code}/cancel";
const CONSUME: &str = "/v1/risk/authentication/{reference_code}/consume";

/// The function's route table.
fn route_list() -> Vec<Route<State>> {
    vec![
        Route::post(SETUP, setup::setup),
        Route::post(CHECK_ENROLL, enroll::check_enroll),
        Route::post(VALIDATE, validate::merchant_validate),
        Route::get(STATUS, status::status),
        Route::post(CANCEL, cancel::cancel),
        Route::post(CONSUME, consume::consume),
    ]
}

/// `(method, path)` of every route this function serves.
pub fn routes() -> Vec<http::routes::RouteKey> {
    http::routes::table(&route_list())
}

/// The check-enroll function's router, in the payer-authentication API's error envelope.
/// Its secrets are read first: a missing or malformed one fails the cold start.
pub async fn build(config: &CheckEnrollConfig, platform: &Platform) -> Result<Router, SecretError> {
    let platform = &platform.scoped(TABLE_SCOPE);
    let app = CheckEnrollApp {
        merchant: MerchantContext::new(&config.merchant, platform),
        public_base_url: config.public_base_url.clone(),
    };
    app.merchant.load_secrets().await?;
    Ok(http::router(
        route_list(),
        Arc::new(app),
        Envelope::PayerAuth,
    ))
}

//! The callback function: the `return_url` the browser comes back to after the challenge
//! (the ACS / Cardinal page form-posts `TransactionId` and `MD` to it) — it validates
//! once (`gateway::merchant::validation`), then sends the browser on to the merchant,
//! signed — and the browser library `gateway.js`. Both are keyless and public; nothing a
//! merchant calls with its key runs here, so a merchant's traffic never takes the
//! instances a cardholder's return needs.
//!
//! [`build`] is the one composition root: the Lambda main, the local stack and the tests
//! all call it. [`routes`] is the one route table.

use std::sync::Arc;

use axum::Router;
use gateway::config::{ConfigError, Env};
use gateway::http::{self, Envelope, HasTenants, Route};
use gateway::merchant::{CALLBACK_ROUTE, MerchantConfig, MerchantContext};
use gateway::platform::Platform;
use gateway::secrets::{Cached, SecretError};
use gateway::store::Kind;
use gateway::store::scope::TableScope;
use gateway::tenants::Registry;
use gateway::tenants::parts::RegistryPart;

mod browser;
pub mod contract;
pub mod library;
mod redirect;

/// The parts of the tenant registry this function reads: a merchant's own
/// payer-authentication key, and its redirect keys (it signs the redirect).
pub const REGISTRY_PARTS: &[RegistryPart] = &[RegistryPart::PayerAuth, RegistryPart::RedirectKeys];

/// The settings naming the secrets this function reads (and the template grants it).
pub const SECRET_SETTINGS: &[&str] = &[
    "TENANT_REGISTRY_SECRET_ID",
    "TENANT_PAYER_AUTH_SECRET_ID",
    "TENANT_REDIRECT_KEYS_SECRET_ID",
    "PAYER_AUTH_SECRET_ID",
    "SESSION_KEYS_SECRET_ID",
];

/// The callback function's share of the table: the authentication sessions.
pub const TABLE_SCOPE: TableScope = TableScope {
    function: "callback",
    reads: &[Kind::AuthenticationSession],
    writes: &[Kind::AuthenticationSession],
    queries: &[],
};

/// Settings of the callback function.
#[derive(Debug, Clone)]
pub struct CallbackConfig {
    pub merchant: MerchantConfig,
}

impl CallbackConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            merchant: MerchantConfig::from_env(env, REGISTRY_PARTS)?,
        })
    }
}

/// What the callback handlers hold, built once per cold start. Each merchant's redirect
/// keys come from the tenant registry.
struct CallbackApp {
    merchant: MerchantContext,
}

impl HasTenants for CallbackApp {
    fn tenants(&self) -> &Cached<Registry> {
        self.merchant.tenants()
    }
}

type State = Arc<CallbackApp>;

/// The browser library, versioned by its path.
const LIBRARY: &str = "/v1/js/gateway.js";
/// The API contract (OpenAPI 3.1).
const CONTRACT: &str = "/v1/openapi.json";

/// The function's route table.
fn route_list() -> Vec<Route<State>> {
    vec![
        Route::get(CALLBACK_ROUTE, browser::browser_return),
        Route::post(CALLBACK_ROUTE, browser::browser_return),
        Route::get(LIBRARY, library::gateway_js),
        Route::get(CONTRACT, contract::openapi_json),
    ]
}

/// `(method, path)` of every route this function serves.
pub fn routes() -> Vec<http::routes::RouteKey> {
    http::routes::table(&route_list())
}

/// The callback function's router: errors are pages for the browser. Its secrets are
/// read first: a missing or malformed one fails the cold start.
pub async fn build(config: &CallbackConfig, platform: &Platform) -> Result<Router, SecretError> {
    let platform = &platform.scoped(TABLE_SCOPE);
    let app = CallbackApp {
        merchant: MerchantContext::new(&config.merchant, platform),
    };
    app.merchant.load_secrets().await?;
    Ok(http::router(
        route_list(),
        Arc::new(app),
        Envelope::BrowserPage,
    ))
}

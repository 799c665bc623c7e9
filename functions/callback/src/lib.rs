//! The callback function: the `return_url` the browser comes back to after the challenge
//! (the ACS / Cardinal page form-posts `TransactionId` and `MD` to it), and the drop-in
//! `POST /v1/risk/authentication/validate` for merchants whose front end completes the
//! challenge without it. Both run the same one-shot validation ([`validation`]).
//!
//! [`build`] is the one composition root: the Lambda main, the local stack and the tests
//! all call it. [`routes`] is the one route table.

use std::sync::Arc;

use axum::{Router, middleware};
use gateway::config::{ConfigError, Env};
use gateway::http::{self, HasTenants, Route};
use gateway::merchant::{CALLBACK_ROUTE, MerchantConfig, MerchantContext};
use gateway::platform::Platform;
use gateway::secrets::{Cached, SecretError};
use gateway::tenants::Registry;

mod browser;
pub mod library;
mod redirect;
mod validate;
mod validation;

/// Settings of the callback function.
#[derive(Debug, Clone)]
pub struct CallbackConfig {
    pub merchant: MerchantConfig,
}

impl CallbackConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            merchant: MerchantConfig::from_env(env)?,
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

const VALIDATE: &str = "/v1/risk/authentication/validate";

/// The function's route table.
/// The browser library, versioned by its path.
const LIBRARY: &str = "/v1/js/gateway.js";

fn route_list() -> Vec<Route<State>> {
    vec![
        Route::get(CALLBACK_ROUTE, browser::browser_return),
        Route::post(CALLBACK_ROUTE, browser::browser_return),
        Route::post(VALIDATE, validate::merchant_validate),
        Route::get(LIBRARY, library::gateway_js),
    ]
}

/// `(method, path)` of every route this function serves.
pub fn routes() -> Vec<http::routes::RouteKey> {
    http::routes::table(&route_list())
}

/// The callback function's router: the browser's return renders errors as pages, the
/// merchant's validate in the payer-authentication API's envelope. Its secrets are read
/// first: a missing or malformed one fails the cold start.
pub async fn build(config: &CallbackConfig, platform: &Platform) -> Result<Router, SecretError> {
    let app = CallbackApp {
        merchant: MerchantContext::new(&config.merchant, platform),
    };
    app.merchant.load_secrets().await?;
    let (browser, api): (Vec<_>, Vec<_>) = route_list()
        .into_iter()
        .partition(|route| route.path == CALLBACK_ROUTE);
    let browser =
        http::routes::assemble(browser).layer(middleware::map_response(http::browser_page));
    Ok(http::routes::assemble(api)
        .merge(browser)
        .fallback(http::route_not_found)
        .method_not_allowed_fallback(http::method_not_allowed)
        .with_state(Arc::new(app))
        .layer(middleware::map_response(http::payer_auth_envelope))
        .layer(middleware::from_fn(http::request_span)))
}

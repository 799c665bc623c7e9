//! Lambda: the merchant-side 3DS routes (payer-authentication API, drop-in): setup,
//! check enroll, and the status of a stored authentication.

use std::sync::Arc;

use shared::config::{CheckEnrollConfig, Env};
use shared::http_client::HttpClient;
use shared::merchant::{MerchantApp, router};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let config = CheckEnrollConfig::from_env(&Env::process()).inspect_err(|error| {
        tracing::error!(%error, "invalid configuration");
    })?;
    let store = shared::store::from_settings(&config.store).await;
    let http = HttpClient::new(config.http.clone());
    let app = MerchantApp::new(&config, http, store, shared::clock::system());
    shared::api::lambda::run(router(Arc::new(app))).await
}

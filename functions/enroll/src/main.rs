//! Lambda: the issuer-side 3DS enrollment routes (card-issuance API, drop-in).

use std::sync::Arc;

use shared::config::{EnrollConfig, Env};
use shared::http_client::HttpClient;
use shared::issuer::{IssuerApp, router};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let config = EnrollConfig::from_env(&Env::process()).inspect_err(|error| {
        tracing::error!(%error, "invalid configuration");
    })?;
    let store = shared::store::from_settings(&config.store).await;
    let http = HttpClient::new(config.http.clone());
    let app = IssuerApp::new(&config, http, store, shared::clock::system());
    shared::api::lambda::run(router(Arc::new(app))).await
}

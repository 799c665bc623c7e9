//! Lambda: the 3DS return URL the browser comes back to after the challenge, and the
//! merchant-driven validate. Validates exactly once, then sends the browser on, signed.

use std::sync::Arc;

use shared::callback::{CallbackApp, router};
use shared::config::{CallbackConfig, Env};
use shared::http_client::HttpClient;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let config = CallbackConfig::from_env(&Env::process()).inspect_err(|error| {
        tracing::error!(%error, "invalid configuration");
    })?;
    let store = shared::store::from_settings(&config.store).await;
    let http = HttpClient::new(config.http.clone());
    let app = CallbackApp::new(&config, http, store, shared::clock::system());
    shared::api::lambda::run(router(Arc::new(app))).await
}

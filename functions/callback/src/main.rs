//! Lambda: the 3DS return URL the browser comes back to after the challenge, and the
//! merchant-driven validate. Validates exactly once, then sends the browser on, signed.

use gateway::config::Env;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    gateway::telemetry::init();
    let config = callback::CallbackConfig::from_env(&Env::process()).inspect_err(|error| {
        tracing::error!(%error, "invalid configuration");
    })?;
    let store = gateway::store::from_settings(&config.merchant.store).await;
    let router = callback::build(&config, store, gateway::clock::system());
    gateway::http::lambda::run(router).await
}

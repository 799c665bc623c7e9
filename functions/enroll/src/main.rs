//! Lambda: the issuer-side 3DS enrollment routes (card-issuance API, drop-in).

use gateway::config::Env;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    gateway::telemetry::init();
    let config = enroll::EnrollConfig::from_env(&Env::process()).inspect_err(|error| {
        tracing::error!(%error, "invalid configuration");
    })?;
    let store = gateway::store::from_settings(&config.store).await;
    let router = enroll::build(&config, store, gateway::clock::system());
    gateway::http::lambda::run(router).await
}

//! Lambda: the merchant-side 3DS routes (payer-authentication API, drop-in): setup,
//! check enroll, and the status of a stored authentication.

use gateway::config::Env;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    gateway::telemetry::init();
    let config =
        check_enroll::CheckEnrollConfig::from_env(&Env::process()).inspect_err(|error| {
            tracing::error!(%error, "invalid configuration");
        })?;
    let store = gateway::store::from_settings(&config.merchant.store).await;
    let router = check_enroll::build(&config, store, gateway::clock::system());
    gateway::http::lambda::run(router).await
}

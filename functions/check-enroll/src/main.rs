//! Lambda: the merchant-side 3DS routes (payer-authentication API, drop-in): setup,
//! check enroll, validate, and the status and cancel of a stored authentication.

use gateway::config::Env;
use gateway::platform::Platform;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    gateway::telemetry::init();
    let config =
        check_enroll::CheckEnrollConfig::from_env(&Env::process()).inspect_err(|error| {
            tracing::error!(%error, "invalid configuration");
        })?;
    let platform = Platform::from_env(&config.merchant.store).await;
    let router = check_enroll::build(&config, &platform)
        .await
        .inspect_err(|error| tracing::error!(%error, "a secret could not be read"))?;
    gateway::http::lambda::run(router).await
}

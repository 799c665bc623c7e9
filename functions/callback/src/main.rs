//! Lambda: the 3DS return URL the browser comes back to after the challenge, and the
//! merchant-driven validate. Validates exactly once, then sends the browser on, signed.

use gateway::config::Env;
use gateway::platform::Platform;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    gateway::telemetry::init();
    let config = callback::CallbackConfig::from_env(&Env::process()).inspect_err(|error| {
        tracing::error!(%error, "invalid configuration");
    })?;
    let platform = Platform::from_env(&config.merchant.store).await;
    let router = callback::build(&config, &platform)
        .await
        .inspect_err(|error| tracing::error!(%error, "a secret could not be read"))?;
    gateway::http::lambda::run(router).await
}

//! Lambda: the issuer-side 3DS enrollment routes (card-issuance API, drop-in).

use gateway::config::Env;
use gateway::platform::Platform;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    gateway::telemetry::init();
    let config = enroll::EnrollConfig::from_env(&Env::process()).inspect_err(|error| {
        tracing::error!(%error, "invalid configuration");
    })?;
    let platform = Platform::from_env(&config.store).await;
    let router = enroll::build(&config, &platform)
        .await
        .inspect_err(|error| tracing::error!(%error, "a secret could not be read"))?;
    gateway::http::lambda::run(router).await
}

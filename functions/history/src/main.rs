//! Lambda: a tenant's events (list, redeliver) and a merchant's authentications (list).

use gateway::config::Env;
use gateway::platform::Platform;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    gateway::telemetry::init();
    let config = history::HistoryConfig::from_env(&Env::process()).inspect_err(|error| {
        tracing::error!(%error, "invalid configuration");
    })?;
    let platform = Platform::from_env(&config.store)
        .await
        .with_sqs_deliveries(&config.delivery_queue_url);
    let router = history::build(&config, &platform)
        .await
        .inspect_err(|error| tracing::error!(%error, "a secret could not be read"))?;
    gateway::http::lambda::run(router).await
}

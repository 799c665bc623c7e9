//! Lambda: a card program's bulk enrollment jobs (create, start, read, items, cancel).

use gateway::config::Env;
use gateway::platform::Platform;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    gateway::telemetry::init();
    let config = jobs::JobsConfig::from_env(&Env::process()).inspect_err(|error| {
        tracing::error!(%error, "invalid configuration");
    })?;
    let platform = Platform::from_env(&config.store).await;
    let (objects, queue) = jobs::on_aws(&platform, &config.bucket, &config.queue_url);
    let router = jobs::build_api(&config, &platform, objects, queue)
        .await
        .inspect_err(|error| tracing::error!(%error, "a secret could not be read"))?;
    gateway::http::lambda::run(router).await
}

//! Lambda: the bulk enrollment jobs' worker (a chunk per queue message) and the consumer
//! of their dead-letter queue.

use aws_lambda_events::event::sqs::SqsEvent;
use gateway::config::Env;
use gateway::platform::Platform;
use lambda_http::lambda_runtime::{self, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    gateway::telemetry::init();
    let config = jobs::WorkerConfig::from_env(&Env::process()).inspect_err(|error| {
        tracing::error!(%error, "invalid configuration");
    })?;
    let platform = Platform::from_env(&config.store).await;
    let (objects, queue) = jobs::on_aws(&platform, &config.bucket, &config.queue_url);
    let worker = jobs::build_worker(&config, &platform, objects, queue)
        .await
        .inspect_err(|error| tracing::error!(%error, "a secret could not be read"))?;
    let worker = &worker;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, lambda_runtime::Error>(jobs::lambda::handle(worker, event.payload).await)
    }))
    .await
}

//! Lambda: events from the table's change stream, their webhook deliveries from the
//! queue, and the sweeper of abandoned challenges on a schedule.

use std::sync::Arc;

use gateway::config::Env;
use gateway::events::queue::SqsQueue;
use gateway::platform::Platform;
use lambda_http::lambda_runtime::{self, LambdaEvent, service_fn};
use notify::lambda::NotifyEvent;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    gateway::telemetry::init();
    let config = notify::NotifyConfig::from_env(&Env::process()).inspect_err(|error| {
        tracing::error!(%error, "invalid configuration");
    })?;
    let platform = Platform::from_env(&config.store).await;
    let aws = platform
        .aws
        .as_ref()
        .expect("on Lambda the AWS configuration is loaded");
    let queue = Arc::new(SqsQueue::new(
        aws_sdk_sqs::Client::new(aws),
        config.delivery_queue_url.clone(),
    ));
    let app = notify::build(&config, &platform, queue)
        .await
        .inspect_err(|error| tracing::error!(%error, "a secret could not be read"))?;
    let app = &app;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<NotifyEvent>| async move {
            Ok::<_, lambda_runtime::Error>(notify::lambda::handle(app, event.payload).await)
        },
    ))
    .await
}

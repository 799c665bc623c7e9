//! The notify function's work, in process: the change feed (the memory store's log, or
//! moto's DynamoDB Streams with `--dynamodb-endpoint`) made into events; their webhook
//! deliveries with the same retry schedule — on an in-process queue, or on moto's SQS
//! with `--dynamodb-endpoint`, read as Lambda's event source would and handled by the
//! function's own SQS handler; and the sweeper.

use std::sync::Arc;
use std::time::Duration;

use gateway::events::queue::{MemoryQueue, SqsQueue};
use gateway::store::ChangeFeed;
use serde_json::{Value, json};

/// How often the feed and the queue are read.
const POLL: Duration = Duration::from_millis(250);

/// Where deliveries wait.
pub enum Deliveries {
    Memory(Arc<MemoryQueue>),
    Sqs(Arc<SqsQueue>),
}

/// Runs for ever: call in a spawned task.
pub async fn run(
    app: notify::NotifyApp,
    feed: Arc<dyn ChangeFeed>,
    deliveries: Deliveries,
    clock: gateway::clock::SharedClock,
    sweep_every: Duration,
) {
    let mut last_sweep = tokio::time::Instant::now();
    loop {
        tokio::time::sleep(POLL).await;
        match feed.poll().await {
            Ok(changes) => {
                for change in changes {
                    if let Err(error) = app.on_change(&change).await {
                        tracing::error!(%error, "a change could not be made an event");
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "the change feed could not be read"),
        }
        match &deliveries {
            Deliveries::Memory(queue) => deliver_memory(&app, queue, clock.now_ms()).await,
            Deliveries::Sqs(queue) => deliver_sqs(&app, queue).await,
        }
        if last_sweep.elapsed() >= sweep_every {
            last_sweep = tokio::time::Instant::now();
            if let Err(error) = app.sweep().await {
                tracing::warn!(%error, "the sweep stopped");
            }
        }
    }
}

async fn deliver_memory(app: &notify::NotifyApp, queue: &MemoryQueue, now: i64) {
    for queued in queue.receive(now) {
        match app.on_delivery(&queued.message, queued.receive_count).await {
            Ok(None) => {}
            Ok(Some(delay)) => queue.failed(queued, Some(delay), now),
            Err(notify::Exhausted) => queue.failed(queued, None, now),
        }
    }
}

/// What Lambda's SQS event source does: receive a batch, hand it to the function, delete
/// the messages it did not report as failed.
async fn deliver_sqs(app: &notify::NotifyApp, queue: &Arc<SqsQueue>) {
    use aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount;
    let received = queue
        .client()
        .receive_message()
        .queue_url(queue.url())
        .max_number_of_messages(10)
        .message_system_attribute_names(ApproximateReceiveCount)
        .send()
        .await;
    let messages = match received {
        Ok(output) => output.messages.unwrap_or_default(),
        Err(error) => {
            tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(error), "the delivery queue could not be read");
            return;
        }
    };
    if messages.is_empty() {
        return;
    }
    let records: Vec<Value> = messages
        .iter()
        .map(|m| {
            json!({
                "messageId": m.message_id, "receiptHandle": m.receipt_handle, "body": m.body,
                "eventSource": "aws:sqs",
                "attributes": {"ApproximateReceiveCount": m.attributes.as_ref()
                    .and_then(|a| a.get(&ApproximateReceiveCount)).cloned()},
            })
        })
        .collect();
    let answer = notify::lambda::handle(app, Some(queue), json!({"Records": records})).await;
    let failed: Vec<&str> = answer["batchItemFailures"]
        .as_array()
        .map(|f| {
            f.iter()
                .filter_map(|i| i["itemIdentifier"].as_str())
                .collect()
        })
        .unwrap_or_default();
    for message in &messages {
        if failed.contains(&message.message_id().unwrap_or_default()) {
            continue;
        }
        let _ = queue
            .client()
            .delete_message()
            .queue_url(queue.url())
            .receipt_handle(message.receipt_handle().unwrap_or_default())
            .send()
            .await;
    }
}

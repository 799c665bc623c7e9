//! The notify function's work, in process, as Lambda's event sources would drive it: the
//! change feed (the memory store's log, or moto's DynamoDB Streams) made into events; the
//! delivery queue (in process, or moto's SQS) received in batches, handed to the
//! function's own handler as SQS records, and what it did not report failed deleted; and
//! the sweeper on its schedule.

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::sqs::SqsBatchResponse;
use gateway::events::queue::SqsQueue;
use gateway::store::ChangeFeed;
use notify::NotifyApp;
use notify::lambda::{NotifyEvent, NotifyResponse, handle};
use serde_json::{Value, json};

use crate::queue::MemoryQueue;

/// How often the feed and the queue are read.
const POLL: Duration = Duration::from_millis(250);

/// Where deliveries wait.
pub enum Deliveries {
    Memory(Arc<MemoryQueue>),
    Sqs(Arc<SqsQueue>),
}

/// Runs for ever: call in a spawned task.
pub async fn run(
    app: NotifyApp,
    feed: Arc<dyn ChangeFeed>,
    deliveries: Deliveries,
    sweep_every: Duration,
) {
    let mut last_sweep = tokio::time::Instant::now();
    loop {
        tokio::time::sleep(POLL).await;
        notice_changes(&app, &*feed).await;
        match &deliveries {
            Deliveries::Memory(queue) => deliver_memory(&app, queue).await,
            Deliveries::Sqs(queue) => deliver_sqs(&app, queue).await,
        };
        if last_sweep.elapsed() >= sweep_every {
            last_sweep = tokio::time::Instant::now();
            app.sweep().await;
        }
    }
}

/// Makes the feed's changes events, as the stream's event source would hand them over.
/// Returns how many were recorded.
pub async fn notice_changes(app: &NotifyApp, feed: &dyn ChangeFeed) -> usize {
    let changes = match feed.poll().await {
        Ok(changes) => changes,
        Err(error) => {
            tracing::warn!(%error, "the change feed could not be read");
            return 0;
        }
    };
    let mut recorded = 0;
    for change in changes {
        match app.on_change(&change).await {
            Ok(true) => recorded += 1,
            Ok(false) => {}
            Err(error) => tracing::error!(%error, "a change could not be made an event"),
        }
    }
    recorded
}

/// An SQS record as Lambda's event source builds it.
fn sqs_record(id: &str, receipt: &str, body: &str, receive_count: u32) -> Value {
    json!({
        "messageId": id, "receiptHandle": receipt, "body": body,
        "eventSource": "aws:sqs", "awsRegion": "us-east-1",
        "attributes": {"ApproximateReceiveCount": receive_count.to_string()},
    })
}

/// The ids the handler reported failed.
async fn failed_of(app: &NotifyApp, records: Vec<Value>) -> Vec<String> {
    match handle(app, NotifyEvent::Deliveries(records)).await {
        NotifyResponse::Deliveries(SqsBatchResponse {
            batch_item_failures,
            ..
        }) => batch_item_failures
            .into_iter()
            .map(|f| f.item_identifier)
            .collect(),
        _ => Vec::new(),
    }
}

/// One batch of the in-process queue. Returns how many deliveries were made.
pub async fn deliver_memory(app: &NotifyApp, queue: &MemoryQueue) -> usize {
    let received = queue.receive(10);
    if received.is_empty() {
        return 0;
    }
    let records = received
        .iter()
        .map(|r| sqs_record(&r.id, &r.id, &r.body, r.receive_count))
        .collect();
    let failed = failed_of(app, records).await;
    for message in received.iter().filter(|r| !failed.contains(&r.id)) {
        queue.delete(&message.id);
    }
    received.len()
}

/// One batch of moto's SQS: receive, hand over, delete what did not fail.
pub async fn deliver_sqs(app: &NotifyApp, queue: &SqsQueue) -> usize {
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
            return 0;
        }
    };
    if messages.is_empty() {
        return 0;
    }
    let records = messages
        .iter()
        .map(|m| {
            let count = m
                .attributes
                .as_ref()
                .and_then(|a| a.get(&ApproximateReceiveCount))
                .and_then(|c| c.parse().ok())
                .unwrap_or(1);
            sqs_record(
                m.message_id().unwrap_or_default(),
                m.receipt_handle().unwrap_or_default(),
                m.body().unwrap_or_default(),
                count,
            )
        })
        .collect();
    let failed = failed_of(app, records).await;
    for message in &messages {
        if failed
            .iter()
            .any(|f| Some(f.as_str()) == message.message_id())
        {
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
    messages.len()
}

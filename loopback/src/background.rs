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
use serde_json::Value;

use crate::queue::{MemoryQueue, SqsDeliveries};

/// How often the feed and the queue are read.
const POLL: Duration = Duration::from_millis(250);

/// Where deliveries wait.
pub enum Deliveries {
    Memory(Arc<MemoryQueue>),
    Sqs(SqsDeliveries),
}

/// Runs for ever: call in a spawned task. As Lambda's event sources do, the stream and
/// the sweeper run on their own, and the delivery queue has
/// [`DELIVERY_CONCURRENCY`] pollers, each handing its batch over and receiving the next
/// as soon as it is done: a batch held by a slow endpoint holds one poller, not all.
pub async fn run(
    app: NotifyApp,
    feed: Arc<dyn ChangeFeed>,
    deliveries: Deliveries,
    sweep_every: Duration,
) {
    let app = Arc::new(app);
    let deliveries = Arc::new(deliveries);
    for _ in 0..DELIVERY_CONCURRENCY {
        let (app, deliveries) = (app.clone(), deliveries.clone());
        tokio::spawn(async move {
            loop {
                let handed = match &*deliveries {
                    Deliveries::Memory(queue) => deliver_memory_batch(&app, queue).await,
                    Deliveries::Sqs(sqs) => deliver_sqs(&app, sqs).await,
                };
                if handed == 0 {
                    tokio::time::sleep(POLL).await;
                }
            }
        });
    }
    let mut last_sweep = tokio::time::Instant::now();
    loop {
        tokio::time::sleep(POLL).await;
        notice_changes(&app, &*feed).await;
        if let Deliveries::Memory(queue) = &*deliveries {
            consume_memory_dead_letters(&app, queue).await;
        }
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

/// The delivery queue's name as its records carry it (any but the dead letters').
const DELIVERY_QUEUE_ARN: &str = "arn:aws:sqs:local:000000000000:deliveries";

/// How many batches are handled at once: the template's `MaximumConcurrency` of the
/// delivery queue's event source.
pub const DELIVERY_CONCURRENCY: usize = 5;

/// Messages per batch (the event source's `BatchSize`).
const BATCH: usize = 10;

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

/// One round of the in-process queue, as Lambda's pollers would make it: up to
/// [`DELIVERY_CONCURRENCY`] batches handled at once, then the dead letters handed to
/// their consumer. Returns how many deliveries were handed over.
pub async fn deliver_memory(app: &NotifyApp, queue: &MemoryQueue) -> usize {
    let rounds = (0..DELIVERY_CONCURRENCY).map(|_| queue.receive(BATCH));
    let batches: Vec<_> = rounds.take_while(|batch| !batch.is_empty()).collect();
    let handed: usize = batches.iter().map(Vec::len).sum();
    let handling = batches
        .into_iter()
        .map(|received| hand_over(app, queue, received));
    futures_util::future::join_all(handling).await;
    consume_memory_dead_letters(app, queue).await;
    handed
}

/// One poller's batch of the in-process queue. Returns how many deliveries it held.
async fn deliver_memory_batch(app: &NotifyApp, queue: &MemoryQueue) -> usize {
    let received = queue.receive(BATCH);
    let handed = received.len();
    if handed > 0 {
        hand_over(app, queue, received).await;
    }
    handed
}

/// Hands a received batch to the function, and deletes what it did not report failed.
async fn hand_over(app: &NotifyApp, queue: &MemoryQueue, received: Vec<crate::queue::Received>) {
    let records = received
        .iter()
        .map(|r| {
            crate::queue::sqs_record(&r.id, &r.id, &r.body, r.receive_count, DELIVERY_QUEUE_ARN)
        })
        .collect();
    let failed = failed_of(app, records).await;
    for message in received.iter().filter(|r| !failed.contains(&r.id)) {
        queue.delete(&message.id);
    }
}

/// The dead-letter queue's consumer, in process.
async fn consume_memory_dead_letters(app: &NotifyApp, queue: &MemoryQueue) {
    let dead = queue.receive_dead_letters(BATCH);
    if dead.is_empty() {
        return;
    }
    let records = dead
        .iter()
        .enumerate()
        .map(|(n, message)| {
            let body = serde_json::to_string(message).expect("a message serializes");
            let id = format!("dead-{n}");
            crate::queue::sqs_record(&id, &id, &body, 1, MemoryQueue::DEAD_LETTER_ARN)
        })
        .collect();
    let failed = failed_of(app, records).await;
    for (n, message) in dead.into_iter().enumerate() {
        if failed.contains(&format!("dead-{n}")) {
            queue.return_dead_letter(message);
        }
    }
}

/// One batch of an SQS queue of moto's: receive, hand over, delete what did not fail.
async fn deliver_sqs_batch(app: &NotifyApp, queue: &SqsQueue, source_arn: &str) -> usize {
    use aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount;
    let received = queue
        .client()
        .receive_message()
        .queue_url(queue.url())
        .max_number_of_messages(BATCH as i32)
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
            crate::queue::sqs_record(
                m.message_id().unwrap_or_default(),
                m.receipt_handle().unwrap_or_default(),
                m.body().unwrap_or_default(),
                count,
                source_arn,
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

/// One batch of moto's delivery queue, then one of its dead-letter queue. Returns how
/// many deliveries were handed over.
pub async fn deliver_sqs(app: &NotifyApp, sqs: &SqsDeliveries) -> usize {
    let handed = deliver_sqs_batch(app, &sqs.queue, DELIVERY_QUEUE_ARN).await;
    deliver_sqs_batch(app, &sqs.dead_letters, &sqs.dead_letter_arn).await;
    handed
}

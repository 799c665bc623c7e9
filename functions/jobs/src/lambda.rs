//! The job worker's Lambda events: SQS batches of chunks (from the job queue, or from its
//! dead-letter queue), typed as the runtime's event crate types them. Each record is
//! handled on its own and the batch answers with those to deliver again
//! (`batchItemFailures`, with `ReportBatchItemFailures` on the event source); a chunk
//! with faults is made visible again after its backoff.

use std::time::Duration;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use gateway::jobs::ChunkMessage;

use crate::{ChunkDone, JobWorker};

/// Handles one batch.
pub async fn handle(worker: &JobWorker, event: SqsEvent) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for message in event.records {
        if let Some(id) = handle_record(worker, message).await {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            response.batch_item_failures.push(failure);
        }
    }
    response
}

/// One record: `Some(message id)` to deliver it again.
pub async fn handle_record(worker: &JobWorker, message: SqsMessage) -> Option<String> {
    let parsed = message
        .body
        .as_deref()
        .and_then(|body| serde_json::from_str::<ChunkMessage>(body).ok());
    let Some(chunk) = parsed else {
        tracing::warn!("a queue message that is not a job's chunk was dropped");
        return None;
    };
    if message.event_source_arn.as_deref() == Some(worker.dead_letter_arn()) {
        return match worker.abandon_chunk(&chunk).await {
            Ok(()) => None,
            Err(error) => {
                tracing::error!(%error, "a dead-lettered chunk could not be recorded: it comes back");
                message.message_id
            }
        };
    }
    if let Some(wait) = waited(&message) {
        gateway::telemetry::metrics::job_chunk_wait(wait);
    }
    let receive_count = message
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|count| count.parse().ok())
        .unwrap_or(1);
    match worker.run_chunk(&chunk, receive_count).await {
        ChunkDone::Finished => None,
        ChunkDone::RetryAfter(delay) => {
            if let Some(receipt) = message.receipt_handle.as_deref()
                && let Err(error) = worker.queue().retry_after(receipt, delay).await
            {
                tracing::warn!(%error, "a chunk's backoff could not be set: it comes back after the queue's visibility timeout");
            }
            message.message_id
        }
    }
}

/// How long the message waited since it was sent (`SentTimestamp`, epoch ms).
fn waited(message: &SqsMessage) -> Option<Duration> {
    let sent: i64 = message.attributes.get("SentTimestamp")?.parse().ok()?;
    let now = chrono::Utc::now().timestamp_millis();
    Some(Duration::from_millis((now - sent).max(0) as u64))
}

//! Queues of work, one message per thing to do, delivered at least once: the webhook
//! deliveries (`events/queue.rs`) and the bulk enrollment jobs' chunks
//! (`jobs/`). On AWS each is an SQS fair queue whose message group is the tenant
//! ([`Message::group`]): SQS hands out first the messages of the groups with fewer in
//! flight, so one tenant's backlog never holds another's back. Off AWS the loopback
//! crate's in-process queue has the same semantics.

use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;
use serde::de::DeserializeOwned;

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("the queue is unavailable: {0}")]
pub struct QueueError(pub String);

/// What a queue carries: JSON, in a fair queue's message group.
pub trait Message: Serialize + DeserializeOwned + Clone + Send + Sync {
    /// The message group (the tenant whose work it is).
    fn group(&self) -> &str;
}

#[async_trait]
pub trait Queue<M: Message>: Send + Sync {
    async fn enqueue(&self, message: &M) -> Result<(), QueueError>;

    /// Many messages (SQS sends them ten to a request).
    async fn enqueue_all(&self, messages: &[M]) -> Result<(), QueueError> {
        for message in messages {
            self.enqueue(message).await?;
        }
        Ok(())
    }

    /// A received message (named by its receipt) whose handling failed: visible again
    /// after `delay`.
    async fn retry_after(&self, receipt: &str, delay: Duration) -> Result<(), QueueError>;
}

/// AWS SQS.
pub struct SqsQueue {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl SqsQueue {
    pub fn new(client: aws_sdk_sqs::Client, url: impl Into<String>) -> Self {
        Self {
            client,
            url: url.into(),
        }
    }

    pub fn client(&self) -> &aws_sdk_sqs::Client {
        &self.client
    }

    pub fn url(&self) -> &str {
        &self.url
    }
}

fn sqs_error<E: std::error::Error + Send + Sync + 'static>(
    error: aws_sdk_sqs::error::SdkError<E>,
) -> QueueError {
    QueueError(aws_sdk_sqs::error::DisplayErrorContext(error).to_string())
}

#[async_trait]
impl<M: Message + 'static> Queue<M> for SqsQueue {
    async fn enqueue(&self, message: &M) -> Result<(), QueueError> {
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_group_id(message.group())
            .message_body(serde_json::to_string(message).expect("a message serializes"))
            .send()
            .await
            .map(|_| ())
            .map_err(sqs_error)
    }

    async fn enqueue_all(&self, messages: &[M]) -> Result<(), QueueError> {
        use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
        for batch in messages.chunks(10) {
            let entries = batch
                .iter()
                .enumerate()
                .map(|(n, message)| {
                    SendMessageBatchRequestEntry::builder()
                        .id(n.to_string())
                        .message_group_id(message.group())
                        .message_body(serde_json::to_string(message).expect("a message serializes"))
                        .build()
                        .map_err(|e| QueueError(e.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let sent = self
                .client
                .send_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(sqs_error)?;
            if !sent.failed().is_empty() {
                return Err(QueueError(format!(
                    "{} of {} messages were not sent",
                    sent.failed().len(),
                    batch.len()
                )));
            }
        }
        Ok(())
    }

    async fn retry_after(&self, receipt: &str, delay: Duration) -> Result<(), QueueError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .visibility_timeout(delay.as_secs().min(43_200) as i32)
            .send()
            .await
            .map(|_| ())
            .map_err(sqs_error)
    }
}

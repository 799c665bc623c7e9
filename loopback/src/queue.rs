//! The delivery queue off AWS: in process ([`MemoryQueue`], on the app's clock, with the
//! redrive policy of `template.yaml`), or on the SQS of a compatible endpoint (moto) with
//! its dead-letter queue ([`sqs_deliveries`]).

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use gateway::clock::SharedClock;
use gateway::events::queue::{DeliveryMessage, DeliveryQueue, QueueError, SqsQueue};

/// How long a received message stays invisible unless its handler says otherwise (the
/// template's `VisibilityTimeout`).
const VISIBILITY: Duration = Duration::from_secs(180);

/// A message waiting in [`MemoryQueue`].
#[derive(Debug, Clone)]
struct Queued {
    id: String,
    message: DeliveryMessage,
    receive_count: u32,
    /// Epoch ms when it is visible.
    visible_at: i64,
}

/// A message as one receive hands it out.
#[derive(Debug, Clone)]
pub struct Received {
    /// Its id, and the receipt of this receive (one and the same here).
    pub id: String,
    pub body: String,
    pub receive_count: u32,
}

/// SQS's semantics in process: a received message is invisible until its visibility
/// ends, deleted when its handler succeeded, and moved to the dead letters by the first
/// receive past `max_receive_count`.
pub struct MemoryQueue {
    waiting: Mutex<Vec<Queued>>,
    dead: Mutex<Vec<DeliveryMessage>>,
    clock: SharedClock,
    max_receive_count: u32,
}

impl MemoryQueue {
    pub fn new(clock: SharedClock, max_receive_count: u32) -> Self {
        Self {
            waiting: Mutex::new(Vec::new()),
            dead: Mutex::new(Vec::new()),
            clock,
            max_receive_count,
        }
    }

    /// The messages visible now, each received once more (up to `max` of them).
    pub fn receive(&self, max: usize) -> Vec<Received> {
        let now = self.clock.now_ms();
        let mut waiting = self.waiting.lock().expect("queue lock poisoned");
        let mut dead = self.dead.lock().expect("queue lock poisoned");
        let mut received = Vec::new();
        waiting.retain_mut(|queued| {
            if queued.visible_at > now || received.len() >= max {
                return true;
            }
            queued.receive_count += 1;
            if queued.receive_count > self.max_receive_count {
                dead.push(queued.message.clone());
                return false;
            }
            queued.visible_at = now + VISIBILITY.as_millis() as i64;
            received.push(Received {
                id: queued.id.clone(),
                body: serde_json::to_string(&queued.message).expect("a message serializes"),
                receive_count: queued.receive_count,
            });
            true
        });
        received
    }

    /// Its handler succeeded: gone.
    pub fn delete(&self, receipt: &str) {
        self.waiting
            .lock()
            .expect("queue lock poisoned")
            .retain(|queued| queued.id != receipt);
    }

    pub fn dead_letters(&self) -> Vec<DeliveryMessage> {
        self.dead.lock().expect("queue lock poisoned").clone()
    }

    /// Messages not yet deleted or dead-lettered.
    pub fn waiting(&self) -> usize {
        self.waiting.lock().expect("queue lock poisoned").len()
    }
}

#[async_trait]
impl DeliveryQueue for MemoryQueue {
    async fn enqueue(&self, message: &DeliveryMessage) -> Result<(), QueueError> {
        let mut waiting = self.waiting.lock().expect("queue lock poisoned");
        let id = format!("m{}-{}", self.clock.now_ms(), waiting.len());
        waiting.push(Queued {
            id,
            message: message.clone(),
            receive_count: 0,
            visible_at: i64::MIN,
        });
        Ok(())
    }

    async fn retry_after(&self, receipt: &str, delay: Duration) -> Result<(), QueueError> {
        let visible_at = self.clock.now_ms() + delay.as_millis() as i64;
        if let Some(queued) = self
            .waiting
            .lock()
            .expect("queue lock poisoned")
            .iter_mut()
            .find(|queued| queued.id == receipt)
        {
            queued.visible_at = visible_at;
        }
        Ok(())
    }
}

/// The delivery queue `name` and its dead-letter queue on the SQS of a compatible
/// endpoint (moto), with the template's redrive policy: dead-lettered by the receive
/// after `max_receive_count`.
pub async fn sqs_deliveries(
    endpoint: &str,
    name: &str,
    max_receive_count: u32,
) -> Result<SqsQueue, QueueError> {
    use aws_sdk_sqs::types::QueueAttributeName;
    let client = aws_sdk_sqs::Client::new(&crate::endpoint_config(endpoint));
    let failed = |e: &dyn std::fmt::Display| QueueError(e.to_string());
    let dead = client
        .create_queue()
        .queue_name(format!("{name}-dead"))
        .send()
        .await
        .map_err(|e| failed(&aws_sdk_sqs::error::DisplayErrorContext(e)))?;
    let dead_arn = client
        .get_queue_attributes()
        .queue_url(dead.queue_url().unwrap_or_default())
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| failed(&aws_sdk_sqs::error::DisplayErrorContext(e)))?
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .unwrap_or_default();
    let redrive = serde_json::json!({
        "deadLetterTargetArn": dead_arn,
        "maxReceiveCount": max_receive_count,
    });
    let url = client
        .create_queue()
        .queue_name(name)
        .attributes(QueueAttributeName::RedrivePolicy, redrive.to_string())
        .send()
        .await
        .map_err(|e| failed(&aws_sdk_sqs::error::DisplayErrorContext(e)))?
        .queue_url
        .unwrap_or_default();
    Ok(SqsQueue::new(client, url))
}

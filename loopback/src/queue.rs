//! The delivery queue off AWS: in process ([`MemoryQueue`], on the app's clock, with the
//! redrive policy of `template.yaml`), or on the SQS of a compatible endpoint (moto) with
//! its dead-letter queue ([`sqs_deliveries`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use gateway::clock::SharedClock;
use gateway::events::queue::DeliveryMessage;
use gateway::queue::{Message, Queue, QueueError, SqsQueue};

/// How long a received message stays invisible unless its handler says otherwise (the
/// template's `VisibilityTimeout`).
const VISIBILITY: Duration = Duration::from_secs(180);

/// A message waiting in [`MemoryQueue`].
#[derive(Debug, Clone)]
struct Queued<M> {
    id: String,
    message: M,
    receive_count: u32,
    /// Epoch ms when it is visible.
    visible_at: i64,
}

impl<M> Queued<M> {
    /// Received and not yet visible again: a handler has it.
    fn in_flight(&self, now: i64) -> bool {
        self.receive_count > 0 && self.visible_at > now
    }
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
/// receive past `max_receive_count`. Like an SQS fair queue with the tenant as message
/// group, a receive hands out first the messages of the tenants with the fewest in
/// flight, so one tenant's backlog does not hold another's messages back.
pub struct MemoryQueue<M = DeliveryMessage> {
    waiting: Mutex<Vec<Queued<M>>>,
    /// Every message ever dead-lettered, and those its consumer has not had yet.
    dead: Mutex<Vec<M>>,
    dead_unread: Mutex<Vec<M>>,
    clock: SharedClock,
    max_receive_count: u32,
}

impl MemoryQueue<DeliveryMessage> {
    /// The dead-letter queue's name as its records carry it (`eventSourceARN`): the
    /// local stack and the tests give it to the notify function
    /// (`DELIVERY_DEAD_LETTER_QUEUE_ARN`).
    pub const DEAD_LETTER_ARN: &'static str = "arn:aws:sqs:local:000000000000:deliveries-dead";
}

impl<M: Message> MemoryQueue<M> {
    pub fn new(clock: SharedClock, max_receive_count: u32) -> Self {
        Self {
            waiting: Mutex::new(Vec::new()),
            dead: Mutex::new(Vec::new()),
            dead_unread: Mutex::new(Vec::new()),
            clock,
            max_receive_count,
        }
    }

    /// The messages visible now, each received once more (up to `max` of them), the
    /// tenants with the fewest in flight first.
    pub fn receive(&self, max: usize) -> Vec<Received> {
        let now = self.clock.now_ms();
        let mut waiting = self.waiting.lock().expect("queue lock poisoned");
        let mut load: HashMap<String, usize> = HashMap::new();
        for queued in waiting.iter().filter(|q| q.in_flight(now)) {
            *load.entry(queued.message.group().to_owned()).or_default() += 1;
        }
        let mut received = Vec::new();
        let mut dead = Vec::new();
        while received.len() < max {
            // The oldest visible message of the least loaded tenant.
            let next = waiting
                .iter()
                .enumerate()
                .filter(|(_, q)| q.visible_at <= now)
                .min_by_key(|(at, q)| (load.get(q.message.group()).copied().unwrap_or(0), *at))
                .map(|(at, _)| at);
            let Some(at) = next else { break };
            let queued = &mut waiting[at];
            queued.receive_count += 1;
            if queued.receive_count > self.max_receive_count {
                dead.push(waiting.remove(at).message);
                continue;
            }
            queued.visible_at = now + VISIBILITY.as_millis() as i64;
            *load.entry(queued.message.group().to_owned()).or_default() += 1;
            received.push(Received {
                id: queued.id.clone(),
                body: serde_json::to_string(&queued.message).expect("a message serializes"),
                receive_count: queued.receive_count,
            });
        }
        if !dead.is_empty() {
            self.dead
                .lock()
                .expect("queue lock poisoned")
                .extend(dead.iter().cloned());
            self.dead_unread
                .lock()
                .expect("queue lock poisoned")
                .extend(dead);
        }
        received
    }

    /// Its handler succeeded: gone.
    pub fn delete(&self, receipt: &str) {
        self.waiting
            .lock()
            .expect("queue lock poisoned")
            .retain(|queued| queued.id != receipt);
    }

    /// Every message dead-lettered so far.
    pub fn dead_letters(&self) -> Vec<M> {
        self.dead.lock().expect("queue lock poisoned").clone()
    }

    /// The dead letters its consumer has not had yet (up to `max`), as the dead-letter
    /// queue's event source hands them out.
    pub fn receive_dead_letters(&self, max: usize) -> Vec<M> {
        let mut unread = self.dead_unread.lock().expect("queue lock poisoned");
        let take = unread.len().min(max);
        unread.drain(..take).collect()
    }

    /// A dead letter its consumer failed on: it comes back.
    pub fn return_dead_letter(&self, message: M) {
        self.dead_unread
            .lock()
            .expect("queue lock poisoned")
            .push(message);
    }

    /// Messages not yet deleted or dead-lettered.
    pub fn waiting(&self) -> usize {
        self.waiting.lock().expect("queue lock poisoned").len()
    }
}

#[async_trait]
impl<M: Message + 'static> Queue<M> for MemoryQueue<M> {
    async fn enqueue(&self, message: &M) -> Result<(), QueueError> {
        let mut waiting = self.waiting.lock().expect("queue lock poisoned");
        let id = format!("m{}-{}", self.clock.now_ms(), uuid::Uuid::new_v4());
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

/// The delivery queue on a compatible endpoint's SQS (moto), and its dead-letter queue.
pub struct SqsDeliveries {
    pub queue: Arc<SqsQueue>,
    pub dead_letters: SqsQueue,
    /// The dead-letter queue's ARN (`DELIVERY_DEAD_LETTER_QUEUE_ARN`).
    pub dead_letter_arn: String,
}

/// The delivery queue `name` and its dead-letter queue on the SQS of a compatible
/// endpoint (moto), with the template's redrive policy: dead-lettered by the receive
/// after `max_receive_count`.
pub async fn sqs_deliveries(
    endpoint: &str,
    name: &str,
    max_receive_count: u32,
) -> Result<SqsDeliveries, QueueError> {
    use aws_sdk_sqs::types::QueueAttributeName;
    let client = aws_sdk_sqs::Client::new(&crate::endpoint_config(endpoint));
    let failed = |e: &dyn std::fmt::Display| QueueError(e.to_string());
    let dead_url = client
        .create_queue()
        .queue_name(format!("{name}-dead"))
        .send()
        .await
        .map_err(|e| failed(&aws_sdk_sqs::error::DisplayErrorContext(e)))?
        .queue_url
        .unwrap_or_default();
    let dead_arn = client
        .get_queue_attributes()
        .queue_url(&dead_url)
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
    Ok(SqsDeliveries {
        queue: Arc::new(SqsQueue::new(client.clone(), url)),
        dead_letters: SqsQueue::new(client, dead_url),
        dead_letter_arn: dead_arn,
    })
}

/// An SQS record as Lambda's SQS event source builds it, for the in-process pollers (the
/// deliveries' and the job chunks').
pub(crate) fn sqs_record(
    id: &str,
    receipt: &str,
    body: &str,
    receive_count: u32,
    source_arn: &str,
) -> serde_json::Value {
    serde_json::json!({
        "messageId": id, "receiptHandle": receipt, "body": body,
        "eventSource": "aws:sqs", "eventSourceARN": source_arn, "awsRegion": "us-east-1",
        "attributes": {"ApproximateReceiveCount": receive_count.to_string()},
    })
}

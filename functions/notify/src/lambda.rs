//! The function's Lambda events, typed as the runtime's own event crate types them
//! (`aws_lambda_events`): a DynamoDB stream batch, an SQS batch, or the sweeper's
//! schedule. Both batches answer with the records that failed (`batchItemFailures`, with
//! `ReportBatchItemFailures` on the event source), and each record is read on its own:
//! one that does not parse fails alone, never its batch.

use aws_lambda_events::event::dynamodb::EventRecord;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsMessage};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use gateway::events::Change;
use gateway::events::queue::DeliveryMessage;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::{NotifyApp, Outcome};

/// One invocation's event, by its source.
#[derive(Debug, Clone, PartialEq)]
pub enum NotifyEvent {
    /// A batch of the table's changes (each a DynamoDB stream record).
    Changes(Vec<Value>),
    /// A batch of delivery messages (each an SQS message).
    Deliveries(Vec<Value>),
    /// The schedule's `{"task": "sweep"}`.
    Sweep,
}

/// What the sweeper's schedule sends.
#[derive(Debug, Deserialize)]
struct Task {
    task: String,
}

/// The records of a batch, left unparsed so that each is read alone.
#[derive(Debug, Deserialize)]
struct Batch {
    #[serde(rename = "Records")]
    records: Vec<Value>,
}

impl<'de> Deserialize<'de> for NotifyEvent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        if let Ok(Task { task }) = serde_json::from_value::<Task>(value.clone()) {
            return match task.as_str() {
                "sweep" => Ok(NotifyEvent::Sweep),
                other => Err(serde::de::Error::custom(format!("unknown task {other:?}"))),
            };
        }
        let Batch { records } = serde_json::from_value(value).map_err(serde::de::Error::custom)?;
        let source = records
            .first()
            .and_then(|r| r.get("eventSource").or_else(|| r.get("EventSource")))
            .and_then(Value::as_str);
        match source {
            Some("aws:dynamodb") => Ok(NotifyEvent::Changes(records)),
            Some("aws:sqs") => Ok(NotifyEvent::Deliveries(records)),
            _ => Err(serde::de::Error::custom("an event of no known source")),
        }
    }
}

/// What the function answers.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum NotifyResponse {
    Changes(DynamoDbEventResponse),
    Deliveries(SqsBatchResponse),
    Swept(crate::SweepReport),
}

/// Handles one invocation.
pub async fn handle(app: &NotifyApp, event: NotifyEvent) -> NotifyResponse {
    match event {
        NotifyEvent::Changes(records) => NotifyResponse::Changes(on_changes(app, records).await),
        NotifyEvent::Deliveries(records) => {
            NotifyResponse::Deliveries(on_deliveries(app, records).await)
        }
        NotifyEvent::Sweep => NotifyResponse::Swept(app.sweep().await),
    }
}

/// A stream record as a change of the table.
fn change(record: EventRecord) -> Option<Change> {
    let images = record.change;
    Change::from_stream(
        images.keys.into(),
        images.old_image.into(),
        images.new_image.into(),
    )
}

async fn on_changes(app: &NotifyApp, records: Vec<Value>) -> DynamoDbEventResponse {
    let mut response = DynamoDbEventResponse::default();
    for raw in records {
        let sequence = raw
            .pointer("/dynamodb/SequenceNumber")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let handled = match serde_json::from_value::<EventRecord>(raw) {
            Ok(record) => match change(record) {
                Some(change) => app.on_change(&change).await.map(|_| ()).map_err(|error| {
                    tracing::error!(%error, "a change could not be made an event: the stream retries it");
                }),
                None => Ok(()),
            },
            Err(error) => {
                tracing::error!(%error, "a stream record could not be read: the stream retries it");
                Err(())
            }
        };
        if handled.is_err() {
            // The stream retries from the first failure: the rest come again too.
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = sequence;
            response.batch_item_failures.push(failure);
            break;
        }
    }
    response
}

async fn on_deliveries(app: &NotifyApp, records: Vec<Value>) -> SqsBatchResponse {
    let deliveries = records.into_iter().map(|raw| async move {
        let id = raw
            .get("messageId")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let message = match serde_json::from_value::<SqsMessage>(raw) {
            Ok(message) => message,
            Err(error) => {
                tracing::error!(%error, "a queue record could not be read: it comes back");
                return id;
            }
        };
        let parsed = message
            .body
            .as_deref()
            .and_then(|body| serde_json::from_str::<DeliveryMessage>(body).ok());
        let Some(delivery) = parsed else {
            tracing::warn!("a queue message that is not a delivery was dropped");
            return None;
        };
        if app.is_dead_letter_queue(message.event_source_arn.as_deref()) {
            return match app.on_dead_letter(&delivery).await {
                Ok(()) => None,
                Err(error) => {
                    tracing::error!(%error, "a dead letter could not be recorded: it comes back");
                    message.message_id
                }
            };
        }
        let receipt = message.receipt_handle.unwrap_or_default();
        match app.on_delivery(&delivery, &receipt).await {
            Outcome::Done => None,
            Outcome::Again => message.message_id,
        }
    });
    let mut response = SqsBatchResponse::default();
    for id in futures_util::future::join_all(deliveries)
        .await
        .into_iter()
        .flatten()
    {
        let mut failure = BatchItemFailure::default();
        failure.item_identifier = id;
        response.batch_item_failures.push(failure);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_stream_record_is_read_as_the_change_that_makes_its_event() {
        // The shape of AWS's documented example, with a session decided by this write.
        let record: EventRecord = serde_json::from_value(json!({
            "eventID": "1", "eventName": "MODIFY", "eventSource": "aws:dynamodb",
            "awsRegion": "us-east-1",
            "dynamodb": {
                "Keys": {"pk": {"S": "AUTH#shop-a#r1"}},
                "NewImage": {
                    "pk": {"S": "AUTH#shop-a#r1"}, "reference_code": {"S": "r1"},
                    "tenant_id": {"S": "shop-a"}, "state": {"S": "AUTHENTICATED"},
                    "created_at": {"N": "1"}, "updated_at": {"N": "5"}, "expires_at": {"N": "9"},
                    "mutation_id": {"S": "m-1"}
                },
                "OldImage": {
                    "pk": {"S": "AUTH#shop-a#r1"}, "reference_code": {"S": "r1"},
                    "tenant_id": {"S": "shop-a"}, "state": {"S": "VALIDATING"},
                    "created_at": {"N": "1"}, "updated_at": {"N": "4"}, "expires_at": {"N": "9"}
                },
                "SequenceNumber": "111", "SizeBytes": 26, "StreamViewType": "NEW_AND_OLD_IMAGES"
            }
        }))
        .unwrap();
        let change = change(record).unwrap();
        assert_eq!(change.key, "AUTH#shop-a#r1");
        let event = gateway::events::event_of(&change).expect("a decision is an event");
        assert_eq!(
            event.kind,
            gateway::events::EventType::AuthenticationSucceeded
        );
        assert_eq!(event.tenant.as_str(), "shop-a");
        assert_eq!(event.created_at, 5);
    }

    #[test]
    fn the_three_sources_are_told_apart_and_anything_else_is_refused() {
        let parse = |value: Value| serde_json::from_value::<NotifyEvent>(value);
        assert_eq!(parse(json!({"task": "sweep"})).unwrap(), NotifyEvent::Sweep);
        assert!(matches!(
            parse(json!({"Records": [{"eventSource": "aws:sqs", "body": "{}"}]})).unwrap(),
            NotifyEvent::Deliveries(records) if records.len() == 1
        ));
        assert!(matches!(
            parse(json!({"Records": [{"eventSource": "aws:dynamodb"}]})).unwrap(),
            NotifyEvent::Changes(_)
        ));
        assert!(parse(json!({"task": "other"})).is_err());
        assert!(parse(json!({"Records": [{"eventSource": "aws:s3"}]})).is_err());
    }
}

//! The function's Lambda events, told apart by their shape: a DynamoDB stream batch, an
//! SQS batch, or the sweeper's schedule. Both batches answer with the records that
//! failed (`batchItemFailures`, with `ReportBatchItemFailures` on the event source), so
//! one bad record never makes the others run again.

use std::sync::Arc;

use gateway::events::Change;
use gateway::events::queue::{DeliveryMessage, SqsQueue};
use gateway::store::{Item, KEY, string};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::NotifyApp;

/// A DynamoDB stream record, as Lambda passes it.
#[derive(Debug, Deserialize)]
struct StreamRecord {
    dynamodb: StreamChange,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StreamChange {
    sequence_number: String,
    #[serde(default)]
    keys: Option<serde_dynamo::Item>,
    #[serde(default)]
    new_image: Option<serde_dynamo::Item>,
    #[serde(default)]
    old_image: Option<serde_dynamo::Item>,
}

/// An SQS record, as Lambda passes it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueueRecord {
    message_id: String,
    receipt_handle: String,
    body: String,
    #[serde(default)]
    attributes: QueueAttributes,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct QueueAttributes {
    #[serde(default)]
    approximate_receive_count: Option<String>,
}

fn item(image: Option<serde_dynamo::Item>) -> Option<Item> {
    image.map(Into::into)
}

/// A stream record as a change of the table.
fn change(record: StreamChange) -> Option<(String, Change)> {
    let keys = item(record.keys)?;
    let key = string(&keys, KEY)?.to_owned();
    Some((
        record.sequence_number,
        Change {
            key,
            old: item(record.old_image),
            new: item(record.new_image),
        },
    ))
}

/// Handles one Lambda event; `sqs` makes failed deliveries visible again on schedule.
pub async fn handle(app: &NotifyApp, sqs: Option<&Arc<SqsQueue>>, event: Value) -> Value {
    let source = event
        .pointer("/Records/0/eventSource")
        .and_then(Value::as_str)
        .unwrap_or_default();
    match source {
        "aws:dynamodb" => on_stream(app, &event).await,
        "aws:sqs" => on_queue(app, sqs, &event).await,
        _ if event.get("task").and_then(Value::as_str) == Some("sweep") => {
            match app.sweep().await {
                Ok(swept) => json!({"expired": swept.expired, "left": swept.left}),
                Err(error) => {
                    // The next run (a minute later) starts from the same cursor.
                    tracing::error!(%error, "the sweep stopped");
                    json!({"error": "the sweep stopped"})
                }
            }
        }
        _ => {
            tracing::warn!("an event of no known shape was ignored");
            json!({})
        }
    }
}

async fn on_stream(app: &NotifyApp, event: &Value) -> Value {
    let records: Vec<StreamRecord> = event
        .get("Records")
        .cloned()
        .and_then(|r| serde_json::from_value(r).ok())
        .unwrap_or_default();
    let mut failures = Vec::new();
    for record in records {
        let sequence = record.dynamodb.sequence_number.clone();
        let Some((_, change)) = change(record.dynamodb) else {
            continue;
        };
        if let Err(error) = app.on_change(&change).await {
            tracing::error!(%error, "a change could not be made an event: the stream retries it");
            // The stream retries from the first failure: the rest come again too.
            failures.push(json!({"itemIdentifier": sequence}));
            break;
        }
    }
    json!({"batchItemFailures": failures})
}

async fn on_queue(app: &NotifyApp, sqs: Option<&Arc<SqsQueue>>, event: &Value) -> Value {
    let records: Vec<QueueRecord> = event
        .get("Records")
        .cloned()
        .and_then(|r| serde_json::from_value(r).ok())
        .unwrap_or_default();
    let deliveries = records.into_iter().map(|record| async move {
        let Ok(message) = serde_json::from_str::<DeliveryMessage>(&record.body) else {
            tracing::warn!("a queue message that is not a delivery was dropped");
            return None;
        };
        let receive_count = record
            .attributes
            .approximate_receive_count
            .and_then(|c| c.parse().ok())
            .unwrap_or(1);
        let again = match app.on_delivery(&message, receive_count).await {
            Ok(None) => return None,
            Ok(Some(delay)) => delay,
            // The schedule ran out: visible again at once, so SQS's next receive moves it
            // to the dead-letter queue (its receive count is past maxReceiveCount).
            Err(crate::Exhausted) => std::time::Duration::ZERO,
        };
        if let Some(sqs) = sqs
            && let Err(error) = sqs.retry_after(&record.receipt_handle, again).await
        {
            tracing::warn!(%error, "a failed delivery's next attempt could not be scheduled");
        }
        Some(json!({"itemIdentifier": record.message_id}))
    });
    let failures: Vec<Value> = futures_util::future::join_all(deliveries)
        .await
        .into_iter()
        .flatten()
        .collect();
    json!({"batchItemFailures": failures})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_record_is_read_as_a_change() {
        // The shape of AWS's documented example, with our key.
        let record: StreamRecord = serde_json::from_value(json!({
            "eventID": "1", "eventName": "MODIFY", "eventSource": "aws:dynamodb",
            "dynamodb": {
                "Keys": {"pk": {"S": "AUTH#shop-a#r1"}},
                "NewImage": {"pk": {"S": "AUTH#shop-a#r1"}, "state": {"S": "AUTHENTICATED"}, "updated_at": {"N": "5"}},
                "OldImage": {"pk": {"S": "AUTH#shop-a#r1"}, "state": {"S": "VALIDATING"}},
                "SequenceNumber": "111", "SizeBytes": 26, "StreamViewType": "NEW_AND_OLD_IMAGES"
            }
        }))
        .unwrap();
        let (sequence, change) = change(record.dynamodb).unwrap();
        assert_eq!(sequence, "111");
        assert_eq!(change.key, "AUTH#shop-a#r1");
        let new = change.new.unwrap();
        assert_eq!(string(&new, "state"), Some("AUTHENTICATED"));
        assert_eq!(gateway::store::number(&new, "updated_at"), Some(5));
        assert_eq!(
            string(change.old.as_ref().unwrap(), "state"),
            Some("VALIDATING")
        );
    }
}

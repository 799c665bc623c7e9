//! DynamoDB Streams of a DynamoDB-compatible endpoint (moto, a local stack), read as a
//! [`ChangeFeed`]: every shard of the table's latest stream, from its start, in order.
//! (On AWS, Lambda's event source mapping reads the stream for the notify function.)

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodbstreams::Client;
use aws_sdk_dynamodbstreams::types::{AttributeValue as StreamValue, ShardIteratorType};
use tokio::sync::Mutex;

use gateway::store::{AttributeValue, Change, ChangeFeed, Item, KEY, StoreError, string};

pub struct StreamFeed {
    streams: Client,
    tables: aws_sdk_dynamodb::Client,
    table: String,
    /// Each shard's next iterator (`None`: closed and read to its end).
    iterators: Mutex<HashMap<String, Option<String>>>,
}

fn unavailable(error: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(error.to_string())
}

/// The Streams API's attribute values are a type of their own: the same shapes.
fn convert(value: StreamValue) -> AttributeValue {
    match value {
        StreamValue::S(s) => AttributeValue::S(s),
        StreamValue::N(n) => AttributeValue::N(n),
        StreamValue::B(b) => {
            AttributeValue::B(aws_sdk_dynamodb::primitives::Blob::new(b.into_inner()))
        }
        StreamValue::Bool(b) => AttributeValue::Bool(b),
        StreamValue::Null(n) => AttributeValue::Null(n),
        StreamValue::Ss(v) => AttributeValue::Ss(v),
        StreamValue::Ns(v) => AttributeValue::Ns(v),
        StreamValue::Bs(v) => AttributeValue::Bs(
            v.into_iter()
                .map(|b| aws_sdk_dynamodb::primitives::Blob::new(b.into_inner()))
                .collect(),
        ),
        StreamValue::L(v) => AttributeValue::L(v.into_iter().map(convert).collect()),
        StreamValue::M(m) => {
            AttributeValue::M(m.into_iter().map(|(k, v)| (k, convert(v))).collect())
        }
        _ => AttributeValue::Null(true),
    }
}

fn item(image: Option<HashMap<String, StreamValue>>) -> Option<Item> {
    image.map(|m| m.into_iter().map(|(k, v)| (k, convert(v))).collect())
}

impl StreamFeed {
    pub fn new(
        streams: Client,
        tables: aws_sdk_dynamodb::Client,
        table: impl Into<String>,
    ) -> Self {
        Self {
            streams,
            tables,
            table: table.into(),
            iterators: Mutex::new(HashMap::new()),
        }
    }

    async fn stream_arn(&self) -> Result<String, StoreError> {
        self.tables
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
            .map_err(unavailable)?
            .table
            .and_then(|t| t.latest_stream_arn)
            .ok_or_else(|| unavailable("the table has no stream"))
    }

    /// Adds iterators for shards not seen yet (from their start).
    async fn discover(
        &self,
        iterators: &mut HashMap<String, Option<String>>,
    ) -> Result<(), StoreError> {
        let arn = self.stream_arn().await?;
        let description = self
            .streams
            .describe_stream()
            .stream_arn(&arn)
            .send()
            .await
            .map_err(unavailable)?
            .stream_description
            .ok_or_else(|| unavailable("no stream description"))?;
        for shard in description.shards.unwrap_or_default() {
            let Some(id) = shard.shard_id else { continue };
            if iterators.contains_key(&id) {
                continue;
            }
            let iterator = self
                .streams
                .get_shard_iterator()
                .stream_arn(&arn)
                .shard_id(&id)
                .shard_iterator_type(ShardIteratorType::TrimHorizon)
                .send()
                .await
                .map_err(unavailable)?
                .shard_iterator;
            iterators.insert(id, iterator);
        }
        Ok(())
    }
}

#[async_trait]
impl ChangeFeed for StreamFeed {
    async fn poll(&self) -> Result<Vec<Change>, StoreError> {
        let mut iterators = self.iterators.lock().await;
        self.discover(&mut iterators).await?;
        let mut changes = Vec::new();
        let mut shards: Vec<String> = iterators.keys().cloned().collect();
        shards.sort();
        for shard in shards {
            let Some(Some(iterator)) = iterators.get(&shard).cloned() else {
                continue;
            };
            let output = self
                .streams
                .get_records()
                .shard_iterator(iterator)
                .send()
                .await
                .map_err(unavailable)?;
            for record in output.records.unwrap_or_default() {
                let Some(data) = record.dynamodb else {
                    continue;
                };
                let keys = item(data.keys).unwrap_or_default();
                let Some(key) = string(&keys, KEY).map(str::to_owned) else {
                    continue;
                };
                changes.push(Change {
                    key,
                    old: item(data.old_image),
                    new: item(data.new_image),
                });
            }
            iterators.insert(shard, output.next_shard_iterator);
        }
        Ok(changes)
    }
}

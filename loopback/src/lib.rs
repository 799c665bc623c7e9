//! What stands in for AWS off it, for the local stack (`local/`) and the tests: never a
//! dependency of a Lambda function, so no deployed binary carries it.
//!
//! * [`endpoint_config`]: one AWS configuration for every service of a compatible
//!   endpoint on loopback (moto);
//! * [`stack`]: the table on such an endpoint (created as `template.yaml` declares it)
//!   with its change stream read as Lambda's event source would ([`stream`]); or the
//!   in-memory store and its log ([`memory_stack`]);
//! * [`secrets`]: secrets from memory and files, or moto's Secrets Manager;
//! * [`queue`]: the delivery queue in process, or on a compatible SQS with its
//!   dead-letter queue;
//! * [`background`]: the notify function's three event sources driven in process;
//! * [`jobs`]: the job worker's queue and dead letters driven in process; [`objects`]:
//!   the jobs' files in memory (with an upload endpoint) or on a compatible S3;
//! * [`dispatch`]: API Gateway's routing of each request to its function.

use std::sync::Arc;

use gateway::store::dynamo::DynamoStore;
use gateway::store::memory::MemoryStore;
use gateway::store::{ChangeFeed, SharedStore, StoreError};

pub mod background;
pub mod dispatch;
pub mod jobs;
pub mod objects;
pub mod queue;
pub mod secrets;
pub mod stream;
mod table;

pub use table::ensure_table;

/// The AWS configuration for a compatible endpoint on loopback (moto, the local stack):
/// every service at `endpoint`; such servers accept any credentials, so placeholders
/// stand in when the environment has none.
pub fn endpoint_config(endpoint: &str) -> aws_config::SdkConfig {
    let var = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
    let credentials = aws_sdk_dynamodb::config::Credentials::new(
        var("AWS_ACCESS_KEY_ID", "local"),
        var("AWS_SECRET_ACCESS_KEY", "local"),
        std::env::var("AWS_SESSION_TOKEN").ok(),
        None,
        "endpoint-override",
    );
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(var("AWS_REGION", "us-east-1")))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
            credentials,
        ))
        .build()
}

/// A store and the change stream of its table.
pub struct Stack {
    pub store: SharedStore,
    pub feed: Arc<dyn ChangeFeed>,
}

/// The in-memory store and its own log of changes.
pub fn memory_stack() -> Stack {
    let memory = Arc::new(MemoryStore::new());
    Stack {
        store: memory.clone(),
        feed: memory,
    }
}

/// The table `table` on the DynamoDB-compatible `endpoint` (created if missing) and its
/// DynamoDB Streams.
pub async fn stack(endpoint: &str, table: &str) -> Result<Stack, StoreError> {
    let config = endpoint_config(endpoint);
    let client = aws_sdk_dynamodb::Client::new(&config);
    ensure_table(&client, table).await?;
    let feed = stream::StreamFeed::new(
        aws_sdk_dynamodbstreams::Client::new(&config),
        client.clone(),
        table,
    );
    Ok(Stack {
        store: Arc::new(DynamoStore::new(client, table)),
        feed: Arc::new(feed),
    })
}

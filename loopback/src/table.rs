//! The table as `template.yaml` declares it, created on a DynamoDB-compatible endpoint
//! (moto) for the tests and the local stack: its key, its two indexes (from
//! `gateway::store::Index`, so both stores and the template describe the same ones), its
//! stream and its TTL attribute.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
    TimeToLiveSpecification,
};
use gateway::store::dynamo::store_error;
use gateway::store::{Index, KEY, StoreError};

/// The TTL attribute (epoch seconds): DynamoDB deletes expired items lazily, so it only
/// cleans up.
const TTL_ATTRIBUTE: &str = gateway::store::attr::EXPIRES_AT;

fn key_element(name: &str, kind: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .expect("static key schema")
}

/// An index as `template.yaml` declares it.
fn secondary_index(index: Index) -> GlobalSecondaryIndex {
    let projection = match index.projected() {
        None => Projection::builder()
            .projection_type(ProjectionType::All)
            .build(),
        Some([]) => Projection::builder()
            .projection_type(ProjectionType::KeysOnly)
            .build(),
        Some(attributes) => Projection::builder()
            .projection_type(ProjectionType::Include)
            .set_non_key_attributes(Some(attributes.iter().map(|a| a.to_string()).collect()))
            .build(),
    };
    GlobalSecondaryIndex::builder()
        .index_name(index.name())
        .key_schema(key_element(index.partition_attr(), KeyType::Hash))
        .key_schema(key_element(index.sort_attr(), KeyType::Range))
        .projection(projection)
        .build()
        .expect("static index")
}

/// Creates the table the way `template.yaml` declares it (for tests and local stacks
/// pointed at a DynamoDB-compatible endpoint). An existing table is left as it is.
pub async fn ensure_table(client: &Client, table: &str) -> Result<(), StoreError> {
    let exists = client
        .describe_table()
        .table_name(table)
        .send()
        .await
        .is_ok();
    if exists {
        return Ok(());
    }
    let attribute = |name: &str, kind: ScalarAttributeType| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(kind)
            .build()
            .expect("static attribute definition")
    };
    let mut create = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key_element(KEY, KeyType::Hash))
        .attribute_definitions(attribute(KEY, ScalarAttributeType::S))
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewAndOldImages)
                .build()
                .expect("static stream specification"),
        );
    for index in Index::ALL {
        let sort_type = if index.numeric_sort() {
            ScalarAttributeType::N
        } else {
            ScalarAttributeType::S
        };
        create = create
            .attribute_definitions(attribute(index.partition_attr(), ScalarAttributeType::S))
            .attribute_definitions(attribute(index.sort_attr(), sort_type))
            .global_secondary_indexes(secondary_index(index));
    }
    create.send().await.map_err(store_error)?;
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name(TTL_ATTRIBUTE)
                .build()
                .expect("static TTL specification"),
        )
        .send()
        .await
        .map_err(store_error)?;
    Ok(())
}

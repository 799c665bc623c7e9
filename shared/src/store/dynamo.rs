//! The DynamoDB store: each mutation is one `UpdateItem` with a `ConditionExpression`,
//! returning the new item on success and the old one on failure
//! (`ReturnValuesOnConditionCheckFailure=ALL_OLD`), so callers never need a second read
//! to learn why a write was refused.

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{ReturnValue, ReturnValuesOnConditionCheckFailure};

use super::{
    AttributeValue, Guard, Item, ItemStore, KEY, Mutation, Page, Query, StoreError, Written,
};

pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

/// Expression attribute names and values, numbered as they are used.
#[derive(Default)]
struct Expression {
    names: std::collections::HashMap<String, String>,
    values: std::collections::HashMap<String, AttributeValue>,
}

impl Expression {
    fn name(&mut self, attr: &str) -> String {
        if let Some((placeholder, _)) = self.names.iter().find(|(_, a)| a.as_str() == attr) {
            return placeholder.clone();
        }
        let placeholder = format!("#n{}", self.names.len());
        self.names.insert(placeholder.clone(), attr.to_owned());
        placeholder
    }

    fn value(&mut self, value: AttributeValue) -> String {
        let placeholder = format!(":v{}", self.values.len());
        self.values.insert(placeholder.clone(), value);
        placeholder
    }

    fn condition(&mut self, guard: &Guard) -> String {
        let mut cmp = |attr: &str, op: &str, value: AttributeValue| {
            let name = self.name(attr);
            let value = self.value(value);
            format!("{name} {op} {value}")
        };
        match guard {
            Guard::Absent => {
                let name = self.name(KEY);
                format!("attribute_not_exists({name})")
            }
            Guard::Missing(attr) => {
                let name = self.name(attr);
                format!("attribute_not_exists({name})")
            }
            Guard::Eq(attr, value) => cmp(attr, "=", value.clone()),
            Guard::Lt(attr, value) => cmp(attr, "<", super::number_value(*value)),
            Guard::Gt(attr, value) => cmp(attr, ">", super::number_value(*value)),
            Guard::Le(attr, value) => cmp(attr, "<=", super::number_value(*value)),
            Guard::And(all) => self.join(all, " AND "),
            Guard::Or(any) => self.join(any, " OR "),
        }
    }

    fn join(&mut self, guards: &[Guard], op: &str) -> String {
        let parts: Vec<String> = guards.iter().map(|g| self.condition(g)).collect();
        format!("({})", parts.join(op))
    }

    fn update(&mut self, mutation: &Mutation) -> String {
        let mut sets = Vec::new();
        for (attr, value) in &mutation.patch.set {
            let (name, value) = (self.name(attr), self.value(value.clone()));
            sets.push(format!("{name} = {value}"));
        }
        for (attr, value) in &mutation.patch.set_if_absent {
            let (name, value) = (self.name(attr), self.value(value.clone()));
            sets.push(format!("{name} = if_not_exists({name}, {value})"));
        }
        for (attr, by) in &mutation.patch.increment {
            let name = self.name(attr);
            let zero = self.value(super::number_value(0));
            let by = self.value(super::number_value(*by));
            sets.push(format!("{name} = if_not_exists({name}, {zero}) + {by}"));
        }
        let removes: Vec<String> = mutation.patch.remove.iter().map(|a| self.name(a)).collect();
        let mut update = String::new();
        if !sets.is_empty() {
            update.push_str("SET ");
            update.push_str(&sets.join(", "));
        }
        if !removes.is_empty() {
            update.push_str(" REMOVE ");
            update.push_str(&removes.join(", "));
        }
        update
    }
}

pub fn store_error<E>(err: SdkError<E>) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
{
    match err {
        SdkError::TimeoutError(_) => StoreError::Timeout,
        other => StoreError::Unavailable(DisplayErrorContext(other).to_string()),
    }
}

#[async_trait]
impl ItemStore for DynamoStore {
    async fn write(&self, key: &str, mutation: &Mutation) -> Result<Written, StoreError> {
        let mut expr = Expression::default();
        let condition = expr.condition(&mutation.guard);
        let update = expr.update(mutation);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(KEY, AttributeValue::S(key.to_owned()))
            .condition_expression(condition)
            .update_expression(update)
            .set_expression_attribute_names(Some(expr.names))
            .set_expression_attribute_values(Some(expr.values))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(output) => Ok(Written::Applied(output.attributes.unwrap_or_default())),
            Err(SdkError::ServiceError(service)) => match service.into_err() {
                UpdateItemError::ConditionalCheckFailedException(failed) => {
                    Ok(Written::Refused(failed.item))
                }
                other => Err(StoreError::Unavailable(
                    DisplayErrorContext(other).to_string(),
                )),
            },
            Err(other) => Err(store_error(other)),
        }
    }

    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        self.query_index(query).await
    }

    async fn write_together(&self, writes: &[(String, Mutation)]) -> Result<bool, StoreError> {
        use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
        use aws_sdk_dynamodb::types::{TransactWriteItem, Update};
        let mut items = Vec::with_capacity(writes.len());
        for (key, mutation) in writes {
            let mut expr = Expression::default();
            let condition = expr.condition(&mutation.guard);
            let update = expr.update(mutation);
            let update = Update::builder()
                .table_name(&self.table)
                .key(KEY, AttributeValue::S(key.clone()))
                .condition_expression(condition)
                .update_expression(update)
                .set_expression_attribute_names(Some(expr.names))
                .set_expression_attribute_values(Some(expr.values))
                .build()
                .map_err(|e| StoreError::Unavailable(e.to_string()))?;
            items.push(TransactWriteItem::builder().update(update).build());
        }
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(SdkError::ServiceError(service)) => match service.into_err() {
                // Refused by a guard (the reasons name which): nothing was written. A
                // conflict with another transaction is a fault to retry.
                TransactWriteItemsError::TransactionCanceledException(canceled)
                    if canceled
                        .cancellation_reasons()
                        .iter()
                        .any(|r| r.code() == Some("ConditionalCheckFailed")) =>
                {
                    Ok(false)
                }
                other => Err(StoreError::Unavailable(
                    DisplayErrorContext(other).to_string(),
                )),
            },
            Err(other) => Err(store_error(other)),
        }
    }

    async fn read_many(
        &self,
        keys: &[String],
    ) -> Result<std::collections::HashMap<String, Item>, StoreError> {
        use aws_sdk_dynamodb::types::KeysAndAttributes;
        let mut found = std::collections::HashMap::new();
        let mut wanted: Vec<Item> = keys
            .iter()
            .map(|key| Item::from([(KEY.to_owned(), AttributeValue::S(key.clone()))]))
            .collect();
        // What DynamoDB leaves unprocessed (throttling) is asked again, a few times.
        for attempt in 0..5 {
            if wanted.is_empty() {
                break;
            }
            if attempt > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(20 << attempt)).await;
            }
            let request = KeysAndAttributes::builder()
                .set_keys(Some(std::mem::take(&mut wanted)))
                .consistent_read(true)
                .build()
                .map_err(|e| StoreError::Unavailable(e.to_string()))?;
            let output = self
                .client
                .batch_get_item()
                .request_items(&self.table, request)
                .send()
                .await
                .map_err(store_error)?;
            for item in output
                .responses
                .and_then(|mut r| r.remove(&self.table))
                .unwrap_or_default()
            {
                if let Some(AttributeValue::S(key)) = item.get(KEY) {
                    found.insert(key.clone(), item);
                }
            }
            wanted = output
                .unprocessed_keys
                .and_then(|mut u| u.remove(&self.table))
                .map(|k| k.keys)
                .unwrap_or_default();
        }
        if !wanted.is_empty() {
            return Err(StoreError::Unavailable(
                "the store left keys unprocessed after five tries".into(),
            ));
        }
        Ok(found)
    }

    async fn read(&self, key: &str) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(KEY, AttributeValue::S(key.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(store_error)?;
        Ok(output.item)
    }
}

impl DynamoStore {
    /// One page of an index partition (eventually consistent, as every GSI read is).
    async fn query_index(&self, query: &Query) -> Result<Page, StoreError> {
        let mut expr = Expression::default();
        let partition = expr.name(query.index.partition_attr());
        let partition_value = expr.value(AttributeValue::S(query.partition.clone()));
        let mut condition = format!("{partition} = {partition_value}");
        if let Some((bound, inclusive)) = &query.up_to {
            let sort = expr.name(query.index.sort_attr());
            let value = expr.value(bound.clone());
            let op = if *inclusive { "<=" } else { "<" };
            condition.push_str(&format!(" AND {sort} {op} {value}"));
        }
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(query.index.name())
            .key_condition_expression(condition)
            .set_expression_attribute_names(Some(expr.names))
            .set_expression_attribute_values(Some(expr.values))
            .scan_index_forward(!query.descending)
            .limit(query.limit.clamp(1, 1000) as i32)
            .set_exclusive_start_key(query.start_after.clone())
            .send()
            .await
            .map_err(store_error)?;
        Ok(Page {
            items: output.items.unwrap_or_default(),
            next: output.last_evaluated_key,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Patch, string_value};

    #[test]
    fn guards_and_patches_render_to_one_update_item() {
        let mutation = Mutation {
            guard: Guard::Or(vec![
                Guard::Absent,
                Guard::And(vec![
                    Guard::equals("state", "A"),
                    Guard::Lt("lease_until", 5),
                ]),
            ]),
            patch: Patch::default()
                .set_s("state", "B")
                .set_if_absent("created_at", string_value("now"))
                .remove("lease_until"),
        };
        let mut expr = Expression::default();
        assert_eq!(
            expr.condition(&mutation.guard),
            "(attribute_not_exists(#n0) OR (#n1 = :v0 AND #n2 < :v1))"
        );
        assert_eq!(
            expr.update(&mutation),
            "SET #n1 = :v2, #n3 = if_not_exists(#n3, :v3) REMOVE #n2"
        );
        assert_eq!(expr.names["#n2"], "lease_until");
        assert_eq!(expr.values[":v1"], AttributeValue::N("5".into()));
    }
}

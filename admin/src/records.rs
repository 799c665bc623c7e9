//! The records a tenant lifecycle command moves or deletes, in the gateway's table (the
//! endpoint from the AWS SDK's environment, `AWS_ENDPOINT_URL_DYNAMODB` for moto). The
//! admin command finds them by a scan (an operator's occasional job, never a request's);
//! each change is one conditional write, owned by the module of its record.

use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use gateway::domain::{BudgetId, TenantId};
use gateway::enrollment::Enrollments;
use gateway::store::dynamo::DynamoStore;
use gateway::store::{KEY, attr};

pub struct Table {
    client: aws_sdk_dynamodb::Client,
    name: String,
}

fn failed(error: impl std::fmt::Display) -> String {
    error.to_string()
}

impl Table {
    pub async fn new(name: &str) -> Self {
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        Self {
            client: aws_sdk_dynamodb::Client::new(&config),
            name: name.to_owned(),
        }
    }

    /// The keys of the items whose string attributes equal `filters`.
    async fn keys_where(&self, filters: &[(&str, &str)]) -> Result<Vec<String>, String> {
        let expression: Vec<String> = (0..filters.len())
            .map(|n| format!("#a{n} = :v{n}"))
            .collect();
        let mut keys = Vec::new();
        let mut start = None;
        loop {
            let mut scan = self
                .client
                .scan()
                .table_name(&self.name)
                .projection_expression("#k")
                .expression_attribute_names("#k", KEY)
                .filter_expression(expression.join(" AND "))
                .set_exclusive_start_key(start);
            for (n, (name, value)) in filters.iter().enumerate() {
                scan = scan
                    .expression_attribute_names(format!("#a{n}"), *name)
                    .expression_attribute_values(
                        format!(":v{n}"),
                        AttributeValue::S((*value).into()),
                    );
            }
            let page = scan
                .send()
                .await
                .map_err(|e| failed(aws_sdk_dynamodb::error::DisplayErrorContext(e)))?;
            keys.extend(
                page.items()
                    .iter()
                    .filter_map(|item| item.get(KEY).and_then(|k| k.as_s().ok()).cloned()),
            );
            match page.last_evaluated_key {
                Some(next) => start = Some(next),
                None => return Ok(keys),
            }
        }
    }

    /// Moves the card and contact records of `budget` from `from` to `to`. Returns how
    /// many moved.
    pub async fn transfer_budget(
        &self,
        budget: &BudgetId,
        from: &TenantId,
        to: &TenantId,
    ) -> Result<usize, String> {
        let store = Arc::new(DynamoStore::new(self.client.clone(), self.name.clone()));
        let enrollments = Enrollments::new(store, gateway::clock::system());
        let keys = self
            .keys_where(&[
                (gateway::enrollment::attr::BUDGET_ID, budget.as_str()),
                (attr::TENANT_ID, from.as_str()),
            ])
            .await?;
        let mut moved = 0;
        for key in keys {
            if enrollments
                .transfer(&key, budget, from, to)
                .await
                .map_err(failed)?
            {
                moved += 1;
            }
        }
        Ok(moved)
    }

    /// Deletes every item of the retired tenant `tenant`. Returns how many.
    pub async fn purge_tenant(&self, tenant: &TenantId) -> Result<usize, String> {
        let keys = self
            .keys_where(&[(attr::TENANT_ID, tenant.as_str())])
            .await?;
        let mut deleted = 0;
        for key in keys {
            self.client
                .delete_item()
                .table_name(&self.name)
                .key(KEY, AttributeValue::S(key))
                .condition_expression("#t = :t")
                .expression_attribute_names("#t", attr::TENANT_ID)
                .expression_attribute_values(":t", AttributeValue::S(tenant.to_string()))
                .send()
                .await
                .map_err(|e| failed(aws_sdk_dynamodb::error::DisplayErrorContext(e)))?;
            deleted += 1;
        }
        Ok(deleted)
    }
}

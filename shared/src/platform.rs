//! What a function is built on, made once per cold start and shared by its handlers: the
//! store, the clock, and where secrets come from. On Lambda the AWS configuration (region,
//! credentials, timeouts) is loaded once and serves every AWS client.

use std::sync::Arc;
use std::time::Duration;

use crate::clock::{self, SharedClock};
use crate::config::{STORE_OPERATION_TIMEOUT, SecretSettings, StoreSettings};
use crate::secrets::{Cached, SecretDocument, SecretsManager, SharedSecretSource};
use crate::store::SharedStore;
use crate::store::dynamo::DynamoStore;
use crate::tenants::parts::RegistryPart;
use crate::tenants::{Registry, RegistryPolicy};

#[derive(Clone)]
pub struct Platform {
    pub store: SharedStore,
    pub clock: SharedClock,
    pub secrets: SharedSecretSource,
    /// The AWS configuration the clients above were made with, for the clients a
    /// function adds (the delivery queue); `None` off AWS (the local stack, the tests).
    pub aws: Option<aws_config::SdkConfig>,
    /// Where webhook deliveries are queued (SQS on AWS, in process locally); `None`
    /// where the function queues none.
    pub deliveries: Option<crate::events::queue::SharedQueue>,
}

impl Platform {
    /// The Lambda platform: the function's DynamoDB table, AWS Secrets Manager, the system clock.
    /// Endpoints come from the AWS SDK's standard variables (`AWS_ENDPOINT_URL_DYNAMODB`,
    /// `AWS_ENDPOINT_URL_SECRETS_MANAGER`) when set, as for moto.
    pub async fn from_env(store: &StoreSettings) -> Self {
        let aws = aws_config().await;
        let store: SharedStore = Arc::new(DynamoStore::new(
            aws_sdk_dynamodb::Client::new(&aws),
            store.table_name.clone(),
        ));
        Self {
            store,
            clock: clock::system(),
            secrets: Arc::new(SecretsManager::new(aws_sdk_secretsmanager::Client::new(
                &aws,
            ))),
            aws: Some(aws),
            deliveries: None,
        }
    }

    /// A secret of the function's, read from this platform's source and re-read after the
    /// secrets' TTL.
    pub fn secret<T: SecretDocument>(
        &self,
        secret_id: &str,
        settings: &SecretSettings,
        context: T::Context,
    ) -> Cached<T> {
        Cached::new(
            self.secrets.clone(),
            secret_id.to_owned(),
            settings.ttl,
            self.clock.clone(),
            context,
        )
    }

    /// The tenant registry as a function reads it: the routing document and the parts
    /// it holds (`parts`, each given by its settings), read together.
    pub fn tenant_registry(
        &self,
        settings: &SecretSettings,
        parts: &[RegistryPart],
    ) -> Cached<Registry> {
        let policy = RegistryPolicy::holding(parts, settings.allow_loopback_http);
        let mut ids = vec![settings.tenant_registry.clone()];
        for part in &policy.parts {
            let id = settings.tenant_parts.get(part).unwrap_or_else(|| {
                panic!("{} was checked when the settings were read", part.env())
            });
            ids.push(id.clone());
        }
        Cached::group(
            self.secrets.clone(),
            ids,
            settings.ttl,
            self.clock.clone(),
            policy,
        )
    }

    /// This platform with its store confined to a function's share of the table.
    pub fn scoped(&self, scope: crate::store::scope::TableScope) -> Self {
        Self {
            store: Arc::new(crate::store::scope::ScopedStore::new(
                self.store.clone(),
                scope,
            )),
            ..self.clone()
        }
    }

    /// Deliveries queued on the SQS queue at `url`.
    pub fn with_sqs_deliveries(mut self, url: &str) -> Self {
        if let Some(aws) = &self.aws {
            self.deliveries = Some(Arc::new(crate::events::queue::SqsQueue::new(
                aws_sdk_sqs::Client::new(aws),
                url,
            )));
        }
        self
    }
}

/// Region and credentials from the Lambda environment; tight timeouts, so a slow AWS
/// service becomes our 504 rather than a Lambda timeout.
async fn aws_config() -> aws_config::SdkConfig {
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(1))
        .operation_attempt_timeout(Duration::from_millis(1_500))
        .operation_timeout(STORE_OPERATION_TIMEOUT)
        .build();
    crate::tls::with_aws_http_client(aws_config::defaults(aws_config::BehaviorVersion::latest()))
        .timeout_config(timeouts)
        .load()
        .await
}

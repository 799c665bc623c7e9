//! Where the admin command reads and writes: one secret document (a key set), or the
//! tenant registry as its routing document and parts ([`RegistrySet`]) — files (each
//! written with mode 0600, atomically), or Secrets Manager secrets (a new version each
//! write; the endpoint comes from the AWS SDK's environment,
//! `AWS_ENDPOINT_URL_SECRETS_MANAGER` for moto).

use std::collections::BTreeSet;
use std::path::PathBuf;

use gateway::tenants::RegistryDocument;
use gateway::tenants::parts::{self, Parts, RegistryPart, write_private};

pub enum RegistryStore {
    File(PathBuf),
    SecretsManager {
        client: aws_sdk_secretsmanager::Client,
        secret_id: String,
    },
}

impl RegistryStore {
    pub async fn secrets_manager(secret_id: &str) -> Self {
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        Self::SecretsManager {
            client: aws_sdk_secretsmanager::Client::new(&config),
            secret_id: secret_id.to_owned(),
        }
    }

    /// The document's text; `None` when a file does not exist yet.
    pub async fn read(&self) -> Result<Option<String>, String> {
        match self {
            RegistryStore::File(path) => match std::fs::read_to_string(path) {
                Ok(text) => Ok(Some(text)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(format!("{}: {e}", path.display())),
            },
            RegistryStore::SecretsManager { client, secret_id } => client
                .get_secret_value()
                .secret_id(secret_id)
                .send()
                .await
                .map(|output| output.secret_string)
                .map_err(|e| {
                    format!(
                        "{secret_id}: {}",
                        aws_sdk_secretsmanager::error::DisplayErrorContext(e)
                    )
                }),
        }
    }

    pub async fn write(&self, text: &str) -> Result<(), String> {
        match self {
            RegistryStore::File(path) => write_private(path, text),
            RegistryStore::SecretsManager { client, secret_id } => {
                put_secret(client, secret_id, text).await
            }
        }
    }
}

/// Writes a secret's new version; a part's secret that does not exist yet (a registry
/// from before the split) is created.
async fn put_secret(
    client: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
    text: &str,
) -> Result<(), String> {
    use aws_sdk_secretsmanager::error::{DisplayErrorContext, SdkError};
    use aws_sdk_secretsmanager::operation::put_secret_value::PutSecretValueError;
    let failed = |e: &dyn std::fmt::Display| format!("{secret_id}: {e}");
    match client
        .put_secret_value()
        .secret_id(secret_id)
        .secret_string(text)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(SdkError::ServiceError(service))
            if matches!(
                service.err(),
                PutSecretValueError::ResourceNotFoundException(_)
            ) =>
        {
            client
                .create_secret()
                .name(secret_id)
                .secret_string(text)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| failed(&DisplayErrorContext(e)))
        }
        Err(e) => Err(failed(&DisplayErrorContext(e))),
    }
}

/// The tenant registry: its routing document and, beside it, one secret (or file) per
/// part ([`gateway::tenants::parts`]). Read whole, written split.
pub enum RegistrySet {
    /// The registry file; the parts' files beside it.
    File(PathBuf),
    /// The registry secret's name; each part's secret is named after it.
    SecretsManager {
        client: aws_sdk_secretsmanager::Client,
        registry: String,
    },
}

impl RegistrySet {
    pub async fn secrets_manager(registry: &str) -> Self {
        let RegistryStore::SecretsManager { client, .. } =
            RegistryStore::secrets_manager(registry).await
        else {
            unreachable!("a Secrets Manager store")
        };
        Self::SecretsManager {
            client,
            registry: registry.to_owned(),
        }
    }

    /// The whole registry; `None` when there is none yet.
    pub async fn read(&self) -> Result<Option<RegistryDocument>, String> {
        match self {
            RegistrySet::File(path) => parts::read_files(path),
            RegistrySet::SecretsManager { client, registry } => {
                let store = |id: &str| RegistryStore::SecretsManager {
                    client: client.clone(),
                    secret_id: id.to_owned(),
                };
                let Some(text) = store(registry).read().await? else {
                    return Ok(None);
                };
                let routing = gateway::tenants::read_document(&text)?;
                let mut read = Parts::default();
                let mut found = BTreeSet::new();
                for part in RegistryPart::ALL {
                    // A part not created yet (a registry from before the split) is empty.
                    if let Ok(Some(text)) = store(&part.secret_name(registry)).read().await {
                        read.read(part, &text)?;
                        found.insert(part);
                    }
                }
                if found.is_empty() {
                    return Ok(Some(routing));
                }
                Ok(Some(parts::merge(
                    routing,
                    &read,
                    &RegistryPart::ALL.into_iter().collect(),
                )))
            }
        }
    }

    /// Writes the registry split: each part, then the routing document.
    pub async fn write(&self, whole: RegistryDocument) -> Result<(), String> {
        match self {
            RegistrySet::File(path) => parts::write_files(path, whole),
            RegistrySet::SecretsManager { client, registry } => {
                let (routing, split) = parts::split(whole);
                for part in RegistryPart::ALL {
                    put_secret(client, &part.secret_name(registry), &split.text(part)).await?;
                }
                let text = serde_json::to_string_pretty(&routing).expect("the registry serializes");
                put_secret(client, registry, &text).await
            }
        }
    }
}

//! Where the admin command reads and writes a secret document: a file, or a Secrets
//! Manager secret (a new version each write; the endpoint comes from the AWS SDK's
//! environment, `AWS_ENDPOINT_URL_SECRETS_MANAGER` for moto).

use std::path::PathBuf;

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
            RegistryStore::File(path) => {
                std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
            }
            RegistryStore::SecretsManager { client, secret_id } => client
                .put_secret_value()
                .secret_id(secret_id)
                .secret_string(text)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| {
                    format!(
                        "{secret_id}: {}",
                        aws_sdk_secretsmanager::error::DisplayErrorContext(e)
                    )
                }),
        }
    }
}

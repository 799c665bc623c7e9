//! Secrets off AWS: values held in memory (built-in development values, and what the
//! tests set and replace), files read on every fetch (so editing one is a rotation), or
//! the Secrets Manager of a compatible endpoint (moto).

use std::collections::HashMap;
use std::sync::RwLock;

use async_trait::async_trait;
use gateway::secrets::{SecretError, SecretSource, SecretsManager};

/// Secrets Manager on a compatible endpoint on loopback (moto).
pub fn secrets_manager(endpoint: &str) -> SecretsManager {
    SecretsManager::new(aws_sdk_secretsmanager::Client::new(
        &crate::endpoint_config(endpoint),
    ))
}

/// Secrets held in memory (built-in development values), or read from files on every
/// fetch (so editing a file is a rotation), for the local stack and the tests.
#[derive(Default)]
pub struct LocalSecrets {
    values: RwLock<HashMap<String, LocalValue>>,
}

enum LocalValue {
    Inline(String),
    File(std::path::PathBuf),
}

impl LocalSecrets {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets (or replaces: a rotation) a secret's value.
    pub fn set(&self, secret_id: &str, value: impl Into<String>) {
        self.values
            .write()
            .expect("secrets lock poisoned")
            .insert(secret_id.into(), LocalValue::Inline(value.into()));
    }

    /// The secret's value is the content of `path`, read on every fetch.
    pub fn from_file(&self, secret_id: &str, path: impl Into<std::path::PathBuf>) {
        self.values
            .write()
            .expect("secrets lock poisoned")
            .insert(secret_id.into(), LocalValue::File(path.into()));
    }
}

#[async_trait]
impl SecretSource for LocalSecrets {
    async fn fetch(&self, secret_id: &str) -> Result<String, SecretError> {
        let values = self.values.read().expect("secrets lock poisoned");
        match values.get(secret_id) {
            None => Err(SecretError::Missing(secret_id.into())),
            Some(LocalValue::Inline(value)) => Ok(value.clone()),
            Some(LocalValue::File(path)) => std::fs::read_to_string(path)
                .map_err(|e| SecretError::Unavailable(secret_id.into(), e.to_string())),
        }
    }
}

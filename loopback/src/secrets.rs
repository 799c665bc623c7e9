//! Secrets off AWS: values held in memory (built-in development values, and what the
//! tests set and replace), files read on every fetch (so editing one is a rotation), or
//! the Secrets Manager of a compatible endpoint (moto).

use std::collections::HashMap;
use std::sync::RwLock;

use async_trait::async_trait;
use gateway::secrets::{SecretError, SecretSource, SecretsManager};
use gateway::tenants::RegistryDocument;
use gateway::tenants::parts::{self, RegistryPart};

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
    /// The routing document (`None`) or a part of a registry file and the parts' files
    /// beside it (or of one whole file), split as deployed.
    RegistryFile(std::path::PathBuf, Option<RegistryPart>),
}

/// The secret ids of a registry: its routing document and each part.
#[derive(Debug, Clone)]
pub struct RegistryIds {
    pub routing: String,
    pub parts: Vec<(RegistryPart, String)>,
}

impl RegistryIds {
    /// The routing document `routing`, each part named after it (as deployed).
    pub fn named_after(routing: &str) -> Self {
        Self {
            routing: routing.to_owned(),
            parts: RegistryPart::ALL
                .into_iter()
                .map(|part| (part, part.secret_name(routing)))
                .collect(),
        }
    }

    /// The settings that name them (`TENANT_REGISTRY_SECRET_ID`, `TENANT_*_SECRET_ID`).
    pub fn settings(&self) -> Vec<(&'static str, String)> {
        let mut settings = vec![("TENANT_REGISTRY_SECRET_ID", self.routing.clone())];
        settings.extend(self.parts.iter().map(|(part, id)| (part.env(), id.clone())));
        settings
    }
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

    /// Sets (or replaces) a whole registry, split into its routing document and parts as
    /// it is deployed.
    pub fn set_registry(&self, ids: &RegistryIds, whole: &RegistryDocument) {
        let (routing, split) = parts::split(whole.clone());
        self.set(
            &ids.routing,
            serde_json::to_string(&routing).expect("the registry serializes"),
        );
        for (part, id) in &ids.parts {
            self.set(id, split.text(*part));
        }
    }

    /// The registry is the file `path` (and its parts' files beside it), read on every
    /// fetch and served split, as deployed.
    pub fn registry_from_file(&self, ids: &RegistryIds, path: &std::path::Path) {
        let mut values = self.values.write().expect("secrets lock poisoned");
        values.insert(
            ids.routing.clone(),
            LocalValue::RegistryFile(path.to_owned(), None),
        );
        for (part, id) in &ids.parts {
            values.insert(
                id.clone(),
                LocalValue::RegistryFile(path.to_owned(), Some(*part)),
            );
        }
    }
}

/// A part (or the routing document) of the registry file `path`.
fn registry_file_part(
    secret_id: &str,
    path: &std::path::Path,
    part: Option<RegistryPart>,
) -> Result<String, SecretError> {
    let whole = parts::read_files(path)
        .map_err(|e| SecretError::Unavailable(secret_id.into(), e))?
        .ok_or_else(|| SecretError::Missing(secret_id.into()))?;
    let (routing, split) = parts::split(whole);
    Ok(match part {
        None => serde_json::to_string(&routing).expect("the registry serializes"),
        Some(part) => split.text(part),
    })
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
            Some(LocalValue::RegistryFile(path, part)) => {
                registry_file_part(secret_id, path, *part)
            }
        }
    }
}

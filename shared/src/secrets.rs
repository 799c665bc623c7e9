//! Secrets: read from AWS Secrets Manager (on Lambda; off AWS the loopback crate's sources
//! stand in: files, built-in values, moto), parsed once per read, and read again after a TTL so a
//! rotation needs no redeploy.
//!
//! The environment names secrets by id only; their values never pass through it. A
//! [`Cached`] secret is read at cold start (a missing or malformed secret fails the cold
//! start, naming the secret, never its content) and re-read on the first use after its TTL.
//! A re-read that fails keeps the last good value and is retried on the next use: a
//! Secrets Manager hiccup never takes the gateway down, and a removed key stops working at
//! the first successful re-read.

use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;

use crate::clock::SharedClock;

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    #[error("secret {0} does not exist")]
    Missing(String),
    #[error("secret {0} could not be read: {1}")]
    Unavailable(String, String),
    /// The content is not what the secret must hold. The reason names fields, never values.
    #[error("secret {0} is not valid: {1}")]
    Invalid(String, String),
}

/// Where secret values come from.
#[async_trait]
pub trait SecretSource: Send + Sync {
    /// The secret's current value (its `SecretString`).
    async fn fetch(&self, secret_id: &str) -> Result<String, SecretError>;

    /// Several secrets' values, in the order asked (a cold start reads all of a
    /// function's secrets at once). By default, one fetch each, concurrently.
    async fn fetch_many(&self, secret_ids: &[&str]) -> Result<Vec<String>, SecretError> {
        futures_util::future::try_join_all(secret_ids.iter().map(|id| self.fetch(id))).await
    }
}

pub type SharedSecretSource = Arc<dyn SecretSource>;

/// AWS Secrets Manager: `GetSecretValue` of the current version.
pub struct SecretsManager {
    client: aws_sdk_secretsmanager::Client,
}

impl SecretsManager {
    pub fn new(client: aws_sdk_secretsmanager::Client) -> Self {
        Self { client }
    }

    pub fn client(&self) -> &aws_sdk_secretsmanager::Client {
        &self.client
    }
}

#[async_trait]
impl SecretSource for SecretsManager {
    async fn fetch(&self, secret_id: &str) -> Result<String, SecretError> {
        use aws_sdk_secretsmanager::error::{DisplayErrorContext, SdkError};
        use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;
        match self
            .client
            .get_secret_value()
            .secret_id(secret_id)
            .send()
            .await
        {
            Ok(output) => output.secret_string.ok_or_else(|| {
                SecretError::Invalid(secret_id.into(), "it has no string value".into())
            }),
            Err(SdkError::ServiceError(service))
                if matches!(
                    service.err(),
                    GetSecretValueError::ResourceNotFoundException(_)
                ) =>
            {
                Err(SecretError::Missing(secret_id.into()))
            }
            // The SDK's error never carries the secret's value.
            Err(other) => Err(SecretError::Unavailable(
                secret_id.into(),
                DisplayErrorContext(other).to_string(),
            )),
        }
    }

    async fn fetch_many(&self, secret_ids: &[&str]) -> Result<Vec<String>, SecretError> {
        // The batch call's limit is 20 secrets; a function needs three at most.
        if secret_ids.len() > 20 {
            return futures_util::future::try_join_all(secret_ids.iter().map(|id| self.fetch(id)))
                .await;
        }
        self.batch(secret_ids).await
    }
}

impl SecretsManager {
    /// `BatchGetSecretValue`: up to 20 secrets in one round trip (and one TLS handshake)
    /// instead of one each.
    async fn batch(&self, secret_ids: &[&str]) -> Result<Vec<String>, SecretError> {
        use aws_sdk_secretsmanager::error::DisplayErrorContext;
        let all = secret_ids.join(", ");
        let output = self
            .client
            .batch_get_secret_value()
            .set_secret_id_list(Some(secret_ids.iter().map(|id| id.to_string()).collect()))
            .send()
            .await
            .map_err(|e| SecretError::Unavailable(all, DisplayErrorContext(e).to_string()))?;
        // Asked by name or ARN: an answer names both.
        let named =
            |id: &str, name: Option<&str>, arn: Option<&str>| name == Some(id) || arn == Some(id);
        secret_ids
            .iter()
            .map(|id| {
                if let Some(failed) = output.errors().iter().find(|e| e.secret_id() == Some(*id)) {
                    return Err(match failed.error_code() {
                        Some("ResourceNotFoundException") => SecretError::Missing(id.to_string()),
                        code => SecretError::Unavailable(
                            id.to_string(),
                            code.unwrap_or("unknown error").to_owned(),
                        ),
                    });
                }
                let value = output
                    .secret_values()
                    .iter()
                    .find(|v| named(id, v.name(), v.arn()))
                    .ok_or_else(|| SecretError::Missing(id.to_string()))?;
                value.secret_string().map(str::to_owned).ok_or_else(|| {
                    SecretError::Invalid(id.to_string(), "it has no string value".into())
                })
            })
            .collect()
    }
}

/// A cached secret that can be loaded from values read with others.
pub trait Preload: Send + Sync {
    fn secret_ids(&self) -> &[String];
    fn source(&self) -> &SharedSecretSource;
    /// Parses `texts` (one per id) and makes them the current value.
    fn accept(&self, texts: &[String]) -> Result<(), SecretError>;
}

/// Reads every secret of a cold start in one round trip (`BatchGetSecretValue` on AWS)
/// and loads each: a missing or malformed one fails, naming it.
pub async fn load_all(secrets: &[&dyn Preload]) -> Result<(), SecretError> {
    let Some(first) = secrets.first() else {
        return Ok(());
    };
    let ids: Vec<&str> = secrets
        .iter()
        .flat_map(|s| s.secret_ids().iter().map(String::as_str))
        .collect();
    let mut values = first.source().fetch_many(&ids).await?.into_iter();
    for secret in secrets {
        let texts: Vec<String> = values.by_ref().take(secret.secret_ids().len()).collect();
        secret.accept(&texts)?;
    }
    Ok(())
}

/// A secret value: its `Debug` never shows the value, so a config struct can be logged.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// What a secret's text is parsed into.
pub trait SecretDocument: Sized + Send + Sync + 'static {
    /// What parsing needs besides the text (settings that are not secret).
    type Context: Send + Sync;

    /// Parses the secret's value; the error names fields, never their values.
    fn parse(text: &str, context: &Self::Context) -> Result<Self, String>;

    /// Parses a document kept in several secrets (read together), in the order of
    /// [`Cached::group`]'s ids. One secret by default.
    fn parse_group(texts: &[String], context: &Self::Context) -> Result<Self, String> {
        let [text] = texts else {
            return Err(format!("expected one secret, read {}", texts.len()));
        };
        Self::parse(text, context)
    }
}

/// One secret, parsed, re-read after `ttl`.
/// How long after a failed re-read the next one is tried: meanwhile the last good value
/// serves without a call per request to a failing Secrets Manager.
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(10);

/// The oldest a last good value may be and still serve while re-reads fail: past it the
/// secret is unavailable (a removed API key must not work for ever).
pub const MAX_STALENESS: Duration = Duration::from_secs(3600);

struct Entry<T> {
    read_at: i64,
    next_read_at: i64,
    value: Arc<T>,
}

pub struct Cached<T: SecretDocument> {
    source: SharedSecretSource,
    /// The secret, or the secrets one document is kept in (read together).
    secret_ids: Vec<String>,
    ttl: Duration,
    clock: SharedClock,
    context: T::Context,
    /// The last good value, when it was read and when to read it again (epoch ms).
    current: RwLock<Option<Entry<T>>>,
    /// One re-read at a time; the others keep using the value they have.
    refreshing: tokio::sync::Mutex<()>,
}

impl<T: SecretDocument> Cached<T> {
    pub fn new(
        source: SharedSecretSource,
        secret_id: impl Into<String>,
        ttl: Duration,
        clock: SharedClock,
        context: T::Context,
    ) -> Self {
        Self::group(source, vec![secret_id.into()], ttl, clock, context)
    }

    /// One document kept in several secrets, read together (in one round trip) and
    /// parsed as one ([`SecretDocument::parse_group`]).
    pub fn group(
        source: SharedSecretSource,
        secret_ids: Vec<String>,
        ttl: Duration,
        clock: SharedClock,
        context: T::Context,
    ) -> Self {
        Self {
            source,
            secret_ids,
            ttl,
            clock,
            context,
            current: RwLock::new(None),
            refreshing: tokio::sync::Mutex::new(()),
        }
    }

    /// The (first) secret's id, to name it.
    pub fn secret_id(&self) -> &str {
        &self.secret_ids[0]
    }

    /// Reads the secret now (cold start): an error here must stop the function.
    pub async fn load(&self) -> Result<Arc<T>, SecretError> {
        let ids: Vec<&str> = self.secret_ids.iter().map(String::as_str).collect();
        let texts = match ids.as_slice() {
            [one] => vec![self.source.fetch(one).await?],
            many => self.source.fetch_many(many).await?,
        };
        self.take(&texts)
    }

    /// Parses `texts` and makes them the current value.
    fn take(&self, texts: &[String]) -> Result<Arc<T>, SecretError> {
        let value = Arc::new(
            T::parse_group(texts, &self.context)
                .map_err(|reason| SecretError::Invalid(self.secret_ids.join(", "), reason))?,
        );
        let now = self.clock.now_ms();
        *self.current.write().expect("secret cache lock poisoned") = Some(Entry {
            read_at: now,
            next_read_at: now + self.ttl.as_millis() as i64,
            value: value.clone(),
        });
        Ok(value)
    }

    /// The value, re-read first if it is older than the TTL. A failed re-read keeps the
    /// last good value (logged) and is tried again after [`RETRY_AFTER_FAILURE`], for
    /// at most [`MAX_STALENESS`]; a secret never read successfully, or stale past that,
    /// is an error.
    pub async fn get(&self) -> Result<Arc<T>, SecretError> {
        let now = self.clock.now_ms();
        let last = self.snapshot();
        if let Some((next_read_at, _, value)) = &last
            && now < *next_read_at
        {
            return Ok(value.clone());
        }
        let usable = |last: Option<(i64, i64, Arc<T>)>| {
            last.filter(|(_, read_at, _)| now - read_at <= MAX_STALENESS.as_millis() as i64)
                .map(|(_, _, value)| value)
        };
        let Ok(_guard) = self.refreshing.try_lock() else {
            // Someone is re-reading it: use what we have, or wait for them.
            if let Some(value) = usable(last) {
                return Ok(value);
            }
            let _wait = self.refreshing.lock().await;
            return usable(self.snapshot()).ok_or_else(|| {
                SecretError::Unavailable(self.secret_ids.join(", "), "not read yet".into())
            });
        };
        match self.load().await {
            Ok(value) => Ok(value),
            Err(error) => {
                if let Some(entry) = &mut *self.current.write().expect("secret cache lock poisoned")
                {
                    entry.next_read_at = now + RETRY_AFTER_FAILURE.as_millis() as i64;
                }
                match usable(last) {
                    Some(value) => {
                        tracing::error!(%error, "re-reading a secret failed; the last good value stays in use");
                        Ok(value)
                    }
                    None => Err(error),
                }
            }
        }
    }

    /// When to read again, when last read, and the value.
    fn snapshot(&self) -> Option<(i64, i64, Arc<T>)> {
        self.current
            .read()
            .expect("secret cache lock poisoned")
            .as_ref()
            .map(|entry| (entry.next_read_at, entry.read_at, entry.value.clone()))
    }
}

impl<T: SecretDocument> Preload for Cached<T> {
    fn secret_ids(&self) -> &[String] {
        &self.secret_ids
    }

    fn source(&self) -> &SharedSecretSource {
        &self.source
    }

    fn accept(&self, texts: &[String]) -> Result<(), SecretError> {
        self.take(texts).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::clock::OffsetClock;

    /// Secret values a test sets (and replaces: a rotation).
    #[derive(Default)]
    struct LocalSecrets(RwLock<HashMap<String, String>>);

    impl LocalSecrets {
        fn new() -> Self {
            Self::default()
        }

        fn set(&self, id: &str, value: &str) {
            self.0.write().unwrap().insert(id.into(), value.into());
        }
    }

    #[async_trait]
    impl SecretSource for LocalSecrets {
        async fn fetch(&self, id: &str) -> Result<String, SecretError> {
            self.0
                .read()
                .unwrap()
                .get(id)
                .cloned()
                .ok_or_else(|| SecretError::Missing(id.into()))
        }
    }

    struct Words(Vec<String>);

    impl SecretDocument for Words {
        type Context = ();

        fn parse(text: &str, _: &()) -> Result<Self, String> {
            if text.is_empty() {
                return Err("it is empty".into());
            }
            Ok(Words(text.split(',').map(str::to_owned).collect()))
        }
    }

    #[tokio::test]
    async fn a_secret_is_re_read_after_its_ttl_and_a_failed_re_read_keeps_the_last_value() {
        let source = Arc::new(LocalSecrets::new());
        source.set("s", "a,b");
        let clock = Arc::new(OffsetClock::default());
        let cached: Cached<Words> = Cached::new(
            source.clone(),
            "s",
            Duration::from_secs(60),
            clock.clone(),
            (),
        );
        assert_eq!(cached.load().await.unwrap().0, ["a", "b"]);
        source.set("s", "c");
        assert_eq!(
            cached.get().await.unwrap().0,
            ["a", "b"],
            "cached until the TTL"
        );
        clock.advance(Duration::from_secs(61));
        assert_eq!(cached.get().await.unwrap().0, ["c"], "re-read after it");
        source.set("s", "");
        clock.advance(Duration::from_secs(61));
        assert_eq!(
            cached.get().await.unwrap().0,
            ["c"],
            "a bad re-read is not taken"
        );
        // The next attempt waits RETRY_AFTER_FAILURE, not the whole TTL.
        source.set("s", "d");
        clock.advance(RETRY_AFTER_FAILURE / 2);
        assert_eq!(
            cached.get().await.unwrap().0,
            ["c"],
            "no re-read per request"
        );
        clock.advance(RETRY_AFTER_FAILURE);
        assert_eq!(cached.get().await.unwrap().0, ["d"], "tried again soon");
    }

    #[tokio::test]
    async fn a_value_stale_past_the_limit_is_not_served() {
        let source = Arc::new(LocalSecrets::new());
        source.set("s", "a");
        let clock = Arc::new(OffsetClock::default());
        let cached: Cached<Words> = Cached::new(
            source.clone(),
            "s",
            Duration::from_secs(60),
            clock.clone(),
            (),
        );
        cached.load().await.unwrap();
        source.set("s", "");
        clock.advance(MAX_STALENESS - Duration::from_secs(1));
        assert_eq!(
            cached.get().await.unwrap().0,
            ["a"],
            "still within the limit"
        );
        clock.advance(Duration::from_secs(2) + RETRY_AFTER_FAILURE);
        assert!(
            cached.get().await.is_err(),
            "an hour without a good read: unavailable, not a removed key served for ever"
        );
        source.set("s", "b");
        clock.advance(RETRY_AFTER_FAILURE);
        assert_eq!(cached.get().await.unwrap().0, ["b"], "back once it reads");
    }

    #[tokio::test]
    async fn a_missing_or_malformed_secret_fails_the_first_read_naming_only_the_secret() {
        let source = Arc::new(LocalSecrets::new());
        let clock = Arc::new(OffsetClock::default());
        let missing: Cached<Words> =
            Cached::new(source.clone(), "nope", Duration::ZERO, clock.clone(), ());
        assert_eq!(
            missing.load().await.err(),
            Some(SecretError::Missing("nope".into()))
        );
        source.set("empty", "");
        let empty: Cached<Words> = Cached::new(source, "empty", Duration::ZERO, clock, ());
        assert_eq!(
            empty.get().await.err().unwrap().to_string(),
            "secret empty is not valid: it is empty"
        );
    }
}

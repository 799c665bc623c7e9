//! Typed configuration, read from the environment once per cold start.
//!
//! Every function validates all of its settings before it serves a request, so a missing
//! or malformed variable fails the cold start with an error that names the variable (and
//! never echoes its value: many of these are secrets).

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use url::Url;

use crate::tenants::parts::RegistryPart;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("missing required environment variable {0}")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

fn invalid(name: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        name,
        reason: reason.into(),
    }
}

pub use crate::secrets::Secret;

type Lookup = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Where variables come from: the process environment in production, a map in tests.
pub struct Env {
    lookup: Lookup,
}

impl Env {
    pub fn process() -> Self {
        Self {
            lookup: Box::new(|name| std::env::var(name).ok()),
        }
    }

    pub fn from_map(map: HashMap<String, String>) -> Self {
        Self {
            lookup: Box::new(move |name| map.get(name).cloned()),
        }
    }

    /// The value if set and not blank.
    pub fn optional(&self, name: &'static str) -> Option<String> {
        (self.lookup)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    pub fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        self.optional(name).ok_or(ConfigError::Missing(name))
    }

    pub(crate) fn parsed<T: FromStr>(
        &self,
        name: &'static str,
        default: T,
    ) -> Result<T, ConfigError> {
        match self.optional(name) {
            None => Ok(default),
            Some(raw) => raw
                .parse()
                .map_err(|_| invalid(name, "not a valid value of the expected type")),
        }
    }

    /// A number within `range`.
    pub fn ranged<T>(
        &self,
        name: &'static str,
        default: T,
        range: std::ops::RangeInclusive<T>,
    ) -> Result<T, ConfigError>
    where
        T: FromStr + PartialOrd + fmt::Display,
    {
        let value = self.parsed(name, default)?;
        if !range.contains(&value) {
            return Err(invalid(
                name,
                format!("must be between {} and {}", range.start(), range.end()),
            ));
        }
        Ok(value)
    }

    pub fn bool(&self, name: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self.optional(name).as_deref() {
            None => Ok(default),
            Some("1" | "true" | "TRUE" | "yes") => Ok(true),
            Some("0" | "false" | "FALSE" | "no") => Ok(false),
            Some(_) => Err(invalid(name, "expected true or false")),
        }
    }

    pub fn millis(&self, name: &'static str, default_ms: u64) -> Result<Duration, ConfigError> {
        let ms: u64 = self.parsed(name, default_ms)?;
        if ms == 0 {
            return Err(invalid(name, "must be greater than zero"));
        }
        Ok(Duration::from_millis(ms))
    }

    pub fn seconds(&self, name: &'static str, default_s: u64) -> Result<Duration, ConfigError> {
        let s: u64 = self.parsed(name, default_s)?;
        if s == 0 {
            return Err(invalid(name, "must be greater than zero"));
        }
        Ok(Duration::from_secs(s))
    }

    fn base_url(&self, name: &'static str) -> Result<Url, ConfigError> {
        let raw = self.required(name)?;
        let url = Url::parse(&raw).map_err(|_| invalid(name, "not an absolute URL"))?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(invalid(name, "must be an http(s) URL with a host"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(invalid(name, "must not carry a query or fragment"));
        }
        Ok(url)
    }
}

/// Timeouts and retry budget for calls to the upstreams.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub connect_timeout: Duration,
    /// Per attempt, from sending the request to the last byte of the response.
    pub request_timeout: Duration,
    /// Attempts per call, first one included.
    pub max_attempts: u32,
    pub retry_base_delay: Duration,
    /// A `Retry-After` longer than this is not waited for: the caller gets the 429/503.
    pub max_retry_after: Duration,
}

impl HttpSettings {
    /// The longest one upstream call may take, retries and their waits included.
    pub fn call_budget(&self) -> Duration {
        self.request_timeout * self.max_attempts
    }

    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            connect_timeout: env.millis("UPSTREAM_CONNECT_TIMEOUT_MS", 2_000)?,
            request_timeout: env.millis("UPSTREAM_TIMEOUT_MS", 6_000)?,
            max_attempts: env.ranged("UPSTREAM_MAX_ATTEMPTS", 3, 1..=5)?,
            retry_base_delay: env.millis("UPSTREAM_RETRY_BASE_DELAY_MS", 100)?,
            max_retry_after: env.millis("UPSTREAM_MAX_RETRY_AFTER_MS", 2_000)?,
        })
    }
}

/// The function's table. A deployed function stores in DynamoDB only: the in-memory
/// store is for the local stack and the tests, and is not built into a function.
#[derive(Debug, Clone)]
pub struct StoreSettings {
    pub table_name: String,
}

impl StoreSettings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            table_name: env.required("TABLE_NAME")?,
        })
    }
}

#[derive(Debug, Clone)]
pub struct CardIssuanceSettings {
    pub base_url: Url,
    /// This instance's ceiling in any 10 s window (`AHRVO_MAX_REQUESTS_PER_10S`): the
    /// upstream allows 1000 requests per 10 s to the whole fleet, which the template
    /// shares between the functions that call it (`docs/capacity.md`).
    pub max_requests_per_10s: u32,
    /// Of those, how many an idle instance may send at once (`AHRVO_BURST`; a tenth by
    /// default).
    pub burst: u32,
}

impl CardIssuanceSettings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let max_requests_per_10s = env.ranged("AHRVO_MAX_REQUESTS_PER_10S", 900, 2..=100_000)?;
        let burst = env.ranged(
            "AHRVO_BURST",
            (max_requests_per_10s / 10).max(1),
            1..=max_requests_per_10s - 1,
        )?;
        Ok(Self {
            base_url: env.base_url("AHRVO_BASE_URL")?,
            max_requests_per_10s,
            burst,
        })
    }
}

#[derive(Debug, Clone)]
pub struct PayerAuthSettings {
    pub base_url: Url,
}

impl PayerAuthSettings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            base_url: env.base_url("FIRSTOKEN_BASE_URL")?,
        })
    }
}

/// Which secrets a function reads, by id, and how long a read value is used before it
/// is read again. The values themselves never pass through the environment.
#[derive(Debug, Clone)]
pub struct SecretSettings {
    /// The tenant registry's routing document (`TENANT_REGISTRY_SECRET_ID`): every
    /// function.
    pub tenant_registry: String,
    /// The registry's parts this function was given (`TENANT_*_SECRET_ID`): each
    /// function is given only those it uses.
    pub tenant_parts: std::collections::BTreeMap<RegistryPart, String>,
    /// How long a read secret is used before it is read again (`SECRETS_TTL_SECS`).
    pub ttl: Duration,
    /// Local runs: plain http loopback return origins and webhook endpoints.
    pub allow_loopback_http: bool,
}

impl SecretSettings {
    /// Checks the function was given the registry parts it reads (`parts`).
    pub fn holding(self, parts: &[RegistryPart]) -> Result<Self, ConfigError> {
        for part in parts {
            if !self.tenant_parts.contains_key(part) {
                return Err(ConfigError::Missing(part.env()));
            }
        }
        Ok(self)
    }

    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let tenant_parts = RegistryPart::ALL
            .into_iter()
            .filter_map(|part| env.optional(part.env()).map(|id| (part, id)))
            .collect();
        Ok(Self {
            tenant_registry: env.required("TENANT_REGISTRY_SECRET_ID")?,
            tenant_parts,
            ttl: Duration::from_secs(env.ranged("SECRETS_TTL_SECS", 300, 1..=86_400)?),
            allow_loopback_http: env.bool("ALLOW_INSECURE_LOOPBACK_URLS", false)?,
        })
    }
}

/// How long a lease lasts, and how long a duplicate waits for its holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseSettings {
    /// `CLAIM_LEASE_SECS`: how long a lease blocks others. Must not exceed the function
    /// timeout, so a lease left by an invocation that died is free again.
    pub lease: Duration,
    /// `SETTLE_WAIT_MS`: how long a duplicate waits for the holder's outcome.
    pub patience: Duration,
}

impl LeaseSettings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            lease: env.seconds("CLAIM_LEASE_SECS", 25)?,
            patience: env.millis("SETTLE_WAIT_MS", 10_000)?,
        })
    }

    /// The cold-start check of a function that takes leases: a lease must outlast the
    /// longest unit of work done under it (`work`: one upstream call, retries included),
    /// the write that records its outcome and a clock-skew margin — otherwise a duplicate
    /// could take the lease over while the work is in flight, and do it twice. (Each call's
    /// deadline also derives from the lease, so even a slow take cannot make the work
    /// outlive it.) A duplicate's wait must end before API Gateway gives up.
    pub fn check(&self, work: Duration) -> Result<(), ConfigError> {
        let under_lease = work + STORE_OPERATION_TIMEOUT + CLOCK_SKEW_MARGIN;
        if self.lease <= under_lease {
            return Err(ConfigError::Invalid {
                name: "CLAIM_LEASE_SECS",
                reason: format!(
                    "must exceed the longest upstream call (UPSTREAM_TIMEOUT_MS x UPSTREAM_MAX_ATTEMPTS) plus a store write ({} ms) and a clock-skew margin ({} ms): {} ms",
                    STORE_OPERATION_TIMEOUT.as_millis(),
                    CLOCK_SKEW_MARGIN.as_millis(),
                    under_lease.as_millis()
                ),
            });
        }
        if self.patience + 2 * STORE_OPERATION_TIMEOUT >= API_GATEWAY_LIMIT {
            return Err(ConfigError::Invalid {
                name: "SETTLE_WAIT_MS",
                reason: "a duplicate's wait plus its store reads and writes must end before API Gateway's 29 s".into(),
            });
        }
        Ok(())
    }

    /// When a lease taken at `now_ms` lapses.
    pub fn until(&self, now_ms: i64) -> i64 {
        now_ms + self.lease.as_millis() as i64
    }
}

/// Lifetimes of the merchant-side authentication session.
#[derive(Debug, Clone)]
pub struct SessionSettings {
    /// How long the cardholder has to finish the challenge.
    pub challenge_deadline: Duration,
    /// When DynamoDB's TTL may delete the record. Expiry is decided in code, not by TTL.
    pub record_ttl: Duration,
    /// The claims' leases (ENROLLING, VALIDATING) and a duplicate's patience.
    pub lease: LeaseSettings,
}

impl SessionSettings {
    /// The TTL (epoch seconds) of a record written at `now_ms`.
    pub fn record_expiry(&self, now_ms: i64) -> i64 {
        now_ms / 1000 + self.record_ttl.as_secs() as i64
    }

    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let settings = Self {
            challenge_deadline: env.seconds("CHALLENGE_DEADLINE_SECS", 600)?,
            record_ttl: env.seconds("SESSION_TTL_SECS", 7 * 24 * 3600)?,
            lease: LeaseSettings::from_env(env)?,
        };
        if settings.record_ttl <= settings.challenge_deadline {
            return Err(invalid(
                "SESSION_TTL_SECS",
                "must be longer than CHALLENGE_DEADLINE_SECS",
            ));
        }
        Ok(settings)
    }
}

/// Our own public base URL (scheme, host, optional stage). Optional: when unset it is
/// derived from the API Gateway request context, because a SAM function cannot reference
/// its own API's URL without a circular dependency.
pub fn public_base_url(env: &Env) -> Result<Option<Url>, ConfigError> {
    match env.optional("PUBLIC_BASE_URL") {
        None => Ok(None),
        Some(_) => env.base_url("PUBLIC_BASE_URL").map(Some),
    }
}

/// The longest one store operation may take, retries included (the AWS SDK's operation
/// timeout, set where the platform loads the AWS configuration).
pub const STORE_OPERATION_TIMEOUT: Duration = Duration::from_secs(3);

/// How far two hosts' clocks may disagree: leases are written with one host's clock and
/// judged with another's.
pub const CLOCK_SKEW_MARGIN: Duration = Duration::from_secs(2);

/// API Gateway answers its caller after 29 s: a request's waiting and working must end
/// before, so the caller gets our answer, not a gateway timeout.
pub const API_GATEWAY_LIMIT: Duration = Duration::from_secs(29);

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_map(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn a_missing_variable_is_named() {
        let err = SecretSettings::from_env(&env(&[])).unwrap_err();
        assert_eq!(err, ConfigError::Missing("TENANT_REGISTRY_SECRET_ID"));
        assert_eq!(
            err.to_string(),
            "missing required environment variable TENANT_REGISTRY_SECRET_ID"
        );
    }

    #[test]
    fn an_invalid_value_is_named_but_not_echoed() {
        let err = CardIssuanceSettings::from_env(&env(&[("AHRVO_BASE_URL", "secret-host")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("AHRVO_BASE_URL"), "{err}");
        assert!(!err.contains("secret-host"), "{err}");
    }

    #[test]
    fn defaults_apply_and_secrets_do_not_debug_print() {
        let vars = env(&[
            ("AHRVO_BASE_URL", "https://gateway.ahrvo.network"),
            ("TENANT_REGISTRY_SECRET_ID", "gateway/tenants"),
        ]);
        assert_eq!(HttpSettings::from_env(&vars).unwrap().max_attempts, 3);
        let settings = CardIssuanceSettings::from_env(&vars).unwrap();
        assert_eq!(settings.max_requests_per_10s, 900);
        let secrets = SecretSettings::from_env(&vars).unwrap();
        assert_eq!(secrets.ttl, Duration::from_secs(300));
        let debug = format!("{:?}", Secret::new("0123456789abcdef"));
        assert!(!debug.contains("0123456789abcdef"), "{debug}");
    }

    #[test]
    fn a_lease_shorter_than_the_work_under_it_is_refused() {
        let settings = |lease: &'static str| {
            LeaseSettings::from_env(&env(&[("CLAIM_LEASE_SECS", lease)])).unwrap()
        };
        // 18 s of upstream call, a 3 s store write, 2 s of skew: 23 s.
        let work = Duration::from_secs(18);
        let err = settings("23").check(work).unwrap_err().to_string();
        assert!(
            err.contains("CLAIM_LEASE_SECS") && err.contains("23000 ms"),
            "{err}"
        );
        assert!(settings("24").check(work).is_ok());
        let patient = LeaseSettings::from_env(&env(&[("SETTLE_WAIT_MS", "25000")])).unwrap();
        let err = patient.check(work).unwrap_err().to_string();
        assert!(err.contains("SETTLE_WAIT_MS"), "{err}");
        // The defaults hold together.
        assert!(
            LeaseSettings::from_env(&env(&[]))
                .unwrap()
                .check(work)
                .is_ok()
        );
    }
}

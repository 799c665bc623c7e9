//! Firstoken Risk Payer Authentication (merchant side, wrapping Cybersource/Cardinal):
//! the client for setup, check enroll and validate. Wire types in [`wire`], reading the
//! answers in [`answer`].
//!
//! Each call states its retry policy: setup creates nothing and is retried like a read;
//! check enroll and validate must not run twice.

use std::time::Instant;

use serde::{Deserialize, Serialize};
use url::Url;

use crate::config::{PayerAuthSettings, Secret};
use crate::outbound::{Call, HttpClient, RetryPolicy, Upstream, join_url};
use crate::secrets::SecretDocument;

pub mod answer;
pub mod wire;

pub use answer::{EnrollmentDecision, PayerAuthAnswer, PayerAuthError, Refusal};

const SETUP_PATH: &str = "/v1/risk/authentication/setup";
const ENROLL_PATH: &str = "/v1/risk/authentication/enroll";
const VALIDATE_PATH: &str = "/v1/risk/authentication/validate";

/// An API key of the payer-authentication API: the gateway's own (the secret
/// `PAYER_AUTH_SECRET_ID`, `{"api_key"}`), or a merchant's from the tenant registry.
#[derive(Clone, Debug)]
pub struct PayerAuthCredentials {
    pub api_key: Secret,
}

impl SecretDocument for PayerAuthCredentials {
    type Context = ();

    fn parse(text: &str, _: &()) -> Result<Self, String> {
        #[derive(Deserialize)]
        struct Document {
            api_key: String,
        }
        let document: Document = serde_json::from_str(text).map_err(|_| {
            "not a payer-authentication credentials document ({\"api_key\"})".to_owned()
        })?;
        if document.api_key.trim().is_empty() {
            return Err("api_key: must not be empty".into());
        }
        Ok(Self {
            api_key: Secret::new(document.api_key),
        })
    }
}

pub struct PayerAuthClient {
    http: HttpClient,
    base: Url,
}

impl PayerAuthClient {
    pub fn new(http: HttpClient, settings: &PayerAuthSettings) -> Self {
        Self {
            http,
            base: settings.base_url.clone(),
        }
    }

    async fn post<B: Serialize + ?Sized>(
        &self,
        api_key: &Secret,
        (operation, path, policy): (&'static str, &str, RetryPolicy),
        deadline: Option<Instant>,
        body: &B,
    ) -> Result<PayerAuthAnswer, PayerAuthError> {
        let url = join_url(&self.base, path);
        let call = Call {
            upstream: Upstream::PayerAuth,
            operation,
            policy,
            rate_limit: None,
            deadline,
        };
        let response = self
            .http
            .send(call, |client| {
                client
                    .post(url.clone())
                    .header("x-api-key", api_key.expose())
                    .json(body)
            })
            .await?;
        answer::read_envelope(&response)
    }

    /// Setup creates nothing that a repeat would duplicate: retried like a read.
    pub async fn setup<B: Serialize + ?Sized>(
        &self,
        api_key: &Secret,
        body: &B,
    ) -> Result<PayerAuthAnswer, PayerAuthError> {
        let operation = ("setup", SETUP_PATH, RetryPolicy::Idempotent);
        self.post(api_key, operation, None, body).await
    }

    /// Check enroll starts an authentication: never repeated once it may have landed.
    /// Over by `deadline` (the claim's lease).
    pub async fn check_enroll<B: Serialize + ?Sized>(
        &self,
        api_key: &Secret,
        body: &B,
        deadline: Instant,
    ) -> Result<PayerAuthAnswer, PayerAuthError> {
        let operation = ("check_enroll", ENROLL_PATH, RetryPolicy::NotIfProcessed);
        self.post(api_key, operation, Some(deadline), body).await
    }

    /// Validate is called once per session: never repeated once it may have landed.
    /// Over by `deadline` (the claim's lease).
    pub async fn validate(
        &self,
        api_key: &Secret,
        request: &wire::ValidateRequest,
        deadline: Instant,
    ) -> Result<PayerAuthAnswer, PayerAuthError> {
        let operation = ("validate", VALIDATE_PATH, RetryPolicy::NotIfProcessed);
        self.post(api_key, operation, Some(deadline), request).await
    }
}

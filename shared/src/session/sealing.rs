//! The merchant-side keys and what they do: seal and open what a session keeps,
//! fingerprint requests, and bind return URLs and transaction ids to a session.

use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::config::{ConfigError, Env};
use crate::crypto::{KeyRing, MacKey, SealedData};

/// Keys the merchant-side functions share.
#[derive(Clone)]
pub struct SessionKeys {
    /// AES-256-GCM keys for the card, order and billing data validate needs later.
    pub data_keys: KeyRing,
    /// Internal MAC key: return-URL binding tokens, transaction-id digests, request
    /// fingerprints. Never leaves the gateway.
    pub session_mac: MacKey,
}

impl fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionKeys")
            .field("data_keys", &self.data_keys.key_ids())
            .finish_non_exhaustive()
    }
}

/// Sealed session data that did not open: a wrong or retired key, another record's
/// ciphertext, or tampering. Never a caller's mistake.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("sealed {field} of a session cannot be opened: {reason}")]
pub struct SealError {
    pub field: &'static str,
    pub reason: String,
}

impl SessionKeys {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            data_keys: env.key_ring("DATA_ENCRYPTION_KEYS")?,
            session_mac: env.mac_key("SESSION_MAC_KEY")?,
        })
    }

    /// Seals `value` into the session item `record`, bound to `field`: a ciphertext moved
    /// to another record, or to another attribute of the same record, does not open.
    pub fn seal<T: Serialize>(&self, record: &str, field: &str, value: &T) -> SealedData {
        let plaintext = serde_json::to_vec(value).expect("session data serializes");
        self.data_keys
            .seal(&format!("{record}#{field}"), &plaintext)
    }

    pub fn open<T: DeserializeOwned>(
        &self,
        record: &str,
        field: &'static str,
        sealed: &SealedData,
    ) -> Result<T, SealError> {
        let plaintext = self
            .data_keys
            .open(&format!("{record}#{field}"), sealed)
            .map_err(|e| SealError {
                field,
                reason: e.to_string(),
            })?;
        serde_json::from_slice(&plaintext).map_err(|e| SealError {
            field,
            reason: e.to_string(),
        })
    }

    /// A keyed digest of a request body, to tell a replay from a different request under
    /// the same reference code without storing the body (it holds card data; a plain hash
    /// of a card number can be brute-forced, a keyed one cannot).
    pub fn fingerprint(&self, purpose: &str, client_id: &str, body: &Value) -> String {
        // serde_json's map keeps keys sorted: equal JSON gives equal bytes.
        let canonical = serde_json::to_vec(body).expect("JSON serializes");
        self.session_mac
            .digest_hex(purpose, &[client_id.as_bytes(), &canonical])
    }

    /// The token in our return URL that ties it to one session.
    pub fn return_url_binding(&self, reference_code: &str) -> String {
        self.session_mac
            .token("return-url-binding", &[reference_code.as_bytes()])
    }

    /// What is stored (and compared in the claim's condition) instead of the
    /// authentication transaction id itself: a digest, so the comparison's timing says
    /// nothing about the secret.
    pub fn transaction_mac(&self, authentication_transaction_id: &str) -> String {
        self.session_mac.digest_hex(
            "transaction-id",
            &[authentication_transaction_id.as_bytes()],
        )
    }
}

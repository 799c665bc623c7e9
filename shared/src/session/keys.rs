//! What the merchant-side functions do with their keys: seal and open what a session
//! keeps, fingerprint requests, and bind return URLs and transaction ids to a session.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::api::ApiError;
use crate::config::SessionKeys;
use crate::crypto::SealedData;

impl SessionKeys {
    /// Seals `value` into the session item `key`, bound to `field`: a ciphertext moved to
    /// another record, or to another attribute of the same record, does not open.
    pub fn seal<T: Serialize>(&self, key: &str, field: &str, value: &T) -> SealedData {
        let plaintext = serde_json::to_vec(value).expect("session data serializes");
        self.data_keys.seal(&format!("{key}#{field}"), &plaintext)
    }

    pub fn open<T: DeserializeOwned>(
        &self,
        key: &str,
        field: &str,
        sealed: &SealedData,
    ) -> Result<T, ApiError> {
        let plaintext = self
            .data_keys
            .open(&format!("{key}#{field}"), sealed)
            .map_err(|e| {
                ApiError::Internal(format!("sealed {field} of a session cannot be opened: {e}"))
            })?;
        serde_json::from_slice(&plaintext).map_err(|e| {
            ApiError::Internal(format!("sealed {field} of a session is unreadable: {e}"))
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

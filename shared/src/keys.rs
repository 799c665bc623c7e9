//! A set of the gateway's own keys and what they do: seal and open what a record keeps
//! (AES-256-GCM, bound to the record and the field), fingerprint requests, and make and
//! check tokens and digests (HMAC). Each purpose has a set of its own: the session keys
//! (the merchant side: sealed card data, CAVV, binding tokens) and the idempotency keys
//! (the issuer side: fingerprints and kept answers).
//!
//! A set is a secret, either a document with key lists —
//! the first key of each list makes new values, every key opens or checks what it made,
//! so a key is rotated by adding a new one first and removing the old one once no session
//! needs it — or, as CloudFormation generates it, one random string from which one data
//! key and one MAC key are derived.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine as _;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::crypto::{KeyRing, MacKey, MacKeys, SealedData, constant_time_eq};
use crate::secrets::SecretDocument;

/// One set of the gateway's keys.
#[derive(Clone)]
pub struct GatewayKeys {
    /// AES-256-GCM keys for what a record keeps sealed.
    pub data_keys: KeyRing,
    /// Internal MAC keys: return-URL binding tokens, transaction-id digests, request
    /// fingerprints. Never leave the gateway.
    pub macs: MacKeys,
}

impl fmt::Debug for GatewayKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GatewayKeys")
            .field("data_keys", &self.data_keys.key_ids())
            .field("macs", &self.macs.key_ids())
            .finish()
    }
}

/// A key set's secret as stored.
#[derive(Serialize, Deserialize)]
pub struct KeysDocument {
    /// `{"kid", "key": base64 of 32 bytes}`, the first encrypts.
    pub data_encryption_keys: Vec<KeyDocument>,
    /// `{"kid", "key": 32+ characters}`, the first makes new values.
    pub session_mac_keys: Vec<KeyDocument>,
}

#[derive(Serialize, Deserialize)]
pub struct KeyDocument {
    pub kid: String,
    pub key: String,
    /// When it was added, promoted (made the one that makes new values) and retired
    /// (another was promoted over it), epoch seconds: what the admin command's rotation
    /// rules read ([`Rotation`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub added_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promoted_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retired_at: Option<i64>,
}

impl KeyDocument {
    pub fn new(kid: String, key: String) -> Self {
        Self {
            kid,
            key,
            added_at: None,
            promoted_at: None,
            retired_at: None,
        }
    }
}

/// When a key set's rotation may move on, so that nothing stored stops opening.
///
/// * A new key is **promoted** only once every function instance has read it: its
///   secrets' TTL after it was added, plus [`crate::secrets::MAX_STALENESS`] (an instance
///   whose re-reads fail serves its last good value that long, then stops serving).
/// * A retired key is **removed** only once nothing made under it can still be read:
///   `keep_for` (the longest anything sealed or MACed lives — the session TTL for the
///   session keys, the idempotency retention for the issuer's) after an instance last
///   made a value with it, which is its retirement plus the same read delay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    pub secrets_ttl_secs: i64,
    pub keep_for_secs: i64,
}

impl Rotation {
    fn read_delay(&self) -> i64 {
        self.secrets_ttl_secs + crate::secrets::MAX_STALENESS.as_secs() as i64
    }

    /// When `key` may be promoted (`None`: it records no time it was added).
    pub fn promotable_at(&self, key: &KeyDocument) -> Option<i64> {
        key.added_at.map(|added| added + self.read_delay())
    }

    /// When `key` may be removed (`None`: it was never retired, or records no time).
    pub fn removable_at(&self, key: &KeyDocument) -> Option<i64> {
        key.retired_at
            .map(|retired| retired + self.read_delay() + self.keep_for_secs)
    }
}

/// Sealed data that did not open: a wrong or retired key, another record's
/// ciphertext, or tampering. Never a caller's mistake.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("sealed {field} of a record cannot be opened: {reason}")]
pub struct SealError {
    pub field: &'static str,
    pub reason: String,
}

impl SecretDocument for GatewayKeys {
    type Context = ();

    fn parse(text: &str, _: &()) -> Result<Self, String> {
        let document = if text.trim_start().starts_with('{') {
            serde_json::from_str(text).map_err(|_| "not a session keys document".to_owned())?
        } else {
            derived_document(text.trim())?
        };
        Self::from_document(document)
    }
}

/// The keys a generated random string (32+ characters, the form CloudFormation's
/// `GenerateSecretString` gives) stands for, as a document: one data key and one MAC key
/// derived from it. The key id names the string (a digest prefix), so a new string never
/// reuses an old id. The admin command starts a rotation from this document.
pub fn derived_document(secret: &str) -> Result<KeysDocument, String> {
    if secret.len() < 32 {
        return Err("a generated session key must be at least 32 characters".into());
    }
    let root = MacKey::new(secret.as_bytes());
    let kid = format!("g-{}", &hex::encode(Sha256::digest(secret.as_bytes()))[..8]);
    Ok(KeysDocument {
        data_encryption_keys: vec![KeyDocument::new(
            kid.clone(),
            base64::engine::general_purpose::STANDARD
                .encode(root.derive("session data encryption key")),
        )],
        session_mac_keys: vec![KeyDocument::new(
            kid,
            hex::encode(root.derive("session mac key")),
        )],
    })
}

impl GatewayKeys {
    fn from_document(document: KeysDocument) -> Result<Self, String> {
        let mut data = Vec::new();
        for key in document.data_encryption_keys {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(key.key.trim())
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .ok_or("data_encryption_keys: each key must be base64 of 32 bytes")?;
            data.push((key.kid, bytes));
        }
        let mut macs = Vec::new();
        for key in document.session_mac_keys {
            if key.key.len() < 32 {
                return Err("session_mac_keys: each key must be at least 32 characters".into());
            }
            macs.push((key.kid, MacKey::new(key.key.as_bytes())));
        }
        let keys = Self {
            data_keys: KeyRing::new(data).map_err(|e| format!("data_encryption_keys: {e}"))?,
            macs: MacKeys::new(macs).map_err(|e| format!("session_mac_keys: {e}"))?,
        };
        // Each instance says which keys it holds, each time it reads them: before a
        // promotion, the operator sees every instance report the new ids.
        crate::telemetry::metrics::key_ids_held(&format!(
            "data:{};mac:{}",
            keys.data_keys.key_ids().join(","),
            keys.macs.key_ids().join(",")
        ));
        Ok(keys)
    }

    /// Seals `value` into the item `record`, bound to `field`: a ciphertext moved
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

    /// A keyed digest of a request body under each key (the current one first), to tell a
    /// replay from a different request under the same reference code without storing the
    /// body (it holds card data; a plain hash of a card number can be brute-forced, a
    /// keyed one cannot).
    pub fn fingerprints(&self, purpose: &str, tenant: &str, body: &Value) -> Vec<String> {
        // serde_json's map keeps keys sorted: equal JSON gives equal bytes.
        let canonical = serde_json::to_vec(body).expect("JSON serializes");
        self.macs.digests(purpose, &[tenant.as_bytes(), &canonical])
    }

    /// The token in our return URL that ties it to one session of one tenant.
    pub fn return_url_binding(&self, tenant: &str, reference_code: &str) -> String {
        self.macs.token(
            "return-url-binding",
            &[tenant.as_bytes(), reference_code.as_bytes()],
        )
    }

    /// Whether a presented binding token is this session's (under any key still held).
    pub fn binding_matches(&self, presented: &str, tenant: &str, reference_code: &str) -> bool {
        self.macs.verify_token(
            presented,
            "return-url-binding",
            &[tenant.as_bytes(), reference_code.as_bytes()],
        )
    }

    /// What is stored (and compared in the claim's condition) instead of the
    /// authentication transaction id itself: a digest under each key (the current one
    /// first), so the comparison's timing says nothing about the secret.
    pub fn transaction_macs(&self, authentication_transaction_id: &str) -> Vec<String> {
        self.macs.digests(
            "transaction-id",
            &[authentication_transaction_id.as_bytes()],
        )
    }
}

/// A value made under each key of a set (the current key's first), and which of them the
/// record holds, once a refusal has shown it.
pub struct KeyedValue {
    values: Vec<String>,
    chosen: AtomicUsize,
}

impl KeyedValue {
    pub fn new(values: Vec<String>) -> Self {
        assert!(
            !values.is_empty(),
            "a keyed value is made under one key at least"
        );
        Self {
            values,
            chosen: AtomicUsize::new(0),
        }
    }

    /// The value to claim with.
    pub fn current(&self) -> &str {
        &self.values[self.chosen.load(Ordering::Relaxed)]
    }

    /// Every value, the current key's first.
    pub fn all(&self) -> &[String] {
        &self.values
    }

    /// Whether `stored` is one of the values (compared in constant time); if it is, it is
    /// the one claimed with from now on.
    pub fn matches(&self, stored: &str) -> bool {
        let found = self
            .values
            .iter()
            .position(|value| constant_time_eq(value, stored));
        if let Some(index) = found {
            self.chosen.store(index, Ordering::Relaxed);
        }
        found.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_string_gives_keys_and_a_short_one_is_refused() {
        let keys = GatewayKeys::parse("x".repeat(64).as_str(), &()).unwrap();
        assert!(keys.macs.key_ids()[0].starts_with("g-"));
        let sealed = keys.seal("AUTH#t#r", "payment_data", &"4000000000002701");
        let opened: String = keys.open("AUTH#t#r", "payment_data", &sealed).unwrap();
        assert_eq!(opened, "4000000000002701");
        assert!(GatewayKeys::parse("short", &()).is_err());
    }

    #[test]
    fn a_document_parses_and_its_errors_never_show_a_key() {
        let key = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        let text = serde_json::json!({
            "data_encryption_keys": [{"kid": "d2", "key": key}],
            "session_mac_keys": [{"kid": "m2", "key": "m".repeat(32)}, {"kid": "m1", "key": "n".repeat(32)}]
        })
        .to_string();
        let keys = GatewayKeys::parse(&text, &()).unwrap();
        assert_eq!(keys.macs.key_ids(), ["m2", "m1"]);
        let bad = text.replace(&"m".repeat(32), "short-mac-key");
        let error = GatewayKeys::parse(&bad, &()).err().unwrap();
        assert!(!error.contains("short-mac-key"), "{error}");
    }

    #[test]
    fn a_binding_is_for_one_tenant_and_one_reference() {
        let keys = GatewayKeys::parse("x".repeat(64).as_str(), &()).unwrap();
        let binding = keys.return_url_binding("shop-a", "r1");
        assert!(keys.binding_matches(&binding, "shop-a", "r1"));
        assert!(!keys.binding_matches(&binding, "shop-b", "r1"));
        assert!(!keys.binding_matches(&binding, "shop-a", "r2"));
    }
}

//! Encryption at rest (AES-256-GCM with key ids) and keyed digests (HMAC-SHA256).

use aes_gcm::aead::{Aead, Generate, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// An HMAC-SHA256 key. Every use passes a purpose label, so one key never produces the
/// same digest for two different purposes.
#[derive(Clone)]
pub struct MacKey(Vec<u8>);

impl std::fmt::Debug for MacKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MacKey(..)")
    }
}

impl MacKey {
    pub fn new(bytes: &[u8]) -> Self {
        Self(bytes.to_vec())
    }

    fn mac(&self, purpose: &str, parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(&self.0)
            .expect("HMAC accepts keys of any length");
        mac.update(purpose.as_bytes());
        for part in parts {
            // Length-prefix every part so ("ab","c") and ("a","bc") never collide.
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }

    /// Lower-case hex digest, for storing and comparing.
    pub(crate) fn digest_hex(&self, purpose: &str, parts: &[&[u8]]) -> String {
        hex::encode(self.mac(purpose, parts))
    }

    /// URL-safe token, for putting in URLs.
    pub fn token(&self, purpose: &str, parts: &[&[u8]]) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(purpose, parts))
    }

    /// A 32-byte key derived from this one for `purpose` (HMAC as a PRF: the input is a
    /// high-entropy random secret, so no stretching is needed).
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        self.mac(purpose, &[])
    }

    /// HMAC-SHA256 over a plain message (no purpose label, no framing), hex encoded: the
    /// form a merchant can recompute with any HMAC library.
    pub fn sign_message_hex(&self, message: &[u8]) -> String {
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(&self.0)
            .expect("HMAC accepts keys of any length");
        mac.update(message);
        hex::encode(mac.finalize().into_bytes())
    }
}

/// HMAC keys by id, for values that must survive a key rotation: the first key makes new
/// values, every key checks the values it made. Each value names its key (`kid:hex`,
/// `kid.token`), so checking one needs one HMAC, not one per key.
#[derive(Clone)]
pub struct MacKeys {
    keys: Vec<(String, MacKey)>,
}

impl std::fmt::Debug for MacKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("MacKeys").field(&self.key_ids()).finish()
    }
}

impl MacKeys {
    pub fn new(keys: Vec<(String, MacKey)>) -> Result<Self, String> {
        if keys.is_empty() {
            return Err("at least one key is required".into());
        }
        for (i, (kid, _)) in keys.iter().enumerate() {
            if !is_key_id(kid) {
                return Err("key ids must be 1 to 64 of [A-Za-z0-9._-]".into());
            }
            if keys[..i].iter().any(|(earlier, _)| earlier == kid) {
                return Err(format!("key id {kid} appears twice"));
            }
        }
        Ok(Self { keys })
    }

    pub fn key_ids(&self) -> Vec<&str> {
        self.keys.iter().map(|(kid, _)| kid.as_str()).collect()
    }

    /// The key that makes new values, and its id.
    pub fn primary(&self) -> (&str, &MacKey) {
        let (kid, key) = &self.keys[0];
        (kid, key)
    }

    /// The key with this id, if it is still held.
    pub fn key(&self, kid: &str) -> Option<&MacKey> {
        self.keys.iter().find(|(k, _)| k == kid).map(|(_, key)| key)
    }

    /// `kid:hex` under the first key.
    pub fn digest(&self, purpose: &str, parts: &[&[u8]]) -> String {
        let (kid, key) = &self.keys[0];
        format!("{kid}:{}", key.digest_hex(purpose, parts))
    }

    /// `kid:hex` under each key, the first key's first: what a value made before a
    /// rotation may be.
    pub fn digests(&self, purpose: &str, parts: &[&[u8]]) -> Vec<String> {
        self.keys
            .iter()
            .map(|(kid, key)| format!("{kid}:{}", key.digest_hex(purpose, parts)))
            .collect()
    }

    /// Whether `stored` (`kid:hex`) is the digest of `parts` under the key it names.
    pub fn verify(&self, stored: &str, purpose: &str, parts: &[&[u8]]) -> bool {
        let Some((kid, _)) = stored.split_once(':') else {
            return false;
        };
        self.key(kid).is_some_and(|key| {
            constant_time_eq(stored, &format!("{kid}:{}", key.digest_hex(purpose, parts)))
        })
    }

    /// `kid.token` (URL-safe) under the first key.
    pub fn token(&self, purpose: &str, parts: &[&[u8]]) -> String {
        let (kid, key) = &self.keys[0];
        format!("{kid}.{}", key.token(purpose, parts))
    }

    /// Whether `presented` (`kid.token`) is the token of `parts` under the key it names.
    pub fn verify_token(&self, presented: &str, purpose: &str, parts: &[&[u8]]) -> bool {
        // The token is URL-safe base64 (no '.'), a key id may hold dots: split at the last.
        let Some((kid, _)) = presented.rsplit_once('.') else {
            return false;
        };
        self.key(kid).is_some_and(|key| {
            constant_time_eq(presented, &format!("{kid}.{}", key.token(purpose, parts)))
        })
    }
}

/// A key id: 1 to 64 of `[A-Za-z0-9._-]` (no `:`, which separates it from a digest).
pub fn is_key_id(kid: &str) -> bool {
    (1..=64).contains(&kid.len())
        && kid
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

/// Compares two secrets (tokens, digests, keys) in time independent of where they differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// Ciphertext as stored: which key, the nonce, and the sealed bytes (tag included).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedData {
    pub key_id: String,
    #[serde(with = "b64")]
    pub nonce: Vec<u8>,
    #[serde(with = "b64")]
    pub ciphertext: Vec<u8>,
}

mod b64 {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum CryptoError {
    #[error("no data key with id {0} is configured")]
    UnknownKey(String),
    #[error("sealed data failed authentication (wrong key, wrong record or tampered)")]
    Unauthentic,
}

/// AES-256-GCM keys by id. The first key seals; any key opens what it sealed.
#[derive(Clone)]
pub struct KeyRing {
    keys: Vec<(String, Aes256Gcm)>,
}

impl KeyRing {
    pub fn new(keys: Vec<(String, [u8; 32])>) -> Result<Self, String> {
        if keys.is_empty() {
            return Err("at least one key is required".into());
        }
        let mut ring = Vec::with_capacity(keys.len());
        for (id, key) in keys {
            if !is_key_id(&id) {
                return Err("key ids must be 1 to 64 of [A-Za-z0-9._-]".into());
            }
            if ring.iter().any(|(existing, _)| *existing == id) {
                return Err(format!("key id {id} appears twice"));
            }
            ring.push((id, Aes256Gcm::new(&key.into())));
        }
        Ok(Self { keys: ring })
    }

    pub fn key_ids(&self) -> Vec<&str> {
        self.keys.iter().map(|(id, _)| id.as_str()).collect()
    }

    /// Seals `plaintext`, bound to `context` (the record it belongs to) as associated
    /// data, so a ciphertext copied into another record does not open.
    pub fn seal(&self, context: &str, plaintext: &[u8]) -> SealedData {
        let (key_id, cipher) = &self.keys[0];
        // 96-bit random nonces: safe far beyond this gateway's volume per key.
        let nonce = Nonce::generate();
        let ciphertext = cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: context.as_bytes(),
                },
            )
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        SealedData {
            key_id: key_id.clone(),
            nonce: nonce.to_vec(),
            ciphertext,
        }
    }

    pub(crate) fn open(&self, context: &str, sealed: &SealedData) -> Result<Vec<u8>, CryptoError> {
        let (_, cipher) = self
            .keys
            .iter()
            .find(|(id, _)| *id == sealed.key_id)
            .ok_or_else(|| CryptoError::UnknownKey(sealed.key_id.clone()))?;
        let nonce: [u8; 12] = sealed
            .nonce
            .as_slice()
            .try_into()
            .map_err(|_| CryptoError::Unauthentic)?;
        cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: &sealed.ciphertext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| CryptoError::Unauthentic)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(ids: &[(&str, u8)]) -> KeyRing {
        KeyRing::new(
            ids.iter()
                .map(|(id, b)| (id.to_string(), [*b; 32]))
                .collect(),
        )
        .unwrap()
    }

    #[test]
    fn sealed_data_opens_only_in_its_own_record() {
        let keys = ring(&[("k1", 1)]);
        let sealed = keys.seal("AUTH#ref-1", b"4000000000002503");
        assert!(
            !sealed
                .ciphertext
                .windows(16)
                .any(|w| w == b"4000000000002503")
        );
        assert_eq!(
            keys.open("AUTH#ref-1", &sealed).unwrap(),
            b"4000000000002503"
        );
        assert_eq!(
            keys.open("AUTH#ref-2", &sealed),
            Err(CryptoError::Unauthentic)
        );
    }

    #[test]
    fn rotation_seals_with_the_first_key_and_opens_with_any() {
        let old = ring(&[("k1", 1)]);
        let sealed_old = old.seal("ctx", b"data");
        let rotated = ring(&[("k2", 2), ("k1", 1)]);
        assert_eq!(rotated.open("ctx", &sealed_old).unwrap(), b"data");
        assert_eq!(rotated.seal("ctx", b"data").key_id, "k2");
        let retired = ring(&[("k2", 2)]);
        assert_eq!(
            retired.open("ctx", &sealed_old),
            Err(CryptoError::UnknownKey("k1".into()))
        );
    }

    #[test]
    fn tampering_is_detected() {
        let keys = ring(&[("k1", 1)]);
        let mut sealed = keys.seal("ctx", b"data");
        sealed.ciphertext[0] ^= 1;
        assert_eq!(keys.open("ctx", &sealed), Err(CryptoError::Unauthentic));
    }

    #[test]
    fn digests_are_separated_by_purpose_and_framing() {
        let key = MacKey::new(b"k");
        assert_ne!(key.digest_hex("a", &[b"x"]), key.digest_hex("b", &[b"x"]));
        assert_ne!(
            key.digest_hex("a", &[b"ab", b"c"]),
            key.digest_hex("a", &[b"a", b"bc"])
        );
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "ab"));
    }

    #[test]
    fn values_made_before_a_rotation_still_verify_until_their_key_is_removed() {
        let old = MacKeys::new(vec![("m1".into(), MacKey::new(b"one"))]).unwrap();
        let digest = old.digest("p", &[b"x"]);
        let token = old.token("p", &[b"x"]);
        assert!(digest.starts_with("m1:") && token.starts_with("m1."));
        let rotated = MacKeys::new(vec![
            ("m2".into(), MacKey::new(b"two")),
            ("m1".into(), MacKey::new(b"one")),
        ])
        .unwrap();
        assert!(rotated.verify(&digest, "p", &[b"x"]));
        assert!(rotated.verify_token(&token, "p", &[b"x"]));
        assert!(!rotated.verify(&digest, "p", &[b"y"]));
        assert!(rotated.digest("p", &[b"x"]).starts_with("m2:"));
        assert_eq!(rotated.digests("p", &[b"x"])[1], digest);
        let retired = MacKeys::new(vec![("m2".into(), MacKey::new(b"two"))]).unwrap();
        assert!(!retired.verify(&digest, "p", &[b"x"]));
        assert!(!retired.verify_token(&token, "p", &[b"x"]));
    }

    #[test]
    fn a_key_id_with_dots_names_its_key_in_a_token() {
        let keys = MacKeys::new(vec![("shop.2026.1".into(), MacKey::new(b"k"))]).unwrap();
        let token = keys.token("p", &[b"x"]);
        assert!(token.starts_with("shop.2026.1."));
        assert!(keys.verify_token(&token, "p", &[b"x"]));
        assert!(!keys.verify_token(&token, "p", &[b"y"]));
    }

    #[test]
    fn plain_message_signature_matches_rfc4231_case_2() {
        let key = MacKey::new(b"Jefe");
        assert_eq!(
            key.sign_message_hex(b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}

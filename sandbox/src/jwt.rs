//! HS256 JWTs, as Cardinal issues for device data collection and step-up.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;

fn mac(secret: &[u8], data: &str) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret).expect("any key length");
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

pub fn sign(secret: &[u8], claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signing_input = format!("{header}.{payload}");
    let signature = URL_SAFE_NO_PAD.encode(mac(secret, &signing_input));
    format!("{signing_input}.{signature}")
}

/// The claims, if the token is well formed and signed with `secret`.
pub fn verify(secret: &[u8], token: &str) -> Option<Value> {
    let (signing_input, signature) = token.trim().rsplit_once('.')?;
    let (_, payload) = signing_input.split_once('.')?;
    let expected = URL_SAFE_NO_PAD.encode(mac(secret, signing_input));
    if expected != signature {
        return None;
    }
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper() {
        let token = sign(b"s", &serde_json::json!({"a": 1}));
        assert_eq!(verify(b"s", &token).unwrap()["a"], 1);
        assert!(verify(b"t", &token).is_none());
        assert!(verify(b"s", &token.replace('.', "x")).is_none());
    }
}

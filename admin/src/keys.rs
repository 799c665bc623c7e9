//! New keys, from the operating system's random source, and the session keys' rotation.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use gateway::session::sealing::{KeyDocument, SessionKeysDocument};

use crate::store::RegistryStore;

fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("the operating system's random source");
    bytes
}

/// A tenant API key: 256 random bits, URL-safe.
pub fn api_key() -> String {
    format!("gw_{}", URL_SAFE_NO_PAD.encode(random::<32>()))
}

/// A redirect signing key (43 characters).
pub fn redirect_secret() -> String {
    URL_SAFE_NO_PAD.encode(random::<32>())
}

/// A Standard Webhooks secret: `whsec_` and 32 random bytes, base64.
pub fn webhook_secret() -> String {
    format!("whsec_{}", STANDARD.encode(random::<32>()))
}

/// A key id: the prefix, then the date and a random suffix, so ids never repeat.
pub fn key_id(prefix: &str) -> String {
    let suffix: String = random::<4>().iter().map(|b| format!("{b:02x}")).collect();
    format!("{prefix}-{suffix}")
}

/// Writes the session keys as lists with a new data key and MAC key first. A generated
/// single string (the template's first value) becomes the lists' old keys through the
/// same derivation the functions use, so nothing sealed before is lost.
pub async fn rotate_session_keys(store: &RegistryStore) -> Result<(), String> {
    let text = store
        .read()
        .await?
        .ok_or("the session keys secret does not exist")?;
    let mut document = if text.trim_start().starts_with('{') {
        serde_json::from_str::<SessionKeysDocument>(&text)
            .map_err(|_| "the secret is not a session keys document".to_owned())?
    } else {
        gateway::session::sealing::derived_document(text.trim())?
    };
    document.data_encryption_keys.insert(
        0,
        KeyDocument {
            kid: key_id("data"),
            key: STANDARD.encode(random::<32>()),
        },
    );
    document.session_mac_keys.insert(
        0,
        KeyDocument {
            kid: key_id("mac"),
            key: URL_SAFE_NO_PAD.encode(random::<32>()),
        },
    );
    let text = serde_json::to_string_pretty(&document).expect("the document serializes");
    {
        use gateway::secrets::SecretDocument as _;
        gateway::session::SessionKeys::parse(&text, &())?;
    }
    store.write(&text).await?;
    eprintln!(
        "session keys rotated: new data key {}, new MAC key {} (the old keys stay until no pending session needs them: remove them from the document after CHALLENGE_DEADLINE_SECS + SECRETS_TTL_SECS)",
        document.data_encryption_keys[0].kid, document.session_mac_keys[0].kid
    );
    Ok(())
}

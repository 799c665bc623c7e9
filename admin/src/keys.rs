//! New keys, from the operating system's random source, and the session keys' rotation.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use gateway::keys::{KeyDocument, KeysDocument as SessionKeysDocument};

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

/// The session keys as lists: a generated single string (the template's first value)
/// becomes the lists' first keys through the same derivation the functions use, so
/// nothing sealed before is lost.
async fn session_keys(store: &RegistryStore) -> Result<SessionKeysDocument, String> {
    let text = store
        .read()
        .await?
        .ok_or("the session keys secret does not exist")?;
    if text.trim_start().starts_with('{') {
        serde_json::from_str::<SessionKeysDocument>(&text)
            .map_err(|_| "the secret is not a session keys document".to_owned())
    } else {
        gateway::keys::derived_document(text.trim())
    }
}

/// Writes the document once the functions would accept it.
async fn write_session_keys(
    store: &RegistryStore,
    document: &SessionKeysDocument,
) -> Result<(), String> {
    let text = serde_json::to_string_pretty(document).expect("the document serializes");
    {
        use gateway::secrets::SecretDocument as _;
        gateway::keys::GatewayKeys::parse(&text, &())?;
    }
    store.write(&text).await
}

/// Step 1: a new data key and MAC key, last (they open and verify; they make nothing
/// yet).
pub async fn add_session_keys(store: &RegistryStore) -> Result<(), String> {
    let mut document = session_keys(store).await?;
    let data = KeyDocument {
        kid: key_id("data"),
        key: STANDARD.encode(random::<32>()),
    };
    let mac = KeyDocument {
        kid: key_id("mac"),
        key: URL_SAFE_NO_PAD.encode(random::<32>()),
    };
    let printed = format!(
        "session keys added: data key {}, MAC key {}; they make nothing yet. After SECRETS_TTL_SECS run promote-session-keys",
        data.kid, mac.kid
    );
    document.data_encryption_keys.push(data);
    document.session_mac_keys.push(mac);
    write_session_keys(store, &document).await?;
    eprintln!("{printed}");
    Ok(())
}

/// Step 2: the named keys (by default the last of each list) move first and make new
/// values; the old keys stay until no pending session needs them.
pub async fn promote_session_keys(
    store: &RegistryStore,
    data_kid: Option<String>,
    mac_kid: Option<String>,
) -> Result<(), String> {
    let mut document = session_keys(store).await?;
    let data = promote(&mut document.data_encryption_keys, data_kid, "data key")?;
    let mac = promote(&mut document.session_mac_keys, mac_kid, "MAC key")?;
    write_session_keys(store, &document).await?;
    eprintln!(
        "session keys promoted: data key {data}, MAC key {mac} make new values (the old keys stay until no pending session needs them: remove them from the document after CHALLENGE_DEADLINE_SECS + SECRETS_TTL_SECS)"
    );
    Ok(())
}

fn promote(keys: &mut Vec<KeyDocument>, kid: Option<String>, what: &str) -> Result<String, String> {
    let at = match kid {
        Some(kid) => keys
            .iter()
            .position(|k| k.kid == kid)
            .ok_or_else(|| format!("no {what} {kid}"))?,
        None => keys
            .len()
            .checked_sub(1)
            .ok_or_else(|| format!("no {what}"))?,
    };
    let key = keys.remove(at);
    let kid = key.kid.clone();
    keys.insert(0, key);
    Ok(kid)
}

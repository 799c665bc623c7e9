//! New keys, from the operating system's random source, and the rotation of a key set
//! (the session keys, the issuer's keys): add, promote, remove, each refused until it is
//! safe ([`Rotation`]).

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use gateway::keys::{KeyDocument, KeysDocument as SessionKeysDocument, Rotation};

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

/// A key set as lists: a generated single string (the template's first value) becomes
/// the lists' first keys through the same derivation the functions use, so nothing
/// sealed before is lost.
async fn key_set(store: &RegistryStore) -> Result<SessionKeysDocument, String> {
    let text = store
        .read()
        .await?
        .ok_or("the key set's secret does not exist")?;
    if text.trim_start().starts_with('{') {
        serde_json::from_str::<SessionKeysDocument>(&text)
            .map_err(|_| "the secret is not a key set document".to_owned())
    } else {
        gateway::keys::derived_document(text.trim())
    }
}

/// Writes the document once the functions would accept it.
async fn write_key_set(
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

/// A time for people: RFC 3339, seconds.
fn when(epoch_secs: i64) -> String {
    gateway::clock::rfc3339(epoch_secs * 1000)
}

/// Step 1: a new data key and MAC key, last (they open and verify; they make nothing
/// yet), with the time they were added.
pub async fn add_keys(
    store: &RegistryStore,
    now: i64,
    rotation: Rotation,
) -> Result<String, String> {
    let mut document = key_set(store).await?;
    let mut data = KeyDocument::new(key_id("data"), STANDARD.encode(random::<32>()));
    let mut mac = KeyDocument::new(key_id("mac"), URL_SAFE_NO_PAD.encode(random::<32>()));
    data.added_at = Some(now);
    mac.added_at = Some(now);
    let printed = format!(
        "keys added: data key {}, MAC key {}; they make nothing yet. Promote them from {} on \
         (every function instance has read them by then)",
        data.kid,
        mac.kid,
        when(rotation.promotable_at(&data).expect("just added"))
    );
    document.data_encryption_keys.push(data);
    document.session_mac_keys.push(mac);
    write_key_set(store, &document).await?;
    Ok(printed)
}

/// Step 2: the named keys (by default the last of each list) move first and make new
/// values; the keys they replace are retired (they still open and verify) — refused
/// before every instance can have read the new keys.
pub async fn promote_keys(
    store: &RegistryStore,
    data_kid: Option<String>,
    mac_kid: Option<String>,
    now: i64,
    rotation: Rotation,
) -> Result<String, String> {
    let mut document = key_set(store).await?;
    let data = promote(
        &mut document.data_encryption_keys,
        data_kid,
        "data key",
        now,
        rotation,
    )?;
    let mac = promote(
        &mut document.session_mac_keys,
        mac_kid,
        "MAC key",
        now,
        rotation,
    )?;
    write_key_set(store, &document).await?;
    let removable = rotation
        .removable_at(&document.data_encryption_keys[1])
        .map_or_else(|| "never (no retirement time)".to_owned(), when);
    Ok(format!(
        "keys promoted: data key {data}, MAC key {mac} make new values; the retired keys still \
         open and verify what they made, and may be removed from {removable} on"
    ))
}

fn promote(
    keys: &mut Vec<KeyDocument>,
    kid: Option<String>,
    what: &str,
    now: i64,
    rotation: Rotation,
) -> Result<String, String> {
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
    if at == 0 {
        return Err(format!(
            "the {what} {} already makes new values",
            keys[0].kid
        ));
    }
    match rotation.promotable_at(&keys[at]) {
        Some(ready) if now >= ready => {}
        Some(ready) => {
            return Err(format!(
                "the {what} {} was added too recently: some function instance may not have read \
                 it yet; promote it from {} on",
                keys[at].kid,
                when(ready)
            ));
        }
        None => {
            return Err(format!(
                "the {what} {} records no time it was added",
                keys[at].kid
            ));
        }
    }
    keys[0].retired_at = Some(now);
    let mut key = keys.remove(at);
    key.promoted_at = Some(now);
    key.retired_at = None;
    let kid = key.kid.clone();
    keys.insert(0, key);
    Ok(kid)
}

/// Step 3: removes a retired key (data or MAC, by id) — refused while anything made
/// under it may still be read.
pub async fn remove_key(
    store: &RegistryStore,
    kid: &str,
    now: i64,
    rotation: Rotation,
) -> Result<String, String> {
    let mut document = key_set(store).await?;
    let lists = [
        &mut document.data_encryption_keys,
        &mut document.session_mac_keys,
    ];
    let mut removed = false;
    for keys in lists {
        let Some(at) = keys.iter().position(|k| k.kid == kid) else {
            continue;
        };
        if at == 0 {
            return Err(format!("{kid} makes new values: promote another key first"));
        }
        match rotation.removable_at(&keys[at]) {
            Some(ready) if now >= ready => {}
            Some(ready) => {
                return Err(format!(
                    "{kid} may still be needed to open or check what was made under it; remove \
                     it from {} on",
                    when(ready)
                ));
            }
            None => {
                return Err(format!(
                    "{kid} records no retirement time: it may still be needed; it can be removed \
                     by hand once the longest-lived value made under it has expired"
                ));
            }
        }
        keys.remove(at);
        removed = true;
    }
    if !removed {
        return Err(format!("no key {kid}"));
    }
    write_key_set(store, &document).await?;
    Ok(format!("key {kid} removed"))
}

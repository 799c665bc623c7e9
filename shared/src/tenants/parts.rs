//! The registry as separate secrets, so each function reads only what it uses.
//!
//! The **routing** document (every function) holds who the tenants are: ids, roles, API
//! key digests, return origins, budgets, webhook URLs — no secret. Each tenant's secrets
//! are in a part of their own, each read only by the functions that use it:
//!
//! | Part | What | Read by |
//! |---|---|---|
//! | [`RegistryPart::RedirectKeys`] | a merchant's redirect signing keys | callback |
//! | [`RegistryPart::WebhookKeys`] | each side's webhook signing keys | notify |
//! | [`RegistryPart::PayerAuth`] | a merchant's own payer-authentication key | check-enroll, callback |
//! | [`RegistryPart::CardIssuance`] | a card program's own card-issuance credentials | enroll |
//!
//! So notify, the only function that calls tenant-controlled URLs, holds no upstream
//! credential and no redirect key, and the issuer side holds nothing of the merchants'.
//! The admin command edits the whole registry ([`merge`]) and writes it back split
//! ([`split`]); a part is `{"tenants": {"<id>": ...}}`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{ApiKeyEntry, CardIssuanceEntry, KeyEntry, RegistryDocument};

/// A part of the registry kept in a secret of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RegistryPart {
    RedirectKeys,
    WebhookKeys,
    PayerAuth,
    CardIssuance,
}

impl RegistryPart {
    pub const ALL: [RegistryPart; 4] = [
        RegistryPart::RedirectKeys,
        RegistryPart::WebhookKeys,
        RegistryPart::PayerAuth,
        RegistryPart::CardIssuance,
    ];

    /// The variable that names the part's secret.
    pub fn env(self) -> &'static str {
        match self {
            RegistryPart::RedirectKeys => "TENANT_REDIRECT_KEYS_SECRET_ID",
            RegistryPart::WebhookKeys => "TENANT_WEBHOOK_KEYS_SECRET_ID",
            RegistryPart::PayerAuth => "TENANT_PAYER_AUTH_SECRET_ID",
            RegistryPart::CardIssuance => "TENANT_CARD_ISSUANCE_SECRET_ID",
        }
    }

    /// How the part's secret is named after the registry's (`<registry>/<suffix>`), and
    /// its file beside a registry file (`<stem>.<suffix>.json`).
    pub fn suffix(self) -> &'static str {
        match self {
            RegistryPart::RedirectKeys => "redirect-keys",
            RegistryPart::WebhookKeys => "webhook-keys",
            RegistryPart::PayerAuth => "payer-auth",
            RegistryPart::CardIssuance => "card-issuance",
        }
    }

    /// The part's secret, named after the registry's secret.
    pub fn secret_name(self, registry: &str) -> String {
        format!("{registry}/{}", self.suffix())
    }

    /// The part's file beside the registry file `registry`.
    pub fn file_beside(self, registry: &Path) -> PathBuf {
        let stem = registry
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("tenants");
        registry.with_file_name(format!("{stem}.{}.json", self.suffix()))
    }
}

/// A side's webhook keys, in the webhook keys part.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct WebhookKeys {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merchant: Vec<KeyEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub issuer: Vec<KeyEntry>,
}

/// One part's document: per tenant id, its entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PartDocument<T> {
    pub tenants: BTreeMap<String, T>,
}

impl<T> Default for PartDocument<T> {
    fn default() -> Self {
        Self {
            tenants: BTreeMap::new(),
        }
    }
}

/// Every part of a registry.
#[derive(Debug, Clone, Default)]
pub struct Parts {
    pub redirect_keys: PartDocument<Vec<KeyEntry>>,
    pub webhook_keys: PartDocument<WebhookKeys>,
    pub payer_auth: PartDocument<ApiKeyEntry>,
    pub card_issuance: PartDocument<CardIssuanceEntry>,
}

fn read_part<T: serde::de::DeserializeOwned>(
    part: RegistryPart,
    text: &str,
) -> Result<PartDocument<T>, String> {
    serde_json::from_str(text).map_err(|e| {
        // Line and column only: serde's message may quote a value (a secret).
        format!(
            "not the registry's {} (line {}, column {})",
            part.suffix(),
            e.line(),
            e.column()
        )
    })
}

impl Parts {
    /// Reads `part` from its document's text into these parts.
    pub fn read(&mut self, part: RegistryPart, text: &str) -> Result<(), String> {
        match part {
            RegistryPart::RedirectKeys => self.redirect_keys = read_part(part, text)?,
            RegistryPart::WebhookKeys => self.webhook_keys = read_part(part, text)?,
            RegistryPart::PayerAuth => self.payer_auth = read_part(part, text)?,
            RegistryPart::CardIssuance => self.card_issuance = read_part(part, text)?,
        }
        Ok(())
    }

    /// `part`'s document, as stored.
    pub fn text(&self, part: RegistryPart) -> String {
        let text = match part {
            RegistryPart::RedirectKeys => serde_json::to_string_pretty(&self.redirect_keys),
            RegistryPart::WebhookKeys => serde_json::to_string_pretty(&self.webhook_keys),
            RegistryPart::PayerAuth => serde_json::to_string_pretty(&self.payer_auth),
            RegistryPart::CardIssuance => serde_json::to_string_pretty(&self.card_issuance),
        };
        text.expect("a registry part serializes")
    }
}

/// The routing document and the parts of a whole registry: every secret moved out of the
/// routing document into its part.
pub fn split(mut whole: RegistryDocument) -> (RegistryDocument, Parts) {
    let mut parts = Parts::default();
    for tenant in &mut whole.tenants {
        let id = tenant.id.clone();
        let mut webhook = WebhookKeys::default();
        if let Some(merchant) = &mut tenant.merchant {
            let keys = std::mem::take(&mut merchant.redirect_keys);
            if !keys.is_empty() {
                parts.redirect_keys.tenants.insert(id.clone(), keys);
            }
            if let Some(own) = merchant.payer_auth.take() {
                parts.payer_auth.tenants.insert(id.clone(), own);
            }
            if let Some(hook) = &mut merchant.webhook {
                webhook.merchant = std::mem::take(&mut hook.keys);
            }
        }
        if let Some(issuer) = &mut tenant.issuer {
            if let Some(own) = issuer.card_issuance.take() {
                parts.card_issuance.tenants.insert(id.clone(), own);
            }
            if let Some(hook) = &mut issuer.webhook {
                webhook.issuer = std::mem::take(&mut hook.keys);
            }
        }
        if !webhook.merchant.is_empty() || !webhook.issuer.is_empty() {
            parts.webhook_keys.tenants.insert(id, webhook);
        }
    }
    (whole, parts)
}

/// The registry as one document again: `routing` with the secrets of `parts` of the
/// parts in `held` put back (a secret left in `routing` is dropped: only its part is
/// trusted).
pub fn merge(
    mut routing: RegistryDocument,
    parts: &Parts,
    held: &BTreeSet<RegistryPart>,
) -> RegistryDocument {
    let holds = |part| held.contains(&part);
    for tenant in &mut routing.tenants {
        let id = tenant.id.as_str();
        let webhook = parts.webhook_keys.tenants.get(id);
        if let Some(merchant) = &mut tenant.merchant {
            merchant.redirect_keys = holds(RegistryPart::RedirectKeys)
                .then(|| parts.redirect_keys.tenants.get(id).cloned())
                .flatten()
                .unwrap_or_default();
            merchant.payer_auth = holds(RegistryPart::PayerAuth)
                .then(|| parts.payer_auth.tenants.get(id).cloned())
                .flatten();
            if let Some(hook) = &mut merchant.webhook {
                hook.keys = holds(RegistryPart::WebhookKeys)
                    .then(|| webhook.map(|w| w.merchant.clone()))
                    .flatten()
                    .unwrap_or_default();
            }
        }
        if let Some(issuer) = &mut tenant.issuer {
            issuer.card_issuance = holds(RegistryPart::CardIssuance)
                .then(|| parts.card_issuance.tenants.get(id).cloned())
                .flatten();
            if let Some(hook) = &mut issuer.webhook {
                hook.keys = holds(RegistryPart::WebhookKeys)
                    .then(|| webhook.map(|w| w.issuer.clone()))
                    .flatten()
                    .unwrap_or_default();
            }
        }
    }
    routing
}

/// Reads a registry file and the parts' files beside it (a part without a file is
/// empty) as one document. A registry file that still holds its secrets (one document,
/// as before the split) reads as it is.
pub fn read_files(registry: &Path) -> Result<Option<RegistryDocument>, String> {
    let text = match std::fs::read_to_string(registry) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", registry.display())),
    };
    let routing: RegistryDocument = super::read_document(&text)?;
    let mut parts = Parts::default();
    let mut found = BTreeSet::new();
    for part in RegistryPart::ALL {
        let path = part.file_beside(registry);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                parts.read(part, &text)?;
                found.insert(part);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("{}: {e}", path.display())),
        }
    }
    if found.is_empty() {
        return Ok(Some(routing));
    }
    Ok(Some(merge(
        routing,
        &parts,
        &RegistryPart::ALL.into_iter().collect(),
    )))
}

/// Writes a registry as its file and the parts' files beside it, each readable by its
/// owner only and replaced whole (written beside, then renamed), so a reader never
/// sees half a document.
pub fn write_files(registry: &Path, whole: RegistryDocument) -> Result<(), String> {
    let (routing, parts) = split(whole);
    for part in RegistryPart::ALL {
        write_private(&part.file_beside(registry), &parts.text(part))?;
    }
    let text = serde_json::to_string_pretty(&routing).expect("the registry serializes");
    write_private(registry, &text)
}

/// Writes `text` to `path` with mode 0600, atomically (a temporary file, then rename).
pub fn write_private(path: &Path, text: &str) -> Result<(), String> {
    use std::io::Write as _;
    let failed = |e: std::io::Error| format!("{}: {e}", path.display());
    let temporary = path.with_extension(format!("tmp-{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(&temporary).map_err(failed)?;
    file.write_all(text.as_bytes()).map_err(failed)?;
    file.sync_all().map_err(failed)?;
    std::fs::rename(&temporary, path).map_err(failed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn whole() -> RegistryDocument {
        serde_json::from_value(json!({"tenants": [
            {"id": "shop-a", "roles": ["merchant"], "api_key_sha256": ["a".repeat(64)],
             "merchant": {"return_origins": ["https://shop-a.example"],
                          "redirect_keys": [{"kid": "r1", "secret": "redirect-secret-of-shop-a-0000000000"}],
                          "payer_auth": {"api_key": "shop-a-own-firstoken-key"},
                          "webhook": {"url": "https://shop-a.example/hooks",
                                      "keys": [{"kid": "w1", "secret": "whsec_c2hvcC1hLXdlYmhvb2stc2VjcmV0LTAx"}]}}},
            {"id": "bank-a", "roles": ["issuer"], "api_key_sha256": ["b".repeat(64)],
             "issuer": {"budget_ids": ["ci202008281528472924"],
                        "card_issuance": {"api_key": "bank-a-ahrvo-key", "access_token": "bank-a-token"}}}
        ]}))
        .unwrap()
    }

    #[test]
    fn the_routing_document_holds_no_secret_and_each_part_only_its_own() {
        let (routing, parts) = split(whole());
        let text = serde_json::to_string(&routing).unwrap();
        for secret in [
            "redirect-secret",
            "own-firstoken",
            "whsec_",
            "ahrvo-key",
            "bank-a-token",
        ] {
            assert!(!text.contains(secret), "{secret} in the routing document");
        }
        let redirect = parts.text(RegistryPart::RedirectKeys);
        assert!(redirect.contains("redirect-secret") && !redirect.contains("whsec_"));
        let webhook = parts.text(RegistryPart::WebhookKeys);
        assert!(webhook.contains("whsec_") && !webhook.contains("firstoken"));
        assert!(
            parts
                .text(RegistryPart::CardIssuance)
                .contains("bank-a-token")
        );
    }

    #[test]
    fn a_reader_gets_back_only_the_parts_it_holds() {
        let (routing, parts) = split(whole());
        let all = merge(
            routing.clone(),
            &parts,
            &RegistryPart::ALL.into_iter().collect(),
        );
        assert_eq!(
            serde_json::to_value(&all).unwrap(),
            serde_json::to_value(whole()).unwrap()
        );
        let notify = merge(
            routing,
            &parts,
            &[RegistryPart::WebhookKeys].into_iter().collect(),
        );
        let text = serde_json::to_string(&notify).unwrap();
        assert!(text.contains("whsec_"));
        for secret in ["redirect-secret", "own-firstoken", "ahrvo-key"] {
            assert!(!text.contains(secret), "notify holds {secret}");
        }
    }

    #[test]
    fn a_registry_written_as_files_is_private_and_reads_back_whole() {
        let dir = std::env::temp_dir().join(format!("parts-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("tenants.json");
        write_files(&file, whole()).unwrap();
        let back = read_files(&file).unwrap().unwrap();
        assert_eq!(
            serde_json::to_value(back).unwrap(),
            serde_json::to_value(whole()).unwrap()
        );
        #[cfg(unix)]
        for path in std::fs::read_dir(&dir).unwrap() {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = path.unwrap().metadata().unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        std::fs::remove_dir_all(dir).ok();
    }
}

//! The tenant registry: who may call the gateway, in which roles, and with what of their
//! own (return origins, redirect keys, webhook, budgets, upstream credentials).
//!
//! The format of the design brief, parsed and checked as a whole: a registry with one bad
//! tenant is refused, naming the tenant and the field, never a secret. API keys are stored
//! as their SHA-256 digests; a presented key is hashed and looked up. Deployed, it is
//! split ([`parts`]): a routing document every function reads and, per kind of secret, a
//! part only the functions that use it read.

pub mod parts;

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use url::Url;

use crate::crypto::{MacKey, MacKeys, is_key_id};
use crate::domain::{BudgetId, CompletionMode, TenantId};
use crate::redirect::ReturnUrlPolicy;
use crate::secrets::Secret;
use crate::secrets::SecretDocument;
use parts::{Parts, RegistryPart};

/// What a tenant may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Checkout: check-enroll, callback, events.
    Merchant,
    /// Card program: the card-issuance routes.
    Issuer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Merchant => "merchant",
            Role::Issuer => "issuer",
        }
    }
}

/// The registry as stored (the format of the design brief; unknown fields are ignored so
/// the format can grow).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RegistryDocument {
    pub tenants: Vec<TenantEntry>,
    /// Ids of tenants offboarded: never used again, so a new tenant never inherits what
    /// is stored under an old one's id.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retired: Vec<RetiredTenant>,
}

/// A tenant id that was offboarded (a tombstone).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetiredTenant {
    pub id: String,
    /// Epoch seconds.
    pub retired_at: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TenantEntry {
    pub id: String,
    pub roles: Vec<Role>,
    /// Lower-case hex SHA-256 of each API key (several during a rotation).
    pub api_key_sha256: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant: Option<MerchantEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<IssuerEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MerchantEntry {
    pub return_origins: Vec<String>,
    /// The first signs; all verify. In the redirect keys part when deployed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redirect_keys: Vec<KeyEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<WebhookEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer_auth: Option<ApiKeyEntry>,
    /// How a challenge ends on the merchant's page: `redirect` (the default), `top` or
    /// `post_message`; a check enroll may ask for another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IssuerEntry {
    pub budget_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_issuance: Option<CardIssuanceEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<WebhookEntry>,
}

/// A signing key and its id. Never printed.
#[derive(Clone, Serialize, Deserialize)]
pub struct KeyEntry {
    pub kid: String,
    pub secret: String,
}

impl fmt::Debug for KeyEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyEntry")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WebhookEntry {
    pub url: String,
    /// `whsec_<base64>` secrets, the first signs; every one signs during a rotation. In
    /// the webhook keys part when deployed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<KeyEntry>,
}

/// A tenant's own upstream API key. Never printed.
#[derive(Clone, Serialize, Deserialize)]
pub struct ApiKeyEntry {
    pub api_key: String,
}

impl fmt::Debug for ApiKeyEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKeyEntry(..)")
    }
}

/// A card program's own card-issuance credentials. Never printed.
#[derive(Clone, Serialize, Deserialize)]
pub struct CardIssuanceEntry {
    pub api_key: String,
    pub access_token: String,
}

impl fmt::Debug for CardIssuanceEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CardIssuanceEntry(..)")
    }
}

/// The SHA-256 digest of an API key, as the registry stores it.
pub fn api_key_digest(api_key: &str) -> String {
    hex::encode(Sha256::digest(api_key.as_bytes()))
}

/// A checked tenant.
#[derive(Debug)]
pub struct Tenant {
    pub id: TenantId,
    pub roles: BTreeSet<Role>,
    pub merchant: Option<MerchantProfile>,
    pub issuer: Option<IssuerProfile>,
}

impl Tenant {
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// The webhook of the tenant's side that an event belongs to.
    pub fn webhook(&self, role: Role) -> Option<&Webhook> {
        match role {
            Role::Merchant => self.merchant.as_ref()?.webhook.as_ref(),
            Role::Issuer => self.issuer.as_ref()?.webhook.as_ref(),
        }
    }
}

#[derive(Debug)]
pub struct MerchantProfile {
    pub return_urls: ReturnUrlPolicy,
    /// Signs the redirect to the merchant (first key), with its id in the signed set.
    /// Only where the redirect keys part is read (the callback function).
    pub redirect_keys: Option<MacKeys>,
    pub webhook: Option<Webhook>,
    /// The merchant's own payer-authentication key, instead of the gateway's.
    pub payer_auth_api_key: Option<Secret>,
    /// How its challenges end unless a check enroll asks otherwise.
    pub completion: CompletionMode,
}

#[derive(Debug)]
pub struct IssuerProfile {
    pub budgets: BTreeSet<BudgetId>,
    /// The card program's own card-issuance credentials, instead of the gateway's.
    pub card_issuance: Option<(Secret, Secret)>,
    pub webhook: Option<Webhook>,
}

impl IssuerProfile {
    pub fn owns_budget(&self, budget: &str) -> bool {
        self.budgets.iter().any(|b| b.as_str() == budget)
    }
}

/// Where a tenant's events go, and the keys that sign them.
#[derive(Clone)]
pub struct Webhook {
    pub url: Url,
    /// `(kid, secret bytes)`; every key signs (one signature each) during a rotation.
    /// Only where the webhook keys part is read (the notify function): empty elsewhere.
    pub keys: Vec<(String, Vec<u8>)>,
}

impl fmt::Debug for Webhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Webhook")
            .field("url", &self.url.as_str())
            .field(
                "kids",
                &self.keys.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// What checking a registry needs that is not in it.
#[derive(Debug, Clone)]
pub struct RegistryPolicy {
    /// Local runs: `http://127.0.0.1…` return origins and webhook endpoints.
    pub allow_loopback_http: bool,
    /// The parts this reader holds (the secrets its tenants must have); a secret of
    /// another part is never read.
    pub parts: BTreeSet<RegistryPart>,
}

impl Default for RegistryPolicy {
    /// The whole registry, every part (the admin command's view).
    fn default() -> Self {
        Self {
            allow_loopback_http: false,
            parts: RegistryPart::ALL.into_iter().collect(),
        }
    }
}

impl RegistryPolicy {
    /// A function's view: the routing document and `parts`.
    pub fn holding(parts: &[RegistryPart], allow_loopback_http: bool) -> Self {
        Self {
            allow_loopback_http,
            parts: parts.iter().copied().collect(),
        }
    }

    fn holds(&self, part: RegistryPart) -> bool {
        self.parts.contains(&part)
    }
}

/// A registry document's text, read (the error names a line and column, never a value).
pub fn read_document(text: &str) -> Result<RegistryDocument, String> {
    serde_json::from_str(text).map_err(|e| {
        format!(
            "not a tenant registry (line {}, column {})",
            e.line(),
            e.column()
        )
    })
}

/// The checked registry, indexed by API key digest and by id.
#[derive(Debug, Default)]
pub struct Registry {
    by_key: HashMap<String, Arc<Tenant>>,
    by_id: HashMap<TenantId, Arc<Tenant>>,
}

impl Registry {
    /// The tenant whose API key this is.
    pub fn authenticate(&self, presented: &str) -> Option<Arc<Tenant>> {
        self.by_key.get(&api_key_digest(presented)).cloned()
    }

    pub fn tenant(&self, id: &TenantId) -> Option<Arc<Tenant>> {
        self.by_id.get(id).cloned()
    }

    pub fn tenants(&self) -> impl Iterator<Item = &Arc<Tenant>> {
        self.by_id.values()
    }

    /// Where `tenant`'s events for `role`'s side go, if it has a webhook there: the one
    /// place that decides whether an event is delivered (a registered webhook always has
    /// a signing key).
    pub fn webhook_for(&self, tenant: &TenantId, role: Role) -> Option<&Webhook> {
        self.by_id.get(tenant)?.webhook(role)
    }

    pub fn check(document: RegistryDocument, policy: &RegistryPolicy) -> Result<Self, String> {
        let mut registry = Registry::default();
        let retired: BTreeSet<&str> = document.retired.iter().map(|r| r.id.as_str()).collect();
        if let Some(reused) = document
            .tenants
            .iter()
            .find(|t| retired.contains(t.id.as_str()))
        {
            return Err(format!(
                "tenant {}: the id belonged to an offboarded tenant and is never used again",
                reused.id
            ));
        }
        // A budget is one card program's: under two tenants, each could act on the
        // other's cards and contacts.
        let mut budget_owners: HashMap<String, TenantId> = HashMap::new();
        for entry in document.tenants {
            let name = entry.id.clone();
            let digests = entry.api_key_sha256.clone();
            let tenant = Arc::new(
                check_tenant(entry, policy).map_err(|reason| format!("tenant {name}: {reason}"))?,
            );
            if registry.by_id.contains_key(&tenant.id) {
                return Err(format!("tenant {name} appears twice"));
            }
            for budget in tenant.issuer.iter().flat_map(|i| i.budgets.iter()) {
                if let Some(other) = budget_owners.insert(budget.to_string(), tenant.id.clone()) {
                    return Err(format!(
                        "tenant {name}: budget {budget} already belongs to tenant {other}"
                    ));
                }
            }
            for digest in digests {
                if registry.by_key.insert(digest, tenant.clone()).is_some() {
                    return Err(format!(
                        "tenant {name}: an API key digest belongs to two tenants"
                    ));
                }
            }
            registry.by_id.insert(tenant.id.clone(), tenant);
        }
        Ok(registry)
    }
}

impl SecretDocument for Registry {
    type Context = RegistryPolicy;

    /// One whole document (the admin command's view, a test's).
    fn parse(text: &str, policy: &RegistryPolicy) -> Result<Self, String> {
        Registry::check(read_document(text)?, policy)
    }

    /// A function's view: the routing document, then the parts it holds, in order.
    fn parse_group(texts: &[String], policy: &RegistryPolicy) -> Result<Self, String> {
        let (routing, rest) = texts.split_first().ok_or("no tenant registry")?;
        let routing = read_document(routing)?;
        let mut parts = Parts::default();
        for (part, text) in policy.parts.iter().zip(rest) {
            parts.read(*part, text)?;
        }
        Registry::check(parts::merge(routing, &parts, &policy.parts), policy)
    }
}

fn check_tenant(entry: TenantEntry, policy: &RegistryPolicy) -> Result<Tenant, String> {
    let id = TenantId::parse("id", &entry.id).map_err(|e| e.to_string())?;
    let roles: BTreeSet<Role> = entry.roles.into_iter().collect();
    if roles.is_empty() {
        return Err("roles: at least one role is required".into());
    }
    if entry.api_key_sha256.is_empty() {
        return Err("api_key_sha256: at least one key digest is required".into());
    }
    if !entry.api_key_sha256.iter().all(|d| {
        d.len() == 64
            && d.chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    }) {
        return Err("api_key_sha256: each must be 64 lower-case hex digits".into());
    }
    let merchant = match (roles.contains(&Role::Merchant), entry.merchant) {
        (true, Some(m)) => Some(check_merchant(m, policy)?),
        (true, None) => return Err("merchant: required for the merchant role".into()),
        (false, _) => None,
    };
    let issuer = match (roles.contains(&Role::Issuer), entry.issuer) {
        (true, Some(i)) => Some(check_issuer(i, policy)?),
        (true, None) => return Err("issuer: required for the issuer role".into()),
        (false, _) => None,
    };
    Ok(Tenant {
        id,
        roles,
        merchant,
        issuer,
    })
}

fn check_merchant(
    entry: MerchantEntry,
    policy: &RegistryPolicy,
) -> Result<MerchantProfile, String> {
    let return_urls = ReturnUrlPolicy::new(
        entry.return_origins.iter().map(String::as_str),
        policy.allow_loopback_http,
    )
    .map_err(|reason| format!("merchant.return_origins: {reason}"))?;
    let redirect_keys = if policy.holds(RegistryPart::RedirectKeys) {
        let mut keys = Vec::new();
        for key in entry.redirect_keys {
            if key.secret.len() < 32 {
                return Err(
                    "merchant.redirect_keys: each secret must be at least 32 characters".into(),
                );
            }
            keys.push((key.kid, MacKey::new(key.secret.as_bytes())));
        }
        Some(MacKeys::new(keys).map_err(|reason| format!("merchant.redirect_keys: {reason}"))?)
    } else {
        None
    };
    let payer_auth_api_key = match entry.payer_auth {
        Some(own) if own.api_key.trim().is_empty() => {
            return Err("merchant.payer_auth.api_key: must not be empty".into());
        }
        Some(own) => Some(Secret::new(own.api_key)),
        None => None,
    };
    let completion = match entry.completion.as_deref() {
        None => CompletionMode::default(),
        Some(mode) => {
            CompletionMode::parse("merchant.completion", mode).map_err(|e| e.to_string())?
        }
    };
    Ok(MerchantProfile {
        return_urls,
        redirect_keys,
        webhook: entry
            .webhook
            .map(|w| check_webhook(w, policy, "merchant.webhook"))
            .transpose()?,
        payer_auth_api_key,
        completion,
    })
}

fn check_issuer(entry: IssuerEntry, policy: &RegistryPolicy) -> Result<IssuerProfile, String> {
    if entry.budget_ids.is_empty() {
        return Err("issuer.budget_ids: at least one budget is required".into());
    }
    let budgets = entry
        .budget_ids
        .iter()
        .map(|b| BudgetId::parse("issuer.budget_ids", b).map_err(|e| e.to_string()))
        .collect::<Result<BTreeSet<_>, _>>()?;
    let card_issuance = match entry.card_issuance {
        Some(own) if own.api_key.trim().is_empty() || own.access_token.trim().is_empty() => {
            return Err("issuer.card_issuance: api_key and access_token must not be empty".into());
        }
        Some(own) => Some((Secret::new(own.api_key), Secret::new(own.access_token))),
        None => None,
    };
    Ok(IssuerProfile {
        budgets,
        card_issuance,
        webhook: entry
            .webhook
            .map(|w| check_webhook(w, policy, "issuer.webhook"))
            .transpose()?,
    })
}

/// A webhook endpoint: https on a public host (plain http to loopback only in local
/// runs), with `whsec_` secrets of at least 24 random bytes.
fn check_webhook(
    entry: WebhookEntry,
    policy: &RegistryPolicy,
    field: &str,
) -> Result<Webhook, String> {
    let url = Url::parse(&entry.url).map_err(|_| format!("{field}.url: not an absolute URL"))?;
    crate::endpoint::check_endpoint(&url, policy.allow_loopback_http)
        .map_err(|reason| format!("{field}.url: {reason}"))?;
    if !policy.holds(RegistryPart::WebhookKeys) {
        // Where the endpoint is, without the keys that sign for it.
        return Ok(Webhook {
            url,
            keys: Vec::new(),
        });
    }
    if entry.keys.is_empty() {
        return Err(format!("{field}.keys: at least one key is required"));
    }
    let mut keys = Vec::new();
    for key in entry.keys {
        if !is_key_id(&key.kid) || keys.iter().any(|(kid, _)| *kid == key.kid) {
            return Err(format!(
                "{field}.keys: each kid must be unique, 1 to 64 of [A-Za-z0-9._-]"
            ));
        }
        let bytes = key
            .secret
            .strip_prefix("whsec_")
            .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok())
            .filter(|bytes| bytes.len() >= 24)
            .ok_or_else(|| {
                format!("{field}.keys: each secret must be whsec_<base64 of 24+ bytes>")
            })?;
        keys.push((key.kid, bytes));
    }
    Ok(Webhook { url, keys })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document(json: serde_json::Value) -> Result<Registry, String> {
        Registry::check(
            serde_json::from_value(json).unwrap(),
            &RegistryPolicy::default(),
        )
    }

    fn merchant(id: &str, key: &str) -> serde_json::Value {
        serde_json::json!({
            "id": id, "roles": ["merchant"], "api_key_sha256": [api_key_digest(key)],
            "merchant": {
                "return_origins": ["https://shop-a.example"],
                "redirect_keys": [{"kid": "a-1", "secret": "a-redirect-signing-key-of-32-chars!!"}],
                "webhook": {"url": "https://shop-a.example/hooks", "keys": [{"kid": "wh-1", "secret": "whsec_MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIz"}]}
            }
        })
    }

    #[test]
    fn a_presented_key_finds_its_tenant_by_digest() {
        let registry = document(serde_json::json!({"tenants": [merchant("shop-a", "key-a"), merchant("shop-b", "key-b")]})).unwrap();
        let tenant = registry.authenticate("key-b").unwrap();
        assert_eq!(tenant.id.as_str(), "shop-b");
        assert!(tenant.has_role(Role::Merchant) && !tenant.has_role(Role::Issuer));
        assert!(registry.authenticate("key-c").is_none());
    }

    #[test]
    fn a_bad_tenant_is_refused_by_name_without_its_secrets() {
        let mut bad = merchant("shop-a", "key-a");
        bad["merchant"]["redirect_keys"][0]["secret"] = "short-secret".into();
        let error = document(serde_json::json!({"tenants": [bad]})).unwrap_err();
        assert!(
            error.starts_with("tenant shop-a: merchant.redirect_keys"),
            "{error}"
        );
        assert!(!error.contains("short-secret"));
        let twice = document(
            serde_json::json!({"tenants": [merchant("shop-a", "k"), merchant("shop-b", "k")]}),
        );
        assert!(twice.unwrap_err().contains("two tenants"));
        let mut plain_http = merchant("shop-a", "key-a");
        plain_http["merchant"]["webhook"]["url"] = "http://shop-a.example/hooks".into();
        assert!(document(serde_json::json!({"tenants": [plain_http]})).is_err());
        let mut no_section = merchant("shop-a", "key-a");
        no_section["roles"] = serde_json::json!(["merchant", "issuer"]);
        assert!(
            document(serde_json::json!({"tenants": [no_section]}))
                .unwrap_err()
                .contains("issuer")
        );
    }

    #[test]
    fn a_budget_under_two_card_programs_is_refused() {
        let issuer = |id: &str, key: &str, budget: &str| {
            serde_json::json!({
                "id": id, "roles": ["issuer"], "api_key_sha256": [api_key_digest(key)],
                "issuer": {"budget_ids": [budget]}
            })
        };
        let distinct = document(serde_json::json!({"tenants": [
            issuer("bank-a", "key-a", "ci202008281528472924"),
            issuer("bank-b", "key-b", "ci202210231533401801"),
        ]}));
        assert!(distinct.is_ok());
        let shared = document(serde_json::json!({"tenants": [
            issuer("bank-a", "key-a", "ci202008281528472924"),
            issuer("bank-b", "key-b", "ci202008281528472924"),
        ]}))
        .unwrap_err();
        assert_eq!(
            shared,
            "tenant bank-b: budget ci202008281528472924 already belongs to tenant bank-a"
        );
    }
}

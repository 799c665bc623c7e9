//! The local stack's tenants and secrets: a tenant registry from `--tenants FILE` (read
//! again after the secrets' TTL, so editing the file is a rotation), or built-in demo
//! tenants — a card program and two merchants — whose keys are printed at start. The
//! upstream credentials are the sandbox's; the session keys are development keys.

use std::sync::Arc;

use gateway::crypto::{MacKey, MacKeys};
use gateway::tenants::{RegistryDocument, api_key_digest};
use gateway_loopback::secrets::{LocalSecrets, RegistryIds};
use serde_json::json;

pub const TENANTS: &str = "local/tenants";

/// The registry's secrets of a local run: the routing document and its parts.
pub fn registry_ids() -> RegistryIds {
    RegistryIds::named_after(TENANTS)
}
pub const CARD_ISSUANCE: &str = "local/card-issuance";
pub const PAYER_AUTH: &str = "local/payer-auth";
pub const SESSION_KEYS: &str = "local/session-keys";
pub const ISSUER_KEYS: &str = "local/issuer-keys";

/// Development-only keys: printed, never for anything but a laptop.
pub const DEMO_ISSUER_KEY: &str = "local-issuer-key-0000001";
pub const DEMO_MERCHANT_KEY: &str = "local-merchant-key-000001";
pub const DEMO_OTHER_MERCHANT_KEY: &str = "local-merchant-key-000002";
const DEMO_REDIRECT_KEY: &str = "local-dev-redirect-key-demo-shop-0000001";
const DEMO_OTHER_REDIRECT_KEY: &str = "local-dev-redirect-key-demo-shop-b-00001";
/// The demo merchant's webhook secret (Standard Webhooks form; development only).
pub const DEMO_WEBHOOK_SECRET: &str = "whsec_bG9jYWwtZGV2LXdlYmhvb2stc2VjcmV0LWRlbW8tc2hvcA==";

/// The merchant the demo checkout plays: its tenant id, API key and redirect keys.
pub struct DemoMerchant {
    pub tenant: String,
    pub api_key: String,
    pub redirect_keys: MacKeys,
    /// Its webhook secrets (`whsec_…`), to verify the deliveries its endpoint receives.
    pub webhook_secrets: Vec<String>,
}

/// A key to print at start.
pub struct PrintedKey {
    pub tenant: String,
    pub roles: String,
    pub api_key: String,
}

pub struct LocalTenants {
    pub secrets: Arc<LocalSecrets>,
    pub demo: Option<DemoMerchant>,
    pub printed: Vec<PrintedKey>,
}

/// The gateway's own secrets of a local run: the sandbox's upstream credentials and
/// development session keys.
fn development_secrets() -> Arc<LocalSecrets> {
    let secrets = Arc::new(LocalSecrets::new());
    secrets.set(
        CARD_ISSUANCE,
        json!({
            "api_key": sandbox::state::ISSUANCE_API_KEY,
            "access_token": sandbox::state::ISSUANCE_ACCESS_TOKEN
        })
        .to_string(),
    );
    secrets.set(
        PAYER_AUTH,
        json!({"api_key": sandbox::state::PAYER_AUTH_API_KEY}).to_string(),
    );
    secrets.set(
        SESSION_KEYS,
        json!({
            "data_encryption_keys": [{"kid": "local-dev", "key": "bG9jYWwtZGV2LWtleS1ub3QtZm9yLXByb2R1Y3Rpb24="}],
            "session_mac_keys": [{"kid": "local-dev", "key": "local-dev-session-mac-key-not-for-production"}]
        })
        .to_string(),
    );
    secrets.set(
        ISSUER_KEYS,
        json!({
            "data_encryption_keys": [{"kid": "local-issuer", "key": "bG9jYWwtaXNzdWVyLWtleS1ub3QtZm9yLXByb2R1Y3Q="}],
            "session_mac_keys": [{"kid": "local-issuer", "key": "local-dev-issuer-mac-key-not-for-production"}]
        })
        .to_string(),
    );
    secrets
}

/// The secrets of a local run. `demo_merchant_key` names the demo checkout's merchant in
/// a registry file (whose keys are stored as digests only).
pub fn local_tenants(
    tenants_file: Option<&str>,
    demo_merchant_key: Option<&str>,
    gateway_url: &str,
) -> Result<LocalTenants, String> {
    let secrets = development_secrets();
    let Some(path) = tenants_file else {
        let demo: RegistryDocument = serde_json::from_value(demo_registry(gateway_url))
            .expect("the demo registry is a registry");
        secrets.set_registry(&registry_ids(), &demo);
        return Ok(LocalTenants {
            secrets,
            demo: Some(DemoMerchant {
                tenant: "demo-shop".into(),
                api_key: DEMO_MERCHANT_KEY.into(),
                redirect_keys: keys("demo-shop-1", DEMO_REDIRECT_KEY),
                webhook_secrets: vec![DEMO_WEBHOOK_SECRET.into()],
            }),
            printed: vec![
                printed("demo-bank", "issuer", DEMO_ISSUER_KEY),
                printed(
                    "demo-shop",
                    "merchant (the demo checkout)",
                    DEMO_MERCHANT_KEY,
                ),
                printed("demo-shop-b", "merchant", DEMO_OTHER_MERCHANT_KEY),
            ],
        });
    };
    secrets.registry_from_file(&registry_ids(), std::path::Path::new(path));
    let document = gateway::tenants::parts::read_files(std::path::Path::new(path))
        .map_err(|e| format!("{path}: {e}"))?
        .ok_or_else(|| format!("{path}: no such file"))?;
    let demo = demo_merchant_key.and_then(|key| {
        let digest = api_key_digest(key);
        let tenant = document
            .tenants
            .iter()
            .find(|t| t.api_key_sha256.contains(&digest))?;
        let merchant = tenant.merchant.as_ref()?;
        let redirect_keys = MacKeys::new(
            merchant
                .redirect_keys
                .iter()
                .map(|k| (k.kid.clone(), MacKey::new(k.secret.as_bytes())))
                .collect(),
        )
        .ok()?;
        Some(DemoMerchant {
            tenant: tenant.id.clone(),
            api_key: key.to_owned(),
            redirect_keys,
            webhook_secrets: merchant
                .webhook
                .iter()
                .flat_map(|w| w.keys.iter().map(|k| k.secret.clone()))
                .collect(),
        })
    });
    Ok(LocalTenants {
        secrets,
        demo,
        printed: Vec::new(),
    })
}

fn keys(kid: &str, secret: &str) -> MacKeys {
    MacKeys::new(vec![(kid.into(), MacKey::new(secret.as_bytes()))]).expect("a static key list")
}

fn printed(tenant: &str, roles: &str, api_key: &str) -> PrintedKey {
    PrintedKey {
        tenant: tenant.into(),
        roles: roles.into(),
        api_key: api_key.into(),
    }
}

/// A card program that owns the sandbox's first two budgets, the demo checkout's
/// merchant on this stack's origin, and a second merchant on another origin.
fn demo_registry(gateway_url: &str) -> serde_json::Value {
    let other_origin = gateway_url.replace("127.0.0.1", "localhost");
    json!({"tenants": [
        {
            "id": "demo-bank", "roles": ["issuer"],
            "api_key_sha256": [api_key_digest(DEMO_ISSUER_KEY)],
            "issuer": {"budget_ids": [sandbox::state::BUDGET_ID, sandbox::state::SECOND_BUDGET_ID]}
        },
        {
            "id": "demo-shop", "roles": ["merchant"],
            "api_key_sha256": [api_key_digest(DEMO_MERCHANT_KEY)],
            "merchant": {
                "return_origins": [gateway_url],
                "redirect_keys": [{"kid": "demo-shop-1", "secret": DEMO_REDIRECT_KEY}],
                "webhook": {
                    "url": format!("{gateway_url}/demo/webhooks"),
                    "keys": [{"kid": "demo-shop-wh-1", "secret": DEMO_WEBHOOK_SECRET}]
                }
            }
        },
        {
            "id": "demo-shop-b", "roles": ["merchant"],
            "api_key_sha256": [api_key_digest(DEMO_OTHER_MERCHANT_KEY)],
            "merchant": {
                "return_origins": [other_origin],
                "redirect_keys": [{"kid": "demo-shop-b-1", "secret": DEMO_OTHER_REDIRECT_KEY}]
            }
        }
    ]})
}

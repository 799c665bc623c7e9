//! Each function holds only the keys and permissions it uses, checked both ways:
//!
//! * the template grants each function exactly its share of the table
//!   (`TABLE_SCOPE`: every item statement scoped by `dynamodb:LeadingKeys` to the key
//!   prefixes of the kinds it reads and writes, and the indexes it queries) — while its
//!   store refuses anything outside that share, in every test that runs it;
//! * the template lets each function read exactly the secrets its settings name, and the
//!   settings it names are exactly the ones its configuration needs (`SECRET_SETTINGS`);
//! * each function's view of the tenant registry holds only its parts.
//!
//! Each is written as the change it catches: a function given another's prefix or secret.

use std::collections::{BTreeMap, BTreeSet};

use gateway::config::Env;
use gateway::store::Kind;
use gateway::store::scope::TableScope;
use gateway_tests::*;
use yaml_rust2::{Yaml, YamlLoader};

const TEMPLATE: &str = include_str!("../template.yaml");

/// Every function: its binary, its share of the table, the settings naming its secrets.
fn functions() -> Vec<(&'static str, TableScope, &'static [&'static str])> {
    vec![
        ("enroll", enroll::TABLE_SCOPE, enroll::SECRET_SETTINGS),
        (
            "check-enroll",
            check_enroll::TABLE_SCOPE,
            check_enroll::SECRET_SETTINGS,
        ),
        (
            "callback",
            ::callback::TABLE_SCOPE,
            ::callback::SECRET_SETTINGS,
        ),
        ("history", history::TABLE_SCOPE, history::SECRET_SETTINGS),
        ("notify", notify::TABLE_SCOPE, notify::SECRET_SETTINGS),
        ("jobs", ::jobs::API_TABLE_SCOPE, ::jobs::API_SECRET_SETTINGS),
        (
            "job-worker",
            ::jobs::WORKER_TABLE_SCOPE,
            ::jobs::WORKER_SECRET_SETTINGS,
        ),
    ]
}

/// What the template grants one function.
#[derive(Debug, Default, PartialEq)]
struct Grants {
    reads: BTreeSet<String>,
    writes: BTreeSet<String>,
    queries: BTreeSet<String>,
    /// Item statements without a `dynamodb:LeadingKeys` condition, or with an action no
    /// function needs.
    unscoped: Vec<String>,
    /// The secrets it may read, by resource name.
    secrets: BTreeSet<String>,
    /// The settings in its environment naming a secret, and the secret each names.
    secret_settings: BTreeMap<String, String>,
}

fn strings(value: &Yaml) -> Vec<String> {
    match value {
        Yaml::Array(items) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_owned))
            .collect(),
        Yaml::String(one) => vec![one.clone()],
        _ => Vec::new(),
    }
}

/// The prefixes a `dynamodb:LeadingKeys` pattern list allows (`"CARD#*"` → `CARD#`).
fn prefixes(statement: &Yaml) -> Option<BTreeSet<String>> {
    let keys = &statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"];
    let patterns = strings(keys);
    (!patterns.is_empty()).then(|| {
        patterns
            .iter()
            .map(|p| p.trim_end_matches('*').to_owned())
            .collect()
    })
}

fn grants(text: &str, binary: &str) -> Grants {
    let root = YamlLoader::load_from_str(text)
        .expect("template.yaml parses")
        .remove(0);
    let resources = root["Resources"].as_hash().expect("Resources");
    let function = resources
        .values()
        .find(|r| r["Metadata"]["BuildProperties"]["Binary"].as_str() == Some(binary))
        .unwrap_or_else(|| panic!("no function builds {binary}"));
    let mut grants = Grants::default();
    let statements = function["Properties"]["Policies"]
        .as_vec()
        .into_iter()
        .flatten()
        .flat_map(|policy| policy["Statement"].as_vec().into_iter().flatten());
    for statement in statements {
        let actions = strings(&statement["Action"]);
        let resource = strings(&statement["Resource"]).join(" ");
        let sid = statement["Sid"].as_str().unwrap_or("?").to_owned();
        for action in &actions {
            match action.as_str() {
                "dynamodb:Query" => {
                    let index = resource.rsplit("/index/").next().unwrap_or_default();
                    grants.queries.insert(index.to_owned());
                }
                "dynamodb:GetItem" | "dynamodb:BatchGetItem" | "dynamodb:UpdateItem" => {
                    let Some(allowed) = prefixes(statement) else {
                        grants
                            .unscoped
                            .push(format!("{sid}: {action} on every key"));
                        continue;
                    };
                    let into = if action == "dynamodb:UpdateItem" {
                        &mut grants.writes
                    } else {
                        &mut grants.reads
                    };
                    into.extend(allowed);
                }
                other
                    if other.starts_with("dynamodb:")
                        && !other.starts_with("dynamodb:DescribeStream")
                        && !other.starts_with("dynamodb:GetRecords")
                        && !other.starts_with("dynamodb:GetShardIterator")
                        && !other.starts_with("dynamodb:ListStreams") =>
                {
                    grants.unscoped.push(format!("{sid}: {other}"));
                }
                "secretsmanager:GetSecretValue" => {
                    grants.secrets.extend(strings(&statement["Resource"]));
                }
                _ => {}
            }
        }
    }
    let environments = [
        &root["Globals"]["Function"]["Environment"]["Variables"],
        &function["Properties"]["Environment"]["Variables"],
    ];
    for variables in environments {
        for (name, value) in variables.as_hash().into_iter().flatten() {
            let name = name.as_str().unwrap_or_default();
            if name.ends_with("_SECRET_ID") {
                let secret = value.as_str().unwrap_or_default().to_owned();
                grants.secret_settings.insert(name.to_owned(), secret);
            }
        }
    }
    grants
}

fn prefixes_of(kinds: &[Kind]) -> BTreeSet<String> {
    kinds.iter().map(|k| k.prefix().to_owned()).collect()
}

/// What in the template's grants differs from the functions' own scopes.
fn violations(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (binary, scope, settings) in functions() {
        let granted = grants(text, binary);
        for unscoped in &granted.unscoped {
            found.push(format!("{binary}: {unscoped}"));
        }
        if granted.reads != prefixes_of(scope.reads) {
            found.push(format!(
                "{binary}: reads {:?}, uses {:?}",
                granted.reads,
                prefixes_of(scope.reads)
            ));
        }
        if granted.writes != prefixes_of(scope.writes) {
            found.push(format!(
                "{binary}: writes {:?}, uses {:?}",
                granted.writes,
                prefixes_of(scope.writes)
            ));
        }
        let queries: BTreeSet<String> = scope.queries.iter().map(|i| i.name().to_owned()).collect();
        if granted.queries != queries {
            found.push(format!(
                "{binary}: queries {:?}, uses {queries:?}",
                granted.queries
            ));
        }
        let named: BTreeSet<String> = granted.secret_settings.keys().cloned().collect();
        let needed: BTreeSet<String> = settings.iter().map(|s| (*s).to_owned()).collect();
        if named != needed {
            found.push(format!(
                "{binary}: is given secrets {named:?}, reads {needed:?}"
            ));
        }
        let secrets: BTreeSet<String> = granted.secret_settings.values().cloned().collect();
        if granted.secrets != secrets {
            found.push(format!(
                "{binary}: may read secrets {:?}, is given {secrets:?}",
                granted.secrets
            ));
        }
    }
    found
}

#[test]
fn the_template_grants_each_function_exactly_what_it_uses() {
    assert_eq!(violations(TEMPLATE), Vec::<String>::new());
}

#[test]
fn a_function_given_another_functions_prefix_or_secret_is_caught() {
    // The enroll function allowed to read merchants' sessions (their sealed card data).
    let sessions_to_enroll = TEMPLATE.replacen(
        "dynamodb:LeadingKeys: [\"CARD#*\", \"CARDHOLDER#*\", \"IDEM#*\"]",
        "dynamodb:LeadingKeys: [\"CARD#*\", \"CARDHOLDER#*\", \"IDEM#*\", \"AUTH#*\"]",
        1,
    );
    // The notify function given the session keys.
    let at = TEMPLATE.find("  NotifyFunction:").unwrap();
    let tail = TEMPLATE[at..].replacen(
        "                - !Ref TenantWebhookKeysSecret\n",
        "                - !Ref TenantWebhookKeysSecret\n                - !Ref SessionKeysSecret\n",
        1,
    );
    let keys_to_notify = format!("{}{tail}", &TEMPLATE[..at]);
    // A table statement without its condition.
    let unscoped = TEMPLATE.replacen(
        "              Condition:\n                ForAllValues:StringLike:\n                  dynamodb:LeadingKeys: [\"AUTH#*\"]\n",
        "",
        1,
    );
    for (changed, expected) in [
        (sessions_to_enroll, "enroll: reads"),
        (keys_to_notify, "notify: may read secrets"),
        (unscoped, "on every key"),
    ] {
        assert_ne!(changed, TEMPLATE, "{expected}: the change applies");
        let found = violations(&changed);
        assert!(
            found.iter().any(|v| v.contains(expected)),
            "{expected}: {found:?}"
        );
    }
}

#[test]
fn each_function_needs_every_secret_it_is_given_and_no_other() {
    let h_env = |remove: &[&str], keep_only: Option<&[&str]>| {
        let mut values = test_env();
        values.retain(|name, _| {
            !remove.contains(&name.as_str())
                && keep_only.is_none_or(|keep| {
                    !name.ends_with("_SECRET_ID") || keep.contains(&name.as_str())
                })
        });
        Env::from_map(values)
    };
    type Check = fn(&Env) -> Result<(), String>;
    let configs: [(&str, &[&str], Check); 5] = [
        ("enroll", enroll::SECRET_SETTINGS, |env| {
            enroll::EnrollConfig::from_env(env)
                .map(|_| ())
                .map_err(|e| e.to_string())
        }),
        ("check-enroll", check_enroll::SECRET_SETTINGS, |env| {
            check_enroll::CheckEnrollConfig::from_env(env)
                .map(|_| ())
                .map_err(|e| e.to_string())
        }),
        ("callback", ::callback::SECRET_SETTINGS, |env| {
            ::callback::CallbackConfig::from_env(env)
                .map(|_| ())
                .map_err(|e| e.to_string())
        }),
        ("history", history::SECRET_SETTINGS, |env| {
            history::HistoryConfig::from_env(env)
                .map(|_| ())
                .map_err(|e| e.to_string())
        }),
        ("notify", notify::SECRET_SETTINGS, |env| {
            notify::NotifyConfig::from_env(env)
                .map(|_| ())
                .map_err(|e| e.to_string())
        }),
    ];
    for (binary, settings, check) in configs {
        // Given only its own secrets, it starts.
        check(&h_env(&[], Some(settings))).unwrap_or_else(|e| panic!("{binary}: {e}"));
        // Without any one of them, it refuses to, naming it.
        for setting in settings {
            let error = check(&h_env(&[setting], Some(settings)))
                .expect_err(&format!("{binary} starts without {setting}"));
            assert!(error.contains(setting), "{binary}: {error}");
        }
    }
}

#[tokio::test]
async fn each_function_reads_only_its_parts_of_the_tenant_registry() {
    let h = Harness::new().await;
    let settings = gateway::config::SecretSettings::from_env(&h.config_env()).unwrap();
    let shop = gateway::domain::TenantId::parse("t", MERCHANT).unwrap();
    for (binary, parts) in [
        ("notify", notify::REGISTRY_PARTS),
        ("history", history::REGISTRY_PARTS),
        ("enroll", enroll::REGISTRY_PARTS),
        ("check-enroll", check_enroll::REGISTRY_PARTS),
    ] {
        let registry = h
            .platform()
            .tenant_registry(&settings, parts)
            .load()
            .await
            .unwrap();
        let merchant = registry.tenant(&shop).unwrap();
        let profile = merchant.merchant.as_ref().unwrap();
        assert!(
            profile.redirect_keys.is_none(),
            "{binary} holds merchants' redirect keys"
        );
        if binary != "check-enroll" {
            assert!(
                profile.payer_auth_api_key.is_none(),
                "{binary} holds a payer-auth key"
            );
        }
    }
    let callback = h
        .platform()
        .tenant_registry(&settings, ::callback::REGISTRY_PARTS)
        .load()
        .await
        .unwrap();
    assert!(
        callback
            .tenant(&shop)
            .unwrap()
            .merchant
            .as_ref()
            .unwrap()
            .redirect_keys
            .is_some()
    );
}

#[test]
fn a_store_refuses_what_is_outside_its_functions_share() {
    let memory: gateway::store::SharedStore =
        std::sync::Arc::new(gateway::store::memory::MemoryStore::new());
    let enroll = gateway::store::scope::ScopedStore::new(memory, enroll::TABLE_SCOPE);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    use gateway::store::ItemStore as _;
    let session = Kind::AuthenticationSession.key(&["shop-a", "r1"]);
    assert!(
        runtime.block_on(enroll.read(&session)).is_err(),
        "a merchant's session"
    );
    let card = Kind::CardEnrollment.key(&["card1"]);
    assert!(runtime.block_on(enroll.read(&card)).is_ok());
}

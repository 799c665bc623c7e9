//! The admin command as an operator runs it: onboarding a tenant, then rotating and
//! removing its keys, on a registry file the gateway then reads.

use std::path::PathBuf;
use std::process::Command;

use gateway::secrets::SecretDocument as _;
use gateway::tenants::{Registry, RegistryPolicy, Role};

fn temp_file(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("admin-test-{}-{name}", uuid::Uuid::new_v4()))
}

/// Runs the admin command; returns what it printed on stdout.
fn admin(file: &PathBuf, args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_admin"))
        .arg("--file")
        .arg(file)
        .args(args)
        .output()
        .expect("the admin command runs");
    assert!(
        output.status.success(),
        "admin {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// The value printed after `label` (up to the next space or line end).
fn printed(output: &str, label: &str) -> String {
    let start = output
        .find(label)
        .unwrap_or_else(|| panic!("{label} in {output}"))
        + label.len();
    output[start..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

/// The registry as the gateway reads it: the routing file and its parts beside it.
fn registry(file: &std::path::Path) -> Registry {
    let whole = gateway::tenants::parts::read_files(file).unwrap().unwrap();
    Registry::check(whole, &RegistryPolicy::default()).unwrap()
}

#[test]
fn a_tenant_onboarded_by_the_admin_command_is_what_the_gateway_reads() {
    let file = temp_file("tenants.json");
    let output = admin(
        &file,
        &[
            "add-tenant",
            "--id",
            "shop-z",
            "--role",
            "merchant",
            "--origin",
            "https://shop-z.example",
        ],
    );
    let api_key = printed(&output, "stored as its SHA-256): ");
    let stored = std::fs::read_to_string(&file).unwrap();
    assert!(!stored.contains(&api_key), "the key itself is never stored");
    let tenant = registry(&file)
        .authenticate(&api_key)
        .expect("the printed key works");
    assert!(tenant.has_role(Role::Merchant));
    assert!(admin(&file, &["list"]).contains("return origins https://shop-z.example"));

    // Rotation: a second key works beside the first until the first is removed.
    let second = printed(
        &admin(&file, &["add-api-key", "--id", "shop-z"]),
        "SHA-256): ",
    );
    assert!(registry(&file).authenticate(&api_key).is_some());
    assert!(registry(&file).authenticate(&second).is_some());
    let digest = gateway::tenants::api_key_digest(&api_key);
    admin(
        &file,
        &["remove-api-key", "--id", "shop-z", "--sha256", &digest],
    );
    assert!(registry(&file).authenticate(&api_key).is_none());
    assert!(registry(&file).authenticate(&second).is_some());

    // A redirect key is added first (the merchant's verifier learns it), then promoted.
    let first_kid = {
        let tenant = registry(&file).authenticate(&second).unwrap();
        tenant
            .merchant
            .as_ref()
            .unwrap()
            .redirect_keys
            .as_ref()
            .unwrap()
            .key_ids()[0]
            .to_owned()
    };
    let added = admin(&file, &["add-redirect-key", "--id", "shop-z"]);
    let kid = printed(&added, "kid ");
    let signing = |file: &PathBuf| {
        let tenant = registry(file).authenticate(&second).unwrap();
        let kids: Vec<String> = (tenant
            .merchant
            .as_ref()
            .unwrap()
            .redirect_keys
            .as_ref()
            .unwrap()
            .key_ids())
        .into_iter()
        .map(str::to_owned)
        .collect();
        kids
    };
    assert_eq!(
        signing(&file),
        vec![first_kid.clone(), kid.clone()],
        "not signing yet"
    );
    admin(
        &file,
        &["promote-redirect-key", "--id", "shop-z", "--kid", &kid],
    );
    assert_eq!(
        signing(&file),
        vec![kid, first_kid],
        "the new key signs, the old verifies"
    );
    std::fs::remove_file(file).ok();
}

#[test]
fn a_change_the_gateway_would_refuse_is_never_written() {
    let file = temp_file("tenants.json");
    admin(
        &file,
        &[
            "add-tenant",
            "--id",
            "bank-z",
            "--role",
            "issuer",
            "--budget",
            "ci202008281528472924",
        ],
    );
    let before = std::fs::read_to_string(&file).unwrap();
    let refused = Command::new(env!("CARGO_BIN_EXE_admin"))
        .arg("--file")
        .arg(&file)
        .args([
            "add-tenant",
            "--id",
            "shop-y",
            "--role",
            "merchant",
            "--origin",
            "http://shop-y.example",
        ])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("must use https"));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), before);
    std::fs::remove_file(file).ok();
}

#[test]
fn session_keys_rotate_in_three_steps_each_refused_until_it_is_safe() {
    let file = temp_file("session-keys");
    let generated = "x".repeat(64);
    std::fs::write(&file, &generated).unwrap();
    let before = gateway::keys::GatewayKeys::parse(&generated, &()).unwrap();
    let sealed = before.seal("AUTH#t#r", "payment_data", &"card data");
    let read = |file: &std::path::Path| {
        gateway::keys::GatewayKeys::parse(&std::fs::read_to_string(file).unwrap(), &()).unwrap()
    };
    admin(&file, &["add-session-keys"]);
    // Step 1: every instance learns the new keys before any value is made with them.
    let added = read(&file);
    assert_eq!(added.data_keys.key_ids().len(), 2);
    assert_eq!(
        added.seal("AUTH#t#r", "payment_data", &"x").key_id,
        sealed.key_id,
        "the new key does not seal yet"
    );
    assert_eq!(
        added.return_url_binding("shop-a", "r1"),
        before.return_url_binding("shop-a", "r1"),
        "nor make return URLs"
    );
    // Too soon: an instance may not have read them (the TTL and the staleness limit).
    let early = refused(&file, &["promote-session-keys"]);
    assert!(early.contains("added too recently"), "{early}");
    backdate(&file, "added_at", 300 + 3_600);
    admin(&file, &["promote-session-keys"]);
    let after = read(&file);
    assert_ne!(
        after.seal("AUTH#t#r", "payment_data", &"x").key_id,
        sealed.key_id,
        "a new key seals"
    );
    let opened: String = after.open("AUTH#t#r", "payment_data", &sealed).unwrap();
    assert_eq!(opened, "card data", "what the old key sealed still opens");
    let binding = before.return_url_binding("shop-a", "r1");
    assert!(
        after.binding_matches(&binding, "shop-a", "r1"),
        "old return URLs still work"
    );
    // Step 3: the old key stays while a session sealed under it may still be read.
    let old = sealed.key_id.clone();
    let kept = refused(&file, &["remove-session-key", "--kid", &old]);
    assert!(kept.contains("may still be needed"), "{kept}");
    let current = after.seal("AUTH#t#r", "payment_data", &"x").key_id;
    let in_use = refused(&file, &["remove-session-key", "--kid", &current]);
    assert!(in_use.contains("makes new values"), "{in_use}");
    backdate(&file, "retired_at", 604_800 + 300 + 3_600);
    admin(&file, &["remove-session-key", "--kid", &old]);
    assert_eq!(read(&file).data_keys.key_ids().len(), 1);
    std::fs::remove_file(file).ok();
}

/// Runs the admin command expecting a refusal; returns what it said.
fn refused(file: &PathBuf, args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_admin"))
        .arg("--file")
        .arg(file)
        .args(args)
        .output()
        .unwrap();
    assert!(!output.status.success(), "admin {args:?} was not refused");
    String::from_utf8(output.stderr).unwrap()
}

/// Moves every key's `field` time `secs` into the past (as if the step was that long ago).
fn backdate(file: &PathBuf, field: &str, secs: i64) {
    let mut document: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    for list in ["data_encryption_keys", "session_mac_keys"] {
        for key in document[list].as_array_mut().unwrap() {
            if let Some(at) = key[field].as_i64() {
                key[field] = serde_json::json!(at - secs);
            }
        }
    }
    std::fs::write(file, document.to_string()).unwrap();
}

/// The same, on the Secrets Manager secret a deployment reads (moto's, on loopback).
#[tokio::test]
async fn the_admin_command_edits_the_secrets_manager_secret() {
    let Some(endpoint) = std::env::var("GATEWAY_TEST_DYNAMODB_ENDPOINT").ok() else {
        eprintln!("skipped: needs moto_server (scripts/test.sh starts it)");
        return;
    };
    let manager = gateway_loopback::secrets::secrets_manager(&endpoint);
    let secret_id = format!("admin-test-{}", uuid::Uuid::new_v4());
    manager
        .client()
        .create_secret()
        .name(&secret_id)
        .secret_string(r#"{"tenants": []}"#)
        .send()
        .await
        .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_admin"))
        .args([
            "--secret-id",
            &secret_id,
            "add-tenant",
            "--id",
            "bank-z",
            "--role",
            "issuer",
        ])
        .args(["--budget", "ci202008281528472924"])
        .env("AWS_ENDPOINT_URL_SECRETS_MANAGER", &endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "local")
        .env("AWS_SECRET_ACCESS_KEY", "local")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let api_key = printed(&String::from_utf8(output.stdout).unwrap(), "SHA-256): ");
    use gateway::secrets::SecretSource as _;
    let text = manager.fetch(&secret_id).await.unwrap();
    let registry = Registry::parse(&text, &RegistryPolicy::default()).unwrap();
    assert!(
        registry
            .authenticate(&api_key)
            .unwrap()
            .has_role(Role::Issuer)
    );
}

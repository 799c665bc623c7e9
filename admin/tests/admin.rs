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
        .current_dir(std::env::temp_dir())
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
        .current_dir(std::env::temp_dir())
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
        .current_dir(std::env::temp_dir())
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

#[test]
fn an_offboarded_tenants_id_is_never_used_again() {
    let file = temp_file("tenants.json");
    admin(
        &file,
        &[
            "add-tenant",
            "--id",
            "shop-r",
            "--role",
            "merchant",
            "--origin",
            "https://shop-r.example",
        ],
    );
    let removed = admin(&file, &["remove-tenant", "--id", "shop-r"]);
    assert!(removed.contains("never used again"), "{removed}");
    assert!(registry(&file).tenants().next().is_none());
    // A new tenant under the old id would inherit its sessions, events and records.
    let reused = refused(
        &file,
        &[
            "add-tenant",
            "--id",
            "shop-r",
            "--role",
            "merchant",
            "--origin",
            "https://other.example",
        ],
    );
    assert!(reused.contains("never used again"), "{reused}");
}

#[test]
fn a_new_api_key_goes_to_api_gateway_in_a_private_file_never_on_a_command_line() {
    let file = temp_file("tenants.json");
    let output = admin(
        &file,
        &[
            "add-tenant",
            "--id",
            "bank-k",
            "--role",
            "issuer",
            "--budget",
            "ci202008281528472924",
        ],
    );
    let api_key = printed(&output, "SHA-256): ");
    let steps: Vec<&str> = output
        .lines()
        .filter(|l| l.contains("aws apigateway"))
        .collect();
    assert!(!steps.is_empty());
    for step in &steps {
        assert!(
            !step.contains(&api_key),
            "the key on a command line: {step}"
        );
    }
    let path = printed(&output, "file://");
    let key_file = std::env::temp_dir().join(&path);
    assert!(
        std::fs::read_to_string(&key_file)
            .unwrap()
            .contains(&api_key)
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    std::fs::remove_file(key_file).ok();
}

#[test]
fn a_budget_moves_to_another_card_program_in_the_registry() {
    let file = temp_file("tenants.json");
    admin(
        &file,
        &[
            "add-tenant",
            "--id",
            "bank-p",
            "--role",
            "issuer",
            "--budget",
            "ci202008281528472924",
            "--budget",
            "ci202210231533401801",
        ],
    );
    admin(
        &file,
        &[
            "add-tenant",
            "--id",
            "bank-q",
            "--role",
            "issuer",
            "--budget",
            "ci209901010000000000",
        ],
    );
    let moved = admin(
        &file,
        &[
            "transfer-budget",
            "--budget",
            "ci202008281528472924",
            "--to",
            "bank-q",
        ],
    );
    assert!(moved.contains("were not moved (no --table)"), "{moved}");
    let registry = registry(&file);
    let owner = |id: &str| {
        registry
            .tenant(&gateway::domain::TenantId::parse("t", id).unwrap())
            .unwrap()
            .issuer
            .as_ref()
            .unwrap()
            .owns_budget("ci202008281528472924")
    };
    assert!(owner("bank-q") && !owner("bank-p"));
}

#[test]
fn a_live_tenants_data_is_never_purged() {
    let file = temp_file("tenants.json");
    admin(
        &file,
        &[
            "add-tenant",
            "--id",
            "bank-l",
            "--role",
            "issuer",
            "--budget",
            "ci202008281528472924",
        ],
    );
    let refusal = refused(&file, &["purge-tenant", "--id", "bank-l", "--table", "t"]);
    assert!(refusal.contains("not offboarded"), "{refusal}");
}

/// Runs the admin command against moto (Secrets Manager and DynamoDB on `endpoint`).
fn admin_on_moto(endpoint: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_admin"))
        .current_dir(std::env::temp_dir())
        .args(args)
        .env("AWS_ENDPOINT_URL_SECRETS_MANAGER", endpoint)
        .env("AWS_ENDPOINT_URL_DYNAMODB", endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "local")
        .env("AWS_SECRET_ACCESS_KEY", "local")
        .output()
        .unwrap()
}

/// A budget moved with --table: its cards' and contacts' records move to the new owner,
/// and an offboarded program's records are purged (moto's DynamoDB).
#[tokio::test]
async fn a_budgets_records_move_with_it_and_an_offboarded_programs_are_purged() {
    let Some(endpoint) = std::env::var("GATEWAY_TEST_DYNAMODB_ENDPOINT").ok() else {
        eprintln!("skipped: needs moto_server (scripts/test.sh starts it)");
        return;
    };
    use gateway::domain::{BudgetId, CardholderId, TenantId};
    let table = format!("admin-test-{}", uuid::Uuid::new_v4());
    let stack = gateway_loopback::stack(&endpoint, &table).await.unwrap();
    let enrollments =
        gateway::enrollment::Enrollments::new(stack.store.clone(), gateway::clock::system());
    let (bank_p, bank_q) = (
        TenantId::parse("t", "bank-p").unwrap(),
        TenantId::parse("t", "bank-q").unwrap(),
    );
    let budget = BudgetId::parse("b", "ci202008281528472924").unwrap();
    let contact = CardholderId::parse("c", "471041678120300545").unwrap();
    assert!(
        enrollments
            .record_new_cardholder(&contact, &budget, &bank_p)
            .await
            .unwrap()
    );
    let file = temp_file("tenants.json");
    admin(
        &file,
        &[
            "add-tenant",
            "--id",
            "bank-p",
            "--role",
            "issuer",
            "--budget",
            budget.as_str(),
            "--budget",
            "ci202210231533401801",
        ],
    );
    admin(
        &file,
        &[
            "add-tenant",
            "--id",
            "bank-q",
            "--role",
            "issuer",
            "--budget",
            "ci209901010000000000",
        ],
    );

    let file_arg = file.to_str().unwrap();
    let moved = admin_on_moto(
        &endpoint,
        &[
            "--file",
            file_arg,
            "transfer-budget",
            "--budget",
            budget.as_str(),
            "--to",
            "bank-q",
            "--table",
            &table,
        ],
    );
    assert!(
        moved.status.success(),
        "{}",
        String::from_utf8_lossy(&moved.stderr)
    );
    assert!(String::from_utf8_lossy(&moved.stderr).contains("moved 1 card and contact records"));
    let record = enrollments.cardholder(&contact).await.unwrap().unwrap();
    assert_eq!(record.tenant_id, bank_q);

    admin(&file, &["remove-tenant", "--id", "bank-q"]);
    let purged = admin_on_moto(
        &endpoint,
        &[
            "--file",
            file_arg,
            "purge-tenant",
            "--id",
            "bank-q",
            "--table",
            &table,
        ],
    );
    assert!(
        purged.status.success(),
        "{}",
        String::from_utf8_lossy(&purged.stderr)
    );
    assert!(enrollments.cardholder(&contact).await.unwrap().is_none());
}

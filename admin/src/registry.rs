//! The registry commands: each reads the document, changes it, checks it as the functions
//! will, writes it, and prints what was made (once) and what to do next.

use gateway::domain::{BudgetId, TenantId};
use gateway::tenants::{
    IssuerEntry, KeyEntry, MerchantEntry, Registry, RegistryDocument, RegistryPolicy,
    RetiredTenant, Role, TenantEntry, WebhookEntry, api_key_digest,
};

use crate::Command;
use crate::keys;
use crate::store::RegistrySet;

pub async fn run(
    command: Command,
    store: &RegistrySet,
    allow_loopback: bool,
    now: i64,
) -> Result<(), String> {
    let mut document: RegistryDocument = store.read().await?.unwrap_or_default();
    match &command {
        Command::PurgeTenant { id, table } => return purge(&document, id, table).await,
        Command::TransferBudget {
            budget,
            to,
            table: Some(table),
        } => move_records(&document, budget, to, table).await?,
        _ => {}
    }
    if let Command::List = command {
        list(&document);
        return Ok(());
    }
    let printed = change(&mut document, command, now)?;
    let policy = RegistryPolicy {
        allow_loopback_http: allow_loopback,
        ..RegistryPolicy::default()
    };
    Registry::check(document.clone(), &policy)?;
    store.write(document).await?;
    println!("{printed}");
    eprintln!(
        "written: the functions read it within their secrets' TTL (SECRETS_TTL_SECS, 300 s by default)"
    );
    Ok(())
}

fn tenant<'a>(document: &'a mut RegistryDocument, id: &str) -> Result<&'a mut TenantEntry, String> {
    document
        .tenants
        .iter_mut()
        .find(|t| t.id == id)
        .ok_or_else(|| format!("no tenant {id}"))
}

fn merchant<'a>(
    document: &'a mut RegistryDocument,
    id: &str,
) -> Result<&'a mut MerchantEntry, String> {
    tenant(document, id)?
        .merchant
        .as_mut()
        .ok_or_else(|| format!("tenant {id} is not a merchant"))
}

fn webhook<'a>(
    document: &'a mut RegistryDocument,
    id: &str,
    role: &str,
) -> Result<&'a mut WebhookEntry, String> {
    let tenant = tenant(document, id)?;
    let webhook = match role {
        "merchant" => tenant.merchant.as_mut().and_then(|m| m.webhook.as_mut()),
        "issuer" => tenant.issuer.as_mut().and_then(|i| i.webhook.as_mut()),
        _ => return Err("--role is merchant or issuer".into()),
    };
    webhook.ok_or_else(|| format!("tenant {id} has no {role} webhook"))
}

/// The card program that holds `budget` now.
fn owner_of(document: &RegistryDocument, budget: &str) -> Result<String, String> {
    document
        .tenants
        .iter()
        .find(|t| {
            t.issuer
                .as_ref()
                .is_some_and(|i| i.budget_ids.iter().any(|b| b == budget))
        })
        .map(|t| t.id.clone())
        .ok_or_else(|| format!("no card program holds budget {budget}"))
}

/// Moves the records of `budget`'s cards and contacts to `to` (before the registry says
/// the budget is `to`'s).
async fn move_records(
    document: &RegistryDocument,
    budget: &str,
    to: &str,
    table: &str,
) -> Result<(), String> {
    let from = owner_of(document, budget)?;
    let parse = |id: &str| TenantId::parse("tenant", id).map_err(|e| e.to_string());
    let budget = BudgetId::parse("budget", budget).map_err(|e| e.to_string())?;
    let moved = crate::records::Table::new(table)
        .await
        .transfer_budget(&budget, &parse(&from)?, &parse(to)?)
        .await?;
    eprintln!("moved {moved} card and contact records of budget {budget} from {from} to {to}");
    Ok(())
}

/// Deletes what is stored under a retired tenant's id.
async fn purge(document: &RegistryDocument, id: &str, table: &str) -> Result<(), String> {
    if !document.retired.iter().any(|r| r.id == id) {
        return Err(format!(
            "tenant {id} is not offboarded: remove-tenant first (a live tenant's data is never purged)"
        ));
    }
    let tenant = TenantId::parse("tenant", id).map_err(|e| e.to_string())?;
    let deleted = crate::records::Table::new(table)
        .await
        .purge_tenant(&tenant)
        .await?;
    println!("deleted {deleted} items of offboarded tenant {id}");
    Ok(())
}

/// Offboards `id`: gone from the registry (keys, secrets, webhooks), kept as a tombstone.
fn remove_tenant(document: &mut RegistryDocument, id: &str, now: i64) -> Result<String, String> {
    let before = document.tenants.len();
    document.tenants.retain(|t| t.id != id);
    if document.tenants.len() == before {
        return Err(format!("no tenant {id}"));
    }
    document.retired.push(RetiredTenant {
        id: id.to_owned(),
        retired_at: now,
    });
    Ok(format!(
        "tenant {id} offboarded: its API keys, secrets and webhooks stop within SECRETS_TTL_SECS \
         (also delete its API Gateway key); the id is never used again. Stored under it: \
         sessions expire within SESSION_TTL_SECS, events within 30 days, idempotency keys \
         within a day; delete the rest (cards, contacts) with purge-tenant --id {id} --table <TableName>"
    ))
}

fn budgets<'a>(
    document: &'a mut RegistryDocument,
    id: &str,
) -> Result<&'a mut Vec<String>, String> {
    tenant(document, id)?
        .issuer
        .as_mut()
        .map(|i| &mut i.budget_ids)
        .ok_or_else(|| format!("tenant {id} is not a card program"))
}

/// Moves `budget` to the card program `to` in the registry.
fn transfer_budget(
    document: &mut RegistryDocument,
    budget: &str,
    to: &str,
) -> Result<String, String> {
    let from = owner_of(document, budget)?;
    if from == to {
        return Err(format!("budget {budget} is {to}'s already"));
    }
    budgets(document, to)?.push(budget.to_owned());
    budgets(document, &from)?.retain(|b| b != budget);
    Ok(format!("budget {budget} moved from {from} to {to}"))
}

/// Applies one command; returns what to print (new secrets: shown once, never stored).
fn change(document: &mut RegistryDocument, command: Command, now: i64) -> Result<String, String> {
    match command {
        Command::List
        | Command::AddSessionKeys { .. }
        | Command::PromoteSessionKeys { .. }
        | Command::RemoveSessionKey { .. }
        | Command::PurgeTenant { .. } => {
            unreachable!("handled before")
        }
        Command::RemoveTenant { id } => remove_tenant(document, &id, now),
        Command::TransferBudget { budget, to, table } => {
            let done = transfer_budget(document, &budget, &to)?;
            Ok(match table {
                Some(_) => done,
                None => format!(
                    "{done}. Its cards' and contacts' records were not moved (no --table): run it \
                     again with --table <TableName> against a deployment"
                ),
            })
        }
        Command::AddTenant {
            id,
            roles,
            origins,
            budgets,
            webhook_url,
        } => add_tenant(document, id, roles, origins, budgets, webhook_url),
        Command::AddApiKey { id } => add_api_key(document, &id),
        Command::RemoveApiKey { id, sha256 } => remove_api_key(document, &id, &sha256),
        Command::AddRedirectKey { id } => add_redirect_key(document, &id),
        Command::PromoteRedirectKey { id, kid } => promote_redirect_key(document, &id, &kid),
        Command::RemoveRedirectKey { id, kid } => remove_key(
            &mut merchant(document, &id)?.redirect_keys,
            &id,
            "redirect",
            &kid,
        ),
        Command::RotateWebhookKey { id, role } => rotate_webhook_key(document, &id, &role),
        Command::RemoveWebhookKey { id, role, kid } => remove_key(
            &mut webhook(document, &id, &role)?.keys,
            &id,
            &format!("{role} webhook"),
            &kid,
        ),
    }
}

fn add_api_key(document: &mut RegistryDocument, id: &str) -> Result<String, String> {
    let key = keys::api_key();
    tenant(document, id)?
        .api_key_sha256
        .insert(0, api_key_digest(&key));
    Ok(format!(
        "new API key of {id} (shown once; stored as its SHA-256): {key}\n{}",
        api_gateway_steps(id, &key)?
    ))
}

fn remove_api_key(
    document: &mut RegistryDocument,
    id: &str,
    sha256: &str,
) -> Result<String, String> {
    let tenant = tenant(document, id)?;
    let before = tenant.api_key_sha256.len();
    tenant.api_key_sha256.retain(|d| d != sha256);
    if tenant.api_key_sha256.len() == before {
        return Err(format!("tenant {id} has no API key with that digest"));
    }
    Ok(format!(
        "removed an API key of {id} (also delete it in API Gateway)"
    ))
}

fn add_redirect_key(document: &mut RegistryDocument, id: &str) -> Result<String, String> {
    let key = KeyEntry {
        kid: keys::key_id(id),
        secret: keys::redirect_secret(),
    };
    let printed = format!(
        "new redirect key of {id}: kid {} secret {} (shown once; it does not sign yet: give it to the merchant's verifier, then promote-redirect-key --kid {})",
        key.kid, key.secret, key.kid
    );
    merchant(document, id)?.redirect_keys.push(key);
    Ok(printed)
}

fn promote_redirect_key(
    document: &mut RegistryDocument,
    id: &str,
    kid: &str,
) -> Result<String, String> {
    let keys = &mut merchant(document, id)?.redirect_keys;
    let at = keys
        .iter()
        .position(|k| k.kid == kid)
        .ok_or_else(|| format!("{id} has no redirect key {kid}"))?;
    let key = keys.remove(at);
    keys.insert(0, key);
    Ok(format!(
        "redirect key {kid} of {id} signs from the functions' next registry read (within SECRETS_TTL_SECS); remove the old one once redirects signed with it are no longer accepted"
    ))
}

fn rotate_webhook_key(
    document: &mut RegistryDocument,
    id: &str,
    role: &str,
) -> Result<String, String> {
    let key = KeyEntry {
        kid: keys::key_id("wh"),
        secret: keys::webhook_secret(),
    };
    let printed = format!(
        "new webhook key of {id}: kid {} secret {} (shown once; deliveries carry one signature per key until the old one is removed)",
        key.kid, key.secret
    );
    webhook(document, id, role)?.keys.insert(0, key);
    Ok(printed)
}

/// Removes the key `kid` from one of `id`'s key lists (`what` names it).
fn remove_key(keys: &mut Vec<KeyEntry>, id: &str, what: &str, kid: &str) -> Result<String, String> {
    let before = keys.len();
    keys.retain(|k| k.kid != kid);
    if keys.len() == before {
        return Err(format!("{id} has no {what} key {kid}"));
    }
    Ok(format!("removed {what} key {kid} of {id}"))
}

fn add_tenant(
    document: &mut RegistryDocument,
    id: String,
    roles: Vec<String>,
    origins: Vec<String>,
    budgets: Vec<String>,
    webhook_url: Option<String>,
) -> Result<String, String> {
    if document.tenants.iter().any(|t| t.id == id) {
        return Err(format!("tenant {id} exists"));
    }
    let roles: Vec<Role> = roles
        .iter()
        .map(|r| match r.as_str() {
            "merchant" => Ok(Role::Merchant),
            "issuer" => Ok(Role::Issuer),
            other => Err(format!("unknown role {other}: merchant or issuer")),
        })
        .collect::<Result<_, _>>()?;
    let api_key = keys::api_key();
    let mut printed = vec![format!(
        "tenant {id}: API key (shown once; stored as its SHA-256): {api_key}"
    )];
    let webhook = webhook_url.map(|url| {
        let key = KeyEntry {
            kid: keys::key_id("wh"),
            secret: keys::webhook_secret(),
        };
        printed.push(format!(
            "webhook key: kid {} secret {} (shown once)",
            key.kid, key.secret
        ));
        WebhookEntry {
            url,
            keys: vec![key],
        }
    });
    let merchant = roles.contains(&Role::Merchant).then(|| {
        let key = KeyEntry {
            kid: keys::key_id(&id),
            secret: keys::redirect_secret(),
        };
        printed.push(format!(
            "redirect key: kid {} secret {} (shown once; the merchant verifies redirects with it)",
            key.kid, key.secret
        ));
        MerchantEntry {
            return_origins: origins,
            redirect_keys: vec![key],
            webhook: webhook.clone(),
            payer_auth: None,
            completion: None,
        }
    });
    let issuer = roles.contains(&Role::Issuer).then(|| IssuerEntry {
        budget_ids: budgets,
        card_issuance: None,
        webhook: if merchant.is_some() { None } else { webhook },
    });
    printed.push(api_gateway_steps(&id, &api_key)?);
    document.tenants.push(TenantEntry {
        id,
        roles,
        api_key_sha256: vec![api_key_digest(&api_key)],
        merchant,
        issuer,
    });
    Ok(printed.join("\n"))
}

/// API Gateway checks the key too (and throttles by it): the deployment steps. The key
/// goes to the AWS CLI in a file readable by its owner only, never on a command line (a
/// process list, a shell history).
fn api_gateway_steps(tenant: &str, api_key: &str) -> Result<String, String> {
    let digest = &api_key_digest(api_key)[..12];
    let path = std::path::PathBuf::from(format!("api-key-{tenant}-{digest}.json"));
    let input = serde_json::json!({"name": format!("{tenant}-{digest}"), "value": api_key, "enabled": true});
    gateway::tenants::parts::write_private(&path, &input.to_string())?;
    Ok(format!(
        "In API Gateway (a deployed stack), register the key in the tenants' usage plan (the key \
         is read from {path}, mode 0600: delete it afterwards):\n  \
         KEY_ID=$(aws apigateway create-api-key --cli-input-json file://{path} --query id --output text)\n  \
         aws apigateway create-usage-plan-key --usage-plan-id <TenantsUsagePlanId output> --key-type API_KEY --key-id $KEY_ID\n\
         (API Gateway keeps keys retrievably: apigateway:GET on api keys is as sensitive as the keys.)",
        path = path.display()
    ))
}

/// Every tenant, without a secret.
fn list(document: &RegistryDocument) {
    for tenant in &document.tenants {
        let roles: Vec<&str> = tenant.roles.iter().map(|r| r.as_str()).collect();
        println!("{} ({})", tenant.id, roles.join(", "));
        for digest in &tenant.api_key_sha256 {
            println!("  api key sha256 {digest}");
        }
        if let Some(merchant) = &tenant.merchant {
            println!("  return origins {}", merchant.return_origins.join(" "));
            let kids: Vec<&str> = merchant
                .redirect_keys
                .iter()
                .map(|k| k.kid.as_str())
                .collect();
            println!("  redirect keys {}", kids.join(" "));
            if let Some(webhook) = &merchant.webhook {
                print_webhook(webhook);
            }
            if merchant.payer_auth.is_some() {
                println!("  own payer-authentication key");
            }
        }
        if let Some(issuer) = &tenant.issuer {
            println!("  budgets {}", issuer.budget_ids.join(" "));
            if let Some(webhook) = &issuer.webhook {
                print_webhook(webhook);
            }
            if issuer.card_issuance.is_some() {
                println!("  own card-issuance credentials");
            }
        }
    }
}

fn print_webhook(webhook: &WebhookEntry) {
    let kids: Vec<&str> = webhook.keys.iter().map(|k| k.kid.as_str()).collect();
    println!("  webhook {} keys {}", webhook.url, kids.join(" "));
}

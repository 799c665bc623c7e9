//! `cargo run -p admin -- [--file FILE | --secret-id ID] <command>`: the gateway's admin
//! command. It edits the tenant registry — a file (the local stack's `--tenants FILE`) or
//! the Secrets Manager secret a deployment reads — and the session keys secret.
//!
//! Every key it makes is drawn from the operating system's random source and printed
//! once; the registry keeps API keys as SHA-256 digests only. Every edit is checked as the
//! functions will check it before it is written. The functions pick an edit up after
//! their secrets' TTL (`SECRETS_TTL_SECS`): a rotation is add, wait the TTL, remove.

mod keys;
mod registry;
mod store;

use clap::{Parser, Subcommand};

use crate::store::RegistryStore;

#[derive(Parser)]
#[command(
    name = "admin",
    about = "Onboard tenants and rotate keys of the 3DS gateway"
)]
struct Cli {
    /// The registry file (the local stack's --tenants FILE).
    #[arg(long, conflicts_with = "secret_id")]
    file: Option<std::path::PathBuf>,
    /// The Secrets Manager secret (the stack's TenantRegistrySecretArn output).
    #[arg(long)]
    secret_id: Option<String>,
    /// Allow plain http loopback origins and webhooks (a local registry only).
    #[arg(long)]
    allow_loopback: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The tenants, without a secret: roles, key counts and ids, origins, budgets, webhooks.
    List,
    /// Adds a tenant with a new API key (and, for a merchant, a new redirect key).
    AddTenant {
        #[arg(long)]
        id: String,
        /// merchant, issuer, or both (repeat the flag).
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        /// A merchant's return origin, https://host[:port] (repeatable).
        #[arg(long = "origin")]
        origins: Vec<String>,
        /// A card program's budget id (repeatable).
        #[arg(long = "budget")]
        budgets: Vec<String>,
        /// Where the tenant's events are sent (a webhook key is made for it).
        #[arg(long)]
        webhook_url: Option<String>,
    },
    /// Adds a new API key to a tenant, first; the old ones keep working until removed.
    AddApiKey {
        #[arg(long)]
        id: String,
    },
    /// Removes an API key from a tenant, by its SHA-256 digest (`list` shows them).
    RemoveApiKey {
        #[arg(long)]
        id: String,
        #[arg(long)]
        sha256: String,
    },
    /// Adds a new redirect key to a merchant, last: it does not sign yet, so the merchant
    /// can add it to its verifier first. Then `promote-redirect-key`.
    AddRedirectKey {
        #[arg(long)]
        id: String,
    },
    /// Makes a merchant's redirect key the one that signs (moves it first); the others
    /// stay, so redirects already on their way still verify.
    PromoteRedirectKey {
        #[arg(long)]
        id: String,
        #[arg(long)]
        kid: String,
    },
    /// Removes a merchant's redirect key by its id.
    RemoveRedirectKey {
        #[arg(long)]
        id: String,
        #[arg(long)]
        kid: String,
    },
    /// Adds a new webhook key to a tenant's webhook, first: every key signs (one signature
    /// each) until the old one is removed.
    RotateWebhookKey {
        #[arg(long)]
        id: String,
        /// merchant or issuer: whose webhook.
        #[arg(long)]
        role: String,
    },
    /// Removes a webhook key by its id.
    RemoveWebhookKey {
        #[arg(long)]
        id: String,
        #[arg(long)]
        role: String,
        #[arg(long)]
        kid: String,
    },
    /// Step 1 of a session keys rotation: adds a new data key and MAC key, last — every
    /// function instance learns them (within SECRETS_TTL_SECS) before any value is made
    /// with them, so no instance meets a key it does not know. Needs --secret-id (or
    /// --file) of the session keys secret.
    AddSessionKeys,
    /// Step 2, after SECRETS_TTL_SECS: the given keys (by default the last added) make
    /// new values; the others still open and verify what they made.
    PromoteSessionKeys {
        #[arg(long)]
        data_kid: Option<String>,
        #[arg(long)]
        mac_kid: Option<String>,
    },
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let store = match (&cli.file, &cli.secret_id) {
        (Some(path), None) => RegistryStore::File(path.clone()),
        (None, Some(id)) => RegistryStore::secrets_manager(id).await,
        _ => fail("give --file FILE or --secret-id ID"),
    };
    let outcome = match cli.command {
        Command::AddSessionKeys => keys::add_session_keys(&store).await,
        Command::PromoteSessionKeys { data_kid, mac_kid } => {
            keys::promote_session_keys(&store, data_kid, mac_kid).await
        }
        command => registry::run(command, &store, cli.allow_loopback).await,
    };
    if let Err(error) = outcome {
        fail(&error);
    }
}

fn fail(error: &str) -> ! {
    eprintln!("admin: {error}");
    std::process::exit(1)
}

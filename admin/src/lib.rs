//! `cargo run -p admin -- [--file FILE | --secret-id ID] <command>`: the gateway's admin
//! command (this library is its whole; `main` parses the arguments and runs it). It edits the tenant registry — a file (the local stack's `--tenants FILE`) or
//! the Secrets Manager secret a deployment reads — and the session keys secret.
//!
//! Every key it makes is drawn from the operating system's random source and printed
//! once; the registry keeps API keys as SHA-256 digests only. Every edit is checked as the
//! functions will check it before it is written. The functions pick an edit up after
//! their secrets' TTL (`SECRETS_TTL_SECS`): a rotation is add, wait the TTL, remove.

pub mod keys;
pub mod records;
pub mod registry;
pub mod store;

use clap::{Parser, Subcommand};

use crate::store::{RegistrySet, RegistryStore};

#[derive(Parser)]
#[command(
    name = "admin",
    about = "Onboard tenants and rotate keys of the 3DS gateway"
)]
pub struct Cli {
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
pub enum Command {
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
    /// Offboards a tenant: its API keys, its secrets and its webhooks go (the functions
    /// refuse it within SECRETS_TTL_SECS), and its id is kept as a tombstone, never used
    /// again. What is stored under it then expires (sessions within SESSION_TTL_SECS,
    /// events in 30 days, idempotency keys in a day); `purge-tenant` deletes the rest.
    RemoveTenant {
        #[arg(long)]
        id: String,
    },
    /// Moves a budget to another card program. With --table, the records of its cards and
    /// contacts move first (each one conditional write), so the new owner manages them
    /// and the old one no longer answers for them; events already sent stay the old
    /// owner's.
    TransferBudget {
        #[arg(long)]
        budget: String,
        #[arg(long)]
        to: String,
        /// The gateway's table (the stack's TableName output).
        #[arg(long)]
        table: Option<String>,
    },
    /// Deletes everything stored under an offboarded tenant's id, its cards' and
    /// contacts' records included: the last step of offboarding.
    PurgeTenant {
        #[arg(long)]
        id: String,
        /// The gateway's table (the stack's TableName output).
        #[arg(long)]
        table: String,
    },
    /// Step 1 of a key set's rotation (the session keys, or the issuer's keys: give its
    /// secret): adds a new data key and MAC key, last; they make nothing yet.
    AddSessionKeys {
        #[command(flatten)]
        rotation: RotationArgs,
    },
    /// Step 2: the given keys (by default the last added) make new values; the others
    /// are retired and still open and verify what they made. Refused until every function
    /// instance can have read the new keys (SECRETS_TTL_SECS and the one-hour staleness
    /// limit after they were added).
    PromoteSessionKeys {
        #[arg(long)]
        data_kid: Option<String>,
        #[arg(long)]
        mac_kid: Option<String>,
        #[command(flatten)]
        rotation: RotationArgs,
    },
    /// Step 3: removes a retired key by id. Refused while anything made under it may still
    /// be read (the longest-lived value, `--keep-for-secs`, after its retirement reached
    /// every instance).
    RemoveSessionKey {
        #[arg(long)]
        kid: String,
        #[command(flatten)]
        rotation: RotationArgs,
    },
}

/// The settings a rotation's timing rules read (the stack's own, where they differ).
#[derive(clap::Args, Clone, Copy)]
pub struct RotationArgs {
    /// The functions' SECRETS_TTL_SECS.
    #[arg(long, default_value_t = 300)]
    secrets_ttl_secs: i64,
    /// How long anything made under a key lives: the session TTL (SESSION_TTL_SECS) for
    /// the session keys, at least the 24 h idempotency retention for the issuer's keys.
    #[arg(long, default_value_t = 604_800)]
    keep_for_secs: i64,
}

impl From<RotationArgs> for gateway::keys::Rotation {
    fn from(args: RotationArgs) -> Self {
        Self {
            secrets_ttl_secs: args.secrets_ttl_secs,
            keep_for_secs: args.keep_for_secs,
        }
    }
}

/// Runs one command at `now` (epoch seconds).
pub async fn run(cli: Cli, now: i64) -> Result<(), String> {
    let key_set = || async {
        match (&cli.file, &cli.secret_id) {
            (Some(path), None) => Ok(RegistryStore::File(path.clone())),
            (None, Some(id)) => Ok(RegistryStore::secrets_manager(id).await),
            _ => Err("give --file FILE or --secret-id ID".to_owned()),
        }
    };
    let printed = match cli.command {
        Command::AddSessionKeys { rotation } => {
            keys::add_keys(&key_set().await?, now, rotation.into()).await?
        }
        Command::PromoteSessionKeys {
            data_kid,
            mac_kid,
            rotation,
        } => {
            let store = key_set().await?;
            keys::promote_keys(&store, data_kid, mac_kid, now, rotation.into()).await?
        }
        Command::RemoveSessionKey { kid, rotation } => {
            keys::remove_key(&key_set().await?, &kid, now, rotation.into()).await?
        }
        command => {
            let registry = match (&cli.file, &cli.secret_id) {
                (Some(path), None) => RegistrySet::File(path.clone()),
                (None, Some(id)) => RegistrySet::secrets_manager(id).await,
                _ => return Err("give --file FILE or --secret-id ID".into()),
            };
            return registry::run(command, &registry, cli.allow_loopback, now).await;
        }
    };
    eprintln!("{printed}");
    Ok(())
}

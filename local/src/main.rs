//! `cargo run -p local` — the whole gateway on loopback, needing only the Rust toolchain:
//! the functions' routes (dispatched by path as API Gateway dispatches them to the
//! functions), the upstream sandbox, and an embedded in-memory store — or a
//! DynamoDB-compatible server with `--dynamodb-endpoint`.
//!
//! Every setting can be overridden with the same environment variable the Lambda
//! functions read (see the configuration table of docs/operations.md).

mod demo;
mod reference;
mod tenants;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use callback::CallbackConfig;
use check_enroll::CheckEnrollConfig;
use enroll::EnrollConfig;
use gateway::config::Env;
use gateway::platform::Platform;
use gateway_loopback::background::{self, Deliveries};
use gateway_loopback::dispatch::Dispatch;
use gateway_loopback::queue::{MemoryQueue, sqs_deliveries};
use history::HistoryConfig;
use sandbox::{Sandbox, SandboxConfig};

struct Options {
    host: [u8; 4],
    port: u16,
    sandbox_port: u16,
    dynamodb_endpoint: Option<String>,
    table: String,
    tenants: Option<String>,
    demo_merchant_key: Option<String>,
    /// Another gateway's base URL: only the demo merchant runs here, and talks to it.
    gateway: Option<String>,
}

fn usage() -> ! {
    eprintln!(
        "usage: gateway-local [--port 3000] [--sandbox-port 3100] [--dynamodb-endpoint URL] [--table NAME]\n\
         \x20                    [--tenants FILE [--demo-merchant-key KEY]]\n\
         Runs the 3DS gateway, the upstream sandbox and an in-memory store on 127.0.0.1.\n\
         --dynamodb-endpoint (or GATEWAY_DYNAMODB_ENDPOINT) uses a DynamoDB-compatible server instead.\n\
         --tenants FILE reads the tenant registry from FILE (re-read after SECRETS_TTL_SECS); without\n\
         it a demo card program and two demo merchants are registered and their keys printed.\n\
         --demo-merchant-key KEY: the API key of the FILE's merchant the demo checkout plays.\n\
         --gateway URL: run only the demo checkout, against the gateway at URL (e.g. the routes\n\
         `sam local start-api` serves); needs --tenants FILE and --demo-merchant-key KEY."
    );
    std::process::exit(2)
}

fn options() -> Options {
    let mut options = Options {
        host: [127, 0, 0, 1],
        port: 3000,
        sandbox_port: 3100,
        dynamodb_endpoint: std::env::var("GATEWAY_DYNAMODB_ENDPOINT")
            .ok()
            .filter(|v| !v.is_empty()),
        table: "gateway-local".into(),
        tenants: None,
        demo_merchant_key: std::env::var("DEMO_MERCHANT_KEY").ok(),
        gateway: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage());
        match arg.as_str() {
            "--port" => options.port = value().parse().unwrap_or_else(|_| usage()),
            "--sandbox-port" => options.sandbox_port = value().parse().unwrap_or_else(|_| usage()),
            "--dynamodb-endpoint" => options.dynamodb_endpoint = Some(value()),
            "--table" => options.table = value(),
            "--tenants" => options.tenants = Some(value()),
            "--demo-merchant-key" => options.demo_merchant_key = Some(value()),
            "--gateway" => options.gateway = Some(value().trim_end_matches('/').to_owned()),
            _ => usage(),
        }
    }
    options
}

/// Local defaults for every setting; the process environment overrides them.
fn local_env(gateway: &str, sandbox: &Sandbox, table: &str) -> Env {
    let defaults = [
        ("TABLE_NAME", table),
        ("AHRVO_BASE_URL", sandbox.base_url.as_str()),
        ("FIRSTOKEN_BASE_URL", sandbox.base_url.as_str()),
        ("CARD_ISSUANCE_SECRET_ID", tenants::CARD_ISSUANCE),
        ("PAYER_AUTH_SECRET_ID", tenants::PAYER_AUTH),
        ("SESSION_KEYS_SECRET_ID", tenants::SESSION_KEYS),
        ("ISSUER_KEYS_SECRET_ID", tenants::ISSUER_KEYS),
        ("ALLOW_INSECURE_LOOPBACK_URLS", "true"),
        // The in-process queue of webhook deliveries (background.rs).
        ("DELIVERY_QUEUE_URL", "memory"),
        (
            "DELIVERY_DEAD_LETTER_QUEUE_ARN",
            MemoryQueue::DEAD_LETTER_ARN,
        ),
        ("PUBLIC_BASE_URL", gateway),
        // Bulk jobs: the in-process job queue and its pollers, the bucket in memory (or
        // on the DynamoDB endpoint's S3 with --dynamodb-endpoint).
        ("JOBS_BUCKET", table),
        ("JOB_QUEUE_URL", "memory"),
        (
            "JOB_DEAD_LETTER_QUEUE_ARN",
            gateway_loopback::jobs::JOB_DEAD_LETTER_ARN,
        ),
    ];
    let mut values: HashMap<String, String> = defaults
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .chain(
            tenants::registry_ids()
                .settings()
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v)),
        )
        .collect();
    for (key, value) in std::env::vars() {
        if values.contains_key(&key) || is_setting(&key) {
            values.insert(key, value);
        }
    }
    Env::from_map(values)
}

fn is_setting(key: &str) -> bool {
    [
        "UPSTREAM_",
        "AHRVO_",
        "FIRSTOKEN_",
        "CHALLENGE_",
        "SESSION_",
        "CLAIM_",
        "SETTLE_",
        "ENROLL_",
        "SECRETS_",
        "WEBHOOK_",
        "SWEEP_",
        "JOB_",
        "TABLE_NAME",
    ]
    .iter()
    .any(|prefix| key.starts_with(prefix))
}

/// The store and its change stream.
async fn store(options: &Options) -> gateway_loopback::Stack {
    let Some(endpoint) = &options.dynamodb_endpoint else {
        return gateway_loopback::memory_stack();
    };
    gateway_loopback::stack(endpoint, &options.table)
        .await
        .unwrap_or_else(|e| fail(&format!("cannot use the DynamoDB endpoint {endpoint}: {e}")))
}

/// API Gateway's job, locally: send each request to the function whose route table has
/// its path; plus the demo merchant's pages and backend.
async fn gateway(
    env: &Env,
    platform: &Platform,
    jobs: &Jobs,
    demo: Option<tenants::DemoMerchant>,
    gateway_url: &str,
) -> Result<Router, String> {
    let enroll_config = EnrollConfig::from_env(env).map_err(|e| e.to_string())?;
    let check_enroll_config = CheckEnrollConfig::from_env(env).map_err(|e| e.to_string())?;
    let callback_config = CallbackConfig::from_env(env).map_err(|e| e.to_string())?;
    let history_config = HistoryConfig::from_env(env).map_err(|e| e.to_string())?;
    let jobs_config = jobs::JobsConfig::from_env(env).map_err(|e| e.to_string())?;
    let functions = Dispatch::new(vec![
        (
            enroll::routes(),
            enroll::build(&enroll_config, platform)
                .await
                .map_err(|e| e.to_string())?,
        ),
        (
            check_enroll::routes(),
            check_enroll::build(&check_enroll_config, platform)
                .await
                .map_err(|e| e.to_string())?,
        ),
        (
            callback::routes(),
            callback::build(&callback_config, platform)
                .await
                .map_err(|e| e.to_string())?,
        ),
        (
            history::routes(),
            history::build(&history_config, platform)
                .await
                .map_err(|e| e.to_string())?,
        ),
        (
            jobs::routes(),
            jobs::build_api(
                &jobs_config,
                platform,
                jobs.objects.clone(),
                jobs.queue.clone(),
            )
            .await
            .map_err(|e| e.to_string())?,
        ),
    ]);
    let demo = demo::Demo {
        gateway: gateway_url.to_owned(),
        origin: gateway_url.to_owned(),
        merchant: demo,
        http: reqwest::Client::new(),
        webhooks: Default::default(),
    };
    Ok(demo::routes(Arc::new(demo))
        .merge(reference::routes())
        .fallback_service(functions))
}

/// The bulk jobs' bucket and queue, shared by the job API and the worker's pollers.
struct Jobs {
    objects: gateway::objects::SharedObjects,
    queue: Arc<MemoryQueue<gateway::jobs::ChunkMessage>>,
}

impl Jobs {
    async fn new(options: &Options, clock: gateway::clock::SharedClock) -> Result<Self, String> {
        let objects: gateway::objects::SharedObjects = match &options.dynamodb_endpoint {
            None => gateway_loopback::objects::MemoryObjects::serve()
                .await
                .map_err(|e| format!("cannot serve the job uploads: {e}"))?,
            Some(endpoint) => Arc::new(
                gateway_loopback::objects::s3_objects(endpoint, &options.table)
                    .await
                    .map_err(|e| format!("cannot use S3 at {endpoint}: {e}"))?,
            ),
        };
        Ok(Jobs {
            objects,
            queue: gateway_loopback::jobs::job_queue(clock),
        })
    }

    /// The worker's pollers, as many as the template's `JobWorkerMaximumConcurrency`.
    async fn run_workers(&self, env: &Env, platform: &Platform) -> Result<(), String> {
        const POLLERS: usize = 5;
        let config = jobs::WorkerConfig::from_env(env).map_err(|e| e.to_string())?;
        let mut workers = Vec::new();
        for _ in 0..POLLERS {
            let worker =
                jobs::build_worker(&config, platform, self.objects.clone(), self.queue.clone())
                    .await
                    .map_err(|e| e.to_string())?;
            workers.push(Arc::new(worker));
        }
        tokio::spawn(gateway_loopback::jobs::run(workers, self.queue.clone()));
        Ok(())
    }
}

/// The demo's first request: enroll the sandbox's first card for Emma.
const TRY_ENROLL: &str =
    r#"{"card_id":"card59202507231957437131","cardholder_id":"471041678120300545"}"#;

/// What the local stack prints at start, on stderr (stdout carries only JSON log lines).
fn banner(options: &Options, gateway_url: &str, sandbox_url: &str, keys: &[tenants::PrintedKey]) {
    let store_line = match &options.dynamodb_endpoint {
        Some(endpoint) => format!("DynamoDB at {endpoint}, table {}", options.table),
        None => "in memory (pass --dynamodb-endpoint URL for a DynamoDB-compatible server)".into(),
    };
    let tenants_line = match &options.tenants {
        Some(file) => format!("from {file} (re-read after SECRETS_TTL_SECS)"),
        None => "demo tenants (pass --tenants FILE for your own registry)".into(),
    };
    let mut keys_text = String::new();
    for key in keys {
        keys_text.push_str(&format!(
            "  x-api-key {}   tenant {} ({})\n",
            key.api_key, key.tenant, key.roles
        ));
    }
    let issuer_key = keys
        .first()
        .map(|k| k.api_key.as_str())
        .unwrap_or("<an issuer key>");
    eprintln!(
        "\n3DS gateway running locally\n  \
         demo      {gateway_url}/demo/   (a checkout: frictionless and challenge flows in the browser)\n  \
         gateway   {gateway_url}\n  \
         sandbox   {sandbox_url}\n  \
         store     {store_line}\n  \
         tenants   {tenants_line}\n\
         {keys_text}\n\
         Try:\n  curl -s -X POST {gateway_url}/card/issuance/api/issuing/3ds/v2/enroll \\\n    \
         -H 'x-api-key: {issuer_key}' -H 'content-type: application/json' \\\n    \
         -d '{TRY_ENROLL}'\n",
    );
}

fn fail(error: &dyn std::fmt::Display) -> ! {
    eprintln!("configuration error: {error}");
    std::process::exit(1)
}

/// The webhook delivery queue: in process, or SQS on the DynamoDB endpoint's server (whose
/// dead-letter queue the notifier is then told of).
async fn delivery_queue(
    options: &Options,
    clock: &gateway::clock::SharedClock,
    notify_config: &mut notify::NotifyConfig,
) -> (gateway::events::queue::SharedQueue, Deliveries) {
    let max_receive_count = notify_config.retry_schedule.max_receive_count();
    match &options.dynamodb_endpoint {
        None => {
            let memory = Arc::new(MemoryQueue::new(clock.clone(), max_receive_count));
            (memory.clone(), Deliveries::Memory(memory))
        }
        Some(endpoint) => {
            let name = format!("{}-deliveries", options.table);
            let sqs = sqs_deliveries(endpoint, &name, max_receive_count)
                .await
                .unwrap_or_else(|e| fail(&e));
            notify_config.dead_letter_queue_arn = Some(sqs.dead_letter_arn.clone());
            (sqs.queue.clone(), Deliveries::Sqs(sqs))
        }
    }
}

#[tokio::main]
async fn main() {
    gateway::telemetry::init();
    let options = options();
    if let Some(gateway_url) = &options.gateway {
        let (Some(file), Some(key)) = (&options.tenants, &options.demo_merchant_key) else {
            usage()
        };
        let address = SocketAddr::from((options.host, options.port));
        return demo::serve_alone(address, gateway_url, file, key)
            .await
            .unwrap_or_else(|e| fail(&e));
    }
    let sandbox = Sandbox::start(
        SandboxConfig::default(),
        SocketAddr::from((options.host, options.sandbox_port)),
    )
    .await
    .unwrap_or_else(|e| {
        fail(&format!(
            "cannot listen on sandbox port {}: {e}",
            options.sandbox_port
        ))
    });
    let listener = tokio::net::TcpListener::bind(SocketAddr::from((options.host, options.port)))
        .await
        .unwrap_or_else(|e| fail(&format!("cannot listen on port {}: {e}", options.port)));
    let gateway_url = format!("http://{}", listener.local_addr().expect("bound"));
    let env = local_env(&gateway_url, &sandbox, &options.table);
    let local = tenants::local_tenants(
        options.tenants.as_deref(),
        options.demo_merchant_key.as_deref(),
        &gateway_url,
    )
    .unwrap_or_else(|e| fail(&e));
    let gateway_loopback::Stack { store, feed } = store(&options).await;
    let mut notify_config = notify::NotifyConfig::from_env(&env).unwrap_or_else(|e| fail(&e));
    let clock = gateway::clock::system();
    let (queue, deliveries) = delivery_queue(&options, &clock, &mut notify_config).await;
    let platform = Platform {
        store,
        clock,
        secrets: local.secrets.clone(),
        aws: None,
        deliveries: Some(queue.clone()),
    };
    let jobs = Jobs::new(&options, platform.clock.clone())
        .await
        .unwrap_or_else(|e| fail(&e));
    let app = gateway(&env, &platform, &jobs, local.demo, &gateway_url)
        .await
        .unwrap_or_else(|e| fail(&e));
    jobs.run_workers(&env, &platform)
        .await
        .unwrap_or_else(|e| fail(&e));
    let notifier = notify::build(&notify_config, &platform, queue)
        .await
        .unwrap_or_else(|e| fail(&e));
    let sweep_every = Duration::from_secs(
        env.optional("SWEEP_INTERVAL_SECS")
            .and_then(|s| s.parse().ok())
            .unwrap_or(60),
    );
    tokio::spawn(background::run(notifier, feed, deliveries, sweep_every));
    banner(&options, &gateway_url, &sandbox.base_url, &local.printed);
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .expect("serve");
}

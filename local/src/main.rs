//! `cargo run -p local` — the whole gateway on loopback, needing only the Rust toolchain:
//! the functions' routes (dispatched by path as API Gateway dispatches them to the
//! functions), the upstream sandbox, and an embedded in-memory store — or a
//! DynamoDB-compatible server with `--dynamodb-endpoint`.
//!
//! Every setting can be overridden with the same environment variable the Lambda
//! functions read (see the README's configuration table).

mod background;
mod demo;
mod tenants;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::response::IntoResponse as _;
use callback::CallbackConfig;
use check_enroll::CheckEnrollConfig;
use enroll::EnrollConfig;
use gateway::config::Env;
use gateway::http::routes::RouteKey;
use gateway::platform::Platform;
use gateway::store::SharedStore;
use gateway::store::dynamo::{DynamoStore, ensure_table};
use gateway::store::memory::MemoryStore;
use sandbox::{Sandbox, SandboxConfig};

struct Options {
    host: [u8; 4],
    port: u16,
    sandbox_port: u16,
    dynamodb_endpoint: Option<String>,
    table: String,
    tenants: Option<String>,
    demo_merchant_key: Option<String>,
}

fn usage() -> ! {
    eprintln!(
        "usage: gateway-local [--port 3000] [--sandbox-port 3100] [--dynamodb-endpoint URL] [--table NAME]\n\
         \x20                    [--tenants FILE [--demo-merchant-key KEY]]\n\
         Runs the 3DS gateway, the upstream sandbox and an in-memory store on 127.0.0.1.\n\
         --dynamodb-endpoint (or GATEWAY_DYNAMODB_ENDPOINT) uses a DynamoDB-compatible server instead.\n\
         --tenants FILE reads the tenant registry from FILE (re-read after SECRETS_TTL_SECS); without\n\
         it a demo card program and two demo merchants are registered and their keys printed.\n\
         --demo-merchant-key KEY: the API key of the FILE's merchant the demo checkout plays."
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
            _ => usage(),
        }
    }
    options
}

/// Local defaults for every setting; the process environment overrides them.
fn local_env(gateway: &str, sandbox: &Sandbox) -> Env {
    let defaults = [
        ("STORE_BACKEND", "memory"),
        ("AHRVO_BASE_URL", sandbox.base_url.as_str()),
        ("FIRSTOKEN_BASE_URL", sandbox.base_url.as_str()),
        ("TENANT_REGISTRY_SECRET_ID", tenants::TENANTS),
        ("CARD_ISSUANCE_SECRET_ID", tenants::CARD_ISSUANCE),
        ("PAYER_AUTH_SECRET_ID", tenants::PAYER_AUTH),
        ("SESSION_KEYS_SECRET_ID", tenants::SESSION_KEYS),
        ("ALLOW_INSECURE_LOOPBACK_URLS", "true"),
        // The in-process queue of webhook deliveries (background.rs).
        ("DELIVERY_QUEUE_URL", "memory"),
        ("PUBLIC_BASE_URL", gateway),
    ];
    let mut values: HashMap<String, String> = defaults
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
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
        "TABLE_NAME",
    ]
    .iter()
    .any(|prefix| key.starts_with(prefix))
}

/// The store and its change stream.
async fn store(options: &Options) -> (SharedStore, Arc<dyn gateway::store::ChangeFeed>) {
    let Some(endpoint) = &options.dynamodb_endpoint else {
        let memory = Arc::new(MemoryStore::new());
        return (memory.clone(), memory);
    };
    let client = gateway::store::dynamo::client_for_endpoint(endpoint);
    ensure_table(&client, &options.table)
        .await
        .unwrap_or_else(|e| panic!("cannot use the DynamoDB endpoint {endpoint}: {e}"));
    let feed = gateway::store::stream::StreamFeed::new(
        gateway::store::stream::client_for_endpoint(endpoint),
        client.clone(),
        options.table.clone(),
    );
    (
        Arc::new(DynamoStore::new(client, options.table.clone())),
        Arc::new(feed),
    )
}

/// The delivery queue and its dead-letter queue on the SQS of a compatible endpoint
/// (moto), with the template's redrive policy (attempts: the retry schedule's).
async fn sqs_queue(
    endpoint: &str,
    table: &str,
    schedule: &gateway::events::queue::RetrySchedule,
) -> gateway::events::queue::SqsQueue {
    use aws_sdk_sqs::types::QueueAttributeName;
    let client = aws_sdk_sqs::Client::new(&gateway::aws::endpoint_config(endpoint));
    fn fail_sqs<E: std::error::Error + Send + Sync + 'static>(
        e: aws_sdk_sqs::error::SdkError<E>,
    ) -> ! {
        fail(&format!(
            "cannot use SQS on the endpoint: {}",
            aws_sdk_sqs::error::DisplayErrorContext(e)
        ))
    }
    let dead = client
        .create_queue()
        .queue_name(format!("{table}-deliveries-dead"))
        .send()
        .await
        .unwrap_or_else(|e| fail_sqs(e));
    let dead_arn = client
        .get_queue_attributes()
        .queue_url(dead.queue_url().unwrap_or_default())
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap_or_else(|e| fail_sqs(e))
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .unwrap_or_default();
    let redrive = serde_json::json!({
        "deadLetterTargetArn": dead_arn,
        "maxReceiveCount": schedule.attempts(),
    });
    let url = client
        .create_queue()
        .queue_name(format!("{table}-deliveries"))
        .attributes(QueueAttributeName::RedrivePolicy, redrive.to_string())
        .send()
        .await
        .unwrap_or_else(|e| fail_sqs(e))
        .queue_url
        .unwrap_or_default();
    gateway::events::queue::SqsQueue::new(client, url)
}

/// API Gateway's job, locally: send each request to the function whose route table has
/// its path; plus the demo merchant's pages and backend.
async fn gateway(
    env: &Env,
    platform: &Platform,
    demo: Option<tenants::DemoMerchant>,
    gateway_url: &str,
) -> Result<Router, String> {
    let enroll_config = EnrollConfig::from_env(env).map_err(|e| e.to_string())?;
    let check_enroll_config = CheckEnrollConfig::from_env(env).map_err(|e| e.to_string())?;
    let callback_config = CallbackConfig::from_env(env).map_err(|e| e.to_string())?;
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
    ]);
    let demo = demo::Demo {
        gateway: gateway_url.to_owned(),
        merchant: demo,
        http: reqwest::Client::new(),
        webhooks: Default::default(),
    };
    Ok(demo::routes(Arc::new(demo)).fallback_service(functions))
}

/// Routes each request, untouched, to the function whose route table matches its path —
/// what API Gateway does in front of the Lambda functions. (Dispatching with axum routes
/// instead would hand the function router the dispatcher's own path parameters.)
#[derive(Clone)]
struct Dispatch {
    paths: Arc<matchit::Router<usize>>,
    functions: Arc<Vec<Router>>,
}

impl Dispatch {
    fn new(functions: Vec<(Vec<RouteKey>, Router)>) -> Self {
        let mut paths = matchit::Router::new();
        let mut routers = Vec::new();
        for (index, (routes, router)) in functions.into_iter().enumerate() {
            // A path two methods of one function share is inserted once; a path of two
            // functions is a conflict, as it would be in API Gateway.
            let unique: std::collections::BTreeSet<&str> =
                routes.iter().map(|(_, path)| *path).collect();
            for path in unique {
                paths
                    .insert(path, index)
                    .unwrap_or_else(|e| panic!("{path} is routed twice: {e}"));
            }
            routers.push(router);
        }
        Self {
            paths: Arc::new(paths),
            functions: Arc::new(routers),
        }
    }
}

impl tower::Service<axum::extract::Request> for Dispatch {
    type Response = axum::response::Response;
    type Error = std::convert::Infallible;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>,
    >;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: axum::extract::Request) -> Self::Future {
        use tower::ServiceExt as _;
        let router = self
            .paths
            .at(request.uri().path())
            .ok()
            .map(|found| self.functions[*found.value].clone());
        Box::pin(async move {
            match router {
                Some(router) => router.oneshot(request).await,
                None => Ok(axum::http::StatusCode::NOT_FOUND.into_response()),
            }
        })
    }
}

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
         -d '{{\"card_id\":\"card59202507231957437131\",\"cardholder_id\":\"471041678120300545\"}}'\n",
    );
}

fn fail(error: &dyn std::fmt::Display) -> ! {
    eprintln!("configuration error: {error}");
    std::process::exit(1)
}

#[tokio::main]
async fn main() {
    gateway::telemetry::init();
    let options = options();
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
    let env = local_env(&gateway_url, &sandbox);
    let local = tenants::local_tenants(
        options.tenants.as_deref(),
        options.demo_merchant_key.as_deref(),
        &gateway_url,
    )
    .unwrap_or_else(|e| fail(&e));
    let (store, feed) = store(&options).await;
    let notify_config = notify::NotifyConfig::from_env(&env).unwrap_or_else(|e| fail(&e));
    let (queue, deliveries): (gateway::events::queue::SharedQueue, background::Deliveries) =
        match &options.dynamodb_endpoint {
            None => {
                let memory = Arc::new(gateway::events::queue::MemoryQueue::new());
                (memory.clone(), background::Deliveries::Memory(memory))
            }
            Some(endpoint) => {
                let sqs = Arc::new(
                    sqs_queue(endpoint, &options.table, &notify_config.retry_schedule).await,
                );
                (sqs.clone(), background::Deliveries::Sqs(sqs))
            }
        };
    let platform = Platform {
        store,
        clock: gateway::clock::system(),
        secrets: local.secrets.clone(),
        aws: None,
        deliveries: Some(queue.clone()),
    };
    let app = gateway(&env, &platform, local.demo, &gateway_url)
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
    tokio::spawn(background::run(
        notifier,
        feed,
        deliveries,
        platform.clock.clone(),
        sweep_every,
    ));
    banner(&options, &gateway_url, &sandbox.base_url, &local.printed);
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .expect("serve");
}

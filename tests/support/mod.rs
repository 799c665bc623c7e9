//! Test harness: the sandbox in-process on a loopback port; the store is DynamoDB from
//! `moto_server` on loopback (one fresh table per test) when the test command gives its
//! endpoint in `GATEWAY_TEST_DYNAMODB_ENDPOINT`, else the in-memory store (the store
//! contract suite keeps the two equal); the functions' routers built by the same `build`
//! their Lambda mains call; helpers to send requests and API Gateway events.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use axum::Router;
use axum::body::Body;
use gateway::clock::{OffsetClock, SharedClock};
use gateway::config::Env;
use gateway::crypto::{MacKey, MacKeys};
use gateway::platform::Platform;
use gateway::store::{Item, SharedStore};
use gateway::tenants::api_key_digest;
use gateway_loopback::secrets::LocalSecrets;
use http::{Request, StatusCode};
use serde_json::Value;
use tower::ServiceExt as _;

pub use gateway::clock::Clock;
pub use sandbox::{Fault, FaultRule, Sandbox, SandboxConfig};

pub mod callback;
pub mod events;
pub mod issuer;
pub mod jobs;
pub mod merchant;

pub use callback::*;
pub use issuer::*;
pub use merchant::*;

/// The tenants every test has: two card programs and two merchants.
pub const ISSUER: &str = "bank-x";
pub const ISSUER_KEY: &str = "test-issuer-key-0001";
pub const OTHER_ISSUER: &str = "bank-y";
pub const OTHER_ISSUER_KEY: &str = "other-issuer-key-01";
pub const MERCHANT: &str = "shop-a";
pub const MERCHANT_KEY: &str = "test-merchant-key-01";
pub const OTHER_MERCHANT: &str = "shop-b";
pub const OTHER_MERCHANT_KEY: &str = "other-merchant-key-1";
/// Merchant `shop-a`'s redirect key, and its id.
pub const REDIRECT_KEY: &str = "merchant-redirect-signing-key-0123456789";
pub const REDIRECT_KID: &str = "shop-a-1";
pub const OTHER_REDIRECT_KEY: &str = "other-merchant-redirect-key-0123456789";
pub const PUBLIC_BASE_URL: &str = "https://gateway.test";
pub const MERCHANT_ORIGIN: &str = "https://shop.example";
pub const OTHER_MERCHANT_ORIGIN: &str = "https://shop-b.example";

/// Secret ids the harness's functions are configured with.
pub const TENANTS_SECRET: &str = "test/tenants";

/// The registry's secrets: the routing document and its parts, named after it.
pub fn registry_ids() -> gateway_loopback::secrets::RegistryIds {
    gateway_loopback::secrets::RegistryIds::named_after(TENANTS_SECRET)
}

/// A whole registry document from its JSON.
pub fn whole(registry: &Value) -> gateway::tenants::RegistryDocument {
    serde_json::from_value(registry.clone()).expect("a registry document")
}
pub const CARD_ISSUANCE_SECRET: &str = "test/card-issuance";
pub const PAYER_AUTH_SECRET: &str = "test/payer-auth";
pub const SESSION_KEYS_SECRET: &str = "test/session-keys";
pub const ISSUER_KEYS_SECRET: &str = "test/issuer-keys";

/// The tenant registry of the tests (the format of the design brief).
pub fn test_registry() -> Value {
    serde_json::json!({"tenants": [
        {
            "id": ISSUER, "roles": ["issuer"], "api_key_sha256": [api_key_digest(ISSUER_KEY)],
            "issuer": {"budget_ids": [sandbox::state::BUDGET_ID, sandbox::state::SECOND_BUDGET_ID]}
        },
        {
            "id": OTHER_ISSUER, "roles": ["issuer"],
            "api_key_sha256": [api_key_digest(OTHER_ISSUER_KEY)],
            "issuer": {"budget_ids": [sandbox::state::THIRD_BUDGET_ID]}
        },
        {
            "id": MERCHANT, "roles": ["merchant"], "api_key_sha256": [api_key_digest(MERCHANT_KEY)],
            "merchant": {
                "return_origins": [MERCHANT_ORIGIN],
                "redirect_keys": [{"kid": REDIRECT_KID, "secret": REDIRECT_KEY}]
            }
        },
        {
            "id": OTHER_MERCHANT, "roles": ["merchant"],
            "api_key_sha256": [api_key_digest(OTHER_MERCHANT_KEY)],
            "merchant": {
                "return_origins": [OTHER_MERCHANT_ORIGIN],
                "redirect_keys": [{"kid": "shop-b-1", "secret": OTHER_REDIRECT_KEY}]
            }
        }
    ]})
}

/// Merchant `shop-a`'s redirect keys, as it holds them to verify.
pub fn merchant_redirect_keys() -> MacKeys {
    MacKeys::new(vec![(
        REDIRECT_KID.into(),
        MacKey::new(REDIRECT_KEY.as_bytes()),
    )])
    .unwrap()
}

/// Which store a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    DynamoDb,
    Memory,
}

static LOG_FILE: OnceLock<String> = OnceLock::new();

/// JSON logs (and metric lines) of the whole test process go to
/// `$GATEWAY_TEST_LOG_DIR/<pid>.jsonl`, which the test command scans for card data
/// afterwards (without it, to the system's temporary directory).
pub fn init_logs() {
    LOG_FILE.get_or_init(|| {
        let dir = std::env::var("GATEWAY_TEST_LOG_DIR").unwrap_or_else(|_| {
            std::env::temp_dir()
                .join("gateway-test-logs")
                .display()
                .to_string()
        });
        std::fs::create_dir_all(&dir).expect("create the test log directory");
        let path = format!(
            "{dir}/{}-{}.jsonl",
            std::process::id(),
            uuid::Uuid::new_v4()
        );
        let file = std::fs::File::create(&path).expect("create the test log file");
        gateway::telemetry::init_with_writer(Mutex::new(file));
        path
    });
}

/// The lines this test process logged so far.
pub fn logged_lines() -> Vec<Value> {
    init_logs();
    std::fs::read_to_string(LOG_FILE.get().expect("initialised"))
        .unwrap_or_default()
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

/// The DynamoDB endpoint the test command started (`moto_server` on loopback), if any.
pub fn dynamodb_endpoint() -> Option<String> {
    std::env::var("GATEWAY_TEST_DYNAMODB_ENDPOINT")
        .ok()
        .filter(|e| !e.is_empty())
}

/// DynamoDB when the test command runs `moto_server`, else the in-memory store.
pub fn default_backend() -> Backend {
    if dynamodb_endpoint().is_some() {
        Backend::DynamoDb
    } else {
        Backend::Memory
    }
}

/// A 32-byte key, base64.
const DATA_KEY: &str = "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=";

/// The settings every function of the tests reads (the sandbox at `sandbox_url`, the
/// table `table`).
fn base_env(sandbox_url: &str, table: &str) -> HashMap<String, String> {
    [
        ("TABLE_NAME", table),
        ("AHRVO_BASE_URL", sandbox_url),
        ("FIRSTOKEN_BASE_URL", sandbox_url),
        ("CARD_ISSUANCE_SECRET_ID", CARD_ISSUANCE_SECRET),
        ("PAYER_AUTH_SECRET_ID", PAYER_AUTH_SECRET),
        ("SESSION_KEYS_SECRET_ID", SESSION_KEYS_SECRET),
        ("ISSUER_KEYS_SECRET_ID", ISSUER_KEYS_SECRET),
        ("UPSTREAM_TIMEOUT_MS", "400"),
        ("UPSTREAM_CONNECT_TIMEOUT_MS", "300"),
        ("UPSTREAM_RETRY_BASE_DELAY_MS", "5"),
        ("PUBLIC_BASE_URL", PUBLIC_BASE_URL),
        ("SETTLE_WAIT_MS", "5000"),
        ("DELIVERY_QUEUE_URL", "memory"),
        (
            "DELIVERY_DEAD_LETTER_QUEUE_ARN",
            gateway_loopback::queue::MemoryQueue::DEAD_LETTER_ARN,
        ),
        ("JOBS_BUCKET", "gateway-test-jobs"),
        ("JOB_QUEUE_URL", "memory"),
        (
            "JOB_DEAD_LETTER_QUEUE_ARN",
            gateway_loopback::jobs::JOB_DEAD_LETTER_ARN,
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .chain(
        registry_ids()
            .settings()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v)),
    )
    .collect()
}

/// The tests' settings, with a sandbox address no test calls: for checking configurations.
pub fn test_env() -> HashMap<String, String> {
    base_env("http://127.0.0.1:9", "gateway-test")
}

/// The issuer side's keys of the tests: none of them is a session key.
pub fn test_issuer_keys() -> Value {
    serde_json::json!({
        "data_encryption_keys": [{"kid": "i1", "key": "aXNzdWVyLWtleXMtZm9yLXRlc3RzLTMyLWJ5dGVzISE="}],
        "session_mac_keys": [{"kid": "im1", "key": "issuer-mac-key-for-tests-0123456789abcdef"}]
    })
}

/// The session keys of the tests.
pub fn test_session_keys() -> Value {
    serde_json::json!({
        "data_encryption_keys": [{"kid": "k1", "key": DATA_KEY}],
        "session_mac_keys": [{"kid": "m1", "key": "session-mac-key-for-tests-0123456789abcdef"}]
    })
}

pub struct Harness {
    pub sandbox: Sandbox,
    pub store: SharedStore,
    /// The table's change stream: the memory store's log, or moto's DynamoDB Streams.
    pub feed: Arc<dyn gateway::store::ChangeFeed>,
    pub backend: Backend,
    pub clock: Arc<OffsetClock>,
    pub env: HashMap<String, String>,
    /// The secrets the functions read: tests rotate them by setting new values.
    pub secrets: Arc<LocalSecrets>,
}

impl Harness {
    pub async fn new() -> Self {
        Self::with(default_backend(), SandboxConfig::default(), &[]).await
    }

    pub async fn with_env(overrides: &[(&str, &str)]) -> Self {
        Self::with(default_backend(), SandboxConfig::default(), overrides).await
    }

    pub async fn with(
        backend: Backend,
        sandbox_config: SandboxConfig,
        overrides: &[(&str, &str)],
    ) -> Self {
        init_logs();
        let sandbox = Sandbox::start(sandbox_config, ([127, 0, 0, 1], 0).into())
            .await
            .expect("start the sandbox");
        let table = format!("gateway-test-{}", uuid::Uuid::new_v4());
        let gateway_loopback::Stack { store, feed } = match backend {
            Backend::DynamoDb => {
                let endpoint = dynamodb_endpoint().expect(
                    "GATEWAY_TEST_DYNAMODB_ENDPOINT is not set: scripts/test.sh starts moto_server",
                );
                gateway_loopback::stack(&endpoint, &table)
                    .await
                    .expect("create the test table")
            }
            Backend::Memory => gateway_loopback::memory_stack(),
        };
        let secrets = Arc::new(LocalSecrets::new());
        secrets.set_registry(&registry_ids(), &whole(&test_registry()));
        secrets.set(SESSION_KEYS_SECRET, test_session_keys().to_string());
        secrets.set(ISSUER_KEYS_SECRET, test_issuer_keys().to_string());
        secrets.set(
            CARD_ISSUANCE_SECRET,
            serde_json::json!({
                "api_key": sandbox::state::ISSUANCE_API_KEY,
                "access_token": sandbox::state::ISSUANCE_ACCESS_TOKEN
            })
            .to_string(),
        );
        secrets.set(
            PAYER_AUTH_SECRET,
            serde_json::json!({"api_key": sandbox::state::PAYER_AUTH_API_KEY}).to_string(),
        );
        let mut env = base_env(&sandbox.base_url, &table);
        for (k, v) in overrides {
            env.insert((*k).to_owned(), (*v).to_owned());
        }
        Self {
            sandbox,
            store,
            feed,
            backend,
            clock: Arc::new(OffsetClock::default()),
            env,
            secrets,
        }
    }

    /// What the functions are built on: the test store, the test clock, the test secrets.
    pub fn platform(&self) -> Platform {
        Platform {
            store: self.store.clone(),
            clock: self.clock(),
            secrets: self.secrets.clone(),
            aws: None,
            deliveries: None,
        }
    }

    pub fn config_env(&self) -> Env {
        Env::from_map(self.env.clone())
    }

    pub fn clock(&self) -> SharedClock {
        self.clock.clone()
    }

    /// The enroll function's router, built by the `build` its main calls.
    pub async fn issuer(&self) -> Router {
        let config = enroll::EnrollConfig::from_env(&self.config_env()).unwrap();
        enroll::build(&config, &self.platform()).await.unwrap()
    }

    pub fn check_enroll_config(&self) -> check_enroll::CheckEnrollConfig {
        check_enroll::CheckEnrollConfig::from_env(&self.config_env()).unwrap()
    }

    /// The check-enroll function's router, built by the `build` its main calls.
    pub async fn merchant(&self) -> Router {
        check_enroll::build(&self.check_enroll_config(), &self.platform())
            .await
            .unwrap()
    }

    pub fn callback_config(&self) -> ::callback::CallbackConfig {
        ::callback::CallbackConfig::from_env(&self.config_env()).unwrap()
    }

    /// The callback function's router, built by the `build` its main calls.
    pub async fn callback(&self) -> Router {
        self.callback_on(&self.platform()).await
    }

    /// [`Harness::callback`] on another platform (a store that counts its calls).
    pub async fn callback_on(&self, platform: &Platform) -> Router {
        ::callback::build(&self.callback_config(), platform)
            .await
            .unwrap()
    }

    /// The whole gateway as a client sees it: every function built by its own `build`,
    /// each request routed by the functions' route tables as API Gateway routes it.
    pub async fn api(&self) -> Router {
        self.api_on(&self.platform()).await
    }

    /// [`Harness::api`] on another platform (a delivery queue of the test's).
    pub async fn api_on(&self, platform: &Platform) -> Router {
        let enroll = enroll::EnrollConfig::from_env(&self.config_env()).unwrap();
        let functions = vec![
            (
                enroll::routes(),
                enroll::build(&enroll, platform).await.unwrap(),
            ),
            (
                check_enroll::routes(),
                check_enroll::build(&self.check_enroll_config(), platform)
                    .await
                    .unwrap(),
            ),
            (
                ::callback::routes(),
                ::callback::build(&self.callback_config(), platform)
                    .await
                    .unwrap(),
            ),
            (
                history::routes(),
                history::build(&self.history_config(), platform)
                    .await
                    .unwrap(),
            ),
        ];
        Router::new().fallback_service(gateway_loopback::dispatch::Dispatch::new(functions))
    }

    pub fn history_config(&self) -> history::HistoryConfig {
        history::HistoryConfig::from_env(&self.config_env()).unwrap()
    }

    /// The history function's router, built by the `build` its main calls.
    pub async fn history(&self) -> Router {
        history::build(&self.history_config(), &self.platform())
            .await
            .unwrap()
    }

    /// The session keys the functions use.
    pub fn session_keys(&self) -> gateway::keys::GatewayKeys {
        use gateway::secrets::SecretDocument as _;
        gateway::keys::GatewayKeys::parse(&test_session_keys().to_string(), &()).unwrap()
    }

    /// Merchant `shop-a`'s return-URL binding of `reference`.
    pub fn binding(&self, reference: &str) -> String {
        self.session_keys().return_url_binding(MERCHANT, reference)
    }

    /// Replaces the tenant registry (a rotation: read again after the secrets' TTL), split
    /// into its routing document and parts as deployed.
    pub fn set_registry(&self, registry: &Value) {
        self.secrets.set_registry(&registry_ids(), &whole(registry));
    }

    /// Replaces the gateway's card-issuance credentials.
    pub fn set_card_issuance_credentials(&self, api_key: &str, access_token: &str) {
        self.secrets.set(
            CARD_ISSUANCE_SECRET,
            serde_json::json!({"api_key": api_key, "access_token": access_token}).to_string(),
        );
    }

    /// The sessions as the functions see them (the harness's settings).
    pub fn sessions(&self) -> gateway::session::Sessions {
        gateway::session::Sessions::new(
            self.store.clone(),
            self.clock(),
            gateway::config::SessionSettings::from_env(&self.config_env()).unwrap(),
        )
    }

    /// A tenant's session, decoded by its own module.
    pub async fn session(
        &self,
        tenant: &str,
        reference: &str,
    ) -> Option<gateway::session::AuthenticationSession> {
        self.sessions()
            .get(&session_ref(tenant, reference))
            .await
            .unwrap()
    }

    /// A card's enrollment record, decoded by its own module.
    pub async fn card_record(&self, card_id: &str) -> Option<gateway::enrollment::CardEnrollment> {
        let card = gateway::domain::CardId::parse("card_id", card_id).unwrap();
        gateway::enrollment::Enrollments::new(self.store.clone(), self.clock())
            .card(&card)
            .await
            .unwrap()
    }

    /// The harness's secrets copied into the Secrets Manager of `endpoint` (moto's), under
    /// fresh names: the settings that name them, and a platform that reads them there.
    pub async fn on_secrets_manager(&self, endpoint: &str) -> MotoSecrets {
        use gateway::secrets::SecretSource as _;
        let manager = gateway_loopback::secrets::secrets_manager(endpoint);
        let prefix = format!("gateway-test-{}", uuid::Uuid::new_v4());
        let mut env = self.env.clone();
        let registry = registry_ids();
        let mut copied = vec![
            ("SESSION_KEYS_SECRET_ID", SESSION_KEYS_SECRET.to_owned()),
            ("ISSUER_KEYS_SECRET_ID", ISSUER_KEYS_SECRET.to_owned()),
            ("PAYER_AUTH_SECRET_ID", PAYER_AUTH_SECRET.to_owned()),
            ("CARD_ISSUANCE_SECRET_ID", CARD_ISSUANCE_SECRET.to_owned()),
        ];
        copied.extend(registry.settings());
        for (variable, id) in copied {
            let name = format!("{prefix}/{id}");
            let id = id.as_str();
            let value = self.secrets.fetch(id).await.unwrap();
            manager
                .client()
                .create_secret()
                .name(&name)
                .secret_string(value)
                .send()
                .await
                .expect("moto creates the secret");
            env.insert(variable.into(), name);
        }
        MotoSecrets {
            platform: Platform {
                secrets: Arc::new(gateway_loopback::secrets::secrets_manager(endpoint)),
                ..self.platform()
            },
            manager,
            prefix,
            settings: env,
        }
    }

    pub async fn item(&self, key: &str) -> Option<Item> {
        self.store.read(key).await.unwrap()
    }
}

/// The harness's secrets in moto's Secrets Manager (see [`Harness::on_secrets_manager`]).
pub struct MotoSecrets {
    pub platform: Platform,
    pub manager: gateway::secrets::SecretsManager,
    /// What the secrets' names begin with (`{prefix}/{the harness's secret id}`).
    pub prefix: String,
    settings: HashMap<String, String>,
}

impl MotoSecrets {
    /// The functions' settings, naming the secrets there.
    pub fn env(&self) -> Env {
        Env::from_map(self.settings.clone())
    }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    /// The body as JSON, less its `request_id` (each answer has its own; two answers
    /// that must be alike are compared without it). [`Answer::json_as_sent`] keeps it.
    pub fn json(&self) -> Value {
        let mut body = self.json_as_sent();
        if let Some(object) = body.as_object_mut() {
            object.remove("request_id");
        }
        body
    }

    /// The body as JSON, exactly as sent.
    pub fn json_as_sent(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub async fn send(router: &Router, request: Request<Body>) -> Answer {
    let response = router.clone().oneshot(request).await.expect("infallible");
    let (parts, body) = response.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap()
        .to_vec();
    Answer {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

pub fn post_json(path: &str, api_key: Option<&str>, body: &Value) -> Request<Body> {
    post_raw(path, api_key, body.to_string())
}

pub fn post_raw(path: &str, api_key: Option<&str>, body: impl Into<Body>) -> Request<Body> {
    let mut builder = Request::post(path).header("content-type", "application/json");
    if let Some(key) = api_key {
        builder = builder.header("x-api-key", key);
    }
    builder.body(body.into()).unwrap()
}

pub fn get(path: &str, api_key: Option<&str>) -> Request<Body> {
    let mut builder = Request::get(path);
    if let Some(key) = api_key {
        builder = builder.header("x-api-key", key);
    }
    builder.body(Body::empty()).unwrap()
}

/// A tenant id of the tests.
pub fn tenant_id(tenant: &str) -> gateway::domain::TenantId {
    gateway::domain::TenantId::parse("tenant", tenant).unwrap()
}

/// A tenant's session of a reference code.
pub fn session_ref(tenant: &str, reference: &str) -> gateway::session::SessionRef {
    gateway::session::SessionRef::new(
        gateway::domain::TenantId::parse("tenant", tenant).unwrap(),
        gateway::domain::ReferenceCode::parse("reference", reference).unwrap(),
    )
}

pub fn string_attr(item: &Item, name: &str) -> Option<String> {
    gateway::store::string(item, name).map(str::to_owned)
}

pub fn number_attr(item: &Item, name: &str) -> Option<i64> {
    gateway::store::number(item, name)
}

/// An API Gateway REST (v1) proxy event, as API Gateway sends it.
pub fn apigw_v1_event(
    method: &str,
    path: &str,
    stage: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
    base64: bool,
) -> String {
    let headers: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Value::from(*v)))
        .collect();
    let multi: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(k, v)| (k.clone(), Value::from(vec![v.clone()])))
        .collect();
    let (path_only, query) = path.split_once('?').unwrap_or((path, ""));
    let query_params: serde_json::Map<String, Value> =
        url::form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), Value::from(v.into_owned())))
            .collect();
    serde_json::json!({
        "resource": "/{proxy+}",
        "path": path_only,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": multi,
        "queryStringParameters": if query_params.is_empty() { Value::Null } else { Value::Object(query_params.clone()) },
        "multiValueQueryStringParameters": if query_params.is_empty() { Value::Null } else {
            Value::Object(query_params.iter().map(|(k, v)| (k.clone(), Value::from(vec![v.clone()]))).collect())
        },
        "pathParameters": {"proxy": path_only.trim_start_matches('/')},
        "stageVariables": null,
        "requestContext": {
            "accountId": "123456789012",
            "resourceId": "abc123",
            "stage": stage,
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "requestTimeEpoch": 1_700_000_000_000_i64,
            "identity": {"sourceIp": "203.0.113.9", "userAgent": "test"},
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            "apiId": "1234567890",
            "protocol": "HTTP/1.1",
            "domainName": "1234567890.execute-api.eu-west-1.amazonaws.com",
            "path": format!("/{stage}{path_only}")
        },
        "body": body,
        "isBase64Encoded": base64
    })
    .to_string()
}

/// An API Gateway HTTP API (v2) event. `raw_path` is as API Gateway puts it (with the
/// stage for a named stage).
pub fn apigw_v2_event(
    method: &str,
    raw_path: &str,
    raw_query: &str,
    stage: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
    base64: bool,
) -> String {
    let headers: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Value::from(*v)))
        .collect();
    serde_json::json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api-id",
            "domainName": "api-id.execute-api.eu-west-1.amazonaws.com",
            "domainPrefix": "api-id",
            "http": {"method": method, "path": raw_path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.9", "userAgent": "test"},
            "requestId": "JKJaXmPLvHcESHA=",
            "routeKey": "$default",
            "stage": stage,
            "time": "12/Mar/2026:19:03:58 +0000",
            "timeEpoch": 1_700_000_000_000_i64
        },
        "body": body,
        "isBase64Encoded": base64
    })
    .to_string()
}

/// Parses an API Gateway event with `lambda_http` (as the Lambda runtime does) and sends
/// it through the router the way `gateway::http::lambda::run` does.
pub async fn send_event(router: &Router, event: &str) -> Answer {
    let request = lambda_http::request::from_str(event).expect("a valid API Gateway event");
    let request = gateway::http::lambda::normalize(request);
    let response = router.clone().oneshot(request).await.expect("infallible");
    let (parts, body) = response.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap()
        .to_vec();
    Answer {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

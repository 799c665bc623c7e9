//! The enroll function (issuer side): the card-issuance 3DS API's routes, drop-in, plus
//! bulk enrollment, with each card's enrollment status kept in the store.
//!
//! [`build`] is the one composition root: the Lambda main, the local stack and the tests
//! all call it. [`routes`] is the one route table.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use gateway::clock::SharedClock;
use gateway::config::{
    API_GATEWAY_LIMIT, CardIssuanceSettings, ConfigError, Env, HttpSettings,
    STORE_OPERATION_TIMEOUT, SecretSettings, StoreSettings,
};
use gateway::http::{self, Envelope, HasTenants, Route};
use gateway::idempotency::Idempotency;
use gateway::keys::GatewayKeys;
use gateway::lease::LeaseSettings;
use gateway::platform::Platform;
use gateway::secrets::{Cached, SecretError};
use gateway::store::Kind;
use gateway::store::scope::TableScope;
use gateway::tenants::Registry;
use gateway::tenants::parts::RegistryPart;
use gateway::upstream::card_issuance::PATH_PREFIX;

mod batch;
mod cards;
mod contacts;
pub mod enroller;
mod idempotent;
mod ownership;
mod status;

pub use enroller::{CardLink, Enrolled, Enroller};

/// The parts of the tenant registry this function reads: a card program's own
/// card-issuance credentials (nothing of a merchant's).
pub const REGISTRY_PARTS: &[RegistryPart] = &[RegistryPart::CardIssuance];

/// The settings naming the secrets this function reads (and the template grants it).
pub const SECRET_SETTINGS: &[&str] = &[
    "TENANT_REGISTRY_SECRET_ID",
    "TENANT_CARD_ISSUANCE_SECRET_ID",
    "CARD_ISSUANCE_SECRET_ID",
    "ISSUER_KEYS_SECRET_ID",
];

/// The enroll function's share of the table: the cards' and cardholders' records and the
/// idempotency keys of the issuer's writes.
pub const TABLE_SCOPE: TableScope = TableScope {
    function: "enroll",
    reads: &[Kind::CardEnrollment, Kind::Cardholder, Kind::Idempotency],
    writes: &[Kind::CardEnrollment, Kind::Cardholder, Kind::Idempotency],
    queries: &[],
};

/// Settings of the enroll function.
#[derive(Debug, Clone)]
pub struct EnrollConfig {
    pub http: HttpSettings,
    pub store: StoreSettings,
    pub card_issuance: CardIssuanceSettings,
    pub secrets: SecretSettings,
    /// The gateway's card-issuance credentials (`CARD_ISSUANCE_SECRET_ID`).
    pub card_issuance_secret: String,
    /// The issuer side's own key set (`ISSUER_KEYS_SECRET_ID`): fingerprints of requests
    /// under an `Idempotency-Key` and their kept answers are keyed and sealed with them.
    /// Never the merchants' session keys: nothing here can open their card data.
    pub idempotency_keys_secret: String,
    /// The leases of `Idempotency-Key`s: checked at cold start against the longest
    /// upstream call made under one.
    pub lease: LeaseSettings,
    pub batch_concurrency: usize,
    /// When a bulk request answers, finished or not (`ENROLL_BATCH_DEADLINE_MS`).
    pub batch_deadline: Duration,
}

impl EnrollConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let http = HttpSettings::from_env(env)?;
        let lease = LeaseSettings::from_env(env)?;
        lease.check(http.call_budget())?;
        Ok(Self {
            http,
            lease,
            store: StoreSettings::from_env(env)?,
            card_issuance: CardIssuanceSettings::from_env(env)?,
            secrets: SecretSettings::from_env(env)?.holding(REGISTRY_PARTS)?,
            card_issuance_secret: env.required("CARD_ISSUANCE_SECRET_ID")?,
            idempotency_keys_secret: env.required("ISSUER_KEYS_SECRET_ID")?,
            batch_concurrency: env.ranged("ENROLL_BATCH_CONCURRENCY", 8, 1..=32)?,
            batch_deadline: batch_deadline(env)?,
        })
    }
}

/// A bulk request must answer before API Gateway gives up (29 s), its last item's store
/// write included.
fn batch_deadline(env: &Env) -> Result<Duration, ConfigError> {
    let deadline = env.millis("ENROLL_BATCH_DEADLINE_MS", 25_000)?;
    if deadline + STORE_OPERATION_TIMEOUT >= API_GATEWAY_LIMIT || deadline.is_zero() {
        return Err(ConfigError::Invalid {
            name: "ENROLL_BATCH_DEADLINE_MS",
            reason: "must leave a store write's time before API Gateway's 29 s".into(),
        });
    }
    Ok(deadline)
}

/// What the enroll function's handlers hold, built once per cold start.
struct EnrollApp {
    enroller: Enroller,
    batch_concurrency: usize,
    batch_deadline: Duration,
    clock: SharedClock,
    tenants: Cached<Registry>,
    idempotency_keys: Cached<GatewayKeys>,
    idempotency: Idempotency,
}

impl HasTenants for EnrollApp {
    fn tenants(&self) -> &Cached<Registry> {
        &self.tenants
    }
}

impl EnrollApp {
    fn today(&self) -> chrono::NaiveDate {
        gateway::clock::utc_date(self.clock.now_ms())
    }
}

/// The routes use the one enroller (its checks, calls and records) as their own.
impl std::ops::Deref for EnrollApp {
    type Target = Enroller;

    fn deref(&self) -> &Enroller {
        &self.enroller
    }
}

type State = Arc<EnrollApp>;

const ENROLL: &str = "/card/issuance/api/issuing/3ds/v2/enroll";
const ENROLL_BATCH: &str = "/card/issuance/api/issuing/3ds/v2/enroll/batch";
const UPDATE_ENROLLMENT: &str = "/card/issuance/api/issuing/3ds/v2/update";
const ENROLLMENT_DETAIL: &str = "/card/issuance/api/issuing/3ds/v2/detail";
const CREATE_CARDHOLDER: &str = "/card/issuance/api/issuing/cardholders/v2/create";
const UPDATE_CARDHOLDER: &str = "/card/issuance/api/issuing/cardholders/v2/update";
const QUERY_CARDHOLDERS: &str = "/card/issuance/api/issuing/cardholders/v2/detail";
const UNENROLL: &str = "/card/issuance/api/issuing/3ds/v2/unenroll";
const CARD_STATUS: &str = "/card/issuance/api/issuing/3ds/v2/status";
const CARD_STATUS_BATCH: &str = "/card/issuance/api/issuing/3ds/v2/status/batch";

/// The function's route table.
fn route_list() -> Vec<Route<State>> {
    vec![
        Route::post(ENROLL, cards::enroll),
        Route::post(ENROLL_BATCH, batch::enroll_batch),
        Route::post(UPDATE_ENROLLMENT, cards::update_enrollment),
        Route::get(ENROLLMENT_DETAIL, cards::enrollment_detail),
        Route::post(CREATE_CARDHOLDER, contacts::create_cardholder),
        Route::post(UPDATE_CARDHOLDER, contacts::update_cardholder),
        Route::get(QUERY_CARDHOLDERS, contacts::query_cardholders),
        Route::post(UNENROLL, cards::unenroll),
        Route::get(CARD_STATUS, status::card_status),
        Route::post(CARD_STATUS_BATCH, status::card_status_batch),
    ]
}

/// `(method, path)` of every route this function serves.
pub fn routes() -> Vec<http::routes::RouteKey> {
    http::routes::table(&route_list())
}

/// The enroll function's router: its routes, in the card-issuance API's error envelope.
/// Its secrets are read first: a missing or malformed one fails the cold start.
pub async fn build(config: &EnrollConfig, platform: &Platform) -> Result<Router, SecretError> {
    let platform = &platform.scoped(TABLE_SCOPE);
    debug_assert!(route_list().iter().all(|r| r.path.starts_with(PATH_PREFIX)));
    let secrets = &config.secrets;
    let app = EnrollApp {
        enroller: Enroller::new(
            &config.http,
            &config.card_issuance,
            &config.card_issuance_secret,
            secrets,
            platform,
        ),
        batch_concurrency: config.batch_concurrency,
        batch_deadline: config.batch_deadline,
        clock: platform.clock.clone(),
        tenants: platform.tenant_registry(secrets, REGISTRY_PARTS),
        idempotency_keys: platform.secret(&config.idempotency_keys_secret, secrets, ()),
        idempotency: Idempotency::new(
            platform.store.clone(),
            platform.clock.clone(),
            config.lease.clone(),
        ),
    };
    // All in one Secrets Manager round trip.
    gateway::secrets::load_all(&[
        &app.tenants,
        app.enroller.credentials(),
        &app.idempotency_keys,
    ])
    .await?;
    Ok(http::router(
        route_list(),
        Arc::new(app),
        Envelope::CardIssuance,
    ))
}

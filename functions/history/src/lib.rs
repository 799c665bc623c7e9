//! The history function: what happened, read back.
//!
//! * the events API, for every tenant (merchants and card programs alike, each in its own
//!   API's envelope): `GET /v1/events` and `POST /v1/events/{id}/redeliver`;
//! * a merchant's authentications: `GET /v1/risk/authentication`.
//!
//! These are the routes whose cost depends on what is asked (a listing, a redelivery),
//! so they run in a function of their own: however a tenant reads its history, the
//! checkout path (check-enroll) and the cardholder's return (callback) keep their
//! instances.
//!
//! [`build`] is the one composition root: the Lambda main, the local stack and the tests
//! all call it. [`routes`] is the one route table.

use std::sync::Arc;

use axum::Router;
use gateway::clock::SharedClock;
use gateway::config::{ConfigError, Env, SecretSettings, SessionSettings, StoreSettings};
use gateway::events::Events;
use gateway::events::queue::SharedQueue;
use gateway::events::redelivery::RedeliveryLimits;
use gateway::http::{self, Envelope, HasTenants, Route};
use gateway::platform::Platform;
use gateway::secrets::{Cached, SecretError};
use gateway::session::Sessions;
use gateway::store::scope::TableScope;
use gateway::store::{Index, Kind};
use gateway::tenants::Registry;
use gateway::tenants::parts::RegistryPart;

mod authentications;
mod events;

/// The parts of the tenant registry this function reads: none (the routing document:
/// who may list, and whether a tenant has a webhook).
pub const REGISTRY_PARTS: &[RegistryPart] = &[];

/// The settings naming the secrets this function reads (and the template grants it).
pub const SECRET_SETTINGS: &[&str] = &["TENANT_REGISTRY_SECRET_ID"];

/// The history function's share of the table: sessions and events read (through the
/// listing index), and a redelivery's mark on its event and count in its tenant's hour.
pub const TABLE_SCOPE: TableScope = TableScope {
    function: "history",
    reads: &[Kind::AuthenticationSession, Kind::Event],
    writes: &[Kind::Event, Kind::RedeliveryQuota],
    queries: &[Index::ByTenant],
};

/// Settings of the history function.
#[derive(Debug, Clone)]
pub struct HistoryConfig {
    pub store: StoreSettings,
    pub secrets: SecretSettings,
    pub session: SessionSettings,
    /// `DELIVERY_QUEUE_URL`: where redeliveries are queued (SQS).
    pub delivery_queue_url: String,
    /// `REDELIVERIES_PER_TENANT_PER_HOUR` (default 100).
    pub redeliveries: RedeliveryLimits,
}

impl HistoryConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            store: StoreSettings::from_env(env)?,
            secrets: SecretSettings::from_env(env)?.holding(REGISTRY_PARTS)?,
            session: SessionSettings::from_env(env)?,
            delivery_queue_url: env.required("DELIVERY_QUEUE_URL")?,
            redeliveries: RedeliveryLimits {
                per_tenant_per_hour: env.ranged(
                    "REDELIVERIES_PER_TENANT_PER_HOUR",
                    RedeliveryLimits::default().per_tenant_per_hour,
                    1..=10_000,
                )?,
                ..RedeliveryLimits::default()
            },
        })
    }
}

/// What the history handlers hold, built once per cold start.
struct HistoryApp {
    tenants: Cached<Registry>,
    sessions: Sessions,
    events: Events,
    /// Where redeliveries are queued.
    deliveries: Option<SharedQueue>,
    redeliveries: RedeliveryLimits,
    clock: SharedClock,
}

impl HasTenants for HistoryApp {
    fn tenants(&self) -> &Cached<Registry> {
        &self.tenants
    }
}

type State = Arc<HistoryApp>;

const AUTHENTICATIONS: &str = "/v1/risk/authentication";
const EVENTS: &str = "/v1/events";
const REDELIVER: &str = "/v1/events/{event_id}/redeliver";

/// The function's route table.
fn route_list() -> Vec<Route<State>> {
    vec![
        Route::get(AUTHENTICATIONS, authentications::list),
        Route::get(EVENTS, events::list),
        Route::post(REDELIVER, events::redeliver),
    ]
}

/// `(method, path)` of every route this function serves.
pub fn routes() -> Vec<http::routes::RouteKey> {
    http::routes::table(&route_list())
}

/// The history function's router: errors in each caller's own envelope. The tenant
/// registry is read first: a missing or malformed one fails the cold start.
pub async fn build(config: &HistoryConfig, platform: &Platform) -> Result<Router, SecretError> {
    let platform = &platform.scoped(TABLE_SCOPE);
    let app = HistoryApp {
        tenants: platform.tenant_registry(&config.secrets, REGISTRY_PARTS),
        sessions: Sessions::new(
            platform.store.clone(),
            platform.clock.clone(),
            config.session.clone(),
        ),
        events: Events::new(platform.store.clone()),
        deliveries: platform.deliveries.clone(),
        redeliveries: config.redeliveries,
        clock: platform.clock.clone(),
    };
    app.tenants.load().await?;
    Ok(http::router(
        route_list(),
        Arc::new(app),
        Envelope::CallersOwn,
    ))
}

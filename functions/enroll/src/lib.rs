//! The enroll function (issuer side): the card-issuance 3DS API's routes, drop-in, plus
//! bulk enrollment, with each card's enrollment status kept in the store.
//!
//! [`build`] is the one composition root: the Lambda main, the local stack and the tests
//! all call it. [`routes`] is the one route table.

use std::sync::Arc;

use axum::{Router, middleware};
use gateway::clock::SharedClock;
use gateway::config::{
    CardIssuanceSettings, ClientKeys, ConfigError, Env, HttpSettings, StoreSettings,
};
use gateway::enrollment::Enrollments;
use gateway::http::{self, HasClientKeys, Route};
use gateway::outbound::HttpClient;
use gateway::store::SharedStore;
use gateway::upstream::card_issuance::{CardIssuanceClient, PATH_PREFIX};

mod batch;
mod cards;
mod contacts;

/// Settings of the enroll function.
#[derive(Debug, Clone)]
pub struct EnrollConfig {
    pub http: HttpSettings,
    pub store: StoreSettings,
    pub card_issuance: CardIssuanceSettings,
    pub clients: ClientKeys,
    pub batch_concurrency: usize,
}

impl EnrollConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            http: HttpSettings::from_env(env)?,
            store: StoreSettings::from_env(env)?,
            card_issuance: CardIssuanceSettings::from_env(env)?,
            clients: ClientKeys::from_env(env)?,
            batch_concurrency: env.ranged("ENROLL_BATCH_CONCURRENCY", 8, 1..=32)?,
        })
    }
}

/// What the enroll function's handlers hold, built once per cold start.
struct EnrollApp {
    clients: ClientKeys,
    card_issuance: CardIssuanceClient,
    enrollments: Enrollments,
    batch_concurrency: usize,
    clock: SharedClock,
}

impl HasClientKeys for EnrollApp {
    fn client_keys(&self) -> &ClientKeys {
        &self.clients
    }
}

impl EnrollApp {
    fn today(&self) -> chrono::NaiveDate {
        gateway::clock::utc_date(self.clock.now_ms())
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
    ]
}

/// `(method, path)` of every route this function serves.
pub fn routes() -> Vec<http::routes::RouteKey> {
    http::routes::table(&route_list())
}

/// The enroll function's router: its routes, in the card-issuance API's error envelope.
pub fn build(config: &EnrollConfig, store: SharedStore, clock: SharedClock) -> Router {
    debug_assert!(route_list().iter().all(|r| r.path.starts_with(PATH_PREFIX)));
    let app = EnrollApp {
        clients: config.clients.clone(),
        card_issuance: CardIssuanceClient::new(
            HttpClient::new(config.http.clone()),
            &config.card_issuance,
        ),
        enrollments: Enrollments::new(store, clock.clone()),
        batch_concurrency: config.batch_concurrency,
        clock,
    };
    http::routes::assemble(route_list())
        .fallback(http::route_not_found)
        .method_not_allowed_fallback(http::method_not_allowed)
        .with_state(Arc::new(app))
        .layer(middleware::map_response(http::card_issuance_envelope))
        .layer(middleware::from_fn(http::request_span))
}

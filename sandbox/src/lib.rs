//! A stateful simulator of the gateway's two upstreams, for tests and local runs:
//!
//! * the Ahrvo card-issuance 3DS API (cardholder contacts, enrollments; the documented
//!   400/401/403/404/409, and 429 over 1000 requests per 10 s);
//! * the Firstoken payer-authentication API (setup, check enroll, validate) driven by the
//!   Cardinal sandbox test cards;
//! * Cardinal-style device-data and step-up pages, the step-up ending with a form POST of
//!   `TransactionId` and `MD` to the return URL.
//!
//! Every upstream call is recorded, and faults (latency, a status, a malformed body, a
//! dropped connection) can be injected per request, by rule or by header.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::routing::{delete, get};
use axum::{Json, Router, middleware};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

mod cardinal;
pub mod cards;
pub mod faults;
pub mod ids;
mod injection;
mod issuance;
pub mod jwt;
pub mod payer_auth;
pub mod server;
pub mod state;

pub use cards::{TEST_CARDS, TestCard};
pub use faults::{Fault, FaultRule, RecordedCall};
pub use state::{ChallengeStatus, SandboxConfig, SandboxState};

/// The whole sandbox as one router.
pub fn router(state: Arc<SandboxState>) -> Router {
    let upstreams = issuance::routes(state.config.unenroll_route)
        .merge(payer_auth::routes())
        .merge(cardinal::routes())
        .layer(middleware::from_fn_with_state(
            state.clone(),
            injection::record_and_inject,
        ));
    let admin = Router::new()
        .route("/__sandbox/calls", get(list_calls).delete(clear_calls))
        .route("/__sandbox/faults", delete(clear_faults).post(add_fault))
        .route("/__sandbox/health", get(|| async { "ok" }));
    upstreams.merge(admin).with_state(state)
}

async fn list_calls(State(state): State<Arc<SandboxState>>) -> Json<Vec<RecordedCall>> {
    Json(state.calls.lock().unwrap().clone())
}

async fn clear_calls(State(state): State<Arc<SandboxState>>) {
    state.calls.lock().unwrap().clear();
}

async fn add_fault(State(state): State<Arc<SandboxState>>, Json(rule): Json<FaultRule>) {
    state.faults.lock().unwrap().push(rule);
}

async fn clear_faults(State(state): State<Arc<SandboxState>>) {
    state.faults.lock().unwrap().clear();
}

/// A running sandbox; stops when dropped.
pub struct Sandbox {
    pub addr: SocketAddr,
    pub base_url: String,
    pub state: Arc<SandboxState>,
    task: JoinHandle<()>,
}

impl Sandbox {
    /// Binds `listen` (port 0 for any free port) and serves in the background.
    pub async fn start(config: SandboxConfig, listen: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let base_url = config
            .public_base_url
            .clone()
            .unwrap_or_else(|| format!("http://{addr}"));
        let state = Arc::new(SandboxState::new(config, base_url.clone()));
        let app = router(state.clone());
        let task = tokio::spawn(server::serve(listener, app, std::future::pending()));
        Ok(Self {
            addr,
            base_url,
            state,
            task,
        })
    }

    pub fn calls(&self) -> Vec<RecordedCall> {
        self.state.calls.lock().unwrap().clone()
    }

    /// Calls whose path ends with `suffix` (e.g. `3ds/v2/enroll`, `authentication/validate`).
    pub fn calls_to(&self, suffix: &str) -> Vec<RecordedCall> {
        self.calls()
            .into_iter()
            .filter(|c| c.path.ends_with(suffix))
            .collect()
    }

    /// Forgets the calls recorded so far.
    pub fn clear_calls(&self) {
        self.state.calls.lock().unwrap().clear();
    }

    pub fn inject(&self, rule: FaultRule) {
        self.state.faults.lock().unwrap().push(rule);
    }

    pub fn clear_faults(&self) {
        self.state.faults.lock().unwrap().clear();
    }

    /// The cardholder an enrolled card is linked to upstream.
    pub fn enrolled_cardholder(&self, card_id: &str) -> Option<String> {
        self.state
            .issuance
            .lock()
            .unwrap()
            .enrollments
            .get(card_id)
            .cloned()
    }

    /// Links a card upstream directly (as if enrolled outside the gateway).
    pub fn link_card(&self, card_id: &str, cardholder_id: &str) {
        self.state
            .issuance
            .lock()
            .unwrap()
            .enrollments
            .insert(card_id.into(), cardholder_id.into());
    }

    /// Seeds `n` bulk cards in each of the second and third budgets (a bulk job's run).
    pub fn seed_bulk_cards(&self, n: usize) {
        let mut world = self.state.issuance.lock().unwrap();
        for i in 0..n {
            world.cards.insert(
                state::seeded_card_id(i),
                state::Card::active(state::SECOND_BUDGET_ID),
            );
            world.cards.insert(
                state::seeded_third_card_id(i),
                state::Card::active(state::THIRD_BUDGET_ID),
            );
        }
    }

    /// Raises (or lowers) the card-issuance API's limit per 10 s.
    pub fn set_issuance_limit(&self, per_10s: usize) {
        self.state
            .issuance_limit
            .store(per_10s, std::sync::atomic::Ordering::SeqCst);
    }

    /// The most upstream requests the sandbox was handling at the same moment.
    pub fn max_in_flight(&self) -> usize {
        self.state
            .max_in_flight
            .load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.task.abort();
    }
}

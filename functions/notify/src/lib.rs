//! The notify function: the gateway's background work, on three event sources.
//!
//! * **The table's change stream** (DynamoDB Streams, new and old images): each change
//!   that is an event ([`gateway::events::event_of`]) is recorded once and, when the
//!   tenant has a webhook, queued for delivery. A change that fails is reported back by
//!   its sequence number, so the stream retries from there (nothing lost).
//! * **The delivery queue** (an SQS fair queue, each tenant a message group): each
//!   message is one delivery attempt, signed as Standard Webhooks says, with a short
//!   timeout; a failure makes the message visible again after the retry schedule's next
//!   delay (the attempt counted in the event), and the last marks the event `failed`.
//! * **The dead-letter queue**: a message that kept failing to be handled at all (never
//!   an attempt's failure) ends there; its event is marked `failed`.
//! * **A schedule** (EventBridge Scheduler, every minute): the sweeper expires abandoned
//!   challenges (whose `authentication.expired` events then come from the stream).

pub mod lambda;

use std::time::Duration;

use gateway::config::{ConfigError, Env, SecretSettings, SessionSettings, StoreSettings};
use gateway::events::queue::{DeliveryMessage, Purpose, RetrySchedule, SharedQueue};
use gateway::events::webhooks::{Deliverer, Delivery, DeliverySettings};
use gateway::events::{Change, Events, NewEvent, event_of};
use gateway::platform::Platform;
use gateway::secrets::{Cached, SecretError};
use gateway::session::Sessions;
use gateway::session::sweeper::{SweepLimits, Sweeper};
use gateway::store::StoreError;
use gateway::store::scope::TableScope;
use gateway::store::{Index, Kind};
use gateway::tenants::Registry;
use gateway::tenants::parts::RegistryPart;
use serde::Serialize;

/// The parts of the tenant registry this function reads: the webhook keys only. The one
/// function that calls tenant-controlled URLs holds no upstream credential and no
/// redirect key.
pub const REGISTRY_PARTS: &[RegistryPart] = &[RegistryPart::WebhookKeys];

/// The settings naming the secrets this function reads (and the template grants it).
pub const SECRET_SETTINGS: &[&str] =
    &["TENANT_REGISTRY_SECRET_ID", "TENANT_WEBHOOK_KEYS_SECRET_ID"];

/// The notify function's share of the table: the events it records and delivers, the
/// sessions the sweeper expires (through the deadline index) and the sweeper's cursor.
pub const TABLE_SCOPE: TableScope = TableScope {
    function: "notify",
    reads: &[Kind::Event, Kind::SweeperCursor],
    writes: &[
        Kind::Event,
        Kind::AuthenticationSession,
        Kind::SweeperCursor,
    ],
    queries: &[Index::ByDeadline],
};

/// Settings of the notify function.
#[derive(Debug, Clone)]
pub struct NotifyConfig {
    pub store: StoreSettings,
    pub secrets: SecretSettings,
    pub session: SessionSettings,
    /// `DELIVERY_QUEUE_URL`: where deliveries are queued (SQS).
    pub delivery_queue_url: String,
    /// `DELIVERY_DEAD_LETTER_QUEUE_ARN`: the records of this queue are dead letters.
    pub dead_letter_queue_arn: Option<String>,
    pub retry_schedule: RetrySchedule,
    /// `WEBHOOK_TIMEOUT_MS` (default 5 s, at most 10 s).
    pub webhook_timeout: Duration,
    /// `SWEEP_MINUTES_PER_RUN` (default 120): how many minutes of deadlines one sweep
    /// reads at most, and how far back the very first one looks.
    pub sweep_limits: SweepLimits,
}

impl NotifyConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let retry_schedule = match env.optional("WEBHOOK_RETRY_SCHEDULE_SECS") {
            None => RetrySchedule::standard(),
            Some(text) => RetrySchedule::parse(&text).map_err(|reason| ConfigError::Invalid {
                name: "WEBHOOK_RETRY_SCHEDULE_SECS",
                reason,
            })?,
        };
        Ok(Self {
            store: StoreSettings::from_env(env)?,
            secrets: SecretSettings::from_env(env)?.holding(REGISTRY_PARTS)?,
            session: SessionSettings::from_env(env)?,
            delivery_queue_url: env.required("DELIVERY_QUEUE_URL")?,
            dead_letter_queue_arn: env.optional("DELIVERY_DEAD_LETTER_QUEUE_ARN"),
            retry_schedule,
            webhook_timeout: Duration::from_millis(env.ranged(
                "WEBHOOK_TIMEOUT_MS",
                5_000,
                100..=10_000,
            )?),
            sweep_limits: SweepLimits {
                minutes_per_run: env.ranged("SWEEP_MINUTES_PER_RUN", 120, 2..=120)?,
                ..SweepLimits::default()
            },
        })
    }
}

/// What the handlers hold, built once per cold start.
pub struct NotifyApp {
    events: Events,
    queue: SharedQueue,
    tenants: std::sync::Arc<Cached<Registry>>,
    deliverer: Deliverer,
    sweeper: Sweeper,
    dead_letter_queue_arn: Option<String>,
}

/// Builds the app on `platform`, queuing deliveries on `queue`. The tenant registry is
/// read first: a missing or malformed one fails the cold start.
pub async fn build(
    config: &NotifyConfig,
    platform: &Platform,
    queue: SharedQueue,
) -> Result<NotifyApp, SecretError> {
    let platform = &platform.scoped(TABLE_SCOPE);
    let tenants = std::sync::Arc::new(platform.tenant_registry(&config.secrets, REGISTRY_PARTS));
    tenants.load().await?;
    let events = Events::new(platform.store.clone());
    Ok(NotifyApp {
        deliverer: Deliverer::new(
            events.clone(),
            tenants.clone(),
            platform.clock.clone(),
            DeliverySettings {
                timeout: config.webhook_timeout,
                schedule: config.retry_schedule.clone(),
                allow_loopback: config.secrets.allow_loopback_http,
            },
        ),
        events,
        queue,
        tenants,
        sweeper: Sweeper::with_limits(
            Sessions::new(
                platform.store.clone(),
                platform.clock.clone(),
                config.session.clone(),
            ),
            platform.store.clone(),
            config.sweep_limits,
        ),
        dead_letter_queue_arn: config.dead_letter_queue_arn.clone(),
    })
}

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error(transparent)]
    Queue(#[from] gateway::events::queue::QueueError),
}

/// What became of one delivery message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Delivered, given up on, or nothing to send: the message is done.
    Done,
    /// It comes back after the delay it was given.
    Again,
}

/// How long a delivery that could not be attempted at all (our store or registry
/// failed) waits before its message comes back: no attempt was made or counted.
const NOT_ATTEMPTED_RETRY: Duration = Duration::from_secs(30);

/// What a sweep answers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SweepReport {
    pub expired: usize,
    pub left: usize,
    pub skipped: usize,
    pub failed: usize,
    pub lag_minutes: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl NotifyApp {
    /// Records the event a change makes (once, whatever the stream's retries) and queues
    /// its delivery. Returns whether a new event was recorded.
    pub async fn on_change(&self, change: &Change) -> Result<bool, NotifyError> {
        let Some(event) = event_of(change) else {
            return Ok(false);
        };
        let registry = self.tenants.get().await?;
        let deliverable = registry
            .webhook_for(&event.tenant, event.kind.audience())
            .is_some();
        let recorded = self.events.record(&event, deliverable).await?;
        let queue_it = recorded || self.recorded_but_never_sent(&event).await?;
        if deliverable && queue_it {
            self.queue
                .enqueue(&DeliveryMessage {
                    tenant: event.tenant.clone(),
                    event_id: event.id.clone(),
                    purpose: Purpose::Delivery,
                })
                .await?;
        }
        if recorded {
            tracing::info!(
                event_type = event.kind.as_str(),
                deliverable,
                "event recorded"
            );
        }
        Ok(recorded)
    }

    /// The change came again (the stream retried a batch): if its event was recorded but
    /// never attempted, the earlier run may have stopped before queuing it. Queuing it
    /// twice is harmless (a delivered event is not sent again; receivers de-duplicate on
    /// `webhook-id`); not queuing it would lose it.
    async fn recorded_but_never_sent(&self, event: &NewEvent) -> Result<bool, StoreError> {
        Ok(self
            .events
            .get(&event.tenant, &event.id)
            .await?
            .is_some_and(|recorded| recorded.never_attempted()))
    }

    /// One delivery attempt for a queue message (`receipt` names this receive). A failure
    /// makes the message visible again after the schedule's next delay; the last ends it
    /// (the event is `failed`).
    pub async fn on_delivery(&self, message: &DeliveryMessage, receipt: &str) -> Outcome {
        let again = match self.deliverer.deliver(message).await {
            Ok(Delivery::Delivered | Delivery::Nothing | Delivery::Failed { retry_in: None }) => {
                return Outcome::Done;
            }
            Ok(Delivery::Failed {
                retry_in: Some(wait),
            }) => wait,
            Err(error) => {
                tracing::warn!(%error, "a delivery could not be attempted");
                NOT_ATTEMPTED_RETRY
            }
        };
        if let Err(error) = self.queue.retry_after(receipt, again).await {
            tracing::warn!(%error, "a failed delivery's next attempt could not be scheduled");
        }
        Outcome::Again
    }

    /// A message of the dead-letter queue: its event is marked `failed` (if it is still
    /// pending). Fails only when the store does (the message then comes back).
    pub async fn on_dead_letter(&self, message: &DeliveryMessage) -> Result<(), StoreError> {
        if self
            .events
            .mark_failed(&message.tenant, &message.event_id)
            .await?
        {
            tracing::warn!("a delivery was dead-lettered: its event is marked failed");
        }
        Ok(())
    }

    /// Whether records from `source_arn` are dead letters.
    pub fn is_dead_letter_queue(&self, source_arn: Option<&str>) -> bool {
        source_arn.is_some_and(|arn| self.dead_letter_queue_arn.as_deref() == Some(arn))
    }

    /// Expires the abandoned challenges due now. A run that could not start is reported
    /// (the next one, a minute later, starts from the same cursor).
    pub async fn sweep(&self) -> SweepReport {
        match self.sweeper.sweep().await {
            Ok(swept) => SweepReport {
                expired: swept.expired,
                left: swept.left,
                skipped: swept.skipped,
                failed: swept.failed,
                lag_minutes: swept.lag_minutes,
                error: None,
            },
            Err(error) => {
                tracing::error!(%error, "the sweep could not read its cursor");
                SweepReport {
                    expired: 0,
                    left: 0,
                    skipped: 0,
                    failed: 1,
                    lag_minutes: 0,
                    error: Some("the sweep could not read its cursor".into()),
                }
            }
        }
    }
}

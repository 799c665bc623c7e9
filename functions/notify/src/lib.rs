//! The notify function: the gateway's background work, on three event sources.
//!
//! * **The table's change stream** (DynamoDB Streams, new and old images): each change
//!   that is an event ([`gateway::events::event_of`]) is recorded once and, when the
//!   tenant has a webhook, queued for delivery. A change that fails is reported back by
//!   its sequence number, so the stream retries from there (nothing lost).
//! * **The delivery queue** (SQS): each message is one delivery attempt, signed as
//!   Standard Webhooks says; a failure makes the message visible again after the retry
//!   schedule's next delay, and after the last the redrive policy moves it to the
//!   dead-letter queue.
//! * **A schedule** (EventBridge Scheduler, every minute): the sweeper expires abandoned
//!   challenges (whose `authentication.expired` events then come from the stream).

pub mod lambda;

use std::time::Duration;

use gateway::config::{ConfigError, Env, SecretSettings, SessionSettings, StoreSettings};
use gateway::events::queue::{DeliveryMessage, Purpose, RetrySchedule, SharedQueue};
use gateway::events::webhooks::{Deliverer, Delivery, Schedule};
use gateway::events::{Change, Events, NewEvent, event_of};
use gateway::platform::Platform;
use gateway::secrets::{Cached, SecretError};
use gateway::session::Sessions;
use gateway::session::sweeper::Sweeper;
use gateway::store::StoreError;
use gateway::tenants::Registry;
use serde::Serialize;

/// Settings of the notify function.
#[derive(Debug, Clone)]
pub struct NotifyConfig {
    pub store: StoreSettings,
    pub secrets: SecretSettings,
    pub session: SessionSettings,
    /// `DELIVERY_QUEUE_URL`: where deliveries are queued (SQS).
    pub delivery_queue_url: String,
    pub retry_schedule: RetrySchedule,
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
            secrets: SecretSettings::from_env(env)?,
            session: SessionSettings::from_env(env)?,
            delivery_queue_url: env.required("DELIVERY_QUEUE_URL")?,
            retry_schedule,
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
    retry_schedule: RetrySchedule,
}

/// Builds the app on `platform`, queuing deliveries on `queue`. The tenant registry is
/// read first: a missing or malformed one fails the cold start.
pub async fn build(
    config: &NotifyConfig,
    platform: &Platform,
    queue: SharedQueue,
) -> Result<NotifyApp, SecretError> {
    let tenants = std::sync::Arc::new(platform.tenant_registry(&config.secrets));
    tenants.load().await?;
    let events = Events::new(platform.store.clone());
    Ok(NotifyApp {
        deliverer: Deliverer::new(
            events.clone(),
            tenants.clone(),
            platform.clock.clone(),
            config.secrets.allow_loopback_http,
        ),
        events,
        queue,
        tenants,
        sweeper: Sweeper::new(
            Sessions::new(
                platform.store.clone(),
                platform.clock.clone(),
                config.session.clone(),
            ),
            platform.store.clone(),
        ),
        retry_schedule: config.retry_schedule.clone(),
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
    /// Delivered, or nothing to send: the message is done.
    Done,
    /// It comes back (after the delay it was given), or goes to the dead-letter queue
    /// when its schedule ran out.
    Again,
}

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

    /// One delivery attempt for a queue message received for the `receive_count`-th
    /// time (`receipt` names the receive). A failure makes the message visible again
    /// after the schedule's next delay; after the last it is visible at once, so the
    /// queue's next receive moves it to the dead-letter queue.
    pub async fn on_delivery(
        &self,
        message: &DeliveryMessage,
        receive_count: u32,
        receipt: &str,
    ) -> Outcome {
        let next = self.retry_schedule.after_attempt(receive_count);
        let schedule = match next {
            Some(_) => Schedule::MoreToCome,
            None => Schedule::LastAttempt,
        };
        let again = match self.deliverer.deliver(message, schedule).await {
            Ok(Delivery::Delivered | Delivery::Nothing) => return Outcome::Done,
            Ok(Delivery::Failed) => next.unwrap_or(Duration::ZERO),
            Err(error) => {
                // Our own fault (the store, the registry): try again soon, within the
                // schedule.
                tracing::warn!(%error, "a delivery could not be attempted");
                next.unwrap_or_default().min(Duration::from_secs(60))
            }
        };
        if let Err(error) = self.queue.retry_after(receipt, again).await {
            tracing::warn!(%error, "a failed delivery's next attempt could not be scheduled");
        }
        Outcome::Again
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

//! The delivery queue: one message per delivery wanted (an event just recorded, or a
//! redelivery asked for). At least once: a message is removed only after a delivery
//! succeeded or its retry schedule ran out (then it goes to the dead-letter queue).
//!
//! On AWS it is an SQS fair queue, each tenant its own message group: a failed delivery
//! makes its message visible again after the schedule's next delay
//! (`ChangeMessageVisibility`); which attempt is next is counted in the event, not by
//! receives, and the redrive policy's `maxReceiveCount` is above the attempts, so only a
//! message that keeps failing to be handled at all reaches the dead-letter queue (whose
//! consumer marks its event `failed`). Off AWS the loopback crate's in-process queue has
//! the same semantics.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::domain::TenantId;

/// Why a delivery is wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Purpose {
    /// The event was just recorded: delivered once, and not again once delivered.
    #[default]
    Delivery,
    /// The tenant asked for it again: sent even if it was delivered before.
    Redelivery,
}

/// What a queue message asks for. (On the wire, `redelivery` is a boolean: messages
/// queued by any version read alike.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryMessage {
    pub tenant: TenantId,
    pub event_id: String,
    #[serde(default, rename = "redelivery", with = "purpose_flag")]
    pub purpose: Purpose,
}

mod purpose_flag {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::Purpose;

    pub fn serialize<S: Serializer>(purpose: &Purpose, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bool(*purpose == Purpose::Redelivery)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Purpose, D::Error> {
        Ok(if bool::deserialize(deserializer)? {
            Purpose::Redelivery
        } else {
            Purpose::Delivery
        })
    }
}

pub use crate::queue::{Message, Queue, QueueError, SqsQueue};

impl Message for DeliveryMessage {
    /// A fair queue's message group: the tenant.
    fn group(&self) -> &str {
        self.tenant.as_str()
    }
}

/// The delivery queue: a queue of [`DeliveryMessage`]s.
pub trait DeliveryQueue: Queue<DeliveryMessage> {}

impl<T: Queue<DeliveryMessage> + ?Sized> DeliveryQueue for T {}

pub type SharedQueue = std::sync::Arc<dyn DeliveryQueue>;

/// When a failed delivery is tried again: after the `n`-th receive fails, wait
/// `schedule[n - 1]`; past its end, the message goes to the dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule(pub Vec<Duration>);

impl RetrySchedule {
    /// 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h: eight attempts over about 28 hours.
    pub fn standard() -> Self {
        Self(
            [5, 300, 1_800, 7_200, 18_000, 36_000, 36_000]
                .into_iter()
                .map(Duration::from_secs)
                .collect(),
        )
    }

    /// `WEBHOOK_RETRY_SCHEDULE_SECS`: comma-separated seconds (each at most 12 h, SQS's
    /// longest visibility timeout).
    pub fn parse(text: &str) -> Result<Self, String> {
        let delays: Result<Vec<Duration>, String> = text
            .split(',')
            .map(|part| {
                let secs: u64 = part
                    .trim()
                    .parse()
                    .map_err(|_| "must be comma-separated whole seconds".to_owned())?;
                if secs > 43_200 {
                    return Err("each delay must be at most 43200 s (12 h)".into());
                }
                Ok(Duration::from_secs(secs))
            })
            .collect();
        let delays = delays?;
        if delays.is_empty() {
            return Err("must name at least one delay".into());
        }
        Ok(Self(delays))
    }

    /// The wait after the `receive_count`-th attempt failed, or `None`: give up.
    pub fn after_attempt(&self, receive_count: u32) -> Option<Duration> {
        self.0.get(receive_count.checked_sub(1)? as usize).copied()
    }

    /// Attempts in all: the first and one per delay.
    pub fn attempts(&self) -> u32 {
        self.0.len() as u32 + 1
    }

    /// The redrive policy's `maxReceiveCount` for this schedule: its attempts and
    /// [`RetrySchedule::SPARE_RECEIVES`] receives that make none (a throttled or
    /// crashed invocation, a store fault), so such a receive never costs an attempt.
    pub fn max_receive_count(&self) -> u32 {
        self.attempts() + Self::SPARE_RECEIVES
    }

    pub const SPARE_RECEIVES: u32 = 5;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standard_schedule_spans_more_than_a_day() {
        let schedule = RetrySchedule::standard();
        let total: Duration = schedule.0.iter().sum();
        assert!(total >= Duration::from_secs(24 * 3600), "{total:?}");
        assert_eq!(schedule.attempts(), 8);
        assert_eq!(schedule.after_attempt(1), Some(Duration::from_secs(5)));
        assert_eq!(schedule.after_attempt(8), None);
        assert!(RetrySchedule::parse("0,1,50000").is_err());
        assert_eq!(
            RetrySchedule::parse("0, 1").unwrap().0,
            [Duration::ZERO, Duration::from_secs(1)]
        );
    }
}

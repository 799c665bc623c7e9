//! Time as a dependency, so expiry and leases can be tested without sleeping.

use std::sync::Arc;

pub trait Clock: Send + Sync {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;
}

pub type SharedClock = Arc<dyn Clock>;

struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        chrono::Utc::now().timestamp_millis()
    }
}

pub fn system() -> SharedClock {
    Arc::new(SystemClock)
}

#[cfg(any(test, feature = "test-support"))]
pub use offset::OffsetClock;

#[cfg(any(test, feature = "test-support"))]
mod offset {
    use std::sync::atomic::{AtomicI64, Ordering};

    use super::{Clock, SystemClock};

    /// System time plus an offset that tests move forward.
    #[derive(Default)]
    pub struct OffsetClock {
        offset_ms: AtomicI64,
    }

    impl OffsetClock {
        pub fn advance(&self, by: std::time::Duration) {
            self.offset_ms
                .fetch_add(by.as_millis() as i64, Ordering::SeqCst);
        }
    }

    impl Clock for OffsetClock {
        fn now_ms(&self) -> i64 {
            SystemClock.now_ms() + self.offset_ms.load(Ordering::SeqCst)
        }
    }
}

/// The UTC calendar date of an instant (for "is this expiry in the past?").
pub fn utc_date(epoch_ms: i64) -> chrono::NaiveDate {
    chrono::DateTime::from_timestamp_millis(epoch_ms)
        .unwrap_or_default()
        .date_naive()
}

/// RFC 3339 (UTC, seconds) for responses.
pub fn rfc3339(epoch_ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(epoch_ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

//! The injected clock. Nothing below the façade calls `SystemTime::now()`: tests set the time.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use time::OffsetDateTime;

/// A source of the current time.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Now, in UTC.
    fn now(&self) -> OffsetDateTime;

    /// Wait until `at` (returns at once when it has passed). The agent sleeps through this, so
    /// a test clock can jump instead of waiting. By default: a tokio timer for the distance
    /// from [`Clock::now`], which follows wall-clock jumps only at the next wake-up.
    fn sleep_until(&self, at: OffsetDateTime) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        let wait = (at - self.now()).max(time::Duration::ZERO);
        let wait = std::time::Duration::try_from(wait).unwrap_or(std::time::Duration::ZERO);
        Box::pin(tokio::time::sleep(wait))
    }
}

/// The operating system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that stands still until moved; for tests and simulations.
#[derive(Debug)]
pub struct FixedClock {
    now: Mutex<OffsetDateTime>,
}

impl FixedClock {
    /// A clock showing `now`.
    pub fn new(now: OffsetDateTime) -> Self {
        Self { now: Mutex::new(now) }
    }

    /// Move the clock to `now`.
    pub fn set(&self, now: OffsetDateTime) {
        *self.now.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = now;
    }

    /// Move the clock forward by `by`.
    pub fn advance(&self, by: time::Duration) {
        let mut now = self.now.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *now += by;
    }
}

impl Clock for FixedClock {
    fn now(&self) -> OffsetDateTime {
        *self.now.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Simulated time: jump forward to `at` (never back) and return after one yield, so an
    /// agent driven by this clock lives through days of schedules in milliseconds.
    fn sleep_until(&self, at: OffsetDateTime) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        {
            let mut now = self.now.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if at > *now {
                *now = at;
            }
        }
        Box::pin(tokio::task::yield_now())
    }
}

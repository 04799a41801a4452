//! When a certificate is due for renewal, and why: an ordered chain of named, pure checks, after
//! cert-manager's `policies.Chain`. The first check that fires gives the [`RenewalReason`], so
//! the inventory can always say *why* a certificate is due. Times are arguments; nothing here
//! reads a clock.

use std::fmt;

use serde::Serialize;
use time::{Duration, OffsetDateTime};

use crate::model::{CertificateRecord, CertificateState};

/// Decides, from a record and the time, whether and why renewal is due.
pub trait LifecyclePolicy: Send + Sync + fmt::Debug {
    /// `Some(reason)` when `record` should be renewed at `now`.
    fn renewal_due(&self, record: &CertificateRecord, now: OffsetDateTime)
    -> Option<RenewalReason>;
}

/// Why a certificate is due: the check that fired and a sentence for people.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RenewalReason {
    /// The check's name: `expired`, `daysBeforeExpiry`, `fixedDate`, `lifetimePercentage`.
    pub check: &'static str,
    /// What the check saw, e.g. "expires 2026-05-01 ..., within 7 days".
    pub message: String,
}

/// One named renewal check.
pub trait RenewalCheck: Send + Sync + fmt::Debug {
    /// The check's stable name, reported in [`RenewalReason::check`].
    fn name(&self) -> &'static str;

    /// When this check starts to fire for `record`, if it is time-based.
    fn due_at(&self, record: &CertificateRecord) -> Option<OffsetDateTime>;

    /// `Some(message)` when the check fires at `now`. By default: when `now >= due_at`.
    fn evaluate(&self, record: &CertificateRecord, now: OffsetDateTime) -> Option<String> {
        self.due_at(record)
            .filter(|at| now >= *at)
            .map(|at| format!("renewal due since {at} (notAfter {})", record.not_after))
    }
}

/// Fires once the certificate has expired (`notAfter <= now`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Expired;

/// Fires `days` days before notAfter. Without `days`, the record's own `renewBeforeDays`, and
/// without that one third of the lifetime (renew at two thirds, as cert-manager does). A
/// renew-before as long as the lifetime or longer also falls back to one third, so a short
/// certificate is not renewed in a loop.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DaysBeforeExpiry {
    /// Days before notAfter; `None` for the record's setting or a third of the lifetime.
    pub days: Option<u32>,
}

/// Fires on and after a fixed date (e.g. a planned CA migration).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FixedDate {
    /// The date.
    pub at: OffsetDateTime,
}

/// Fires once `percent` % of the lifetime (notBefore to notAfter) has elapsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LifetimePercentage {
    /// 1 to 100.
    pub percent: u8,
}

/// Renewal checks run in order; the first that fires gives the reason. Only certificates in a
/// live, issued state (`issued`, `deployed`) that have not been renewed already are considered.
#[derive(Debug)]
pub struct RenewalChain(pub Vec<Box<dyn RenewalCheck>>);

impl DaysBeforeExpiry {
    fn window(&self, record: &CertificateRecord) -> Duration {
        let lifetime = record.not_after - record.not_before;
        let days = self.days.or(record.renew_before_days);
        match days.map(|d| Duration::days(i64::from(d))) {
            Some(window) if window < lifetime => window,
            _ => lifetime / 3,
        }
    }
}

impl RenewalChain {
    /// A chain of `checks`, run in order.
    pub fn new(checks: Vec<Box<dyn RenewalCheck>>) -> Self {
        Self(checks)
    }

    /// `expired`, then `daysBeforeExpiry` with `renew_before_days` (see [`DaysBeforeExpiry`]).
    pub fn default_for(renew_before_days: Option<u32>) -> Self {
        Self(vec![Box::new(Expired), Box::new(DaysBeforeExpiry { days: renew_before_days })])
    }

    /// This chain with `check` appended.
    pub fn with(mut self, check: impl RenewalCheck + 'static) -> Self {
        self.0.push(Box::new(check));
        self
    }

    /// The names of the checks, in order.
    pub fn names(&self) -> Vec<&'static str> {
        self.0.iter().map(|c| c.name()).collect()
    }

    /// The earliest time a time-based check fires for `record` (for scheduling), or `None`
    /// when the record is not renewable.
    pub fn next_renewal(&self, record: &CertificateRecord) -> Option<OffsetDateTime> {
        if !renewable(record) {
            return None;
        }
        self.0.iter().filter_map(|c| c.due_at(record)).min()
    }
}

/// Whether the chain looks at `record` at all.
fn renewable(record: &CertificateRecord) -> bool {
    matches!(record.state, CertificateState::Issued | CertificateState::Deployed)
        && record.renewed_by.is_none()
}

impl Default for RenewalChain {
    /// [`RenewalChain::default_for`] with no renew-before setting.
    fn default() -> Self {
        Self::default_for(None)
    }
}

impl LifecyclePolicy for RenewalChain {
    fn renewal_due(
        &self,
        record: &CertificateRecord,
        now: OffsetDateTime,
    ) -> Option<RenewalReason> {
        if !renewable(record) {
            return None;
        }
        self.0.iter().find_map(|check| {
            check
                .evaluate(record, now)
                .map(|message| RenewalReason { check: check.name(), message })
        })
    }
}

impl RenewalCheck for Expired {
    fn name(&self) -> &'static str {
        "expired"
    }

    fn due_at(&self, record: &CertificateRecord) -> Option<OffsetDateTime> {
        Some(record.not_after)
    }

    fn evaluate(&self, record: &CertificateRecord, now: OffsetDateTime) -> Option<String> {
        (record.not_after <= now).then(|| format!("expired at {}", record.not_after))
    }
}

impl RenewalCheck for DaysBeforeExpiry {
    fn name(&self) -> &'static str {
        "daysBeforeExpiry"
    }

    fn due_at(&self, record: &CertificateRecord) -> Option<OffsetDateTime> {
        Some(record.not_after - self.window(record))
    }

    fn evaluate(&self, record: &CertificateRecord, now: OffsetDateTime) -> Option<String> {
        let window = self.window(record);
        (now >= record.not_after - window).then(|| {
            format!(
                "expires at {}, within the renew-before window of {} hours",
                record.not_after,
                window.whole_hours()
            )
        })
    }
}

impl RenewalCheck for FixedDate {
    fn name(&self) -> &'static str {
        "fixedDate"
    }

    fn due_at(&self, _record: &CertificateRecord) -> Option<OffsetDateTime> {
        Some(self.at)
    }

    fn evaluate(&self, _record: &CertificateRecord, now: OffsetDateTime) -> Option<String> {
        (now >= self.at).then(|| format!("scheduled renewal date {} reached", self.at))
    }
}

impl RenewalCheck for LifetimePercentage {
    fn name(&self) -> &'static str {
        "lifetimePercentage"
    }

    fn due_at(&self, record: &CertificateRecord) -> Option<OffsetDateTime> {
        let lifetime = record.not_after - record.not_before;
        let elapsed = lifetime.whole_seconds().saturating_mul(i64::from(self.percent.min(100)));
        Some(record.not_before + Duration::seconds(elapsed / 100))
    }

    fn evaluate(&self, record: &CertificateRecord, now: OffsetDateTime) -> Option<String> {
        self.due_at(record).filter(|at| now >= *at).map(|_| {
            format!("{}% of the lifetime has elapsed (notAfter {})", self.percent, record.not_after)
        })
    }
}

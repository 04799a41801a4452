//! The agent: the loop that keeps managed certificates alive by itself. It wakes at the
//! earliest due schedule (or at least every `idle_wake`), expires what has passed its
//! notAfter, runs one [`Certloop::sweep`], and sleeps again through the injected clock, so a
//! test drives a year of schedules in a second and production waits on real timers.
//!
//! Stopping: [`Agent::run`] returns when its `shutdown` future completes (the CLI passes
//! SIGTERM/SIGINT); the sweep in progress finishes first, so no work is cut in half (and
//! what a killed agent had claimed is retried once its claim expires, never done twice: a
//! renewal commits atomically, fenced by the claim).

use std::future::Future;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use time::{Duration, OffsetDateTime};

use crate::clock::Clock;
use crate::error::Result;
use crate::{Certloop, SweepOptions, SweepReport};

/// How the agent runs.
#[derive(Clone, Debug)]
pub struct AgentOptions {
    /// Each sweep's settings (owner name, claims, retries).
    pub sweep: SweepOptions,
    /// Wake at least this often even when nothing is due (expiry checks, notifications).
    pub idle_wake: Duration,
    /// After a store error, wait this long before trying again.
    pub error_pause: Duration,
    /// Run [`Certloop::rediscover`] this often (and on the first pass); `None`: never.
    pub rediscover_every: Option<Duration>,
}

impl Default for AgentOptions {
    fn default() -> Self {
        Self {
            sweep: SweepOptions::default(),
            idle_wake: Duration::hours(1),
            error_pause: Duration::minutes(1),
            rediscover_every: None,
        }
    }
}

/// What an agent run did, over all its sweeps.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentSummary {
    /// Sweeps run.
    pub sweeps: u64,
    /// Inventory certificates moved to `expired`.
    pub expired: usize,
    /// Everything the sweeps did.
    pub work: SweepReport,
    /// Sweeps that failed on a store error (retried after `error_pause`).
    pub errors: u64,
    /// Rediscovery passes run.
    pub rediscoveries: u64,
    /// Places found drifted over those passes (each also an audit event).
    pub drifts: usize,
}

/// The lifecycle agent over one [`Certloop`].
#[derive(Clone, Debug)]
pub struct Agent {
    certloop: Certloop,
    clock: Arc<dyn Clock>,
    options: AgentOptions,
    /// When rediscovery last ran.
    rediscovered_at: Arc<Mutex<Option<OffsetDateTime>>>,
}

impl Agent {
    /// An agent over `certloop`, sleeping on its clock (see [`Certloop::with_clock`]).
    pub fn new(certloop: Certloop, options: AgentOptions) -> Self {
        let clock = certloop.clock();
        Self { certloop, clock, options, rediscovered_at: Arc::default() }
    }

    /// One pass, for cron and CI (`certloop agent --once`): expire, sweep what is due, then
    /// rediscover when that is due.
    pub async fn run_once(&self) -> Result<AgentSummary> {
        let expired = self.certloop.expire_overdue().await?.len();
        let work = self.certloop.sweep(&self.options.sweep).await?;
        let mut summary = AgentSummary { sweeps: 1, expired, work, ..AgentSummary::default() };
        if let Some(at) = self.rediscovery_due_at() {
            let now = self.clock.now();
            if at <= now {
                let report = self.certloop.rediscover().await?;
                for drift in &report.drifts {
                    tracing::warn!(certificate = %drift.certificate_id, "{}", drift.detail);
                }
                summary.rediscoveries = 1;
                summary.drifts = report.drifts.len();
                if let Ok(mut last) = self.rediscovered_at.lock() {
                    *last = Some(now);
                }
            }
        }
        Ok(summary)
    }

    /// When the next rediscovery is due: now when it has not run yet.
    fn rediscovery_due_at(&self) -> Option<OffsetDateTime> {
        let every = self.options.rediscover_every?;
        let last = self.rediscovered_at.lock().ok().and_then(|last| *last);
        Some(last.map_or_else(|| self.clock.now(), |last| last + every))
    }

    /// Run until `shutdown` completes.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) -> AgentSummary {
        self.run_inner(shutdown, None).await
    }

    /// Run until the clock reaches `deadline` (simulations and tests with an injected clock).
    pub async fn run_until(&self, deadline: OffsetDateTime) -> AgentSummary {
        self.run_inner(std::future::pending(), Some(deadline)).await
    }

    async fn run_inner(
        &self,
        shutdown: impl Future<Output = ()>,
        deadline: Option<OffsetDateTime>,
    ) -> AgentSummary {
        let mut summary = AgentSummary::default();
        tokio::pin!(shutdown);
        loop {
            let wake = match self.run_once().await {
                Ok(pass) => {
                    summary.sweeps += 1;
                    summary.expired += pass.expired;
                    summary.work.add(pass.work);
                    summary.rediscoveries += pass.rediscoveries;
                    summary.drifts += pass.drifts;
                    self.next_wake().await
                }
                Err(e) => {
                    summary.errors += 1;
                    tracing::warn!(error = %e, "agent sweep failed; retrying later");
                    self.clock.now() + self.options.error_pause
                }
            };
            let now = self.clock.now();
            if deadline.is_some_and(|d| now >= d) {
                return summary;
            }
            let wake = match deadline {
                Some(d) => wake.min(d),
                None => wake,
            };
            tokio::select! {
                () = &mut shutdown => return summary,
                () = self.clock.sleep_until(wake) => {}
            }
        }
    }

    /// The earliest due schedule, at most `idle_wake` away; never sooner than a second (work
    /// another agent holds stays due until its claim expires).
    async fn next_wake(&self) -> OffsetDateTime {
        let now = self.clock.now();
        let idle = now + self.options.idle_wake;
        let due = match self.certloop.next_due_at().await {
            Ok(due) => due.unwrap_or(idle),
            Err(_) => now + self.options.error_pause,
        };
        let due = match self.rediscovery_due_at() {
            Some(rediscover) => due.min(rediscover),
            None => due,
        };
        due.min(idle).max(now + Duration::SECOND)
    }
}

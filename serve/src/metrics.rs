//! `GET /metrics` in Prometheus' text format: certificates by state, how soon they expire,
//! renewals and deployments that succeeded and failed (from the audit log, so the figures
//! count every agent and process sharing the store, not only this server), and this server's
//! requests by status.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use certloop::Certloop;
use certloop::model::{AuditAction, AuditEvent, AuditOutcome, CertificateState};
use certloop::store::{AuditQuery, CertificateQuery};
use time::{Duration, OffsetDateTime};

use crate::{ApiError, AppState};

/// States reported (every one but `deleted`).
const STATES: [CertificateState; 10] = [
    CertificateState::Discovered,
    CertificateState::Managed,
    CertificateState::Ordered,
    CertificateState::PendingValidation,
    CertificateState::Issued,
    CertificateState::Deployed,
    CertificateState::Failed,
    CertificateState::Revoked,
    CertificateState::Suspended,
    CertificateState::Expired,
];
/// Horizons of `certloop_certificates_expiring`.
const EXPIRY_DAYS: [i64; 4] = [1, 7, 30, 90];
/// Audit events read per page, and at most per scrape (the rest waits for the next one).
const AUDIT_PAGE: u32 = 10_000;
const AUDIT_PER_SCRAPE: usize = 100_000;

pub(crate) fn routes() -> axum::Router<AppState> {
    axum::Router::new().route("/metrics", get(metrics)).route("/healthz", get(|| async { "ok" }))
}

/// What the server counts between scrapes.
#[derive(Default)]
pub(crate) struct Metrics {
    /// Requests answered, by status class (index 1 to 5 for 1xx to 5xx).
    requests: [AtomicU64; 6],
    /// Running totals over the audit log, and where reading stopped.
    audit: Mutex<AuditTotals>,
}

#[derive(Default)]
struct AuditTotals {
    last_sequence: i64,
    last_at: Option<OffsetDateTime>,
    renewals: [u64; 2],
    deploys: [u64; 2],
    by_action: BTreeMap<(String, &'static str), u64>,
}

impl Metrics {
    pub(crate) fn request(&self, status: StatusCode) {
        let class = usize::from(status.as_u16() / 100).min(5);
        self.requests[class].fetch_add(1, Ordering::Relaxed);
    }
}

impl AuditTotals {
    fn add(&mut self, event: &AuditEvent) {
        let ok = usize::from(event.outcome != AuditOutcome::Success);
        match event.action {
            // The one `renewed` event of each renewal is on the new certificate; the others of
            // the same renewal note on the old one what replaced it.
            AuditAction::Renewed if event.detail.starts_with("renewed ") => self.renewals[0] += 1,
            AuditAction::RenewalFailed => self.renewals[1] += 1,
            AuditAction::Deployed => self.deploys[ok] += 1,
            AuditAction::DeployFailed => self.deploys[1] += 1,
            _ => {}
        }
        let action = serde_json::to_value(event.action)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let outcome = if event.outcome == AuditOutcome::Success { "success" } else { "failure" };
        *self.by_action.entry((action, outcome)).or_default() += 1;
        self.last_sequence = event.sequence;
        self.last_at = Some(event.at);
    }
}

async fn metrics(State(app): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let certloop = &app.certloop;
    let mut out = String::with_capacity(4096);
    let by_state = states(certloop).await?;
    family(&mut out, "certloop_certificates", "gauge", "Certificates in the inventory by state.");
    for (state, count) in by_state {
        let _ = writeln!(out, "certloop_certificates{{state=\"{state}\"}} {count}");
    }

    let now = certloop.clock().now();
    let live = vec![CertificateState::Issued, CertificateState::Deployed];
    family(
        &mut out,
        "certloop_certificates_expiring",
        "gauge",
        "Issued and deployed certificates whose notAfter falls within the given days.",
    );
    for days in EXPIRY_DAYS {
        let query = CertificateQuery {
            states: live.clone(),
            expiring_before: Some(now + Duration::days(days)),
            ..CertificateQuery::default()
        };
        let count = certloop.count(&query).await?;
        let _ = writeln!(out, "certloop_certificates_expiring{{within_days=\"{days}\"}} {count}");
    }
    let soonest = CertificateQuery {
        states: live,
        expiring_before: Some(now + Duration::days(100 * 365)),
        limit: Some(1),
        ..CertificateQuery::default()
    };
    if let Some(first) = certloop.list(&soonest).await?.first() {
        family(
            &mut out,
            "certloop_certificate_soonest_expiry_days",
            "gauge",
            "Days until the first issued or deployed certificate expires (negative: expired).",
        );
        let days = (first.not_after - now).as_seconds_f64() / 86_400.0;
        let _ = writeln!(out, "certloop_certificate_soonest_expiry_days {days:.3}");
    }

    let totals = read_audit(&app).await?;
    for (name, help, values) in [
        ("certloop_renewals_total", "Renewals by result.", totals.0),
        ("certloop_deployments_total", "Deployments by result.", totals.1),
    ] {
        family(&mut out, name, "counter", help);
        let _ = writeln!(out, "{name}{{result=\"succeeded\"}} {}", values[0]);
        let _ = writeln!(out, "{name}{{result=\"failed\"}} {}", values[1]);
    }
    family(
        &mut out,
        "certloop_audit_events_total",
        "counter",
        "Audit events by action and outcome.",
    );
    for ((action, outcome), count) in totals.2 {
        let _ = writeln!(
            out,
            "certloop_audit_events_total{{action=\"{action}\",outcome=\"{outcome}\"}} {count}"
        );
    }

    family(&mut out, "certloop_http_requests_total", "counter", "API requests by status class.");
    for (class, counter) in app.metrics.requests.iter().enumerate().skip(1) {
        let count = counter.load(Ordering::Relaxed);
        let _ = writeln!(out, "certloop_http_requests_total{{status=\"{class}xx\"}} {count}");
    }
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out))
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

async fn states(certloop: &Certloop) -> Result<Vec<(String, u64)>, ApiError> {
    let mut counts = Vec::with_capacity(STATES.len());
    for state in STATES {
        let query = CertificateQuery { states: vec![state], ..CertificateQuery::default() };
        counts.push((state.to_string(), certloop.count(&query).await?));
    }
    Ok(counts)
}

type Totals = ([u64; 2], [u64; 2], BTreeMap<(String, &'static str), u64>);

/// Fold the audit events appended since the last scrape into the running totals.
async fn read_audit(app: &AppState) -> Result<Totals, ApiError> {
    let (mut since, mut last) = {
        let totals = app.metrics.audit.lock().unwrap_or_else(|p| p.into_inner());
        (totals.last_at, totals.last_sequence)
    };
    let mut read = 0;
    loop {
        let query = AuditQuery { since, limit: Some(AUDIT_PAGE), ..AuditQuery::default() };
        let events = app.certloop.audit_log(&query).await?;
        let full = events.len() == AUDIT_PAGE as usize;
        let mut totals = app.metrics.audit.lock().unwrap_or_else(|p| p.into_inner());
        // `since` is inclusive: skip what an earlier page or scrape counted.
        let floor = totals.last_sequence.max(last);
        for event in events.iter().filter(|e| e.sequence > floor) {
            totals.add(event);
            read += 1;
        }
        let advanced = totals.last_sequence > last;
        (since, last) = (totals.last_at, totals.last_sequence);
        drop(totals);
        if !full || !advanced || read >= AUDIT_PER_SCRAPE {
            break;
        }
    }
    let totals = app.metrics.audit.lock().unwrap_or_else(|p| p.into_inner());
    Ok((totals.renewals, totals.deploys, totals.by_action.clone()))
}

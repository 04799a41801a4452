//! The lifecycle engine end to end on the internal CA, driven by an injected clock: managed
//! certificates with mixed schedules live through 400 days under `Agent::run_until`, with a
//! healthy CA and with one that fails 30% of its calls; bad configurations are refused whole.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use certloop::ca::{CaConnector, Capabilities, CertificateOrder, Issued};
use certloop::clock::{Clock, FixedClock};
use certloop::lifecycle::agent::{Agent, AgentOptions};
use certloop::lifecycle::managed::{ConfigPatch, ManagedCertificate, ProvisioningConfig};
use certloop::model::{AuditAction, CertificateRecord, CertificateState, IssueRequest};
use certloop::store::{AuditQuery, CertificateQuery, ManagedQuery, MasterKey, Store};
use certloop::{Action, BatchOptions, Certloop, ErrorKind, ManageRequest};
use serde_json::json;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

every_store!(
    fifty_certificates_live_through_400_days,
    a_ca_failing_30_percent_of_calls_ends_the_same,
    bad_configurations_are_refused_naming_the_field_and_nothing_is_saved,
    bulk_configure_is_atomic_with_one_event_per_certificate,
    batch_rekey_and_actions_report_per_item_with_progress,
    an_agent_that_lost_its_claim_records_nothing_and_a_restarted_one_takes_its_work_back,
);

const START: OffsetDateTime = datetime!(2027-01-04 00:00 UTC);

struct World {
    certloop: Certloop,
    store: Arc<dyn Store>,
    clock: Arc<FixedClock>,
    scratch: common::Scratch,
}

async fn world(store: Arc<dyn Store>) -> World {
    let clock = Arc::new(FixedClock::new(START));
    let certloop = Certloop::with_store(store.clone(), MasterKey::generate().expect("key"))
        .expect("certloop")
        .with_clock(clock.clone())
        .with_actor("lifecycle-test");
    certloop.init_default().await.expect("default CA");
    World { certloop, store, clock, scratch: common::Scratch::new() }
}

impl World {
    /// A certificate issued now (90 days) with its key kept, and an nginx-type file target.
    async fn issued_with_target(&self, i: usize, profile: &str) -> (String, String) {
        let request: IssueRequest = serde_json::from_value(json!({
            "profileId": profile,
            "attributes": {"commonName": format!("svc-{i}.example.test"), "ttl": "90d",
                           "altNames": [{"type": "DNS", "value": format!("svc-{i}.example.test")}]},
            "manageKey": true,
        }))
        .expect("request");
        let issued = self.certloop.issue(request).await.expect("issue");
        let dir = self.scratch.path().join(format!("t{i}"));
        std::fs::create_dir_all(&dir).expect("target dir");
        let target = serde_json::from_value(json!({
            "name": format!("t{i}"), "type": "nginx",
            "certPath": dir.join("cert.pem"), "keyPath": dir.join("key.pem"),
        }))
        .expect("target");
        self.certloop.save_target(target).await.expect("save target");
        (issued.certificate_id, format!("t{i}"))
    }
}

/// Five kinds of schedule, across time zones with DST, weekly and monthly rules, windows.
fn mixed_config(i: usize, profile: &str, target: &str) -> serde_json::Value {
    let (renewal, deployment) = match i % 5 {
        0 => (
            json!({"trigger": {"type": "daysBeforeExpiry", "days": 30},
                   "check": {"frequency": "daily", "time": "03:00", "timeZone": "Europe/Berlin"}}),
            json!({"when": {"type": "immediately"}}),
        ),
        1 => (
            json!({"trigger": {"type": "daysBeforeExpiry", "days": 45},
                   "check": {"frequency": "weekly", "weekday": "sunday", "time": "02:30",
                             "timeZone": "America/New_York"}}),
            json!({"when": {"type": "window", "frequency": "daily", "time": "01:00",
                            "timeZone": "Asia/Tokyo", "durationMinutes": 120}}),
        ),
        2 => (
            json!({"trigger": {"type": "lifetimePercentage", "percent": 60},
                   "check": {"frequency": "daily", "time": "12:00", "timeZone": "UTC"}}),
            json!({"when": {"type": "window", "frequency": "weekly", "weekday": 6,
                            "time": "22:00", "timeZone": "Europe/London",
                            "durationMinutes": 180}}),
        ),
        3 => (
            json!({"trigger": {"type": "daysBeforeExpiry", "days": 50},
                   "check": {"frequency": "monthly", "dayOfMonth": 31, "time": "04:00",
                             "timeZone": "Australia/Sydney"}}),
            json!({"when": {"type": "immediately"}}),
        ),
        _ => (
            json!({"trigger": {"type": "fixedDate", "dateTime": "2027-02-15T09:00",
                               "timeZone": "America/Los_Angeles"},
                   "check": {"frequency": "daily", "time": "06:30",
                             "timeZone": "America/Los_Angeles"}}),
            json!({"when": {"type": "window", "frequency": "weekly", "weekday": "wed",
                            "time": "23:30", "timeZone": "Asia/Kolkata",
                            "durationMinutes": 90}}),
        ),
    };
    json!({"profile": profile, "targets": [target], "validity": "90d",
           "renewal": renewal, "deployment": deployment})
}

async fn manage_fifty(w: &World, profile: &str) -> Vec<ManagedCertificate> {
    let mut requests = Vec::new();
    for i in 0..50 {
        let (certificate_id, target) = w.issued_with_target(i, profile).await;
        let config: ProvisioningConfig =
            serde_json::from_value(mixed_config(i, profile, &target)).expect("config");
        requests.push(ManageRequest { name: None, certificate_id: Some(certificate_id), config });
    }
    w.certloop.manage_many(requests).await.expect("manage 50")
}

/// Every certificate renewed inside its trigger, deployed only inside its window, none
/// expired in service, over 400 days.
async fn assert_lifecycle(w: &World, managed: &[ManagedCertificate]) {
    let all = w.certloop.list(&CertificateQuery::default()).await.expect("inventory");
    let by_id: HashMap<&str, &CertificateRecord> =
        all.iter().map(|r| (r.certificate_id.as_str(), r)).collect();
    let events = w.certloop.audit_log(&AuditQuery::default()).await.expect("audit");
    let end = START + Duration::days(400);
    for first in managed {
        let m = w.certloop.managed(&first.id).await.expect("managed");
        let compiled = m.config.compile().expect("compiles");
        // The chain of certificates, oldest first, by renewed_by links.
        let mut chain = vec![by_id[first.certificate_id.as_deref().expect("first")]];
        while let Some(next) = chain.last().and_then(|r| r.renewed_by.as_deref()) {
            chain.push(by_id[next]);
        }
        assert!(chain.len() >= 5, "{}: only {} certificates in 400 days", m.name, chain.len());
        for pair in chain.windows(2) {
            let (old, new) = (pair[0], pair[1]);
            let renewed_at = new.not_before;
            assert!(
                renewed_at >= compiled.trigger_at(old) && renewed_at < old.not_after,
                "{}: {} renewed at {renewed_at}, outside its trigger window {} .. {}",
                m.name,
                old.certificate_id,
                compiled.trigger_at(old),
                old.not_after
            );
            // Deployed before the old one expired, inside the window.
            let deployed: Vec<_> = events
                .iter()
                .filter(|e| {
                    e.action == AuditAction::Deployed
                        && e.certificate_id.as_deref() == Some(new.certificate_id.as_str())
                })
                .collect();
            if new.not_before > end - Duration::days(7) {
                continue; // Its window may not have opened yet.
            }
            assert_eq!(deployed.len(), 1, "{}: {} deployed once", m.name, new.certificate_id);
            let at = deployed[0].at;
            assert!(compiled.may_deploy(at), "{}: deployed at {at}, outside the window", m.name);
            assert!(
                at < old.not_after,
                "{}: {} expired before its successor was deployed",
                m.name,
                old.certificate_id
            );
        }
        let in_service = by_id[m.certificate_id.as_deref().expect("in service")];
        assert!(in_service.not_after > end, "{}: in-service certificate expired", m.name);
        assert!(
            matches!(m.state, CertificateState::Deployed | CertificateState::Issued),
            "{} ends {}",
            m.name,
            m.state
        );
        // The file on the target is the deployed certificate.
        let target_dir = w.scratch.path().join(&m.config.targets[0]);
        let served = std::fs::read_to_string(target_dir.join("cert.pem")).expect("deployed file");
        let deployed_last = chain.iter().rev().find(|r| {
            events.iter().any(|e| {
                e.action == AuditAction::Deployed
                    && e.certificate_id.as_deref() == Some(r.certificate_id.as_str())
            })
        });
        let deployed_last = deployed_last.expect("something deployed");
        assert!(
            served.starts_with(deployed_last.certificate.trim_end()),
            "{}: file is stale",
            m.name
        );
    }
}

async fn fifty_certificates_live_through_400_days(store: Arc<dyn Store>) {
    let w = world(store).await;
    let managed = manage_fifty(&w, "tls-server").await;
    let agent = Agent::new(w.certloop.clone(), AgentOptions::default());
    let summary = agent.run_until(START + Duration::days(400)).await;
    assert_eq!(summary.errors, 0, "{summary:?}");
    assert_eq!(summary.work.failed, 0, "{:?}", summary.work.errors);
    assert!(summary.work.renewed >= 250, "{summary:?}");
    assert_eq!(w.clock.now(), START + Duration::days(400));
    assert_lifecycle(&w, &managed).await;
}

/// The internal CA behind a connector that fails 30% of calls (a retryable CA error), chosen
/// by a fixed-seed generator so the run replays exactly.
#[derive(Debug)]
struct FlakyCa {
    inner: Arc<dyn CaConnector>,
    state: AtomicU64,
    failures: AtomicU64,
    calls: AtomicU64,
}

impl FlakyCa {
    fn fails(&self) -> bool {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let next = self
            .state
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |s| {
                Some(s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407))
            })
            .unwrap_or(0);
        let fail = (next >> 33) % 100 < 30;
        if fail {
            self.failures.fetch_add(1, Ordering::SeqCst);
        }
        fail
    }
}

#[async_trait::async_trait]
impl CaConnector for FlakyCa {
    fn issuer_key(&self) -> &str {
        self.inner.issuer_key()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn issue(&self, order: &CertificateOrder) -> certloop::Result<Issued> {
        if self.fails() {
            return Err(certloop::Error::Ca {
                message: "503 Service Unavailable (injected)".into(),
                retryable: true,
            });
        }
        self.inner.issue(order).await
    }
}

async fn a_ca_failing_30_percent_of_calls_ends_the_same(store: Arc<dyn Store>) {
    let w = world(store).await;
    let internal = w.certloop.internal_ca_connector("certloop-issuing").await.expect("CA");
    let flaky = Arc::new(FlakyCa {
        inner: internal,
        state: AtomicU64::new(42),
        failures: AtomicU64::new(0),
        calls: AtomicU64::new(0),
    });
    w.certloop.register_connector("flaky", flaky.clone()).expect("register");
    let profile = serde_json::from_value(json!({
        "slug": "flaky-tls", "templateId": "tls-server",
        "issuer": {"type": "connector", "name": "flaky"},
    }))
    .expect("profile");
    w.certloop.save_profile(profile).await.expect("save profile");
    // The first certificates come from the healthy CA; the flaky one renews them.
    let mut requests = Vec::new();
    for i in 0..50 {
        let (certificate_id, target) = w.issued_with_target(i, "tls-server").await;
        let config: ProvisioningConfig =
            serde_json::from_value(mixed_config(i, "flaky-tls", &target)).expect("config");
        requests.push(ManageRequest { name: None, certificate_id: Some(certificate_id), config });
    }
    let managed = w.certloop.manage_many(requests).await.expect("manage");
    let agent = Agent::new(w.certloop.clone(), AgentOptions::default());
    let summary = agent.run_until(START + Duration::days(400)).await;
    let failures = flaky.failures.load(Ordering::SeqCst);
    let calls = flaky.calls.load(Ordering::SeqCst);
    assert!(failures * 100 / calls >= 20, "{failures} of {calls} calls failed");
    assert_eq!(summary.work.retried as u64, failures, "every failure retried with backoff");
    assert_eq!(summary.work.failed, 0, "{:?}", summary.work.errors);
    assert_lifecycle(&w, &managed).await;
    let retries = w
        .certloop
        .audit_log(&AuditQuery::default())
        .await
        .expect("audit")
        .into_iter()
        .filter(|e| e.action == AuditAction::RenewalFailed)
        .count();
    assert_eq!(retries as u64, failures, "each failed attempt audited");
}

async fn bad_configurations_are_refused_naming_the_field_and_nothing_is_saved(
    store: Arc<dyn Store>,
) {
    let w = world(store).await;
    let (certificate_id, target) = w.issued_with_target(0, "tls-server").await;
    let base = mixed_config(0, "tls-server", &target);
    let cases: Vec<(&str, serde_json::Value)> = vec![
        (
            "config.renewal.check.timeZone",
            json!({"renewal": {"check":
            {"frequency": "daily", "time": "03:00", "timeZone": "Mars/Olympus_Mons"}}}),
        ),
        (
            "config.renewal.check.weekday",
            json!({"renewal": {"check":
            {"frequency": "weekly", "weekday": 8, "time": "03:00", "timeZone": "UTC"}}}),
        ),
        (
            "config.deployment.when.durationMinutes",
            json!({"deployment": {"when":
            {"type": "window", "frequency": "daily", "time": "01:00", "timeZone": "UTC",
             "durationMinutes": 0}}}),
        ),
        (
            "config.deployment.when.dateTime",
            json!({"deployment": {"when":
            {"type": "at", "dateTime": "2026-01-01T00:00", "timeZone": "UTC"}}}),
        ),
        (
            "config.renewal.trigger.days",
            json!({"renewal": {"trigger":
            {"type": "daysBeforeExpiry", "days": -5}}}),
        ),
        (
            "config.renewal.trigger.days",
            json!({"renewal": {"trigger":
            {"type": "daysBeforeExpiry", "days": 10},
            "check": {"frequency": "monthly", "dayOfMonth": 1, "time": "00:00",
                      "timeZone": "UTC"}}}),
        ),
        ("config.profile", json!({"profile": "no-such-profile"})),
        ("config.targets[0]", json!({"targets": ["no-such-target"]})),
    ];
    for (field, change) in cases {
        let mut config = base.clone();
        for (key, value) in change.as_object().expect("object") {
            config[key] = value.clone();
        }
        let config: ProvisioningConfig = serde_json::from_value(config).expect("parses");
        let request =
            ManageRequest { name: None, certificate_id: Some(certificate_id.clone()), config };
        let err = w.certloop.manage(request).await.expect_err(field);
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{field}: {err}");
        match &err {
            certloop::Error::InvalidInput { field: got, .. } => assert_eq!(got, field, "{err}"),
            other => panic!("{field}: {other}"),
        }
    }
    // A batch with one bad item stores none of them.
    let good: ProvisioningConfig = serde_json::from_value(base.clone()).expect("good");
    let mut bad = good.clone();
    bad.profile = "missing".into();
    let (second, _) = w.issued_with_target(1, "tls-server").await;
    let err = w
        .certloop
        .manage_many(vec![
            ManageRequest {
                name: None,
                certificate_id: Some(certificate_id.clone()),
                config: good,
            },
            ManageRequest { name: None, certificate_id: Some(second), config: bad },
        ])
        .await
        .expect_err("second is bad");
    assert!(err.to_string().contains("[1].config.profile"), "{err}");
    let stored = w.certloop.list_managed(&ManagedQuery::default()).await.expect("list");
    assert!(stored.is_empty(), "nothing saved: {stored:?}");
    let configured = w
        .certloop
        .audit_log(&AuditQuery::default())
        .await
        .expect("audit")
        .into_iter()
        .filter(|e| e.action == AuditAction::ManagedConfigured)
        .count();
    assert_eq!(configured, 0);
}

async fn bulk_configure_is_atomic_with_one_event_per_certificate(store: Arc<dyn Store>) {
    let w = world(store).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let (certificate_id, target) = w.issued_with_target(i, "tls-server").await;
        let config = serde_json::from_value(mixed_config(0, "tls-server", &target)).expect("c");
        let m = w
            .certloop
            .manage(ManageRequest { name: None, certificate_id: Some(certificate_id), config })
            .await
            .expect("manage");
        ids.push(m.id);
    }
    let patch: ConfigPatch = serde_json::from_value(json!({
        "keyAlgorithm": "EC_secp384r1",
        "renewal": {"trigger": {"type": "daysBeforeExpiry", "days": 20},
                    "check": {"frequency": "daily", "time": "05:00", "timeZone": "Europe/Paris"}},
    }))
    .expect("patch");
    w.clock.advance(Duration::minutes(1));
    let since = w.clock.now();
    let updated = w.certloop.bulk_configure(&ids, &patch).await.expect("bulk");
    assert_eq!(updated.len(), 3);
    for m in &updated {
        let stored = w.certloop.managed(&m.id).await.expect("stored");
        assert_eq!(stored.config.key_algorithm, Some(certloop::model::KeyAlgorithm::EcP384));
        // 20 days before a 90-day certificate's end, at 05:00 Paris time (CET = UTC+1).
        assert_eq!(stored.next_check_at, Some(datetime!(2027-03-15 04:00 UTC)), "{}", m.name);
    }
    let events: Vec<_> = w
        .certloop
        .audit_log(&AuditQuery { since: Some(since), ..AuditQuery::default() })
        .await
        .expect("audit")
        .into_iter()
        .filter(|e| e.action == AuditAction::ManagedConfigured)
        .collect();
    assert_eq!(events.len(), 3, "{events:?}");
    // One bad id: nothing changes.
    let mut with_bad = ids.clone();
    with_bad.push("no-such-managed".into());
    let other: ConfigPatch =
        serde_json::from_value(json!({"keyAlgorithm": "RSA_2048"})).expect("p");
    let err = w.certloop.bulk_configure(&with_bad, &other).await.expect_err("bad id");
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    let kept = w.certloop.managed(&ids[0]).await.expect("kept");
    assert_eq!(kept.config.key_algorithm, Some(certloop::model::KeyAlgorithm::EcP384));
}

async fn batch_rekey_and_actions_report_per_item_with_progress(store: Arc<dyn Store>) {
    let w = world(store).await;
    let mut ids = Vec::new();
    for i in 0..6 {
        let (certificate_id, target) = w.issued_with_target(i, "tls-server").await;
        let config = serde_json::from_value(mixed_config(0, "tls-server", &target)).expect("c");
        let m = w
            .certloop
            .manage(ManageRequest { name: None, certificate_id: Some(certificate_id), config })
            .await
            .expect("manage");
        ids.push(m.id);
    }
    ids.push("missing-one".into());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let action = Action::Rekey { key_algorithm: Some(certloop::model::KeyAlgorithm::EcP384) };
    let report = w
        .certloop
        .batch(
            &ids,
            action,
            BatchOptions { concurrency: 3, continue_on_error: true },
            move |d, t| sink.lock().expect("progress").push((d, t)),
        )
        .await
        .expect("batch");
    assert_eq!((report.total, report.succeeded, report.failed), (7, 6, 1), "{report:?}");
    assert_eq!(report.items[6].error_code, Some("NOT_FOUND"));
    let progress = seen.lock().expect("progress").clone();
    // The missing id counts as done once the ids are looked up; then one call per item.
    assert_eq!(progress, (1..=7).map(|d| (d, 7)).collect::<Vec<_>>());
    for id in &ids[..6] {
        let m = w.certloop.managed(id).await.expect("managed");
        assert_eq!(m.state, CertificateState::Deployed, "{}: {:?}", m.name, m.last_error);
        let record = w.certloop.show(m.certificate_id.as_deref().expect("cert")).await.expect("r");
        assert_eq!(record.key_algorithm, Some(certloop::model::KeyAlgorithm::EcP384));
    }
    // Delete stops tracking and leaves the deployed files alone.
    let file = w.scratch.path().join("t0/cert.pem");
    let before = std::fs::read(&file).expect("deployed");
    let deleted = w.certloop.act(&ids[0], Action::Delete).await.expect("delete");
    assert_eq!(deleted.managed.state, CertificateState::Deleted);
    assert_eq!(deleted.managed.due_at(), None);
    assert_eq!(std::fs::read(&file).expect("still there"), before);
    let err = w.certloop.act(&ids[0], Action::Rotate).await.expect_err("deleted");
    assert_eq!(err.kind(), ErrorKind::InvalidState);
    // Revoke marks it at the CA and stops the schedules.
    let revoked = w.certloop.act(&ids[1], Action::Revoke { reason: None }).await.expect("revoke");
    assert_eq!(revoked.managed.state, CertificateState::Revoked);
    let record = w.certloop.show(revoked.managed.certificate_id.as_deref().expect("c")).await;
    assert_eq!(record.expect("record").state, CertificateState::Revoked);
}

async fn an_agent_that_lost_its_claim_records_nothing_and_a_restarted_one_takes_its_work_back(
    store: Arc<dyn Store>,
) {
    let w = world(store).await;
    let (certificate_id, target) = w.issued_with_target(0, "tls-server").await;
    let config = serde_json::from_value(mixed_config(0, "tls-server", &target)).expect("c");
    let m = w
        .certloop
        .manage(ManageRequest { name: None, certificate_id: Some(certificate_id), config })
        .await
        .expect("manage");
    let due = m.next_check_at.expect("scheduled");
    w.clock.set(due);
    // Agent "a" claims the work and dies before finishing.
    let store_view = w.certloop.list_managed(&ManagedQuery::default()).await.expect("list");
    assert_eq!(store_view.len(), 1);
    let options_a = certloop::SweepOptions { owner: "a".into(), ..Default::default() };
    let options_b = certloop::SweepOptions { owner: "b".into(), ..Default::default() };
    let claimed =
        w.store.claim_due(due, "a", due + Duration::minutes(10), 10).await.expect("claim");
    assert_eq!(claimed.len(), 1);
    // "b" finds nothing while a's claim holds.
    let b = w.certloop.sweep(&options_b).await.expect("sweep b");
    assert_eq!(b.processed, 0, "{b:?}");
    // "a" restarted takes its own work back and renews once.
    let a = w.certloop.sweep(&options_a).await.expect("sweep a");
    assert_eq!((a.processed, a.renewed), (1, 1), "{a:?}");
    let again = w.certloop.sweep(&options_b).await.expect("again");
    assert_eq!(again.renewed, 0, "never twice");
    let issued = w
        .certloop
        .audit_log(&AuditQuery::default())
        .await
        .expect("audit")
        .into_iter()
        .filter(|e| e.action == AuditAction::Renewed && e.subject_id.is_none())
        .count();
    assert_eq!(issued, 1);
}

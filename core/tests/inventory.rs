//! The inventory, the audit log and the state directory, through the façade.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use certloop::clock::FixedClock;
use certloop::model::{
    AuditAction, CertificateAttributes, CertificateState, IssueRequest, RevocationReason, Subject,
    Ttl,
};
use certloop::store::{AuditQuery, CertificateQuery};
use certloop::{Certloop, ErrorKind};
use common::Scratch;
use time::macros::datetime;

fn request(cn: &str, days: u64) -> IssueRequest {
    IssueRequest {
        attributes: CertificateAttributes {
            subject: Subject::common_name(cn),
            ttl: Some(Ttl::from_days(days)),
            ..CertificateAttributes::default()
        },
        ..IssueRequest::default()
    }
}

#[tokio::test]
async fn a_state_directory_survives_reopening_and_keeps_no_key_in_clear() {
    let home = Scratch::new();
    let issued = {
        let certloop = Certloop::open(home.path()).await.unwrap();
        certloop.init_default().await.unwrap();
        let mut req = request("kept.internal", 30);
        req.manage_key = true;
        let issued = certloop.issue(req).await.unwrap();
        let forgotten = certloop.issue(request("forgotten.internal", 30)).await.unwrap();
        assert!(forgotten.private_key.is_some());
        issued
    };
    let master = home.path().join("master.key");
    let mode = std::fs::metadata(&master).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "master.key is owner-only");

    let certloop = Certloop::open(home.path()).await.unwrap();
    let record = certloop.show(&issued.certificate_id).await.unwrap();
    assert_eq!(record.common_name, "kept.internal");
    assert!(record.key_managed);
    assert_eq!(certloop.list(&CertificateQuery::default()).await.unwrap().len(), 2);
    assert!(!certloop.init_default().await.unwrap().created, "reopened state is reused");

    // No private key (PEM or raw PKCS#8 of the returned leaf key) appears in any state file.
    let leaf_key =
        certloop::crypto::PrivateKey::from_pem(issued.private_key.as_ref().unwrap().expose())
            .unwrap();
    let leaf_der = leaf_key.to_pkcs8_der();
    for entry in std::fs::read_dir(home.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().is_some_and(|n| n == "master.key") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains("PRIVATE KEY"), "{} holds a PEM key", path.display());
        assert!(
            !bytes.windows(leaf_der.len()).any(|w| w == leaf_der.as_slice()),
            "{} holds the leaf key in clear",
            path.display()
        );
    }
}

#[tokio::test]
async fn search_by_name_san_state_and_expiry_uses_the_injected_clock() {
    let clock = Arc::new(FixedClock::new(datetime!(2026-06-01 00:00 UTC)));
    let certloop = Certloop::in_memory().await.unwrap().with_clock(clock.clone());
    certloop.init_default().await.unwrap();
    let soon = certloop.issue(request("soon.shop.internal", 10)).await.unwrap();
    let later = certloop.issue(request("later.shop.internal", 60)).await.unwrap();
    let other = certloop.issue(request("db.internal", 20)).await.unwrap();
    certloop.revoke(&other.certificate_id, RevocationReason::Superseded).await.unwrap();

    let ids = |records: Vec<certloop::model::CertificateRecord>| {
        let mut ids: Vec<String> = records.into_iter().map(|r| r.certificate_id).collect();
        ids.sort();
        ids
    };
    let mut expected = vec![soon.certificate_id.clone()];
    expected.sort();
    assert_eq!(
        ids(certloop.expiring_within(30).await.unwrap()),
        expected,
        "revoked ones are not expiring"
    );

    let by_cn =
        CertificateQuery { common_name: Some("SHOP".into()), ..CertificateQuery::default() };
    let mut both = vec![soon.certificate_id.clone(), later.certificate_id.clone()];
    both.sort();
    assert_eq!(ids(certloop.list(&by_cn).await.unwrap()), both);

    let by_san =
        CertificateQuery { san: Some("later.shop.internal".into()), ..CertificateQuery::default() };
    assert_eq!(ids(certloop.list(&by_san).await.unwrap()), vec![later.certificate_id.clone()]);

    let revoked =
        CertificateQuery { states: vec![CertificateState::Revoked], ..CertificateQuery::default() };
    assert_eq!(ids(certloop.list(&revoked).await.unwrap()), vec![other.certificate_id.clone()]);

    // Fifty days on, the 60-day certificate is due for auto-renewal (30 days before expiry) and
    // the 10-day one has expired; the inventory says why.
    clock.advance(time::Duration::days(50));
    let due = certloop.renewals_due().await.unwrap();
    let reasons: Vec<(&str, &str)> =
        due.iter().map(|d| (d.certificate.common_name.as_str(), d.reason.check)).collect();
    assert!(reasons.contains(&("later.shop.internal", "daysBeforeExpiry")), "{reasons:?}");
    assert!(reasons.contains(&("soon.shop.internal", "expired")), "{reasons:?}");

    // The sweep moves the overdue one to `expired` (once), and it is no longer due.
    let swept = certloop.expire_overdue().await.unwrap();
    assert_eq!(
        swept.iter().map(|r| r.certificate_id.as_str()).collect::<Vec<_>>(),
        [soon.certificate_id.as_str()]
    );
    assert_eq!(certloop.show(&soon.certificate_id).await.unwrap().state, CertificateState::Expired);
    assert!(certloop.expire_overdue().await.unwrap().is_empty());
    let due = certloop.renewals_due().await.unwrap();
    assert!(due.iter().all(|d| d.certificate.certificate_id != soon.certificate_id));
    let err = certloop.renew(&soon.certificate_id).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidState);
}

#[tokio::test]
async fn every_transition_writes_one_audit_event_without_secrets() {
    let certloop = Certloop::in_memory().await.unwrap();
    certloop.init_default().await.unwrap();
    let issued = certloop.issue(request("audit.internal", 30)).await.unwrap();
    certloop.suspend(&issued.certificate_id).await.unwrap();
    certloop.unsuspend(&issued.certificate_id).await.unwrap();
    certloop.revoke(&issued.certificate_id, RevocationReason::KeyCompromise).await.unwrap();

    let query =
        AuditQuery { certificate_id: Some(issued.certificate_id.clone()), ..AuditQuery::default() };
    let events = certloop.audit_log(&query).await.unwrap();
    let actions: Vec<AuditAction> = events.iter().map(|e| e.action).collect();
    assert_eq!(
        actions,
        [
            AuditAction::Issued,
            AuditAction::Suspended,
            AuditAction::Unsuspended,
            AuditAction::Revoked
        ]
    );
    let all =
        serde_json::to_string(&certloop.audit_log(&AuditQuery::default()).await.unwrap()).unwrap();
    assert!(!all.contains("PRIVATE KEY"));
    assert!(all.contains("caCreated") && all.contains("profileSaved"));

    let err = certloop.unsuspend(&issued.certificate_id).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidState);
    assert_eq!(certloop.show("no-such-id").await.unwrap_err().kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn issue_many_shares_one_batch_and_reports_each_request() {
    let certloop = Certloop::in_memory().await.unwrap();
    certloop.init_default().await.unwrap();
    let mut requests: Vec<IssueRequest> =
        (0..20).map(|i| request(&format!("n{i}.batch.internal"), 30)).collect();
    requests[7].attributes.ttl = Some(Ttl::from_days(5000));
    let mut seen = 0;
    let results = certloop
        .issue_many(requests, |done, total| {
            assert_eq!(total, 20);
            seen = done;
        })
        .await
        .unwrap();
    assert_eq!(seen, 20);
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 19);
    let refused = results[7].as_ref().unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::PolicyViolation);
    assert_eq!(certloop.list(&CertificateQuery::default()).await.unwrap().len(), 19);
    let refusals = certloop.audit_log(&AuditQuery::default()).await.unwrap();
    assert!(refusals.iter().any(|e| e.action == AuditAction::Refused));
}

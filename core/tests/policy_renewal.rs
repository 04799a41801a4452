//! API tests of the renewal chain: each check at its boundary, fixed times, no sleeping.

use certloop::model::{CertificateRecord, CertificateState};
use certloop::policy::{
    DaysBeforeExpiry, Expired, FixedDate, LifecyclePolicy, LifetimePercentage, RenewalChain,
};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const NOT_BEFORE: OffsetDateTime = datetime!(2026-01-01 0:00 UTC);
const NOT_AFTER: OffsetDateTime = datetime!(2026-04-01 0:00 UTC); // 90 days

fn record(state: CertificateState) -> CertificateRecord {
    CertificateRecord {
        certificate_id: "c1".into(),
        serial_number: "01".into(),
        common_name: "www.acme.com".into(),
        subject: "CN=www.acme.com".into(),
        issuer: "CN=Acme CA".into(),
        alt_names: Vec::new(),
        not_before: NOT_BEFORE,
        not_after: NOT_AFTER,
        fingerprint_sha256: String::new(),
        key_algorithm: None,
        state,
        profile_id: None,
        ca_id: None,
        certificate: String::new(),
        certificate_chain: String::new(),
        certificate_request_id: None,
        renewed_from: None,
        renewed_by: None,
        revoked_at: None,
        revocation_reason: None,
        auto_renew: true,
        renew_before_days: None,
        key_managed: false,
        created_at: NOT_BEFORE,
        updated_at: NOT_BEFORE,
    }
}

fn due(chain: &RenewalChain, rec: &CertificateRecord, now: OffsetDateTime) -> Option<&'static str> {
    chain.renewal_due(rec, now).map(|r| r.check)
}

#[test]
fn days_before_expiry_fires_at_the_boundary() {
    let chain = RenewalChain::default_for(Some(7));
    let rec = record(CertificateState::Issued);
    let boundary = NOT_AFTER - Duration::days(7);
    assert_eq!(due(&chain, &rec, boundary - Duration::seconds(1)), None);
    assert_eq!(due(&chain, &rec, boundary), Some("daysBeforeExpiry"));
    assert_eq!(due(&chain, &rec, NOT_AFTER - Duration::seconds(1)), Some("daysBeforeExpiry"));
    assert_eq!(chain.next_renewal(&rec), Some(boundary));
    assert_eq!(chain.names(), ["expired", "daysBeforeExpiry"]);
}

#[test]
fn expired_comes_first_at_not_after() {
    let chain = RenewalChain::default_for(Some(7));
    let rec = record(CertificateState::Deployed);
    assert_eq!(due(&chain, &rec, NOT_AFTER), Some("expired"));
    let reason = chain.renewal_due(&rec, NOT_AFTER + Duration::days(1)).expect("due");
    assert!(reason.message.contains("expired"), "{}", reason.message);
    let json = serde_json::to_value(&reason).expect("serializes");
    assert_eq!(json["check"], "expired");
}

#[test]
fn default_window_is_a_third_of_the_lifetime() {
    let chain = RenewalChain::default_for(None);
    let rec = record(CertificateState::Issued);
    let two_thirds = NOT_BEFORE + Duration::days(60);
    assert_eq!(due(&chain, &rec, two_thirds - Duration::seconds(1)), None);
    assert_eq!(due(&chain, &rec, two_thirds), Some("daysBeforeExpiry"));
    // The record's own setting is used when the chain has none.
    let mut own = record(CertificateState::Issued);
    own.renew_before_days = Some(10);
    assert_eq!(chain.next_renewal(&own), Some(NOT_AFTER - Duration::days(10)));
    // A window as long as the lifetime falls back to a third instead of renewing in a loop.
    let long = RenewalChain::default_for(Some(90));
    assert_eq!(long.next_renewal(&rec), Some(two_thirds));
}

#[test]
fn fixed_date_and_lifetime_percentage() {
    let migrate = datetime!(2026-02-01 0:00 UTC);
    let chain = RenewalChain::new(vec![Box::new(Expired)])
        .with(FixedDate { at: migrate })
        .with(LifetimePercentage { percent: 50 });
    let rec = record(CertificateState::Issued);
    assert_eq!(due(&chain, &rec, migrate - Duration::seconds(1)), None);
    assert_eq!(due(&chain, &rec, migrate), Some("fixedDate"));
    let pct = RenewalChain::new(vec![Box::new(LifetimePercentage { percent: 66 })]);
    let at = NOT_BEFORE + Duration::seconds(90 * 86_400 * 66 / 100);
    assert_eq!(due(&pct, &rec, at - Duration::seconds(1)), None);
    assert_eq!(due(&pct, &rec, at), Some("lifetimePercentage"));
    assert_eq!(chain.next_renewal(&rec), Some(migrate));
}

#[test]
fn only_live_unrenewed_certificates_are_due() {
    let chain = RenewalChain::new(vec![Box::new(DaysBeforeExpiry { days: Some(7) })]);
    let late = NOT_AFTER + Duration::days(1);
    for state in [
        CertificateState::Revoked,
        CertificateState::Suspended,
        CertificateState::Deleted,
        CertificateState::Ordered,
        CertificateState::Expired,
    ] {
        assert_eq!(due(&chain, &record(state), late), None, "{state}");
        assert_eq!(chain.next_renewal(&record(state)), None, "{state}");
    }
    let mut renewed = record(CertificateState::Issued);
    renewed.renewed_by = Some("c2".into());
    assert_eq!(due(&chain, &renewed, late), None);
    assert_eq!(due(&chain, &record(CertificateState::Issued), late), Some("daysBeforeExpiry"));
}

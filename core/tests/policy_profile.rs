//! API tests of certificate profiles: JSON shape, Infisical aliases, definition checks.

use certloop::ErrorKind;
use certloop::model::{CertificateAttributes, Subject, Ttl};
use certloop::policy::{ApiConfig, CertificateProfile, EnrollmentType, ProfileIssuer};

#[test]
fn profile_json_round_trips() {
    let json = serde_json::json!({
        "id": "550e8400-e29b-41d4-a716-446655440000",
        "slug": "web-servers",
        "templateId": "tls-server",
        "issuer": { "type": "internalCa", "caId": "ca-1" },
        "enrollmentType": "API",
        "apiConfig": { "autoRenew": true, "renewBeforeDays": 7 },
        "defaults": { "organization": "Acme", "ttl": "45d" },
        "manageKeys": true
    });
    let p: CertificateProfile = serde_json::from_value(json.clone()).expect("valid");
    assert_eq!(p.issuer, ProfileIssuer::InternalCa { ca_id: "ca-1".into() });
    assert_eq!(p.renew_before_days(), Some(7));
    assert_eq!(p.defaults.ttl, Some(Ttl::from_days(45)));
    p.validate_definition().expect("valid");
    assert_eq!(serde_json::to_value(&p).expect("valid"), json);
    let self_signed = serde_json::json!({ "type": "selfSigned" });
    assert_eq!(
        serde_json::from_value::<ProfileIssuer>(self_signed).expect("valid"),
        ProfileIssuer::SelfSigned
    );
}

#[test]
fn infisical_aliases_are_accepted() {
    let p: CertificateProfile = serde_json::from_value(serde_json::json!({
        "projectId": "ignored",
        "caId": "ca-9",
        "certificateTemplateId": "660f1234",
        "slug": "my-api-profile",
        "enrollmentType": "API",
        "apiConfig": { "autoRenew": false, "renewBeforeDays": 7 }
    }))
    .expect("valid");
    assert_eq!(p.template_id, "660f1234");
    assert_eq!(p.issuer, ProfileIssuer::InternalCa { ca_id: "ca-9".into() });
    assert_eq!(p.enrollment_type, EnrollmentType::Api);
    assert_eq!(p.id, "");
    assert!(!p.manage_keys);
    assert_eq!(p.renew_before_days(), None, "auto-renew is off");
    let out = serde_json::to_value(&p).expect("valid");
    assert_eq!(out["templateId"], "660f1234");
    assert_eq!(out["issuer"]["caId"], "ca-9");

    for bad in [
        serde_json::json!({ "slug": "x", "templateId": "t" }),
        serde_json::json!({ "slug": "x", "templateId": "t", "caId": "a",
                            "issuer": { "type": "internalCa", "caId": "b" } }),
        serde_json::json!({ "slug": "x", "templateId": "t", "caId": "a", "enrollmentType": "EST" }),
    ] {
        assert!(serde_json::from_value::<CertificateProfile>(bad.clone()).is_err(), "{bad}");
    }
}

#[test]
fn definition_checks_name_fields() {
    let mut p = CertificateProfile::internal_ca("Web_Servers", "", "");
    p.api_config = Some(ApiConfig { auto_renew: true, renew_before_days: 0 });
    let err = p.validate_definition().expect_err("bad profile");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let text = err.to_string();
    for field in ["slug", "templateId", "issuer.caId", "apiConfig.renewBeforeDays"] {
        assert!(text.contains(field), "{field} in {text}");
    }
    let ok = CertificateProfile::internal_ca("web-servers", "tls", "ca-1");
    ok.validate_definition().expect("valid");
    let long = CertificateProfile::internal_ca("a".repeat(65), "tls", "ca-1");
    assert!(long.validate_definition().is_err());
}

#[test]
fn defaults_merge_under_the_request() {
    let mut p = CertificateProfile::internal_ca("web", "tls", "ca-1");
    p.defaults = CertificateAttributes {
        subject: Subject { organization: Some("Acme".into()), ..Subject::common_name("default") },
        ttl: Some(Ttl::from_days(90)),
        ..CertificateAttributes::default()
    };
    let req = CertificateAttributes {
        subject: Subject::common_name("www.acme.com"),
        ..CertificateAttributes::default()
    };
    let merged = p.merge_defaults(&req);
    assert_eq!(merged.subject.common_name.as_deref(), Some("www.acme.com"));
    assert_eq!(merged.subject.organization.as_deref(), Some("Acme"));
    assert_eq!(merged.ttl, Some(Ttl::from_days(90)));
}

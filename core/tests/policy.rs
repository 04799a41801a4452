//! Templates and profiles enforced through the façade on every path.

mod common;

use certloop::model::{CertificateAttributes, IssueRequest, Subject, SubjectAltName, Ttl};
use certloop::policy::{CertificateProfile, CertificateTemplate};
use certloop::{Certloop, ErrorKind};
use common::{Scratch, openssl_ok};

async fn acme_setup() -> Certloop {
    let certloop = Certloop::in_memory().await.unwrap();
    let setup = certloop.init_default().await.unwrap();
    let template: CertificateTemplate = serde_json::from_value(serde_json::json!({
        "slug": "acme-web",
        "subject": [{"type": "common_name", "allowed": ["*.acme.com"], "required": true}],
        "sans": [{"type": "DNS", "allowed": ["*.acme.com"], "denied": ["admin.acme.com"]}],
        "extendedKeyUsages": {"required": ["server_auth"], "allowed": ["client_auth"]},
        "algorithms": {"minRsaBits": 3072},
        "validity": {"max": "30d"}
    }))
    .unwrap();
    certloop.save_template(template).await.unwrap();
    let profile: CertificateProfile = serde_json::from_value(serde_json::json!({
        "slug": "acme-web",
        "templateId": "acme-web",
        "issuer": {"type": "internalCa", "caId": setup.issuing_ca.name},
        "apiConfig": {"autoRenew": true, "renewBeforeDays": 7}
    }))
    .unwrap();
    certloop.save_profile(profile).await.unwrap();
    certloop
}

fn acme(cn: &str) -> IssueRequest {
    IssueRequest {
        profile_id: Some("acme-web".into()),
        attributes: CertificateAttributes {
            subject: Subject::common_name(cn),
            ..CertificateAttributes::default()
        },
        ..IssueRequest::default()
    }
}

#[tokio::test]
async fn a_request_inside_the_template_is_issued_with_its_max_ttl() {
    let certloop = acme_setup().await;
    let issued = certloop.issue(acme("shop.acme.com")).await.unwrap();
    let record = certloop.show(&issued.certificate_id).await.unwrap();
    assert_eq!(
        (record.not_after - record.not_before).whole_days(),
        30,
        "defaults to the template max"
    );
    assert_eq!(record.renew_before_days, Some(7));
}

#[tokio::test]
async fn every_violation_is_reported_at_once_with_field_names() {
    let certloop = acme_setup().await;
    let mut req = acme("shop.evil.com");
    req.attributes.ttl = Some(Ttl::from_days(31));
    req.attributes.alt_names =
        Some(vec![SubjectAltName::dns("a.b.acme.com"), SubjectAltName::dns("admin.acme.com")]);
    let err = certloop.issue(req).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PolicyViolation);
    let fields: Vec<&str> = err.violations().iter().map(|v| v.field.as_str()).collect();
    for expected in ["attributes.commonName", "attributes.ttl"] {
        assert!(fields.contains(&expected), "{expected} in {fields:?}");
    }
    assert!(
        fields.iter().filter(|f| f.starts_with("attributes.altNames")).count() >= 2,
        "{fields:?}"
    );
    assert!(certloop.list(&Default::default()).await.unwrap().is_empty(), "nothing issued");
}

#[tokio::test]
async fn a_weak_rsa_csr_is_refused_and_renewal_re_checks_policy() {
    let certloop = acme_setup().await;
    let dir = Scratch::new();
    openssl_ok(
        dir.path(),
        &[
            "req",
            "-new",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "k.pem",
            "-subj",
            "/CN=weak.acme.com",
            "-out",
            "r.csr",
        ],
    );
    let csr = std::fs::read_to_string(dir.path().join("r.csr")).unwrap();
    let mut req = acme("weak.acme.com");
    req.csr = Some(csr);
    let err = certloop.issue(req).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PolicyViolation);
    assert!(err.violations().iter().any(|v| v.field == "attributes.keyAlgorithm"), "{err}");

    // Tighten the template after issuance: renewal runs the new policy and is refused.
    let issued = certloop.issue(acme("tight.acme.com")).await.unwrap();
    let mut template = certloop.get_template("acme-web").await.unwrap();
    template.validity = Some(serde_json::from_value(serde_json::json!({"max": "7d"})).unwrap());
    certloop.save_template(template).await.unwrap();
    let err = certloop.renew(&issued.certificate_id).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PolicyViolation, "{err}");
}

#[tokio::test]
async fn self_signed_profiles_issue_certificates_openssl_accepts_as_their_own_root() {
    let certloop = Certloop::in_memory().await.unwrap();
    certloop.save_template(CertificateTemplate::permissive("anything")).await.unwrap();
    let profile: CertificateProfile = serde_json::from_value(serde_json::json!({
        "slug": "dev", "templateId": "anything", "issuer": {"type": "selfSigned"}
    }))
    .unwrap();
    certloop.save_profile(profile).await.unwrap();
    let mut req = acme("dev.local");
    req.profile_id = Some("dev".into());
    let issued = certloop.issue(req.clone()).await.unwrap();
    assert_eq!(issued.certificate, issued.issuing_ca_certificate);
    let dir = Scratch::new();
    dir.write("self.pem", &issued.certificate);
    let out = openssl_ok(dir.path(), &["verify", "-CAfile", "self.pem", "self.pem"]);
    assert!(out.contains("OK"), "{out}");

    // A CSR cannot be self-signed by someone else.
    openssl_ok(
        dir.path(),
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "k.pem",
            "-subj",
            "/CN=dev.local",
            "-out",
            "r.csr",
        ],
    );
    req.csr = Some(std::fs::read_to_string(dir.path().join("r.csr")).unwrap());
    assert_eq!(certloop.issue(req).await.unwrap_err().kind(), ErrorKind::InvalidInput);
}

#[tokio::test]
async fn profiles_must_name_an_existing_template_and_ca() {
    let certloop = Certloop::in_memory().await.unwrap();
    certloop.init_default().await.unwrap();
    let bad_template: CertificateProfile = serde_json::from_value(serde_json::json!({
        "slug": "p1", "templateId": "missing", "issuer": {"type": "selfSigned"}
    }))
    .unwrap();
    assert_eq!(certloop.save_profile(bad_template).await.unwrap_err().kind(), ErrorKind::NotFound);
    let bad_ca: CertificateProfile = serde_json::from_value(serde_json::json!({
        "slug": "p2", "templateId": "tls-server", "issuer": {"type": "internalCa", "caId": "missing"}
    }))
    .unwrap();
    assert_eq!(certloop.save_profile(bad_ca).await.unwrap_err().kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn public_tls_certificates_are_linted_against_the_baseline_requirements() {
    let certloop = Certloop::in_memory().await.unwrap();
    let setup = certloop.init_default().await.unwrap();
    certloop
        .save_template(CertificateTemplate::from_preset(
            "public",
            certloop::policy::TemplatePreset::PublicTls,
        ))
        .await
        .unwrap();
    let profile_for = |slug: &str, ca: &str| -> CertificateProfile {
        serde_json::from_value(serde_json::json!({
            "slug": slug, "templateId": "public", "issuer": {"type": "internalCa", "caId": ca}
        }))
        .unwrap()
    };
    // The default issuing CA publishes no AIA: the BR lint refuses what it signs.
    certloop.save_profile(profile_for("public-no-aia", &setup.issuing_ca.id)).await.unwrap();
    let mut req = acme("www.example.com");
    req.profile_id = Some("public-no-aia".into());
    let err = certloop.issue(req.clone()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Ca, "{err}");
    assert!(err.to_string().contains("lint"), "{err}");
    assert!(certloop.list(&Default::default()).await.unwrap().is_empty(), "nothing released");

    // A CA with AIA and a CRL distribution point passes; the leaf carries the DV policy OID.
    let spec: certloop::ca::CaSpec = serde_json::from_value(serde_json::json!({
        "name": "public-issuing",
        "subject": {"commonName": "Example Public Issuing CA", "organization": "Example"},
        "parent": setup.root_ca.id,
        "pathLength": 0,
        "crlDistributionPoints": ["http://crl.example.com/issuing.crl"],
        "caIssuers": ["http://pki.example.com/issuing.crt"]
    }))
    .unwrap();
    let ca = certloop.create_ca(spec).await.unwrap();
    certloop.save_profile(profile_for("public-ok", &ca.id)).await.unwrap();
    req.profile_id = Some("public-ok".into());
    let issued = certloop.issue(req).await.unwrap();
    let dir = Scratch::new();
    dir.write("leaf.pem", &issued.certificate);
    let text = openssl_ok(dir.path(), &["x509", "-in", "leaf.pem", "-noout", "-text"]);
    assert!(text.contains("2.23.140.1.2.1"), "{text}");
    assert!(text.contains("CA Issuers - URI:http://pki.example.com/issuing.crt"), "{text}");
    assert!(text.contains("URI:http://crl.example.com/issuing.crl"), "{text}");
    let record = certloop.show(&issued.certificate_id).await.unwrap();
    assert!(record.not_after - record.not_before < time::Duration::days(91));
}

/// The façade keeps parsed profiles and templates between issues; a save must still take
/// effect on the very next issue.
#[tokio::test]
async fn a_saved_template_or_profile_applies_to_the_next_issue_on_the_same_handle() {
    let certloop = acme_setup().await;
    let first = certloop.issue(acme("shop.acme.com")).await.unwrap();
    let first = certloop.show(&first.certificate_id).await.unwrap();
    assert_eq!((first.not_after - first.not_before).whole_days(), 30);

    let mut template = certloop.get_template("acme-web").await.unwrap();
    template.validity = serde_json::from_value(serde_json::json!({"max": "10d"})).unwrap();
    certloop.save_template(template).await.unwrap();
    let mut profile = certloop.get_profile("acme-web").await.unwrap();
    profile.api_config =
        serde_json::from_value(serde_json::json!({"autoRenew": true, "renewBeforeDays": 3}))
            .unwrap();
    certloop.save_profile(profile).await.unwrap();

    let second = certloop.issue(acme("shop.acme.com")).await.unwrap();
    let second = certloop.show(&second.certificate_id).await.unwrap();
    assert_eq!((second.not_after - second.not_before).whole_days(), 10, "the new template max");
    assert_eq!(second.renew_before_days, Some(3), "the new profile's renewal window");

    let mut template = certloop.get_template("acme-web").await.unwrap();
    template.validity = serde_json::from_value(serde_json::json!({"max": "5d"})).unwrap();
    certloop.save_template(template).await.unwrap();
    let mut request = acme("shop.acme.com");
    request.attributes.ttl = Some(Ttl::from_days(10));
    let refused = certloop.issue(request).await.unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::PolicyViolation, "{refused}");
}

/// Another process (here another handle, with its own SQLite connection) saving a template
/// must take effect on this handle's next issue too.
#[tokio::test]
async fn a_template_saved_by_another_handle_on_the_same_store_applies_to_the_next_issue() {
    let dir = Scratch::new();
    let issuer = Certloop::open(dir.path()).await.unwrap();
    issuer.init_default().await.unwrap();
    let first =
        issuer.issue(under_default_profile("one.example.internal", Some(90))).await.unwrap();
    let first = issuer.show(&first.certificate_id).await.unwrap();
    assert_eq!((first.not_after - first.not_before).whole_days(), 90);

    let admin = Certloop::open(dir.path()).await.unwrap();
    let mut template = admin.get_template("tls-server").await.unwrap();
    template.validity = serde_json::from_value(serde_json::json!({"max": "20d"})).unwrap();
    admin.save_template(template).await.unwrap();

    let request = under_default_profile("two.example.internal", Some(90));
    let refused = issuer.issue(request).await.unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::PolicyViolation, "{refused}");
    let third = issuer.issue(under_default_profile("three.example.internal", None)).await.unwrap();
    let third = issuer.show(&third.certificate_id).await.unwrap();
    assert_eq!((third.not_after - third.not_before).whole_days(), 20);
}

/// A request under the default profile, asking for `days` of lifetime when set.
fn under_default_profile(cn: &str, days: Option<u64>) -> IssueRequest {
    IssueRequest {
        attributes: CertificateAttributes {
            subject: Subject::common_name(cn),
            ttl: days.map(Ttl::from_days),
            ..CertificateAttributes::default()
        },
        ..IssueRequest::default()
    }
}

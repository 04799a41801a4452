//! API tests of certificate templates: patterns, every-violation reporting, presets, BR dates.

use certloop::ErrorKind;
use certloop::model::{
    ExtendedKeyUsage, KeyFamily, KeyUsage, SignatureAlgorithm, Subject, SubjectAltName, Ttl,
};
use certloop::policy::{CertificateTemplate, PolicyRequest, TemplatePreset};
use time::OffsetDateTime;
use time::macros::datetime;

fn request(cn: &str, sans: &[SubjectAltName]) -> PolicyRequest {
    PolicyRequest {
        subject: Subject::common_name(cn),
        alt_names: sans.to_vec(),
        ttl: Ttl::from_days(30),
        key_family: KeyFamily::Ec,
        key_bits: 256,
        signature_algorithm: SignatureAlgorithm::EcdsaSha256,
        key_usages: vec![KeyUsage::DigitalSignature],
        extended_key_usages: vec![ExtendedKeyUsage::ServerAuth],
        issued_at: datetime!(2026-01-10 12:00 UTC),
    }
}

fn template(json: serde_json::Value) -> CertificateTemplate {
    let t: CertificateTemplate = serde_json::from_value(json).expect("template JSON");
    t.validate_definition().expect("coherent template");
    t
}

fn fields(t: &CertificateTemplate, req: &PolicyRequest) -> Vec<String> {
    match t.validate(req) {
        Ok(()) => Vec::new(),
        Err(err) => {
            assert_eq!(err.kind(), ErrorKind::PolicyViolation);
            err.violations().iter().map(|v| v.field.clone()).collect()
        }
    }
}

fn acme_template() -> CertificateTemplate {
    template(serde_json::json!({
        "slug": "acme-web",
        "subject": [{ "type": "common_name", "allowed": ["*.acme.com", "acme.com"], "required": true }],
        "sans": [
            { "type": "DNS", "allowed": ["*.acme.com", "acme.com"], "denied": ["admin.acme.com"] },
            { "type": "IP", "allowed": ["10.0.0.0/8", "::1/128"] }
        ],
        "keyUsages": { "required": ["digital_signature"], "allowed": ["key_encipherment"] },
        "extendedKeyUsages": { "required": ["server_auth"], "allowed": ["client_auth"] },
        "algorithms": { "signature": ["ECDSA-SHA256", "RSA-SHA256"], "minRsaBits": 2048 },
        "validity": { "max": "90d" }
    }))
}

#[test]
fn wildcard_matches_exactly_one_label() {
    let t = acme_template();
    let ok = request("www.acme.com", &[SubjectAltName::dns("www.acme.com")]);
    assert_eq!(fields(&t, &ok), Vec::<String>::new());
    let deep = request("www.acme.com", &[SubjectAltName::dns("a.b.acme.com")]);
    assert_eq!(fields(&t, &deep), ["attributes.altNames[0]"]);
    let apex = request("acme.com", &[SubjectAltName::dns("acme.com")]);
    assert!(t.validate(&apex).is_ok());
    let cn_deep = request("a.b.acme.com", &[SubjectAltName::dns("b.acme.com")]);
    assert_eq!(fields(&t, &cn_deep), ["attributes.commonName"]);
}

#[test]
fn denied_beats_allowed() {
    let t = acme_template();
    let req = request("admin.acme.com", &[SubjectAltName::dns("ADMIN.acme.com")]);
    let err = t.validate(&req).expect_err("denied");
    assert_eq!(err.violations().len(), 1);
    assert!(err.violations()[0].message.contains("denied"), "{err}");
}

#[test]
fn ip_sans_match_cidr_ranges() {
    let t = acme_template();
    let inside = request("acme.com", &[SubjectAltName::ip("10.9.8.7".parse().expect("IP"))]);
    assert!(t.validate(&inside).is_ok());
    let loopback6 = request("acme.com", &[SubjectAltName::ip("::1".parse().expect("IP"))]);
    assert!(t.validate(&loopback6).is_ok());
    let outside = request("acme.com", &[SubjectAltName::ip("192.168.1.1".parse().expect("IP"))]);
    assert_eq!(fields(&t, &outside), ["attributes.altNames[0]"]);
    // A type without a rule is not allowed once the template lists SAN rules.
    let email = request("acme.com", &[SubjectAltName::email("a@acme.com")]);
    assert_eq!(fields(&t, &email), ["attributes.altNames[0]"]);
}

#[test]
fn every_violation_is_reported_at_once() {
    let t = acme_template();
    let mut req = request(
        "www.acme.com",
        &[SubjectAltName::dns("www.acme.com"), SubjectAltName::dns("a.b.acme.com")],
    );
    req.ttl = Ttl::from_days(91);
    req.key_family = KeyFamily::Rsa;
    req.key_bits = 1024;
    req.signature_algorithm = SignatureAlgorithm::RsaSha256;
    req.extended_key_usages = vec![ExtendedKeyUsage::CodeSigning];
    let got = fields(&t, &req);
    assert_eq!(
        got,
        [
            "attributes.altNames[1]",
            "attributes.extendedKeyUsages",
            "attributes.extendedKeyUsages",
            "attributes.keyAlgorithm",
            "attributes.ttl",
        ],
        "server_auth missing and code_signing extra are two violations"
    );
}

#[test]
fn four_problems_four_violations() {
    let t = acme_template();
    let mut req = request("evil.com", &[SubjectAltName::dns("www.acme.com")]);
    req.ttl = Ttl::from_days(365);
    req.signature_algorithm = SignatureAlgorithm::EcdsaSha384;
    req.key_usages = vec![];
    assert_eq!(
        fields(&t, &req),
        [
            "attributes.commonName",
            "attributes.keyUsages",
            "attributes.signatureAlgorithm",
            "attributes.ttl"
        ]
    );
}

#[test]
fn ttl_over_max_and_weak_rsa_are_rejected() {
    let t = acme_template();
    let mut req = request("acme.com", &[SubjectAltName::dns("acme.com")]);
    req.ttl = Ttl::from_days(90);
    assert!(t.validate(&req).is_ok());
    req.ttl = Ttl::from_seconds(90 * 86_400 + 1);
    assert_eq!(fields(&t, &req), ["attributes.ttl"]);
    req.ttl = Ttl::from_days(30);
    req.key_family = KeyFamily::Rsa;
    req.key_bits = 1024;
    req.signature_algorithm = SignatureAlgorithm::RsaSha256;
    assert_eq!(fields(&t, &req), ["attributes.keyAlgorithm"]);
    req.key_bits = 2048;
    assert!(t.validate(&req).is_ok());
    assert_eq!(t.max_ttl(), Some(Ttl::from_days(90)));
}

#[test]
fn required_sans_need_a_match() {
    let t = template(serde_json::json!({
        "slug": "spiffe",
        "sans": [{ "type": "URI", "allowed": ["spiffe://acme/*"], "required": ["spiffe://acme/ns/*"] }]
    }));
    let ok = request("x", &[SubjectAltName::uri("spiffe://acme/ns/web")]);
    assert!(t.validate(&ok).is_ok());
    let missing = request("x", &[SubjectAltName::uri("spiffe://acme/other")]);
    assert_eq!(fields(&t, &missing), ["attributes.altNames"]);
}

#[test]
fn template_without_rules_allows_anything_but_bad_syntax() {
    let t = CertificateTemplate::permissive("any");
    let mut req = request("whatever", &[SubjectAltName::email("a@b.example")]);
    req.ttl = Ttl::from_days(3650);
    assert!(t.validate(&req).is_ok());
    req.alt_names.push(SubjectAltName::dns("bad name"));
    assert_eq!(fields(&t, &req), ["attributes.altNames[1]"]);
}

fn public(at: OffsetDateTime, days: u64) -> PolicyRequest {
    let mut req = request("www.example.com", &[SubjectAltName::dns("www.example.com")]);
    req.issued_at = at;
    req.ttl = Ttl::from_days(days);
    req
}

#[test]
fn br_validity_depends_on_the_issuance_date() {
    let t = CertificateTemplate::from_preset("public", TemplatePreset::PublicTls);
    t.validate_definition().expect("preset is coherent");
    assert!(t.validate(&public(datetime!(2026-01-10 0:00 UTC), 398)).is_ok());
    assert_eq!(fields(&t, &public(datetime!(2026-01-10 0:00 UTC), 399)), ["attributes.ttl"]);
    assert!(t.validate(&public(datetime!(2026-04-01 0:00 UTC), 199)).is_ok());
    assert_eq!(fields(&t, &public(datetime!(2026-04-01 0:00 UTC), 201)), ["attributes.ttl"]);
    assert_eq!(t.max_ttl_at(datetime!(2029-03-15 0:00 UTC)), Some(Ttl::from_days(47)));
}

#[test]
fn public_tls_rejects_ec_key_encipherment_and_br_problems() {
    let t = CertificateTemplate::from_preset("public", TemplatePreset::PublicTls);
    let mut req = public(datetime!(2026-01-10 0:00 UTC), 90);
    req.key_usages = vec![KeyUsage::DigitalSignature, KeyUsage::KeyEncipherment];
    assert_eq!(fields(&t, &req), ["attributes.keyUsages"]);
    req.key_family = KeyFamily::Rsa;
    req.key_bits = 2048;
    req.signature_algorithm = SignatureAlgorithm::RsaSha256;
    assert!(t.validate(&req).is_ok(), "keyEncipherment is fine with RSA");

    let mut bad = public(datetime!(2026-01-10 0:00 UTC), 90);
    bad.subject = Subject::common_name("other.example.com");
    bad.alt_names = vec![
        SubjectAltName::dns("www.example.com"),
        SubjectAltName::ip("10.0.0.1".parse().expect("IP")),
        SubjectAltName::dns("under_score.example.com"),
        SubjectAltName::email("a@example.com"),
    ];
    bad.extended_key_usages = vec![ExtendedKeyUsage::ClientAuth];
    bad.key_family = KeyFamily::Ed25519;
    bad.signature_algorithm = SignatureAlgorithm::Ed25519;
    assert_eq!(
        fields(&t, &bad),
        [
            "attributes.altNames[3]",
            "attributes.extendedKeyUsages",
            "attributes.keyAlgorithm",
            "attributes.signatureAlgorithm",
            "attributes.altNames[1]",
            "attributes.altNames[2]",
            "attributes.commonName",
        ]
    );
}

#[test]
fn defaults_follow_preset_and_key_family() {
    let server = CertificateTemplate::from_preset("s", TemplatePreset::TlsServer);
    assert_eq!(server.default_key_usages_for(KeyFamily::Ec), [KeyUsage::DigitalSignature]);
    assert_eq!(
        server.default_key_usages_for(KeyFamily::Rsa),
        [KeyUsage::DigitalSignature, KeyUsage::KeyEncipherment]
    );
    assert_eq!(server.default_extended_key_usages(), [ExtendedKeyUsage::ServerAuth]);
    let client = CertificateTemplate::from_preset("c", TemplatePreset::TlsClient);
    assert_eq!(client.default_key_usages_for(KeyFamily::Rsa), [KeyUsage::DigitalSignature]);
    assert_eq!(client.default_extended_key_usages(), [ExtendedKeyUsage::ClientAuth]);
    let plain = CertificateTemplate::permissive("p");
    assert!(plain.default_extended_key_usages().is_empty());
}

#[test]
fn template_json_round_trips_and_bad_definitions_name_fields() {
    let t = acme_template();
    let json = serde_json::to_value(&t).expect("valid");
    assert_eq!(json["sans"][1]["allowed"][0], "10.0.0.0/8");
    assert_eq!(json["algorithms"]["minRsaBits"], 2048);
    let back: CertificateTemplate = serde_json::from_value(json).expect("valid");
    assert_eq!(back, t);

    let bad: CertificateTemplate = serde_json::from_value(serde_json::json!({
        "slug": "Bad Slug",
        "sans": [
            { "type": "IP", "allowed": ["10.0.0.0/33"] },
            { "type": "DNS", "allowed": ["a.*.acme.com"] }
        ]
    }))
    .expect("valid");
    let err = bad.validate_definition().expect_err("incoherent");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let text = err.to_string();
    for field in ["slug", "sans[0].allowed[0]", "sans[1].allowed[0]"] {
        assert!(text.contains(field), "{field} in {text}");
    }
    assert!(
        serde_json::from_value::<CertificateTemplate>(serde_json::json!({
            "slug": "x", "subject": [{ "type": "nickname", "allowed": ["*"] }]
        }))
        .is_err()
    );
}

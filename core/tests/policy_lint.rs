//! API tests of lint-before-sign: every rule with an input that passes and one that fails.

use certloop::model::{ExtendedKeyUsage, KeyFamily, KeyUsage, SubjectAltName};
use certloop::policy::{LintInput, LintProfile, lint_certificate, lint_rules};
use time::Duration;
use time::macros::datetime;

/// A clean public TLS leaf issued 2026-01-10, 90 days.
fn clean() -> LintInput {
    let not_before = datetime!(2026-01-10 0:00 UTC);
    LintInput {
        serial: vec![0x01, 0x9a, 0xff, 0x10, 0x22, 0x33, 0x44, 0x55, 0x66],
        subject_is_empty: false,
        common_name: Some("www.example.com".into()),
        alt_names: vec![
            SubjectAltName::dns("www.example.com"),
            SubjectAltName::dns("*.example.com"),
        ],
        san_critical: Some(false),
        self_signed: false,
        has_authority_key_id: true,
        has_subject_key_id: true,
        extension_oids: vec!["2.5.29.17".into(), "2.5.29.35".into(), "2.5.29.14".into()],
        not_before,
        not_after: not_before + Duration::days(90) - Duration::seconds(1),
        utc_time_used_for_pre_2050: true,
        is_ca: false,
        key_family: KeyFamily::Ec,
        key_bits: 256,
        key_usages: vec![KeyUsage::DigitalSignature],
        extended_key_usages: vec![ExtendedKeyUsage::ServerAuth, ExtendedKeyUsage::ClientAuth],
        policy_oids: vec!["2.23.140.1.2.1".into()],
        has_aia_ca_issuers_or_ocsp: true,
        issued_at: not_before,
    }
}

fn rules(input: &LintInput, profile: LintProfile) -> Vec<&'static str> {
    lint_certificate(input, profile).into_iter().map(|f| f.rule).collect()
}

/// Each case breaks exactly one rule, starting from the clean input.
fn breaking_cases() -> Vec<(&'static str, LintInput)> {
    let mut cases: Vec<(&'static str, LintInput)> = Vec::new();
    let mut add = |rule, edit: &dyn Fn(&mut LintInput)| {
        let mut input = clean();
        edit(&mut input);
        cases.push((rule, input));
    };
    add("rfc5280.serial.positive", &|c| c.serial = vec![0x80, 0x01]);
    add("rfc5280.serial.positive", &|c| c.serial = vec![0x00]);
    add("rfc5280.serial.length", &|c| c.serial = vec![0x11; 21]);
    add("rfc5280.serial.minimal_encoding", &|c| c.serial = vec![0x00, 0x12]);
    add("rfc5280.san.critical_if_subject_empty", &|c| {
        c.subject_is_empty = true;
        c.common_name = None;
    });
    add("rfc5280.aki.present", &|c| c.has_authority_key_id = false);
    add("rfc5280.extensions.unique", &|c| c.extension_oids.push("2.5.29.17".into()));
    add("rfc5280.validity.utc_time_before_2050", &|c| c.utc_time_used_for_pre_2050 = false);
    add("cabf.validity.max", &|c| c.not_after = c.not_before + Duration::days(398));
    add("cabf.san.types", &|c| c.alt_names.push(SubjectAltName::uri("spiffe://x/y")));
    add("cabf.san.dns_ldh", &|c| c.alt_names.push(SubjectAltName::dns("a_b.example.com")));
    add("cabf.san.dns_ldh", &|c| c.alt_names.push(SubjectAltName::dns("intranet")));
    add("cabf.san.no_reserved_ip", &|c| {
        c.alt_names.push(SubjectAltName::ip("192.168.1.10".parse().expect("IP")));
    });
    add("cabf.cn.in_san", &|c| c.common_name = Some("other.example.com".into()));
    add("cabf.eku.server_auth", &|c| c.extended_key_usages = vec![ExtendedKeyUsage::ClientAuth]);
    add("cabf.eku.only_tls", &|c| c.extended_key_usages.push(ExtendedKeyUsage::CodeSigning));
    add("cabf.key_usage.no_key_encipherment_with_ec", &|c| {
        c.key_usages.push(KeyUsage::KeyEncipherment);
    });
    add("cabf.key.allowed", &|c| {
        c.key_family = KeyFamily::Rsa;
        c.key_bits = 1024;
    });
    add("cabf.key.allowed", &|c| c.key_family = KeyFamily::Ed25519);
    add("cabf.policy.reserved_oid", &|c| c.policy_oids = vec!["1.3.6.1.4.1.99999.1".into()]);
    add("cabf.aia.present", &|c| c.has_aia_ca_issuers_or_ocsp = false);
    cases
}

#[test]
fn a_clean_certificate_passes_every_rule() {
    assert_eq!(rules(&clean(), LintProfile::PublicTls), Vec::<&str>::new());
    let mut rsa = clean();
    rsa.key_family = KeyFamily::Rsa;
    rsa.key_bits = 2048;
    rsa.key_usages.push(KeyUsage::KeyEncipherment);
    rsa.alt_names.push(SubjectAltName::ip("8.8.8.8".parse().expect("IP")));
    assert_eq!(rules(&rsa, LintProfile::PublicTls), Vec::<&str>::new());
}

#[test]
fn each_rule_fails_on_its_own_breakage() {
    for (rule, input) in breaking_cases() {
        assert_eq!(rules(&input, LintProfile::PublicTls), [rule], "{rule}");
    }
}

#[test]
fn every_rule_is_exercised() {
    let broken: Vec<&str> = breaking_cases().iter().map(|(r, _)| *r).collect();
    let special = [
        "rfc5280.san.present_if_subject_empty",
        "rfc5280.ski.present_for_ca",
        "rfc5280.validity.order",
        "rfc5280.key_usage.cert_sign_only_for_ca",
        "cabf.leaf.not_ca",
        "cabf.san.present",
    ];
    for rule in lint_rules(LintProfile::PublicTls) {
        assert!(broken.contains(&rule) || special.contains(&rule), "{rule} has no failing case");
    }
}

#[test]
fn rules_that_need_several_fields() {
    // Empty subject without SANs: no SAN extension at all; under PublicTls also cabf.san.present.
    let mut no_san = clean();
    no_san.subject_is_empty = true;
    no_san.common_name = None;
    no_san.alt_names.clear();
    no_san.san_critical = None;
    assert_eq!(rules(&no_san, LintProfile::Rfc5280), ["rfc5280.san.present_if_subject_empty"]);
    no_san.san_critical = Some(true);
    no_san.alt_names.push(SubjectAltName::dns("www.example.com"));
    assert_eq!(rules(&no_san, LintProfile::Rfc5280), Vec::<&str>::new());
    let mut no_san_public = clean();
    no_san_public.alt_names.clear();
    no_san_public.san_critical = None;
    assert!(rules(&no_san_public, LintProfile::PublicTls).contains(&"cabf.san.present"));

    // A CA certificate: SKI and keyCertSign required; not allowed under PublicTls.
    let mut ca = clean();
    ca.is_ca = true;
    ca.key_usages = vec![KeyUsage::KeyCertSign, KeyUsage::CrlSign];
    ca.self_signed = true;
    ca.has_authority_key_id = false;
    assert_eq!(rules(&ca, LintProfile::Rfc5280), Vec::<&str>::new());
    ca.has_subject_key_id = false;
    ca.key_usages = vec![KeyUsage::CrlSign];
    assert_eq!(
        rules(&ca, LintProfile::Rfc5280),
        ["rfc5280.ski.present_for_ca", "rfc5280.key_usage.cert_sign_only_for_ca"]
    );
    assert!(rules(&ca, LintProfile::PublicTls).contains(&"cabf.leaf.not_ca"));
    let mut leaf_signer = clean();
    leaf_signer.key_usages.push(KeyUsage::KeyCertSign);
    assert_eq!(
        rules(&leaf_signer, LintProfile::Rfc5280),
        ["rfc5280.key_usage.cert_sign_only_for_ca"]
    );

    // Dates: order, and UTCTime only matters before 2050.
    let mut backwards = clean();
    backwards.not_after = backwards.not_before;
    assert_eq!(rules(&backwards, LintProfile::Rfc5280), ["rfc5280.validity.order"]);
    let mut future = clean();
    future.not_before = datetime!(2050-01-01 0:00 UTC);
    future.not_after = datetime!(2051-01-01 0:00 UTC);
    future.utc_time_used_for_pre_2050 = false;
    assert_eq!(rules(&future, LintProfile::Rfc5280), Vec::<&str>::new());
}

#[test]
fn br_validity_counts_inclusive_days_by_issuance_date() {
    let mut c = clean();
    c.not_after = c.not_before + Duration::days(398) - Duration::seconds(1);
    assert!(!rules(&c, LintProfile::PublicTls).contains(&"cabf.validity.max"));
    c.issued_at = datetime!(2026-04-01 0:00 UTC);
    c.not_before = c.issued_at;
    c.not_after = c.not_before + Duration::days(200) - Duration::seconds(1);
    assert_eq!(rules(&c, LintProfile::PublicTls), Vec::<&str>::new());
    c.not_after = c.not_before + Duration::days(200);
    assert_eq!(rules(&c, LintProfile::PublicTls), ["cabf.validity.max"]);
    // RFC 5280 alone has no validity limit.
    assert_eq!(rules(&c, LintProfile::Rfc5280), Vec::<&str>::new());
}

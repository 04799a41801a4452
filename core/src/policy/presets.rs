//! Ready-made templates and the CA/Browser Forum Baseline Requirements (BR) rules for
//! publicly-trusted TLS server certificates that depend on more than static patterns.
//!
//! A `publicTls` template built by [`CertificateTemplate::from_preset`] carries the static BR
//! rules as ordinary rules (SAN types, usages, algorithms). Its `preset` flag adds the dynamic
//! ones checked by [`public_tls_violations`]: the validity limit in force on the issuance date
//! (ballot SC-081), the CN among the SANs, LDH DNS names, no reserved IP addresses, at least one
//! SAN, and no keyEncipherment with EC keys.

use std::net::IpAddr;

use ipnet::IpNet;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use super::PolicyRequest;
use super::rules::{
    AlgorithmRule, SanRule, SubjectAttribute, SubjectRule, UsageRule, ValidityRule,
};
use super::template::{CertificateTemplate, TemplatePreset};
use crate::error::Violation;
use crate::model::{
    ExtendedKeyUsage, KeyAlgorithm, KeyFamily, KeyUsage, SanType, SignatureAlgorithm, Ttl,
};

/// The BR maximum subscriber certificate validity, in days, for a certificate issued at `at`
/// (BR §6.3.2 as amended by ballot SC-081): 398 days before 2026-03-15, 200 days from then,
/// 100 days from 2027-03-15, 47 days from 2029-03-15.
pub fn br_max_validity_days(at: OffsetDateTime) -> u32 {
    if at < datetime!(2026-03-15 0:00 UTC) {
        398
    } else if at < datetime!(2027-03-15 0:00 UTC) {
        200
    } else if at < datetime!(2029-03-15 0:00 UTC) {
        100
    } else {
        47
    }
}

/// [`br_max_validity_days`] as a duration.
pub fn br_max_validity(at: OffsetDateTime) -> Duration {
    Duration::days(i64::from(br_max_validity_days(at)))
}

/// The BR rules a `publicTls` template adds to its static rules; every violation of `req`.
pub fn public_tls_violations(req: &PolicyRequest) -> Vec<Violation> {
    let mut out = Vec::new();
    if req.alt_names.is_empty() {
        out.push(Violation::new(
            "attributes.altNames",
            "a publicly-trusted TLS certificate needs at least one DNS or IP SAN (BR 7.1.2.7.12)",
        ));
    }
    for (i, san) in req.alt_names.iter().enumerate() {
        let field = format!("attributes.altNames[{i}]");
        // Syntax errors are reported by the template's SAN check; only add BR-specific ones.
        if san.validate(&field).is_err() {
            continue;
        }
        match san.kind {
            SanType::Dns if !is_public_dns_name(&san.value) => out.push(Violation::new(
                field,
                format!(
                    "{:?} is not a public LDH DNS name (letters, digits, '-', at least two \
                     labels, '*' only as the whole left-most label; BR 7.1.4.2)",
                    san.value
                ),
            )),
            SanType::Ip if san.ip_addr().is_some_and(is_reserved_ip) => out.push(Violation::new(
                field,
                format!(
                    "{} is a reserved (private, loopback, ...) IP address (BR 7.1.4.2)",
                    san.value
                ),
            )),
            _ => {}
        }
    }
    if let Some(cn) = &req.subject.common_name {
        let listed = req.alt_names.iter().any(|san| match san.kind {
            SanType::Dns => {
                san.value.trim_end_matches('.').eq_ignore_ascii_case(cn.trim_end_matches('.'))
            }
            SanType::Ip => san.ip_addr().is_some_and(|ip| cn.parse::<IpAddr>() == Ok(ip)),
            _ => false,
        });
        if !listed {
            out.push(Violation::new(
                "attributes.commonName",
                format!("{cn:?} must also be one of the DNS or IP SANs (BR 7.1.4.3)"),
            ));
        }
    }
    if req.key_family == KeyFamily::Ec && req.key_usages.contains(&KeyUsage::KeyEncipherment) {
        out.push(Violation::new(
            "attributes.keyUsages",
            "key_encipherment cannot be used with an EC key (BR 7.1.2.7.11)",
        ));
    }
    out
}

/// Whether `ip` is in a range the BR forbid in publicly-trusted certificates (IANA special
/// purpose registries: private, loopback, link-local, CGNAT, documentation, multicast, ...).
pub fn is_reserved_ip(ip: IpAddr) -> bool {
    const RESERVED: [&str; 22] = [
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "::/127",
        "::ffff:0:0/96",
        "64:ff9b:1::/48",
        "100::/64",
        "2001:db8::/32",
        "fc00::/7",
        "fe80::/10",
    ];
    let multicast_v6 = matches!(ip, IpAddr::V6(v6) if v6.is_multicast());
    multicast_v6
        || RESERVED.iter().filter_map(|net| net.parse::<IpNet>().ok()).any(|net| net.contains(&ip))
}

/// Whether `name` is an LDH DNS name with at least two labels and a non-numeric last label;
/// `*` may only be the whole left-most label (BR 7.1.4.2, RFC 5280 §4.2.1.6).
pub fn is_public_dns_name(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    let rest = name.strip_prefix("*.").unwrap_or(name);
    let labels: Vec<&str> = rest.split('.').collect();
    let ldh = |label: &&str| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    let tld_ok = labels.last().is_some_and(|tld| !tld.bytes().all(|b| b.is_ascii_digit()));
    name.len() <= 253 && labels.len() >= 2 && labels.iter().all(ldh) && tld_ok
}

/// The template of `preset`.
pub(crate) fn template(slug: &str, preset: TemplatePreset) -> CertificateTemplate {
    let any = || vec!["*".to_owned()];
    let san = |kind| SanRule { kind, allowed: any(), required: Vec::new(), denied: Vec::new() };
    let subject = |attribute, allowed: Vec<String>| SubjectRule {
        attribute,
        allowed,
        required: false,
        denied: Vec::new(),
    };
    let mut t = CertificateTemplate::permissive(slug);
    t.preset = Some(preset);
    t.algorithms = Some(AlgorithmRule { min_rsa_bits: Some(2048), ..AlgorithmRule::default() });
    let ku = |allowed| UsageRule { required: vec![KeyUsage::DigitalSignature], allowed };
    match preset {
        TemplatePreset::TlsServer => {
            t.description = Some("Private TLS server certificate".into());
            t.sans = vec![san(SanType::Dns), san(SanType::Ip), san(SanType::Uri)];
            t.key_usages = Some(ku(vec![KeyUsage::KeyEncipherment, KeyUsage::KeyAgreement]));
            t.extended_key_usages = Some(UsageRule {
                required: vec![ExtendedKeyUsage::ServerAuth],
                allowed: vec![ExtendedKeyUsage::ClientAuth],
            });
            t.validity = Some(ValidityRule { max: Ttl::from_days(398) });
        }
        TemplatePreset::TlsClient => {
            t.description = Some("Private TLS client (mTLS) certificate".into());
            t.key_usages = Some(ku(vec![KeyUsage::KeyEncipherment, KeyUsage::KeyAgreement]));
            t.extended_key_usages = Some(UsageRule {
                required: vec![ExtendedKeyUsage::ClientAuth],
                allowed: Vec::new(),
            });
            t.validity = Some(ValidityRule { max: Ttl::from_days(365) });
        }
        TemplatePreset::PublicTls => {
            t.description = Some(
                "Publicly-trusted TLS server certificate (CA/B Forum Baseline Requirements)".into(),
            );
            // BR 7.1.2.7.2: OU is prohibited; e-mail belongs in S/MIME certificates.
            t.subject = vec![
                subject(SubjectAttribute::OrganizationalUnit, Vec::new()),
                subject(SubjectAttribute::Email, Vec::new()),
            ];
            t.sans = vec![san(SanType::Dns), san(SanType::Ip)];
            t.key_usages = Some(ku(vec![KeyUsage::KeyEncipherment]));
            t.extended_key_usages = Some(UsageRule {
                required: vec![ExtendedKeyUsage::ServerAuth],
                allowed: vec![ExtendedKeyUsage::ClientAuth],
            });
            t.algorithms = Some(AlgorithmRule {
                signature: vec![
                    SignatureAlgorithm::RsaSha256,
                    SignatureAlgorithm::RsaSha384,
                    SignatureAlgorithm::RsaSha512,
                    SignatureAlgorithm::EcdsaSha256,
                    SignatureAlgorithm::EcdsaSha384,
                ],
                key_algorithm: vec![
                    KeyAlgorithm::EcP256,
                    KeyAlgorithm::EcP384,
                    KeyAlgorithm::Rsa2048,
                    KeyAlgorithm::Rsa3072,
                    KeyAlgorithm::Rsa4096,
                ],
                min_rsa_bits: Some(2048),
            });
            t.validity = Some(ValidityRule { max: Ttl::from_days(398) });
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn br_schedule_boundaries() {
        assert_eq!(br_max_validity_days(datetime!(2026-03-14 23:59:59 UTC)), 398);
        assert_eq!(br_max_validity_days(datetime!(2026-03-15 0:00 UTC)), 200);
        assert_eq!(br_max_validity_days(datetime!(2027-03-14 12:00 UTC)), 200);
        assert_eq!(br_max_validity_days(datetime!(2027-03-15 0:00 UTC)), 100);
        assert_eq!(br_max_validity_days(datetime!(2029-03-15 0:00 UTC)), 47);
        assert_eq!(br_max_validity(datetime!(2030-01-01 0:00 UTC)), Duration::days(47));
    }

    #[test]
    fn reserved_ips_and_ldh_names() {
        for ip in
            ["10.1.2.3", "192.168.0.1", "127.0.0.1", "::1", "fd00::1", "fe80::1", "100.64.0.1"]
        {
            assert!(is_reserved_ip(ip.parse().expect("IP")), "{ip}");
        }
        for ip in ["8.8.8.8", "2606:4700::1111"] {
            assert!(!is_reserved_ip(ip.parse().expect("IP")), "{ip}");
        }
        for good in ["acme.com", "*.acme.com", "a-b.acme.com", "xn--bcher-kva.example"] {
            assert!(is_public_dns_name(good), "{good}");
        }
        for bad in ["localhost", "a_b.acme.com", "-a.acme.com", "a.*.acme.com", "10.0.0.1", "*.com"]
        {
            assert!(!is_public_dns_name(bad), "{bad}");
        }
    }
}

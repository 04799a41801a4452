//! Lint before signing: checks a to-be-issued certificate against RFC 5280 and, for public TLS,
//! the CA/Browser Forum Baseline Requirements (BR), in the spirit of zlint. The CA fills a plain
//! [`LintInput`] from the certificate it is about to sign, so this module needs no X.509 parser.
//! Every rule is a named function; an empty result means the certificate may be signed.

use serde::Serialize;
use time::OffsetDateTime;

use super::presets::{br_max_validity_days, is_public_dns_name, is_reserved_ip};
use crate::model::{ExtendedKeyUsage, KeyFamily, KeyUsage, SanType, SubjectAltName};

/// One broken lint rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LintFinding {
    /// The rule's stable name, e.g. `rfc5280.serial.positive`.
    pub rule: &'static str,
    /// What is wrong.
    pub message: String,
}

/// The facts of a to-be-signed certificate that the lint rules look at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LintInput {
    /// The serial number's DER INTEGER content bytes (two's complement, big-endian).
    pub serial: Vec<u8>,
    /// Whether the subject DN is empty.
    pub subject_is_empty: bool,
    /// The subject CN, if any.
    pub common_name: Option<String>,
    /// The subject alternative names.
    pub alt_names: Vec<SubjectAltName>,
    /// Whether the SAN extension is critical; `None` when there is no SAN extension.
    pub san_critical: Option<bool>,
    /// Whether the certificate is self-signed (issuer = subject, own key).
    pub self_signed: bool,
    /// Whether an authorityKeyIdentifier extension is present.
    pub has_authority_key_id: bool,
    /// Whether a subjectKeyIdentifier extension is present.
    pub has_subject_key_id: bool,
    /// The dotted OIDs of all extensions, in order (to find duplicates).
    pub extension_oids: Vec<String>,
    /// Start of validity.
    pub not_before: OffsetDateTime,
    /// End of validity.
    pub not_after: OffsetDateTime,
    /// Whether dates before 2050 are encoded as UTCTime (RFC 5280 §4.1.2.5).
    pub utc_time_used_for_pre_2050: bool,
    /// Whether basicConstraints says cA.
    pub is_ca: bool,
    /// The subject key's family.
    pub key_family: KeyFamily,
    /// The subject key's size in bits.
    pub key_bits: u32,
    /// The keyUsage bits.
    pub key_usages: Vec<KeyUsage>,
    /// The extendedKeyUsage purposes.
    pub extended_key_usages: Vec<ExtendedKeyUsage>,
    /// The certificatePolicies OIDs.
    pub policy_oids: Vec<String>,
    /// Whether an authorityInfoAccess extension with caIssuers or OCSP is present.
    pub has_aia_ca_issuers_or_ocsp: bool,
    /// When the certificate is signed; dates the BR validity limit.
    pub issued_at: OffsetDateTime,
}

/// Which rule set to apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum LintProfile {
    /// RFC 5280 structure rules, for every certificate.
    Rfc5280,
    /// RFC 5280 plus the BR rules for publicly-trusted TLS subscriber certificates.
    PublicTls,
}

/// A named lint rule: `Some(message)` when the input breaks it.
type Rule = (&'static str, fn(&LintInput) -> Option<String>);

/// RFC 5280 rules.
const RFC5280_RULES: &[Rule] = &[
    ("rfc5280.serial.positive", serial_positive),
    ("rfc5280.serial.length", serial_length),
    ("rfc5280.serial.minimal_encoding", serial_minimal),
    ("rfc5280.san.present_if_subject_empty", san_present_if_subject_empty),
    ("rfc5280.san.critical_if_subject_empty", san_critical_if_subject_empty),
    ("rfc5280.aki.present", aki_present),
    ("rfc5280.ski.present_for_ca", ski_present_for_ca),
    ("rfc5280.extensions.unique", extensions_unique),
    ("rfc5280.validity.order", validity_order),
    ("rfc5280.validity.utc_time_before_2050", utc_time_before_2050),
    ("rfc5280.key_usage.cert_sign_only_for_ca", cert_sign_only_for_ca),
];

/// BR rules for TLS subscriber certificates, applied after the RFC 5280 ones.
const PUBLIC_TLS_RULES: &[Rule] = &[
    ("cabf.leaf.not_ca", leaf_not_ca),
    ("cabf.validity.max", br_validity),
    ("cabf.san.present", br_san_present),
    ("cabf.san.types", br_san_types),
    ("cabf.san.dns_ldh", br_dns_ldh),
    ("cabf.san.no_reserved_ip", br_no_reserved_ip),
    ("cabf.cn.in_san", br_cn_in_san),
    ("cabf.eku.server_auth", br_server_auth),
    ("cabf.eku.only_tls", br_only_tls_ekus),
    ("cabf.key_usage.no_key_encipherment_with_ec", br_no_ke_with_ec),
    ("cabf.key.allowed", br_key_allowed),
    ("cabf.policy.reserved_oid", br_policy_oid),
    ("cabf.aia.present", br_aia),
];

/// The CA/B Forum reserved certificate policy OIDs (BR 7.1.6.1): DV, OV, IV, EV.
pub const CABF_POLICY_OIDS: [&str; 4] =
    ["2.23.140.1.2.1", "2.23.140.1.2.2", "2.23.140.1.2.3", "2.23.140.1.1"];

/// Every rule of `profile` that `cert` breaks; empty when it may be signed.
pub fn lint_certificate(cert: &LintInput, profile: LintProfile) -> Vec<LintFinding> {
    let extra: &[Rule] = match profile {
        LintProfile::Rfc5280 => &[],
        LintProfile::PublicTls => PUBLIC_TLS_RULES,
    };
    RFC5280_RULES
        .iter()
        .chain(extra)
        .filter_map(|&(rule, check)| check(cert).map(|message| LintFinding { rule, message }))
        .collect()
}

/// The names of the rules of `profile`, in the order they run.
pub fn lint_rules(profile: LintProfile) -> Vec<&'static str> {
    let extra: &[Rule] = if profile == LintProfile::PublicTls { PUBLIC_TLS_RULES } else { &[] };
    RFC5280_RULES.iter().chain(extra).map(|(name, _)| *name).collect()
}

/// RFC 5280 §4.1.2.2: the serial is a positive integer.
fn serial_positive(c: &LintInput) -> Option<String> {
    let negative = c.serial.first().is_some_and(|b| b & 0x80 != 0);
    let zero = c.serial.iter().all(|b| *b == 0);
    (negative || zero).then(|| "the serial number must be a positive integer".to_owned())
}

/// RFC 5280 §4.1.2.2: at most 20 octets.
fn serial_length(c: &LintInput) -> Option<String> {
    (c.serial.len() > 20)
        .then(|| format!("the serial number is {} octets; at most 20 are allowed", c.serial.len()))
}

/// X.690 §8.3.2: no redundant leading 0x00 (or 0xFF) octet in an INTEGER.
fn serial_minimal(c: &LintInput) -> Option<String> {
    let redundant = match c.serial.as_slice() {
        [0x00, next, ..] => next & 0x80 == 0,
        [0xFF, next, ..] => next & 0x80 != 0,
        _ => false,
    };
    redundant.then(|| "the serial number has a redundant leading octet (not DER)".to_owned())
}

/// RFC 5280 §4.1.2.6: an empty subject needs a SAN extension.
fn san_present_if_subject_empty(c: &LintInput) -> Option<String> {
    (c.subject_is_empty && (c.san_critical.is_none() || c.alt_names.is_empty()))
        .then(|| "the subject is empty, so a subjectAltName extension is required".to_owned())
}

/// RFC 5280 §4.2.1.6: with an empty subject the SAN extension is critical.
fn san_critical_if_subject_empty(c: &LintInput) -> Option<String> {
    (c.subject_is_empty && c.san_critical == Some(false)).then(|| {
        "the subject is empty, so the subjectAltName extension must be critical".to_owned()
    })
}

/// RFC 5280 §4.2.1.1: authorityKeyIdentifier in every certificate but self-signed ones.
fn aki_present(c: &LintInput) -> Option<String> {
    (!c.self_signed && !c.has_authority_key_id)
        .then(|| "authorityKeyIdentifier is required in certificates not self-signed".to_owned())
}

/// RFC 5280 §4.2.1.2: subjectKeyIdentifier in every CA certificate.
fn ski_present_for_ca(c: &LintInput) -> Option<String> {
    (c.is_ca && !c.has_subject_key_id)
        .then(|| "subjectKeyIdentifier is required in CA certificates".to_owned())
}

/// RFC 5280 §4.2: an extension appears at most once.
fn extensions_unique(c: &LintInput) -> Option<String> {
    let oids = &c.extension_oids;
    let dup = oids.iter().enumerate().find(|(i, oid)| oids[..*i].contains(oid));
    dup.map(|(_, oid)| format!("extension {oid} appears more than once"))
}

/// RFC 5280 §4.1.2.5: notBefore precedes notAfter.
fn validity_order(c: &LintInput) -> Option<String> {
    (c.not_before >= c.not_after).then(|| "notBefore must be before notAfter".to_owned())
}

/// RFC 5280 §4.1.2.5: dates through 2049 are UTCTime.
fn utc_time_before_2050(c: &LintInput) -> Option<String> {
    let pre_2050 = c.not_before.year() < 2050 || c.not_after.year() < 2050;
    (pre_2050 && !c.utc_time_used_for_pre_2050)
        .then(|| "dates before 2050 must be encoded as UTCTime".to_owned())
}

/// RFC 5280 §4.2.1.3/§4.2.1.9: keyCertSign if and only if cA.
fn cert_sign_only_for_ca(c: &LintInput) -> Option<String> {
    let signs = c.key_usages.contains(&KeyUsage::KeyCertSign);
    match (c.is_ca, signs) {
        (false, true) => Some("keyCertSign is set but basicConstraints cA is not".to_owned()),
        (true, false) => Some("a CA certificate needs the keyCertSign key usage".to_owned()),
        _ => None,
    }
}

/// BR 7.1.2.7.8: a subscriber certificate is not a CA.
fn leaf_not_ca(c: &LintInput) -> Option<String> {
    c.is_ca.then(|| "a TLS subscriber certificate must not be a CA".to_owned())
}

/// BR 6.3.2 (ballot SC-081): validity, counted inclusively in whole days of 86,400 seconds.
fn br_validity(c: &LintInput) -> Option<String> {
    let max_days = br_max_validity_days(c.issued_at);
    let seconds = (c.not_after - c.not_before).whole_seconds() + 1;
    (seconds > i64::from(max_days) * 86_400).then(|| {
        format!(
            "validity of {seconds} seconds (inclusive) exceeds the {max_days}-day limit in force \
             on {}; set notAfter = notBefore + {max_days} days - 1 second at most",
            c.issued_at.date()
        )
    })
}

/// BR 7.1.2.7.12: the SAN extension is present and not empty.
fn br_san_present(c: &LintInput) -> Option<String> {
    (c.san_critical.is_none() || c.alt_names.is_empty())
        .then(|| "a TLS certificate needs a subjectAltName with at least one name".to_owned())
}

/// BR 7.1.2.7.12: only dNSName and iPAddress.
fn br_san_types(c: &LintInput) -> Option<String> {
    let other = c.alt_names.iter().find(|s| !matches!(s.kind, SanType::Dns | SanType::Ip));
    other.map(|s| format!("{s}: only DNS and IP SANs are allowed in TLS certificates"))
}

/// BR 7.1.4.2 / RFC 5280 §4.2.1.6: DNS SANs are LDH names; `*` only as the left-most label.
fn br_dns_ldh(c: &LintInput) -> Option<String> {
    let bad = c.alt_names.iter().find(|s| s.kind == SanType::Dns && !is_public_dns_name(&s.value));
    bad.map(|s| format!("{s} is not a public LDH DNS name"))
}

/// BR 7.1.4.2: no reserved IP addresses.
fn br_no_reserved_ip(c: &LintInput) -> Option<String> {
    let bad = c.alt_names.iter().find(|s| s.ip_addr().is_some_and(is_reserved_ip));
    bad.map(|s| format!("{s} is a reserved IP address"))
}

/// BR 7.1.4.3: the CN, if present, is one of the SAN values.
fn br_cn_in_san(c: &LintInput) -> Option<String> {
    let cn = c.common_name.as_deref()?;
    let listed = c.alt_names.iter().any(|s| match s.kind {
        SanType::Dns => s.value.eq_ignore_ascii_case(cn),
        SanType::Ip => s.ip_addr().is_some_and(|ip| cn.parse() == Ok(ip)),
        _ => false,
    });
    (!listed).then(|| format!("the CN {cn:?} is not among the SANs"))
}

/// BR 7.1.2.7.10: serverAuth is present.
fn br_server_auth(c: &LintInput) -> Option<String> {
    (!c.extended_key_usages.contains(&ExtendedKeyUsage::ServerAuth))
        .then(|| "the serverAuth extended key usage is required".to_owned())
}

/// BR 7.1.2.7.10: only serverAuth and clientAuth.
fn br_only_tls_ekus(c: &LintInput) -> Option<String> {
    let other = c
        .extended_key_usages
        .iter()
        .find(|e| !matches!(e, ExtendedKeyUsage::ServerAuth | ExtendedKeyUsage::ClientAuth));
    other.map(|e| format!("extended key usage {} is not allowed in TLS certificates", e.as_str()))
}

/// BR 7.1.2.7.11: no keyEncipherment with an EC key.
fn br_no_ke_with_ec(c: &LintInput) -> Option<String> {
    (c.key_family == KeyFamily::Ec && c.key_usages.contains(&KeyUsage::KeyEncipherment))
        .then(|| "keyEncipherment must not be set for an EC key".to_owned())
}

/// BR 6.1.5: RSA of at least 2048 bits (a multiple of 8), or ECDSA on P-256, P-384 or P-521.
fn br_key_allowed(c: &LintInput) -> Option<String> {
    let ok = match c.key_family {
        KeyFamily::Rsa => c.key_bits >= 2048 && c.key_bits.is_multiple_of(8),
        KeyFamily::Ec => matches!(c.key_bits, 256 | 384 | 521),
        KeyFamily::Ed25519 => false,
    };
    (!ok).then(|| {
        format!(
            "{:?} key of {} bits is not allowed; use RSA >= 2048 or ECDSA P-256/P-384",
            c.key_family, c.key_bits
        )
    })
}

/// BR 7.1.6.1: a CA/B Forum reserved policy OID is asserted.
fn br_policy_oid(c: &LintInput) -> Option<String> {
    (!c.policy_oids.iter().any(|oid| CABF_POLICY_OIDS.contains(&oid.as_str()))).then(|| {
        "certificatePolicies must include a CA/B Forum reserved OID such as 2.23.140.1.2.1 (DV)"
            .to_owned()
    })
}

/// BR 7.1.2.7.7: authorityInfoAccess with caIssuers (or OCSP).
fn br_aia(c: &LintInput) -> Option<String> {
    (!c.has_aia_ca_issuers_or_ocsp)
        .then(|| "authorityInfoAccess with caIssuers or OCSP is required".to_owned())
}

//! Lint before release: every certificate a local issuer signs is parsed back and checked
//! against RFC 5280 (and the CA/B Forum BRs for public TLS) before anyone sees it. The rules are
//! pure and live in [`crate::policy::lint`]; this file reads the facts they need from the DER.
//!
//! Large public CAs lint a to-be-signed certificate before signing it. rcgen signs in one step,
//! so certloop lints the signed bytes instead and discards them on a finding: the certificate is
//! never returned, stored or logged, which gives the same guarantee.

use time::OffsetDateTime;
use x509_cert::Certificate;
use x509_cert::ext::pkix::SubjectAltName as X509San;
use x509_cert::time::Time;

use crate::crypto::CertificateInfo;
use crate::error::{Error, Result};
use crate::policy::{LintInput, LintProfile, lint_certificate};

/// OID of authorityInfoAccess.
const AIA: &str = "1.3.6.1.5.5.7.1.1";
/// First instant that RFC 5280 §4.1.2.5 encodes as GeneralizedTime.
const YEAR_2050: i32 = 2050;

/// Check the certificate `der`, issued at `issued_at`, against `profile`; what was read from
/// it comes back for the inventory record, so a signed leaf is parsed once.
pub(crate) fn check(
    der: &[u8],
    profile: LintProfile,
    issued_at: OffsetDateTime,
) -> Result<CertificateInfo> {
    let (cert, info) = CertificateInfo::parse(der)?;
    let input = lint_input(&cert, &info, issued_at);
    let findings = lint_certificate(&input, profile);
    if findings.is_empty() {
        return Ok(info);
    }
    let list: Vec<String> = findings.iter().map(|f| format!("{}: {}", f.rule, f.message)).collect();
    Err(Error::Ca {
        message: format!(
            "the issued certificate failed lint and was discarded: {}",
            list.join("; ")
        ),
        retryable: false,
    })
}

/// The facts the lint rules look at.
fn lint_input(cert: &Certificate, info: &CertificateInfo, issued_at: OffsetDateTime) -> LintInput {
    let tbs = cert.tbs_certificate();
    let extensions = tbs.extensions().map(|e| e.as_slice()).unwrap_or_default();
    let extension_oids: Vec<String> = extensions.iter().map(|e| e.extn_id.to_string()).collect();
    let san_critical = extensions
        .iter()
        .find(|e| e.extn_id == <X509San as der::oid::AssociatedOid>::OID)
        .map(|e| e.critical);
    let pre_2050_as_utc = |t: &Time| match t {
        Time::UtcTime(_) => true,
        Time::GeneralTime(g) => g.to_date_time().year() >= u16::try_from(YEAR_2050).unwrap_or(2050),
    };
    let validity = tbs.validity();
    LintInput {
        serial: tbs.serial_number().as_bytes().to_vec(),
        subject_is_empty: tbs.subject().is_empty(),
        common_name: info.subject.common_name.clone(),
        alt_names: info.alt_names.clone(),
        san_critical,
        self_signed: tbs.subject() == tbs.issuer(),
        has_authority_key_id: info.authority_key_id.is_some(),
        has_subject_key_id: info.subject_key_id.is_some(),
        not_before: info.not_before,
        not_after: info.not_after,
        utc_time_used_for_pre_2050: pre_2050_as_utc(&validity.not_before)
            && pre_2050_as_utc(&validity.not_after),
        is_ca: info.is_ca,
        key_family: info.key_family,
        key_bits: info.key_bits,
        key_usages: info.key_usages.clone(),
        extended_key_usages: info.extended_key_usages.clone(),
        policy_oids: info.policies.clone(),
        has_aia_ca_issuers_or_ocsp: extension_oids.iter().any(|oid| oid == AIA),
        extension_oids,
        issued_at,
    }
}

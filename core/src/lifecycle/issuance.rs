//! Turning a request into an approved order, and an issued certificate into an inventory record.
//!
//! This is the one path every issuance and renewal takes, so policy is enforced on all of them:
//! merge the request with the profile's defaults, take the key from the CSR (after checking its
//! proof of possession) or generate one, fill SANs and usages, check the template, and only then
//! hand an order to a connector.

use std::net::IpAddr;
use std::sync::Arc;

use time::OffsetDateTime;

use crate::ca::{CertificateOrder, Issued};
use crate::crypto::{self, CertificateInfo, PrivateKey};
use crate::csr;
use crate::error::{Error, Result};
use crate::model::{
    CertificateAttributes, CertificateRecord, CertificateState, IssueRequest, KeyAlgorithm,
    SignatureAlgorithm, Subject, SubjectAltName, Ttl,
};
use crate::policy::{
    CertificateProfile, CertificateTemplate, LintProfile, PolicyRequest, TemplatePreset,
};

/// Lifetime used when neither the request, the profile nor the template sets one.
pub const DEFAULT_TTL: Ttl = Ttl::from_days(90);

/// The CA/Browser Forum's reserved policy OID for domain-validated subscriber certificates.
const BR_DOMAIN_VALIDATED: &str = "2.23.140.1.2.1";

/// An approved order, with the key the library generated for it (if it did).
#[derive(Debug)]
pub struct ApprovedOrder {
    /// What the connector signs.
    pub order: CertificateOrder,
    /// The generated key, returned once to the caller.
    pub generated_key: Option<Arc<PrivateKey>>,
    /// The PEM CSR the caller sent, kept with the request row.
    pub csr_pem: Option<String>,
}

/// Resolve `request` under `profile` and `template`, enforce the template, and return the order.
///
/// `issuer_signature` is the signature algorithm the issuer uses when the request names none
/// (the CA key's default); `None` means the subject key signs (self-signed).
pub fn approve(
    request: &IssueRequest,
    profile: &CertificateProfile,
    template: &CertificateTemplate,
    issuer_signature: Option<SignatureAlgorithm>,
    now: OffsetDateTime,
) -> Result<ApprovedOrder> {
    let attributes = merge(&request.attributes, &profile.defaults);
    let (public_key, generated_key, csr, csr_subject, csr_alt_names) = match &request.csr {
        Some(pem) => {
            let info = csr::inspect_csr(pem.as_bytes())?;
            let csr = csr::Csr { der: info.der.clone(), pem: pem.clone() };
            (info.public_key.clone(), None, Some(csr), Some(info.subject), Some(info.alt_names))
        }
        None => {
            let algorithm = attributes.key_algorithm.unwrap_or(KeyAlgorithm::EcP256);
            let key = Arc::new(PrivateKey::generate(algorithm)?);
            (key.public_key(), Some(key), None, None, None)
        }
    };

    // Attributes sent with a CSR override the CSR's own names (partial override).
    let subject = match csr_subject {
        Some(from_csr) => attributes.subject.clone().or(&from_csr),
        None => attributes.subject.clone(),
    };
    let mut alt_names = attributes.alt_names.clone().or(csr_alt_names).unwrap_or_default();
    for (i, san) in alt_names.iter().enumerate() {
        san.validate(&format!("attributes.altNames[{i}]"))?;
    }
    copy_common_name_into_sans(&subject, &mut alt_names);
    if subject.is_empty() && alt_names.is_empty() {
        return Err(Error::invalid(
            "attributes.commonName",
            "give a common name or at least one subject alternative name",
        ));
    }

    // Without a requested lifetime: 90 days, or the template's maximum when that is shorter.
    let ttl = attributes.ttl.unwrap_or_else(|| match template.max_ttl_at(now) {
        Some(max) => max.min(DEFAULT_TTL),
        None => DEFAULT_TTL,
    });
    let key_usages = attributes
        .key_usages
        .clone()
        .unwrap_or_else(|| template.default_key_usages_for(public_key.family()));
    let extended_key_usages = attributes
        .extended_key_usages
        .clone()
        .unwrap_or_else(|| template.default_extended_key_usages());
    let signature_algorithm = attributes.signature_algorithm;
    let effective_signature = signature_algorithm
        .or(issuer_signature)
        .or_else(|| generated_key.as_ref().map(|k| k.signature_algorithm()))
        .or_else(|| public_key.key_algorithm().map(KeyAlgorithm::default_signature))
        .ok_or_else(|| {
            Error::invalid(
                "attributes.signatureAlgorithm",
                "cannot tell which signature algorithm to use",
            )
        })?;

    template.validate(&PolicyRequest {
        subject: subject.clone(),
        alt_names: alt_names.clone(),
        ttl,
        key_family: public_key.family(),
        key_bits: public_key.bits(),
        signature_algorithm: effective_signature,
        key_usages: key_usages.clone(),
        extended_key_usages: extended_key_usages.clone(),
        issued_at: now,
    })?;

    let public_tls = template.preset == Some(TemplatePreset::PublicTls);
    let order = CertificateOrder {
        subject,
        alt_names,
        public_key,
        csr,
        key_usages,
        extended_key_usages,
        not_before: now,
        // The BRs count validity inclusively (notAfter - notBefore + 1s), so a public "398d"
        // ends one second earlier to stay within the limit; RFC 5280 profiles keep the span.
        not_after: now + ttl.duration()
            - if public_tls { time::Duration::SECOND } else { time::Duration::ZERO },
        signature_algorithm,
        lint: if public_tls { LintProfile::PublicTls } else { LintProfile::Rfc5280 },
        policy_oids: if public_tls { vec![BR_DOMAIN_VALIDATED.to_owned()] } else { Vec::new() },
        subject_key: generated_key.clone(),
        connector_params: request.connector_params.clone(),
    };
    Ok(ApprovedOrder { order, generated_key, csr_pem: request.csr.clone() })
}

/// Request attributes with every unset field taken from the profile's defaults.
fn merge(
    request: &CertificateAttributes,
    defaults: &CertificateAttributes,
) -> CertificateAttributes {
    CertificateAttributes {
        subject: request.subject.clone().or(&defaults.subject),
        ttl: request.ttl.or(defaults.ttl),
        signature_algorithm: request.signature_algorithm.or(defaults.signature_algorithm),
        key_algorithm: request.key_algorithm.or(defaults.key_algorithm),
        key_usages: request.key_usages.clone().or_else(|| defaults.key_usages.clone()),
        extended_key_usages: request
            .extended_key_usages
            .clone()
            .or_else(|| defaults.extended_key_usages.clone()),
        alt_names: request.alt_names.clone().or_else(|| defaults.alt_names.clone()),
    }
}

/// RFC 6125 and the BRs want the CN among the SANs: copy it in when it is missing.
fn copy_common_name_into_sans(subject: &Subject, alt_names: &mut Vec<SubjectAltName>) {
    let Some(cn) = subject.common_name.as_deref().filter(|cn| !cn.is_empty()) else {
        return;
    };
    if alt_names.iter().any(|san| san.value.eq_ignore_ascii_case(cn)) {
        return;
    }
    let san = match cn.parse::<IpAddr>() {
        Ok(ip) => SubjectAltName::ip(ip),
        Err(_) => SubjectAltName::dns(cn),
    };
    // Only copy names that are valid SANs; a CN like "Jane Doe" stays a CN.
    if san.validate("attributes.commonName").is_ok() {
        alt_names.insert(0, san);
    }
}

/// What the inventory needs to know about a freshly issued certificate.
pub struct NewRecord<'a> {
    /// The inventory id to use.
    pub certificate_id: String,
    /// The request row id.
    pub request_id: String,
    /// The profile.
    pub profile: &'a CertificateProfile,
    /// The issuing CA's id, for internal CAs.
    pub ca_id: Option<String>,
    /// Whether the key is kept (sealed) for deployment.
    pub key_managed: bool,
    /// The certificate it renews.
    pub renewed_from: Option<String>,
    /// The issuing chain, PEM ([`chain_pem`]).
    pub certificate_chain: String,
    /// Now.
    pub now: OffsetDateTime,
}

/// The inventory record for `issued`, whose parsed form is `info`.
pub fn record(issued: &Issued, info: &CertificateInfo, new: NewRecord<'_>) -> CertificateRecord {
    let api = new.profile.api_config.as_ref();
    CertificateRecord {
        certificate_id: new.certificate_id,
        serial_number: info.serial_number.clone(),
        common_name: info.subject.common_name.clone().unwrap_or_default(),
        subject: info.subject_dn.clone(),
        issuer: info.issuer_dn.clone(),
        alt_names: info.alt_names.clone(),
        not_before: info.not_before,
        not_after: info.not_after,
        fingerprint_sha256: info.fingerprint_sha256.clone(),
        key_algorithm: info.key_algorithm,
        state: CertificateState::Issued,
        profile_id: Some(new.profile.id.clone()),
        ca_id: new.ca_id,
        certificate: crypto::pem_encode("CERTIFICATE", &issued.certificate_der),
        certificate_chain: new.certificate_chain,
        certificate_request_id: Some(new.request_id),
        renewed_from: new.renewed_from,
        renewed_by: None,
        revoked_at: None,
        revocation_reason: None,
        auto_renew: api.is_some_and(|a| a.auto_renew),
        renew_before_days: api.map(|a| a.renew_before_days),
        key_managed: new.key_managed,
        created_at: new.now,
        updated_at: new.now,
    }
}

/// The issuing CA up to the root, PEM; for a self-signed certificate, the certificate itself.
pub fn chain_pem(issued: &Issued) -> String {
    if issued.chain_der.is_empty() {
        return crypto::pem_encode("CERTIFICATE", &issued.certificate_der);
    }
    issued.chain_der.iter().map(|der| crypto::pem_encode("CERTIFICATE", der)).collect()
}

/// The issuing CA's certificate, PEM (the certificate itself when self-signed).
pub fn issuing_ca_pem(issued: &Issued) -> String {
    let der = issued.chain_der.first().unwrap_or(&issued.certificate_der);
    crypto::pem_encode("CERTIFICATE", der)
}

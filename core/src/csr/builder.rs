//! Building and signing PKCS#10 CSRs (RFC 2986) with rcgen.

use std::fmt;

use rcgen::string::{Ia5String, PrintableString};
use rcgen::{
    CertificateParams, DistinguishedName, DnType, DnValue, ExtendedKeyUsagePurpose,
    KeyUsagePurpose, SanType as RcgenSan,
};

use crate::crypto::PrivateKey;
use crate::error::{Error, Result};
use crate::model::{
    ExtendedKeyUsage, KeyUsage, SanType, SignatureAlgorithm, Subject, SubjectAltName,
};

/// PKCS#9 emailAddress.
const EMAIL_ADDRESS: [u64; 7] = [1, 2, 840, 113549, 1, 9, 1];

/// What a CSR asks for: subject, SANs, usages, and optionally the signature algorithm.
///
/// Serde shape (camelCase): `{"subject": {"commonName": "a.example"}, "altNames": [{"type":
/// "DNS", "value": "a.example"}], "keyUsages": [...], "extendedKeyUsages": [...],
/// "signatureAlgorithm": "ECDSA-SHA256"}`; everything but the subject may be left out.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CsrSpec {
    /// The subject DN.
    pub subject: Subject,
    /// Subject alternative names (DNS, IP as iPAddress, EMAIL as rfc822Name, URI).
    #[serde(default)]
    pub alt_names: Vec<SubjectAltName>,
    /// keyUsage bits to request.
    #[serde(default)]
    pub key_usages: Vec<KeyUsage>,
    /// extendedKeyUsage purposes to request.
    #[serde(default)]
    pub extended_key_usages: Vec<ExtendedKeyUsage>,
    /// The signature algorithm; `None` signs with the key's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature_algorithm: Option<SignatureAlgorithm>,
}

impl CsrSpec {
    /// Check every field, naming the first bad one (`subject.commonName`, `altNames[i]`).
    pub fn validate(&self) -> Result<()> {
        if self.subject.common_name.is_none() && self.alt_names.is_empty() {
            return Err(Error::invalid(
                "subject.commonName",
                "a CSR needs a common name or at least one subject alternative name",
            ));
        }
        for (field, value) in [
            ("subject.commonName", &self.subject.common_name),
            ("subject.organization", &self.subject.organization),
            ("subject.organizationalUnit", &self.subject.organizational_unit),
            ("subject.state", &self.subject.state),
            ("subject.locality", &self.subject.locality),
        ] {
            if let Some(v) = value
                && (v.trim().is_empty() || v.chars().count() > 64)
            {
                return Err(Error::invalid(field, "must be 1 to 64 characters"));
            }
        }
        if let Some(c) = &self.subject.country
            && (c.len() != 2 || !c.bytes().all(|b| b.is_ascii_alphabetic()))
        {
            return Err(Error::invalid("subject.country", "must be a two-letter code"));
        }
        if let Some(email) = &self.subject.email {
            SubjectAltName::email(email.clone()).validate("subject.email")?;
        }
        for (i, san) in self.alt_names.iter().enumerate() {
            san.validate(&format!("altNames[{i}]"))?;
        }
        for (i, eku) in self.extended_key_usages.iter().enumerate() {
            if let ExtendedKeyUsage::Other(oid) = eku {
                parse_oid(oid).ok_or_else(|| {
                    Error::invalid(format!("extendedKeyUsages[{i}]"), "not a dotted OID")
                })?;
            }
        }
        Ok(())
    }
}

/// A signed CSR, as DER and as PEM (`CERTIFICATE REQUEST`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Csr {
    /// The DER CertificationRequest.
    pub der: Vec<u8>,
    /// The same, PEM-encoded.
    pub pem: String,
}

/// Builds and signs a CSR from a key and a spec; swap it for an HSM- or policy-aware one.
pub trait CsrBuilder: Send + Sync + fmt::Debug {
    /// Build a CSR for `key`'s public key, signed by `key` (proof of possession).
    fn build(&self, key: &PrivateKey, spec: &CsrSpec) -> Result<Csr>;
}

/// The rcgen-based [`CsrBuilder`].
#[derive(Clone, Copy, Debug, Default)]
pub struct DefaultCsrBuilder;

impl CsrBuilder for DefaultCsrBuilder {
    fn build(&self, key: &PrivateKey, spec: &CsrSpec) -> Result<Csr> {
        spec.validate()?;
        let mut params = CertificateParams::default();
        params.distinguished_name = distinguished_name(&spec.subject)?;
        params.subject_alt_names = spec
            .alt_names
            .iter()
            .enumerate()
            .map(|(i, san)| rcgen_san(i, san))
            .collect::<Result<_>>()?;
        params.key_usages = spec.key_usages.iter().map(|ku| rcgen_key_usage(*ku)).collect();
        params.extended_key_usages = spec
            .extended_key_usages
            .iter()
            .map(|eku| rcgen_eku(eku).unwrap_or(ExtendedKeyUsagePurpose::Any))
            .collect();
        let csr = match spec.signature_algorithm {
            Some(sig) if sig != key.signature_algorithm() => {
                params.serialize_request(&key.with_signature(sig)?)
            }
            _ => params.serialize_request(key),
        }
        .map_err(|e| Error::crypto(format!("CSR signing failed: {e}")))?;
        let der = csr.der().to_vec();
        let pem = crate::crypto::pem_encode("CERTIFICATE REQUEST", &der);
        Ok(Csr { der, pem })
    }
}

/// The subject as an rcgen DN, C/ST/L/O/OU/CN/emailAddress in that order.
fn distinguished_name(subject: &Subject) -> Result<DistinguishedName> {
    let mut dn = DistinguishedName::new();
    if let Some(c) = &subject.country {
        let printable = PrintableString::try_from(c.to_ascii_uppercase())
            .map_err(|_| Error::invalid("subject.country", "must be a two-letter code"))?;
        dn.push(DnType::CountryName, DnValue::PrintableString(printable));
    }
    let text = [
        (DnType::StateOrProvinceName, &subject.state),
        (DnType::LocalityName, &subject.locality),
        (DnType::OrganizationName, &subject.organization),
        (DnType::OrganizationalUnitName, &subject.organizational_unit),
        (DnType::CommonName, &subject.common_name),
    ];
    for (kind, value) in text {
        if let Some(v) = value {
            dn.push(kind, DnValue::Utf8String(v.clone()));
        }
    }
    if let Some(email) = &subject.email {
        let ia5 = Ia5String::try_from(email.clone())
            .map_err(|_| Error::invalid("subject.email", "must be ASCII"))?;
        dn.push(DnType::CustomDnType(EMAIL_ADDRESS.to_vec()), DnValue::Ia5String(ia5));
    }
    Ok(dn)
}

fn rcgen_san(i: usize, san: &SubjectAltName) -> Result<RcgenSan> {
    let field = || format!("altNames[{i}]");
    let ia5 = || {
        Ia5String::try_from(san.value.clone()).map_err(|_| Error::invalid(field(), "must be ASCII"))
    };
    Ok(match san.kind {
        SanType::Dns => RcgenSan::DnsName(ia5()?),
        SanType::Email => RcgenSan::Rfc822Name(ia5()?),
        SanType::Uri => RcgenSan::URI(ia5()?),
        SanType::Ip => RcgenSan::IpAddress(
            san.ip_addr().ok_or_else(|| Error::invalid(field(), "not an IP address"))?,
        ),
    })
}

fn rcgen_key_usage(ku: KeyUsage) -> KeyUsagePurpose {
    match ku {
        KeyUsage::DigitalSignature => KeyUsagePurpose::DigitalSignature,
        KeyUsage::NonRepudiation => KeyUsagePurpose::ContentCommitment,
        KeyUsage::KeyEncipherment => KeyUsagePurpose::KeyEncipherment,
        KeyUsage::DataEncipherment => KeyUsagePurpose::DataEncipherment,
        KeyUsage::KeyAgreement => KeyUsagePurpose::KeyAgreement,
        KeyUsage::KeyCertSign => KeyUsagePurpose::KeyCertSign,
        KeyUsage::CrlSign => KeyUsagePurpose::CrlSign,
        KeyUsage::EncipherOnly => KeyUsagePurpose::EncipherOnly,
        KeyUsage::DecipherOnly => KeyUsagePurpose::DecipherOnly,
    }
}

/// The rcgen purpose; `None` only for an `Other` OID that `CsrSpec::validate` rejected.
fn rcgen_eku(eku: &ExtendedKeyUsage) -> Option<ExtendedKeyUsagePurpose> {
    Some(match eku {
        ExtendedKeyUsage::ServerAuth => ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsage::ClientAuth => ExtendedKeyUsagePurpose::ClientAuth,
        ExtendedKeyUsage::CodeSigning => ExtendedKeyUsagePurpose::CodeSigning,
        ExtendedKeyUsage::EmailProtection => ExtendedKeyUsagePurpose::EmailProtection,
        ExtendedKeyUsage::TimeStamping => ExtendedKeyUsagePurpose::TimeStamping,
        ExtendedKeyUsage::OcspSigning => ExtendedKeyUsagePurpose::OcspSigning,
        ExtendedKeyUsage::Other(oid) => ExtendedKeyUsagePurpose::Other(parse_oid(oid)?),
    })
}

/// A dotted OID's arcs, at least two.
fn parse_oid(oid: &str) -> Option<Vec<u64>> {
    let arcs: Vec<u64> = oid.split('.').map(|a| a.parse().ok()).collect::<Option<_>>()?;
    (arcs.len() >= 2).then_some(arcs)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::model::KeyAlgorithm;

    #[test]
    fn empty_san_is_named_by_index() {
        let spec = CsrSpec {
            subject: Subject::common_name("a.example"),
            alt_names: vec![SubjectAltName::dns("a.example"), SubjectAltName::dns("")],
            ..CsrSpec::default()
        };
        let err = spec.validate().unwrap_err();
        assert!(matches!(err, Error::InvalidInput { ref field, .. } if field == "altNames[1]"));
    }

    #[test]
    fn spec_needs_a_name_and_a_good_country() {
        assert!(CsrSpec::default().validate().is_err());
        let spec = CsrSpec {
            subject: Subject { country: Some("USA".into()), ..Subject::common_name("a") },
            ..CsrSpec::default()
        };
        assert!(spec.validate().is_err());
    }

    #[test]
    fn builds_a_pem_csr() {
        let key = PrivateKey::generate(KeyAlgorithm::EcP256).unwrap();
        let spec = CsrSpec { subject: Subject::common_name("a.example"), ..CsrSpec::default() };
        let csr = DefaultCsrBuilder.build(&key, &spec).unwrap();
        assert!(csr.pem.starts_with("-----BEGIN CERTIFICATE REQUEST-----\n"));
        assert_eq!(csr.der.first(), Some(&0x30));
    }
}

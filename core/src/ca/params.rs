//! Translation from certloop's model to rcgen's certificate parameters, shared by every issuer
//! that signs locally (internal CA, self-signed).

use der::Encode;
use rcgen::{CertificateParams, DistinguishedName, DnType, DnValue, SerialNumber};
use ring::rand::{SecureRandom, SystemRandom};
use time::OffsetDateTime;

use crate::error::{Error, Result};
use crate::model::{ExtendedKeyUsage, KeyUsage, SanType, Subject, SubjectAltName};

/// OID of the AuthorityInfoAccess extension (RFC 5280 §4.2.2.1).
const AIA_OID: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 1, 1];
/// OID of the CertificatePolicies extension (RFC 5280 §4.2.1.4).
const POLICIES_OID: &[u64] = &[2, 5, 29, 32];

/// A fresh positive serial number with 128 random bits minus the sign bit (RFC 5280 §4.1.2.2:
/// positive, at most 20 octets; CA/B Forum BR §7.1: at least 64 bits from a CSPRNG).
pub(crate) fn random_serial() -> Result<SerialNumber> {
    let mut bytes = [0u8; 16];
    SystemRandom::new().fill(&mut bytes).map_err(|_| Error::crypto("the system RNG failed"))?;
    // Clear the sign bit so the INTEGER is positive without a padding byte, and keep the first
    // byte non-zero so the encoding stays 16 octets (DER forbids leading zero bytes).
    bytes[0] = (bytes[0] & 0x7f) | 0x01;
    Ok(SerialNumber::from_slice(&bytes))
}

/// The distinguished name for `subject`, in a fixed order so the same subject always encodes to
/// the same bytes (an issuer's name in its leaves must match its own subject byte for byte).
pub(crate) fn distinguished_name(subject: &Subject) -> Result<DistinguishedName> {
    let mut dn = DistinguishedName::new();
    for (short, value) in subject.attributes() {
        let (ty, field) = match short {
            "C" => (DnType::CountryName, "country"),
            "ST" => (DnType::StateOrProvinceName, "state"),
            "L" => (DnType::LocalityName, "locality"),
            "O" => (DnType::OrganizationName, "organization"),
            "OU" => (DnType::OrganizationalUnitName, "organizationalUnit"),
            "CN" => (DnType::CommonName, "commonName"),
            _ => (DnType::CustomDnType(vec![1, 2, 840, 113_549, 1, 9, 1]), "email"),
        };
        if value.is_empty() || value.len() > 64 && field != "email" {
            return Err(Error::invalid(
                format!("attributes.{field}"),
                format!("{value:?} must be 1 to 64 characters (RFC 5280 upper bounds)"),
            ));
        }
        let encoded =
            match ty {
                // RFC 5280 Appendix A: countryName is a two-letter PrintableString.
                DnType::CountryName => {
                    if value.len() != 2 || !value.bytes().all(|b| b.is_ascii_uppercase()) {
                        return Err(Error::invalid(
                            "attributes.country",
                            format!("{value:?} is not a two-letter ISO 3166 code like \"US\""),
                        ));
                    }
                    DnValue::PrintableString(value.try_into().map_err(|_| {
                        Error::invalid("attributes.country", "not a PrintableString")
                    })?)
                }
                DnType::CustomDnType(_) => DnValue::Ia5String(
                    value
                        .try_into()
                        .map_err(|_| Error::invalid("attributes.email", "must be ASCII"))?,
                ),
                _ => DnValue::Utf8String(value.to_owned()),
            };
        dn.push(ty, encoded);
    }
    Ok(dn)
}

/// rcgen's form of the subject alternative names; `field` prefixes error names.
pub(crate) fn san_types(alt_names: &[SubjectAltName]) -> Result<Vec<rcgen::SanType>> {
    alt_names
        .iter()
        .enumerate()
        .map(|(i, san)| {
            let field = format!("attributes.altNames[{i}]");
            san.validate(&field)?;
            let ia5 = |v: &str| {
                rcgen::string::Ia5String::try_from(v)
                    .map_err(|_| Error::invalid(field.clone(), "must be ASCII (IA5String)"))
            };
            Ok(match san.kind {
                SanType::Dns => rcgen::SanType::DnsName(ia5(&san.value)?),
                SanType::Email => rcgen::SanType::Rfc822Name(ia5(&san.value)?),
                SanType::Uri => rcgen::SanType::URI(ia5(&san.value)?),
                SanType::Ip => rcgen::SanType::IpAddress(
                    san.ip_addr().ok_or_else(|| Error::invalid(field.clone(), "not an IP"))?,
                ),
            })
        })
        .collect()
}

/// rcgen's key usage for ours.
pub(crate) fn key_usage(usage: KeyUsage) -> rcgen::KeyUsagePurpose {
    use rcgen::KeyUsagePurpose as P;
    match usage {
        KeyUsage::DigitalSignature => P::DigitalSignature,
        KeyUsage::NonRepudiation => P::ContentCommitment,
        KeyUsage::KeyEncipherment => P::KeyEncipherment,
        KeyUsage::DataEncipherment => P::DataEncipherment,
        KeyUsage::KeyAgreement => P::KeyAgreement,
        KeyUsage::KeyCertSign => P::KeyCertSign,
        KeyUsage::CrlSign => P::CrlSign,
        KeyUsage::EncipherOnly => P::EncipherOnly,
        KeyUsage::DecipherOnly => P::DecipherOnly,
    }
}

/// rcgen's extended key usage for ours.
pub(crate) fn extended_key_usage(eku: &ExtendedKeyUsage) -> Result<rcgen::ExtendedKeyUsagePurpose> {
    use rcgen::ExtendedKeyUsagePurpose as P;
    Ok(match eku {
        ExtendedKeyUsage::ServerAuth => P::ServerAuth,
        ExtendedKeyUsage::ClientAuth => P::ClientAuth,
        ExtendedKeyUsage::CodeSigning => P::CodeSigning,
        ExtendedKeyUsage::EmailProtection => P::EmailProtection,
        ExtendedKeyUsage::TimeStamping => P::TimeStamping,
        ExtendedKeyUsage::OcspSigning => P::OcspSigning,
        ExtendedKeyUsage::Other(oid) => P::Other(oid_arcs(oid, "attributes.extendedKeyUsages")?),
    })
}

/// The arcs of a dotted OID.
pub(crate) fn oid_arcs(oid: &str, field: &str) -> Result<Vec<u64>> {
    let arcs: Option<Vec<u64>> = oid.split('.').map(|arc| arc.parse().ok()).collect();
    arcs.filter(|a| a.len() >= 2)
        .ok_or_else(|| Error::invalid(field, format!("{oid:?} is not a dotted OID like 1.3.6.1")))
}

/// The AuthorityInfoAccess extension carrying caIssuers URLs (RFC 5280 §4.2.2.1).
pub(crate) fn authority_info_access(ca_issuers: &[String]) -> Result<rcgen::CustomExtension> {
    use x509_cert::ext::pkix::name::GeneralName;
    use x509_cert::ext::pkix::{AccessDescription, AuthorityInfoAccessSyntax};
    const CA_ISSUERS: der::asn1::ObjectIdentifier =
        der::asn1::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.2");
    let descriptions = ca_issuers
        .iter()
        .map(|url| {
            let uri = der::asn1::Ia5String::new(url)
                .map_err(|_| Error::invalid("caIssuers", format!("{url:?} is not ASCII")))?;
            Ok(AccessDescription {
                access_method: CA_ISSUERS,
                access_location: GeneralName::UniformResourceIdentifier(uri),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let der = AuthorityInfoAccessSyntax(descriptions).to_der().map_err(Error::crypto)?;
    Ok(rcgen::CustomExtension::from_oid_content(AIA_OID, der))
}

/// The CertificatePolicies extension listing `oids` without qualifiers.
pub(crate) fn certificate_policies(oids: &[String]) -> Result<rcgen::CustomExtension> {
    use x509_cert::ext::pkix::CertificatePolicies;
    use x509_cert::ext::pkix::certpolicy::PolicyInformation;
    let policies = oids
        .iter()
        .map(|oid| {
            let policy_identifier = oid.parse().map_err(|_| {
                Error::invalid("policyOids", format!("{oid:?} is not a dotted OID"))
            })?;
            Ok(PolicyInformation { policy_identifier, policy_qualifiers: None })
        })
        .collect::<Result<Vec<_>>>()?;
    let der = CertificatePolicies(policies).to_der().map_err(Error::crypto)?;
    Ok(rcgen::CustomExtension::from_oid_content(POLICIES_OID, der))
}

/// Base parameters for an end-entity certificate.
pub(crate) struct LeafParams<'a> {
    pub subject: &'a Subject,
    pub alt_names: &'a [SubjectAltName],
    pub key_usages: &'a [KeyUsage],
    pub extended_key_usages: &'a [ExtendedKeyUsage],
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
}

impl LeafParams<'_> {
    /// rcgen parameters: CA:FALSE, SKI, fresh serial; AKI and issuer extensions are added by the
    /// issuer.
    pub(crate) fn to_rcgen(&self) -> Result<CertificateParams> {
        let mut params = CertificateParams::default();
        params.distinguished_name = distinguished_name(self.subject)?;
        params.subject_alt_names = san_types(self.alt_names)?;
        params.key_usages = self.key_usages.iter().copied().map(key_usage).collect();
        params.extended_key_usages =
            self.extended_key_usages.iter().map(extended_key_usage).collect::<Result<_>>()?;
        params.is_ca = rcgen::IsCa::ExplicitNoCa;
        params.not_before = self.not_before;
        params.not_after = self.not_after;
        params.serial_number = Some(random_serial()?);
        Ok(params)
    }
}

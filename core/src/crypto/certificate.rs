//! Certificate inspection with x509-cert (RFC 5280 §4.1): what a certificate says, in the
//! camelCase JSON shape the bindings return.

use der::Decode;
use serde::Serialize;
use time::OffsetDateTime;
use x509_cert::Certificate;
use x509_cert::ext::pkix::name::DistributionPointName;
use x509_cert::ext::pkix::{
    AuthorityInfoAccessSyntax, AuthorityKeyIdentifier, BasicConstraints, CertificatePolicies,
    CrlDistributionPoints, ExtendedKeyUsage as X509Eku, KeyUsage as X509KeyUsage,
    SubjectAltName as X509San, SubjectKeyIdentifier, name::GeneralName,
};

use super::oid;
use super::pem::{der_from_pem_or_der, looks_like_pem, pem_decode_all};
use super::public_key::{PublicKey, describe_spki};
use super::x509::{self, hex};
use crate::error::{Error, Result};
use crate::model::{
    ExtendedKeyUsage, KeyAlgorithm, KeyFamily, KeyUsage, SignatureAlgorithm, Subject,
    SubjectAltName,
};

const FIELD: &str = "certificate";

/// id-ad-caIssuers (RFC 5280 §4.2.2.1).
const CA_ISSUERS: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.2");

/// What a certificate says. Serializes as camelCase JSON; `der` is not serialized.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateInfo {
    /// The subject attributes certloop knows.
    pub subject: Subject,
    /// The whole subject DN on one line, in encoding order: `C=US, O=Example, CN=a.example`.
    pub subject_dn: String,
    /// The issuer DN on one line.
    pub issuer_dn: String,
    /// The serial number as minimal lower-case hex.
    pub serial_number: String,
    /// Start of validity.
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    /// End of validity.
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    /// DNS, IP, EMAIL and URI subject alternative names.
    pub alt_names: Vec<SubjectAltName>,
    /// The key family.
    pub key_family: KeyFamily,
    /// The key size in bits.
    pub key_bits: u32,
    /// The certloop key algorithm, `None` for keys certloop does not issue for.
    pub key_algorithm: Option<KeyAlgorithm>,
    /// The issuer's signature algorithm, `None` when certloop does not know it.
    pub signature_algorithm: Option<SignatureAlgorithm>,
    /// keyUsage bits that are set.
    pub key_usages: Vec<KeyUsage>,
    /// extendedKeyUsage purposes.
    pub extended_key_usages: Vec<ExtendedKeyUsage>,
    /// basicConstraints cA.
    pub is_ca: bool,
    /// basicConstraints pathLenConstraint.
    pub path_length: Option<u8>,
    /// subjectKeyIdentifier, lower-case hex.
    pub subject_key_id: Option<String>,
    /// authorityKeyIdentifier keyIdentifier, lower-case hex.
    pub authority_key_id: Option<String>,
    /// CRL distribution point URIs.
    pub crl_distribution_points: Vec<String>,
    /// Authority information access caIssuers URIs.
    pub ca_issuers: Vec<String>,
    /// Certificate policy OIDs, dotted.
    pub policies: Vec<String>,
    /// SHA-256 of the DER, lower-case hex.
    pub fingerprint_sha256: String,
    /// The certificate's DER.
    #[serde(skip)]
    pub der: Vec<u8>,
    #[serde(skip)]
    spki: Vec<u8>,
    #[serde(skip)]
    tbs: Vec<u8>,
    #[serde(skip)]
    signature: Vec<u8>,
}

impl CertificateInfo {
    /// Parse one DER certificate.
    pub fn from_der(der: &[u8]) -> Result<CertificateInfo> {
        Self::parse(der).map(|(_, info)| info)
    }

    /// Parse one DER certificate, keeping the decoded structure for callers that read more of
    /// it (the lint pass), so the bytes are decoded once.
    pub(crate) fn parse(der: &[u8]) -> Result<(Certificate, CertificateInfo)> {
        let bad = |what: &str, e: der::Error| Error::invalid(FIELD, format!("{what}: {e}"));
        let cert = Certificate::from_der(der).map_err(|e| bad("not a DER X.509 certificate", e))?;
        let tbs = cert.tbs_certificate();
        let spki = der::Encode::to_der(tbs.subject_public_key_info())
            .map_err(|e| bad("subjectPublicKeyInfo", e))?;
        let (key_family, key_bits, key_algorithm) = describe_spki(&spki, FIELD)?;

        let alt_names =
            match tbs.get_extension::<X509San>().map_err(|e| bad("subjectAltName", e))? {
                Some((_, san)) => x509::alt_names(&san.0),
                None => Vec::new(),
            };
        let key_usages =
            match tbs.get_extension::<X509KeyUsage>().map_err(|e| bad("keyUsage", e))? {
                Some((_, ku)) => x509::key_usages(&ku),
                None => Vec::new(),
            };
        let extended_key_usages =
            match tbs.get_extension::<X509Eku>().map_err(|e| bad("extendedKeyUsage", e))? {
                Some((_, eku)) => x509::extended_key_usages(&eku),
                None => Vec::new(),
            };
        let basic = tbs
            .get_extension::<BasicConstraints>()
            .map_err(|e| bad("basicConstraints", e))?
            .map(|(_, bc)| bc);
        let subject_key_id = tbs
            .get_extension::<SubjectKeyIdentifier>()
            .map_err(|e| bad("subjectKeyIdentifier", e))?
            .map(|(_, ski)| hex(ski.0.as_bytes()));
        let authority_key_id = tbs
            .get_extension::<AuthorityKeyIdentifier>()
            .map_err(|e| bad("authorityKeyIdentifier", e))?
            .and_then(|(_, aki)| aki.key_identifier.map(|k| hex(k.as_bytes())));
        let crl_distribution_points = tbs
            .get_extension::<CrlDistributionPoints>()
            .map_err(|e| bad("cRLDistributionPoints", e))?
            .map(|(_, dps)| {
                dps.0
                    .iter()
                    .filter_map(|dp| match &dp.distribution_point {
                        Some(DistributionPointName::FullName(names)) => Some(uris(names)),
                        _ => None,
                    })
                    .flatten()
                    .collect()
            })
            .unwrap_or_default();
        let ca_issuers = tbs
            .get_extension::<AuthorityInfoAccessSyntax>()
            .map_err(|e| bad("authorityInfoAccess", e))?
            .map(|(_, aia)| {
                aia.0
                    .iter()
                    .filter(|ad| ad.access_method == CA_ISSUERS)
                    .filter_map(|ad| match &ad.access_location {
                        GeneralName::UniformResourceIdentifier(uri) => Some(uri.to_string()),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        let policies = tbs
            .get_extension::<CertificatePolicies>()
            .map_err(|e| bad("certificatePolicies", e))?
            .map(|(_, p)| p.0.iter().map(|pi| pi.policy_identifier.to_string()).collect())
            .unwrap_or_default();

        let info = CertificateInfo {
            subject: x509::subject_from_name(tbs.subject()),
            subject_dn: x509::dn_string(tbs.subject()),
            issuer_dn: x509::dn_string(tbs.issuer()),
            serial_number: x509::serial_hex(tbs.serial_number().as_bytes()),
            not_before: x509::offset_date_time(tbs.validity().not_before, FIELD)?,
            not_after: x509::offset_date_time(tbs.validity().not_after, FIELD)?,
            alt_names,
            key_family,
            key_bits,
            key_algorithm,
            signature_algorithm: oid::signature_algorithm(&cert.signature_algorithm().oid),
            key_usages,
            extended_key_usages,
            is_ca: basic.as_ref().is_some_and(|b| b.ca),
            path_length: basic.and_then(|b| b.path_len_constraint),
            subject_key_id,
            authority_key_id,
            crl_distribution_points,
            ca_issuers,
            policies,
            fingerprint_sha256: x509::fingerprint_sha256(der),
            der: der.to_vec(),
            spki,
            tbs: x509::signed_tbs_der(der, FIELD)?,
            signature: cert.signature().as_bytes().map(<[u8]>::to_vec).unwrap_or_default(),
        };
        Ok((cert, info))
    }

    /// The subject public key; an error for key types certloop cannot verify with
    /// (for example P-521), which inspection itself still describes.
    pub fn public_key(&self) -> Result<PublicKey> {
        PublicKey::from_spki_der(&self.spki)
    }

    /// The DER SubjectPublicKeyInfo.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki
    }

    /// The exact DER of the TBSCertificate, the bytes the issuer signed.
    pub fn tbs_der(&self) -> &[u8] {
        &self.tbs
    }

    /// The signature value.
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// Whether the certificate's notBefore..notAfter contains `at`.
    pub fn is_valid_at(&self, at: OffsetDateTime) -> bool {
        self.not_before <= at && at <= self.not_after
    }

    /// Check that `issuer` signed this certificate; [`Error::Crypto`] when it did not.
    pub fn verify_signed_by(&self, issuer: &PublicKey) -> Result<()> {
        let sig = self.signature_algorithm.ok_or_else(|| {
            Error::crypto("certificate signature algorithm is not one certloop verifies")
        })?;
        issuer
            .verify(sig, &self.tbs, &self.signature)
            .map_err(|_| Error::crypto("certificate signature does not verify with the issuer key"))
    }
}

/// The URIs among `names`.
fn uris(names: &[GeneralName]) -> Vec<String> {
    names
        .iter()
        .filter_map(|n| match n {
            GeneralName::UniformResourceIdentifier(uri) => Some(uri.to_string()),
            _ => None,
        })
        .collect()
}

/// Inspect a certificate: DER, or the first `CERTIFICATE` of a PEM bundle.
pub fn inspect_certificate(input: &[u8]) -> Result<CertificateInfo> {
    let der = der_from_pem_or_der(input, &["CERTIFICATE"], FIELD)?;
    CertificateInfo::from_der(&der)
}

/// Inspect every `CERTIFICATE` of a PEM bundle (or the one DER certificate), in order.
pub fn inspect_certificates(input: &[u8]) -> Result<Vec<CertificateInfo>> {
    if !looks_like_pem(input) {
        return Ok(vec![CertificateInfo::from_der(input)?]);
    }
    pem_decode_all(input, "CERTIFICATE")?.iter().map(|der| CertificateInfo::from_der(der)).collect()
}

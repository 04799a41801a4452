//! CSR inspection: what a PKCS#10 request asks for, after its proof of possession passes.

use der::{Decode, Encode};
use serde::Serialize;
use x509_cert::ext::pkix::{
    ExtendedKeyUsage as X509Eku, KeyUsage as X509KeyUsage, SubjectAltName as X509San,
};
use x509_cert::request::{CertReq, ExtensionReq};

use super::pop::verify_proof_of_possession;
use crate::crypto::{PublicKey, x509};
use crate::error::{Error, Result};
use crate::model::{
    ExtendedKeyUsage, KeyAlgorithm, KeyFamily, KeyUsage, SignatureAlgorithm, Subject,
    SubjectAltName,
};

const FIELD: &str = "csr";

/// What a CSR asks for. Serializes as camelCase JSON; the key and DER are not serialized.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CsrInfo {
    /// The subject attributes certloop knows.
    pub subject: Subject,
    /// The whole subject DN on one line, in encoding order.
    pub subject_dn: String,
    /// Requested subject alternative names (DNS, IP, EMAIL, URI).
    pub alt_names: Vec<SubjectAltName>,
    /// The key family.
    pub key_family: KeyFamily,
    /// The key size in bits.
    pub key_bits: u32,
    /// The certloop key algorithm, `None` for RSA sizes certloop does not issue for.
    pub key_algorithm: Option<KeyAlgorithm>,
    /// The algorithm the CSR is signed with.
    pub signature_algorithm: SignatureAlgorithm,
    /// Requested keyUsage bits (extensionRequest attribute).
    pub key_usages: Vec<KeyUsage>,
    /// Requested extendedKeyUsage purposes (extensionRequest attribute).
    pub extended_key_usages: Vec<ExtendedKeyUsage>,
    /// The subject public key.
    #[serde(skip)]
    pub public_key: PublicKey,
    /// The CSR's DER.
    #[serde(skip)]
    pub der: Vec<u8>,
}

/// Inspect a CSR (PEM `CERTIFICATE REQUEST` / `NEW CERTIFICATE REQUEST`, or DER) and verify
/// its self-signature; a CSR whose signature does not verify is rejected.
pub fn inspect_csr(input: &[u8]) -> Result<CsrInfo> {
    let der = crate::crypto::der_from_pem_or_der(
        input,
        &["CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"],
        FIELD,
    )?;
    let bad = |what: &str, e: der::Error| Error::invalid(FIELD, format!("{what}: {e}"));
    let req = CertReq::from_der(&der).map_err(|e| bad("not a DER PKCS#10 request", e))?;
    let spki = req.info.public_key.to_der().map_err(|e| bad("subjectPublicKeyInfo", e))?;
    let public_key = PublicKey::from_spki_der(&spki).map_err(|e| match e {
        Error::InvalidInput { message, .. } => Error::invalid(FIELD, message),
        other => other,
    })?;
    let signature_algorithm = crate::crypto::signature_algorithm_of(&req.algorithm.oid)
        .ok_or_else(|| {
            Error::invalid(
                FIELD,
                format!("unsupported CSR signature algorithm {}", req.algorithm.oid),
            )
        })?;
    let signature = req
        .signature
        .as_bytes()
        .ok_or_else(|| Error::invalid(FIELD, "signature BIT STRING has unused bits"))?;
    let info_der = x509::signed_tbs_der(&der, FIELD)?;
    verify_proof_of_possession(&public_key, signature_algorithm, &info_der, signature)?;

    let mut alt_names = Vec::new();
    let mut key_usages = Vec::new();
    let mut extended_key_usages = Vec::new();
    for attr in req
        .info
        .attributes
        .iter()
        .filter(|a| a.oid == <ExtensionReq as der::oid::AssociatedOid>::OID)
    {
        for value in attr.values.iter() {
            let value_der = value.to_der().map_err(|e| bad("extensionRequest", e))?;
            let extensions =
                ExtensionReq::from_der(&value_der).map_err(|e| bad("extensionRequest", e))?;
            for ext in &extensions.0 {
                let bytes = ext.extn_value.as_bytes();
                match ext.extn_id {
                    id if id == <X509San as der::oid::AssociatedOid>::OID => {
                        let san = X509San::from_der(bytes).map_err(|e| bad("subjectAltName", e))?;
                        alt_names.extend(x509::alt_names(&san.0));
                    }
                    id if id == <X509KeyUsage as der::oid::AssociatedOid>::OID => {
                        let ku = X509KeyUsage::from_der(bytes).map_err(|e| bad("keyUsage", e))?;
                        key_usages.extend(x509::key_usages(&ku));
                    }
                    id if id == <X509Eku as der::oid::AssociatedOid>::OID => {
                        let eku =
                            X509Eku::from_der(bytes).map_err(|e| bad("extendedKeyUsage", e))?;
                        extended_key_usages.extend(x509::extended_key_usages(&eku));
                    }
                    _ => {}
                }
            }
        }
    }

    Ok(CsrInfo {
        subject: x509::subject_from_name(&req.info.subject),
        subject_dn: x509::dn_string(&req.info.subject),
        alt_names,
        key_family: public_key.family(),
        key_bits: public_key.bits(),
        key_algorithm: public_key.key_algorithm(),
        signature_algorithm,
        key_usages,
        extended_key_usages,
        public_key,
        der,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_invalid_csr() {
        for input in
            [&b"garbage"[..], b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"]
        {
            let err = inspect_csr(input).unwrap_err();
            assert!(
                matches!(err, Error::InvalidInput { ref field, .. } if field == "csr"),
                "{err}"
            );
        }
    }
}

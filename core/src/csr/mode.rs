//! CSR modes from the provisioning flow: reuse an existing certificate's identity, override
//! part of it, or describe a new request in full.

use serde::{Deserialize, Serialize};

use super::builder::{Csr, CsrBuilder, CsrSpec};
use crate::crypto::{CertificateInfo, PrivateKey, inspect_certificate};
use crate::error::{Error, Result};
use crate::model::{KeyAlgorithm, KeyFamily, KeyUsage, SignatureAlgorithm, SubjectAltName};

/// How to prepare a CSR.
#[derive(Clone, Debug)]
pub enum CsrMode {
    /// Renew or reissue with the existing certificate's subject, SANs and usages.
    ReuseIdentity {
        /// The certificate now installed (PEM; the first certificate is used).
        certificate_pem: String,
        /// Keep the existing key or generate a new one.
        key: KeyChoice,
    },
    /// Keep the existing certificate's identity but change some of it.
    PartialOverride {
        /// The certificate now installed (PEM; the first certificate is used).
        certificate_pem: String,
        /// What to change.
        overrides: CsrOverrides,
    },
    /// A new request described entirely by `spec`, with a new key.
    FullOverride {
        /// Everything the CSR asks for.
        spec: CsrSpec,
        /// The algorithm of the new key.
        key_algorithm: KeyAlgorithm,
    },
}

/// Which key a CSR is made for.
#[derive(Clone, Debug)]
pub enum KeyChoice {
    /// This key (which must match the certificate when reusing an identity).
    Existing(PrivateKey),
    /// A new key of this algorithm.
    New(KeyAlgorithm),
}

/// The parts of an existing identity a partial override may change; `None` keeps the old one.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CsrOverrides {
    /// A new common name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub common_name: Option<String>,
    /// A new, complete SAN list (replaces the certificate's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alt_names: Option<Vec<SubjectAltName>>,
    /// Generate a new key of this algorithm (default: the certificate's key algorithm).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_algorithm: Option<KeyAlgorithm>,
    /// Sign the CSR with this algorithm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature_algorithm: Option<SignatureAlgorithm>,
    /// Use this key instead of generating one; never serialized.
    #[serde(skip)]
    pub existing_key: Option<PrivateKey>,
}

/// A CSR and the key it was made for.
#[derive(Debug)]
pub struct PreparedCsr {
    /// The signed CSR.
    pub csr: Csr,
    /// Its private key.
    pub key: PrivateKey,
    /// Whether `key` was generated here (and so must be returned to its owner once).
    pub key_generated: bool,
}

/// Prepare a CSR according to `mode`, building it with `builder`.
pub fn prepare_csr(mode: CsrMode, builder: &dyn CsrBuilder) -> Result<PreparedCsr> {
    match mode {
        CsrMode::ReuseIdentity { certificate_pem, key } => {
            let cert = existing_certificate(&certificate_pem)?;
            let (key, key_generated) = match key {
                KeyChoice::Existing(key) => (key, false),
                KeyChoice::New(alg) => (PrivateKey::generate(alg)?, true),
            };
            if !key_generated {
                ensure_key_matches(&cert, &key)?;
            }
            let spec = spec_from_certificate(&cert, key.algorithm().family());
            finish(builder, key, key_generated, &spec)
        }
        CsrMode::PartialOverride { certificate_pem, overrides } => {
            let cert = existing_certificate(&certificate_pem)?;
            let (key, key_generated) = match (overrides.existing_key, overrides.key_algorithm) {
                (Some(key), Some(alg)) if key.algorithm() != alg => {
                    return Err(Error::invalid(
                        "keyAlgorithm",
                        format!("the given key is {}, not {alg}", key.algorithm()),
                    ));
                }
                (Some(key), _) => (key, false),
                (None, Some(alg)) => (PrivateKey::generate(alg)?, true),
                (None, None) => {
                    let alg = cert.key_algorithm.ok_or_else(|| {
                        Error::invalid(
                            "keyAlgorithm",
                            format!(
                                "the certificate's {:?} {}-bit key is not one certloop \
                                 generates; choose a key algorithm",
                                cert.key_family, cert.key_bits
                            ),
                        )
                    })?;
                    (PrivateKey::generate(alg)?, true)
                }
            };
            let mut spec = spec_from_certificate(&cert, key.algorithm().family());
            if let Some(cn) = overrides.common_name {
                spec.subject.common_name = Some(cn);
            }
            if let Some(alt_names) = overrides.alt_names {
                spec.alt_names = alt_names;
            }
            spec.signature_algorithm = overrides.signature_algorithm;
            finish(builder, key, key_generated, &spec)
        }
        CsrMode::FullOverride { spec, key_algorithm } => {
            spec.validate()?;
            let key = PrivateKey::generate(key_algorithm)?;
            finish(builder, key, true, &spec)
        }
    }
}

fn finish(
    builder: &dyn CsrBuilder,
    key: PrivateKey,
    key_generated: bool,
    spec: &CsrSpec,
) -> Result<PreparedCsr> {
    if let Some(sig) = spec.signature_algorithm
        && !key.algorithm().supports(sig)
    {
        return Err(Error::invalid(
            "signatureAlgorithm",
            format!("{sig} cannot be made with a {} key", key.algorithm()),
        ));
    }
    let csr = builder.build(&key, spec)?;
    Ok(PreparedCsr { csr, key, key_generated })
}

fn existing_certificate(pem: &str) -> Result<CertificateInfo> {
    inspect_certificate(pem.as_bytes())
}

/// The certificate's subject, SANs and usages as a spec for a key of `family`
/// (keyEncipherment only for RSA keys).
fn spec_from_certificate(cert: &CertificateInfo, family: KeyFamily) -> CsrSpec {
    CsrSpec {
        subject: cert.subject.clone(),
        alt_names: cert.alt_names.clone(),
        key_usages: cert
            .key_usages
            .iter()
            .copied()
            .filter(|ku| family == KeyFamily::Rsa || *ku != KeyUsage::KeyEncipherment)
            .collect(),
        extended_key_usages: cert.extended_key_usages.clone(),
        signature_algorithm: None,
    }
}

fn ensure_key_matches(cert: &CertificateInfo, key: &PrivateKey) -> Result<()> {
    if cert.spki_der() != key.public_key().spki_der() {
        return Err(Error::invalid(
            "privateKey",
            "the key does not belong to the existing certificate; pass its own key or ask for a \
             new one",
        ));
    }
    Ok(())
}

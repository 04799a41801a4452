//! Public keys: SubjectPublicKeyInfo parsing, signature verification through ring, and the
//! rcgen view a CA needs to sign a certificate for a CSR's key.

use std::fmt;

use der::Decode;
use der::asn1::UintRef;
use ring::signature::{self as ring_sig, UnparsedPublicKey, VerificationAlgorithm};
use spki::SubjectPublicKeyInfoRef;

use super::oid;
use crate::error::{Error, Result};
use crate::model::{KeyAlgorithm, KeyFamily, SignatureAlgorithm};

/// A public key, kept as its DER SubjectPublicKeyInfo (RFC 5280 §4.1.2.7).
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    spki: Vec<u8>,
    /// The subjectPublicKey BIT STRING contents (RSAPublicKey DER, EC point, Ed25519 bytes).
    raw: Vec<u8>,
    family: KeyFamily,
    bits: u32,
    /// The curve of an EC key; `None` for RSA and Ed25519.
    curve: Option<KeyAlgorithm>,
}

impl PublicKey {
    /// Parse a DER SubjectPublicKeyInfo holding an RSA, P-256, P-384 or Ed25519 key.
    pub fn from_spki_der(der: &[u8]) -> Result<PublicKey> {
        let bad = |why: String| Error::invalid("publicKey", why);
        let info = SubjectPublicKeyInfoRef::from_der(der)
            .map_err(|e| bad(format!("not a DER SubjectPublicKeyInfo: {e}")))?;
        let raw = info
            .subject_public_key
            .as_bytes()
            .ok_or_else(|| bad("subjectPublicKey has unused bits".to_owned()))?
            .to_vec();
        let (family, bits, curve) = match info.algorithm.oid {
            oid::RSA_ENCRYPTION => {
                let key = pkcs1::RsaPublicKey::<UintRef<'_>>::from_der(&raw)
                    .map_err(|e| bad(format!("not an RSA public key: {e}")))?;
                (KeyFamily::Rsa, unsigned_bits(key.modulus.as_bytes()), None)
            }
            oid::EC_PUBLIC_KEY => {
                let curve_oid = info
                    .algorithm
                    .parameters_oid()
                    .map_err(|_| bad("EC key without a named curve".to_owned()))?;
                let (curve, len) = match curve_oid {
                    oid::SECP256R1 => (KeyAlgorithm::EcP256, 65),
                    oid::SECP384R1 => (KeyAlgorithm::EcP384, 97),
                    other => {
                        return Err(bad(format!(
                            "unsupported EC curve {other}; use P-256 or P-384"
                        )));
                    }
                };
                if raw.len() != len || raw.first() != Some(&4) {
                    return Err(bad("EC public key is not an uncompressed point".to_owned()));
                }
                (KeyFamily::Ec, curve.bits(), Some(curve))
            }
            oid::ED25519 => {
                if raw.len() != 32 {
                    return Err(bad("Ed25519 public key is not 32 bytes".to_owned()));
                }
                (KeyFamily::Ed25519, 256, None)
            }
            other => {
                return Err(bad(format!(
                    "unsupported key algorithm {other}; use RSA, EC P-256/P-384 or Ed25519"
                )));
            }
        };
        Ok(PublicKey { spki: der.to_vec(), raw, family, bits, curve })
    }

    /// The DER SubjectPublicKeyInfo.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki
    }

    /// The subjectPublicKey BIT STRING contents: an RSAPublicKey DER, an EC point
    /// (`04 || x || y`) or the Ed25519 key bytes.
    pub fn subject_public_key(&self) -> &[u8] {
        &self.raw
    }

    /// The key as a PEM `PUBLIC KEY` document.
    pub fn to_pem(&self) -> String {
        super::pem::pem_encode("PUBLIC KEY", &self.spki)
    }

    /// The key family.
    pub fn family(&self) -> KeyFamily {
        self.family
    }

    /// The size: RSA modulus bits, 256/384 for EC, 256 for Ed25519.
    pub fn bits(&self) -> u32 {
        self.bits
    }

    /// The certloop algorithm of this key, or `None` when certloop does not issue for it
    /// (RSA sizes other than 2048, 3072, 4096).
    pub fn key_algorithm(&self) -> Option<KeyAlgorithm> {
        match self.family {
            KeyFamily::Rsa => match self.bits {
                2048 => Some(KeyAlgorithm::Rsa2048),
                3072 => Some(KeyAlgorithm::Rsa3072),
                4096 => Some(KeyAlgorithm::Rsa4096),
                _ => None,
            },
            KeyFamily::Ec => self.curve,
            KeyFamily::Ed25519 => Some(KeyAlgorithm::Ed25519),
        }
    }

    /// Verify `signature` over `message` with algorithm `sig` (RSA PKCS#1 v1.5, ECDSA with
    /// DER signatures, Ed25519). A signature that does not verify is [`Error::Crypto`].
    pub fn verify(&self, sig: SignatureAlgorithm, message: &[u8], signature: &[u8]) -> Result<()> {
        let algorithm: &'static dyn VerificationAlgorithm = match (sig, self.curve) {
            (SignatureAlgorithm::RsaSha256, _) if self.family == KeyFamily::Rsa => {
                &ring_sig::RSA_PKCS1_2048_8192_SHA256
            }
            (SignatureAlgorithm::RsaSha384, _) if self.family == KeyFamily::Rsa => {
                &ring_sig::RSA_PKCS1_2048_8192_SHA384
            }
            (SignatureAlgorithm::RsaSha512, _) if self.family == KeyFamily::Rsa => {
                &ring_sig::RSA_PKCS1_2048_8192_SHA512
            }
            (SignatureAlgorithm::EcdsaSha256, Some(KeyAlgorithm::EcP256)) => {
                &ring_sig::ECDSA_P256_SHA256_ASN1
            }
            (SignatureAlgorithm::EcdsaSha384, Some(KeyAlgorithm::EcP256)) => {
                &ring_sig::ECDSA_P256_SHA384_ASN1
            }
            (SignatureAlgorithm::EcdsaSha256, Some(KeyAlgorithm::EcP384)) => {
                &ring_sig::ECDSA_P384_SHA256_ASN1
            }
            (SignatureAlgorithm::EcdsaSha384, Some(KeyAlgorithm::EcP384)) => {
                &ring_sig::ECDSA_P384_SHA384_ASN1
            }
            (SignatureAlgorithm::Ed25519, _) if self.family == KeyFamily::Ed25519 => {
                &ring_sig::ED25519
            }
            _ => {
                return Err(Error::crypto(format!(
                    "signature algorithm {sig} cannot be used with a {:?} {}-bit key",
                    self.family, self.bits
                )));
            }
        };
        UnparsedPublicKey::new(algorithm, &self.raw)
            .verify(message, signature)
            .map_err(|_| Error::crypto(format!("{sig} signature does not verify")))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("family", &self.family)
            .field("bits", &self.bits)
            .finish_non_exhaustive()
    }
}

impl rcgen::PublicKeyData for PublicKey {
    fn der_bytes(&self) -> &[u8] {
        &self.raw
    }

    /// The rcgen algorithm whose key OID matches this key; rcgen only uses it to write the
    /// SubjectPublicKeyInfo, so RSA keys of every size map to `PKCS_RSA_SHA256`.
    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        match (self.family, self.curve) {
            (KeyFamily::Rsa, _) => &rcgen::PKCS_RSA_SHA256,
            (KeyFamily::Ec, Some(KeyAlgorithm::EcP384)) => &rcgen::PKCS_ECDSA_P384_SHA384,
            (KeyFamily::Ec, _) => &rcgen::PKCS_ECDSA_P256_SHA256,
            (KeyFamily::Ed25519, _) => &rcgen::PKCS_ED25519,
        }
    }
}

/// Family, size and certloop algorithm of a SubjectPublicKeyInfo, for inspection: like
/// [`PublicKey::from_spki_der`], and also describing P-521 keys certloop does not sign with.
pub(crate) fn describe_spki(
    der: &[u8],
    field: &str,
) -> Result<(KeyFamily, u32, Option<KeyAlgorithm>)> {
    match PublicKey::from_spki_der(der) {
        Ok(key) => Ok((key.family(), key.bits(), key.key_algorithm())),
        Err(err) => {
            let p521 = SubjectPublicKeyInfoRef::from_der(der).ok().is_some_and(|info| {
                info.algorithm.oid == oid::EC_PUBLIC_KEY
                    && info.algorithm.parameters_oid().ok() == Some(oid::SECP521R1)
            });
            if p521 {
                return Ok((KeyFamily::Ec, 521, None));
            }
            let message = match err {
                Error::InvalidInput { message, .. } => message,
                other => other.to_string(),
            };
            Err(Error::invalid(field, format!("public key: {message}")))
        }
    }
}

/// The bit length of a big-endian unsigned integer.
pub(crate) fn unsigned_bits(bytes: &[u8]) -> u32 {
    let trimmed: &[u8] = match bytes.iter().position(|&b| b != 0) {
        Some(i) => &bytes[i..],
        None => return 0,
    };
    let len = u32::try_from(trimmed.len()).unwrap_or(u32::MAX / 8);
    (len - 1) * 8 + (8 - trimmed[0].leading_zeros())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn unsigned_bits_counts_from_the_top_bit() {
        assert_eq!(unsigned_bits(&[0x00, 0x80, 0x00]), 16);
        assert_eq!(unsigned_bits(&[0x01]), 1);
        assert_eq!(unsigned_bits(&[0x00]), 0);
    }

    #[test]
    fn garbage_is_invalid_public_key() {
        let err = PublicKey::from_spki_der(b"\x30\x03\x02\x01\x00").unwrap_err();
        assert!(matches!(err, Error::InvalidInput { ref field, .. } if field == "publicKey"));
    }
}

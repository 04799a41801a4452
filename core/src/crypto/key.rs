//! Private keys: generation, import (PKCS#8, PKCS#1, SEC1, encrypted PKCS#8), export, and
//! signing through rcgen's ring backend.
//!
//! RSA keys are *generated* with the `rsa` crate and then handed to ring as PKCS#8. The `rsa`
//! crate's private-key operations (signing, decryption) are never called here or anywhere in
//! certloop: RUSTSEC-2023-0071 (Marvin timing side channel). ring signs.

use std::fmt;
use std::sync::OnceLock;

use der::{Decode, Encode};
use pkcs8::{DecodePrivateKey, EncodePrivateKey, EncryptedPrivateKeyInfoRef, PrivateKeyInfoRef};
use zeroize::{Zeroize, Zeroizing};

use super::oid;
use super::pem::pem_blocks;
use super::public_key::{PublicKey, unsigned_bits};
use super::random::SystemRng;
use super::secret::SecretString;
use crate::error::{Error, Result};
use crate::model::{KeyAlgorithm, SignatureAlgorithm};

/// The error field for every private-key input.
const FIELD: &str = "privateKey";

/// PBKDF2-HMAC-SHA256 iterations for encrypted PKCS#8 export: OWASP's 2023 figure, and the
/// RustCrypto default; `openssl pkey -passin` reads it (OpenSSL itself writes 2048).
pub const PBKDF2_ITERATIONS: u32 = 600_000;

/// A private key that signs through ring.
///
/// Holds the PKCS#8 DER (zeroized on drop), the public key, and an rcgen [`rcgen::KeyPair`]
/// bound to one signature algorithm. `Debug` never prints key material.
///
/// The ring key pair is loaded when the key first signs. A freshly generated leaf key is
/// usually never asked to sign (the CA signs its certificate, the caller takes the PKCS#8),
/// and loading it in ring derives the public key from the private scalar a second time:
/// ~10% of a P-256 leaf's issuance (benches/README). Imported keys are loaded at once, so a
/// key ring refuses is refused on import.
pub struct PrivateKey {
    pkcs8: Zeroizing<Vec<u8>>,
    /// The public key as rcgen's [`rcgen::PublicKeyData::der_bytes`] has it: the uncompressed
    /// point for EC, the raw key for Ed25519, `RSAPublicKey` DER for RSA.
    public: Vec<u8>,
    /// Boxed: ring's RSA key pair is large, and keys travel inside enums (`KeyChoice`).
    key_pair: OnceLock<Box<rcgen::KeyPair>>,
    algorithm: KeyAlgorithm,
    signature: SignatureAlgorithm,
}

impl PrivateKey {
    /// Generate a new key of `alg` (RSA through the `rsa` crate, EC and Ed25519 through ring).
    pub fn generate(alg: KeyAlgorithm) -> Result<PrivateKey> {
        match alg {
            KeyAlgorithm::Rsa2048 | KeyAlgorithm::Rsa3072 | KeyAlgorithm::Rsa4096 => {
                let bits = usize::try_from(alg.bits()).unwrap_or(2048);
                let key = rsa::PrivateKey::new(&mut SystemRng::new(), bits)
                    .map_err(|e| Error::crypto(format!("RSA key generation failed: {e}")))?;
                let doc = key
                    .to_pkcs8_der()
                    .map_err(|e| Error::crypto(format!("RSA key encoding failed: {e}")))?;
                Self::build(Zeroizing::new(doc.as_bytes().to_vec()), alg, alg.default_signature())
            }
            KeyAlgorithm::EcP256 | KeyAlgorithm::EcP384 => Self::generate_ec(alg),
            KeyAlgorithm::Ed25519 => {
                let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519)
                    .map_err(|e| Error::crypto(format!("{alg} key generation failed: {e}")))?;
                // Through the importer, which rewrites ring's PKCS#8 v2 as the v1 that
                // OpenSSL 3.0 reads.
                Self::from_pkcs8_der(pair.serialized_der())
            }
        }
    }

    /// A new P-256 or P-384 key from ring. ring's EC PKCS#8 carries the public key (what the
    /// importer's re-encoding ensures for foreign keys) and OpenSSL reads it, so it is kept as
    /// is and the public key is read from it rather than computed again. (Re-encoding through
    /// p256/p384 recomputed the public key with RustCrypto arithmetic: ~80% of a P-256 leaf's
    /// issuance time, benches/README.)
    fn generate_ec(alg: KeyAlgorithm) -> Result<PrivateKey> {
        let ring_alg = match alg {
            KeyAlgorithm::EcP384 => &ring::signature::ECDSA_P384_SHA384_ASN1_SIGNING,
            _ => &ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
        };
        let failed = |e: &dyn fmt::Display| Error::crypto(format!("{alg} key generation: {e}"));
        let document = ring::signature::EcdsaKeyPair::generate_pkcs8(
            ring_alg,
            &ring::rand::SystemRandom::new(),
        )
        .map_err(|e| failed(&e))?;
        let pkcs8 = Zeroizing::new(document.as_ref().to_vec());
        let info = PrivateKeyInfoRef::from_der(&pkcs8).map_err(|e| failed(&e))?;
        let ec =
            sec1::EcPrivateKey::from_der(info.private_key.as_bytes()).map_err(|e| failed(&e))?;
        let public = ec.public_key.ok_or_else(|| failed(&"ring wrote no public key"))?.to_vec();
        Ok(Self::unloaded(pkcs8, public, alg, alg.default_signature()))
    }

    /// A key whose ring key pair is loaded when it first signs ([`PrivateKey::key_pair`]).
    fn unloaded(
        pkcs8: Zeroizing<Vec<u8>>,
        public: Vec<u8>,
        algorithm: KeyAlgorithm,
        signature: SignatureAlgorithm,
    ) -> PrivateKey {
        PrivateKey { pkcs8, public, key_pair: OnceLock::new(), algorithm, signature }
    }

    /// Import a PEM key: `PRIVATE KEY` (PKCS#8), `RSA PRIVATE KEY` (PKCS#1) or
    /// `EC PRIVATE KEY` (SEC1, P-256/P-384). An `ENCRYPTED PRIVATE KEY` needs
    /// [`PrivateKey::from_encrypted_pem`].
    pub fn from_pem(pem: &str) -> Result<PrivateKey> {
        // Wrap every decoded block at once, so the ones not used are zeroized too.
        let blocks: Vec<(String, Zeroizing<Vec<u8>>)> = pem_blocks(pem.as_bytes(), FIELD)?
            .into_iter()
            .map(|(label, der)| (label, Zeroizing::new(der)))
            .collect();
        let mut labels = Vec::new();
        for (label, der) in blocks {
            match label.as_str() {
                "PRIVATE KEY" => return Self::from_pkcs8_der(&der),
                "RSA PRIVATE KEY" => return Self::from_pkcs1_der(&der),
                "EC PRIVATE KEY" => return Self::from_sec1_der(&der),
                "ENCRYPTED PRIVATE KEY" => {
                    return Err(Error::invalid(
                        FIELD,
                        "the key is encrypted (ENCRYPTED PRIVATE KEY); pass its passphrase",
                    ));
                }
                _ => labels.push(label),
            }
        }
        Err(Error::invalid(
            FIELD,
            format!(
                "no PEM private key found (expected PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE \
                 KEY; found {})",
                if labels.is_empty() { "no PEM block".to_owned() } else { labels.join(", ") }
            ),
        ))
    }

    /// Import an `ENCRYPTED PRIVATE KEY` (PKCS#8 PBES2) PEM with its passphrase; an
    /// unencrypted PEM key is accepted too.
    pub fn from_encrypted_pem(pem: &str, passphrase: &[u8]) -> Result<PrivateKey> {
        let blocks = pem_blocks(pem.as_bytes(), FIELD)?;
        let Some((_, der)) = blocks.iter().find(|(l, _)| l == "ENCRYPTED PRIVATE KEY") else {
            return Self::from_pem(pem);
        };
        let info = EncryptedPrivateKeyInfoRef::from_der(der)
            .map_err(|e| Error::invalid(FIELD, format!("not an encrypted PKCS#8 key: {e}")))?;
        let plain = info.decrypt(passphrase).map_err(|_| {
            Error::invalid(FIELD, "cannot decrypt the key: wrong passphrase or unsupported cipher")
        })?;
        Self::from_pkcs8_der(plain.as_bytes())
    }

    /// Import an unencrypted PKCS#8 DER key (RFC 5958).
    pub fn from_pkcs8_der(der: &[u8]) -> Result<PrivateKey> {
        let info = PrivateKeyInfoRef::from_der(der)
            .map_err(|e| Error::invalid(FIELD, format!("not a PKCS#8 private key: {e}")))?;
        match info.algorithm.oid {
            oid::RSA_ENCRYPTION => {
                let rsa = pkcs1::RsaPrivateKey::<der::asn1::UintRef<'_>>::from_der(
                    info.private_key.as_bytes(),
                )
                .map_err(|e| Error::invalid(FIELD, format!("not an RSA private key: {e}")))?;
                let alg = match unsigned_bits(rsa.modulus.as_bytes()) {
                    2048 => KeyAlgorithm::Rsa2048,
                    3072 => KeyAlgorithm::Rsa3072,
                    4096 => KeyAlgorithm::Rsa4096,
                    n => {
                        return Err(Error::invalid(
                            FIELD,
                            format!("unsupported RSA key size {n}; use 2048, 3072 or 4096"),
                        ));
                    }
                };
                Self::build(Zeroizing::new(der.to_vec()), alg, alg.default_signature())
            }
            oid::EC_PUBLIC_KEY => {
                let curve = info.algorithm.parameters_oid().map_err(|_| {
                    Error::invalid(FIELD, "EC key without a named curve; use P-256 or P-384")
                })?;
                // Re-encode through p256/p384 so the PKCS#8 always carries the public key,
                // which ring needs.
                let (alg, pkcs8) = match curve {
                    oid::SECP256R1 => (
                        KeyAlgorithm::EcP256,
                        p256::SecretKey::from_pkcs8_der(der).map_err(ec_err)?.to_pkcs8_der(),
                    ),
                    oid::SECP384R1 => (
                        KeyAlgorithm::EcP384,
                        p384::SecretKey::from_pkcs8_der(der).map_err(ec_err)?.to_pkcs8_der(),
                    ),
                    other => {
                        return Err(Error::invalid(
                            FIELD,
                            format!("unsupported EC curve {other}; use P-256 or P-384"),
                        ));
                    }
                };
                let pkcs8 = pkcs8.map_err(|e| Error::crypto(format!("EC key encoding: {e}")))?;
                Self::build(Zeroizing::new(pkcs8.as_bytes().to_vec()), alg, alg.default_signature())
            }
            oid::ED25519 => {
                // Keep Ed25519 keys as PKCS#8 v1 (no public key): OpenSSL 3.0 refuses ring's
                // v2 encoding, and ring derives the public key from the seed anyway.
                let mut v1 = info;
                v1.public_key = None;
                let pkcs8 = Zeroizing::new(
                    v1.to_der().map_err(|e| Error::crypto(format!("PKCS#8 encoding: {e}")))?,
                );
                Self::build(pkcs8, KeyAlgorithm::Ed25519, SignatureAlgorithm::Ed25519)
            }
            other => Err(Error::invalid(
                FIELD,
                format!("unsupported key algorithm {other}; use RSA, EC P-256/P-384 or Ed25519"),
            )),
        }
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    /// The signature algorithm this instance signs with.
    pub fn signature_algorithm(&self) -> SignatureAlgorithm {
        self.signature
    }

    /// The same key, signing with `sig` (for example an RSA key signing with RSA-SHA384).
    pub fn with_signature(&self, sig: SignatureAlgorithm) -> Result<PrivateKey> {
        if !self.algorithm.supports(sig) {
            return Err(Error::invalid(
                "signatureAlgorithm",
                format!("{sig} cannot be made with a {} key", self.algorithm),
            ));
        }
        Ok(Self::unloaded(self.pkcs8.clone(), self.public.clone(), self.algorithm, sig))
    }

    /// The public half.
    pub fn public_key(&self) -> PublicKey {
        // Invariant: rcgen writes a well-formed SubjectPublicKeyInfo for a key ring made or
        // accepted, of a family PublicKey supports; this cannot fail.
        #[allow(clippy::expect_used)]
        PublicKey::from_spki_der(&rcgen::PublicKeyData::subject_public_key_info(self))
            .expect("rcgen's SPKI of a ring-accepted key parses")
    }

    /// The PKCS#8 DER; zeroized when dropped.
    pub fn to_pkcs8_der(&self) -> Zeroizing<Vec<u8>> {
        self.pkcs8.clone()
    }

    /// The PKCS#8 PEM (`PRIVATE KEY`).
    pub fn to_pkcs8_pem(&self) -> SecretString {
        SecretString::new(super::pem::pem_encode("PRIVATE KEY", &self.pkcs8))
    }

    /// The key as an `ENCRYPTED PRIVATE KEY` PEM: PBES2 with PBKDF2-HMAC-SHA256
    /// ([`PBKDF2_ITERATIONS`] rounds, random 16-byte salt) and AES-256-CBC (random IV).
    pub fn to_encrypted_pkcs8_pem(&self, passphrase: &[u8]) -> Result<String> {
        if passphrase.is_empty() {
            return Err(Error::invalid("passphrase", "an empty passphrase does not protect a key"));
        }
        let mut rng = SystemRng::new();
        let salt = rng.bytes::<16>().map_err(Error::crypto)?;
        let iv = rng.bytes::<16>().map_err(Error::crypto)?;
        let params = pkcs8::pkcs5::pbes2::Parameters::generate_pbkdf2_sha256_aes256cbc(
            PBKDF2_ITERATIONS,
            &salt,
            iv,
        )
        .map_err(|e| Error::crypto(format!("PBES2 parameters: {e}")))?;
        let info = PrivateKeyInfoRef::from_der(&self.pkcs8)
            .map_err(|e| Error::crypto(format!("PKCS#8 re-parse: {e}")))?;
        let doc = info
            .encrypt_with_params(params, passphrase)
            .map_err(|e| Error::crypto(format!("PKCS#8 encryption: {e}")))?;
        Ok(super::pem::pem_encode("ENCRYPTED PRIVATE KEY", doc.as_bytes()))
    }

    /// PKCS#1 `RSAPrivateKey` DER → PKCS#8.
    fn from_pkcs1_der(der: &[u8]) -> Result<PrivateKey> {
        pkcs1::RsaPrivateKey::<der::asn1::UintRef<'_>>::from_der(der)
            .map_err(|e| Error::invalid(FIELD, format!("not a PKCS#1 RSA private key: {e}")))?;
        let info = PrivateKeyInfoRef::new(
            spki::AlgorithmIdentifier {
                oid: oid::RSA_ENCRYPTION,
                parameters: Some(der::asn1::AnyRef::NULL),
            },
            der::asn1::OctetStringRef::new(der)
                .map_err(|e| Error::invalid(FIELD, format!("PKCS#1 key too large: {e}")))?,
        );
        let pkcs8 = Zeroizing::new(
            info.to_der().map_err(|e| Error::crypto(format!("PKCS#8 encoding: {e}")))?,
        );
        Self::from_pkcs8_der(&pkcs8)
    }

    /// SEC1 `ECPrivateKey` DER (P-256 or P-384) → PKCS#8 with the public key included.
    fn from_sec1_der(der: &[u8]) -> Result<PrivateKey> {
        let ec = sec1::EcPrivateKey::from_der(der)
            .map_err(|e| Error::invalid(FIELD, format!("not a SEC1 EC private key: {e}")))?;
        let curve = ec.parameters.and_then(|p| p.named_curve());
        let (alg, pkcs8) = match curve {
            Some(oid::SECP256R1) => (
                KeyAlgorithm::EcP256,
                p256::SecretKey::from_sec1_der(der).map_err(ec_err)?.to_pkcs8_der(),
            ),
            Some(oid::SECP384R1) => (
                KeyAlgorithm::EcP384,
                p384::SecretKey::from_sec1_der(der).map_err(ec_err)?.to_pkcs8_der(),
            ),
            _ => {
                return Err(Error::invalid(
                    FIELD,
                    "SEC1 key without a supported named curve; use P-256 or P-384",
                ));
            }
        };
        let pkcs8 = pkcs8.map_err(|e| Error::crypto(format!("EC key encoding: {e}")))?;
        Self::build(Zeroizing::new(pkcs8.as_bytes().to_vec()), alg, alg.default_signature())
    }

    /// Load `pkcs8` into ring for `sig`.
    fn build(
        pkcs8: Zeroizing<Vec<u8>>,
        algorithm: KeyAlgorithm,
        signature: SignatureAlgorithm,
    ) -> Result<PrivateKey> {
        let key_pair = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(
            &pkcs8.as_slice().into(),
            rcgen_algorithm(signature),
        )
        .map_err(|e| Error::invalid(FIELD, format!("key rejected by ring: {e}")))?;
        let public = rcgen::PublicKeyData::der_bytes(&key_pair).to_vec();
        Ok(PrivateKey {
            pkcs8,
            public,
            key_pair: OnceLock::from(Box::new(key_pair)),
            algorithm,
            signature,
        })
    }

    /// The ring key pair, loaded on first use.
    fn key_pair(&self) -> std::result::Result<&rcgen::KeyPair, rcgen::Error> {
        if let Some(pair) = self.key_pair.get() {
            return Ok(pair);
        }
        let pair = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(
            &self.pkcs8.as_slice().into(),
            rcgen_algorithm(self.signature),
        )?;
        // A racing first use may have set it meanwhile; either copy is the same key.
        Ok(self.key_pair.get_or_init(|| Box::new(pair)))
    }
}

/// The rcgen (ring) signature algorithm for `sig`. Every variant maps to an algorithm rcgen's
/// ring backend implements, so `KeyPair::from_pkcs8_der_and_sign_algo` never hits its panic.
pub(crate) fn rcgen_algorithm(sig: SignatureAlgorithm) -> &'static rcgen::SignatureAlgorithm {
    match sig {
        SignatureAlgorithm::RsaSha256 => &rcgen::PKCS_RSA_SHA256,
        SignatureAlgorithm::RsaSha384 => &rcgen::PKCS_RSA_SHA384,
        SignatureAlgorithm::RsaSha512 => &rcgen::PKCS_RSA_SHA512,
        SignatureAlgorithm::EcdsaSha256 => &rcgen::PKCS_ECDSA_P256_SHA256,
        SignatureAlgorithm::EcdsaSha384 => &rcgen::PKCS_ECDSA_P384_SHA384,
        SignatureAlgorithm::Ed25519 => &rcgen::PKCS_ED25519,
    }
}

fn ec_err(e: impl fmt::Display) -> Error {
    Error::invalid(FIELD, format!("not a valid EC private key: {e}"))
}

impl Clone for PrivateKey {
    /// The clone loads its own ring key pair when it first signs.
    fn clone(&self) -> Self {
        Self::unloaded(self.pkcs8.clone(), self.public.clone(), self.algorithm, self.signature)
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("algorithm", &format_args!("{}", self.algorithm))
            .field("key", &format_args!("[redacted]"))
            .finish()
    }
}

impl Drop for PrivateKey {
    fn drop(&mut self) {
        // `pkcs8` zeroizes itself; rcgen keeps its own copy of the DER.
        if let Some(pair) = self.key_pair.get_mut() {
            pair.zeroize();
        }
    }
}

impl rcgen::PublicKeyData for PrivateKey {
    fn der_bytes(&self) -> &[u8] {
        &self.public
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        rcgen_algorithm(self.signature)
    }
}

impl rcgen::SigningKey for PrivateKey {
    fn sign(&self, msg: &[u8]) -> std::result::Result<Vec<u8>, rcgen::Error> {
        self.key_pair()?.sign(msg)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_sign_and_verify() {
        for alg in [KeyAlgorithm::EcP256, KeyAlgorithm::EcP384, KeyAlgorithm::Ed25519] {
            let key = PrivateKey::generate(alg).unwrap();
            assert_eq!(key.algorithm(), alg);
            let sig = rcgen::SigningKey::sign(&key, b"hello").unwrap();
            let public = key.public_key();
            public.verify(alg.default_signature(), b"hello", &sig).unwrap();
            assert!(public.verify(alg.default_signature(), b"hellO", &sig).is_err());
            assert_eq!(public.key_algorithm(), Some(alg));
        }
    }

    #[test]
    fn generated_ec_keys_load_into_ring_only_to_sign() {
        for alg in [KeyAlgorithm::EcP256, KeyAlgorithm::EcP384] {
            let key = PrivateKey::generate(alg).unwrap();
            assert!(key.key_pair.get().is_none(), "{alg}: loaded before signing");
            // The public key read from ring's PKCS#8 is the one ring derives from the scalar.
            let imported = PrivateKey::from_pkcs8_der(&key.to_pkcs8_der()).unwrap();
            assert_eq!(imported.public_key(), key.public_key());
            let clone = key.clone();
            let sig = rcgen::SigningKey::sign(&clone, b"lazy").unwrap();
            key.public_key().verify(alg.default_signature(), b"lazy", &sig).unwrap();
            assert!(clone.key_pair.get().is_some());
        }
    }

    #[test]
    fn debug_is_redacted() {
        let key = PrivateKey::generate(KeyAlgorithm::EcP256).unwrap();
        assert_eq!(format!("{key:?}"), "PrivateKey { algorithm: EC_prime256v1, key: [redacted] }");
    }

    #[test]
    fn pkcs8_round_trip_and_clone() {
        let key = PrivateKey::generate(KeyAlgorithm::EcP384).unwrap();
        let again = PrivateKey::from_pem(key.to_pkcs8_pem().expose()).unwrap();
        assert_eq!(again.public_key(), key.public_key());
        assert_eq!(key.clone().public_key(), key.public_key());
    }

    #[test]
    fn with_signature_checks_the_family() {
        let key = PrivateKey::generate(KeyAlgorithm::EcP256).unwrap();
        assert!(key.with_signature(SignatureAlgorithm::RsaSha256).is_err());
        assert!(key.with_signature(SignatureAlgorithm::EcdsaSha384).is_err());
        assert_eq!(
            key.with_signature(SignatureAlgorithm::EcdsaSha256).unwrap().signature_algorithm(),
            SignatureAlgorithm::EcdsaSha256
        );
    }

    #[test]
    fn encrypted_pem_needs_its_passphrase() {
        let key = PrivateKey::generate(KeyAlgorithm::Ed25519).unwrap();
        let pem = key.to_encrypted_pkcs8_pem(b"correct horse").unwrap();
        let err = PrivateKey::from_pem(&pem).unwrap_err();
        assert!(err.to_string().contains("passphrase"), "{err}");
        assert!(PrivateKey::from_encrypted_pem(&pem, b"wrong").is_err());
        let back = PrivateKey::from_encrypted_pem(&pem, b"correct horse").unwrap();
        assert_eq!(back.public_key(), key.public_key());
    }
}

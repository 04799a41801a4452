//! Object identifiers certloop reads and writes (RFC 5280, RFC 3279, RFC 5480, RFC 8410).

use der::asn1::ObjectIdentifier as Oid;

/// rsaEncryption (RFC 8017).
pub(crate) const RSA_ENCRYPTION: Oid = Oid::new_unwrap("1.2.840.113549.1.1.1");
/// sha256WithRSAEncryption.
pub(crate) const SHA256_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.11");
/// sha384WithRSAEncryption.
pub(crate) const SHA384_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.12");
/// sha512WithRSAEncryption.
pub(crate) const SHA512_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.13");
/// id-ecPublicKey (RFC 5480).
pub(crate) const EC_PUBLIC_KEY: Oid = Oid::new_unwrap("1.2.840.10045.2.1");
/// secp256r1 / prime256v1.
pub(crate) const SECP256R1: Oid = Oid::new_unwrap("1.2.840.10045.3.1.7");
/// secp384r1.
pub(crate) const SECP384R1: Oid = Oid::new_unwrap("1.3.132.0.34");
/// secp521r1 (described by inspection, not used for signing).
pub(crate) const SECP521R1: Oid = Oid::new_unwrap("1.3.132.0.35");
/// ecdsa-with-SHA256.
pub(crate) const ECDSA_WITH_SHA256: Oid = Oid::new_unwrap("1.2.840.10045.4.3.2");
/// ecdsa-with-SHA384.
pub(crate) const ECDSA_WITH_SHA384: Oid = Oid::new_unwrap("1.2.840.10045.4.3.3");
/// id-Ed25519 (RFC 8410).
pub(crate) const ED25519: Oid = Oid::new_unwrap("1.3.101.112");

use crate::model::SignatureAlgorithm;

/// The signature algorithm named by a certificate's or CSR's `signatureAlgorithm` OID.
pub(crate) fn signature_algorithm(oid: &Oid) -> Option<SignatureAlgorithm> {
    Some(match *oid {
        SHA256_WITH_RSA => SignatureAlgorithm::RsaSha256,
        SHA384_WITH_RSA => SignatureAlgorithm::RsaSha384,
        SHA512_WITH_RSA => SignatureAlgorithm::RsaSha512,
        ECDSA_WITH_SHA256 => SignatureAlgorithm::EcdsaSha256,
        ECDSA_WITH_SHA384 => SignatureAlgorithm::EcdsaSha384,
        ED25519 => SignatureAlgorithm::Ed25519,
        _ => return None,
    })
}

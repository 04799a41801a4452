//! Proof of possession: a CSR's self-signature must verify with the public key it carries
//! (RFC 2986 §3, RFC 4211 §4). Every CSR passes this before issuance.

use crate::crypto::PublicKey;
use crate::error::{Error, Result};
use crate::model::{KeyFamily, SignatureAlgorithm};

/// The smallest RSA modulus ring verifies and certloop accepts.
const MIN_RSA_BITS: u32 = 2048;

/// Verify that `signature` over the exact DER of the CertificationRequestInfo was made with the
/// private half of `public_key`. A bad signature is [`Error::InvalidInput`] on field `csr`.
pub fn verify_proof_of_possession(
    public_key: &PublicKey,
    algorithm: SignatureAlgorithm,
    request_info_der: &[u8],
    signature: &[u8],
) -> Result<()> {
    if public_key.family() == KeyFamily::Rsa && public_key.bits() < MIN_RSA_BITS {
        return Err(Error::invalid(
            "csr",
            format!(
                "the CSR's RSA key has {} bits; use at least {MIN_RSA_BITS}",
                public_key.bits()
            ),
        ));
    }
    public_key.verify(algorithm, request_info_der, signature).map_err(|_| {
        Error::invalid(
            "csr",
            format!(
                "the CSR signature does not verify with its own public key ({algorithm}); the \
                 request was altered or not signed by the key it names"
            ),
        )
    })
}

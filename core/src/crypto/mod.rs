//! Private keys, public keys, and inspection of certificates, CSRs and CRLs.

mod certificate;
mod crl;
mod key;
mod oid;
pub(crate) mod pem;
mod public_key;
mod random;
mod secret;
pub(crate) mod x509;

pub use certificate::{CertificateInfo, inspect_certificate, inspect_certificates};
pub use crl::{CrlInfo, RevokedEntry, inspect_crl};
pub use key::{PBKDF2_ITERATIONS, PrivateKey};
pub use pem::{pem_decode_all, pem_encode};
pub use public_key::PublicKey;
pub use random::random_base64url;
pub use secret::SecretString;
pub use x509::fingerprint_sha256;

pub(crate) use oid::signature_algorithm as signature_algorithm_of;
pub(crate) use pem::der_from_pem_or_der;

//! Private keys, public keys, and inspection of certificates, CSRs and CRLs.

mod key;
mod oid;
mod pem;
mod public_key;
mod random;
mod secret;

pub use key::{PBKDF2_ITERATIONS, PrivateKey};
pub use pem::{pem_decode_all, pem_encode};
pub use public_key::PublicKey;
pub use secret::SecretString;

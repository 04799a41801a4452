//! Private keys, public keys, and inspection of certificates, CSRs and CRLs.

mod secret;

pub use secret::SecretString;

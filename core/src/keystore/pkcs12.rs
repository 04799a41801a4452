//! PKCS#12 (RFC 7292) through the `p12-keystore` crate: AES-256-CBC + PBKDF2-SHA256 with an
//! HMAC-SHA256 MAC by default (what OpenSSL 3 and JDK ≥ 12 write), 3DES + SHA-1 MAC as the
//! legacy option.

use std::path::PathBuf;

use p12_keystore::{
    Certificate, EncryptionAlgorithm, KeyStore, KeyStoreEntry, MacAlgorithm, PrivateKeyChain,
};

use super::{KeystoreBundle, KeystoreFile, KeystoreWriter, check_alias, check_password};
use crate::crypto::SecretString;
use crate::error::{Error, Result};

/// Iterations of the key derivation and the MAC (the JDK's default).
const ITERATIONS: u32 = 10_000;

/// Writes one PKCS#12 file holding the key, the leaf and the whole chain.
#[derive(Clone, Debug)]
pub struct Pkcs12Writer {
    /// Destination.
    pub path: PathBuf,
    /// Password; `None` or empty writes a passwordless file (empty password, as
    /// `openssl pkcs12 -passout pass:` does).
    pub password: Option<SecretString>,
    /// Friendly name of the key entry.
    pub alias: String,
    /// Legacy encryption (3DES, SHA-1 MAC) for old consumers.
    pub legacy: bool,
}

impl Pkcs12Writer {
    /// Check the options.
    pub fn checked(self) -> Result<Self> {
        check_alias(&self.alias)?;
        if let Some(password) = &self.password {
            check_password("password", password.expose(), 0)?;
        }
        Ok(self)
    }

    /// The PKCS#12 bytes for `bundle`.
    pub fn to_der(&self, bundle: &KeystoreBundle) -> Result<Vec<u8>> {
        let key = bundle.require_key("PKCS#12")?;
        let p12_err = |e: p12_keystore::error::Error| Error::crypto(format!("PKCS#12: {e}"));
        let pkcs8 = key.to_pkcs8_der();
        let key = p12_keystore::PrivateKey::from_der(&pkcs8).map_err(p12_err)?;
        let mut certs = vec![Certificate::from_der(&bundle.certificate).map_err(p12_err)?];
        for der in &bundle.chain {
            certs.push(Certificate::from_der(der).map_err(p12_err)?);
        }
        // The local key id ties the key bag to its certificate bag: the leaf's fingerprint.
        let key_id =
            ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &bundle.certificate);
        let chain = PrivateKeyChain::new(key_id.as_ref().to_vec(), key, certs);
        let mut store = KeyStore::new();
        store.add_entry(&self.alias, KeyStoreEntry::PrivateKeyChain(chain));
        let password = self.password.as_ref().map_or("", |p| p.expose());
        let (encryption, mac) = if self.legacy {
            (EncryptionAlgorithm::PbeWithShaAnd3KeyTripleDesCbc, MacAlgorithm::HmacSha1)
        } else {
            (EncryptionAlgorithm::PbeWithHmacSha256AndAes256, MacAlgorithm::HmacSha256)
        };
        store
            .writer(password)
            .encryption_algorithm(encryption)
            .encryption_iterations(ITERATIONS)
            .mac_algorithm(mac)
            .mac_iterations(ITERATIONS)
            .write()
            .map_err(p12_err)
    }
}

impl KeystoreWriter for Pkcs12Writer {
    fn format(&self) -> &'static str {
        "pkcs12"
    }

    fn render(&self, bundle: &KeystoreBundle) -> Result<Vec<KeystoreFile>> {
        Ok(vec![KeystoreFile::new(self.path.clone(), self.to_der(bundle)?, 0o600)])
    }
}

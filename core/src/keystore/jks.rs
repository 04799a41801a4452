//! Java KeyStore (JKS) through the `jks` crate, for Tomcat, JBoss, Jetty and WebLogic installs
//! that predate PKCS#12 keystores. Passwords are restricted to printable ASCII: the format's
//! password-to-bytes step (and keytool) mangle anything else.

use std::path::PathBuf;

use super::{KeystoreBundle, KeystoreFile, KeystoreWriter, check_alias, check_password};
use crate::crypto::{SecretString, inspect_certificate};
use crate::error::{Error, Result};

/// keytool refuses store and key passwords shorter than this.
const MIN_PASSWORD_LEN: usize = 6;

/// Writes one JKS file with a private-key entry (key + leaf + chain).
#[derive(Clone, Debug)]
pub struct JksWriter {
    /// Destination.
    pub path: PathBuf,
    /// Store password (integrity digest).
    pub store_password: SecretString,
    /// Key password; the store password when `None` (what Tomcat expects by default).
    pub key_password: Option<SecretString>,
    /// Alias of the key entry (JKS lower-cases aliases).
    pub alias: String,
}

impl JksWriter {
    /// Check the options.
    pub fn checked(self) -> Result<Self> {
        check_alias(&self.alias)?;
        check_password("storePassword", self.store_password.expose(), MIN_PASSWORD_LEN)?;
        if let Some(key_password) = &self.key_password {
            check_password("keyPassword", key_password.expose(), MIN_PASSWORD_LEN)?;
        }
        Ok(self)
    }

    /// The JKS bytes for `bundle`.
    pub fn to_bytes(&self, bundle: &KeystoreBundle) -> Result<Vec<u8>> {
        let key = bundle.require_key("JKS")?;
        let jks_err = |e: jks::KeyStoreError| Error::crypto(format!("JKS: {e}"));
        let certificate =
            |der: &[u8]| jks::Certificate { cert_type: "X.509".to_owned(), content: der.to_vec() };
        let mut certificate_chain = vec![certificate(&bundle.certificate)];
        certificate_chain.extend(bundle.chain.iter().map(|der| certificate(der)));
        // The entry's date is the certificate's notBefore: deterministic, and no clock is read
        // below the façade.
        let not_before = inspect_certificate(&bundle.certificate)?.not_before.unix_timestamp();
        let creation_time = std::time::UNIX_EPOCH
            + std::time::Duration::from_secs(u64::try_from(not_before).unwrap_or(0));
        let entry = jks::PrivateKeyEntry {
            creation_time,
            private_key: key.to_pkcs8_der().to_vec(),
            certificate_chain,
        };
        let key_password = self.key_password.as_ref().unwrap_or(&self.store_password);
        let mut store = jks::KeyStore::new();
        store
            .set_private_key_entry(&self.alias, entry, key_password.expose().as_bytes())
            .map_err(jks_err)?;
        let mut out = Vec::new();
        store.store(&mut out, self.store_password.expose().as_bytes()).map_err(jks_err)?;
        Ok(out)
    }
}

impl KeystoreWriter for JksWriter {
    fn format(&self) -> &'static str {
        "jks"
    }

    fn render(&self, bundle: &KeystoreBundle) -> Result<Vec<KeystoreFile>> {
        Ok(vec![KeystoreFile::new(self.path.clone(), self.to_bytes(bundle)?, 0o600)])
    }
}

//! PEM files: separate leaf / chain / fullchain / key files, or one combined file.

use std::path::PathBuf;

use super::{KeystoreBundle, KeystoreFile, KeystoreWriter};
use crate::crypto::SecretString;
use crate::error::{Error, Result};

/// Writes PEM files at the paths that are set.
#[derive(Clone, Debug)]
pub struct PemWriter {
    /// The leaf alone.
    pub cert_path: Option<PathBuf>,
    /// The chain above the leaf.
    pub chain_path: Option<PathBuf>,
    /// Leaf + intermediates.
    pub fullchain_path: Option<PathBuf>,
    /// The private key.
    pub key_path: Option<PathBuf>,
    /// Key + leaf + chain in one file.
    pub combined_path: Option<PathBuf>,
    /// Encrypt the key with this passphrase (PKCS#8 PBES2, AES-256-CBC).
    pub key_passphrase: Option<SecretString>,
    /// Mode of certificate files.
    pub cert_mode: u32,
    /// Mode of key files.
    pub key_mode: u32,
}

impl PemWriter {
    /// PEM files under `dir` with the conventional names: `cert.pem`, `chain.pem`,
    /// `fullchain.pem` and `key.pem`.
    pub fn in_dir(dir: impl Into<PathBuf>) -> Self {
        let dir = dir.into();
        Self {
            cert_path: Some(dir.join("cert.pem")),
            chain_path: Some(dir.join("chain.pem")),
            fullchain_path: Some(dir.join("fullchain.pem")),
            key_path: Some(dir.join("key.pem")),
            combined_path: None,
            key_passphrase: None,
            cert_mode: 0o644,
            key_mode: 0o600,
        }
    }

    /// Check the options: at least one file, a key mode no one else can write or read.
    pub fn checked(self) -> Result<Self> {
        let any = [
            &self.cert_path,
            &self.chain_path,
            &self.fullchain_path,
            &self.key_path,
            &self.combined_path,
        ]
        .iter()
        .any(|p| p.is_some());
        if !any {
            return Err(Error::invalid(
                "keystore",
                "a PEM keystore needs at least one of certPath, chainPath, fullchainPath, keyPath, combinedPath",
            ));
        }
        if self.key_mode & 0o077 != 0 {
            return Err(Error::invalid(
                "keyMode",
                format!("{:04o} lets others read the key; use 0600 or 0400", self.key_mode),
            ));
        }
        if let Some(passphrase) = &self.key_passphrase
            && passphrase.expose().is_empty()
        {
            return Err(Error::invalid("keyPassphrase", "must not be empty"));
        }
        Ok(self)
    }

    fn key_pem(&self, bundle: &KeystoreBundle) -> Result<String> {
        let key = bundle.require_key("PEM key file")?;
        match &self.key_passphrase {
            Some(passphrase) => key.to_encrypted_pkcs8_pem(passphrase.expose().as_bytes()),
            None => Ok(key.to_pkcs8_pem().expose().to_owned()),
        }
    }
}

impl KeystoreWriter for PemWriter {
    fn format(&self) -> &'static str {
        "pem"
    }

    fn render(&self, bundle: &KeystoreBundle) -> Result<Vec<KeystoreFile>> {
        let mut files = Vec::new();
        // The key first, so that a reader of the list sees what needs the strictest mode.
        if let Some(path) = &self.key_path {
            files.push(KeystoreFile::new(
                path.clone(),
                self.key_pem(bundle)?.into_bytes(),
                self.key_mode,
            ));
        }
        if let Some(path) = &self.combined_path {
            let text = format!(
                "{}{}{}",
                self.key_pem(bundle)?,
                bundle.certificate_pem(),
                bundle.chain_pem()
            );
            files.push(KeystoreFile::new(path.clone(), text.into_bytes(), self.key_mode));
        }
        if let Some(path) = &self.cert_path {
            files.push(KeystoreFile::new(
                path.clone(),
                bundle.certificate_pem().into_bytes(),
                self.cert_mode,
            ));
        }
        if let Some(path) = &self.chain_path {
            files.push(KeystoreFile::new(
                path.clone(),
                bundle.chain_pem().into_bytes(),
                self.cert_mode,
            ));
        }
        if let Some(path) = &self.fullchain_path {
            files.push(KeystoreFile::new(
                path.clone(),
                bundle.fullchain_pem().into_bytes(),
                self.cert_mode,
            ));
        }
        Ok(files)
    }
}

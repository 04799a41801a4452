//! Keystores: a certificate bundle (leaf, chain, key) written in the format a server reads.
//!
//! A [`KeystoreWriter`] renders a [`KeystoreBundle`] into files ([`KeystoreFile`]); rendering is
//! pure. [`write_files`] then puts a set of files in place atomically (temporary file in the
//! same directory, fsync, rename, fsync of the directory), keeping the previous versions for
//! rollback ([`WrittenFiles::restore`]). [`KeystoreSpec`] is the serde shape a user writes to
//! choose a format and its options.

mod atomic;
mod jks;
mod kubernetes;
mod pem;
mod pkcs12;

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

pub use atomic::{WrittenFile, WrittenFiles, previous_version_path, write_files};
pub use jks::JksWriter;
pub use kubernetes::KubernetesSecretWriter;
pub use pem::PemWriter;
pub use pkcs12::Pkcs12Writer;

use crate::crypto::{self, PrivateKey, SecretString};
use crate::error::{Error, Result};

/// What a keystore holds: the leaf, the chain above it (issuer first, root last) and,
/// when there is one, the private key.
#[derive(Clone)]
pub struct KeystoreBundle {
    /// The leaf certificate, DER.
    pub certificate: Vec<u8>,
    /// The issuing CA up to the root, DER, issuer first; never contains the leaf.
    pub chain: Vec<Vec<u8>>,
    /// The leaf's private key.
    pub private_key: Option<PrivateKey>,
}

impl KeystoreBundle {
    /// A bundle from PEM text: the leaf, the chain (issuer first; a copy of the leaf is
    /// dropped, as a self-signed record's chain holds the leaf itself) and an optional key.
    pub fn from_pem(
        certificate: &str,
        chain: &str,
        private_key: Option<PrivateKey>,
    ) -> Result<Self> {
        let leaf = crypto::pem_decode_all(certificate.as_bytes(), "CERTIFICATE")?
            .into_iter()
            .next()
            .ok_or_else(|| Error::invalid("certificate", "no certificate"))?;
        let chain = if chain.trim().is_empty() {
            Vec::new()
        } else {
            crypto::pem_decode_all(chain.as_bytes(), "CERTIFICATE")
                .map_err(|e| Error::invalid("certificateChain", e.to_string()))?
                .into_iter()
                .filter(|der| *der != leaf)
                .collect()
        };
        Ok(Self { certificate: leaf, chain, private_key })
    }

    /// The leaf, PEM.
    pub fn certificate_pem(&self) -> String {
        crypto::pem_encode("CERTIFICATE", &self.certificate)
    }

    /// The chain above the leaf, PEM, issuer first.
    pub fn chain_pem(&self) -> String {
        self.chain.iter().map(|der| crypto::pem_encode("CERTIFICATE", der)).collect()
    }

    /// What a TLS server sends: the leaf and the intermediates, without the root (a client
    /// must already trust the root; RFC 8446 §4.4.2 lets it be omitted).
    pub fn fullchain_pem(&self) -> String {
        let intermediates = self.chain.len().saturating_sub(1);
        let mut pem = self.certificate_pem();
        for der in &self.chain[..intermediates] {
            pem.push_str(&crypto::pem_encode("CERTIFICATE", der));
        }
        pem
    }

    /// The root (last of the chain), PEM; the leaf itself when there is no chain.
    pub fn root_pem(&self) -> String {
        crypto::pem_encode("CERTIFICATE", self.chain.last().unwrap_or(&self.certificate))
    }

    /// The private key or an error naming the format that needs it.
    fn require_key(&self, format: &str) -> Result<&PrivateKey> {
        self.private_key.as_ref().ok_or_else(|| {
            Error::invalid("privateKey", format!("a {format} keystore needs the private key"))
        })
    }
}

impl fmt::Debug for KeystoreBundle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeystoreBundle")
            .field("certificate", &crypto::fingerprint_sha256(&self.certificate))
            .field("chain", &self.chain.len())
            .field("private_key", &self.private_key.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

/// One file a writer wants written: where, what, and with which mode.
#[derive(Clone)]
pub struct KeystoreFile {
    /// Destination path.
    pub path: PathBuf,
    /// Contents; zeroized on drop since they may hold a key.
    pub contents: Zeroizing<Vec<u8>>,
    /// Unix permission bits (0600 for anything holding a key).
    pub mode: u32,
}

impl KeystoreFile {
    fn new(path: PathBuf, contents: Vec<u8>, mode: u32) -> Self {
        Self { path, contents: Zeroizing::new(contents), mode }
    }
}

impl fmt::Debug for KeystoreFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeystoreFile")
            .field("path", &self.path)
            .field("bytes", &self.contents.len())
            .field("mode", &format_args!("{:o}", self.mode))
            .finish()
    }
}

/// Writes a certificate bundle into one keystore format.
pub trait KeystoreWriter: Send + Sync + fmt::Debug {
    /// Short format name: `pem`, `pkcs12`, `jks`, `kubernetesSecret`.
    fn format(&self) -> &'static str;

    /// The files this format consists of, rendered in memory (no I/O).
    fn render(&self, bundle: &KeystoreBundle) -> Result<Vec<KeystoreFile>>;

    /// Render and write atomically, keeping `keep` previous versions of each file.
    fn write(&self, bundle: &KeystoreBundle, keep: usize) -> Result<WrittenFiles> {
        write_files(&self.render(bundle)?, keep)
    }
}

/// How many previous versions of each file are kept by default.
pub const DEFAULT_KEEP_VERSIONS: usize = 3;

/// A keystore format and its options, as a user writes them (JSON, tag `format`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "format", rename_all = "camelCase", deny_unknown_fields)]
pub enum KeystoreSpec {
    /// PEM files; each path is optional, at least one must be set.
    #[serde(rename_all = "camelCase")]
    Pem {
        /// The leaf alone.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cert_path: Option<PathBuf>,
        /// The chain above the leaf (issuer first, root last).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        chain_path: Option<PathBuf>,
        /// Leaf + intermediates: what nginx's `ssl_certificate` wants.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fullchain_path: Option<PathBuf>,
        /// The private key (mode 0600).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key_path: Option<PathBuf>,
        /// Key, leaf and chain in one file (mode 0600), as HAProxy and some appliances want.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        combined_path: Option<PathBuf>,
        /// Encrypt the key (PKCS#8 PBES2, AES-256-CBC) with this passphrase.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key_passphrase: Option<SecretString>,
        /// Mode of certificate files (default 0644, given in decimal JSON or as "0644").
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cert_mode: Option<FileMode>,
        /// Mode of key files (default 0600; group/other write is refused).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key_mode: Option<FileMode>,
    },
    /// A PKCS#12 (`.p12`/`.pfx`) file.
    #[serde(rename_all = "camelCase")]
    Pkcs12 {
        /// Destination.
        path: PathBuf,
        /// Password; absent or empty for a passwordless file.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        password: Option<SecretString>,
        /// Friendly name of the key entry (default `certloop`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        alias: Option<String>,
        /// 3DES + SHA-1 MAC for old Java/Windows consumers instead of AES-256/PBKDF2/SHA-256.
        #[serde(default)]
        legacy: bool,
    },
    /// A Java KeyStore (JKS) file.
    #[serde(rename_all = "camelCase")]
    Jks {
        /// Destination.
        path: PathBuf,
        /// Store password (integrity).
        store_password: SecretString,
        /// Key password; the store password when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key_password: Option<SecretString>,
        /// Alias of the key entry (default `certloop`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        alias: Option<String>,
    },
    /// A Kubernetes `kubernetes.io/tls` Secret manifest (YAML) with `ca.crt`.
    #[serde(rename_all = "camelCase")]
    KubernetesSecret {
        /// Destination of the manifest.
        path: PathBuf,
        /// `metadata.name` (an RFC 1123 subdomain).
        name: String,
        /// `metadata.namespace`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        namespace: Option<String>,
    },
}

impl KeystoreSpec {
    /// The writer for this spec, after checking its options.
    pub fn writer(&self) -> Result<Box<dyn KeystoreWriter>> {
        Ok(match self {
            Self::Pem {
                cert_path,
                chain_path,
                fullchain_path,
                key_path,
                combined_path,
                key_passphrase,
                cert_mode,
                key_mode,
            } => Box::new(
                PemWriter {
                    cert_path: cert_path.clone(),
                    chain_path: chain_path.clone(),
                    fullchain_path: fullchain_path.clone(),
                    key_path: key_path.clone(),
                    combined_path: combined_path.clone(),
                    key_passphrase: key_passphrase.clone(),
                    cert_mode: cert_mode.map_or(0o644, |m| m.0),
                    key_mode: key_mode.map_or(0o600, |m| m.0),
                }
                .checked()?,
            ),
            Self::Pkcs12 { path, password, alias, legacy } => Box::new(
                Pkcs12Writer {
                    path: path.clone(),
                    password: password.clone(),
                    alias: alias.clone().unwrap_or_else(|| DEFAULT_ALIAS.to_owned()),
                    legacy: *legacy,
                }
                .checked()?,
            ),
            Self::Jks { path, store_password, key_password, alias } => Box::new(
                JksWriter {
                    path: path.clone(),
                    store_password: store_password.clone(),
                    key_password: key_password.clone(),
                    alias: alias.clone().unwrap_or_else(|| DEFAULT_ALIAS.to_owned()),
                }
                .checked()?,
            ),
            Self::KubernetesSecret { path, name, namespace } => Box::new(
                KubernetesSecretWriter {
                    path: path.clone(),
                    name: name.clone(),
                    namespace: namespace.clone(),
                }
                .checked()?,
            ),
        })
    }

    /// The destination paths this spec names.
    pub fn paths(&self) -> Vec<&std::path::Path> {
        match self {
            Self::Pem {
                cert_path, chain_path, fullchain_path, key_path, combined_path, ..
            } => [cert_path, chain_path, fullchain_path, key_path, combined_path]
                .into_iter()
                .flatten()
                .map(PathBuf::as_path)
                .collect(),
            Self::Pkcs12 { path, .. }
            | Self::Jks { path, .. }
            | Self::KubernetesSecret { path, .. } => {
                vec![path.as_path()]
            }
        }
    }

    /// The secret values of this spec, by field name, for sealing at rest and redaction.
    pub fn secrets_mut(&mut self) -> Vec<(&'static str, &mut SecretString)> {
        match self {
            Self::Pem { key_passphrase, .. } => {
                key_passphrase.as_mut().map(|s| ("keyPassphrase", s)).into_iter().collect()
            }
            Self::Pkcs12 { password, .. } => {
                password.as_mut().map(|s| ("password", s)).into_iter().collect()
            }
            Self::Jks { store_password, key_password, .. } => {
                let mut out = vec![("storePassword", store_password)];
                out.extend(key_password.as_mut().map(|s| ("keyPassword", s)));
                out
            }
            Self::KubernetesSecret { .. } => Vec::new(),
        }
    }
}

/// The alias/friendly name of the key entry when none is given.
pub const DEFAULT_ALIAS: &str = "certloop";

/// Unix permission bits, written in JSON as a number (`384`) or an octal string (`"0600"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileMode(pub u32);

impl Serialize for FileMode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{:04o}", self.0))
    }
}

impl<'de> Deserialize<'de> for FileMode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u32),
            Text(String),
        }
        let mode = match Raw::deserialize(d)? {
            Raw::Number(n) => n,
            Raw::Text(t) => u32::from_str_radix(t.trim_start_matches("0o"), 8)
                .map_err(|_| serde::de::Error::custom(format!("{t:?} is not an octal mode")))?,
        };
        if mode > 0o777 {
            return Err(serde::de::Error::custom(format!("mode {mode:o} is above 0777")));
        }
        Ok(Self(mode))
    }
}

/// Check a keystore password: printable ASCII (keytool and the JKS format mangle anything
/// else), and at least `min` characters.
pub(crate) fn check_password(field: &str, password: &str, min: usize) -> Result<()> {
    if !password.chars().all(|c| c.is_ascii_graphic() || c == ' ') {
        return Err(Error::invalid(
            field,
            "use printable ASCII only (keytool rejects other characters)",
        ));
    }
    if password.len() < min {
        return Err(Error::invalid(field, format!("must be at least {min} characters")));
    }
    Ok(())
}

/// Check an alias / friendly name: non-empty, printable ASCII.
pub(crate) fn check_alias(alias: &str) -> Result<()> {
    if alias.is_empty() || !alias.chars().all(|c| c.is_ascii_graphic() || c == ' ') {
        return Err(Error::invalid("alias", "use a non-empty printable ASCII alias"));
    }
    Ok(())
}

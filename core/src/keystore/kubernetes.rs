//! A Kubernetes `kubernetes.io/tls` Secret manifest: `tls.crt` (leaf + intermediates),
//! `tls.key` and `ca.crt` (the root), base64 in `data`, as `kubectl create secret tls` makes
//! and cert-manager writes.

use std::collections::BTreeMap;
use std::path::PathBuf;

use base64::Engine;
use serde::Serialize;

use super::{KeystoreBundle, KeystoreFile, KeystoreWriter};
use crate::error::{Error, Result};

/// Writes one Secret manifest (YAML).
#[derive(Clone, Debug)]
pub struct KubernetesSecretWriter {
    /// Destination of the manifest.
    pub path: PathBuf,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`.
    pub namespace: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Manifest<'a> {
    api_version: &'static str,
    kind: &'static str,
    metadata: Metadata<'a>,
    #[serde(rename = "type")]
    secret_type: &'static str,
    data: BTreeMap<&'static str, String>,
}

#[derive(Serialize)]
struct Metadata<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<&'a str>,
}

impl KubernetesSecretWriter {
    /// Check the names: RFC 1123 subdomain for the name, label for the namespace.
    pub fn checked(self) -> Result<Self> {
        if !is_dns_subdomain(&self.name, 253) {
            return Err(Error::invalid(
                "name",
                format!(
                    "{:?} is not a Kubernetes object name (lower-case a-z, 0-9, '-', '.')",
                    self.name
                ),
            ));
        }
        if let Some(namespace) = &self.namespace
            && (!is_dns_subdomain(namespace, 63) || namespace.contains('.'))
        {
            return Err(Error::invalid(
                "namespace",
                format!("{namespace:?} is not a namespace name (lower-case a-z, 0-9, '-')"),
            ));
        }
        Ok(self)
    }

    /// The manifest text.
    pub fn to_yaml(&self, bundle: &KeystoreBundle) -> Result<String> {
        let key = bundle.require_key("Kubernetes TLS secret")?;
        let b64 = |text: &str| base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
        let mut data = BTreeMap::new();
        data.insert("tls.crt", b64(&bundle.fullchain_pem()));
        data.insert("tls.key", b64(key.to_pkcs8_pem().expose()));
        data.insert("ca.crt", b64(&bundle.root_pem()));
        let manifest = Manifest {
            api_version: "v1",
            kind: "Secret",
            metadata: Metadata { name: &self.name, namespace: self.namespace.as_deref() },
            secret_type: "kubernetes.io/tls",
            data,
        };
        serde_yaml_ng::to_string(&manifest).map_err(|e| Error::crypto(format!("YAML: {e}")))
    }
}

impl KeystoreWriter for KubernetesSecretWriter {
    fn format(&self) -> &'static str {
        "kubernetesSecret"
    }

    fn render(&self, bundle: &KeystoreBundle) -> Result<Vec<KeystoreFile>> {
        Ok(vec![KeystoreFile::new(self.path.clone(), self.to_yaml(bundle)?.into_bytes(), 0o600)])
    }
}

/// RFC 1123 subdomain as Kubernetes checks it.
fn is_dns_subdomain(name: &str, max: usize) -> bool {
    !name.is_empty()
        && name.len() <= max
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

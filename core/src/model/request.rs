//! Issue requests and responses, in the JSON shape of Infisical's certificate API.

use serde::{Deserialize, Serialize};

use super::{
    ExtendedKeyUsage, KeyAlgorithm, KeyUsage, SignatureAlgorithm, Subject, SubjectAltName, Ttl,
};

/// The attributes a caller asks for. Everything is optional: the profile's defaults and the
/// template fill the rest, and a CSR supplies the subject and SANs when present.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
// No `deny_unknown_fields` here: serde does not support it together with `flatten`.
#[serde(rename_all = "camelCase")]
pub struct CertificateAttributes {
    /// Subject attributes (`commonName`, `organization`, ...), flattened into this object.
    #[serde(flatten)]
    pub subject: Subject,
    /// Lifetime: `"90d"`, `"1y"`, `"12h"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<Ttl>,
    /// Signature algorithm the issuer should use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature_algorithm: Option<SignatureAlgorithm>,
    /// Key algorithm for a key the library generates (ignored with a CSR).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_algorithm: Option<KeyAlgorithm>,
    /// Key usages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_usages: Option<Vec<KeyUsage>>,
    /// Extended key usages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extended_key_usages: Option<Vec<ExtendedKeyUsage>>,
    /// Subject alternative names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alt_names: Option<Vec<SubjectAltName>>,
}

/// A request to issue one certificate (`POST /certificates` in Infisical's API).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IssueRequest {
    /// Profile id or slug; the default profile when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_id: Option<String>,
    /// PEM CSR. Without one the library generates the key and returns it once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csr: Option<String>,
    /// What to put in the certificate.
    #[serde(default)]
    pub attributes: CertificateAttributes,
    /// Keep the generated private key (encrypted) in the inventory, to deploy it later.
    #[serde(default)]
    pub manage_key: bool,
    /// Values of the profile's dynamic connector parameters (script issuers), by name.
    #[serde(default, skip_serializing_if = "ConnectorParams::is_empty")]
    pub connector_params: ConnectorParams,
}

/// Per-request values for a connector's dynamic parameters: `{"ticket": "CHG-42"}`.
///
/// A value may be sensitive (the profile decides), so `Debug` shows the names only; the
/// inventory stores requests with sensitive values masked.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ConnectorParams(pub std::collections::BTreeMap<String, String>);

impl ConnectorParams {
    /// No values.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Set `name` to `value`.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.0.insert(name.into(), value.into());
    }

    /// The values by name.
    pub fn as_map(&self) -> &std::collections::BTreeMap<String, String> {
        &self.0
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for ConnectorParams {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Self(iter.into_iter().map(|(k, v)| (k.into(), v.into())).collect())
    }
}

impl std::fmt::Debug for ConnectorParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

/// The response to an issue or renew request. `privateKey` is present only when the library
/// generated the key, and only in this one response.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IssuedCertificate {
    /// The leaf, PEM.
    pub certificate: String,
    /// The issuing CA up to and including the root, PEM.
    pub certificate_chain: String,
    /// The issuing CA's certificate, PEM.
    pub issuing_ca_certificate: String,
    /// PKCS#8 PEM private key, when the library generated it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key: Option<crate::crypto::SecretString>,
    /// Serial number, lower-case hex.
    pub serial_number: String,
    /// The inventory id.
    pub certificate_id: String,
    /// The certificate request id.
    pub certificate_request_id: String,
}

impl std::fmt::Debug for IssuedCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedCertificate")
            .field("certificate_id", &self.certificate_id)
            .field("serial_number", &self.serial_number)
            .field("private_key", &self.private_key.as_ref().map(|_| "[redacted]"))
            .finish_non_exhaustive()
    }
}

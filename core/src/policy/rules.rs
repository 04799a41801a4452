//! The rules a [`CertificateTemplate`](super::CertificateTemplate) is made of: subject
//! attributes, SAN types, usages, algorithms and validity. Plain serde data; the template
//! evaluates them.

use serde::{Deserialize, Serialize};

use crate::model::{KeyAlgorithm, SanType, SignatureAlgorithm, Subject, Ttl};

/// A subject attribute a rule can name; snake_case on the wire (`common_name`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectAttribute {
    /// CN.
    CommonName,
    /// O.
    Organization,
    /// OU.
    OrganizationalUnit,
    /// C.
    Country,
    /// ST.
    State,
    /// L.
    Locality,
    /// emailAddress.
    Email,
}

/// A rule for one subject attribute.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubjectRule {
    /// The attribute.
    #[serde(rename = "type")]
    pub attribute: SubjectAttribute,
    /// Patterns a present value must match; empty forbids the attribute.
    #[serde(default)]
    pub allowed: Vec<String>,
    /// Whether the attribute must be present.
    #[serde(default)]
    pub required: bool,
    /// Patterns a value must not match; beats `allowed`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub denied: Vec<String>,
}

/// A rule for one SAN type.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SanRule {
    /// The SAN type (`DNS`, `IP`, `EMAIL`, `URI`).
    #[serde(rename = "type")]
    pub kind: SanType,
    /// Patterns every SAN of this type must match; empty forbids the type.
    #[serde(default)]
    pub allowed: Vec<String>,
    /// Patterns each of which at least one SAN of this type must match.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required: Vec<String>,
    /// Patterns no SAN may match; beats `allowed`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub denied: Vec<String>,
}

/// Required and allowed members of a usage extension.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageRule<T> {
    /// Usages every request must carry.
    #[serde(default = "Vec::new")]
    pub required: Vec<T>,
    /// Further usages a request may carry.
    #[serde(default = "Vec::new")]
    pub allowed: Vec<T>,
}

/// Allowed algorithms.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlgorithmRule {
    /// Signature algorithms the issuer may use; empty means any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signature: Vec<SignatureAlgorithm>,
    /// Subject key algorithms; empty means any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub key_algorithm: Vec<KeyAlgorithm>,
    /// Smallest RSA modulus, in bits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_rsa_bits: Option<u32>,
}

/// Lifetime limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidityRule {
    /// The longest lifetime a request may ask for (`"90d"`).
    pub max: Ttl,
}

impl SubjectAttribute {
    /// Every attribute, in encoding order of [`Subject::attributes`].
    pub const ALL: [SubjectAttribute; 7] = [
        Self::Country,
        Self::State,
        Self::Locality,
        Self::Organization,
        Self::OrganizationalUnit,
        Self::CommonName,
        Self::Email,
    ];

    /// The request field name (`commonName`, `organizationalUnit`, ...).
    pub fn field(self) -> &'static str {
        match self {
            Self::CommonName => "commonName",
            Self::Organization => "organization",
            Self::OrganizationalUnit => "organizationalUnit",
            Self::Country => "country",
            Self::State => "state",
            Self::Locality => "locality",
            Self::Email => "email",
        }
    }

    /// This attribute's value in `subject`, if set.
    pub fn value(self, subject: &Subject) -> Option<&str> {
        match self {
            Self::CommonName => subject.common_name.as_deref(),
            Self::Organization => subject.organization.as_deref(),
            Self::OrganizationalUnit => subject.organizational_unit.as_deref(),
            Self::Country => subject.country.as_deref(),
            Self::State => subject.state.as_deref(),
            Self::Locality => subject.locality.as_deref(),
            Self::Email => subject.email.as_deref(),
        }
    }
}

//! Key and signature algorithm names, spelled as Infisical's certificate API spells them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// The type and size of a key pair.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum KeyAlgorithm {
    /// RSA, 2048-bit modulus.
    #[serde(rename = "RSA_2048")]
    Rsa2048,
    /// RSA, 3072-bit modulus.
    #[serde(rename = "RSA_3072")]
    Rsa3072,
    /// RSA, 4096-bit modulus.
    #[serde(rename = "RSA_4096")]
    Rsa4096,
    /// ECDSA on NIST P-256 (secp256r1); the default.
    #[default]
    #[serde(rename = "EC_prime256v1")]
    EcP256,
    /// ECDSA on NIST P-384 (secp384r1).
    #[serde(rename = "EC_secp384r1")]
    EcP384,
    /// Ed25519 (RFC 8410).
    #[serde(rename = "ED25519")]
    Ed25519,
}

impl KeyAlgorithm {
    /// Every supported algorithm, strongest RSA last.
    pub const ALL: [KeyAlgorithm; 6] =
        [Self::EcP256, Self::EcP384, Self::Ed25519, Self::Rsa2048, Self::Rsa3072, Self::Rsa4096];

    /// The wire name (`"RSA_2048"`, `"EC_prime256v1"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rsa2048 => "RSA_2048",
            Self::Rsa3072 => "RSA_3072",
            Self::Rsa4096 => "RSA_4096",
            Self::EcP256 => "EC_prime256v1",
            Self::EcP384 => "EC_secp384r1",
            Self::Ed25519 => "ED25519",
        }
    }

    /// The key family.
    pub fn family(self) -> KeyFamily {
        match self {
            Self::Rsa2048 | Self::Rsa3072 | Self::Rsa4096 => KeyFamily::Rsa,
            Self::EcP256 | Self::EcP384 => KeyFamily::Ec,
            Self::Ed25519 => KeyFamily::Ed25519,
        }
    }

    /// Key size in bits (modulus for RSA, field size for EC, 256 for Ed25519).
    pub fn bits(self) -> u32 {
        match self {
            Self::Rsa2048 => 2048,
            Self::Rsa3072 => 3072,
            Self::Rsa4096 => 4096,
            Self::EcP256 | Self::Ed25519 => 256,
            Self::EcP384 => 384,
        }
    }

    /// The signature algorithm used with this key when none is asked for.
    pub fn default_signature(self) -> SignatureAlgorithm {
        match self {
            Self::Rsa2048 | Self::Rsa3072 => SignatureAlgorithm::RsaSha256,
            Self::Rsa4096 => SignatureAlgorithm::RsaSha384,
            Self::EcP256 => SignatureAlgorithm::EcdsaSha256,
            Self::EcP384 => SignatureAlgorithm::EcdsaSha384,
            Self::Ed25519 => SignatureAlgorithm::Ed25519,
        }
    }

    /// Whether `sig` can be produced with a key of this algorithm.
    pub fn supports(self, sig: SignatureAlgorithm) -> bool {
        match (self.family(), sig) {
            (KeyFamily::Rsa, s) => s.family() == KeyFamily::Rsa,
            // ring pairs each curve with its own hash.
            (KeyFamily::Ec, SignatureAlgorithm::EcdsaSha256) => self == Self::EcP256,
            (KeyFamily::Ec, SignatureAlgorithm::EcdsaSha384) => self == Self::EcP384,
            (KeyFamily::Ed25519, SignatureAlgorithm::Ed25519) => true,
            _ => false,
        }
    }
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for KeyAlgorithm {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let normalized = s.trim().to_ascii_uppercase().replace('-', "_");
        Ok(match normalized.as_str() {
            "RSA_2048" | "RSA2048" => Self::Rsa2048,
            "RSA_3072" | "RSA3072" => Self::Rsa3072,
            "RSA_4096" | "RSA4096" => Self::Rsa4096,
            "EC_PRIME256V1" | "EC_P256" | "P256" | "P_256" | "EC_SECP256R1" => Self::EcP256,
            "EC_SECP384R1" | "EC_P384" | "P384" | "P_384" => Self::EcP384,
            "ED25519" => Self::Ed25519,
            _ => {
                return Err(Error::invalid(
                    "keyAlgorithm",
                    format!(
                        "unknown key algorithm {s:?}; use one of RSA_2048, RSA_3072, RSA_4096, \
                         EC_prime256v1, EC_secp384r1, ED25519"
                    ),
                ));
            }
        })
    }
}

/// Families of keys, for template rules like "RSA at least 3072 bits".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum KeyFamily {
    /// RSA.
    Rsa,
    /// Elliptic-curve ECDSA.
    Ec,
    /// Ed25519.
    Ed25519,
}

/// A signature algorithm (hash + key family).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SignatureAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    #[serde(rename = "RSA-SHA256")]
    RsaSha256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    #[serde(rename = "RSA-SHA384")]
    RsaSha384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    #[serde(rename = "RSA-SHA512")]
    RsaSha512,
    /// ECDSA with SHA-256 (P-256).
    #[serde(rename = "ECDSA-SHA256")]
    EcdsaSha256,
    /// ECDSA with SHA-384 (P-384).
    #[serde(rename = "ECDSA-SHA384")]
    EcdsaSha384,
    /// Ed25519 (pure).
    #[serde(rename = "ED25519")]
    Ed25519,
}

impl SignatureAlgorithm {
    /// The wire name (`"RSA-SHA256"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RsaSha256 => "RSA-SHA256",
            Self::RsaSha384 => "RSA-SHA384",
            Self::RsaSha512 => "RSA-SHA512",
            Self::EcdsaSha256 => "ECDSA-SHA256",
            Self::EcdsaSha384 => "ECDSA-SHA384",
            Self::Ed25519 => "ED25519",
        }
    }

    /// The key family that makes this signature.
    pub fn family(self) -> KeyFamily {
        match self {
            Self::RsaSha256 | Self::RsaSha384 | Self::RsaSha512 => KeyFamily::Rsa,
            Self::EcdsaSha256 | Self::EcdsaSha384 => KeyFamily::Ec,
            Self::Ed25519 => KeyFamily::Ed25519,
        }
    }
}

impl fmt::Display for SignatureAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SignatureAlgorithm {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let normalized = s.trim().to_ascii_uppercase().replace('_', "-");
        Ok(match normalized.as_str() {
            "RSA-SHA256" | "SHA256WITHRSA" => Self::RsaSha256,
            "RSA-SHA384" | "SHA384WITHRSA" => Self::RsaSha384,
            "RSA-SHA512" | "SHA512WITHRSA" => Self::RsaSha512,
            "ECDSA-SHA256" | "SHA256WITHECDSA" => Self::EcdsaSha256,
            "ECDSA-SHA384" | "SHA384WITHECDSA" => Self::EcdsaSha384,
            "ED25519" => Self::Ed25519,
            _ => {
                return Err(Error::invalid(
                    "signatureAlgorithm",
                    format!(
                        "unknown signature algorithm {s:?}; use one of RSA-SHA256, RSA-SHA384, \
                         RSA-SHA512, ECDSA-SHA256, ECDSA-SHA384, ED25519"
                    ),
                ));
            }
        })
    }
}

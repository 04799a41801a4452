//! Key usages (RFC 5280 §4.2.1.3) and extended key usages (§4.2.1.12).

use serde::{Deserialize, Serialize};

/// A bit of the keyUsage extension; snake_case on the wire, as Infisical spells them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyUsage {
    /// digitalSignature (bit 0).
    DigitalSignature,
    /// nonRepudiation / contentCommitment (bit 1).
    NonRepudiation,
    /// keyEncipherment (bit 2); never with EC keys.
    KeyEncipherment,
    /// dataEncipherment (bit 3).
    DataEncipherment,
    /// keyAgreement (bit 4).
    KeyAgreement,
    /// keyCertSign (bit 5); CAs only.
    KeyCertSign,
    /// cRLSign (bit 6); CAs only.
    CrlSign,
    /// encipherOnly (bit 7).
    EncipherOnly,
    /// decipherOnly (bit 8).
    DecipherOnly,
}

impl KeyUsage {
    /// Every usage, in bit order.
    pub const ALL: [KeyUsage; 9] = [
        Self::DigitalSignature,
        Self::NonRepudiation,
        Self::KeyEncipherment,
        Self::DataEncipherment,
        Self::KeyAgreement,
        Self::KeyCertSign,
        Self::CrlSign,
        Self::EncipherOnly,
        Self::DecipherOnly,
    ];

    /// The bit number in the keyUsage BIT STRING.
    pub fn bit(self) -> u8 {
        self as u8
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DigitalSignature => "digital_signature",
            Self::NonRepudiation => "non_repudiation",
            Self::KeyEncipherment => "key_encipherment",
            Self::DataEncipherment => "data_encipherment",
            Self::KeyAgreement => "key_agreement",
            Self::KeyCertSign => "key_cert_sign",
            Self::CrlSign => "crl_sign",
            Self::EncipherOnly => "encipher_only",
            Self::DecipherOnly => "decipher_only",
        }
    }
}

/// An extended key usage purpose.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExtendedKeyUsage {
    /// id-kp-serverAuth, 1.3.6.1.5.5.7.3.1.
    ServerAuth,
    /// id-kp-clientAuth, 1.3.6.1.5.5.7.3.2.
    ClientAuth,
    /// id-kp-codeSigning, 1.3.6.1.5.5.7.3.3.
    CodeSigning,
    /// id-kp-emailProtection, 1.3.6.1.5.5.7.3.4.
    EmailProtection,
    /// id-kp-timeStamping, 1.3.6.1.5.5.7.3.8.
    TimeStamping,
    /// id-kp-OCSPSigning, 1.3.6.1.5.5.7.3.9.
    OcspSigning,
    /// Any other purpose, by dotted OID.
    Other(String),
}

impl ExtendedKeyUsage {
    /// The dotted OID.
    pub fn oid(&self) -> &str {
        match self {
            Self::ServerAuth => "1.3.6.1.5.5.7.3.1",
            Self::ClientAuth => "1.3.6.1.5.5.7.3.2",
            Self::CodeSigning => "1.3.6.1.5.5.7.3.3",
            Self::EmailProtection => "1.3.6.1.5.5.7.3.4",
            Self::TimeStamping => "1.3.6.1.5.5.7.3.8",
            Self::OcspSigning => "1.3.6.1.5.5.7.3.9",
            Self::Other(oid) => oid,
        }
    }

    /// The purpose for a dotted OID; unknown OIDs become [`ExtendedKeyUsage::Other`].
    pub fn from_oid(oid: &str) -> Self {
        match oid {
            "1.3.6.1.5.5.7.3.1" => Self::ServerAuth,
            "1.3.6.1.5.5.7.3.2" => Self::ClientAuth,
            "1.3.6.1.5.5.7.3.3" => Self::CodeSigning,
            "1.3.6.1.5.5.7.3.4" => Self::EmailProtection,
            "1.3.6.1.5.5.7.3.8" => Self::TimeStamping,
            "1.3.6.1.5.5.7.3.9" => Self::OcspSigning,
            other => Self::Other(other.to_owned()),
        }
    }

    /// The wire name (snake_case, or the dotted OID for others).
    pub fn as_str(&self) -> &str {
        match self {
            Self::ServerAuth => "server_auth",
            Self::ClientAuth => "client_auth",
            Self::CodeSigning => "code_signing",
            Self::EmailProtection => "email_protection",
            Self::TimeStamping => "time_stamping",
            Self::OcspSigning => "ocsp_signing",
            Self::Other(oid) => oid,
        }
    }
}

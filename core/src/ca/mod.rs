//! CA connectors: whatever turns an approved order into a signed certificate.
//!
//! Every issuer sits behind [`CaConnector`] (like CertMagic's `Issuer`); revocation is the
//! separate [`Revoker`] trait because not every CA offers it. The engine in `lifecycle/` has
//! already applied policy and checked the CSR's proof of possession when a connector sees an
//! order.

pub mod acme;
mod internal;
mod lint;
mod params;
mod script;
mod self_signed;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use time::OffsetDateTime;

pub use internal::{CaSpec, Crl, CrlEntry, InternalCa, NameConstraintsSpec};
pub use script::{ContractCall, ScriptConnector, ScriptContract, ScriptSpec, check_script_file};
pub use self_signed::SelfSignedIssuer;

use crate::crypto::{PrivateKey, PublicKey};
use crate::csr::Csr;
use crate::error::Result;
use crate::model::{
    CertificateRecord, ConnectorParams, ExtendedKeyUsage, KeyUsage, RevocationReason,
    SignatureAlgorithm, Subject, SubjectAltName,
};
use crate::policy::LintProfile;

/// An approved request: what the certificate must say, and the key it certifies.
#[derive(Clone, Debug)]
pub struct CertificateOrder {
    /// Subject name.
    pub subject: Subject,
    /// Subject alternative names (never empty for TLS profiles; the engine copies the CN in).
    pub alt_names: Vec<SubjectAltName>,
    /// The subject public key.
    pub public_key: PublicKey,
    /// The CSR, when the caller sent one or the connector needs one (external CAs).
    pub csr: Option<Csr>,
    /// Key usages.
    pub key_usages: Vec<KeyUsage>,
    /// Extended key usages.
    pub extended_key_usages: Vec<ExtendedKeyUsage>,
    /// Start of validity.
    pub not_before: OffsetDateTime,
    /// Requested end of validity; the issuer may shorten it to its own notAfter.
    pub not_after: OffsetDateTime,
    /// Signature algorithm the issuer should use, when the request named one.
    pub signature_algorithm: Option<SignatureAlgorithm>,
    /// Which lint rules the issued certificate must pass before it is released.
    pub lint: LintProfile,
    /// Policy OIDs to assert (CA/B Forum profiles need one).
    pub policy_oids: Vec<String>,
    /// The subject's private key, present only when the library generated it. Only a
    /// self-signing issuer uses it; connectors that forward orders never send it anywhere.
    pub subject_key: Option<Arc<PrivateKey>>,
    /// The request's values for the connector's dynamic parameters (script issuers).
    pub connector_params: ConnectorParams,
}

/// A certificate a CA issued.
#[derive(Clone, Debug)]
pub struct Issued {
    /// The leaf, DER.
    pub certificate_der: Vec<u8>,
    /// The issuing CA first, then its issuers up to and including the root, DER.
    pub chain_der: Vec<Vec<u8>>,
}

/// What a connector can do; the engine adapts to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capabilities {
    /// The CA needs a PKCS#10 CSR (external CAs), not just a public key.
    pub requires_csr: bool,
    /// The connector also implements [`Revoker`].
    pub can_revoke: bool,
    /// The connector can suspend (certificateHold) and lift suspensions.
    pub can_suspend: bool,
}

/// Issues certificates from approved orders.
#[async_trait]
pub trait CaConnector: Send + Sync + fmt::Debug {
    /// A stable name that namespaces what this connector issues (`internal:<ca id>`,
    /// `self-signed`, `acme:<directory>`).
    fn issuer_key(&self) -> &str;

    /// What the connector can do.
    fn capabilities(&self) -> Capabilities;

    /// Issue a certificate for `order`.
    async fn issue(&self, order: &CertificateOrder) -> Result<Issued>;

    /// Issue a replacement for `previous`. The default issues a fresh certificate for `order`.
    async fn renew(
        &self,
        previous: &CertificateRecord,
        order: &CertificateOrder,
    ) -> Result<Issued> {
        let _ = previous;
        self.issue(order).await
    }
}

/// Revokes, suspends and reinstates certificates a connector issued.
#[async_trait]
pub trait Revoker: Send + Sync + fmt::Debug {
    /// Revoke `record` for `reason`, effective `at`.
    async fn revoke(
        &self,
        record: &CertificateRecord,
        reason: RevocationReason,
        at: OffsetDateTime,
    ) -> Result<()>;

    /// Put `record` on hold (`certificateHold`).
    async fn suspend(&self, record: &CertificateRecord, at: OffsetDateTime) -> Result<()> {
        self.revoke(record, RevocationReason::CertificateHold, at).await
    }

    /// Lift a hold placed by [`Revoker::suspend`].
    async fn unsuspend(&self, record: &CertificateRecord) -> Result<()>;
}

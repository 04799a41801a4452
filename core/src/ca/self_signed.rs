//! The self-signed issuer: each certificate is signed by its own key.
//!
//! Useful for development, tests and internal endpoints that pin a certificate rather than
//! trust a CA. It needs the subject's private key, so it only works when the library generated
//! the key (a CSR alone cannot be self-signed by anyone else).

use async_trait::async_trait;

use super::params::LeafParams;
use super::{CaConnector, Capabilities, CertificateOrder, Issued, lint};
use crate::error::{Error, Result};

/// Issues certificates signed by their own subject key.
#[derive(Debug, Default, Clone, Copy)]
pub struct SelfSignedIssuer;

#[async_trait]
impl CaConnector for SelfSignedIssuer {
    fn issuer_key(&self) -> &str {
        "self-signed"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities { requires_csr: false, can_revoke: false, can_suspend: false }
    }

    async fn issue(&self, order: &CertificateOrder) -> Result<Issued> {
        let key = order.subject_key.as_deref().ok_or_else(|| {
            Error::invalid(
                "csr",
                "a self-signed certificate is signed by its own private key: omit the CSR and \
                 let certloop generate the key",
            )
        })?;
        let key = match order.signature_algorithm {
            Some(sig) if sig != key.signature_algorithm() => &key.with_signature(sig)?,
            _ => key,
        };
        let params = LeafParams {
            subject: &order.subject,
            alt_names: &order.alt_names,
            key_usages: &order.key_usages,
            extended_key_usages: &order.extended_key_usages,
            not_before: order.not_before,
            not_after: order.not_after,
        }
        .to_rcgen()?;
        let certificate = params.self_signed(key).map_err(Error::crypto)?;
        let certificate_der = certificate.der().to_vec();
        lint::check(&certificate_der, order.lint, order.not_before)?;
        Ok(Issued { certificate_der, chain_der: Vec::new() })
    }
}

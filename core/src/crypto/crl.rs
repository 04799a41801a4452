//! CRL inspection (RFC 5280 §5): issuer, update times, number, revoked serials.

use der::Decode;
use der::oid::AssociatedOid;
use serde::Serialize;
use time::OffsetDateTime;
use x509_cert::certificate::Rfc5280;
use x509_cert::crl::CertificateList;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::{CrlNumber, CrlReason};

use super::pem::der_from_pem_or_der;
use super::x509;
use crate::error::{Error, Result};
use crate::model::RevocationReason;

const FIELD: &str = "crl";

/// What a CRL says. Serializes as camelCase JSON.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CrlInfo {
    /// The issuer DN on one line.
    pub issuer_dn: String,
    /// thisUpdate.
    #[serde(with = "time::serde::rfc3339")]
    pub this_update: OffsetDateTime,
    /// nextUpdate, when present.
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_update: Option<OffsetDateTime>,
    /// cRLNumber as lower-case hex, when present.
    pub crl_number: Option<String>,
    /// The revoked certificates, in CRL order.
    pub revoked: Vec<RevokedEntry>,
    /// The CRL's DER.
    #[serde(skip)]
    pub der: Vec<u8>,
}

/// One revoked certificate of a CRL.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RevokedEntry {
    /// The serial number as minimal lower-case hex.
    pub serial_number: String,
    /// revocationDate.
    #[serde(with = "time::serde::rfc3339")]
    pub revoked_at: OffsetDateTime,
    /// The reasonCode entry extension, when present and one certloop names.
    pub reason: Option<RevocationReason>,
}

/// Inspect a CRL: DER or PEM `X509 CRL`.
pub fn inspect_crl(input: &[u8]) -> Result<CrlInfo> {
    let der = der_from_pem_or_der(input, &["X509 CRL"], FIELD)?;
    let crl = CertificateList::<Rfc5280>::from_der(&der)
        .map_err(|e| Error::invalid(FIELD, format!("not a DER X.509 CRL: {e}")))?;
    let tbs = &crl.tbs_cert_list;
    let crl_number = extension::<CrlNumber>(tbs.crl_extensions.as_deref())?
        .map(|n| x509::serial_hex(n.0.as_bytes()));
    let mut revoked = Vec::new();
    for entry in tbs.revoked_certificates.as_deref().unwrap_or(&[]) {
        let reason = extension::<CrlReason>(entry.crl_entry_extensions.as_deref())?
            .and_then(revocation_reason);
        revoked.push(RevokedEntry {
            serial_number: x509::serial_hex(entry.serial_number.as_bytes()),
            revoked_at: x509::offset_date_time(entry.revocation_date, FIELD)?,
            reason,
        });
    }
    Ok(CrlInfo {
        issuer_dn: x509::dn_string(&tbs.issuer),
        this_update: x509::offset_date_time(tbs.this_update, FIELD)?,
        next_update: tbs.next_update.map(|t| x509::offset_date_time(t, FIELD)).transpose()?,
        crl_number,
        revoked,
        der,
    })
}

/// The extension `T` among `extensions`, decoded.
fn extension<T: for<'a> Decode<'a, Error = der::Error> + AssociatedOid>(
    extensions: Option<&[Extension]>,
) -> Result<Option<T>> {
    extensions
        .unwrap_or(&[])
        .iter()
        .find(|e| e.extn_id == T::OID)
        .map(|e| {
            T::from_der(e.extn_value.as_bytes())
                .map_err(|err| Error::invalid(FIELD, format!("extension {}: {err}", T::OID)))
        })
        .transpose()
}

/// The certloop name of a CRL reason code; removeFromCRL and aACompromise have none.
fn revocation_reason(reason: CrlReason) -> Option<RevocationReason> {
    Some(match reason {
        CrlReason::Unspecified => RevocationReason::Unspecified,
        CrlReason::KeyCompromise => RevocationReason::KeyCompromise,
        CrlReason::CaCompromise => RevocationReason::CaCompromise,
        CrlReason::AffiliationChanged => RevocationReason::AffiliationChanged,
        CrlReason::Superseded => RevocationReason::Superseded,
        CrlReason::CessationOfOperation => RevocationReason::CessationOfOperation,
        CrlReason::CertificateHold => RevocationReason::CertificateHold,
        CrlReason::PrivilegeWithdrawn => RevocationReason::PrivilegeWithdrawn,
        CrlReason::RemoveFromCRL | CrlReason::AaCompromise => return None,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_invalid_crl() {
        let err = inspect_crl(b"\x30\x01").unwrap_err();
        assert!(matches!(err, Error::InvalidInput { ref field, .. } if field == "crl"));
    }
}

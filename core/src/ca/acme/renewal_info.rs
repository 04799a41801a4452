//! Renewal information (RFC 9773 ARI): the CA's suggested renewal window, as a renewal check,
//! and the certificate identifier the CA knows a certificate by.

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use instant_acme::CertificateIdentifier;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::crypto;
use crate::error::{Error, Result};
use crate::model::CertificateRecord;
use crate::policy::RenewalCheck;

/// The CA's suggested renewal window (RFC 9773 §4.2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RenewalWindow {
    /// Renew no earlier than this.
    #[serde(with = "time::serde::rfc3339")]
    pub start: OffsetDateTime,
    /// Renew no later than this.
    #[serde(with = "time::serde::rfc3339")]
    pub end: OffsetDateTime,
    /// Why the CA suggests it (incident page), when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explanation_url: Option<String>,
    /// The ARI certificate identifier (`base64url(AKI).base64url(serial)`).
    pub certificate_id: String,
}

impl RenewalWindow {
    /// The instant to renew at: a point inside the window (RFC 9773 §4.2 asks for a uniformly
    /// random one), derived from the certificate identifier so that every sweep picks the same
    /// point and a fleet of certificates spreads over the window.
    pub fn renew_at(&self) -> OffsetDateTime {
        let span = (self.end - self.start).max(time::Duration::ZERO);
        let digest = ring::digest::digest(&ring::digest::SHA256, self.certificate_id.as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest.as_ref()[..8]);
        let fraction = u64::from_be_bytes(first) as f64 / u64::MAX as f64;
        self.start + span * fraction
    }

    /// Why renewal is due at `now`, once [`RenewalWindow::renew_at`] has passed.
    pub fn due_message(&self, now: OffsetDateTime) -> Option<String> {
        let at = self.renew_at();
        (now >= at).then(|| {
            format!(
                "the CA suggests renewing between {} and {} (picked {at}){}",
                self.start,
                self.end,
                self.explanation_url.as_deref().map(|u| format!("; see {u}")).unwrap_or_default()
            )
        })
    }
}

/// The CA's suggested window as a named renewal check (`acmeRenewalInfo`).
impl RenewalCheck for RenewalWindow {
    fn name(&self) -> &'static str {
        "acmeRenewalInfo"
    }

    fn due_at(&self, _record: &CertificateRecord) -> Option<OffsetDateTime> {
        Some(self.renew_at())
    }

    fn evaluate(&self, _record: &CertificateRecord, now: OffsetDateTime) -> Option<String> {
        self.due_message(now)
    }
}

/// The RFC 9773 §4.1 certificate identifier: base64url(AKI keyIdentifier) "." base64url(serial
/// DER content). `None` when the certificate has no AKI keyIdentifier.
pub fn ari_certificate_id(certificate_pem: &str) -> Result<Option<CertificateIdentifier<'static>>> {
    let info = crypto::inspect_certificate(certificate_pem.as_bytes())?;
    let Some(aki_hex) = info.authority_key_id.as_deref() else { return Ok(None) };
    let aki = hex_decode(aki_hex, "authorityKeyIdentifier")?;
    let serial = hex_decode(&info.serial_number, "serialNumber")?;
    Ok(Some(ari_identifier(&aki, serial)))
}

/// The identifier from the AKI keyIdentifier and the serial number's bytes.
fn ari_identifier(aki: &[u8], mut serial: Vec<u8>) -> CertificateIdentifier<'static> {
    if serial.first().is_some_and(|b| b & 0x80 != 0) {
        serial.insert(0, 0); // DER INTEGER content keeps a positive number positive
    }
    CertificateIdentifier {
        authority_key_identifier: Cow::Owned(URL_SAFE_NO_PAD.encode(aki)),
        serial: Cow::Owned(URL_SAFE_NO_PAD.encode(serial)),
    }
}

fn hex_decode(hex: &str, field: &str) -> Result<Vec<u8>> {
    crypto::x509::hex_decode(hex)
        .ok_or_else(|| Error::invalid(field, format!("{hex:?} is not hex")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ari_identifier_matches_rfc_9773_example() {
        // RFC 9773 §4.1: AKI 69:88:5B:6B:87:46:40:41:E1:B3:7B:84:7B:A0:AE:2C:DE:01:C8:D4,
        // serial 00:87:65:43:21 -> "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE".
        let aki = hex_decode("69:88:5B:6B:87:46:40:41:E1:B3:7B:84:7B:A0:AE:2C:DE:01:C8:D4", "aki")
            .unwrap();
        let serial = hex_decode("87654321", "serial").unwrap();
        assert_eq!(ari_identifier(&aki, serial).to_string(), "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
    }

    #[test]
    fn renewal_window_picks_a_stable_point_inside_it() {
        let start = time::macros::datetime!(2026-01-01 0:00 UTC);
        let window = |id: &str| RenewalWindow {
            start,
            end: start + time::Duration::days(2),
            explanation_url: None,
            certificate_id: id.to_owned(),
        };
        let (a, b) = (window("aYhb.AIdlQyE"), window("other.AQ"));
        for w in [&a, &b] {
            assert!(w.renew_at() >= w.start && w.renew_at() <= w.end);
            assert_eq!(w.renew_at(), w.renew_at());
        }
        assert_ne!(a.renew_at(), b.renew_at(), "certificates spread over the window");
        let at = a.renew_at();
        assert!(a.due_message(at - time::Duration::SECOND).is_none());
        let why = a.due_message(at).unwrap();
        assert!(why.contains("the CA suggests"), "{why}");
    }
}

//! What an account obtained: the certificate chain, its revocation (by the account or by the
//! certificate's key) and its renewal window (ARI, RFC 9773).

use super::*;

#[derive(Deserialize)]
struct Revoke {
    certificate: String,
    #[serde(default)]
    reason: Option<u8>,
}

impl Certloop {
    /// The PEM chain (leaf first) of a certificate `account` obtained.
    pub async fn acme_server_certificate(
        &self,
        account: &ServerAccount,
        certificate_id: &str,
    ) -> Result<String, Problem> {
        let issued: IssuedTo = match self.get_typed(ISSUED, certificate_id).await {
            Ok(issued) => issued,
            Err(Error::NotFound { .. }) => {
                return Err(Problem::malformed(format!("no certificate {certificate_id}")));
            }
            Err(e) => return Err(e.into()),
        };
        if issued.account_id != account.id {
            return Err(Problem::unauthorized("this certificate is another account's"));
        }
        let record = self.show(&issued.certificate_id).await?;
        Ok(chain_pem(&record)?)
    }

    /// revokeCert (RFC 8555 §7.6), signed by the account that obtained the certificate or by
    /// the certificate's own key.
    pub async fn acme_server_revoke(
        &self,
        urls: &AcmeUrls,
        profile: &CertificateProfile,
        request: &SignedRequest,
    ) -> Result<(), Problem> {
        let body: Revoke = request.payload_json()?;
        let der = crate::acme_server::jws::b64(&body.certificate, "certificate")?;
        let info = crate::crypto::CertificateInfo::from_der(&der)
            .map_err(|e| Problem::malformed(format!("certificate: {e}")))?;
        let fingerprint = crate::crypto::fingerprint_sha256(&der);
        let query =
            CertificateQuery { fingerprint_sha256: Some(fingerprint), ..Default::default() };
        let not_ours =
            || Problem::malformed("this server did not issue that certificate over ACME");
        let record = self.list(&query).await?.into_iter().next().ok_or_else(not_ours)?;
        let issued: IssuedTo = match self.get_typed(ISSUED, &record.certificate_id).await {
            Ok(issued) => issued,
            Err(Error::NotFound { .. }) => return Err(not_ours()),
            Err(e) => return Err(e.into()),
        };
        let actor = match &request.signer {
            Signer::Account(kid) => {
                let account = self.account_by_kid(urls, profile, kid).await?;
                request.verify(&account.key)?;
                if account.id != issued.account_id {
                    return Err(Problem::unauthorized("the certificate is another account's"));
                }
                format!("acme:{}", account.id)
            }
            Signer::Key(jwk) => {
                request.verify(jwk)?;
                let key = info.public_key().map_err(Problem::from)?;
                if !jwk.is_key_of(&key) {
                    return Err(Problem::unauthorized("the jwk is not the certificate's key"));
                }
                "acme:certificate-key".to_owned()
            }
        };
        let reason = revocation_reason(body.reason)?;
        if record.state == CertificateState::Revoked {
            return Err(Problem::new(ProblemType::AlreadyRevoked, "already revoked"));
        }
        self.clone().with_actor(actor).revoke(&record.certificate_id, reason).await?;
        Ok(())
    }

    /// renewalInfo (RFC 9773): when to renew the certificate with ARI id
    /// `base64url(AKI keyIdentifier).base64url(serial)`. A revoked certificate's window is
    /// already open.
    pub async fn acme_server_renewal_info(&self, ari_id: &str) -> Result<RenewalWindow, Problem> {
        let issued = self.issued_by_ari_id(ari_id).await?;
        let record = self.show(&issued.certificate_id).await?;
        let now = self.now();
        if record.state == CertificateState::Revoked {
            return Ok(RenewalWindow { start: now - time::Duration::hours(1), end: now });
        }
        let lifetime: time::Duration = record.not_after - record.not_before;
        let profile_end = match &record.profile_id {
            Some(profile) => self
                .get_profile(profile)
                .await
                .ok()
                .and_then(|p| p.renew_before_days())
                .map(|days| record.not_after - time::Duration::days(days.into())),
            None => None,
        };
        // Without a profile rule: the middle of the last third of the lifetime.
        let end = profile_end
            .filter(|end| *end > record.not_before)
            .unwrap_or(record.not_before + lifetime * 5 / 6);
        let span = std::cmp::max(lifetime / 12, time::Duration::hours(1));
        Ok(RenewalWindow { start: (end - span).max(record.not_before), end })
    }

    pub(super) async fn issued_by_ari_id(&self, ari_id: &str) -> Result<IssuedTo, Problem> {
        let bad = || Problem::malformed(format!("{ari_id:?} is not a renewal-info certificate id"));
        let (aki, serial) = ari_id.split_once('.').ok_or_else(bad)?;
        let aki = crate::acme_server::jws::b64(aki, "keyIdentifier")?;
        let serial = crate::acme_server::jws::b64(serial, "serial")?;
        let serial_hex = normal_serial(&crate::crypto::x509::hex(&serial));
        let issued: IssuedTo = match self.get_typed(ISSUED, &serial_hex).await {
            Ok(issued) => issued,
            Err(Error::NotFound { .. }) => {
                return Err(Problem::malformed(format!(
                    "no ACME certificate has serial {serial_hex}"
                )));
            }
            Err(e) => return Err(e.into()),
        };
        let record = self.show(&issued.certificate_id).await?;
        let info = crate::crypto::inspect_certificate(record.certificate.as_bytes())?;
        let aki_hex = crate::crypto::x509::hex(&aki);
        if info.authority_key_id.map(|k| k.replace(':', "").to_ascii_lowercase()) != Some(aki_hex) {
            return Err(Problem::malformed("the keyIdentifier is not the certificate's issuer's"));
        }
        Ok(issued)
    }
}

/// The leaf and its intermediates as one PEM text: the root is left out (clients trust it
/// already; RFC 8555 §7.4.2 chains end below it).
fn chain_pem(record: &CertificateRecord) -> Result<String> {
    let mut pem = record.certificate.trim_end().to_owned();
    pem.push('\n');
    if !record.certificate_chain.trim().is_empty() {
        for ca in crypto::inspect_certificates(record.certificate_chain.as_bytes())? {
            if ca.subject_dn != ca.issuer_dn {
                pem.push_str(&crypto::pem_encode("CERTIFICATE", &ca.der));
            }
        }
    }
    Ok(pem)
}

/// The RFC 5280 reason code of a revocation request.
fn revocation_reason(code: Option<u8>) -> Result<RevocationReason, Problem> {
    Ok(match code.unwrap_or(0) {
        0 => RevocationReason::Unspecified,
        1 => RevocationReason::KeyCompromise,
        3 => RevocationReason::AffiliationChanged,
        4 => RevocationReason::Superseded,
        5 => RevocationReason::CessationOfOperation,
        9 => RevocationReason::PrivilegeWithdrawn,
        other => {
            return Err(Problem::new(
                ProblemType::BadRevocationReason,
                format!("reason {other} is not accepted (0, 1, 3, 4, 5 or 9)"),
            ));
        }
    })
}

//! Revocation, suspension and CRLs.

use super::*;

impl Certloop {
    // ---- revocation -------------------------------------------------------------------------

    /// Revoke certificate `id` for `reason`; the next CRL lists it. Permanent.
    pub async fn revoke(&self, id: &str, reason: RevocationReason) -> Result<CertificateRecord> {
        if reason == RevocationReason::CertificateHold {
            return self.suspend(id).await;
        }
        let record = self.show(id).await?;
        if !(record.state.is_live() || record.state == CertificateState::Suspended) {
            return Err(Error::InvalidState(format!(
                "certificate {} is {} and cannot be revoked",
                record.certificate_id, record.state
            )));
        }
        self.change_state(record, CertificateState::Revoked, Some(reason), AuditAction::Revoked)
            .await
    }

    /// Put certificate `id` on hold (`certificateHold` in the CRL) until [`Certloop::unsuspend`].
    pub async fn suspend(&self, id: &str) -> Result<CertificateRecord> {
        let record = self.show(id).await?;
        if !record.state.is_live() {
            return Err(Error::InvalidState(format!(
                "certificate {} is {} and cannot be suspended",
                record.certificate_id, record.state
            )));
        }
        self.change_state(
            record,
            CertificateState::Suspended,
            Some(RevocationReason::CertificateHold),
            AuditAction::Suspended,
        )
        .await
    }

    /// Lift the hold on certificate `id`; it drops off the next CRL.
    pub async fn unsuspend(&self, id: &str) -> Result<CertificateRecord> {
        let record = self.show(id).await?;
        if record.state != CertificateState::Suspended {
            return Err(Error::InvalidState(format!(
                "certificate {} is {}, not suspended",
                record.certificate_id, record.state
            )));
        }
        self.change_state(record, CertificateState::Issued, None, AuditAction::Unsuspended).await
    }

    pub(super) async fn change_state(
        &self,
        mut record: CertificateRecord,
        state: CertificateState,
        reason: Option<RevocationReason>,
        action: AuditAction,
    ) -> Result<CertificateRecord> {
        let now = self.now();
        if let Some(ca_id) = record.ca_id.clone() {
            let ca = self.load_ca(&ca_id).await?;
            match reason {
                Some(reason) => Revoker::revoke(ca.as_ref(), &record, reason, now).await?,
                None => Revoker::unsuspend(ca.as_ref(), &record).await?,
            }
        } else if let Some(acme) = self.acme_for_record(&record).await? {
            match reason {
                Some(reason) => Revoker::revoke(acme.as_ref(), &record, reason, now).await?,
                None => Revoker::unsuspend(acme.as_ref(), &record).await?,
            }
        } else if let Some(script) = self.script_revoker(&record).await? {
            match reason {
                Some(reason) => Revoker::revoke(script.as_ref(), &record, reason, now).await?,
                None => Revoker::unsuspend(script.as_ref(), &record).await?,
            }
        } else if reason.is_some() {
            // Self-signed certificates have no CA to publish a CRL: the inventory still tracks
            // the decision so that nothing renews or deploys them again.
        }
        let from = record.state;
        record.state = state;
        record.revocation_reason = reason;
        record.revoked_at = reason.map(|_| now);
        record.updated_at = now;
        let detail = match reason {
            Some(reason) => format!("{from} -> {state} ({reason})"),
            None => format!("{from} -> {state}"),
        };
        let event =
            self.event(action, Some(&record.certificate_id), None, AuditOutcome::Success, detail);
        self.inner.store.update_certificate(&record, &event).await?;
        Ok(record)
    }

    /// Sign a fresh CRL for `ca` (id or name; the default issuing CA when `None`).
    pub async fn crl(&self, ca: Option<&str>) -> Result<Crl> {
        let ca = self.load_ca(ca.unwrap_or(defaults::ISSUING_CA)).await?;
        let entries = self
            .inner
            .store
            .revoked_for_ca(ca.id())
            .await?
            .into_iter()
            .map(|r| CrlEntry {
                serial_number: r.serial_number,
                revoked_at: r.revoked_at,
                reason: Some(r.reason),
            })
            .collect::<Vec<_>>();
        let number = self.inner.store.next_crl_number(ca.id()).await?;
        let now = self.now();
        let crl = ca.sign_crl(&entries, number, now, now + CRL_VALIDITY)?;
        self.audit(
            AuditAction::CrlSigned,
            None,
            Some(ca.id()),
            AuditOutcome::Success,
            format!("CRL {number} of {} with {} entries", ca.name(), entries.len()),
        )
        .await?;
        Ok(crl)
    }
}

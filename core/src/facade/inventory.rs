//! The inventory and the audit log.

use super::*;

impl Certloop {
    // ---- inventory and audit ----------------------------------------------------------------

    /// Certificates matching `query`.
    pub async fn list(&self, query: &CertificateQuery) -> Result<Vec<CertificateRecord>> {
        self.inner.store.search_certificates(query).await
    }

    /// How many certificates match `query` (its `limit` and `offset` are ignored); answered
    /// from the indexes without loading records.
    pub async fn count(&self, query: &CertificateQuery) -> Result<u64> {
        self.inner.store.count_certificates(query).await
    }

    /// Certificates whose notAfter falls within `days` from now (live ones only).
    pub async fn expiring_within(&self, days: u32) -> Result<Vec<CertificateRecord>> {
        let query = CertificateQuery {
            states: vec![CertificateState::Issued, CertificateState::Deployed],
            expiring_before: Some(self.now() + time::Duration::days(i64::from(days))),
            ..CertificateQuery::default()
        };
        self.list(&query).await
    }

    /// One certificate by id (or serial number).
    pub async fn show(&self, id: &str) -> Result<CertificateRecord> {
        self.inner.store.get_certificate(id).await
    }

    /// Audit events matching `query`, oldest first.
    pub async fn audit_log(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>> {
        self.inner.store.list_audit(query).await
    }

    /// Live certificates with auto-renewal on that are due now, each with the reason.
    pub async fn renewals_due(&self) -> Result<Vec<DueRenewal>> {
        let now = self.now();
        let query = CertificateQuery {
            states: vec![CertificateState::Issued, CertificateState::Deployed],
            ..CertificateQuery::default()
        };
        let mut due = Vec::new();
        // RFC 9773: ACME CAs' suggested windows, one query for all of them.
        let mut windows = self.acme_renewal_windows().await?;
        for record in self.list(&query).await? {
            if !record.auto_renew || record.renewed_by.is_some() {
                continue;
            }
            let mut chain = RenewalChain::default_for(record.renew_before_days);
            if let Some(window) = windows.remove(&record.certificate_id) {
                chain = chain.with(window);
            }
            if let Some(reason) = chain.renewal_due(&record, now) {
                due.push(DueRenewal { certificate: record, reason });
            }
        }
        Ok(due)
    }

    /// Move every live or suspended certificate whose notAfter has passed to `Expired`, one
    /// audit event each, and return them. Schedulers call this before [`Certloop::renewals_due`].
    pub async fn expire_overdue(&self) -> Result<Vec<CertificateRecord>> {
        let now = self.now();
        let query = CertificateQuery {
            states: vec![
                CertificateState::Issued,
                CertificateState::Deployed,
                CertificateState::Suspended,
            ],
            // A certificate is valid through its notAfter second (RFC 5280 §4.1.2.5).
            expiring_before: Some(now - time::Duration::SECOND),
            ..CertificateQuery::default()
        };
        let mut expired = Vec::new();
        for mut record in self.list(&query).await? {
            let from = record.state;
            record.state = CertificateState::Expired;
            record.updated_at = now;
            let detail = format!("{from} -> expired (notAfter {})", record.not_after);
            let event = self.event(
                AuditAction::Expired,
                Some(&record.certificate_id),
                None,
                AuditOutcome::Success,
                detail,
            );
            self.inner.store.update_certificate(&record, &event).await?;
            expired.push(record);
        }
        Ok(expired)
    }
}

//! Deployment targets, keystores, deployments and pinning checks.
//!
//! Targets are store documents (kind `deployTarget`). Their passwords are sealed at rest with
//! the master key (AES-256-GCM, bound to the target id and field name) and read `[redacted]`
//! in everything this file returns.

use base64::Engine;

use super::*;
use crate::deploy::{self, DeployReport, DeployTarget, PinCheck, REDACTED};
use crate::keystore::{KeystoreBundle, KeystoreSpec, WrittenFiles};
use crate::store::connector_param_context;

/// The store document kind of deployment targets.
const TARGET: DocumentKind = DocumentKind { kind: "deployTarget", what: "deployment target" };

/// The prefix of a sealed secret in a stored target.
const SEALED: &str = "sealed:";

impl Certloop {
    // ---- targets -----------------------------------------------------------------------------

    /// Create or replace (by name) a deployment target. Returns it with secrets redacted.
    pub async fn save_target(&self, mut target: DeployTarget) -> Result<DeployTarget> {
        target.validate()?;
        if target.secrets_mut().iter().any(|(_, s)| s.expose() == REDACTED) {
            return Err(Error::invalid(
                "target",
                "a password reads [redacted]: give the real value",
            ));
        }
        target.id = self.document_id(TARGET, &target.id, &target.name).await?;
        let shown = target.redacted();
        let id = target.id.clone();
        for (field, secret) in target.secrets_mut() {
            let sealed = self
                .inner
                .sealer
                .seal(secret.expose().as_bytes(), &connector_param_context(&id, &field))?;
            let text =
                format!("{SEALED}{}", base64::engine::general_purpose::STANDARD.encode(sealed));
            *secret = crypto::SecretString::new(text);
        }
        self.put_typed(TARGET, &target.id, &target.name, &target).await?;
        self.audit(
            AuditAction::TargetSaved,
            None,
            Some(&target.id),
            AuditOutcome::Success,
            format!("{} ({:?})", target.name, target.server_type),
        )
        .await?;
        Ok(shown)
    }

    /// Every deployment target, secrets redacted.
    pub async fn list_targets(&self) -> Result<Vec<DeployTarget>> {
        let targets: Vec<DeployTarget> = self.list_typed(TARGET).await?;
        Ok(targets.iter().map(DeployTarget::redacted).collect())
    }

    /// One deployment target by name or id, secrets redacted.
    pub async fn target(&self, name_or_id: &str) -> Result<DeployTarget> {
        Ok(self.get_typed::<DeployTarget>(TARGET, name_or_id).await?.redacted())
    }

    /// Remove a deployment target.
    pub async fn remove_target(&self, name_or_id: &str) -> Result<()> {
        let target: DeployTarget = self.get_typed(TARGET, name_or_id).await?;
        self.inner.store.delete_document(TARGET, &target.id).await?;
        self.audit(
            AuditAction::TargetRemoved,
            None,
            Some(&target.id),
            AuditOutcome::Success,
            target.name,
        )
        .await
    }

    /// The target with its secrets unsealed, for use (never returned to a caller).
    pub(super) async fn unsealed_target(&self, name_or_id: &str) -> Result<DeployTarget> {
        let mut target: DeployTarget = self.get_typed(TARGET, name_or_id).await?;
        let id = target.id.clone();
        for (field, secret) in target.secrets_mut() {
            let Some(encoded) = secret.expose().strip_prefix(SEALED) else {
                return Err(Error::store(format!("target {id}: {field} is not sealed")));
            };
            let sealed = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .map_err(|e| Error::store(format!("target {id}: {field}: {e}")))?;
            let plain = self.inner.sealer.open(&sealed, &connector_param_context(&id, &field))?;
            let text = String::from_utf8(plain.to_vec())
                .map_err(|_| Error::store(format!("target {id}: {field} is not text")))?;
            *secret = crypto::SecretString::new(text);
        }
        Ok(target)
    }

    // ---- keystores ---------------------------------------------------------------------------

    /// The bundle of certificate `id` with its kept private key.
    pub async fn keystore_bundle(&self, id: &str) -> Result<KeystoreBundle> {
        let record = self.show(id).await?;
        let sealed = self.inner.store.get_sealed_key(&record.certificate_id).await?;
        let Some(sealed) = sealed.filter(|_| record.key_managed) else {
            return Err(Error::InvalidState(format!(
                "certificate {} was issued without keeping its key (issue with --manage-key or a \
                 target) and cannot be deployed by certloop",
                record.certificate_id
            )));
        };
        let pkcs8 =
            self.inner.sealer.open(&sealed, &certificate_key_context(&record.certificate_id))?;
        let key = PrivateKey::from_pkcs8_der(&pkcs8)?;
        KeystoreBundle::from_pem(&record.certificate, &record.certificate_chain, Some(key))
    }

    /// Write certificate `id` with its kept private key (issued with `manage_key`) in the
    /// format of `spec`, keeping `keep` previous versions of each file: the stored-certificate
    /// form of [`Certloop::write_keystore`], for callers that hold an id, not the response.
    pub async fn write_keystore_for(
        &self,
        id: &str,
        spec: &KeystoreSpec,
        keep: usize,
    ) -> Result<WrittenFiles> {
        let bundle = self.keystore_bundle(id).await?;
        spec.writer()?.write(&bundle, keep)
    }

    /// Write a just-issued certificate (with its generated key) in the format of `spec`.
    pub async fn write_keystore(
        &self,
        issued: &IssuedCertificate,
        spec: &KeystoreSpec,
        keep: usize,
    ) -> Result<WrittenFiles> {
        let key = match &issued.private_key {
            Some(pem) => Some(PrivateKey::from_pem(pem.expose())?),
            None => None,
        };
        let bundle = KeystoreBundle::from_pem(&issued.certificate, &issued.certificate_chain, key)?;
        spec.writer()?.write(&bundle, keep)
    }

    // ---- deployment --------------------------------------------------------------------------

    /// Deploy certificate `id` to the target `target_name` (see [`crate::deploy`] for the
    /// steps); `rollback` overrides the target's setting. A failed deployment is an
    /// [`Error::Deployment`] whose message says what failed and what was restored.
    pub async fn deploy(
        &self,
        id: &str,
        target_name: &str,
        rollback: Option<bool>,
    ) -> Result<DeployReport> {
        let report = self.deploy_with_report(id, target_name, rollback).await?;
        if report.success {
            return Ok(report);
        }
        Err(Error::Deployment {
            target: report.target.clone(),
            summary: report.summary(),
            rolled_back: report.rolled_back,
        })
    }

    /// Deploy like [`Certloop::deploy`], returning the report whether or not it succeeded
    /// (`Err` only when the deployment could not start). Each step is an audit event; success
    /// moves the certificate to `Deployed`.
    pub async fn deploy_with_report(
        &self,
        id: &str,
        target_name: &str,
        rollback: Option<bool>,
    ) -> Result<DeployReport> {
        let mut record = self.show(id).await?;
        if !record.state.is_live() {
            return Err(Error::InvalidState(format!(
                "certificate {} is {} and cannot be deployed",
                record.certificate_id, record.state
            )));
        }
        let mut target = self.unsealed_target(target_name).await?;
        if let Some(rollback) = rollback {
            target.rollback = rollback;
        }
        let bundle = self.keystore_bundle(&record.certificate_id).await?;
        let report = deploy::deploy(&target, &bundle, self.now()).await?;
        self.record_deployment(&mut record, &target, &report).await?;
        Ok(report)
    }

    async fn record_deployment(
        &self,
        record: &mut CertificateRecord,
        target: &DeployTarget,
        report: &DeployReport,
    ) -> Result<()> {
        let cert = Some(record.certificate_id.as_str());
        let subject = Some(target.id.as_str());
        for step in &report.steps {
            let outcome = if step.ok { AuditOutcome::Success } else { AuditOutcome::Failure };
            let detail = format!("{} {}: {}", target.name, step.step.as_str(), step.detail);
            self.audit(AuditAction::DeployStep, cert, subject, outcome, detail).await?;
        }
        if report.rolled_back {
            let detail = format!("{}: restored {}", target.name, report.files.join(", "));
            self.audit(AuditAction::RolledBack, cert, subject, AuditOutcome::Success, detail)
                .await?;
        }
        if !report.success {
            return self
                .audit(
                    AuditAction::DeployFailed,
                    cert,
                    subject,
                    AuditOutcome::Failure,
                    report.summary(),
                )
                .await;
        }
        let from = record.state;
        record.state = CertificateState::Deployed;
        record.updated_at = self.now();
        let event = self.event(
            AuditAction::Deployed,
            cert,
            subject,
            AuditOutcome::Success,
            format!("{from} -> deployed to {} ({})", target.name, report.files.join(", ")),
        );
        self.inner.store.update_certificate(record, &event).await
    }

    // ---- pinning -----------------------------------------------------------------------------

    /// Check what `endpoint` (`host:port`) serves against certificate `id`'s fingerprint.
    /// A mismatch is not an error here: the result says `matches: false` with both sides.
    pub async fn pin_check(
        &self,
        id: &str,
        endpoint: &str,
        server_name: Option<&str>,
    ) -> Result<PinCheck> {
        let record = self.show(id).await?;
        let expected = record.fingerprint_sha256.clone();
        let (e, s) = (endpoint.to_owned(), server_name.map(str::to_owned));
        let timeout = std::time::Duration::from_secs(10);
        let check = tokio::task::spawn_blocking(move || {
            deploy::check_pin(&e, s.as_deref(), &expected, timeout)
        })
        .await
        .map_err(|e| Error::io("pinning check", e))?;
        let (outcome, detail) = match &check {
            Ok(c) if c.matches => {
                (AuditOutcome::Success, format!("{endpoint} serves {}", c.served_sha256))
            }
            Ok(c) => (
                AuditOutcome::Failure,
                format!(
                    "{endpoint} serves {} ({}), expected {}",
                    c.served_sha256, c.served_subject, c.expected_sha256
                ),
            ),
            Err(e) => (AuditOutcome::Failure, format!("{endpoint}: {e}")),
        };
        self.audit(AuditAction::PinChecked, Some(&record.certificate_id), None, outcome, detail)
            .await?;
        check
    }
}

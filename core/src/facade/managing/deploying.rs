//! Deploying a managed certificate inside its window, with rollback, and checking its pins.

use super::*;
use crate::deploy::DeployStep;

impl Certloop {
    /// Deploy the newest certificate of `m` to every target (inside its window unless
    /// `Forced`), record the outcome and the new schedule, and commit.
    pub(super) async fn deploy_managed(
        &self,
        mut m: ManagedCertificate,
        mode: DeployMode,
        options: &SweepOptions,
        fence: Option<String>,
    ) -> (ManagedCertificate, Result<String>, SweepReport, Vec<Notification>) {
        let now = self.now();
        let mut counts = SweepReport::default();
        let mut notes = Vec::new();
        let compiled = match m.config.compile() {
            Ok(compiled) => compiled,
            Err(e) => return (m, Err(e), counts, notes),
        };
        let Some(cert) = m.pending_certificate_id.clone().or(m.certificate_id.clone()) else {
            m.next_deploy_at = None;
            return (m, Ok(String::new()), counts, notes);
        };
        let mut set = WriteSet { fence: fence.clone(), ..WriteSet::default() };
        if mode == DeployMode::Scheduled && !compiled.may_deploy(now) {
            // Woken outside the window (late, or the window moved): wait for the next one.
            m.next_deploy_at = compiled.next_deploy(now);
            release(&mut m);
            set.managed.push(m.clone());
            let outcome = self.inner.store.write(&set).await.map(|()| {
                format!("waiting for the deployment window at {}", show_time(m.next_deploy_at))
            });
            return (m, outcome, counts, notes);
        }
        let mut failures = Vec::new();
        let mut rolled_back_unverified = Vec::new();
        for target in &m.config.targets {
            match self.deploy_with_report(&cert, target, Some(m.config.rollback)).await {
                Ok(report) if report.success => {}
                Ok(report) => {
                    let restored =
                        report.steps.iter().any(|s| s.step == DeployStep::RollbackPinCheck && s.ok);
                    if report.rolled_back
                        && !restored
                        && report.steps.iter().any(|s| s.step == DeployStep::RollbackPinCheck)
                    {
                        rolled_back_unverified.push(target.clone());
                    }
                    failures.push(format!("{target}: {}", report.summary()));
                }
                Err(e) => failures.push(format!("{target}: {e}")),
            }
        }
        let from = m.state.to_string();
        let result = if failures.is_empty() {
            m.certificate_id = Some(cert.clone());
            m.pending_certificate_id = None;
            m.next_deploy_at = None;
            m.state = CertificateState::Deployed;
            m.attempts = 0;
            m.last_error = None;
            let detail = format!("{cert} deployed to {}", m.config.targets.join(", "));
            set.events.push(self.transition_event(&m, &from, "deployed", &detail));
            counts.deployed += 1;
            Ok(detail)
        } else {
            let message = failures.join("; ");
            m.attempts += 1;
            m.last_error = Some(message.clone());
            m.state = CertificateState::Failed;
            m.next_deploy_at = match mode {
                // Try again at the next window (or, without windows, after a backoff).
                DeployMode::Scheduled if m.attempts < options.max_attempts => {
                    let after = compiled.window_end(now).unwrap_or(now + retry_delay(options, &m));
                    compiled.next_deploy(after)
                }
                _ => None,
            };
            let detail = format!(
                "deploying {cert} failed: {message}; next attempt {}",
                show_time(m.next_deploy_at)
            );
            set.events.push(self.transition_event(&m, &from, "failed", &detail));
            counts.failed += 1;
            notes.push(self.notification(&m, NotificationKind::DeployFailed, &detail, Some(&cert)));
            for target in rolled_back_unverified {
                let text = format!(
                    "after the rollback on {target}, the previous certificate is not served"
                );
                notes.push(self.notification(
                    &m,
                    NotificationKind::PinMismatch,
                    &text,
                    Some(&cert),
                ));
            }
            Err(Error::Deployment {
                target: m.config.targets.join(", "),
                summary: message,
                rolled_back: m.config.rollback,
            })
        };
        m.updated_at = now;
        release(&mut m);
        set.managed.push(m.clone());
        if let Err(e) = self.inner.store.write(&set).await {
            return (m, Err(e), counts, notes);
        }
        (m, result, counts, notes)
    }

    /// Check every target endpoint against the certificate in service.
    pub(super) async fn pin_check_targets(
        &self,
        worked: &mut Worked,
        m: &ManagedCertificate,
    ) -> Result<String> {
        let id = m.certificate_id.clone().ok_or_else(|| nothing_in_service(m))?;
        let mut lines = Vec::new();
        let mut mismatches = Vec::new();
        let mut first_error = None;
        for name in &m.config.targets {
            let target = self.target(name).await?;
            let Some(endpoint) = target.endpoint.clone() else {
                lines.push(format!("{name}: no endpoint to check"));
                continue;
            };
            match self.pin_check(&id, &endpoint, target.server_name.as_deref()).await {
                Ok(check) if check.matches => lines.push(format!("{name}: {endpoint} serves {id}")),
                Ok(check) => {
                    lines.push(format!(
                        "{name}: {endpoint} serves {} ({}), not {id}",
                        check.served_sha256, check.served_subject
                    ));
                    mismatches.push(Error::PinMismatch {
                        endpoint,
                        expected: check.expected_sha256,
                        served: check.served_sha256,
                    });
                }
                Err(e) => {
                    lines.push(format!("{name}: {e}"));
                    first_error.get_or_insert(e);
                }
            }
        }
        if !mismatches.is_empty() {
            let text = lines.join("; ");
            let note = self.notification(m, NotificationKind::PinMismatch, &text, Some(&id));
            worked.notifications.push(note);
            return Err(mismatches.remove(0));
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(lines.join("; ")),
        }
    }
}

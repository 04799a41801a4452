//! Deployment: put a certificate bundle on a server and make sure it serves it.
//!
//! [`deploy`] runs the five steps of the provisioning document on one [`DeployTarget`]:
//! 1. check the bundle ([`check_bundle`]: key matches, chain links, validity);
//! 2. write the keystore files atomically, keeping the previous versions;
//! 3. run the config test, then the reload;
//! 4. verify, with bounded retries, that the endpoint serves the new certificate ([`pin`]);
//! 5. on a failure in 2–4 (and with rollback on), restore the previous files, reload again
//!    when the server may have loaded the new ones, and verify the old certificate is back.
//!
//! Every step is recorded in the [`DeployReport`]; the façade turns each into an audit event.

mod command;
pub mod pin;
mod precheck;
mod sftp;
mod target;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

pub use command::run_command;
pub use pin::{PinCheck, ServedChain, check_pin, fetch_served_chain};
pub use precheck::check_bundle;
pub use target::{DeployTarget, JavaKeystoreType, REDACTED, ServerType};

use crate::crypto::fingerprint_sha256;
use crate::error::{Error, Result};
use crate::keystore::{KeystoreBundle, WrittenFiles};

/// The steps of a deployment, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DeployStep {
    /// Step 1: the bundle checks.
    Precheck,
    /// Step 2: files written.
    Write,
    /// Step 3a: the config test.
    ConfigTest,
    /// Step 3b: the reload.
    Reload,
    /// Step 4: the endpoint serves the new certificate.
    PinCheck,
    /// Step 5: previous files restored.
    Rollback,
    /// Step 5: reload after restoring.
    RollbackReload,
    /// Step 5: the endpoint serves the previous certificate again.
    RollbackPinCheck,
}

impl DeployStep {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Precheck => "precheck",
            Self::Write => "write",
            Self::ConfigTest => "configTest",
            Self::Reload => "reload",
            Self::PinCheck => "pinCheck",
            Self::Rollback => "rollback",
            Self::RollbackReload => "rollbackReload",
            Self::RollbackPinCheck => "rollbackPinCheck",
        }
    }
}

/// One step as it happened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepRecord {
    /// Which step.
    pub step: DeployStep,
    /// Whether it succeeded.
    pub ok: bool,
    /// What happened (command output shortened, files, fingerprints).
    pub detail: String,
}

/// What a deployment did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeployReport {
    /// Target name.
    pub target: String,
    /// SHA-256 fingerprint of the certificate deployed.
    pub fingerprint_sha256: String,
    /// Whether the new certificate is in place (and served, when an endpoint is set).
    pub success: bool,
    /// The step that failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_step: Option<DeployStep>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Whether the previous files were restored.
    pub rolled_back: bool,
    /// Files written (local paths, or remote paths for SFTP).
    pub files: Vec<String>,
    /// The final pinning check, when an endpoint is configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin: Option<PinCheck>,
    /// Every step in order.
    pub steps: Vec<StepRecord>,
}

impl DeployReport {
    /// One line: what failed and what was restored.
    pub fn summary(&self) -> String {
        if self.success {
            return format!("deployed {} to {}", self.fingerprint_sha256, self.target);
        }
        let step = self.failed_step.map_or("?", DeployStep::as_str);
        let error = self.error.as_deref().unwrap_or("unknown error");
        let after = self
            .steps
            .iter()
            .filter(|s| {
                matches!(
                    s.step,
                    DeployStep::Rollback
                        | DeployStep::RollbackReload
                        | DeployStep::RollbackPinCheck
                )
            })
            .map(|s| format!("{} {}", s.step.as_str(), if s.ok { "ok" } else { "FAILED" }))
            .collect::<Vec<_>>();
        let restored = if after.is_empty() {
            if self.failed_step == Some(DeployStep::Precheck) {
                "nothing was changed".to_owned()
            } else {
                "not rolled back".to_owned()
            }
        } else {
            after.join(", ")
        };
        format!("deployment to {} failed at {step}: {error}; {restored}", self.target)
    }
}

/// Consecutive matching pinning checks that count as "the endpoint serves it".
const STABLE_MATCHES: u32 = 2;

/// Where the files went, so that rollback can undo it.
enum Written {
    Local(WrittenFiles),
    Remote(sftp::Remote, Vec<sftp::RemoteFile>),
}

/// Deploy `bundle` to `target` (see the module documentation for the steps). Returns the
/// report whether or not the deployment succeeded; only invalid input is an `Err`.
pub async fn deploy(
    target: &DeployTarget,
    bundle: &KeystoreBundle,
    now: OffsetDateTime,
) -> Result<DeployReport> {
    target.validate()?;
    let writer = target.keystore_spec()?.writer()?;
    let remote = match target.server_type {
        ServerType::Sftp => Some(sftp::Remote::of(target)?),
        _ => None,
    };
    let mut run = Run {
        target,
        report: DeployReport {
            target: target.name.clone(),
            fingerprint_sha256: fingerprint_sha256(&bundle.certificate),
            success: false,
            failed_step: None,
            error: None,
            rolled_back: false,
            files: Vec::new(),
            pin: None,
            steps: Vec::new(),
        },
    };

    // 1. The bundle itself.
    if let Err(e) = check_bundle(bundle, now) {
        run.fail(DeployStep::Precheck, &e);
        return Ok(run.report);
    }
    run.ok(DeployStep::Precheck, "key matches the certificate, chain links, all valid now");

    // What the endpoint serves now, so that a rollback can check it is served again.
    let before = match &target.endpoint {
        Some(endpoint) => run.served_fingerprint(endpoint).await,
        None => None,
    };

    // 2. The files.
    let rendered = match writer.render(bundle) {
        Ok(files) => files,
        Err(e) => {
            run.fail(DeployStep::Write, &e);
            return Ok(run.report);
        }
    };
    let written = match &remote {
        None => crate::keystore::write_files(&rendered, target.keep_versions()).map(Written::Local),
        Some(remote) => {
            remote.upload(&rendered).await.map(|files| Written::Remote(remote.clone(), files))
        }
    };
    let written = match written {
        Ok(written) => written,
        Err(e) => {
            // write_files leaves nothing changed on failure; an SFTP batch may have stopped
            // midway, which the rollback below repairs from the kept versions.
            run.fail(DeployStep::Write, &e);
            return Ok(run.report);
        }
    };
    run.report.files = match &written {
        Written::Local(files) => files.paths().iter().map(|p| p.display().to_string()).collect(),
        Written::Remote(_, files) => files.iter().map(|f| f.path.clone()).collect(),
    };
    // SFTP keeps one previous version remotely (`NAME.certloop.1`).
    let kept = if remote.is_some() { 1 } else { target.keep_versions() };
    let detail =
        format!("{}, {kept} previous kept: {}", writer.format(), run.report.files.join(", "));
    run.ok(DeployStep::Write, &detail);

    // 3. and 4.
    let failed = run.activate(remote.as_ref(), bundle).await;
    let Some(failed_step) = failed else {
        run.report.success = true;
        return Ok(run.report);
    };

    // 5. Rollback.
    if !target.rollback {
        return Ok(run.report);
    }
    let restored = match &written {
        Written::Local(files) => files.restore(),
        Written::Remote(remote, files) => remote.restore(files).await,
    };
    match restored {
        Ok(()) => {
            run.report.rolled_back = true;
            run.ok(DeployStep::Rollback, &format!("restored {}", run.report.files.join(", ")));
        }
        Err(e) => {
            run.step(DeployStep::Rollback, false, e.to_string());
            return Ok(run.report);
        }
    }
    // The server loaded the new files only if the reload ran; otherwise nothing to undo there.
    if matches!(failed_step, DeployStep::Reload | DeployStep::PinCheck)
        && let Some(reload) = &target.reload_command
    {
        match run.command(remote.as_ref(), reload).await {
            Ok(out) => run.ok(DeployStep::RollbackReload, &out),
            Err(e) => run.step(DeployStep::RollbackReload, false, e.to_string()),
        }
    }
    if let (Some(endpoint), Some(previous)) = (&target.endpoint, &before) {
        match run.pin_until(endpoint, previous).await {
            Ok(check) if check.matches => {
                run.ok(
                    DeployStep::RollbackPinCheck,
                    &format!("{endpoint} serves {previous} again"),
                );
            }
            Ok(check) => run.step(
                DeployStep::RollbackPinCheck,
                false,
                format!("{endpoint} serves {} instead of {previous}", check.served_sha256),
            ),
            Err(e) => run.step(DeployStep::RollbackPinCheck, false, e.to_string()),
        }
    }
    Ok(run.report)
}

/// One deployment in progress.
struct Run<'a> {
    target: &'a DeployTarget,
    report: DeployReport,
}

impl Run<'_> {
    fn step(&mut self, step: DeployStep, ok: bool, detail: String) {
        self.report.steps.push(StepRecord { step, ok, detail });
    }

    fn ok(&mut self, step: DeployStep, detail: &str) {
        self.step(step, true, detail.to_owned());
    }

    fn fail(&mut self, step: DeployStep, error: &Error) {
        self.report.failed_step = Some(step);
        self.report.error = Some(error.to_string());
        self.step(step, false, error.to_string());
    }

    async fn command(&self, remote: Option<&sftp::Remote>, argv: &[String]) -> Result<String> {
        match remote {
            Some(remote) => remote.run(argv).await,
            None => run_command(argv, self.target.timeout()).await,
        }
    }

    /// Steps 3 and 4; the step that failed, if any.
    async fn activate(
        &mut self,
        remote: Option<&sftp::Remote>,
        bundle: &KeystoreBundle,
    ) -> Option<DeployStep> {
        let target = self.target;
        for (step, command) in [
            (DeployStep::ConfigTest, &target.test_command),
            (DeployStep::Reload, &target.reload_command),
        ] {
            let Some(argv) = command else { continue };
            match self.command(remote, argv).await {
                Ok(out) => self.ok(step, &format!("{}: ok {out}", argv.join(" "))),
                Err(e) => {
                    self.fail(step, &e);
                    return Some(step);
                }
            }
        }
        let endpoint = target.endpoint.as_ref()?;
        let expected = fingerprint_sha256(&bundle.certificate);
        match self.pin_until(endpoint, &expected).await {
            Ok(check) if check.matches => {
                self.ok(DeployStep::PinCheck, &format!("{endpoint} serves {expected}"));
                self.report.pin = Some(check);
                None
            }
            Ok(check) => {
                let e = Error::PinMismatch {
                    endpoint: endpoint.clone(),
                    expected: expected.clone(),
                    served: check.served_sha256.clone(),
                };
                self.report.pin = Some(check);
                self.fail(DeployStep::PinCheck, &e);
                Some(DeployStep::PinCheck)
            }
            Err(e) => {
                self.fail(DeployStep::PinCheck, &e);
                Some(DeployStep::PinCheck)
            }
        }
    }

    /// Pinning check with bounded retries until `expected` is served [`STABLE_MATCHES`]
    /// times in a row: right after a graceful reload, old workers (nginx, Apache) may still
    /// accept a connection or two with the old certificate.
    async fn pin_until(&self, endpoint: &str, expected: &str) -> Result<PinCheck> {
        let (attempts, interval) = self.target.pin_schedule();
        let mut last = Err(Error::io(endpoint, "no pinning attempt was made"));
        let mut in_a_row = 0;
        for attempt in 0..attempts + STABLE_MATCHES - 1 {
            if attempt > 0 {
                tokio::time::sleep(interval).await;
            }
            last = self.pin_once(endpoint, expected).await;
            if matches!(&last, Ok(check) if check.matches) {
                in_a_row += 1;
                if in_a_row == STABLE_MATCHES {
                    break;
                }
            } else {
                in_a_row = 0;
            }
        }
        last
    }

    async fn pin_once(&self, endpoint: &str, expected: &str) -> Result<PinCheck> {
        let (endpoint, expected) = (endpoint.to_owned(), expected.to_owned());
        let server_name = self.target.server_name.clone();
        let timeout = self.target.timeout().min(std::time::Duration::from_secs(10));
        tokio::task::spawn_blocking(move || {
            check_pin(&endpoint, server_name.as_deref(), &expected, timeout)
        })
        .await
        .map_err(|e| Error::io("pinning check", e))?
    }

    /// What the endpoint serves now, or `None` when it does not answer.
    async fn served_fingerprint(&self, endpoint: &str) -> Option<String> {
        self.pin_once(endpoint, "").await.ok().map(|check| check.served_sha256)
    }
}

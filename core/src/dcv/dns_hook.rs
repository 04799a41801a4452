//! DNS-01 through a hook: a program or a trait implementation creates and deletes the TXT
//! record (RFC 8555 §8.4).

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;

use super::{Challenge, ChallengeKind, ChallengeSolver};
use crate::error::{Error, Result};

/// How long a hook command may run.
const HOOK_TIMEOUT: Duration = Duration::from_secs(120);

/// Creates and deletes DNS TXT records.
#[async_trait]
pub trait DnsHook: Send + Sync + fmt::Debug {
    /// Create a TXT record `name` with `value` (other values on `name` must stay: a wildcard
    /// and its base name share one record name).
    async fn create_txt(&self, name: &str, value: &str) -> Result<()>;
    /// Delete the TXT value `value` of `name`.
    async fn delete_txt(&self, name: &str, value: &str) -> Result<()>;
}

/// A hook program, run as `COMMAND present NAME VALUE` and `COMMAND cleanup NAME VALUE`
/// (also given as `CERTLOOP_DNS_NAME` / `CERTLOOP_DNS_VALUE`). Exit 0 means done.
#[derive(Clone, Debug)]
pub struct CommandDnsHook {
    command: PathBuf,
}

impl CommandDnsHook {
    /// A hook running `command` (an absolute path to an existing file).
    pub fn new(command: PathBuf) -> Result<Self> {
        if !command.is_absolute() {
            return Err(Error::invalid(
                "issuer.solver.command",
                format!("{} must be an absolute path", command.display()),
            ));
        }
        Ok(Self { command })
    }

    async fn run(&self, action: &str, name: &str, value: &str) -> Result<()> {
        let command = &self.command;
        let child = tokio::process::Command::new(command)
            .arg(action)
            .arg(name)
            .arg(value)
            .env("CERTLOOP_DNS_NAME", name)
            .env("CERTLOOP_DNS_VALUE", value)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output();
        let output = tokio::time::timeout(HOOK_TIMEOUT, child)
            .await
            .map_err(|_| Error::io(command.display(), format!("{action} timed out")))?
            .map_err(|e| Error::io(command.display(), e))?;
        if output.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        Err(Error::io(
            command.display(),
            format!("DNS hook {action} failed ({}): {}", output.status, stderr.trim()),
        ))
    }
}

#[async_trait]
impl DnsHook for CommandDnsHook {
    async fn create_txt(&self, name: &str, value: &str) -> Result<()> {
        self.run("present", name, value).await
    }

    async fn delete_txt(&self, name: &str, value: &str) -> Result<()> {
        self.run("cleanup", name, value).await
    }
}

/// Answers DNS-01 challenges through a [`DnsHook`].
#[derive(Debug)]
pub struct DnsHookSolver<H> {
    hook: H,
}

impl<H: DnsHook> DnsHookSolver<H> {
    /// A solver over `hook`.
    pub fn new(hook: H) -> Self {
        Self { hook }
    }
}

#[async_trait]
impl<H: DnsHook> ChallengeSolver for DnsHookSolver<H> {
    fn kind(&self) -> ChallengeKind {
        ChallengeKind::Dns01
    }

    async fn present(&self, challenge: &Challenge) -> Result<()> {
        self.hook.create_txt(&challenge.dns_record_name(), &challenge.dns_value).await
    }

    async fn cleanup(&self, challenge: &Challenge) -> Result<()> {
        self.hook.delete_txt(&challenge.dns_record_name(), &challenge.dns_value).await
    }
}

#[async_trait]
impl ChallengeSolver for CommandDnsHook {
    fn kind(&self) -> ChallengeKind {
        ChallengeKind::Dns01
    }

    async fn prepare(&self) -> Result<()> {
        let meta = std::fs::metadata(&self.command).map_err(|e| {
            Error::invalid("issuer.solver.command", format!("{}: {e}", self.command.display()))
        })?;
        if meta.is_file() {
            Ok(())
        } else {
            Err(Error::invalid(
                "issuer.solver.command",
                format!("{} is not a file", self.command.display()),
            ))
        }
    }

    async fn present(&self, challenge: &Challenge) -> Result<()> {
        self.create_txt(&challenge.dns_record_name(), &challenge.dns_value).await
    }

    async fn cleanup(&self, challenge: &Challenge) -> Result<()> {
        self.delete_txt(&challenge.dns_record_name(), &challenge.dns_value).await
    }
}

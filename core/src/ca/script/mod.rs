//! The Python-script CA connector: a profile names a script that defines
//! `certificate_request(csr, common_name, args_dict)` (and optionally
//! `revoke_certificate(cert_pem, reason, args_dict)` and
//! `renew_certificate(cert_pem, csr, common_name, args_dict)`), and certloop hosts it as a
//! [`CaConnector`] like any other.
//!
//! Both hosting modes run the same small Python program (`host.py`) that imports the script,
//! keeps it loaded (module globals survive between calls), reloads it when the file's content
//! changes, captures what it prints or logs, and answers one JSON request with one JSON reply:
//! - `process`: a child `python3 -I` per profile, spoken to over stdin/stdout, with a minimal
//!   environment and resource limits, killed on timeout (the next call starts a fresh one);
//! - `inProcess` (cargo feature `python`): the interpreter embedded through pyo3, each call on
//!   its own thread so the async runtime never waits on Python; on timeout the call fails and
//!   the script's thread is interrupted at its next Python instruction.
//!
//! What comes back is checked before it is accepted: it parses, certifies the CSR's key, names
//! exactly the approved subject CN and SANs, does not outlive the approved validity, and any
//! chain it carries signed the leaf.

mod contract;
#[cfg(feature = "python")]
mod embedded;
mod process;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use time::OffsetDateTime;
use zeroize::Zeroizing;

pub use contract::{ContractCall, ScriptContract};

use super::{CaConnector, Capabilities, CertificateOrder, Issued, Revoker};
use crate::crypto::{self, CertificateInfo, SecretString};
use crate::error::{Error, Result};
use crate::model::{CertificateRecord, RevocationReason, SanType, SubjectAltName};
use crate::policy::{MASKED, ResolvedParam, ScriptIsolation, ScriptParam, resolve_script_args};

/// The host program both isolation modes run.
const HOST_PY: &str = include_str!("host.py");

/// Clock skew tolerated between certloop and the script's CA when checking validity.
const CLOCK_SKEW: time::Duration = time::Duration::minutes(5);

/// Address-space limit of a `process`-isolated script (MiB).
const PROCESS_MEMORY_LIMIT_MB: u32 = 2048;

/// Everything a script connector is built from: a script profile with its sensitive values
/// already unsealed.
#[derive(Clone, PartialEq, Eq)]
pub struct ScriptSpec {
    /// The profile's slug: names the connector in logs, errors and `issuer_key`.
    pub profile: String,
    /// The script file, canonical.
    pub path: PathBuf,
    /// Longest time one call may take.
    pub timeout: Duration,
    /// Where the script runs.
    pub isolation: ScriptIsolation,
    /// Interpreter for `process` isolation (default `python3`).
    pub interpreter: Option<String>,
    /// The declared parameters, sensitive values in clear (never printed: see `Debug`).
    pub params: Vec<ScriptParam>,
}

impl fmt::Debug for ScriptSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScriptSpec")
            .field("profile", &self.profile)
            .field("path", &self.path)
            .field("timeout", &self.timeout)
            .field("isolation", &self.isolation)
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

/// A CA connector backed by a Python script.
pub struct ScriptConnector {
    spec: ScriptSpec,
    issuer_key: String,
    host: Arc<dyn ScriptHost>,
    /// Sensitive values, longest first, to redact from whatever the script says.
    secrets: Arc<Redactor>,
}

impl ScriptConnector {
    /// A connector for `spec`. The script is not imported yet: the first call loads it, so a
    /// broken script fails the request that uses it, with the script named.
    pub fn new(spec: ScriptSpec) -> Result<Self> {
        check_script_file(&spec.path)?;
        let secrets = Arc::new(Redactor::new(&spec.params));
        let host: Arc<dyn ScriptHost> = match spec.isolation {
            ScriptIsolation::Process => {
                Arc::new(process::ProcessHost::new(&spec, secrets.clone(), PROCESS_MEMORY_LIMIT_MB))
            }
            ScriptIsolation::InProcess => embedded_host(&spec)?,
        };
        let issuer_key = format!("script:{}", spec.profile);
        Ok(Self { spec, issuer_key, host, secrets })
    }

    /// What it was built from.
    pub fn spec(&self) -> &ScriptSpec {
        &self.spec
    }

    /// Run one operation in the script and return its result (PEM, or `None` for revoke).
    async fn call(
        &self,
        op: &str,
        fields: serde_json::Value,
        args: &[ResolvedParam],
    ) -> Result<Option<String>> {
        let mut request = fields;
        let json_args: serde_json::Map<String, serde_json::Value> = args
            .iter()
            .map(|p| (p.name.clone(), serde_json::Value::String(p.value.expose().to_owned())))
            .collect();
        request["op"] = op.into();
        request["args"] = serde_json::Value::Object(json_args);
        let secrets = self.secrets.with(args);
        let line = Zeroizing::new(request.to_string());
        // The tree holds sensitive values too; serde_json cannot zeroize it, so at least free
        // it before the call (the line sent is zeroized on drop).
        drop(request);
        let started = std::time::Instant::now();
        let reply = self.host.call(&line, self.spec.timeout).await;
        tracing::debug!(
            profile = %self.spec.profile,
            op,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "script call finished"
        );
        let reply = match reply {
            Ok(reply) => reply,
            Err(HostFailure::Timeout) => {
                return Err(self.error(
                    &secrets,
                    Some("TimeoutError"),
                    format!(
                        "no answer within {}s (timeoutSeconds); the call was abandoned{}",
                        self.spec.timeout.as_secs(),
                        match self.spec.isolation {
                            ScriptIsolation::Process => " and the script process killed",
                            ScriptIsolation::InProcess => " and the script interrupted",
                        }
                    ),
                    None,
                    true,
                ));
            }
            Err(HostFailure::Broken(message)) => {
                return Err(self.error(&secrets, None, message, None, true));
            }
        };
        for line in &reply.output {
            tracing::info!(target: "certloop::script", profile = %self.spec.profile, "{}", secrets.redact(line));
        }
        if let Some(error) = reply.error.filter(|_| !reply.ok) {
            if error.stage == "file" {
                let why = format!("cannot read the script: {}", error.message);
                return Err(Error::io(self.spec.path.display(), secrets.redact(&why)));
            }
            // A contract violation is the host's finding, not an exception of the script:
            // no exception type, and no traceback of the host's own frames.
            if error.stage == "contract" {
                let message = format!("breaks the certificate_request contract: {}", error.message);
                return Err(self.error(&secrets, None, message, None, false));
            }
            let message = match error.stage.as_str() {
                "load" => format!("cannot be loaded: {}", error.message),
                _ => error.message,
            };
            return Err(self.error(
                &secrets,
                Some(&error.kind),
                message,
                Some(error.traceback),
                error.retryable,
            ));
        }
        Ok(reply.result)
    }

    /// An [`Error::Script`] for this script, with sensitive values redacted from every field.
    fn error(
        &self,
        secrets: &Redactor,
        exception: Option<&str>,
        message: String,
        traceback: Option<String>,
        retryable: bool,
    ) -> Error {
        Error::Script {
            script: self.spec.path.display().to_string(),
            exception: exception.map(|e| secrets.redact(e)),
            message: secrets.redact(&message),
            traceback: traceback.map(|t| secrets.redact(&t)),
            retryable,
        }
    }

    fn args(&self, order: &CertificateOrder) -> Result<Vec<ResolvedParam>> {
        resolve_script_args(&self.spec.profile, &self.spec.params, order.connector_params.as_map())
    }

    fn csr_fields(&self, order: &CertificateOrder) -> Result<serde_json::Value> {
        let (csr, common_name) = csr_and_common_name(order)?;
        Ok(serde_json::json!({"csr": csr, "commonName": common_name}))
    }

    /// Check what the script returned for `order` and split it into leaf and chain.
    fn accept(
        &self,
        returned: Option<String>,
        order: &CertificateOrder,
        args: &[ResolvedParam],
        function: &str,
    ) -> Result<Issued> {
        let secrets = self.secrets.with(args);
        accept_returned(returned, order, |why| {
            self.error(&secrets, None, format!("{function} returned {why}"), None, false)
        })
    }

    /// Revoke through the script's `revoke_certificate`, with the profile's fixed values (a
    /// revocation has no request to take dynamic values from, so those are left out).
    async fn revoke_with(&self, record: &CertificateRecord, reason: &str) -> Result<()> {
        let args: Vec<ResolvedParam> = self
            .spec
            .params
            .iter()
            .filter_map(|p| {
                Some(ResolvedParam {
                    name: p.name.clone(),
                    value: p.value.clone()?,
                    sensitive: p.sensitive,
                })
            })
            .collect();
        let fields = serde_json::json!({"certificate": record.certificate, "reason": reason});
        match self.call("revoke", fields, &args).await {
            Err(Error::Script { exception: Some(e), .. }) if e == "NotImplementedError" => {
                Err(Error::Unsupported(format!(
                    "revocation is not supported by this connector: {} defines no \
                     revoke_certificate(cert_pem, reason, args_dict)",
                    self.spec.path.display()
                )))
            }
            other => other.map(|_| ()),
        }
    }
}

impl fmt::Debug for ScriptConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScriptConnector").field("spec", &self.spec).finish_non_exhaustive()
    }
}

#[async_trait]
impl CaConnector for ScriptConnector {
    fn issuer_key(&self) -> &str {
        &self.issuer_key
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities { requires_csr: true, can_revoke: true, can_suspend: true }
    }

    async fn issue(&self, order: &CertificateOrder) -> Result<Issued> {
        let args = self.args(order)?;
        let fields = self.csr_fields(order)?;
        let returned = self.call("issue", fields, &args).await?;
        self.accept(returned, order, &args, "certificate_request")
    }

    async fn renew(
        &self,
        previous: &CertificateRecord,
        order: &CertificateOrder,
    ) -> Result<Issued> {
        let args = self.args(order)?;
        let mut fields = self.csr_fields(order)?;
        fields["certificate"] = previous.certificate.clone().into();
        let returned = self.call("renew", fields, &args).await?;
        self.accept(returned, order, &args, "renew_certificate")
    }
}

#[async_trait]
impl Revoker for ScriptConnector {
    async fn revoke(
        &self,
        record: &CertificateRecord,
        reason: RevocationReason,
        _at: OffsetDateTime,
    ) -> Result<()> {
        self.revoke_with(record, &reason.to_string()).await
    }

    async fn unsuspend(&self, record: &CertificateRecord) -> Result<()> {
        Err(Error::Unsupported(format!(
            "script connector {} cannot lift the hold on {}: the contract has no unsuspend",
            self.spec.profile, record.certificate_id
        )))
    }
}

/// The reply of `host.py`.
#[derive(Debug, Deserialize)]
struct HostReply {
    ok: bool,
    #[serde(default)]
    result: Option<String>,
    #[serde(default)]
    error: Option<HostError>,
    #[serde(default)]
    output: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct HostError {
    #[serde(rename = "type")]
    kind: String,
    message: String,
    #[serde(default)]
    traceback: String,
    #[serde(default)]
    retryable: bool,
    #[serde(default)]
    stage: String,
}

/// Why a host produced no reply.
#[derive(Debug)]
enum HostFailure {
    /// The call overran its timeout.
    Timeout,
    /// The host died or spoke something other than the protocol.
    Broken(String),
}

/// Runs `host.py` somewhere and exchanges one JSON line per call.
#[async_trait]
trait ScriptHost: Send + Sync {
    async fn call(&self, request: &str, timeout: Duration) -> Result<HostReply, HostFailure>;
}

fn parse_reply(line: &str) -> Result<HostReply, HostFailure> {
    serde_json::from_str(line)
        .map_err(|e| HostFailure::Broken(format!("the script host sent an unreadable reply: {e}")))
}

#[cfg(feature = "python")]
fn embedded_host(spec: &ScriptSpec) -> Result<Arc<dyn ScriptHost>> {
    Ok(Arc::new(embedded::EmbeddedHost::new(spec)?))
}

#[cfg(not(feature = "python"))]
fn embedded_host(spec: &ScriptSpec) -> Result<Arc<dyn ScriptHost>> {
    Err(Error::Unsupported(format!(
        "profile {} asks for isolation \"inProcess\", but this build of certloop has no \
         embedded Python (cargo feature `python`); use \"process\"",
        spec.profile
    )))
}

/// Removes sensitive parameter values from text the script produced.
struct Redactor {
    values: Vec<SecretString>,
}

impl Redactor {
    fn new(params: &[ScriptParam]) -> Self {
        let mut values: Vec<SecretString> = params
            .iter()
            .filter(|p| p.sensitive)
            .filter_map(|p| p.value.clone())
            .filter(|v| !v.expose().is_empty())
            .collect();
        values.sort_by_key(|v| std::cmp::Reverse(v.expose().len()));
        Self { values }
    }

    /// `text` with every sensitive value (also as Python's `repr` shows it) replaced by the mask.
    fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for value in &self.values {
            let value = value.expose();
            if out.contains(value) {
                out = out.replace(value, MASKED);
            }
            let escaped = value.escape_default().to_string();
            if escaped != value && out.contains(&escaped) {
                out = out.replace(&escaped, MASKED);
            }
        }
        out
    }

    /// Redaction for one more value (a sensitive dynamic value of one request).
    fn with(&self, extra: &[ResolvedParam]) -> Redactor {
        let mut values = self.values.clone();
        values.extend(extra.iter().filter(|p| p.sensitive).map(|p| p.value.clone()));
        values.sort_by_key(|v| std::cmp::Reverse(v.expose().len()));
        Redactor { values }
    }
}

/// Refuse a script path that is not a readable regular `.py` file, or that anyone may rewrite.
pub fn check_script_file(path: &Path) -> Result<()> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path.display(), e))?;
    if !meta.is_file() {
        return Err(Error::invalid(
            "issuer.path",
            format!("{} is not a regular file", path.display()),
        ));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o002 != 0 {
            return Err(Error::invalid(
                "issuer.path",
                format!(
                    "{} is world-writable: anyone could make it issue certificates; run `chmod o-w` on it",
                    path.display()
                ),
            ));
        }
    }
    Ok(())
}

/// The `csr` (PEM) and `common_name` arguments of `certificate_request` for `order`: the CN,
/// or the first SAN when the subject has none.
fn csr_and_common_name(order: &CertificateOrder) -> Result<(String, String)> {
    let csr = order.csr.as_ref().ok_or_else(|| {
        Error::invalid(
            "csr",
            "a script CA needs a CSR (the engine builds one when it generates the key)",
        )
    })?;
    let common_name = order
        .subject
        .common_name
        .clone()
        .or_else(|| order.alt_names.first().map(|san| san.value.clone()))
        .unwrap_or_default();
    Ok((csr.pem.clone(), common_name))
}

/// Check what a `certificate_request` (or `renew_certificate`) implementation returned for
/// `order` and split it into leaf and chain; `reject` turns the finding ("None instead of a PEM
/// certificate", "a certificate that ...") into the connector's error.
fn accept_returned(
    returned: Option<String>,
    order: &CertificateOrder,
    reject: impl Fn(String) -> Error,
) -> Result<Issued> {
    let pem = returned.ok_or_else(|| reject("None instead of a PEM certificate".into()))?;
    if !pem.contains("-----BEGIN CERTIFICATE-----") {
        return Err(reject(format!("no PEM certificate (got {})", preview(&pem))));
    }
    let certificates = crypto::inspect_certificates(pem.as_bytes())
        .map_err(|e| reject(format!("an unreadable certificate: {e}")))?;
    let Some((leaf, chain)) = certificates.split_first() else {
        return Err(reject("no certificate".into()));
    };
    check_leaf(leaf, chain, order).map_err(|why| reject(format!("a certificate that {why}")))?;
    Ok(Issued {
        certificate_der: leaf.der.clone(),
        chain_der: chain.iter().map(|c| c.der.clone()).collect(),
    })
}

/// What is wrong with `leaf` for `order`, if anything.
fn check_leaf(
    leaf: &CertificateInfo,
    chain: &[CertificateInfo],
    order: &CertificateOrder,
) -> Result<(), String> {
    if leaf.spki_der() != order.public_key.spki_der() {
        return Err("certifies another public key than the CSR's".into());
    }
    if let Some(cn) = order.subject.common_name.as_deref() {
        let got = leaf.subject.common_name.as_deref().unwrap_or("");
        if !got.eq_ignore_ascii_case(cn) {
            return Err(format!("names CN {got:?}, not the requested {cn:?}"));
        }
    }
    let wanted: Vec<String> = order.alt_names.iter().map(san_key).collect();
    let got: Vec<String> = leaf.alt_names.iter().map(san_key).collect();
    if let Some(missing) = wanted.iter().find(|w| !got.contains(w)) {
        return Err(format!("lacks the requested subject alternative name {missing}"));
    }
    if let Some(extra) = got.iter().find(|g| !wanted.contains(g)) {
        return Err(format!(
            "adds the subject alternative name {extra}, which policy did not approve"
        ));
    }
    if leaf.not_after > order.not_after + CLOCK_SKEW {
        return Err(format!(
            "is valid until {}, after the approved {} (lower the script CA's lifetime or raise the request's ttl)",
            leaf.not_after, order.not_after
        ));
    }
    if leaf.not_after <= order.not_before {
        return Err(format!("expired at {}", leaf.not_after));
    }
    if leaf.is_ca {
        return Err("is a CA certificate (basicConstraints cA=TRUE)".into());
    }
    if let Some(issuer) = chain.first() {
        let key = issuer.public_key().map_err(|e| format!("has an unusable issuer key: {e}"))?;
        leaf.verify_signed_by(&key)
            .map_err(|_| "was not signed by the first certificate of its chain".to_owned())?;
    }
    Ok(())
}

fn san_key(san: &SubjectAltName) -> String {
    let value = match san.kind {
        SanType::Dns | SanType::Email => san.value.to_ascii_lowercase(),
        _ => san.value.clone(),
    };
    format!("{}:{value}", san.kind.as_str())
}

/// The start of something that is not a certificate, for an error message.
fn preview(text: &str) -> String {
    let line = text.lines().next().unwrap_or("").trim();
    let cut: String = line.chars().take(60).collect();
    if text.is_empty() { "an empty string".into() } else { format!("{cut:?}") }
}

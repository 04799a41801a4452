//! `certloop.Certloop`: the façade handle. Each method converts its arguments with the GIL
//! held, runs the core future on the module's runtime with the GIL released, then converts
//! the result. The handle is `Send + Sync` and cheap to share between Python threads.

use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use certloop::ca::{CaSpec, ScriptContract};
use certloop::deploy::DeployTarget;
use certloop::discovery::files::{FileScanOptions, scan_files};
use certloop::discovery::host::HostScanOptions;
use certloop::discovery::network::{NetworkScanOptions, scan_network};
use certloop::discovery::servers::scan_host;
use certloop::keystore::{DEFAULT_KEEP_VERSIONS, KeystoreSpec};
use certloop::lifecycle::managed::ConfigPatch;
use certloop::model::{IssueRequest, RevocationReason};
use certloop::policy::ScriptParam;
use certloop::store::{AuditQuery, CertificateQuery, ManagedQuery};
use certloop::wire::{FileScan, HostScan, NetworkScan, Sweep};
use certloop::{Action, BatchOptions, ManageRequest};
use pyo3::prelude::*;
use pyo3::types::PyList;
use tokio::runtime::Runtime;

use crate::connector::PythonCa;
use crate::convert::{datetime, from_optional_py, from_py, to_py};
use crate::errors::{self, IntoPyResult};
use crate::lifecycle::Progress;
use crate::records::{
    AuditEvent, CaSummary, CertificateRecord, Crl, DefaultSetup, DueRenewal, IssuedCertificate,
    Profile, Template,
};

// The stub and `write_keystore`'s text signature say 3.
const _: () = assert!(DEFAULT_KEEP_VERSIONS == 3);

/// The one runtime of the module. A current-thread runtime: every calling thread drives its
/// own future inside `block_on`, so Python threads issue in parallel without a worker pool.
fn runtime(py: Python<'_>) -> PyResult<&'static Runtime> {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| errors::to_py(py, certloop::Error::io("tokio runtime", e)))?;
    // Another thread may have won the race; its runtime is as good as ours.
    Ok(RUNTIME.get_or_init(|| rt))
}

/// Run `future` with the GIL released and map its error.
fn run<T, F>(py: Python<'_>, future: F) -> PyResult<T>
where
    T: Send,
    F: Future<Output = certloop::Result<T>> + Send,
{
    let rt = runtime(py)?;
    py.detach(|| rt.block_on(future)).py_err(py)
}

/// The certloop library handle.
#[pyclass(frozen, module = "certloop._native", name = "Certloop")]
pub struct Certloop {
    inner: certloop::Certloop,
}

#[pymethods]
impl Certloop {
    /// Open (or create) a state directory: `certloop.db` and `master.key` (0600).
    #[staticmethod]
    fn open(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let inner = run(py, certloop::Certloop::open(path))?;
        Ok(Self { inner })
    }

    /// A throwaway instance: in-memory store, random master key.
    #[staticmethod]
    fn in_memory(py: Python<'_>) -> PyResult<Self> {
        let inner = run(py, certloop::Certloop::in_memory())?;
        Ok(Self { inner })
    }

    /// The same instance recording `actor` in audit events.
    fn with_actor(&self, actor: String) -> Self {
        Self { inner: self.inner.clone().with_actor(actor) }
    }

    /// Set up the embedded root CA, issuing CA and `tls-server` template and profile (once).
    fn init_default(&self, py: Python<'_>) -> PyResult<DefaultSetup> {
        run(py, self.inner.init_default()).map(DefaultSetup)
    }

    // ---- CAs ---------------------------------------------------------------------------

    /// Create a CA from a spec dict (`name`, `subject`, `keyAlgorithm`, `ttl`, `parent`, ...).
    fn create_ca(&self, py: Python<'_>, spec: &Bound<'_, PyAny>) -> PyResult<CaSummary> {
        let spec: CaSpec = from_py(spec, "spec")?;
        run(py, self.inner.create_ca(spec)).map(CaSummary)
    }

    /// Every CA.
    fn list_cas(&self, py: Python<'_>) -> PyResult<Vec<CaSummary>> {
        run(py, self.inner.list_cas()).map(|cas| cas.into_iter().map(CaSummary).collect())
    }

    /// One CA by id or name.
    fn get_ca(&self, py: Python<'_>, id_or_name: &str) -> PyResult<CaSummary> {
        run(py, self.inner.get_ca(id_or_name)).map(CaSummary)
    }

    // ---- templates and profiles ----------------------------------------------------------

    /// Create or replace a template (dict in the wire shape).
    fn save_template(&self, py: Python<'_>, template: &Bound<'_, PyAny>) -> PyResult<Template> {
        let template = from_py(template, "template")?;
        run(py, self.inner.save_template(template)).map(Template)
    }

    /// A template by id or slug.
    fn get_template(&self, py: Python<'_>, id_or_slug: &str) -> PyResult<Template> {
        run(py, self.inner.get_template(id_or_slug)).map(Template)
    }

    /// Every template.
    fn list_templates(&self, py: Python<'_>) -> PyResult<Vec<Template>> {
        run(py, self.inner.list_templates()).map(|t| t.into_iter().map(Template).collect())
    }

    /// Create or replace a profile (dict in the wire shape).
    fn save_profile(&self, py: Python<'_>, profile: &Bound<'_, PyAny>) -> PyResult<Profile> {
        let profile = from_py(profile, "profile")?;
        run(py, self.inner.save_profile(profile)).map(Profile)
    }

    /// A profile by id or slug.
    fn get_profile(&self, py: Python<'_>, id_or_slug: &str) -> PyResult<Profile> {
        run(py, self.inner.get_profile(id_or_slug)).map(Profile)
    }

    /// Every profile.
    fn list_profiles(&self, py: Python<'_>) -> PyResult<Vec<Profile>> {
        run(py, self.inner.list_profiles()).map(|p| p.into_iter().map(Profile).collect())
    }

    // ---- registered CA connectors --------------------------------------------------------

    /// Register `function(csr_pem, common_name, args_dict)` as CA connector `name`, for
    /// profiles whose issuer is `{"type": "connector", "name": name}`. It follows the
    /// `certificate_request()` contract of script CAs: it returns the PEM certificate,
    /// optionally followed by its chain; `params` are its `args_dict` entries in a script
    /// profile's shape (`{"name", "value", "sensitive"}`, fixed values only). An `async def`
    /// function is awaited on an event loop of its own, for at most `timeout_seconds`.
    #[pyo3(
        signature = (name, function, *, params = None, timeout_seconds = Some(30.0)),
        text_signature = "(self, /, name, function, *, params=None, timeout_seconds=30.0)"
    )]
    fn register_ca(
        &self,
        py: Python<'_>,
        name: &str,
        function: &Bound<'_, PyAny>,
        params: Option<&Bound<'_, PyAny>>,
        timeout_seconds: Option<f64>,
    ) -> PyResult<()> {
        if !function.is_callable() {
            return Err(errors::invalid(
                py,
                "function",
                "must be callable: fn(csr, common_name, args_dict)",
            ));
        }
        if let Some(t) = timeout_seconds
            && !(t.is_finite() && t > 0.0)
        {
            return Err(errors::invalid(
                py,
                "timeout_seconds",
                "must be a positive number of seconds, or None",
            ));
        }
        let params: Vec<ScriptParam> = from_optional_py(params, "params")?;
        let contract = ScriptContract::new(name, params, "params").py_err(py)?;
        let connector = PythonCa::new(py, name, function, contract, timeout_seconds)?;
        self.inner.register_connector(name, Arc::new(connector)).py_err(py)
    }

    // ---- issuance ------------------------------------------------------------------------

    /// Issue one certificate. `request` is Infisical's shape: `profileId`, `csr`,
    /// `attributes` (`commonName`, `ttl`, `keyAlgorithm`, `altNames`, ...), `manageKey`.
    fn issue(&self, py: Python<'_>, request: &Bound<'_, PyAny>) -> PyResult<IssuedCertificate> {
        let request: IssueRequest = from_py(request, "request")?;
        run(py, self.inner.issue(request)).map(IssuedCertificate)
    }

    /// Issue many certificates in one store transaction. Returns one entry per request, in
    /// order: an `IssuedCertificate`, or the `CertloopError` that refused that request.
    fn issue_many<'py>(
        &self,
        py: Python<'py>,
        requests: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyList>> {
        let mut parsed = Vec::new();
        for (i, request) in requests.try_iter()?.enumerate() {
            parsed.push(from_py::<IssueRequest>(&request?, &format!("requests[{i}]"))?);
        }
        let results = run(py, self.inner.issue_many(parsed, |_, _| {}))?;
        let list = PyList::empty(py);
        for result in results {
            match result {
                Ok(issued) => list.append(Bound::new(py, IssuedCertificate(issued))?)?,
                Err(e) => list.append(errors::to_py(py, e).into_value(py))?,
            }
        }
        Ok(list)
    }

    /// Issue a replacement for certificate `id`: same names, fresh key, same lifetime.
    fn renew(&self, py: Python<'_>, id: &str) -> PyResult<IssuedCertificate> {
        run(py, self.inner.renew(id)).map(IssuedCertificate)
    }

    // ---- revocation ----------------------------------------------------------------------

    /// Revoke certificate `id`; `reason` is an RFC 5280 name (`keyCompromise`, `superseded`).
    #[pyo3(signature = (id, reason = "unspecified"))]
    fn revoke(&self, py: Python<'_>, id: &str, reason: &str) -> PyResult<CertificateRecord> {
        let reason: RevocationReason = reason.parse().py_err(py)?;
        run(py, self.inner.revoke(id, reason)).map(CertificateRecord)
    }

    /// Put certificate `id` on hold.
    fn suspend(&self, py: Python<'_>, id: &str) -> PyResult<CertificateRecord> {
        run(py, self.inner.suspend(id)).map(CertificateRecord)
    }

    /// Lift the hold on certificate `id`.
    fn unsuspend(&self, py: Python<'_>, id: &str) -> PyResult<CertificateRecord> {
        run(py, self.inner.unsuspend(id)).map(CertificateRecord)
    }

    /// Sign a fresh CRL for `ca` (id or name; the default issuing CA when omitted).
    #[pyo3(signature = (ca = None))]
    fn crl(&self, py: Python<'_>, ca: Option<&str>) -> PyResult<Crl> {
        run(py, self.inner.crl(ca)).map(Crl)
    }

    // ---- inventory and audit -------------------------------------------------------------

    /// Certificates matching `query` (`commonName`, `san`, `states`, `expiringBefore`,
    /// `issuerCaId`, `profileId`, `limit`, `offset`); every live one when omitted.
    #[pyo3(signature = (query = None))]
    fn list(
        &self,
        py: Python<'_>,
        query: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Vec<CertificateRecord>> {
        let query: CertificateQuery = from_optional_py(query, "query")?;
        run(py, self.inner.list(&query))
            .map(|records| records.into_iter().map(CertificateRecord).collect())
    }

    /// One certificate by id or serial number.
    fn show(&self, py: Python<'_>, id: &str) -> PyResult<CertificateRecord> {
        run(py, self.inner.show(id)).map(CertificateRecord)
    }

    /// Live certificates whose notAfter falls within `days` from now.
    fn expiring_within(&self, py: Python<'_>, days: u32) -> PyResult<Vec<CertificateRecord>> {
        run(py, self.inner.expiring_within(days))
            .map(|records| records.into_iter().map(CertificateRecord).collect())
    }

    /// Audit events matching `query` (`certificateId`, `since`, `limit`), oldest first.
    #[pyo3(signature = (query = None))]
    fn audit_log(
        &self,
        py: Python<'_>,
        query: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Vec<AuditEvent>> {
        let query: AuditQuery = from_optional_py(query, "query")?;
        run(py, self.inner.audit_log(&query))
            .map(|events| events.into_iter().map(AuditEvent).collect())
    }

    /// Live auto-renewing certificates that are due now, each with the reason.
    fn renewals_due(&self, py: Python<'_>) -> PyResult<Vec<DueRenewal>> {
        run(py, self.inner.renewals_due()).map(|due| due.into_iter().map(DueRenewal).collect())
    }

    /// Mark every certificate past its notAfter as expired and return them.
    fn expire_overdue(&self, py: Python<'_>) -> PyResult<Vec<CertificateRecord>> {
        run(py, self.inner.expire_overdue())
            .map(|records| records.into_iter().map(CertificateRecord).collect())
    }

    // ---- ACME accounts and orders --------------------------------------------------------

    /// Register (or reuse) the ACME account of ACME profile `profile`; the account as a dict.
    fn acme_register<'py>(&self, py: Python<'py>, profile: &str) -> PyResult<Bound<'py, PyAny>> {
        let account = run(py, self.inner.acme_register(profile))?;
        to_py(py, &account)
    }

    /// Every stored ACME account (never its key).
    fn acme_accounts<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let accounts = run(py, self.inner.acme_accounts())?;
        to_py(py, &accounts)
    }

    /// The renewal window (RFC 9773) the ACME CA suggested for certificate `id`, or None.
    fn acme_renewal_window<'py>(&self, py: Python<'py>, id: &str) -> PyResult<Bound<'py, PyAny>> {
        let window = run(py, self.inner.acme_renewal_window(id))?;
        to_py(py, &window)
    }

    /// Every ACME order kept for manual validation, oldest first.
    fn list_orders<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let orders = run(py, self.inner.list_orders())?;
        to_py(py, &orders)
    }

    /// One kept order: `id`, `status`, `names`, `instructions`, ...
    fn get_order<'py>(&self, py: Python<'py>, id: &str) -> PyResult<Bound<'py, PyAny>> {
        let order = run(py, self.inner.get_order(id))?;
        to_py(py, &order)
    }

    /// Complete an order pending manual validation once the file or record is published.
    fn resume_order(&self, py: Python<'_>, id: &str) -> PyResult<IssuedCertificate> {
        run(py, self.inner.resume_order(id)).map(IssuedCertificate)
    }

    // ---- keystores, targets, deployment --------------------------------------------------

    /// Write a just-issued certificate (with its generated key) as `spec` says
    /// (`{"format": "pem" | "pkcs12" | "jks" | "kubernetesSecret", ...}`), keeping `keep`
    /// previous versions of each file. Returns the paths written.
    #[pyo3(
        signature = (issued, spec, keep = DEFAULT_KEEP_VERSIONS),
        text_signature = "(self, /, issued, spec, keep=3)"
    )]
    fn write_keystore(
        &self,
        py: Python<'_>,
        issued: &IssuedCertificate,
        spec: &Bound<'_, PyAny>,
        keep: usize,
    ) -> PyResult<Vec<PathBuf>> {
        let spec: KeystoreSpec = from_py(spec, "spec")?;
        let written = run(py, self.inner.write_keystore(&issued.0, &spec, keep))?;
        Ok(written.paths())
    }

    /// Create or replace (by name) a deployment target; returned with passwords redacted.
    fn save_target<'py>(
        &self,
        py: Python<'py>,
        target: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let target: DeployTarget = from_py(target, "target")?;
        let saved = run(py, self.inner.save_target(target))?;
        to_py(py, &saved)
    }

    /// Every deployment target, passwords redacted.
    fn list_targets<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let targets = run(py, self.inner.list_targets())?;
        to_py(py, &targets)
    }

    /// One deployment target by name or id, passwords redacted.
    fn get_target<'py>(&self, py: Python<'py>, name_or_id: &str) -> PyResult<Bound<'py, PyAny>> {
        let target = run(py, self.inner.target(name_or_id))?;
        to_py(py, &target)
    }

    /// Remove a deployment target.
    fn remove_target(&self, py: Python<'_>, name_or_id: &str) -> PyResult<()> {
        run(py, self.inner.remove_target(name_or_id))
    }

    /// Deploy certificate `id` (its key must be kept: `manageKey`) to target `target`;
    /// `rollback` overrides the target's setting. Returns the report; a failed deployment
    /// raises `DeploymentFailed` (`rolled_back` says whether the old files are back).
    #[pyo3(signature = (id, target, rollback = None))]
    fn deploy<'py>(
        &self,
        py: Python<'py>,
        id: &str,
        target: &str,
        rollback: Option<bool>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let report = run(py, self.inner.deploy(id, target, rollback))?;
        to_py(py, &report)
    }

    /// Like `deploy`, returning the report also when the deployment failed.
    #[pyo3(signature = (id, target, rollback = None))]
    fn deploy_with_report<'py>(
        &self,
        py: Python<'py>,
        id: &str,
        target: &str,
        rollback: Option<bool>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let report = run(py, self.inner.deploy_with_report(id, target, rollback))?;
        to_py(py, &report)
    }

    /// Check what `endpoint` (`host:port`) serves against certificate `id`: a dict with
    /// `matches`, the expected and served fingerprints. A mismatch is not an exception.
    #[pyo3(signature = (id, endpoint, server_name = None))]
    fn pin_check<'py>(
        &self,
        py: Python<'py>,
        id: &str,
        endpoint: &str,
        server_name: Option<&str>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let check = run(py, self.inner.pin_check(id, endpoint, server_name))?;
        to_py(py, &check)
    }

    // ---- managed certificates ------------------------------------------------------------

    /// Put one certificate under management (`{"certificateId", "name", "config": {...}}`).
    fn manage<'py>(
        &self,
        py: Python<'py>,
        request: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let request: ManageRequest = from_py(request, "request")?;
        let managed = run(py, self.inner.manage(request))?;
        to_py(py, &managed)
    }

    /// Put many certificates under management, all or none (an error names the item).
    fn manage_many<'py>(
        &self,
        py: Python<'py>,
        requests: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let requests: Vec<ManageRequest> = from_py(requests, "requests")?;
        let managed = run(py, self.inner.manage_many(requests))?;
        to_py(py, &managed)
    }

    /// One managed certificate by id or name.
    fn get_managed<'py>(&self, py: Python<'py>, id_or_name: &str) -> PyResult<Bound<'py, PyAny>> {
        let managed = run(py, self.inner.managed(id_or_name))?;
        to_py(py, &managed)
    }

    /// Managed certificates matching `query` (every one that is not deleted when omitted).
    #[pyo3(signature = (query = None))]
    fn list_managed<'py>(
        &self,
        py: Python<'py>,
        query: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let query: ManagedQuery = from_optional_py(query, "query")?;
        let managed = run(py, self.inner.list_managed(&query))?;
        to_py(py, &managed)
    }

    /// Apply `patch` to every one of `ids` (ids or names), all or none.
    fn bulk_configure<'py>(
        &self,
        py: Python<'py>,
        ids: &Bound<'py, PyAny>,
        patch: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let ids: Vec<String> = from_py(ids, "ids")?;
        let patch: ConfigPatch = from_py(patch, "patch")?;
        let managed = run(py, self.inner.bulk_configure(&ids, &patch))?;
        to_py(py, &managed)
    }

    /// Run one action (`{"action": "rotate"}`, ...) on a managed certificate; raises when the
    /// action failed.
    fn act<'py>(
        &self,
        py: Python<'py>,
        id_or_name: &str,
        action: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let action: Action = from_py(action, "action")?;
        let result = run(py, self.inner.act(id_or_name, action))?;
        to_py(py, &result)
    }

    /// Run `action` on every one of `ids` with bounded concurrency; each item has its own
    /// result, so one failure does not raise. `progress(done, total)` is called after each
    /// finished item (ids that are not found count as finished at once), with the GIL held,
    /// all before `batch` returns; an exception it raises goes to `sys.unraisablehook`.
    #[pyo3(signature = (ids, action, options = None, progress = None))]
    fn batch<'py>(
        &self,
        py: Python<'py>,
        ids: &Bound<'py, PyAny>,
        action: &Bound<'py, PyAny>,
        options: Option<&Bound<'py, PyAny>>,
        progress: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let ids: Vec<String> = from_py(ids, "ids")?;
        let action: Action = from_py(action, "action")?;
        let options: BatchOptions = from_optional_py(options, "options")?;
        let progress = Progress::from_py(progress)?;
        let report = run(
            py,
            self.inner.batch(&ids, action, options, |done, total| {
                if let Some(progress) = &progress {
                    progress.report(done, total);
                }
            }),
        )?;
        to_py(py, &report)
    }

    /// One sweep of the agent: claim what is due now, renew and deploy it (inside its
    /// windows), release it. Options: `owner`, `leaseSeconds`, `chunk`, `concurrency`,
    /// `maxAttempts`, `retryBaseSeconds`, `expiryWarningDays`.
    #[pyo3(signature = (options = None))]
    fn sweep<'py>(
        &self,
        py: Python<'py>,
        options: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let options: Sweep = from_optional_py(options, "options")?;
        let report = run(py, self.inner.sweep(&options.into()))?;
        to_py(py, &report)
    }

    /// When a sweep next has work (an aware UTC datetime), or None.
    fn next_due_at<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        run(py, self.inner.next_due_at())?.map(|at| datetime(py, at)).transpose()
    }

    /// How many certificates match `query` (the `list` query without paging).
    #[pyo3(signature = (query = None))]
    fn count(&self, py: Python<'_>, query: Option<&Bound<'_, PyAny>>) -> PyResult<u64> {
        let query: CertificateQuery = from_optional_py(query, "query")?;
        run(py, self.inner.count(&query))
    }

    // ---- discovery -----------------------------------------------------------------------

    /// Scan files and directories (`{"roots": [...], "passwords": [...], "maxDepth", ...}`)
    /// for PEM, DER, PKCS#12 and JKS certificates and record them as discovered.
    fn discover_files<'py>(
        &self,
        py: Python<'py>,
        options: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let options: FileScanOptions = from_py::<FileScan>(options, "options")?.into();
        let inner = &self.inner;
        let outcome = run(py, async move {
            let report = scan_files(&options, None);
            inner.record_discovery(&report).await
        })?;
        to_py(py, &outcome)
    }

    /// Probe TLS endpoints (`{"targets": ["host:port", "10.0.0.0/30"], "ports", ...}`) and
    /// record the certificates they serve.
    fn discover_network<'py>(
        &self,
        py: Python<'py>,
        options: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let options: NetworkScanOptions = from_py::<NetworkScan>(options, "options")?.into();
        let inner = &self.inner;
        let outcome = run(py, async move {
            let report = scan_network(&options, None)?;
            inner.record_discovery(&report).await
        })?;
        to_py(py, &outcome)
    }

    /// Find this host's running TLS servers (nginx, Apache httpd, Tomcat, ...) and record the
    /// certificates their configurations name, each with a suggested deployment target.
    #[pyo3(signature = (options = None))]
    fn discover_host<'py>(
        &self,
        py: Python<'py>,
        options: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let options: HostScanOptions = from_optional_py::<HostScan>(options, "options")?.into();
        let inner = &self.inner;
        let outcome = run(py, async move {
            let report = scan_host(&options, None);
            inner.record_discovery(&report).await
        })?;
        to_py(py, &outcome)
    }

    /// Every place a scan found a certificate, as the inventory keeps it.
    fn discovered_locations<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let locations = run(py, self.inner.discovered_locations())?;
        to_py(py, &locations)
    }

    /// Look again at every known place and report drift (`changed`, `gone`, ...); each drift
    /// is also a `driftDetected` audit event.
    fn rediscover<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let report = run(py, self.inner.rediscover())?;
        to_py(py, &report)
    }

    fn __repr__(&self) -> String {
        "Certloop()".to_owned()
    }
}

//! The `Certloop` class: one handle over a state directory or an in-memory store.
//!
//! Every method returns a Promise and runs on libuv's thread pool ([`Work`]). The handle is an
//! `Arc` inside, so concurrent calls share one store and one CA cache.

use certloop::Certloop as Core;
use certloop::ca::CaSpec;
use certloop::model::{IssueRequest, IssuedCertificate, RevocationReason};
use certloop::policy::{CertificateProfile, CertificateTemplate};
use certloop::store::{AuditQuery, CertificateQuery};
use certloop::wire::OpenOptions;
use napi::Env;
use napi::bindgen_prelude::{JavaScriptClassExt, JsValue, Unknown};
use napi_derive::napi;
use serde::Serialize;

use crate::task::{self, Pending, Reply, Work};

/// A certloop instance: CAs, templates, profiles, the certificate inventory and the audit log.
///
/// Create one with `await Certloop.open(dir)` (SQLite state directory, master key in
/// `master.key` 0600 unless `CERTLOOP_MASTER_KEY` is set) or `await Certloop.inMemory()`.
#[napi]
pub struct Certloop {
    pub(crate) inner: Core,
}

/// One result of `issueMany`: the certificate, or why that request was refused.
#[derive(Serialize)]
#[serde(rename_all = "camelCase", untagged)]
enum IssueOutcome {
    Issued { ok: bool, certificate: IssuedCertificate },
    Refused { ok: bool, error: OutcomeError },
}

/// An error as data (inside `issueMany` results), with the same fields as a thrown error.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OutcomeError {
    code: &'static str,
    message: String,
    retryable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    violations: Vec<certloop::Violation>,
}

impl From<certloop::Error> for OutcomeError {
    fn from(error: certloop::Error) -> Self {
        let field = match &error {
            certloop::Error::InvalidInput { field, .. } => Some(field.clone()),
            _ => None,
        };
        Self {
            code: error.kind().code(),
            message: error.to_string(),
            retryable: error.is_retryable(),
            field,
            violations: error.violations().to_vec(),
        }
    }
}

/// A signed CRL.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SignedCrl {
    /// PEM `X509 CRL`.
    crl: String,
    /// Its cRLNumber.
    crl_number: u64,
}

impl Certloop {
    /// A reply that becomes a new `Certloop` instance on the JavaScript thread.
    fn reply(inner: Core) -> Reply {
        Reply::with(Box::new(move |env| Ok(Certloop { inner }.into_instance(env)?.to_unknown())))
    }
}

#[napi]
impl Certloop {
    /// Open (or create) a state directory: `certloop.db` and `master.key`.
    #[napi(
        ts_args_type = "dir: string, options?: OpenOptions",
        ts_return_type = "Promise<Certloop>"
    )]
    pub fn open(env: Env, dir: Unknown<'_>, options: Unknown<'_>) -> Pending {
        let args = task::string(dir, "dir").and_then(|dir| {
            Ok((dir, task::optional::<OpenOptions>(&env, options, "options")?.unwrap_or_default()))
        });
        match args {
            Ok((dir, options)) => {
                Work::reply(
                    async move { Ok(Certloop::reply(options.apply(Core::open(dir).await?)?)) },
                )
            }
            Err(e) => Work::failed(e),
        }
    }

    /// A throwaway instance: in-memory SQLite and a random master key.
    #[napi(ts_args_type = "options?: OpenOptions", ts_return_type = "Promise<Certloop>")]
    pub fn in_memory(env: Env, options: Unknown<'_>) -> Pending {
        let options = task::optional::<OpenOptions>(&env, options, "options");
        match options {
            Ok(options) => Work::reply(async move {
                let inner = options.unwrap_or_default().apply(Core::in_memory().await?)?;
                Ok(Certloop::reply(inner))
            }),
            Err(e) => Work::failed(e),
        }
    }

    /// Run `job` on a copy of the handle (an `Arc` clone) on libuv's thread pool.
    pub(crate) fn run<T, F>(&self, job: impl FnOnce(Core) -> F) -> Pending
    where
        T: Serialize + Send + 'static,
        F: std::future::Future<Output = certloop::Result<T>> + Send + 'static,
    {
        Work::run(job(self.inner.clone()))
    }

    /// Like [`Certloop::run`], with arguments converted beforehand (rejecting when they did
    /// not convert).
    pub(crate) fn run_with<A, T, F>(
        &self,
        args: certloop::Result<A>,
        job: impl FnOnce(Core, A) -> F,
    ) -> Pending
    where
        T: Serialize + Send + 'static,
        F: std::future::Future<Output = certloop::Result<T>> + Send + 'static,
    {
        let certloop = self.inner.clone();
        Work::with(args, move |args| job(certloop, args))
    }

    // ---- set-up, CAs, templates, profiles ------------------------------------------------

    /// Set up the embedded default once: root CA, issuing CA, `tls-server` template and profile.
    #[napi(ts_return_type = "Promise<DefaultSetup>")]
    pub fn init_default(&self) -> Pending {
        self.run(|cl| async move { cl.init_default().await })
    }

    /// Create a CA: a root, or an intermediate when `spec.parent` names a CA.
    #[napi(ts_args_type = "spec: CaSpec", ts_return_type = "Promise<CaSummary>")]
    pub fn create_ca(&self, env: Env, spec: Unknown<'_>) -> Pending {
        let spec = task::required::<CaSpec>(&env, spec, "spec");
        self.run_with(spec, |cl, spec| async move { cl.create_ca(spec).await })
    }

    /// Every CA (certificates and chains, never keys).
    #[napi(ts_return_type = "Promise<CaSummary[]>")]
    pub fn list_cas(&self) -> Pending {
        self.run(|cl| async move { cl.list_cas().await })
    }

    /// One CA by id or name.
    #[napi(ts_args_type = "idOrName: string", ts_return_type = "Promise<CaSummary>")]
    pub fn get_ca(&self, id_or_name: Unknown<'_>) -> Pending {
        let id = task::string(id_or_name, "idOrName");
        self.run_with(id, |cl, id| async move { cl.get_ca(&id).await })
    }

    /// Create or replace a template (by id, or by slug when the id is empty).
    #[napi(
        ts_args_type = "template: CertificateTemplate",
        ts_return_type = "Promise<CertificateTemplate>"
    )]
    pub fn save_template(&self, env: Env, template: Unknown<'_>) -> Pending {
        let template = task::required::<CertificateTemplate>(&env, template, "template");
        self.run_with(template, |cl, t| async move { cl.save_template(t).await })
    }

    /// A template by id or slug.
    #[napi(ts_args_type = "idOrSlug: string", ts_return_type = "Promise<CertificateTemplate>")]
    pub fn get_template(&self, id_or_slug: Unknown<'_>) -> Pending {
        let id = task::string(id_or_slug, "idOrSlug");
        self.run_with(id, |cl, id| async move { cl.get_template(&id).await })
    }

    /// Every template.
    #[napi(ts_return_type = "Promise<CertificateTemplate[]>")]
    pub fn list_templates(&self) -> Pending {
        self.run(|cl| async move { cl.list_templates().await })
    }

    /// Create or replace a profile; its template and issuing CA must exist.
    #[napi(
        ts_args_type = "profile: CertificateProfile",
        ts_return_type = "Promise<CertificateProfile>"
    )]
    pub fn save_profile(&self, env: Env, profile: Unknown<'_>) -> Pending {
        let profile = task::required::<CertificateProfile>(&env, profile, "profile");
        self.run_with(profile, |cl, p| async move { cl.save_profile(p).await })
    }

    /// A profile by id or slug.
    #[napi(ts_args_type = "idOrSlug: string", ts_return_type = "Promise<CertificateProfile>")]
    pub fn get_profile(&self, id_or_slug: Unknown<'_>) -> Pending {
        let id = task::string(id_or_slug, "idOrSlug");
        self.run_with(id, |cl, id| async move { cl.get_profile(&id).await })
    }

    /// Every profile.
    #[napi(ts_return_type = "Promise<CertificateProfile[]>")]
    pub fn list_profiles(&self) -> Pending {
        self.run(|cl| async move { cl.list_profiles().await })
    }

    // ---- issuance -------------------------------------------------------------------------

    /// Issue one certificate under the request's profile (the default profile when absent).
    /// Without a `csr` the key is generated and returned once as `privateKey`.
    #[napi(ts_args_type = "request: IssueRequest", ts_return_type = "Promise<IssuedCertificate>")]
    pub fn issue(&self, env: Env, request: Unknown<'_>) -> Pending {
        let request = task::required::<IssueRequest>(&env, request, "request");
        self.run_with(request, |cl, request| async move { cl.issue(request).await })
    }

    /// Issue many certificates in one store transaction. One refused request does not stop the
    /// others: each result is `{ ok: true, certificate }` or `{ ok: false, error }`.
    #[napi(ts_args_type = "requests: IssueRequest[]", ts_return_type = "Promise<IssueOutcome[]>")]
    pub fn issue_many(&self, env: Env, requests: Unknown<'_>) -> Pending {
        let requests = task::required::<Vec<IssueRequest>>(&env, requests, "requests");
        self.run_with(requests, |cl, requests| async move {
            let mut outcomes = Vec::with_capacity(requests.len());
            for result in cl.issue_many(requests, |_, _| {}).await? {
                outcomes.push(match result {
                    Ok(certificate) => IssueOutcome::Issued { ok: true, certificate },
                    Err(e) => IssueOutcome::Refused { ok: false, error: e.into() },
                });
            }
            Ok(outcomes)
        })
    }

    /// Issue a replacement for certificate `id`: same names and lifetime, fresh key.
    #[napi(ts_args_type = "id: string", ts_return_type = "Promise<IssuedCertificate>")]
    pub fn renew(&self, id: Unknown<'_>) -> Pending {
        let id = task::string(id, "id");
        self.run_with(id, |cl, id| async move { cl.renew(&id).await })
    }

    // ---- revocation -----------------------------------------------------------------------

    /// Revoke certificate `id` (reason `unspecified` by default); the next CRL lists it.
    #[napi(
        ts_args_type = "id: string, reason?: RevocationReason",
        ts_return_type = "Promise<CertificateRecord>"
    )]
    pub fn revoke(&self, env: Env, id: Unknown<'_>, reason: Unknown<'_>) -> Pending {
        let args = task::string(id, "id").and_then(|id| {
            let reason = task::optional::<RevocationReason>(&env, reason, "reason")?;
            Ok((id, reason.unwrap_or(RevocationReason::Unspecified)))
        });
        self.run_with(args, |cl, (id, reason)| async move { cl.revoke(&id, reason).await })
    }

    /// Put certificate `id` on hold (`certificateHold`) until `unsuspend`.
    #[napi(ts_args_type = "id: string", ts_return_type = "Promise<CertificateRecord>")]
    pub fn suspend(&self, id: Unknown<'_>) -> Pending {
        let id = task::string(id, "id");
        self.run_with(id, |cl, id| async move { cl.suspend(&id).await })
    }

    /// Lift the hold on certificate `id`.
    #[napi(ts_args_type = "id: string", ts_return_type = "Promise<CertificateRecord>")]
    pub fn unsuspend(&self, id: Unknown<'_>) -> Pending {
        let id = task::string(id, "id");
        self.run_with(id, |cl, id| async move { cl.unsuspend(&id).await })
    }

    /// Sign a fresh CRL for a CA (id or name; the default issuing CA when absent).
    #[napi(ts_args_type = "ca?: string", ts_return_type = "Promise<SignedCrl>")]
    pub fn crl(&self, env: Env, ca: Unknown<'_>) -> Pending {
        let ca = task::optional::<String>(&env, ca, "ca");
        self.run_with(ca, |cl, ca| async move {
            let crl = cl.crl(ca.as_deref()).await?;
            Ok(SignedCrl { crl: crl.pem, crl_number: crl.number })
        })
    }

    // ---- inventory and audit --------------------------------------------------------------

    /// Certificates matching `query` (every certificate that is not deleted by default).
    #[napi(
        ts_args_type = "query?: CertificateQuery",
        ts_return_type = "Promise<CertificateRecord[]>"
    )]
    pub fn list(&self, env: Env, query: Unknown<'_>) -> Pending {
        let query = task::optional::<CertificateQuery>(&env, query, "query");
        self.run_with(query, |cl, query| async move { cl.list(&query.unwrap_or_default()).await })
    }

    /// How many certificates match `query` (its `limit` and `offset` aside).
    #[napi(ts_args_type = "query?: CertificateQuery", ts_return_type = "Promise<number>")]
    pub fn count(&self, env: Env, query: Unknown<'_>) -> Pending {
        let query = task::optional::<CertificateQuery>(&env, query, "query");
        self.run_with(query, |cl, query| async move { cl.count(&query.unwrap_or_default()).await })
    }

    /// Live certificates whose notAfter falls within `days` from now.
    #[napi(ts_args_type = "days: number", ts_return_type = "Promise<CertificateRecord[]>")]
    pub fn expiring_within(&self, env: Env, days: Unknown<'_>) -> Pending {
        let days = task::required::<u32>(&env, days, "days");
        self.run_with(days, |cl, days| async move { cl.expiring_within(days).await })
    }

    /// One certificate by id or serial number.
    #[napi(ts_args_type = "id: string", ts_return_type = "Promise<CertificateRecord>")]
    pub fn show(&self, id: Unknown<'_>) -> Pending {
        let id = task::string(id, "id");
        self.run_with(id, |cl, id| async move { cl.show(&id).await })
    }

    /// Audit events matching `query`, oldest first.
    #[napi(ts_args_type = "query?: AuditQuery", ts_return_type = "Promise<AuditEvent[]>")]
    pub fn audit_log(&self, env: Env, query: Unknown<'_>) -> Pending {
        let query = task::optional::<AuditQuery>(&env, query, "query");
        self.run_with(
            query,
            |cl, query| async move { cl.audit_log(&query.unwrap_or_default()).await },
        )
    }

    /// Live certificates with auto-renewal on that are due now, each with the reason.
    #[napi(ts_return_type = "Promise<DueRenewal[]>")]
    pub fn renewals_due(&self) -> Pending {
        self.run(|cl| async move { cl.renewals_due().await })
    }

    /// Mark every certificate whose notAfter has passed as expired and return them.
    #[napi(ts_return_type = "Promise<CertificateRecord[]>")]
    pub fn expire_overdue(&self) -> Pending {
        self.run(|cl| async move { cl.expire_overdue().await })
    }
}

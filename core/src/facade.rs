//! [`Certloop`], the one handle a user holds. Every binding wraps it.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::ca::{
    CaConnector, CaSpec, Crl, CrlEntry, InternalCa, Issued, Revoker, SelfSignedIssuer,
};
use crate::clock::{Clock, SystemClock};
use crate::crypto::{self, PrivateKey};
use crate::csr::{CsrBuilder, CsrSpec, DefaultCsrBuilder};
use crate::error::{Error, Result};
use crate::lifecycle::issuance::{self, ApprovedOrder, NewRecord};
use crate::model::{
    AuditAction, AuditEvent, AuditOutcome, CertificateRecord, CertificateState, IssueRequest,
    IssuedCertificate, RevocationReason, Subject,
};
use crate::policy::{
    CertificateProfile, CertificateTemplate, LifecyclePolicy, ProfileIssuer, RenewalChain,
    RenewalReason, TemplatePreset,
};
use crate::store::{
    AuditQuery, CertificateQuery, CertificateRequestRow, MasterKey, NewCertificate, Sealer,
    SqliteStore, Store, StoredCa, ca_key_context, certificate_key_context,
};

/// Names of what [`Certloop::init_default`] creates.
pub mod defaults {
    /// The default root CA.
    pub const ROOT_CA: &str = "certloop-root";
    /// The default issuing (intermediate) CA.
    pub const ISSUING_CA: &str = "certloop-issuing";
    /// The default template and profile slug, used when a request names no profile.
    pub const PROFILE: &str = "tls-server";
}

/// How long a CRL is valid before the next one is due.
const CRL_VALIDITY: time::Duration = time::Duration::days(7);

/// A CA as listed: everything but its key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaSummary {
    /// Store id.
    pub id: String,
    /// Short name.
    pub name: String,
    /// Parent CA id; absent for a root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    /// Subject, one line.
    pub subject: String,
    /// Start of validity.
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    /// End of validity.
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    /// Key algorithm.
    pub key_algorithm: String,
    /// SHA-256 fingerprint of the certificate.
    pub fingerprint_sha256: String,
    /// The CA certificate, PEM.
    pub certificate: String,
    /// Its certificate chain up to the root, PEM (itself first).
    pub certificate_chain: String,
}

/// What [`Certloop::init_default`] set up.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DefaultSetup {
    /// The root CA.
    pub root_ca: CaSummary,
    /// The issuing CA.
    pub issuing_ca: CaSummary,
    /// The default profile.
    pub profile: CertificateProfile,
    /// Whether anything was created now (false when everything existed).
    pub created: bool,
}

/// A certificate that is due for renewal, and why.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DueRenewal {
    /// The certificate.
    pub certificate: CertificateRecord,
    /// Which check fired and what it saw.
    pub reason: RenewalReason,
}

/// The certloop library handle: cheap to clone, safe to share between threads and tasks.
#[derive(Clone, Debug)]
pub struct Certloop {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    sealer: Arc<Sealer>,
    clock: Arc<dyn Clock>,
    csr_builder: Arc<dyn CsrBuilder>,
    actor: String,
    /// CAs whose keys are already unsealed, by id.
    cas: RwLock<HashMap<String, Arc<InternalCa>>>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certloop")
            .field("store", &self.store)
            .field("actor", &self.actor)
            .finish_non_exhaustive()
    }
}

impl Certloop {
    /// Open (or create) a state directory: `certloop.db` (SQLite) and `master.key` (0600),
    /// unless `CERTLOOP_MASTER_KEY` provides the key.
    pub async fn open(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        create_private_dir(dir)?;
        let master_key = MasterKey::from_env_or_file(dir)?;
        let store = SqliteStore::open(&dir.join("certloop.db"))?;
        Self::with_store(Arc::new(store), master_key)
    }

    /// A throwaway instance: in-memory SQLite and a random master key.
    pub async fn in_memory() -> Result<Self> {
        Self::with_store(Arc::new(SqliteStore::in_memory()?), MasterKey::generate()?)
    }

    /// An instance over any [`Store`], sealing secrets with `master_key`.
    pub fn with_store(store: Arc<dyn Store>, master_key: MasterKey) -> Result<Self> {
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                sealer: Arc::new(Sealer::new(&master_key)?),
                clock: Arc::new(SystemClock),
                csr_builder: Arc::new(DefaultCsrBuilder),
                actor: "api".to_owned(),
                cas: RwLock::new(HashMap::new()),
            }),
        })
    }

    /// The same instance with another clock (tests, simulations). Call before sharing it.
    pub fn with_clock(self, clock: Arc<dyn Clock>) -> Self {
        self.rebuild(|inner| inner.clock = clock)
    }

    /// The same instance recording `actor` in audit events (`cli`, a user name, a service).
    pub fn with_actor(self, actor: impl Into<String>) -> Self {
        let actor = actor.into();
        self.rebuild(|inner| inner.actor = actor)
    }

    fn rebuild(self, change: impl FnOnce(&mut Inner)) -> Self {
        let inner = &self.inner;
        let mut copy = Inner {
            store: inner.store.clone(),
            sealer: inner.sealer.clone(),
            clock: inner.clock.clone(),
            csr_builder: inner.csr_builder.clone(),
            actor: inner.actor.clone(),
            cas: RwLock::new(HashMap::new()),
        };
        change(&mut copy);
        Self { inner: Arc::new(copy) }
    }

    fn now(&self) -> OffsetDateTime {
        self.inner.clock.now()
    }

    // ---- CAs -------------------------------------------------------------------------------

    /// Create a CA from `spec`: a root, or an intermediate when `spec.parent` names a CA.
    pub async fn create_ca(&self, spec: CaSpec) -> Result<CaSummary> {
        if self.inner.store.get_ca(&spec.name).await.is_ok() {
            return Err(Error::AlreadyExists { what: "CA", id: spec.name });
        }
        let parent = match &spec.parent {
            Some(parent) => Some(self.load_ca(parent).await?),
            None => None,
        };
        let id = uuid::Uuid::new_v4().to_string();
        let key = PrivateKey::generate(spec.key_algorithm)?;
        let ca = InternalCa::create(id.clone(), spec, key, parent.as_deref(), self.now())?;
        let sealed_key = self.inner.sealer.seal(&ca.key().to_pkcs8_der(), &ca_key_context(&id))?;
        let stored = StoredCa {
            id: id.clone(),
            name: ca.name().to_owned(),
            parent_id: parent.as_ref().map(|p| p.id().to_owned()),
            certificate_pem: ca.certificate_pem().to_owned(),
            sealed_key,
            config: serde_json::to_value(ca.spec()).map_err(Error::store)?,
            created_at: self.now(),
        };
        self.inner.store.insert_ca(&stored).await?;
        self.audit(
            AuditAction::CaCreated,
            None,
            Some(&id),
            AuditOutcome::Success,
            format!("CA {}", ca.name()),
        )
        .await?;
        let summary = summarize(&stored, &ca)?;
        self.cache_ca(Arc::new(ca));
        Ok(summary)
    }

    /// Every CA.
    pub async fn list_cas(&self) -> Result<Vec<CaSummary>> {
        let mut out = Vec::new();
        for stored in self.inner.store.list_cas().await? {
            let ca = self.load_ca(&stored.id).await?;
            out.push(summarize(&stored, &ca)?);
        }
        Ok(out)
    }

    /// One CA by id or name, with its certificate and chain (no key).
    pub async fn get_ca(&self, id_or_name: &str) -> Result<CaSummary> {
        let stored = self.inner.store.get_ca(id_or_name).await?;
        let ca = self.load_ca(&stored.id).await?;
        summarize(&stored, &ca)
    }

    /// The unsealed CA, from the cache or the store.
    async fn load_ca(&self, id_or_name: &str) -> Result<Arc<InternalCa>> {
        if let Some(ca) = self.cached_ca(id_or_name) {
            return Ok(ca);
        }
        let stored = self.inner.store.get_ca(id_or_name).await?;
        if let Some(ca) = self.cached_ca(&stored.id) {
            return Ok(ca);
        }
        let mut parent_chain = Vec::new();
        let mut next = stored.parent_id.clone();
        while let Some(parent_id) = next {
            if parent_chain.len() > 16 {
                return Err(Error::store(format!("CA {} has a parent loop", stored.name)));
            }
            let parent = self.inner.store.get_ca(&parent_id).await?;
            parent_chain.push(crypto::inspect_certificate(parent.certificate_pem.as_bytes())?.der);
            next = parent.parent_id;
        }
        let pkcs8 = self.inner.sealer.open(&stored.sealed_key, &ca_key_context(&stored.id))?;
        let key = PrivateKey::from_pkcs8_der(&pkcs8)?;
        let spec: CaSpec = serde_json::from_value(stored.config.clone())
            .map_err(|e| Error::store(format!("CA {} config is unreadable: {e}", stored.name)))?;
        let ca = Arc::new(InternalCa::from_parts(
            stored.id.clone(),
            spec,
            &stored.certificate_pem,
            key,
            parent_chain,
        )?);
        self.cache_ca(ca.clone());
        Ok(ca)
    }

    fn cached_ca(&self, id_or_name: &str) -> Option<Arc<InternalCa>> {
        let cas = self.inner.cas.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        cas.get(id_or_name).or_else(|| cas.values().find(|ca| ca.name() == id_or_name)).cloned()
    }

    fn cache_ca(&self, ca: Arc<InternalCa>) {
        let mut cas = self.inner.cas.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        cas.insert(ca.id().to_owned(), ca);
    }

    // ---- templates and profiles ------------------------------------------------------------

    /// Create or replace a template (by id; slugs are unique).
    pub async fn save_template(
        &self,
        mut template: CertificateTemplate,
    ) -> Result<CertificateTemplate> {
        template.validate_definition()?;
        if template.id.is_empty() {
            template.id = match self.get_template(&template.slug).await {
                Ok(existing) => existing.id,
                Err(_) => uuid::Uuid::new_v4().to_string(),
            };
        }
        let body = serde_json::to_value(&template).map_err(Error::store)?;
        self.inner.store.put_template(&template.id, &template.slug, &body).await?;
        self.audit(
            AuditAction::TemplateSaved,
            None,
            Some(&template.id),
            AuditOutcome::Success,
            template.slug.clone(),
        )
        .await?;
        Ok(template)
    }

    /// A template by id or slug.
    pub async fn get_template(&self, id_or_slug: &str) -> Result<CertificateTemplate> {
        let body = self.inner.store.get_template(id_or_slug).await?;
        serde_json::from_value(body)
            .map_err(|e| Error::store(format!("template {id_or_slug} is unreadable: {e}")))
    }

    /// Every template.
    pub async fn list_templates(&self) -> Result<Vec<CertificateTemplate>> {
        let bodies = self.inner.store.list_templates().await?;
        bodies.into_iter().map(|b| serde_json::from_value(b).map_err(Error::store)).collect()
    }

    /// Create or replace a profile. Its template and issuer must exist.
    pub async fn save_profile(
        &self,
        mut profile: CertificateProfile,
    ) -> Result<CertificateProfile> {
        profile.validate_definition()?;
        let template = self.get_template(&profile.template_id).await?;
        profile.template_id = template.id;
        if let ProfileIssuer::InternalCa { ca_id } = &mut profile.issuer {
            *ca_id = self.load_ca(ca_id).await?.id().to_owned();
        }
        if profile.id.is_empty() {
            profile.id = match self.get_profile(&profile.slug).await {
                Ok(existing) => existing.id,
                Err(_) => uuid::Uuid::new_v4().to_string(),
            };
        }
        let body = serde_json::to_value(&profile).map_err(Error::store)?;
        self.inner.store.put_profile(&profile.id, &profile.slug, &body).await?;
        self.audit(
            AuditAction::ProfileSaved,
            None,
            Some(&profile.id),
            AuditOutcome::Success,
            profile.slug.clone(),
        )
        .await?;
        Ok(profile)
    }

    /// A profile by id or slug.
    pub async fn get_profile(&self, id_or_slug: &str) -> Result<CertificateProfile> {
        let body = self.inner.store.get_profile(id_or_slug).await?;
        serde_json::from_value(body)
            .map_err(|e| Error::store(format!("profile {id_or_slug} is unreadable: {e}")))
    }

    /// Every profile.
    pub async fn list_profiles(&self) -> Result<Vec<CertificateProfile>> {
        let bodies = self.inner.store.list_profiles().await?;
        bodies.into_iter().map(|b| serde_json::from_value(b).map_err(Error::store)).collect()
    }

    /// Set up the embedded default, once: a root CA, an issuing CA under it, and a `tls-server`
    /// template and profile. Calling it again changes nothing.
    pub async fn init_default(&self) -> Result<DefaultSetup> {
        let mut created = false;
        let root = match self.get_ca(defaults::ROOT_CA).await {
            Ok(root) => root,
            Err(Error::NotFound { .. }) => {
                created = true;
                self.create_ca(default_ca_spec(defaults::ROOT_CA, "certloop Root CA", None, None))
                    .await?
            }
            Err(e) => return Err(e),
        };
        let issuing = match self.get_ca(defaults::ISSUING_CA).await {
            Ok(issuing) => issuing,
            Err(Error::NotFound { .. }) => {
                created = true;
                let spec = default_ca_spec(
                    defaults::ISSUING_CA,
                    "certloop Issuing CA 1",
                    Some(root.id.clone()),
                    Some(0),
                );
                self.create_ca(spec).await?
            }
            Err(e) => return Err(e),
        };
        if let Err(Error::NotFound { .. }) = self.get_template(defaults::PROFILE).await {
            created = true;
            self.save_template(CertificateTemplate::from_preset(
                defaults::PROFILE,
                TemplatePreset::TlsServer,
            ))
            .await?;
        }
        let profile = match self.get_profile(defaults::PROFILE).await {
            Ok(profile) => profile,
            Err(Error::NotFound { .. }) => {
                created = true;
                self.save_profile(default_profile(&issuing.id)?).await?
            }
            Err(e) => return Err(e),
        };
        Ok(DefaultSetup { root_ca: root, issuing_ca: issuing, profile, created })
    }

    // ---- issuance ---------------------------------------------------------------------------

    /// Issue one certificate under the request's profile (the default profile when absent).
    pub async fn issue(&self, request: IssueRequest) -> Result<IssuedCertificate> {
        let mut issued = self.issue_many(vec![request], |_, _| {}).await?;
        issued.pop().unwrap_or_else(|| Err(Error::store("no result for the request")))
    }

    /// Issue many certificates, sharing one store transaction: each request gets its own result
    /// (one refused request does not stop the others). `progress(done, total)` is called as
    /// certificates are signed.
    pub async fn issue_many(
        &self,
        requests: Vec<IssueRequest>,
        mut progress: impl FnMut(usize, usize) + Send,
    ) -> Result<Vec<Result<IssuedCertificate>>> {
        let total = requests.len();
        let mut results = Vec::with_capacity(total);
        let mut batch = Vec::new();
        let mut contexts: HashMap<String, Arc<IssueContext>> = HashMap::new();
        for (done, request) in requests.into_iter().enumerate() {
            let slug = request.profile_id.clone().unwrap_or_else(|| defaults::PROFILE.to_owned());
            let context = match contexts.get(&slug) {
                Some(context) => Ok(context.clone()),
                None => self.issue_context(&slug).await.map(Arc::new),
            };
            let outcome = match context {
                Ok(context) => {
                    contexts.insert(slug, context.clone());
                    self.sign(&context, &request, None).await
                }
                Err(e) => Err(e),
            };
            match outcome {
                Ok((new, response)) => {
                    results.push(Ok(response));
                    batch.push(new);
                }
                Err(e) => {
                    self.refused(&e, None).await?;
                    results.push(Err(e));
                }
            }
            progress(done + 1, total);
        }
        if !batch.is_empty() {
            self.inner.store.insert_certificates(&batch).await?;
        }
        Ok(results)
    }

    /// Everything a request needs from its profile, resolved once per batch.
    async fn issue_context(&self, profile_id: &str) -> Result<IssueContext> {
        let profile = self.get_profile(profile_id).await?;
        let template = self.get_template(&profile.template_id).await?;
        let (connector, ca): (Arc<dyn CaConnector>, Option<Arc<InternalCa>>) = match &profile.issuer
        {
            ProfileIssuer::InternalCa { ca_id } => {
                let ca = self.load_ca(ca_id).await?;
                (ca.clone(), Some(ca))
            }
            ProfileIssuer::SelfSigned => (Arc::new(SelfSignedIssuer), None),
        };
        Ok(IssueContext { profile, template, connector, ca })
    }

    /// Approve, sign and build the record for one request; nothing is stored yet.
    async fn sign(
        &self,
        context: &IssueContext,
        request: &IssueRequest,
        renewed: Option<&CertificateRecord>,
    ) -> Result<(NewCertificate, IssuedCertificate)> {
        let now = self.now();
        let issuer_signature = context.ca.as_ref().map(|ca| ca.key().signature_algorithm());
        let ApprovedOrder { mut order, generated_key, csr_pem } =
            issuance::approve(request, &context.profile, &context.template, issuer_signature, now)?;
        if context.connector.capabilities().requires_csr && order.csr.is_none() {
            // The library generated the key: build the CSR an external CA needs.
            let key = generated_key
                .as_deref()
                .ok_or_else(|| Error::invalid("csr", "a CSR or a generated key is needed"))?;
            let spec = CsrSpec {
                subject: order.subject.clone(),
                alt_names: order.alt_names.clone(),
                key_usages: order.key_usages.clone(),
                extended_key_usages: order.extended_key_usages.clone(),
                signature_algorithm: None,
            };
            order.csr = Some(self.inner.csr_builder.build(key, &spec)?);
        }
        let issued: Issued = match renewed {
            Some(previous) => context.connector.renew(previous, &order).await?,
            None => context.connector.issue(&order).await?,
        };
        let certificate_id = uuid::Uuid::new_v4().to_string();
        let request_id = uuid::Uuid::new_v4().to_string();
        let key_managed =
            generated_key.is_some() && (request.manage_key || context.profile.manage_keys);
        let record = issuance::record(
            &issued,
            NewRecord {
                certificate_id: certificate_id.clone(),
                request_id: request_id.clone(),
                profile: &context.profile,
                ca_id: context.ca.as_ref().map(|ca| ca.id().to_owned()),
                key_managed,
                renewed_from: renewed.map(|r| r.certificate_id.clone()),
                now,
            },
        )?;
        let sealed_key = match (&generated_key, key_managed) {
            (Some(key), true) => Some(
                self.inner
                    .sealer
                    .seal(&key.to_pkcs8_der(), &certificate_key_context(&certificate_id))?,
            ),
            _ => None,
        };
        let response = IssuedCertificate {
            certificate: record.certificate.clone(),
            certificate_chain: record.certificate_chain.clone(),
            issuing_ca_certificate: issuance::issuing_ca_pem(&issued),
            private_key: generated_key.map(|k| k.to_pkcs8_pem()),
            serial_number: record.serial_number.clone(),
            certificate_id: certificate_id.clone(),
            certificate_request_id: request_id.clone(),
        };
        let (action, detail) = match renewed {
            Some(previous) => (
                AuditAction::Renewed,
                format!("renewed {} as serial {}", previous.certificate_id, record.serial_number),
            ),
            None => (
                AuditAction::Issued,
                format!("serial {} under profile {}", record.serial_number, context.profile.slug),
            ),
        };
        let event = self.event(action, Some(&certificate_id), None, AuditOutcome::Success, detail);
        let request_row = CertificateRequestRow {
            id: request_id,
            profile_id: Some(context.profile.id.clone()),
            csr_pem,
            request_json: serde_json::to_value(request).map_err(Error::store)?,
            created_at: now,
        };
        Ok((NewCertificate { record, sealed_key, request: request_row, event }, response))
    }

    /// Issue a replacement for certificate `id` with the same names, a fresh key and the same
    /// lifetime, under its profile's current policy. The old certificate stays valid.
    pub async fn renew(&self, id: &str) -> Result<IssuedCertificate> {
        let mut previous = self.show(id).await?;
        if !previous.state.is_live() {
            return Err(Error::InvalidState(format!(
                "certificate {} is {} and cannot be renewed",
                previous.certificate_id, previous.state
            )));
        }
        let profile_id = previous.profile_id.clone().ok_or_else(|| {
            Error::InvalidState(format!(
                "certificate {} has no profile to renew under",
                previous.certificate_id
            ))
        })?;
        let context = self.issue_context(&profile_id).await?;
        let info = crypto::inspect_certificate(previous.certificate.as_bytes())?;
        let lifetime = (previous.not_after - previous.not_before).whole_seconds().max(1);
        let request = IssueRequest {
            profile_id: Some(profile_id),
            csr: None,
            attributes: crate::model::CertificateAttributes {
                subject: info.subject.clone(),
                ttl: Some(crate::model::Ttl::from_seconds(u64::try_from(lifetime).unwrap_or(1))),
                key_algorithm: previous.key_algorithm,
                key_usages: Some(info.key_usages.clone()),
                extended_key_usages: Some(info.extended_key_usages.clone()),
                alt_names: Some(previous.alt_names.clone()),
                signature_algorithm: None,
            },
            manage_key: previous.key_managed,
        };
        let signed = self.sign(&context, &request, Some(&previous)).await;
        let (new, response) = match signed {
            Ok(ok) => ok,
            Err(e) => {
                self.refused(&e, Some(&previous.certificate_id)).await?;
                return Err(e);
            }
        };
        self.inner.store.insert_certificates(std::slice::from_ref(&new)).await?;
        previous.renewed_by = Some(new.record.certificate_id.clone());
        previous.updated_at = self.now();
        let note = self.event(
            AuditAction::Renewed,
            Some(&previous.certificate_id),
            None,
            AuditOutcome::Success,
            format!("replaced by {}", new.record.certificate_id),
        );
        self.inner.store.update_certificate(&previous, &note).await?;
        Ok(response)
    }

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

    async fn change_state(
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

    // ---- inventory and audit ----------------------------------------------------------------

    /// Certificates matching `query`.
    pub async fn list(&self, query: &CertificateQuery) -> Result<Vec<CertificateRecord>> {
        self.inner.store.search_certificates(query).await
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
        for record in self.list(&query).await? {
            if !record.auto_renew || record.renewed_by.is_some() {
                continue;
            }
            let chain = RenewalChain::default_for(record.renew_before_days);
            if let Some(reason) = chain.renewal_due(&record, now) {
                due.push(DueRenewal { certificate: record, reason });
            }
        }
        Ok(due)
    }

    // ---- audit helpers ----------------------------------------------------------------------

    fn event(
        &self,
        action: AuditAction,
        certificate_id: Option<&str>,
        subject_id: Option<&str>,
        outcome: AuditOutcome,
        detail: String,
    ) -> AuditEvent {
        AuditEvent {
            sequence: 0,
            at: self.now(),
            action,
            certificate_id: certificate_id.map(str::to_owned),
            subject_id: subject_id.map(str::to_owned),
            actor: self.inner.actor.clone(),
            outcome,
            detail,
        }
    }

    async fn audit(
        &self,
        action: AuditAction,
        certificate_id: Option<&str>,
        subject_id: Option<&str>,
        outcome: AuditOutcome,
        detail: String,
    ) -> Result<()> {
        let event = self.event(action, certificate_id, subject_id, outcome, detail);
        self.inner.store.append_audit(&event).await.map(|_| ())
    }

    /// Record a refused request. Input errors are the caller's mistake and are not logged;
    /// policy and CA refusals are.
    async fn refused(&self, error: &Error, certificate_id: Option<&str>) -> Result<()> {
        match error {
            Error::PolicyViolation { .. } | Error::Ca { .. } => {
                self.audit(
                    AuditAction::Refused,
                    certificate_id,
                    None,
                    AuditOutcome::Failure,
                    error.to_string(),
                )
                .await
            }
            _ => Ok(()),
        }
    }
}

/// What one profile resolves to for issuing.
struct IssueContext {
    profile: CertificateProfile,
    template: CertificateTemplate,
    connector: Arc<dyn CaConnector>,
    ca: Option<Arc<InternalCa>>,
}

fn default_ca_spec(
    name: &str,
    cn: &str,
    parent: Option<String>,
    path_length: Option<u8>,
) -> CaSpec {
    CaSpec {
        name: name.to_owned(),
        subject: Subject { organization: Some("certloop".to_owned()), ..Subject::common_name(cn) },
        key_algorithm: crate::model::KeyAlgorithm::EcP256,
        ttl: None,
        parent,
        path_length,
        name_constraints: None,
        crl_distribution_points: Vec::new(),
        ca_issuers: Vec::new(),
    }
}

fn default_profile(issuing_ca_id: &str) -> Result<CertificateProfile> {
    let json = serde_json::json!({
        "slug": defaults::PROFILE,
        "description": "TLS server certificates from the embedded issuing CA",
        "templateId": defaults::PROFILE,
        "issuer": {"type": "internalCa", "caId": issuing_ca_id},
        "enrollmentType": "API",
        "apiConfig": {"autoRenew": true, "renewBeforeDays": 30},
    });
    serde_json::from_value(json).map_err(|e| Error::store(format!("default profile: {e}")))
}

fn summarize(stored: &StoredCa, ca: &InternalCa) -> Result<CaSummary> {
    let info = crypto::inspect_certificate(stored.certificate_pem.as_bytes())?;
    Ok(CaSummary {
        id: stored.id.clone(),
        name: stored.name.clone(),
        parent_id: stored.parent_id.clone(),
        subject: info.subject_dn.clone(),
        not_before: info.not_before,
        not_after: info.not_after,
        key_algorithm: ca.key().algorithm().to_string(),
        fingerprint_sha256: info.fingerprint_sha256.clone(),
        certificate: stored.certificate_pem.clone(),
        certificate_chain: ca.chain_pem(),
    })
}

/// Create `dir` (and parents) with mode 0700 if it does not exist.
fn create_private_dir(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|e| Error::io(dir.display(), e))
}

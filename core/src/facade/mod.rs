//! [`Certloop`], the one handle a user holds. Every binding wraps it.
//!
//! One file per concern, each an `impl Certloop` block: CAs ([`authorities`]), templates and
//! profiles ([`policies`]), issuance and renewal ([`issuing`]), revocation and CRLs
//! ([`revocation`]), the inventory ([`inventory`]). New capabilities add a file here.

mod acme;
mod acme_server;
mod authorities;
mod deploying;
mod discovering;
mod inventory;
mod issuing;
mod managing;
mod policies;
mod revocation;
mod scripts;
mod tokens;

pub use acme::{AcmeAccountSummary, OrderStatus, PendingOrder};
pub use acme_server::{CreatedEab, RenewalWindow, ValidationJob, external_account_required};
pub use discovering::{
    DiscoveredItem, DiscoveredLocation, DiscoveryOutcome, Drift, DriftKind, RediscoveryReport,
};
pub use managing::{
    Action, ActionResult, BatchItem, BatchOptions, BatchReport, ManageRequest, SweepOptions,
    SweepReport,
};

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, RwLock};

use serde::de::DeserializeOwned;
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
use crate::lifecycle::notify::{NoNotifier, Notifier};
use crate::model::{
    AuditAction, AuditEvent, AuditOutcome, CertificateRecord, CertificateState, IssueRequest,
    IssuedCertificate, RevocationReason, Subject,
};
use crate::policy::{
    CertificateProfile, CertificateTemplate, LifecyclePolicy, ProfileIssuer, RenewalChain,
    RenewalReason, TemplatePreset,
};
use crate::store::{
    AuditQuery, CertificateQuery, CertificateRequestRow, DocumentKind, MasterKey, NewCertificate,
    Sealer, SqliteStore, Store, StoredCa, ca_key_context, certificate_key_context,
};

/// The store's record of which master key seals its secrets (see
/// [`Certloop::check_master_key`]).
const MASTER_KEY_CHECK: DocumentKind =
    DocumentKind { kind: "masterKeyCheck", what: "master key check" };
const MASTER_KEY_CHECK_SLUG: &str = "master-key";

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
    /// CAs whose keys are already unsealed, by id. The caches are shared with the copies
    /// [`Certloop::with_actor`] and the other `with_` calls make, so a handle per request
    /// (`certloop serve`) costs no unsealing or parsing.
    cas: Arc<RwLock<HashMap<String, Arc<InternalCa>>>>,
    /// Script connectors by profile id, kept so their scripts stay loaded between calls.
    scripts: Arc<std::sync::Mutex<HashMap<String, Arc<crate::ca::ScriptConnector>>>>,
    /// Parsed profiles with their templates, by the id or slug asked for (see
    /// [`Certloop::profile_and_template`]).
    policies: Arc<std::sync::Mutex<HashMap<String, policies::CachedPolicy>>>,
    /// When set, script CA profiles may only name scripts inside this directory (canonical).
    script_root: Option<std::path::PathBuf>,
    /// Connectors registered at run time, by name (profiles with a `connector` issuer).
    connectors: Arc<RwLock<HashMap<String, Arc<dyn CaConnector>>>>,
    /// Where lifecycle notifications go (renewal or deploy failed, pin mismatch, expiry).
    notifier: Arc<dyn Notifier>,
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
        Self::open_with_store(dir, None).await
    }

    /// Open a state directory whose inventory lives at `store` (see
    /// [`open_location`](crate::store::open_location): a `postgres://` URL that several agents
    /// share, or an SQLite file); `None` is `certloop.db` in `dir`. The master key comes from
    /// `dir` or `CERTLOOP_MASTER_KEY` as with [`open`](Self::open): every process sharing a
    /// database must hold the same key to read what the others sealed.
    pub async fn open_with_store(dir: impl AsRef<Path>, store: Option<&str>) -> Result<Self> {
        let dir = dir.as_ref();
        create_private_dir(dir)?;
        let master_key = MasterKey::from_env_or_file(dir)?;
        let store = match store {
            Some(location) => crate::store::open_location(location).await?,
            None => Arc::new(SqliteStore::open(&dir.join("certloop.db"))?),
        };
        let certloop = Self::with_store(store, master_key)?;
        certloop.check_master_key().await?;
        Ok(certloop)
    }

    /// Check that this instance's master key is the one the store's secrets are sealed with:
    /// the store keeps the check value ([`Sealer::key_check`]) of the first key that opened
    /// it, and another key's value differs. Without this, a second agent given another key would seal new secrets that no
    /// one else can read. [`open_with_store`](Self::open_with_store) calls it;
    /// [`with_store`](Self::with_store) callers may.
    pub async fn check_master_key(&self) -> Result<()> {
        let store = &self.inner.store;
        let check = self.inner.sealer.key_check();
        let read = || async {
            match store.get_document(MASTER_KEY_CHECK, MASTER_KEY_CHECK_SLUG).await {
                Ok(body) => Ok(Some(body)),
                Err(Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            }
        };
        let body = match read().await? {
            Some(body) => body,
            None => {
                // The first key to open this store. The document's id is the key's check value
                // and its slug is fixed, so when two processes with different keys open a new
                // store at once the second write is refused (the slug is taken) and that
                // process reads the first one's value.
                let body = serde_json::json!({ "id": check, "hmacSha256": check });
                match store
                    .put_document(MASTER_KEY_CHECK, check, MASTER_KEY_CHECK_SLUG, &body)
                    .await
                {
                    Ok(()) | Err(Error::AlreadyExists { .. }) => {}
                    Err(e) => return Err(e),
                }
                read().await?.unwrap_or(body)
            }
        };
        let stored = body.get("hmacSha256").and_then(|v| v.as_str());
        match stored {
            Some(stored) if stored == check => Ok(()),
            _ => Err(Error::invalid(
                "master key",
                format!(
                    "is not the key the inventory at {} was sealed with; every process sharing \
                     a store needs the same key ({} or the master.key file)",
                    store.location(),
                    crate::store::MASTER_KEY_ENV
                ),
            )),
        }
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
                cas: Arc::default(),
                scripts: Arc::default(),
                policies: Arc::default(),
                script_root: None,
                connectors: Arc::new(RwLock::new(HashMap::new())),
                notifier: Arc::new(NoNotifier),
            }),
        })
    }

    /// The same instance with another clock (tests, simulations). Call before sharing it.
    pub fn with_clock(self, clock: Arc<dyn Clock>) -> Self {
        self.rebuild(|inner| inner.clock = clock)
    }

    /// The same instance sending lifecycle notifications to `notifier` (e.g. a
    /// [`WebhookNotifier`](crate::lifecycle::notify::WebhookNotifier)).
    pub fn with_notifier(self, notifier: Arc<dyn Notifier>) -> Self {
        self.rebuild(|inner| inner.notifier = notifier)
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
            cas: inner.cas.clone(),
            scripts: inner.scripts.clone(),
            policies: inner.policies.clone(),
            script_root: inner.script_root.clone(),
            connectors: inner.connectors.clone(),
            notifier: inner.notifier.clone(),
        };
        change(&mut copy);
        Self { inner: Arc::new(copy) }
    }

    fn now(&self) -> OffsetDateTime {
        self.inner.clock.now()
    }

    /// The clock this instance reads (and the agent sleeps on).
    pub fn clock(&self) -> Arc<dyn Clock> {
        self.inner.clock.clone()
    }

    // ---- typed store documents --------------------------------------------------------------

    /// Store `value` as the `kind` document `id` (slug unique per kind).
    async fn put_typed<T: Serialize>(
        &self,
        kind: DocumentKind,
        id: &str,
        slug: &str,
        value: &T,
    ) -> Result<()> {
        let body = serde_json::to_value(value).map_err(Error::store)?;
        self.inner.store.put_document(kind, id, slug, &body).await
    }

    /// The `kind` document with this id or slug.
    async fn get_typed<T: DeserializeOwned>(
        &self,
        kind: DocumentKind,
        id_or_slug: &str,
    ) -> Result<T> {
        let body = self.inner.store.get_document(kind, id_or_slug).await?;
        serde_json::from_value(body)
            .map_err(|e| Error::store(format!("{} {id_or_slug} is unreadable: {e}", kind.what)))
    }

    /// Every `kind` document.
    async fn list_typed<T: DeserializeOwned>(&self, kind: DocumentKind) -> Result<Vec<T>> {
        let bodies = self.inner.store.list_documents(kind).await?;
        bodies
            .into_iter()
            .map(|body| {
                serde_json::from_value(body)
                    .map_err(|e| Error::store(format!("a stored {} is unreadable: {e}", kind.what)))
            })
            .collect()
    }

    /// The id to save a `kind` document under: `id` when set, else the id of the document that
    /// already has `slug` (so saving by slug replaces it), else a new UUID.
    async fn document_id(&self, kind: DocumentKind, id: &str, slug: &str) -> Result<String> {
        if !id.is_empty() {
            return Ok(id.to_owned());
        }
        match self.inner.store.get_document(kind, slug).await {
            Ok(existing) => match existing.get("id").and_then(|id| id.as_str()) {
                Some(existing_id) if !existing_id.is_empty() => Ok(existing_id.to_owned()),
                _ => Err(Error::store(format!("stored {} {slug} has no id", kind.what))),
            },
            Err(Error::NotFound { .. }) => Ok(uuid::Uuid::new_v4().to_string()),
            Err(e) => Err(e),
        }
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
            Error::PolicyViolation { .. } | Error::Ca { .. } | Error::Script { .. } => {
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

/// A new inventory row id: a UUID v7 (RFC 9562), time-ordered, so that inserting certificates,
/// requests and their audit events appends to the id indexes instead of dirtying a random page
/// of each per row (what a v4 id costs a growing store at every commit). Not for secrets or
/// anything that must be unguessable: tokens and account ids stay v4.
pub(crate) fn record_id() -> String {
    uuid::Uuid::now_v7().to_string()
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

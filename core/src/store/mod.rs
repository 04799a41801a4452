//! The inventory store: CAs, templates, profiles, certificate requests, certificates and the
//! append-only audit log.
//!
//! [`Store`] is the one trait the engine talks to (it holds an `Arc<dyn Store>`). Its
//! signatures use only certloop and std types, so a PostgreSQL implementation can follow the
//! embedded [`SqliteStore`] without changing callers. Policy objects (templates, profiles) are
//! kept as JSON documents with indexed id and slug: the store does not need to understand them.
//! Certificates live in a real table with columns, so that expiry sweeps and searches use
//! indexes. Private keys are only ever stored sealed with [`Sealer`] (AES-256-GCM).
//!
//! Timestamps are kept to the microsecond (what PostgreSQL's `timestamptz` holds), except a
//! certificate's `not_before`/`not_after`, which X.509 encodes to the second
//! (RFC 5280 §4.1.2.5) and the store keeps in whole seconds.

mod codec;
#[cfg(feature = "postgres")]
mod postgres;
mod seal;
mod sqlite;

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use time::OffsetDateTime;

#[cfg(feature = "postgres")]
pub use postgres::PostgresStore;
pub use seal::{
    MASTER_KEY_ENV, MASTER_KEY_FILE, MasterKey, Sealer, ca_key_context, certificate_key_context,
    connector_param_context,
};
pub use sqlite::SqliteStore;

use crate::error::{Error, Result};
use crate::lifecycle::managed::ManagedCertificate;
use crate::model::{AuditEvent, CertificateRecord, CertificateState, RevocationReason};

/// Open the store `location` names: a `postgres://` or `postgresql://` URL (the shared
/// [`PostgresStore`]; feature `postgres`), or `sqlite://PATH` or a plain file path (the embedded
/// [`SqliteStore`], created when missing). Anything else is
/// [`Error::InvalidInput`](crate::Error::InvalidInput) for `store`, naming only the scheme: a
/// URL may carry a password.
pub async fn open_location(location: &str) -> Result<Arc<dyn Store>> {
    let location = location.trim();
    if location.is_empty() {
        return Err(Error::invalid("store", "is empty"));
    }
    if location.starts_with("postgres://") || location.starts_with("postgresql://") {
        #[cfg(feature = "postgres")]
        return Ok(Arc::new(PostgresStore::connect(location).await?));
        #[cfg(not(feature = "postgres"))]
        return Err(Error::invalid(
            "store",
            "is a PostgreSQL URL, but this build has no `postgres` feature",
        ));
    }
    let path = location.strip_prefix("sqlite://").unwrap_or(location);
    if let Some((scheme, _)) = path.split_once("://") {
        return Err(Error::invalid(
            "store",
            format!("has the unknown scheme `{scheme}://` (postgres://, sqlite:// or a file path)"),
        ));
    }
    if path.is_empty() {
        return Err(Error::invalid("store", "sqlite:// needs a file path"));
    }
    Ok(Arc::new(SqliteStore::open(Path::new(path))?))
}

/// A persistent inventory. Object-safe: the engine holds it as `Arc<dyn Store>`.
///
/// Every method that writes more than one row does so in one transaction: either all of it is
/// stored or none of it. The audit log has no update or delete method on purpose.
#[async_trait::async_trait]
pub trait Store: Send + Sync + fmt::Debug {
    /// Where this store is, for messages: a file path, `in memory`, or a URL without its
    /// password.
    fn location(&self) -> String;

    // --- CAs -----------------------------------------------------------------------------

    /// Store a new CA. [`Error::AlreadyExists`](crate::Error::AlreadyExists) when its id or
    /// name is taken; [`Error::NotFound`](crate::Error::NotFound) when `parent_id` names no CA.
    async fn insert_ca(&self, ca: &StoredCa) -> Result<()>;

    /// The CA with this id, or else with this name. `NotFound` (`"CA"`) when neither matches.
    async fn get_ca(&self, id_or_name: &str) -> Result<StoredCa>;

    /// Every CA, oldest first.
    async fn list_cas(&self) -> Result<Vec<StoredCa>>;

    /// The next CRL number of a CA (RFC 5280 §5.2.3): 1 on the first call, then 2, 3, ...
    /// Persisted and atomic, so two concurrent callers never get the same number.
    async fn next_crl_number(&self, ca_id: &str) -> Result<u64>;

    // --- Documents: templates, profiles and connectors' extension data (JSON) -------------

    /// Insert or replace document `id` of `kind`. `AlreadyExists` when another document of the
    /// same kind has `slug`.
    async fn put_document(
        &self,
        kind: DocumentKind,
        id: &str,
        slug: &str,
        body: &serde_json::Value,
    ) -> Result<()>;

    /// The body of the `kind` document with this id, or else with this slug. `NotFound`.
    async fn get_document(&self, kind: DocumentKind, id_or_slug: &str)
    -> Result<serde_json::Value>;

    /// Every document body of `kind`, ordered by slug.
    async fn list_documents(&self, kind: DocumentKind) -> Result<Vec<serde_json::Value>>;

    /// Remove the `kind` document `id`. `NotFound` when there is none.
    async fn delete_document(&self, kind: DocumentKind, id: &str) -> Result<()>;

    /// A number that changes whenever a document may have changed since it was last read:
    /// written through this store, or committed by another connection (another process on
    /// the same database). Callers may keep parsed documents while it stays the same.
    /// `None` (the default) when the store cannot tell, which disables such caches.
    async fn documents_version(&self) -> Result<Option<u64>> {
        Ok(None)
    }

    // --- Certificates -------------------------------------------------------------------

    /// Store one issued certificate: its request row, its record (with the sealed private key
    /// when the library manages it) and its audit event, in one transaction. The event's
    /// `certificate_id` is filled with the record's id when unset.
    async fn insert_certificate(
        &self,
        record: &CertificateRecord,
        sealed_key: Option<&[u8]>,
        request: &CertificateRequestRow,
        event: &AuditEvent,
    ) -> Result<()> {
        let one = NewCertificate {
            record: record.clone(),
            sealed_key: sealed_key.map(<[u8]>::to_vec),
            request: request.clone(),
            event: event.clone(),
        };
        self.insert_certificates(std::slice::from_ref(&one)).await
    }

    /// Store many issued certificates in ONE transaction: all or nothing. A duplicate id or
    /// `(ca_id, serial_number)` anywhere in the batch stores nothing and returns
    /// `AlreadyExists`. This is what makes bulk issuance fast (one commit per batch).
    async fn insert_certificates(&self, batch: &[NewCertificate]) -> Result<()>;

    /// The certificate with this inventory id, or else with this serial number (hex, case and
    /// `:` separators ignored). `NotFound` (`"certificate"`); `InvalidInput` when the serial
    /// is shared by certificates of several CAs (ask by id then).
    async fn get_certificate(&self, id: &str) -> Result<CertificateRecord>;

    /// The sealed private key kept for a certificate (`None` when the library does not manage
    /// its key). `NotFound` when the certificate does not exist.
    async fn get_sealed_key(&self, id: &str) -> Result<Option<Vec<u8>>>;

    /// Write a certificate's mutable fields and append `event`, in one transaction.
    ///
    /// Mutable: `state`, `revoked_at`, `revocation_reason`, `renewed_by`, `auto_renew`,
    /// `renew_before_days`, `key_managed`, `profile_id`, `updated_at`. Everything that comes
    /// from the certificate itself (serial, names, validity, PEM, issuer) is immutable and
    /// ignored here. `NotFound` when no certificate has `record.certificate_id`.
    async fn update_certificate(
        &self,
        record: &CertificateRecord,
        event: &AuditEvent,
    ) -> Result<()>;

    /// Certificates matching every set filter of `query` (see [`CertificateQuery`] for the
    /// matching rules and the order).
    async fn search_certificates(&self, query: &CertificateQuery)
    -> Result<Vec<CertificateRecord>>;

    /// How many certificates match `query` (its `limit` and `offset` are ignored).
    async fn count_certificates(&self, query: &CertificateQuery) -> Result<u64>;

    /// Every certificate of `ca_id` that a CRL must list: state `revoked`, or `suspended`
    /// (reported with reason `certificateHold`), ordered by serial number.
    async fn revoked_for_ca(&self, ca_id: &str) -> Result<Vec<RevokedEntry>>;

    // --- Audit ----------------------------------------------------------------------------

    /// Append an event to the audit log and return its sequence number (increasing).
    async fn append_audit(&self, event: &AuditEvent) -> Result<i64>;

    /// Audit events matching `query`, in sequence order (oldest first), `sequence` filled.
    async fn list_audit(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>>;

    // --- Managed certificates and the lifecycle engine -----------------------------------

    /// Apply everything in `set` in ONE transaction: all of it or none of it. This is how the
    /// engine records a renewal (new certificate, the old one marked renewed, the managed
    /// certificate's new state and schedule, their audit events) so that a crash can never
    /// leave a certificate issued but not recorded as the managed one, nor recorded twice.
    ///
    /// Managed certificates are inserted or replaced by id (`AlreadyExists` when another has
    /// the same name). With `set.fence`, every managed certificate in the set must still be
    /// claimed by that agent (see [`Store::claim_due`]); otherwise nothing is written and the
    /// result is `InvalidState` (the claim expired and another agent took the work).
    async fn write(&self, set: &WriteSet) -> Result<()>;

    /// The managed certificate with this id, or else with this name. `NotFound`.
    async fn get_managed(&self, id_or_name: &str) -> Result<ManagedCertificate>;

    /// Managed certificates matching `query`, oldest first.
    async fn list_managed(&self, query: &ManagedQuery) -> Result<Vec<ManagedCertificate>>;

    /// The ids of managed certificates due at `now` (their earliest schedule has come),
    /// earliest first, at most `limit`; answered from an index.
    async fn due_managed(&self, now: OffsetDateTime, limit: u32) -> Result<Vec<String>>;

    /// Claim up to `limit` due managed certificates for agent `owner` until `lease_until`,
    /// earliest first, and return them. A certificate claimed by another agent whose lease
    /// has not expired is skipped; one still claimed by `owner` (a restarted agent) is taken
    /// back. Atomic: two agents never claim the same certificate at once.
    async fn claim_due(
        &self,
        now: OffsetDateTime,
        owner: &str,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<ManagedCertificate>>;

    /// The earliest time any managed certificate is due (the agent sleeps until then).
    async fn next_due_at(&self) -> Result<Option<OffsetDateTime>>;
}

/// One atomic change of the lifecycle engine (see [`Store::write`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteSet {
    /// Certificates issued (with their request rows and issuance events).
    pub new_certificates: Vec<NewCertificate>,
    /// Certificates whose mutable fields changed (see [`Store::update_certificate`]).
    pub certificate_updates: Vec<CertificateRecord>,
    /// Managed certificates to insert or replace; their lease fields are stored as given.
    pub managed: Vec<ManagedCertificate>,
    /// Audit events to append, in order.
    pub events: Vec<AuditEvent>,
    /// When set: the agent that must still hold the claim on every managed certificate here.
    pub fence: Option<String>,
}

impl WriteSet {
    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.new_certificates.is_empty()
            && self.certificate_updates.is_empty()
            && self.managed.is_empty()
            && self.events.is_empty()
    }

    /// Add everything of `other` (its fence must agree).
    pub fn extend(&mut self, other: WriteSet) {
        self.new_certificates.extend(other.new_certificates);
        self.certificate_updates.extend(other.certificate_updates);
        self.managed.extend(other.managed);
        self.events.extend(other.events);
        if self.fence.is_none() {
            self.fence = other.fence;
        }
    }
}

/// Filters for [`Store::list_managed`]; camelCase in JSON.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct ManagedQuery {
    /// Any of these states; empty means every state except `deleted`.
    pub states: Vec<CertificateState>,
    /// Bound to this certificate (in service or pending).
    pub certificate_id: Option<String>,
    /// At most this many.
    pub limit: Option<u32>,
    /// Skip this many first.
    pub offset: Option<u32>,
}

/// A kind of JSON document in the store, with the name its errors use.
///
/// Templates and profiles are documents; connectors keep their own data (ACME accounts,
/// pending orders, deployment targets) as documents of their own kinds, so a new connector
/// needs no schema change. Bodies never hold secrets in clear: seal them first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DocumentKind {
    /// The stored kind value, e.g. `"template"`.
    pub kind: &'static str,
    /// The name in `NotFound` / `AlreadyExists` errors, e.g. `"template"`.
    pub what: &'static str,
}

impl DocumentKind {
    /// Certificate templates.
    pub const TEMPLATE: DocumentKind = DocumentKind { kind: "template", what: "template" };
    /// Certificate profiles.
    pub const PROFILE: DocumentKind = DocumentKind { kind: "profile", what: "profile" };
}

/// A CA as stored: its certificate, its sealed private key and its configuration document.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredCa {
    /// Inventory id (UUID).
    pub id: String,
    /// Unique human name.
    pub name: String,
    /// The issuing CA's id for an intermediate; `None` for a root.
    pub parent_id: Option<String>,
    /// The CA certificate, PEM.
    pub certificate_pem: String,
    /// The CA private key (PKCS#8 DER), sealed with [`Sealer::seal`].
    pub sealed_key: Vec<u8>,
    /// CA configuration (CRL URL, limits, ...) as a JSON document the store does not read.
    pub config: serde_json::Value,
    /// When it was created.
    pub created_at: OffsetDateTime,
}

impl fmt::Debug for StoredCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredCa")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("parent_id", &self.parent_id)
            .field("sealed_key", &format_args!("<{} sealed bytes>", self.sealed_key.len()))
            .field("config", &self.config)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// The request a certificate was issued for. Never holds a private key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateRequestRow {
    /// Request id (UUID).
    pub id: String,
    /// The profile it was made under, if any.
    pub profile_id: Option<String>,
    /// The CSR, PEM, when the caller sent one.
    pub csr_pem: Option<String>,
    /// The request as received (JSON wire shape), without any key material.
    pub request_json: serde_json::Value,
    /// When it was received.
    pub created_at: OffsetDateTime,
}

/// One item of [`Store::insert_certificates`].
#[derive(Clone, PartialEq, Eq)]
pub struct NewCertificate {
    /// The certificate record.
    pub record: CertificateRecord,
    /// Its private key sealed with [`Sealer::seal`], when the library manages the key.
    pub sealed_key: Option<Vec<u8>>,
    /// The request it was issued for.
    pub request: CertificateRequestRow,
    /// The audit event of its issuance (`certificate_id` filled when unset).
    pub event: AuditEvent,
}

impl fmt::Debug for NewCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewCertificate")
            .field("record", &self.record)
            .field("sealed_key", &self.sealed_key.as_ref().map(Vec::len))
            .field("request", &self.request)
            .field("event", &self.event)
            .finish()
    }
}

/// Filters for [`Store::search_certificates`] and [`Store::count_certificates`]; every set
/// filter must match. `Default` matches every certificate that is not deleted.
///
/// Order: by `not_after` ascending (then id) when `expiring_before` is set, which is what an
/// expiry sweep wants; otherwise by `created_at` ascending (then id), stable for paging.
///
/// Serde shape (camelCase, every field optional): `{"commonName": "api", "san": "a.example",
/// "states": ["issued"], "expiringBefore": "2027-01-01T00:00:00Z", "issuerCaId": "...",
/// "profileId": "...", "limit": 50, "offset": 0}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct CertificateQuery {
    /// Substring of the common name, case-insensitive (ASCII case folding). `%` and `_` are
    /// matched literally; this is not a glob.
    pub common_name: Option<String>,
    /// Equal to any SAN value of the certificate (DNS name, IP, e-mail, URI), ASCII
    /// case-insensitive. No wildcard expansion: `*.example.com` matches only that literal SAN.
    pub san: Option<String>,
    /// Any of these states; empty means every state except `deleted`.
    pub states: Vec<CertificateState>,
    /// `not_after` at or before this instant (inclusive); RFC 3339 in JSON.
    #[serde(with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub expiring_before: Option<OffsetDateTime>,
    /// Issued by this CA id (or connector issuer key).
    pub issuer_ca_id: Option<String>,
    /// Issued under this profile id.
    pub profile_id: Option<String>,
    /// With this SHA-256 fingerprint (lower-case hex): at most one certificate.
    pub fingerprint_sha256: Option<String>,
    /// At most this many results.
    pub limit: Option<u32>,
    /// Skip this many results first.
    pub offset: Option<u32>,
}

/// A certificate a CRL must list (RFC 5280 §5.1.2.6).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevokedEntry {
    /// Serial number, lower-case hex.
    pub serial_number: String,
    /// When it was revoked or suspended.
    pub revoked_at: OffsetDateTime,
    /// The reason; `certificateHold` for a suspension.
    pub reason: RevocationReason,
}

/// Filters for [`Store::list_audit`]; camelCase in JSON (`certificateId`, `since`, `limit`).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct AuditQuery {
    /// Only events about this certificate.
    pub certificate_id: Option<String>,
    /// Only events at or after this instant; RFC 3339 in JSON.
    #[serde(with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub since: Option<OffsetDateTime>,
    /// At most this many events (the oldest matching ones).
    pub limit: Option<u32>,
}

//! The shared inventory on PostgreSQL (tokio-postgres behind a deadpool pool).
//!
//! Same semantics as the embedded [`SqliteStore`](super::SqliteStore), checked by the same
//! test suite (`core/tests/store.rs`). What PostgreSQL adds is concurrency between processes:
//! several `certloop agent`s share one database, and [`Store::claim_due`] leases due work with
//! `FOR UPDATE SKIP LOCKED`, so two agents never take the same certificate, while
//! [`Store::write`]'s fence locks the claimed rows it commits for.
//!
//! Connections are plain TCP or a Unix socket ([`tokio_postgres::NoTls`]): a URL asking for
//! `sslmode=require` is refused rather than silently downgraded. Messages name the server as
//! `postgres://user@host:port/db`, never with its password.

mod certificates;
mod managed;
mod migrations;
mod objects;

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime};
use time::OffsetDateTime;
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::error::SqlState;
use tokio_postgres::{Config, NoTls};

use super::{
    AuditQuery, CertificateQuery, DocumentKind, ManagedQuery, NewCertificate, RevokedEntry, Store,
    StoredCa, WriteSet,
};
use crate::error::{Error, Result};
use crate::lifecycle::managed::ManagedCertificate;
use crate::model::{AuditEvent, CertificateRecord};

/// Connections kept open per store (one process). Each agent works a few certificates at a
/// time; eight covers a batch's default concurrency without crowding a small server.
const POOL_SIZE: usize = 8;
/// How long connecting, or waiting for a free pooled connection, may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The inventory in a PostgreSQL database, shared by any number of processes.
pub struct PostgresStore {
    pool: Pool,
    /// `postgres://user@host:port/db`, for messages (no password).
    shown: String,
}

impl PostgresStore {
    /// Connect to `url` (`postgres://user[:password]@host[:port]/db[?options]`, or the
    /// `key=value` form), check that it answers, and migrate its schema. A malformed URL is
    /// [`Error::InvalidInput`] for `store`; an unreachable server or a refused login is
    /// [`Error::Store`] naming the server. Refuses a database written by a newer certloop.
    pub async fn connect(url: &str) -> Result<PostgresStore> {
        let mut config = Config::from_str(url).map_err(|e| {
            Error::invalid("store", format!("{}: not a PostgreSQL URL: {e}", redact(url)))
        })?;
        let shown = describe(&config);
        if config.get_ssl_mode() == SslMode::Require {
            return Err(Error::invalid(
                "store",
                format!(
                    "{shown}: sslmode=require is not supported (certloop connects without \
                     TLS); use a loopback or Unix-socket connection, or sslmode=disable"
                ),
            ));
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("certloop");
        }
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig { recycling_method: RecyclingMethod::Fast },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(CONNECT_TIMEOUT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .build()
            .map_err(|e| Error::store(format!("{shown}: cannot set up the pool: {e}")))?;
        let store = PostgresStore { pool, shown };
        let mut client = store.client().await?;
        migrations::migrate(&mut client, &store.shown).await?;
        Ok(store)
    }

    /// The server and database, without the password: `postgres://user@host:port/db`.
    pub fn describe(&self) -> &str {
        &self.shown
    }

    /// The schema version of the database.
    pub async fn schema_version(&self) -> Result<u32> {
        migrations::schema_version(&self.client().await?).await
    }

    /// The schema version this code writes (a newer database is refused).
    pub const SCHEMA_VERSION: u32 = migrations::SCHEMA_VERSION;

    /// A pooled connection.
    async fn client(&self) -> Result<deadpool_postgres::Client> {
        self.pool.get().await.map_err(|e| {
            let why = match e {
                PoolError::Backend(e) => detail(&e),
                PoolError::Timeout(_) => "no connection within the pool's timeout".to_owned(),
                other => other.to_string(),
            };
            Error::store(format!("cannot connect to PostgreSQL at {}: {why}", self.shown))
        })
    }
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore").field("server", &self.shown).finish_non_exhaustive()
    }
}

/// `postgres://user@host:port/db` of a parsed configuration: everything but the password.
fn describe(config: &Config) -> String {
    let user = config.get_user().map(|u| format!("{u}@")).unwrap_or_default();
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(host)) => host.clone(),
        #[cfg(unix)]
        Some(Host::Unix(path)) => path.display().to_string(),
        None => "localhost".to_owned(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config.get_dbname().unwrap_or("");
    format!("postgres://{user}{host}:{port}/{db}")
}

/// A URL that did not parse, shown without anything that may be a password: the userinfo of
/// a `scheme://user:pass@host` URL and any `password=` option are masked.
fn redact(url: &str) -> String {
    let mut shown = url.to_owned();
    if let Some(scheme_end) = shown.find("://") {
        let rest = scheme_end + 3;
        let authority_end = shown[rest..].find(['/', '?']).map_or(shown.len(), |i| rest + i);
        if let Some(at) = shown[rest..authority_end].rfind('@') {
            let userinfo = &shown[rest..rest + at];
            if let Some(colon) = userinfo.find(':') {
                shown.replace_range(rest + colon + 1..rest + at, "***");
            }
        }
    }
    let lower = shown.to_ascii_lowercase();
    if let Some(start) = lower.find("password=") {
        let value = start + "password=".len();
        let end = shown[value..].find(['&', ' ']).map_or(shown.len(), |i| value + i);
        shown.replace_range(value..end, "***");
    }
    shown
}

/// A store error saying what was being done.
fn db(doing: impl fmt::Display) -> impl FnOnce(tokio_postgres::Error) -> Error {
    move |e| Error::store(format!("{doing}: {}", detail(&e)))
}

/// The server's message when there is one (tokio-postgres's Display says only "db error").
/// The server's message, or the client error with its causes ("error connecting to server:
/// Connection refused").
fn detail(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return db.message().to_owned();
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Column `index` of a row of `table`, typed.
fn col<'a, T: tokio_postgres::types::FromSql<'a>>(
    row: &'a tokio_postgres::Row,
    index: usize,
    table: &str,
) -> Result<T> {
    row.try_get(index).map_err(|e| {
        let name = row.columns().get(index).map_or("?", |c| c.name());
        Error::store(format!("reading {table}.{name}: {}", detail(&e)))
    })
}

/// Whether `e` is a UNIQUE or PRIMARY KEY violation.
fn is_unique_violation(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::UNIQUE_VIOLATION)
}

/// Whether `e` is a FOREIGN KEY violation.
fn is_foreign_key_violation(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::FOREIGN_KEY_VIOLATION)
}

/// An instant as PostgreSQL keeps it: whole microseconds (finer digits dropped, rounding
/// toward the past as the SQLite store does).
fn micros(t: OffsetDateTime) -> OffsetDateTime {
    let nanos = i64::from(t.nanosecond());
    t - time::Duration::nanoseconds(nanos.rem_euclid(1000))
}

/// An X.509 validity instant: whole seconds.
fn secs(t: OffsetDateTime) -> OffsetDateTime {
    t - time::Duration::nanoseconds(i64::from(t.nanosecond()))
}

/// A `u32` limit or offset as SQL wants it.
fn big(n: Option<u32>) -> Option<i64> {
    n.map(i64::from)
}

#[async_trait::async_trait]
impl Store for PostgresStore {
    fn location(&self) -> String {
        self.shown.clone()
    }

    async fn insert_ca(&self, ca: &StoredCa) -> Result<()> {
        objects::insert_ca(&self.client().await?, ca).await
    }

    async fn get_ca(&self, id_or_name: &str) -> Result<StoredCa> {
        objects::get_ca(&self.client().await?, id_or_name).await
    }

    async fn list_cas(&self) -> Result<Vec<StoredCa>> {
        objects::list_cas(&self.client().await?).await
    }

    async fn next_crl_number(&self, ca_id: &str) -> Result<u64> {
        objects::next_crl_number(&self.client().await?, ca_id).await
    }

    async fn put_document(
        &self,
        kind: DocumentKind,
        id: &str,
        slug: &str,
        body: &serde_json::Value,
    ) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db("starting a transaction"))?;
        objects::put_document(&tx, kind, id, slug, body).await?;
        tx.commit().await.map_err(db(format!("saving {} {id}", kind.what)))
    }

    async fn get_document(
        &self,
        kind: DocumentKind,
        id_or_slug: &str,
    ) -> Result<serde_json::Value> {
        objects::get_document(&self.client().await?, kind, id_or_slug).await
    }

    async fn list_documents(&self, kind: DocumentKind) -> Result<Vec<serde_json::Value>> {
        objects::list_documents(&self.client().await?, kind).await
    }

    async fn delete_document(&self, kind: DocumentKind, id: &str) -> Result<()> {
        objects::delete_document(&self.client().await?, kind, id).await
    }

    async fn documents_version(&self) -> Result<Option<u64>> {
        objects::documents_version(&self.client().await?).await.map(Some)
    }

    async fn insert_certificates(&self, batch: &[NewCertificate]) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db("starting a transaction"))?;
        certificates::insert_many(&tx, batch).await?;
        tx.commit().await.map_err(db("committing the certificate batch"))
    }

    async fn get_certificate(&self, id: &str) -> Result<CertificateRecord> {
        certificates::get(&self.client().await?, id).await
    }

    async fn get_sealed_key(&self, id: &str) -> Result<Option<Vec<u8>>> {
        certificates::sealed_key(&self.client().await?, id).await
    }

    async fn update_certificate(
        &self,
        record: &CertificateRecord,
        event: &AuditEvent,
    ) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db("starting a transaction"))?;
        certificates::update(&tx, record).await?;
        objects::append_audit(&tx, event, Some(&record.certificate_id)).await?;
        tx.commit().await.map_err(db("committing the certificate update"))
    }

    async fn search_certificates(
        &self,
        query: &CertificateQuery,
    ) -> Result<Vec<CertificateRecord>> {
        certificates::search(&self.client().await?, query).await
    }

    async fn count_certificates(&self, query: &CertificateQuery) -> Result<u64> {
        certificates::count(&self.client().await?, query).await
    }

    async fn revoked_for_ca(&self, ca_id: &str) -> Result<Vec<RevokedEntry>> {
        certificates::revoked_for_ca(&self.client().await?, ca_id).await
    }

    async fn append_audit(&self, event: &AuditEvent) -> Result<i64> {
        objects::append_audit(&self.client().await?, event, None).await
    }

    async fn list_audit(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>> {
        objects::list_audit(&self.client().await?, query).await
    }

    async fn write(&self, set: &WriteSet) -> Result<()> {
        if set.is_empty() {
            return Ok(());
        }
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db("starting a transaction"))?;
        managed::write(&tx, set).await?;
        tx.commit().await.map_err(db("committing the lifecycle change"))
    }

    async fn get_managed(&self, id_or_name: &str) -> Result<ManagedCertificate> {
        managed::get(&self.client().await?, id_or_name).await
    }

    async fn list_managed(&self, query: &ManagedQuery) -> Result<Vec<ManagedCertificate>> {
        managed::list(&self.client().await?, query).await
    }

    async fn due_managed(&self, now: OffsetDateTime, limit: u32) -> Result<Vec<String>> {
        managed::due(&self.client().await?, now, limit).await
    }

    async fn claim_due(
        &self,
        now: OffsetDateTime,
        owner: &str,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<ManagedCertificate>> {
        // One statement: its own transaction, and SKIP LOCKED keeps claimers apart.
        managed::claim(&self.client().await?, now, owner, lease_until, limit).await
    }

    async fn next_due_at(&self) -> Result<Option<OffsetDateTime>> {
        managed::next_due_at(&self.client().await?).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_messages() {
        let config = Config::from_str("postgres://certloop:s3cret@127.0.0.1:5433/inventory")
            .expect("a valid URL");
        assert_eq!(describe(&config), "postgres://certloop@127.0.0.1:5433/inventory");
        assert_eq!(
            redact("postgres://certloop:s3cret@db.example:x/inv"),
            "postgres://certloop:***@db.example:x/inv"
        );
        assert_eq!(
            redact("host=db password=s3cret user=x port=abc"),
            "host=db password=*** user=x port=abc"
        );
    }

    #[test]
    fn instants_truncate_like_sqlite() {
        let t = OffsetDateTime::from_unix_timestamp_nanos(-1).expect("in range");
        assert_eq!(micros(t).unix_timestamp_nanos(), -1000);
        let t =
            OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_456_789).expect("in range");
        assert_eq!(micros(t).unix_timestamp_nanos(), 1_700_000_000_123_456_000);
        assert_eq!(secs(t).unix_timestamp_nanos(), 1_700_000_000_000_000_000);
    }
}

//! The embedded SQLite store (rusqlite, bundled SQLite).
//!
//! One connection behind a `std::sync::Mutex`; statements run inline on the calling task
//! rather than through `spawn_blocking`: they take microseconds (TOOLCHAINS.md: ~11k
//! certificate+audit inserts per second one per transaction, ~20k/s batched), far less than a
//! thread hop costs (`sqlx`'s hop made it 2–4× slower here). Bulk work goes through
//! [`Store::insert_certificates`] so that one lock and one commit cover a whole batch.

mod certificates;
mod convert;
mod managed;
mod migrations;
mod objects;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::{
    AuditQuery, CertificateQuery, CertificateRequestRow, DocumentKind, ManagedQuery,
    NewCertificate, RevokedEntry, Store, StoredCa, WriteSet,
};
use crate::error::{Error, Result};
use crate::lifecycle::managed::ManagedCertificate;
use crate::model::{AuditEvent, CertificateRecord};
use convert::db;
use time::OffsetDateTime;

/// How long a writer waits for another process's lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The inventory in one SQLite file (or in memory).
pub struct SqliteStore {
    conn: Mutex<Connection>,
    path: Option<PathBuf>,
    /// [`Store::documents_version`]: bumped after every document this store writes or
    /// deletes, and whenever `PRAGMA data_version` shows another connection's commit.
    documents_version: AtomicU64,
    /// The `PRAGMA data_version` last seen by [`Store::documents_version`].
    outside_commits_seen: AtomicI64,
}

impl SqliteStore {
    /// Open (creating when missing) the database at `path`, mode 0600 in an owner-only
    /// directory when it creates them, and migrate its schema. WAL journal,
    /// `synchronous=NORMAL` (a crash may lose the last commits, never consistency), foreign
    /// keys on. Refuses a database written by a newer certloop.
    pub fn open(path: &Path) -> Result<SqliteStore> {
        if let Some(dir) = path.parent() {
            super::seal::create_private_dir(dir)?;
        }
        create_private_file(path)?;
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let shown = path.display().to_string();
        let conn = Connection::open_with_flags(path, flags)
            .map_err(|e| Error::io(&shown, format!("cannot open the SQLite database: {e}")))?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(db(format!("configuring {shown}")))?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .map_err(db(format!("enabling WAL on {shown}")))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(Error::store(format!(
                "{shown}: cannot enable the WAL journal (got {mode:?}); is it on a network \
                 file system?"
            )));
        }
        Self::finish(conn, Some(path.to_path_buf()), &shown)
    }

    /// A private, empty in-memory store (tests, one-shot CLI runs).
    pub fn in_memory() -> Result<SqliteStore> {
        let conn = Connection::open_in_memory().map_err(db("opening an in-memory database"))?;
        Self::finish(conn, None, "the in-memory database")
    }

    /// Common settings and migrations.
    fn finish(mut conn: Connection, path: Option<PathBuf>, shown: &str) -> Result<SqliteStore> {
        // A 32 MiB page cache (default 2 MiB) keeps the indexes of a large inventory in
        // memory, and checkpointing every 8,000 WAL pages (default 1,000) writes each hot index
        // page once per checkpoint rather than again and again: see benches/README.md.
        conn.execute_batch(
            "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
             PRAGMA cache_size = -32768; PRAGMA wal_autocheckpoint = 8000;",
        )
        .map_err(db(format!("configuring {shown}")))?;
        conn.set_prepared_statement_cache_capacity(64);
        migrations::migrate(&mut conn, shown)?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
            path,
            documents_version: AtomicU64::new(0),
            outside_commits_seen: AtomicI64::new(-1),
        })
    }

    /// The file, or `None` in memory.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<u32> {
        migrations::schema_version(&self.lock())
    }

    /// The schema version this code writes (a newer database is refused).
    pub const SCHEMA_VERSION: u32 = migrations::SCHEMA_VERSION;

    /// The connection. A panic while it was held poisons the mutex; the connection is still
    /// consistent (an open transaction rolls back when its guard drops during unwinding, and
    /// we roll back any leftover one here), so we recover instead of failing every call.
    fn lock(&self) -> MutexGuard<'_, Connection> {
        let guard = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        if !guard.is_autocommit() {
            // Best effort; if it fails the next `BEGIN` reports a clear error.
            let _ = guard.execute_batch("ROLLBACK");
        }
        guard
    }
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore").field("path", &self.path).finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    fn location(&self) -> String {
        self.path.as_ref().map_or_else(|| "in memory".to_owned(), |p| p.display().to_string())
    }

    async fn insert_ca(&self, ca: &StoredCa) -> Result<()> {
        objects::insert_ca(&self.lock(), ca)
    }

    async fn get_ca(&self, id_or_name: &str) -> Result<StoredCa> {
        objects::get_ca(&self.lock(), id_or_name)
    }

    async fn list_cas(&self) -> Result<Vec<StoredCa>> {
        objects::list_cas(&self.lock())
    }

    async fn next_crl_number(&self, ca_id: &str) -> Result<u64> {
        objects::next_crl_number(&self.lock(), ca_id)
    }

    async fn put_document(
        &self,
        kind: DocumentKind,
        id: &str,
        slug: &str,
        body: &serde_json::Value,
    ) -> Result<()> {
        let mut conn = self.lock();
        let saved = objects::put_document(&mut conn, kind, id, slug, body);
        // After the commit (and even when it failed, to be safe): a reader that saw the old
        // version number re-reads.
        self.documents_version.fetch_add(1, Ordering::SeqCst);
        saved
    }

    async fn get_document(
        &self,
        kind: DocumentKind,
        id_or_slug: &str,
    ) -> Result<serde_json::Value> {
        objects::get_document(&self.lock(), kind, id_or_slug)
    }

    async fn list_documents(&self, kind: DocumentKind) -> Result<Vec<serde_json::Value>> {
        objects::list_documents(&self.lock(), kind)
    }

    async fn delete_document(&self, kind: DocumentKind, id: &str) -> Result<()> {
        let conn = self.lock();
        let deleted = objects::delete_document(&conn, kind, id);
        self.documents_version.fetch_add(1, Ordering::SeqCst);
        deleted
    }

    async fn documents_version(&self) -> Result<Option<u64>> {
        let conn = self.lock();
        // Changes when another connection has committed since this one last looked; our own
        // commits do not change it (https://sqlite.org/pragma.html#pragma_data_version).
        let outside: i64 = conn
            .prepare_cached("PRAGMA data_version")
            .and_then(|mut stmt| stmt.query_row([], |row| row.get(0)))
            .map_err(db("reading PRAGMA data_version"))?;
        if self.outside_commits_seen.swap(outside, Ordering::SeqCst) != outside {
            self.documents_version.fetch_add(1, Ordering::SeqCst);
        }
        Ok(Some(self.documents_version.load(Ordering::SeqCst)))
    }

    async fn insert_certificate(
        &self,
        record: &CertificateRecord,
        sealed_key: Option<&[u8]>,
        request: &CertificateRequestRow,
        event: &AuditEvent,
    ) -> Result<()> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(db("starting a transaction"))?;
        certificates::insert_one(&tx, record, sealed_key, request, event)?;
        tx.commit().map_err(db("committing the certificate"))
    }

    async fn insert_certificates(&self, batch: &[NewCertificate]) -> Result<()> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(db("starting a transaction"))?;
        for item in batch {
            certificates::insert_one(
                &tx,
                &item.record,
                item.sealed_key.as_deref(),
                &item.request,
                &item.event,
            )?;
        }
        tx.commit().map_err(db("committing the certificate batch"))
    }

    async fn get_certificate(&self, id: &str) -> Result<CertificateRecord> {
        certificates::get(&self.lock(), id)
    }

    async fn get_sealed_key(&self, id: &str) -> Result<Option<Vec<u8>>> {
        certificates::sealed_key(&self.lock(), id)
    }

    async fn update_certificate(
        &self,
        record: &CertificateRecord,
        event: &AuditEvent,
    ) -> Result<()> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(db("starting a transaction"))?;
        certificates::update(&tx, record)?;
        objects::append_audit(&tx, event, Some(&record.certificate_id))?;
        tx.commit().map_err(db("committing the certificate update"))
    }

    async fn search_certificates(
        &self,
        query: &CertificateQuery,
    ) -> Result<Vec<CertificateRecord>> {
        certificates::search(&self.lock(), query)
    }

    async fn count_certificates(&self, query: &CertificateQuery) -> Result<u64> {
        certificates::count(&self.lock(), query)
    }

    async fn revoked_for_ca(&self, ca_id: &str) -> Result<Vec<RevokedEntry>> {
        certificates::revoked_for_ca(&self.lock(), ca_id)
    }

    async fn append_audit(&self, event: &AuditEvent) -> Result<i64> {
        objects::append_audit(&self.lock(), event, None)
    }

    async fn list_audit(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>> {
        objects::list_audit(&self.lock(), query)
    }

    async fn write(&self, set: &WriteSet) -> Result<()> {
        if set.is_empty() {
            return Ok(());
        }
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(db("starting a transaction"))?;
        managed::write(&tx, set)?;
        tx.commit().map_err(db("committing the lifecycle change"))
    }

    async fn get_managed(&self, id_or_name: &str) -> Result<ManagedCertificate> {
        managed::get(&self.lock(), id_or_name)
    }

    async fn list_managed(&self, query: &ManagedQuery) -> Result<Vec<ManagedCertificate>> {
        managed::list(&self.lock(), query)
    }

    async fn due_managed(&self, now: OffsetDateTime, limit: u32) -> Result<Vec<String>> {
        managed::due(&self.lock(), now, limit)
    }

    async fn claim_due(
        &self,
        now: OffsetDateTime,
        owner: &str,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<ManagedCertificate>> {
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db("starting the claim"))?;
        let claimed = managed::claim(&tx, now, owner, lease_until, limit)?;
        tx.commit().map_err(db("committing the claim"))?;
        Ok(claimed)
    }

    async fn next_due_at(&self) -> Result<Option<OffsetDateTime>> {
        managed::next_due_at(&self.lock())
    }
}

/// Create the database file with mode 0600 when missing (SQLite gives its `-wal` and `-shm`
/// files the database file's mode). An existing file is left as it is.
fn create_private_file(path: &Path) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path).map(drop).map_err(|e| Error::io(path.display(), e))
}

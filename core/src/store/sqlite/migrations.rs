//! Versioned schema migrations, tracked with `PRAGMA user_version`.
//!
//! Migration `n` (1-based) brings the schema from version `n - 1` to `n`; each runs in its own
//! transaction together with the version bump, so a crash leaves the previous version intact.
//! Append new migrations; never edit a released one. `CREATE` statements deliberately have no
//! `IF NOT EXISTS`: running a migration twice would fail loudly instead of hiding a bug.
//!
//! Time columns are INTEGER: `not_before`/`not_after` in unix seconds (X.509 precision), every
//! other instant (`*_at`) in unix microseconds.

use rusqlite::{Connection, TransactionBehavior};

use crate::error::{Error, Result};

/// Every migration, in order; the schema version is the number applied.
const MIGRATIONS: &[&str] = &[
    // 1: the initial schema.
    r#"
    CREATE TABLE cas (
        id              TEXT PRIMARY KEY NOT NULL,
        name            TEXT NOT NULL UNIQUE,
        parent_id       TEXT REFERENCES cas(id),
        certificate_pem TEXT NOT NULL,
        sealed_key      BLOB NOT NULL,
        config          TEXT NOT NULL,
        crl_number      INTEGER NOT NULL DEFAULT 0,
        created_at      INTEGER NOT NULL
    ) STRICT;

    -- Policy objects (kind 'template' or 'profile') as JSON documents.
    CREATE TABLE documents (
        kind       TEXT NOT NULL,
        id         TEXT NOT NULL,
        slug       TEXT NOT NULL,
        body       TEXT NOT NULL,
        PRIMARY KEY (kind, id),
        UNIQUE (kind, slug)
    ) STRICT;

    CREATE TABLE certificate_requests (
        id           TEXT PRIMARY KEY NOT NULL,
        profile_id   TEXT,
        csr_pem      TEXT,
        request_json TEXT NOT NULL,
        created_at   INTEGER NOT NULL
    ) STRICT;

    CREATE TABLE certificates (
        id                  TEXT PRIMARY KEY NOT NULL,
        serial_number       TEXT NOT NULL,
        common_name         TEXT NOT NULL,
        subject             TEXT NOT NULL,
        issuer              TEXT NOT NULL,
        alt_names           TEXT NOT NULL,
        not_before          INTEGER NOT NULL,
        not_after           INTEGER NOT NULL,
        fingerprint_sha256  TEXT NOT NULL,
        key_algorithm       TEXT,
        state               TEXT NOT NULL,
        profile_id          TEXT,
        ca_id               TEXT,
        pem                 TEXT NOT NULL,
        chain               TEXT NOT NULL,
        request_id          TEXT REFERENCES certificate_requests(id),
        renewed_from        TEXT,
        renewed_by          TEXT,
        revoked_at          INTEGER,
        revocation_reason   TEXT,
        auto_renew          INTEGER NOT NULL,
        renew_before_days   INTEGER,
        key_managed         INTEGER NOT NULL,
        sealed_key          BLOB,
        created_at          INTEGER NOT NULL,
        updated_at          INTEGER NOT NULL,
        UNIQUE (ca_id, serial_number)
    ) STRICT;
    -- Expiry sweeps: answered from the index alone (TOOLCHAINS.md: 1.8 ms over 1M rows).
    CREATE INDEX certificates_state_not_after ON certificates (state, not_after, id);
    CREATE INDEX certificates_not_after ON certificates (not_after);
    CREATE INDEX certificates_serial ON certificates (serial_number);
    CREATE INDEX certificates_created ON certificates (created_at, id);
    CREATE INDEX certificates_profile ON certificates (profile_id);

    CREATE TABLE certificate_sans (
        certificate_id TEXT NOT NULL REFERENCES certificates(id) ON DELETE CASCADE,
        kind           TEXT NOT NULL,
        value          TEXT NOT NULL COLLATE NOCASE
    ) STRICT;
    CREATE INDEX certificate_sans_value ON certificate_sans (value COLLATE NOCASE);
    CREATE INDEX certificate_sans_certificate ON certificate_sans (certificate_id);

    CREATE TABLE audit_events (
        sequence       INTEGER PRIMARY KEY AUTOINCREMENT,
        at             INTEGER NOT NULL,
        action         TEXT NOT NULL,
        certificate_id TEXT,
        subject_id     TEXT,
        actor          TEXT NOT NULL,
        outcome        TEXT NOT NULL,
        detail         TEXT NOT NULL
    ) STRICT;
    CREATE INDEX audit_events_certificate ON audit_events (certificate_id, sequence);
    CREATE INDEX audit_events_at ON audit_events (at);
    -- The audit log is append-only.
    CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: events cannot be updated'); END;
    CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: events cannot be deleted'); END;
    "#,
    // 2: managed certificates (the lifecycle engine).
    r#"
    CREATE TABLE managed_certificates (
        id             TEXT PRIMARY KEY NOT NULL,
        name           TEXT NOT NULL UNIQUE,
        state          TEXT NOT NULL,
        certificate_id TEXT,
        pending_id     TEXT,
        body           TEXT NOT NULL,
        -- The earlier of next_check_at and next_deploy_at: what the agent's sweep scans.
        due_at         INTEGER,
        lease_owner    TEXT,
        lease_until    INTEGER,
        created_at     INTEGER NOT NULL,
        updated_at     INTEGER NOT NULL
    ) STRICT;
    -- The sweep: a range scan over due rows only.
    CREATE INDEX managed_certificates_due ON managed_certificates (due_at)
        WHERE due_at IS NOT NULL;
    CREATE INDEX managed_certificates_certificate ON managed_certificates (certificate_id);
    CREATE INDEX managed_certificates_pending ON managed_certificates (pending_id);
    CREATE INDEX managed_certificates_created ON managed_certificates (created_at, id);
    "#,
    // 3: each issuing chain stored once (versions 1 and 2 kept a copy in every certificate
    // row). Every distinct chain moves to `chains`; the store always sets `chain_id`.
    r#"
    CREATE TABLE chains (
        chain_id INTEGER PRIMARY KEY,
        chain    TEXT NOT NULL UNIQUE
    ) STRICT;
    INSERT INTO chains (chain) SELECT DISTINCT chain FROM certificates ORDER BY chain;
    ALTER TABLE certificates ADD COLUMN chain_id INTEGER REFERENCES chains(chain_id);
    UPDATE certificates SET chain_id =
        (SELECT chains.chain_id FROM chains WHERE chains.chain = certificates.chain);
    ALTER TABLE certificates DROP COLUMN chain;
    "#,
    // 4: discovery looks certificates up by fingerprint.
    r#"
    CREATE INDEX certificates_fingerprint ON certificates (fingerprint_sha256);
    "#,
];

/// The schema version this code writes and understands.
pub(crate) const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// The database's schema version.
pub(crate) fn schema_version(conn: &Connection) -> Result<u32> {
    conn.query_row("PRAGMA user_version", [], |row| row.get::<_, u32>(0))
        .map_err(|e| Error::store(format!("cannot read the schema version: {e}")))
}

/// Bring the schema up to [`SCHEMA_VERSION`]; refuse a database from a newer certloop.
///
/// Each step takes the write lock first (`BEGIN IMMEDIATE`) and reads the version inside its
/// transaction, so two processes opening a fresh file at once never apply a step twice.
pub(crate) fn migrate(conn: &mut Connection, what: &str) -> Result<()> {
    loop {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| Error::store(format!("{what}: cannot lock for migration: {e}")))?;
        let current = schema_version(&tx)?;
        if current > SCHEMA_VERSION {
            return Err(Error::store(format!(
                "{what} has schema version {current}, newer than the {SCHEMA_VERSION} this \
                 certloop understands; upgrade certloop (the database was not modified)"
            )));
        }
        let Some(sql) = MIGRATIONS.get(current as usize) else {
            return Ok(()); // Up to date; the empty transaction rolls back on drop.
        };
        let version = current + 1;
        let fail = |e: rusqlite::Error| {
            Error::store(format!("{what}: schema migration {version} failed: {e}"))
        };
        tx.execute_batch(sql).map_err(fail)?;
        tx.pragma_update(None, "user_version", version).map_err(fail)?;
        tx.commit().map_err(fail)?;
    }
}

#[cfg(test)]
mod tests {
    use rusqlite::params;

    use super::*;
    use crate::store::{CertificateQuery, SqliteStore, Store};

    /// One certificate row as schema version 1 stored it, chain inline.
    fn insert_v1(conn: &Connection, id: &str, serial: &str, chain: &str) -> rusqlite::Result<()> {
        conn.execute(
            "INSERT INTO certificates (id, serial_number, common_name, subject, issuer, \
             alt_names, not_before, not_after, fingerprint_sha256, key_algorithm, state, \
             profile_id, ca_id, pem, chain, request_id, renewed_from, renewed_by, revoked_at, \
             revocation_reason, auto_renew, renew_before_days, key_managed, sealed_key, \
             created_at, updated_at) VALUES (?1, ?2, ?3, 'CN=' || ?3, 'CN=Issuing', \
             '[{\"type\":\"DNS\",\"value\":\"' || ?3 || '\"}]', 1767225600, 1775001600, \
             'ab' || ?2, 'EC_prime256v1', 'revoked', 'tls-server', 'ca-1', \
             '-----BEGIN CERTIFICATE-----\n' || ?1, ?4, NULL, NULL, NULL, 1767312000000000, \
             'keyCompromise', 1, 30, 1, x'0102', 1767225600000000, 1767312000000000)",
            params![id, serial, format!("{id}.example.test"), chain],
        )?;
        Ok(())
    }

    #[tokio::test]
    async fn a_version_1_database_is_upgraded_in_place_and_loses_nothing() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::io("temp dir", e))?;
        let path = dir.path().join("v1.db");
        let chain_a = "-----BEGIN CERTIFICATE-----\nissuing A\n-----END CERTIFICATE-----\n";
        let chain_b = "-----BEGIN CERTIFICATE-----\nissuing B\n-----END CERTIFICATE-----\n";
        {
            let conn = Connection::open(&path).map_err(Error::store)?;
            conn.execute_batch(MIGRATIONS[0]).map_err(Error::store)?;
            conn.pragma_update(None, "user_version", 1).map_err(Error::store)?;
            for (id, serial, chain) in [
                ("c1", "01", chain_a),
                ("c2", "02", chain_a),
                ("c3", "03", chain_b),
                ("c4", "04", ""),
            ] {
                insert_v1(&conn, id, serial, chain).map_err(Error::store)?;
            }
        }

        let store = SqliteStore::open(&path)?;
        assert_eq!(store.schema_version()?, SCHEMA_VERSION);
        let all = store.search_certificates(&CertificateQuery::default()).await?;
        assert_eq!(all.len(), 4);
        for (record, chain) in all.iter().zip([chain_a, chain_a, chain_b, ""]) {
            let id = &record.certificate_id;
            assert_eq!(record.certificate_chain, chain, "{id}");
            assert_eq!(record.common_name, format!("{id}.example.test"));
            assert_eq!(record.alt_names[0].value, format!("{id}.example.test"));
            assert_eq!(record.certificate, format!("-----BEGIN CERTIFICATE-----\n{id}"));
            assert_eq!(record.revocation_reason.map(|r| r.as_str()), Some("keyCompromise"));
            assert_eq!(record.renew_before_days, Some(30));
            assert_eq!(record.not_after.unix_timestamp(), 1_775_001_600);
            assert_eq!(store.get_sealed_key(id).await?.as_deref(), Some(&[1u8, 2][..]));
        }
        drop(store);
        let conn = Connection::open(&path).map_err(Error::store)?;
        let chains: i64 = conn
            .query_row("SELECT count(*) FROM chains", [], |row| row.get(0))
            .map_err(Error::store)?;
        assert_eq!(chains, 3, "each distinct chain once");
        let unlinked: i64 = conn
            .query_row("SELECT count(*) FROM certificates WHERE chain_id IS NULL", [], |row| {
                row.get(0)
            })
            .map_err(Error::store)?;
        assert_eq!(unlinked, 0);
        Ok(())
    }
}

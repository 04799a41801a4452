//! Versioned schema migrations for PostgreSQL, tracked in the `certloop_schema` table.
//!
//! The same discipline as the SQLite schema: migration `n` brings version `n - 1` to `n` in
//! one transaction together with the version bump, never edited once released. Each step
//! holds a transaction-scoped advisory lock first, so agents starting at once against a
//! fresh database apply every step exactly once.
//!
//! Differences from SQLite worth knowing: instants are `timestamptz` (microseconds), JSON is
//! `jsonb`, and a CA chain is stored once in `chains` and referenced by certificates.

use deadpool_postgres::GenericClient;

use super::detail;
use crate::error::{Error, Result};

/// The advisory lock key migrations hold ("certloop" in ASCII, as a number).
const MIGRATION_LOCK: i64 = 0x6365_7274_6c6f_6f70;

/// Every migration, in order; the schema version is the number applied.
const MIGRATIONS: &[&str] = &[
    // 1: the inventory and the lifecycle engine.
    r#"
    CREATE TABLE cas (
        id              text PRIMARY KEY,
        name            text NOT NULL UNIQUE,
        parent_id       text REFERENCES cas(id),
        certificate_pem text NOT NULL,
        sealed_key      bytea NOT NULL,
        config          jsonb NOT NULL,
        crl_number      bigint NOT NULL DEFAULT 0,
        created_at      timestamptz NOT NULL
    );

    CREATE TABLE documents (
        kind text NOT NULL,
        id   text NOT NULL,
        slug text NOT NULL,
        body jsonb NOT NULL,
        PRIMARY KEY (kind, id),
        UNIQUE (kind, slug)
    );
    -- Store::documents_version: bumped by every statement that writes documents, whichever
    -- process ran it, so each process's policy cache notices the others' changes.
    CREATE TABLE documents_version (
        singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
        version   bigint NOT NULL
    );
    INSERT INTO documents_version (version) VALUES (0);
    CREATE FUNCTION certloop_bump_documents_version() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE documents_version SET version = version + 1;
        RETURN NULL;
    END $$;
    CREATE TRIGGER documents_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
        ON documents FOR EACH STATEMENT EXECUTE FUNCTION certloop_bump_documents_version();

    CREATE TABLE certificate_requests (
        id           text PRIMARY KEY,
        profile_id   text,
        csr_pem      text,
        request_json jsonb NOT NULL,
        created_at   timestamptz NOT NULL
    );

    -- Issuing chains, once each (id: SHA-256 of the PEM text, hex).
    CREATE TABLE chains (
        id  text PRIMARY KEY,
        pem text NOT NULL
    );

    CREATE TABLE certificates (
        id                 text PRIMARY KEY,
        serial_number      text NOT NULL,
        common_name        text NOT NULL,
        subject            text NOT NULL,
        issuer             text NOT NULL,
        alt_names          jsonb NOT NULL,
        not_before         timestamptz NOT NULL,
        not_after          timestamptz NOT NULL,
        fingerprint_sha256 text NOT NULL,
        key_algorithm      text,
        state              text NOT NULL,
        profile_id         text,
        ca_id              text,
        pem                text NOT NULL,
        chain_id           text NOT NULL REFERENCES chains(id),
        request_id         text REFERENCES certificate_requests(id),
        renewed_from       text,
        renewed_by         text,
        revoked_at         timestamptz,
        revocation_reason  text,
        auto_renew         boolean NOT NULL,
        renew_before_days  bigint,
        key_managed        boolean NOT NULL,
        sealed_key         bytea,
        created_at         timestamptz NOT NULL,
        updated_at         timestamptz NOT NULL,
        UNIQUE (ca_id, serial_number)
    );
    CREATE INDEX certificates_state_not_after ON certificates (state, not_after, id);
    CREATE INDEX certificates_serial ON certificates (serial_number);
    CREATE INDEX certificates_created ON certificates (created_at, id);
    CREATE INDEX certificates_profile ON certificates (profile_id);

    -- SAN values lower-cased (ASCII) by the store, so the lookup is a plain index match.
    CREATE TABLE certificate_sans (
        certificate_id text NOT NULL REFERENCES certificates(id) ON DELETE CASCADE,
        kind           text NOT NULL,
        value          text NOT NULL
    );
    CREATE INDEX certificate_sans_value ON certificate_sans (value);
    CREATE INDEX certificate_sans_certificate ON certificate_sans (certificate_id);

    CREATE TABLE audit_events (
        sequence       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at             timestamptz NOT NULL,
        action         text NOT NULL,
        certificate_id text,
        subject_id     text,
        actor          text NOT NULL,
        outcome        text NOT NULL,
        detail         text NOT NULL
    );
    CREATE INDEX audit_events_certificate ON audit_events (certificate_id, sequence);
    CREATE INDEX audit_events_at ON audit_events (at);
    -- The audit log is append-only, for every client of the database, not only certloop.
    CREATE FUNCTION certloop_audit_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'the audit log is append-only: events cannot be %', lower(TG_OP)
            USING ERRCODE = 'restrict_violation';
    END $$;
    CREATE TRIGGER audit_events_no_update BEFORE UPDATE OR DELETE ON audit_events
        FOR EACH ROW EXECUTE FUNCTION certloop_audit_is_append_only();
    CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
        FOR EACH STATEMENT EXECUTE FUNCTION certloop_audit_is_append_only();

    CREATE TABLE managed_certificates (
        id             text PRIMARY KEY,
        name           text NOT NULL UNIQUE,
        state          text NOT NULL,
        certificate_id text,
        pending_id     text,
        body           jsonb NOT NULL,
        -- The earlier of next_check_at and next_deploy_at: what the agents' sweep scans.
        due_at         timestamptz,
        lease_owner    text,
        lease_until    timestamptz,
        created_at     timestamptz NOT NULL,
        updated_at     timestamptz NOT NULL
    );
    CREATE INDEX managed_certificates_due ON managed_certificates (due_at)
        WHERE due_at IS NOT NULL;
    CREATE INDEX managed_certificates_certificate ON managed_certificates (certificate_id);
    CREATE INDEX managed_certificates_pending ON managed_certificates (pending_id);
    CREATE INDEX managed_certificates_created ON managed_certificates (created_at, id);
    "#,
    // 2: discovery looks certificates up by fingerprint.
    r#"
    CREATE INDEX certificates_fingerprint ON certificates (fingerprint_sha256);
    "#,
];

/// The schema version this code writes and understands.
pub(super) const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// The database's schema version (0 when certloop never ran on it).
pub(super) async fn schema_version(client: &impl GenericClient) -> Result<u32> {
    let exists =
        client
            .query_one("SELECT to_regclass('certloop_schema') IS NOT NULL", &[])
            .await
            .map_err(|e| Error::store(format!("cannot read the schema version: {}", detail(&e))))?;
    if !exists.get::<_, bool>(0) {
        return Ok(0);
    }
    let row = client
        .query_one("SELECT version FROM certloop_schema", &[])
        .await
        .map_err(|e| Error::store(format!("cannot read the schema version: {}", detail(&e))))?;
    u32::try_from(row.get::<_, i32>(0))
        .map_err(|_| Error::store("certloop_schema holds a negative version"))
}

/// Bring the schema up to [`SCHEMA_VERSION`]; refuse a database from a newer certloop.
pub(super) async fn migrate(client: &mut deadpool_postgres::Client, what: &str) -> Result<()> {
    loop {
        let fail = |doing: &str, e: tokio_postgres::Error| {
            Error::store(format!("{what}: {doing}: {}", detail(&e)))
        };
        let tx = client.transaction().await.map_err(|e| fail("cannot start a migration", e))?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(|e| fail("cannot lock for migration", e))?;
        let current = schema_version(&tx).await?;
        if current > SCHEMA_VERSION {
            return Err(Error::store(format!(
                "{what} has schema version {current}, newer than the {SCHEMA_VERSION} this \
                 certloop understands; upgrade certloop (the database was not modified)"
            )));
        }
        let Some(sql) = MIGRATIONS.get(current as usize) else {
            return Ok(()); // Up to date; the transaction rolls back on drop.
        };
        let version = current + 1;
        let step = format!("schema migration {version} failed");
        if current == 0 {
            tx.batch_execute("CREATE TABLE certloop_schema (version integer NOT NULL)")
                .await
                .map_err(|e| fail(&step, e))?;
            tx.execute("INSERT INTO certloop_schema (version) VALUES (0)", &[])
                .await
                .map_err(|e| fail(&step, e))?;
        }
        tx.batch_execute(sql).await.map_err(|e| fail(&step, e))?;
        let version_value = i32::try_from(version).unwrap_or(i32::MAX);
        tx.execute("UPDATE certloop_schema SET version = $1", &[&version_value])
            .await
            .map_err(|e| fail(&step, e))?;
        tx.commit().await.map_err(|e| fail(&step, e))?;
    }
}

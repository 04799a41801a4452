//! The inventory stores through the `Store` trait: one contract, SQLite and PostgreSQL.

mod common;

use std::sync::Arc;

use certloop::model::{
    AuditAction, AuditEvent, AuditOutcome, CertificateRecord, CertificateState, KeyAlgorithm,
    RevocationReason, SubjectAltName,
};
#[cfg(feature = "postgres")]
use certloop::store::PostgresStore;
use certloop::store::{
    AuditQuery, CertificateQuery, CertificateRequestRow, DocumentKind, NewCertificate, SqliteStore,
    Store, StoredCa,
};
use certloop::{Error, ErrorKind, Result};
use serde_json::json;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const T0: OffsetDateTime = datetime!(2026-01-01 00:00:00 UTC);

every_store!(
    cas_round_trip_and_crl_numbers_increase,
    templates_and_profiles_are_documents_with_unique_slugs,
    certificate_round_trip_with_request_key_and_audit,
    update_writes_mutable_fields_and_feeds_the_crl,
    search_by_name_san_state_and_expiry_window,
    a_batch_with_a_duplicate_serial_inserts_nothing,
    twenty_thousand_records_in_batches_and_an_expiry_sweep,
    crl_numbers_are_unique_under_concurrent_callers,
    a_request_holding_a_private_key_is_refused,
    audit_is_ordered_and_filterable,
);

fn record(id: &str, serial: &str, cn: &str, sans: &[&str], days: i64) -> CertificateRecord {
    CertificateRecord {
        certificate_id: id.to_owned(),
        serial_number: serial.to_owned(),
        common_name: cn.to_owned(),
        subject: format!("CN={cn}"),
        issuer: "CN=Test Root".to_owned(),
        alt_names: sans.iter().map(|s| SubjectAltName::dns(*s)).collect(),
        not_before: T0,
        not_after: T0 + Duration::days(days),
        fingerprint_sha256: format!("fp-{id}"),
        key_algorithm: Some(KeyAlgorithm::EcP256),
        state: CertificateState::Issued,
        profile_id: Some("prof-1".to_owned()),
        ca_id: Some("ca-1".to_owned()),
        certificate: "-----BEGIN CERTIFICATE-----\n...\n".to_owned(),
        certificate_chain: String::new(),
        certificate_request_id: Some(format!("req-{id}")),
        renewed_from: None,
        renewed_by: None,
        revoked_at: None,
        revocation_reason: None,
        auto_renew: true,
        renew_before_days: Some(30),
        key_managed: false,
        created_at: T0 + Duration::microseconds(123_456),
        updated_at: T0,
    }
}

fn event(action: AuditAction, certificate_id: Option<&str>, at: OffsetDateTime) -> AuditEvent {
    AuditEvent {
        sequence: 0,
        at,
        action,
        certificate_id: certificate_id.map(str::to_owned),
        subject_id: None,
        actor: "test".to_owned(),
        outcome: AuditOutcome::Success,
        detail: String::new(),
    }
}

fn new_cert(record: CertificateRecord) -> NewCertificate {
    let request = CertificateRequestRow {
        id: format!("req-{}", record.certificate_id),
        profile_id: record.profile_id.clone(),
        csr_pem: None,
        request_json: json!({"attributes": {"commonName": record.common_name}}),
        created_at: T0,
    };
    NewCertificate {
        record,
        sealed_key: None,
        request,
        event: event(AuditAction::Issued, None, T0),
    }
}

async fn insert(store: &dyn Store, records: Vec<CertificateRecord>) -> Result<()> {
    let batch: Vec<NewCertificate> = records.into_iter().map(new_cert).collect();
    store.insert_certificates(&batch).await
}

fn kind<T>(result: Result<T>) -> Option<ErrorKind> {
    result.err().map(|e| e.kind())
}

fn ca(id: &str, name: &str, parent: Option<&str>) -> StoredCa {
    StoredCa {
        id: id.to_owned(),
        name: name.to_owned(),
        parent_id: parent.map(str::to_owned),
        certificate_pem: format!("pem-{id}"),
        sealed_key: vec![1, 2, 3],
        config: json!({"crlUrl": "http://crl.example/x.crl"}),
        created_at: T0,
    }
}

async fn cas_round_trip_and_crl_numbers_increase(store: Arc<dyn Store>) -> Result<()> {
    store.insert_ca(&ca("ca-1", "root", None)).await?;
    store.insert_ca(&ca("ca-2", "issuing", Some("ca-1"))).await?;
    assert_eq!(store.get_ca("ca-1").await?, ca("ca-1", "root", None));
    assert_eq!(store.get_ca("issuing").await?.id, "ca-2");
    assert_eq!(kind(store.get_ca("nope").await), Some(ErrorKind::NotFound));
    assert_eq!(
        kind(store.insert_ca(&ca("ca-1", "other", None)).await),
        Some(ErrorKind::AlreadyExists)
    );
    assert_eq!(
        kind(store.insert_ca(&ca("ca-3", "root", None)).await),
        Some(ErrorKind::AlreadyExists)
    );
    assert_eq!(
        kind(store.insert_ca(&ca("ca-4", "orphan", Some("missing"))).await),
        Some(ErrorKind::NotFound)
    );
    let names: Vec<String> = store.list_cas().await?.into_iter().map(|c| c.name).collect();
    assert_eq!(names, ["issuing", "root"]);
    assert_eq!(store.next_crl_number("ca-1").await?, 1);
    assert_eq!(store.next_crl_number("ca-1").await?, 2);
    assert_eq!(store.next_crl_number("ca-2").await?, 1);
    assert_eq!(kind(store.next_crl_number("nope").await), Some(ErrorKind::NotFound));
    Ok(())
}

async fn templates_and_profiles_are_documents_with_unique_slugs(
    store: Arc<dyn Store>,
) -> Result<()> {
    store.put_document(DocumentKind::TEMPLATE, "t1", "web", &json!({"id": "t1", "v": 1})).await?;
    store.put_document(DocumentKind::TEMPLATE, "t2", "client", &json!({"id": "t2"})).await?;
    store
        .put_document(DocumentKind::TEMPLATE, "t1", "web-server", &json!({"id": "t1", "v": 2}))
        .await?;
    assert_eq!(
        store.get_document(DocumentKind::TEMPLATE, "t1").await?,
        json!({"id": "t1", "v": 2})
    );
    assert_eq!(store.get_document(DocumentKind::TEMPLATE, "web-server").await?["v"], 2);
    assert_eq!(
        kind(store.get_document(DocumentKind::TEMPLATE, "web").await),
        Some(ErrorKind::NotFound)
    );
    let taken = store.put_document(DocumentKind::TEMPLATE, "t3", "client", &json!({})).await;
    assert_eq!(kind(taken), Some(ErrorKind::AlreadyExists));
    let ids: Vec<_> = store
        .list_documents(DocumentKind::TEMPLATE)
        .await?
        .into_iter()
        .map(|b| b["id"].clone())
        .collect();
    assert_eq!(ids, [json!("t2"), json!("t1")]);

    // Profiles are a separate namespace.
    assert_eq!(
        kind(store.get_document(DocumentKind::PROFILE, "t1").await),
        Some(ErrorKind::NotFound)
    );
    store.put_document(DocumentKind::PROFILE, "p1", "client", &json!({"templateId": "t2"})).await?;
    assert_eq!(
        store.get_document(DocumentKind::PROFILE, "client").await?,
        json!({"templateId": "t2"})
    );
    assert_eq!(store.list_documents(DocumentKind::PROFILE).await?.len(), 1);
    store.delete_document(DocumentKind::PROFILE, "p1").await?;
    assert!(store.list_documents(DocumentKind::PROFILE).await?.is_empty());
    let gone = store.delete_document(DocumentKind::PROFILE, "p1").await;
    assert_eq!(kind(gone), Some(ErrorKind::NotFound));
    Ok(())
}

async fn certificate_round_trip_with_request_key_and_audit(store: Arc<dyn Store>) -> Result<()> {
    let rec = record("c1", "0abc01", "www.example.com", &["www.example.com", "example.com"], 90);
    let item = new_cert(rec.clone());
    store.insert_certificate(&rec, Some(b"sealed"), &item.request, &item.event).await?;
    assert_eq!(store.get_certificate("c1").await?, rec);
    assert_eq!(store.get_certificate("0A:BC:01").await?.certificate_id, "c1");
    assert_eq!(kind(store.get_certificate("ffff").await), Some(ErrorKind::NotFound));
    assert_eq!(store.get_sealed_key("c1").await?, Some(b"sealed".to_vec()));
    assert_eq!(kind(store.get_sealed_key("c9").await), Some(ErrorKind::NotFound));

    let audit = store.list_audit(&AuditQuery::default()).await?;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].certificate_id.as_deref(), Some("c1"));
    assert_eq!(audit[0].action, AuditAction::Issued);
    assert!(audit[0].sequence > 0);

    // The same id again is refused and leaves no second audit row.
    let again = store.insert_certificate(&rec, None, &item.request, &item.event).await;
    assert_eq!(kind(again), Some(ErrorKind::AlreadyExists));
    assert_eq!(store.list_audit(&AuditQuery::default()).await?.len(), 1);

    // The same serial from another CA is fine; lookup by that serial is then ambiguous.
    let mut other = record("c2", "0abc01", "x", &[], 10);
    other.ca_id = Some("ca-2".to_owned());
    insert(&*store, vec![other]).await?;
    assert_eq!(kind(store.get_certificate("0abc01").await), Some(ErrorKind::InvalidInput));
    Ok(())
}

async fn update_writes_mutable_fields_and_feeds_the_crl(store: Arc<dyn Store>) -> Result<()> {
    insert(&*store, vec![record("a", "01", "a", &[], 10), record("b", "02", "b", &[], 10)]).await?;
    insert(&*store, vec![record("c", "03", "c", &[], 10)]).await?;

    let mut revoked = store.get_certificate("a").await?;
    revoked.state = CertificateState::Revoked;
    revoked.revoked_at = Some(T0 + Duration::days(1));
    revoked.revocation_reason = Some(RevocationReason::KeyCompromise);
    revoked.renewed_by = Some("c".to_owned());
    revoked.updated_at = T0 + Duration::days(1);
    revoked.common_name = "ignored".to_owned(); // immutable: not written
    store.update_certificate(&revoked, &event(AuditAction::Revoked, None, T0)).await?;
    let back = store.get_certificate("a").await?;
    assert_eq!(back.state, CertificateState::Revoked);
    assert_eq!(back.revocation_reason, Some(RevocationReason::KeyCompromise));
    assert_eq!(back.renewed_by.as_deref(), Some("c"));
    assert_eq!(back.common_name, "a");

    let mut held = store.get_certificate("b").await?;
    held.state = CertificateState::Suspended;
    held.revoked_at = Some(T0 + Duration::days(2));
    store.update_certificate(&held, &event(AuditAction::Suspended, Some("b"), T0)).await?;

    let crl = store.revoked_for_ca("ca-1").await?;
    let entries: Vec<_> = crl.iter().map(|e| (e.serial_number.as_str(), e.reason)).collect();
    assert_eq!(
        entries,
        [("01", RevocationReason::KeyCompromise), ("02", RevocationReason::CertificateHold)]
    );
    assert_eq!(crl[1].revoked_at, T0 + Duration::days(2));
    assert!(store.revoked_for_ca("ca-2").await?.is_empty());

    let a_events = AuditQuery { certificate_id: Some("a".to_owned()), ..AuditQuery::default() };
    let actions: Vec<_> =
        store.list_audit(&a_events).await?.into_iter().map(|e| e.action).collect();
    assert_eq!(actions, [AuditAction::Issued, AuditAction::Revoked]);

    let missing = record("zz", "99", "zz", &[], 1);
    let result = store.update_certificate(&missing, &event(AuditAction::Revoked, None, T0)).await;
    assert_eq!(kind(result), Some(ErrorKind::NotFound));
    let for_b = event(AuditAction::Revoked, Some("b"), T0);
    let mismatched = store.update_certificate(&back, &for_b).await;
    assert_eq!(kind(mismatched), Some(ErrorKind::InvalidInput));
    Ok(())
}

async fn search_by_name_san_state_and_expiry_window(store: Arc<dyn Store>) -> Result<()> {
    let mut deleted = record("d", "04", "old.example.com", &["old.example.com"], 5);
    deleted.state = CertificateState::Deleted;
    let mut revoked = record("r", "05", "api.example.com", &["API.example.com"], 20);
    revoked.state = CertificateState::Revoked;
    revoked.ca_id = Some("ca-2".to_owned());
    revoked.profile_id = None;
    insert(
        &*store,
        vec![
            record("w", "01", "WWW.Example.com", &["www.example.com", "example.com"], 30),
            record("m", "02", "mail.example.org", &["mail.example.org"], 10),
            record("p", "03", "100%_sure.test", &[], 60),
            deleted,
            revoked,
        ],
    )
    .await?;
    let ids =
        |v: Vec<CertificateRecord>| v.into_iter().map(|r| r.certificate_id).collect::<Vec<_>>();
    let q = |f: fn(&mut CertificateQuery)| {
        let mut q = CertificateQuery::default();
        f(&mut q);
        q
    };

    assert_eq!(store.count_certificates(&CertificateQuery::default()).await?, 4);
    let cn = q(|q| q.common_name = Some("EXAMPLE.com".into()));
    // Same created_at: ties are ordered by id.
    assert_eq!(ids(store.search_certificates(&cn).await?), ["r", "w"]);
    let literal = q(|q| q.common_name = Some("0%_s".into()));
    assert_eq!(ids(store.search_certificates(&literal).await?), ["p"]);
    let wildcard_is_literal = q(|q| q.common_name = Some("w_w".into()));
    assert!(store.search_certificates(&wildcard_is_literal).await?.is_empty());

    let san = q(|q| q.san = Some("Example.COM".into()));
    assert_eq!(ids(store.search_certificates(&san).await?), ["w"]);
    let san_api = q(|q| q.san = Some("api.example.com".into()));
    assert_eq!(ids(store.search_certificates(&san_api).await?), ["r"]);
    let san_partial = q(|q| q.san = Some("example".into()));
    assert!(store.search_certificates(&san_partial).await?.is_empty());

    let states = q(|q| q.states = vec![CertificateState::Deleted, CertificateState::Revoked]);
    assert_eq!(ids(store.search_certificates(&states).await?), ["d", "r"]);

    // Window boundary: not_after exactly at the limit is included, one second later is not.
    let mut window = CertificateQuery {
        expiring_before: Some(T0 + Duration::days(20)),
        ..CertificateQuery::default()
    };
    assert_eq!(ids(store.search_certificates(&window).await?), ["m", "r"]);
    window.expiring_before = Some(T0 + Duration::days(20) - Duration::seconds(1));
    assert_eq!(ids(store.search_certificates(&window).await?), ["m"]);
    window.expiring_before = Some(T0 + Duration::days(20) + Duration::milliseconds(999));
    assert_eq!(store.count_certificates(&window).await?, 2);
    window.expiring_before = Some(T0 + Duration::days(100));
    window.states = vec![CertificateState::Issued];
    assert_eq!(ids(store.search_certificates(&window).await?), ["m", "w", "p"]);
    window.limit = Some(1);
    window.offset = Some(1);
    assert_eq!(ids(store.search_certificates(&window).await?), ["w"]);
    assert_eq!(store.count_certificates(&window).await?, 3);

    let by_ca = q(|q| q.issuer_ca_id = Some("ca-2".into()));
    assert_eq!(ids(store.search_certificates(&by_ca).await?), ["r"]);
    let by_profile = q(|q| q.profile_id = Some("prof-1".into()));
    assert_eq!(store.count_certificates(&by_profile).await?, 3);
    Ok(())
}

async fn a_batch_with_a_duplicate_serial_inserts_nothing(store: Arc<dyn Store>) -> Result<()> {
    let batch = vec![
        record("a", "01", "a", &["a.test"], 10),
        record("b", "02", "b", &[], 10),
        record("c", "01", "c", &[], 10), // same (ca_id, serial) as "a"
    ];
    let result = insert(&*store, batch).await;
    assert_eq!(kind(result), Some(ErrorKind::AlreadyExists));
    assert_eq!(store.count_certificates(&CertificateQuery::default()).await?, 0);
    assert!(store.list_audit(&AuditQuery::default()).await?.is_empty());
    let san = CertificateQuery { san: Some("a.test".into()), ..CertificateQuery::default() };
    assert_eq!(store.count_certificates(&san).await?, 0);
    // Nothing half-written blocks a retry (request rows were rolled back too).
    insert(&*store, vec![record("a", "01", "a", &["a.test"], 10)]).await?;
    assert_eq!(store.count_certificates(&san).await?, 1);
    Ok(())
}

async fn audit_is_ordered_and_filterable(store: Arc<dyn Store>) -> Result<()> {
    let first = store.append_audit(&event(AuditAction::CaCreated, None, T0)).await?;
    let second =
        store.append_audit(&event(AuditAction::CrlSigned, None, T0 + Duration::hours(1))).await?;
    assert!(second > first);
    let since = AuditQuery { since: Some(T0 + Duration::hours(1)), ..AuditQuery::default() };
    let events = store.list_audit(&since).await?;
    assert_eq!(events.len(), 1);
    assert_eq!((events[0].sequence, events[0].action), (second, AuditAction::CrlSigned));
    let limited = AuditQuery { limit: Some(1), ..AuditQuery::default() };
    assert_eq!(store.list_audit(&limited).await?[0].sequence, first);
    Ok(())
}

#[tokio::test]
async fn sqlite_audit_is_append_only_for_every_client() -> Result<()> {
    let dir = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
    let path = dir.path().join("inventory.db");
    audit_is_ordered_and_filterable(Arc::new(SqliteStore::open(&path)?)).await?;
    let raw = rusqlite::Connection::open(&path).map_err(Error::store)?;
    let update = raw.execute("UPDATE audit_events SET actor = 'mallory'", []);
    let message = update.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(message.contains("append-only"), "update was not refused: {message:?}");
    let delete = raw.execute("DELETE FROM audit_events", []);
    let message = delete.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(message.contains("append-only"), "delete was not refused: {message:?}");
    let store = SqliteStore::open(&path)?;
    assert_eq!(store.list_audit(&AuditQuery::default()).await?.len(), 2);
    Ok(())
}

#[tokio::test]
async fn sqlite_reopening_keeps_data_and_a_newer_schema_is_refused() -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
    let path = dir.path().join("state").join("inventory.db");
    {
        let store = SqliteStore::open(&path)?;
        insert(&store, vec![record("a", "01", "a", &[], 10)]).await?;
        store.put_document(DocumentKind::PROFILE, "p", "p", &json!({"x": 1})).await?;
        // SQLite gives the WAL file the database file's mode.
        let wal = path.with_extension("db-wal");
        let wal_mode =
            std::fs::metadata(&wal).map_err(|e| Error::io("meta", e))?.permissions().mode();
        assert_eq!(wal_mode & 0o777, 0o600);
    }
    let mode = std::fs::metadata(&path).map_err(|e| Error::io("meta", e))?.permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let dir_mode = std::fs::metadata(dir.path().join("state"))
        .map_err(|e| Error::io("meta", e))?
        .permissions()
        .mode();
    assert_eq!(dir_mode & 0o777, 0o700);

    // Migrations use plain CREATE TABLE: re-running one would fail this open.
    let store = SqliteStore::open(&path)?;
    assert_eq!(store.schema_version()?, SqliteStore::SCHEMA_VERSION);
    assert_eq!(store.get_certificate("a").await?.common_name, "a");
    assert_eq!(store.get_document(DocumentKind::PROFILE, "p").await?, json!({"x": 1}));
    drop(store);

    let raw = rusqlite::Connection::open(&path).map_err(Error::store)?;
    raw.pragma_update(None, "user_version", SqliteStore::SCHEMA_VERSION + 1)
        .map_err(Error::store)?;
    drop(raw);
    let refused = SqliteStore::open(&path).err();
    assert_eq!(refused.as_ref().map(Error::kind), Some(ErrorKind::Store));
    let message = refused.map(|e| e.to_string()).unwrap_or_default();
    assert!(message.contains("newer") && message.contains("upgrade certloop"), "{message}");
    Ok(())
}

async fn twenty_thousand_records_in_batches_and_an_expiry_sweep(
    store: Arc<dyn Store>,
) -> Result<()> {
    for chunk in 0..20 {
        let batch: Vec<NewCertificate> = (0..1000)
            .map(|i| {
                let n = chunk * 1000 + i;
                let id = format!("c{n}");
                // not_after spread over 0..400 days: day = n % 400.
                new_cert(record(&id, &format!("{n:x}"), &format!("h{n}.test"), &[], n % 400))
            })
            .collect();
        store.insert_certificates(&batch).await?;
    }
    let window = CertificateQuery {
        states: vec![CertificateState::Issued],
        expiring_before: Some(T0 + Duration::days(29)),
        ..CertificateQuery::default()
    };
    // Days 0..=29 inclusive: 30 of every 400 values, 20,000 / 400 = 50 each.
    assert_eq!(store.count_certificates(&window).await?, 30 * 50);
    let first = store.search_certificates(&CertificateQuery { limit: Some(3), ..window }).await?;
    assert!(first.iter().all(|r| r.not_after == T0));
    assert_eq!(store.count_certificates(&CertificateQuery::default()).await?, 20_000);
    Ok(())
}

async fn crl_numbers_are_unique_under_concurrent_callers(store: Arc<dyn Store>) -> Result<()> {
    store.insert_ca(&ca("ca-1", "root", None)).await?;
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let mut numbers = Vec::new();
                for _ in 0..50 {
                    numbers.push(store.next_crl_number("ca-1").await?);
                }
                Ok::<_, Error>(numbers)
            })
        })
        .collect();
    let mut all = Vec::new();
    for task in tasks {
        let numbers = task.await.map_err(|_| Error::store("task panicked"))??;
        assert!(numbers.windows(2).all(|w| w[0] < w[1]), "not monotonic per caller");
        all.extend(numbers);
    }
    all.sort_unstable();
    assert_eq!(all, (1..=200).collect::<Vec<u64>>());
    Ok(())
}

async fn a_request_holding_a_private_key_is_refused(store: Arc<dyn Store>) -> Result<()> {
    let mut item = new_cert(record("a", "01", "a", &[], 10));
    item.request.request_json =
        json!({"note": "-----BEGIN PRIVATE KEY-----\nMIG...\n-----END PRIVATE KEY-----"});
    assert_eq!(kind(store.insert_certificates(&[item]).await), Some(ErrorKind::InvalidInput));
    assert_eq!(store.count_certificates(&CertificateQuery::default()).await?, 0);
    Ok(())
}

#[test]
fn sqlite_concurrent_first_opens_of_one_file_all_succeed() -> Result<()> {
    let dir = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
    let path = dir.path().join("inventory.db");
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let path = path.clone();
            std::thread::spawn(move || SqliteStore::open(&path).and_then(|s| s.schema_version()))
        })
        .collect();
    for thread in threads {
        let version = thread.join().map_err(|_| Error::store("thread panicked"))??;
        assert_eq!(version, SqliteStore::SCHEMA_VERSION);
    }
    Ok(())
}

/// What only PostgreSQL has: a server to reach, a URL to parse, other clients.
#[cfg(feature = "postgres")]
mod postgres_only {
    use super::*;
    use common::postgres::{fresh_database, raw, server};

    #[tokio::test]
    async fn the_audit_log_is_append_only_for_every_client() -> Result<()> {
        let Some(url) = fresh_database().await? else { return Ok(()) };
        audit_is_ordered_and_filterable(Arc::new(PostgresStore::connect(&url).await?)).await?;
        for sql in [
            "UPDATE audit_events SET actor = 'mallory'",
            "DELETE FROM audit_events",
            "TRUNCATE audit_events",
        ] {
            let refused = raw(&url, sql).await.err().unwrap_or_default();
            assert!(refused.contains("append-only"), "{sql} was not refused: {refused:?}");
        }
        let store = PostgresStore::connect(&url).await?;
        assert_eq!(store.list_audit(&AuditQuery::default()).await?.len(), 2);
        Ok(())
    }

    #[tokio::test]
    async fn reconnecting_keeps_data_and_a_newer_schema_is_refused() -> Result<()> {
        let Some(url) = fresh_database().await? else { return Ok(()) };
        {
            let store = PostgresStore::connect(&url).await?;
            insert(&store, vec![record("a", "01", "a", &[], 10)]).await?;
            store.put_document(DocumentKind::PROFILE, "p", "p", &json!({"x": 1})).await?;
        }
        let store = PostgresStore::connect(&url).await?;
        assert_eq!(store.schema_version().await?, PostgresStore::SCHEMA_VERSION);
        assert_eq!(store.get_certificate("a").await?.common_name, "a");
        assert_eq!(store.get_document(DocumentKind::PROFILE, "p").await?, json!({"x": 1}));
        drop(store);

        let newer = PostgresStore::SCHEMA_VERSION + 1;
        raw(&url, &format!("UPDATE certloop_schema SET version = {newer}"))
            .await
            .map_err(Error::store)?;
        let refused = PostgresStore::connect(&url).await.err();
        assert_eq!(refused.as_ref().map(Error::kind), Some(ErrorKind::Store));
        let message = refused.map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("newer") && message.contains("upgrade certloop"), "{message}");
        Ok(())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn agents_connecting_at_once_to_a_fresh_database_all_succeed() -> Result<()> {
        let Some(url) = fresh_database().await? else { return Ok(()) };
        let connects: Vec<_> = (0..4)
            .map(|_| {
                let url = url.clone();
                tokio::spawn(
                    async move { PostgresStore::connect(&url).await?.schema_version().await },
                )
            })
            .collect();
        for connect in connects {
            let version = connect.await.map_err(|_| Error::store("task panicked"))??;
            assert_eq!(version, PostgresStore::SCHEMA_VERSION);
        }
        Ok(())
    }

    #[tokio::test]
    async fn a_chain_is_stored_once_for_all_its_certificates() -> Result<()> {
        let Some(url) = fresh_database().await? else { return Ok(()) };
        let store = PostgresStore::connect(&url).await?;
        let chain = "-----BEGIN CERTIFICATE-----\nissuing\n-----END CERTIFICATE-----\n";
        let records = (0..50)
            .map(|i| {
                let mut r = record(&format!("c{i}"), &format!("{i:x}"), "h", &[], 30);
                r.certificate_chain = chain.to_owned();
                r
            })
            .collect();
        insert(&store, records).await?;
        assert_eq!(store.get_certificate("c7").await?.certificate_chain, chain);
        let (client, connection) =
            tokio_postgres::connect(&url, tokio_postgres::NoTls).await.map_err(Error::store)?;
        let task = tokio::spawn(connection);
        let row =
            client.query_one("SELECT count(*) FROM chains", &[]).await.map_err(Error::store)?;
        assert_eq!(row.get::<_, i64>(0), 1);
        drop(client);
        let _ = task.await;
        Ok(())
    }

    #[tokio::test]
    async fn bad_and_unreachable_urls_are_clear_errors_without_the_password() -> Result<()> {
        let malformed =
            PostgresStore::connect("postgres://certloop:s3cret@127.0.0.1:notaport/x").await.err();
        assert_eq!(malformed.as_ref().map(Error::kind), Some(ErrorKind::InvalidInput));
        let message = malformed.map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("store") && !message.contains("s3cret"), "{message}");

        // A loopback port nothing listens on (bound, then released).
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| Error::io("127.0.0.1:0", e))?
            .port();
        let url = format!("postgres://certloop:s3cret@127.0.0.1:{port}/inventory");
        let unreachable = PostgresStore::connect(&url).await.err();
        assert_eq!(unreachable.as_ref().map(Error::kind), Some(ErrorKind::Store));
        let message = unreachable.map(|e| e.to_string()).unwrap_or_default();
        assert!(
            message.contains(&format!("postgres://certloop@127.0.0.1:{port}/inventory"))
                && !message.contains("s3cret"),
            "{message}"
        );

        let tls = PostgresStore::connect("postgres://u@127.0.0.1/x?sslmode=require").await.err();
        let message = tls.map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("sslmode=require"), "{message}");

        if let Some(base) = server()? {
            let missing = PostgresStore::connect(&format!("{base}/certloop_no_such_db")).await;
            let message = missing.err().map(|e| e.to_string()).unwrap_or_default();
            assert!(message.contains("certloop_no_such_db"), "{message}");
        }
        Ok(())
    }
}

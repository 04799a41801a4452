//! CAs, JSON documents and the audit log on PostgreSQL.

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::{big, col, db, detail, is_foreign_key_violation, is_unique_violation, micros};
use crate::error::{Error, Result};
use crate::model::AuditEvent;
use crate::store::codec::{enum_name, parse_enum};
use crate::store::{AuditQuery, DocumentKind, StoredCa};

const CA_COLUMNS: &str = "id, name, parent_id, certificate_pem, sealed_key, config, created_at";

pub(super) async fn insert_ca(client: &impl GenericClient, ca: &StoredCa) -> Result<()> {
    let stmt = client
        .prepare_cached(
            "INSERT INTO cas (id, name, parent_id, certificate_pem, sealed_key, config, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .await
        .map_err(db("preparing the CA insert"))?;
    client
        .execute(
            &stmt,
            &[
                &ca.id,
                &ca.name,
                &ca.parent_id,
                &ca.certificate_pem,
                &ca.sealed_key,
                &ca.config,
                &micros(ca.created_at),
            ],
        )
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                Error::AlreadyExists { what: "CA", id: format!("{} ({})", ca.name, ca.id) }
            } else if is_foreign_key_violation(&e) {
                Error::NotFound { what: "CA", id: ca.parent_id.clone().unwrap_or_default() }
            } else {
                Error::store(format!("inserting CA {}: {}", ca.id, detail(&e)))
            }
        })?;
    Ok(())
}

fn ca_from_row(row: &Row) -> Result<StoredCa> {
    Ok(StoredCa {
        id: col(row, 0, "cas")?,
        name: col(row, 1, "cas")?,
        parent_id: col(row, 2, "cas")?,
        certificate_pem: col(row, 3, "cas")?,
        sealed_key: col(row, 4, "cas")?,
        config: col(row, 5, "cas")?,
        created_at: col(row, 6, "cas")?,
    })
}

pub(super) async fn get_ca(client: &impl GenericClient, id_or_name: &str) -> Result<StoredCa> {
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {CA_COLUMNS} FROM cas WHERE id = $1 OR name = $1 ORDER BY id = $1 DESC \
             LIMIT 1"
        ))
        .await
        .map_err(db("preparing the CA lookup"))?;
    let row = client
        .query_opt(&stmt, &[&id_or_name])
        .await
        .map_err(db(format!("reading CA {id_or_name}")))?
        .ok_or_else(|| Error::NotFound { what: "CA", id: id_or_name.to_owned() })?;
    ca_from_row(&row)
}

pub(super) async fn list_cas(client: &impl GenericClient) -> Result<Vec<StoredCa>> {
    let stmt = client
        .prepare_cached(&format!("SELECT {CA_COLUMNS} FROM cas ORDER BY created_at, name"))
        .await
        .map_err(db("preparing the CA list"))?;
    let rows = client.query(&stmt, &[]).await.map_err(db("listing CAs"))?;
    rows.iter().map(ca_from_row).collect()
}

/// One atomic `UPDATE ... RETURNING`: no two callers get the same number.
pub(super) async fn next_crl_number(client: &impl GenericClient, ca_id: &str) -> Result<u64> {
    let stmt = client
        .prepare_cached(
            "UPDATE cas SET crl_number = crl_number + 1 WHERE id = $1 RETURNING crl_number",
        )
        .await
        .map_err(db("preparing the CRL number update"))?;
    let row = client
        .query_opt(&stmt, &[&ca_id])
        .await
        .map_err(db(format!("advancing the CRL number of CA {ca_id}")))?
        .ok_or_else(|| Error::NotFound { what: "CA", id: ca_id.to_owned() })?;
    u64::try_from(row.get::<_, i64>(0))
        .map_err(|_| Error::store(format!("CA {ca_id}: negative CRL number")))
}

/// Insert or replace a document (inside the caller's transaction).
pub(super) async fn put_document(
    client: &impl GenericClient,
    kind: DocumentKind,
    id: &str,
    slug: &str,
    body: &serde_json::Value,
) -> Result<()> {
    let taken = client
        .prepare_cached("SELECT id FROM documents WHERE kind = $1 AND slug = $2 AND id <> $3")
        .await
        .map_err(db("preparing the slug check"))?;
    if client
        .query_opt(&taken, &[&kind.kind, &slug, &id])
        .await
        .map_err(db(format!("checking {} slug {slug}", kind.what)))?
        .is_some()
    {
        return Err(Error::AlreadyExists { what: kind.what, id: slug.to_owned() });
    }
    let upsert = client
        .prepare_cached(
            "INSERT INTO documents (kind, id, slug, body) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (kind, id) DO UPDATE SET slug = excluded.slug, body = excluded.body",
        )
        .await
        .map_err(db("preparing the document upsert"))?;
    client.execute(&upsert, &[&kind.kind, &id, &slug, body]).await.map_err(|e| {
        if is_unique_violation(&e) {
            // Another process took the slug between the check and the insert.
            Error::AlreadyExists { what: kind.what, id: slug.to_owned() }
        } else {
            Error::store(format!("saving {} {id}: {}", kind.what, detail(&e)))
        }
    })?;
    Ok(())
}

pub(super) async fn get_document(
    client: &impl GenericClient,
    kind: DocumentKind,
    id_or_slug: &str,
) -> Result<serde_json::Value> {
    let stmt = client
        .prepare_cached(
            "SELECT body FROM documents WHERE kind = $1 AND (id = $2 OR slug = $2) \
             ORDER BY id = $2 DESC LIMIT 1",
        )
        .await
        .map_err(db("preparing the document lookup"))?;
    let row = client
        .query_opt(&stmt, &[&kind.kind, &id_or_slug])
        .await
        .map_err(db(format!("reading {} {id_or_slug}", kind.what)))?
        .ok_or_else(|| Error::NotFound { what: kind.what, id: id_or_slug.to_owned() })?;
    col(&row, 0, "documents")
}

pub(super) async fn list_documents(
    client: &impl GenericClient,
    kind: DocumentKind,
) -> Result<Vec<serde_json::Value>> {
    let stmt = client
        .prepare_cached("SELECT body FROM documents WHERE kind = $1 ORDER BY slug")
        .await
        .map_err(db("preparing the document list"))?;
    let rows =
        client.query(&stmt, &[&kind.kind]).await.map_err(db(format!("listing {}s", kind.what)))?;
    rows.iter().map(|row| col(row, 0, "documents")).collect()
}

pub(super) async fn delete_document(
    client: &impl GenericClient,
    kind: DocumentKind,
    id: &str,
) -> Result<()> {
    let stmt = client
        .prepare_cached("DELETE FROM documents WHERE kind = $1 AND id = $2")
        .await
        .map_err(db("preparing the document delete"))?;
    let deleted = client
        .execute(&stmt, &[&kind.kind, &id])
        .await
        .map_err(db(format!("deleting {} {id}", kind.what)))?;
    if deleted == 0 {
        return Err(Error::NotFound { what: kind.what, id: id.to_owned() });
    }
    Ok(())
}

/// The trigger-kept counter of document writes (see the migration).
pub(super) async fn documents_version(client: &impl GenericClient) -> Result<u64> {
    let stmt = client
        .prepare_cached("SELECT version FROM documents_version")
        .await
        .map_err(db("preparing the documents version query"))?;
    let row = client.query_one(&stmt, &[]).await.map_err(db("reading the documents version"))?;
    u64::try_from(row.get::<_, i64>(0)).map_err(|_| Error::store("negative documents version"))
}

/// Append `event`; `certificate_id` (when given) fills an unset `event.certificate_id` and
/// must agree with a set one.
pub(super) async fn append_audit(
    client: &impl GenericClient,
    event: &AuditEvent,
    certificate_id: Option<&str>,
) -> Result<i64> {
    let certificate_id = match (event.certificate_id.as_deref(), certificate_id) {
        (Some(a), Some(b)) if a != b => {
            return Err(Error::invalid(
                "event.certificateId",
                format!("the audit event names certificate {a} but is written for {b}"),
            ));
        }
        (Some(a), _) => Some(a),
        (None, b) => b,
    };
    let stmt = client
        .prepare_cached(
            "INSERT INTO audit_events (at, action, certificate_id, subject_id, actor, outcome, \
             detail) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING sequence",
        )
        .await
        .map_err(db("preparing the audit insert"))?;
    let row = client
        .query_one(
            &stmt,
            &[
                &micros(event.at),
                &enum_name(&event.action)?,
                &certificate_id,
                &event.subject_id,
                &event.actor,
                &enum_name(&event.outcome)?,
                &event.detail,
            ],
        )
        .await
        .map_err(db("appending an audit event"))?;
    Ok(row.get(0))
}

pub(super) async fn list_audit(
    client: &impl GenericClient,
    query: &AuditQuery,
) -> Result<Vec<AuditEvent>> {
    // Only the set filters go into the SQL, so the planner can use the matching index.
    let mut clauses = vec!["true".to_owned()];
    let since = query.since.map(micros);
    let limit = big(query.limit);
    let mut params: Vec<&(dyn ToSql + Sync)> = Vec::new();
    if let Some(id) = &query.certificate_id {
        params.push(id);
        clauses.push(format!("certificate_id = ${}", params.len()));
    }
    if let Some(since) = &since {
        params.push(since);
        clauses.push(format!("at >= ${}", params.len()));
    }
    params.push(&limit);
    let sql = format!(
        "SELECT sequence, at, action, certificate_id, subject_id, actor, outcome, detail \
         FROM audit_events WHERE {} ORDER BY sequence LIMIT ${}",
        clauses.join(" AND "),
        params.len()
    );
    let stmt = client.prepare_cached(&sql).await.map_err(db("preparing the audit query"))?;
    let rows = client.query(&stmt, &params).await.map_err(db("reading the audit log"))?;
    rows.iter()
        .map(|row| {
            let text = |i: usize| col::<String>(row, i, "audit_events");
            Ok(AuditEvent {
                sequence: col(row, 0, "audit_events")?,
                at: col(row, 1, "audit_events")?,
                action: parse_enum("audit_events.action", &text(2)?)?,
                certificate_id: col(row, 3, "audit_events")?,
                subject_id: col(row, 4, "audit_events")?,
                actor: text(5)?,
                outcome: parse_enum("audit_events.outcome", &text(6)?)?,
                detail: text(7)?,
            })
        })
        .collect()
}

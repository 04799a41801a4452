//! Queries for CAs, policy documents (templates, profiles) and the audit log.

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};

use super::convert::{
    db, enum_name, from_json, from_micros, in_row, is_foreign_key_violation, is_unique_violation,
    limit_value, parse_enum, to_json, to_micros,
};
use crate::error::{Error, Result};
use crate::model::AuditEvent;
use crate::store::{AuditQuery, DocumentKind, StoredCa};

const CA_COLUMNS: &str = "id, name, parent_id, certificate_pem, sealed_key, config, created_at";

pub(super) fn insert_ca(conn: &Connection, ca: &StoredCa) -> Result<()> {
    let mut stmt = conn
        .prepare_cached(
            "INSERT INTO cas (id, name, parent_id, certificate_pem, sealed_key, config, \
             created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .map_err(db("preparing the CA insert"))?;
    stmt.execute(params![
        ca.id,
        ca.name,
        ca.parent_id,
        ca.certificate_pem,
        ca.sealed_key,
        to_json(&ca.config)?,
        to_micros(ca.created_at)?,
    ])
    .map_err(|e| {
        if is_unique_violation(&e) {
            Error::AlreadyExists { what: "CA", id: format!("{} ({})", ca.name, ca.id) }
        } else if is_foreign_key_violation(&e) {
            Error::NotFound { what: "CA", id: ca.parent_id.clone().unwrap_or_default() }
        } else {
            Error::store(format!("inserting CA {}: {e}", ca.id))
        }
    })?;
    Ok(())
}

fn ca_from_row(row: &Row<'_>) -> rusqlite::Result<StoredCa> {
    let config: String = row.get(5)?;
    Ok(StoredCa {
        id: row.get(0)?,
        name: row.get(1)?,
        parent_id: row.get(2)?,
        certificate_pem: row.get(3)?,
        sealed_key: row.get(4)?,
        config: in_row(5, from_json("cas.config", &config))?,
        created_at: in_row(6, from_micros(row.get(6)?))?,
    })
}

pub(super) fn get_ca(conn: &Connection, id_or_name: &str) -> Result<StoredCa> {
    let sql = format!(
        "SELECT {CA_COLUMNS} FROM cas WHERE id = ?1 OR name = ?1 ORDER BY id = ?1 DESC LIMIT 1"
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(db("preparing the CA lookup"))?;
    stmt.query_row([id_or_name], ca_from_row)
        .optional()
        .map_err(db(format!("reading CA {id_or_name}")))?
        .ok_or_else(|| Error::NotFound { what: "CA", id: id_or_name.to_owned() })
}

pub(super) fn list_cas(conn: &Connection) -> Result<Vec<StoredCa>> {
    let sql = format!("SELECT {CA_COLUMNS} FROM cas ORDER BY created_at, name");
    let mut stmt = conn.prepare_cached(&sql).map_err(db("preparing the CA list"))?;
    let rows = stmt.query_map([], ca_from_row).map_err(db("listing CAs"))?;
    rows.collect::<rusqlite::Result<_>>().map_err(db("listing CAs"))
}

/// One atomic `UPDATE ... RETURNING`: no two callers get the same number.
pub(super) fn next_crl_number(conn: &Connection, ca_id: &str) -> Result<u64> {
    let mut stmt = conn
        .prepare_cached(
            "UPDATE cas SET crl_number = crl_number + 1 WHERE id = ?1 RETURNING crl_number",
        )
        .map_err(db("preparing the CRL number update"))?;
    let number: Option<i64> = stmt
        .query_row([ca_id], |row| row.get(0))
        .optional()
        .map_err(db(format!("advancing the CRL number of CA {ca_id}")))?;
    let number = number.ok_or_else(|| Error::NotFound { what: "CA", id: ca_id.to_owned() })?;
    u64::try_from(number).map_err(|_| Error::store(format!("CA {ca_id}: negative CRL number")))
}

pub(super) fn put_document(
    conn: &mut Connection,
    kind: DocumentKind,
    id: &str,
    slug: &str,
    body: &serde_json::Value,
) -> Result<()> {
    let body = to_json(body)?;
    let tx = conn.transaction().map_err(db("starting a transaction"))?;
    {
        let mut taken = tx
            .prepare_cached("SELECT id FROM documents WHERE kind = ?1 AND slug = ?2 AND id <> ?3")
            .map_err(db("preparing the slug check"))?;
        let other: Option<String> = taken
            .query_row(params![kind.kind, slug, id], |row| row.get(0))
            .optional()
            .map_err(db(format!("checking {} slug {slug}", kind.what)))?;
        if other.is_some() {
            return Err(Error::AlreadyExists { what: kind.what, id: slug.to_owned() });
        }
        let mut upsert = tx
            .prepare_cached(
                "INSERT INTO documents (kind, id, slug, body) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (kind, id) DO UPDATE SET slug = excluded.slug, body = excluded.body",
            )
            .map_err(db("preparing the document upsert"))?;
        upsert
            .execute(params![kind.kind, id, slug, body])
            .map_err(db(format!("saving {} {id}", kind.what)))?;
    }
    tx.commit().map_err(db(format!("saving {} {id}", kind.what)))
}

pub(super) fn get_document(
    conn: &Connection,
    kind: DocumentKind,
    id_or_slug: &str,
) -> Result<serde_json::Value> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT body FROM documents WHERE kind = ?1 AND (id = ?2 OR slug = ?2) \
             ORDER BY id = ?2 DESC LIMIT 1",
        )
        .map_err(db("preparing the document lookup"))?;
    let body: Option<String> = stmt
        .query_row(params![kind.kind, id_or_slug], |row| row.get(0))
        .optional()
        .map_err(db(format!("reading {} {id_or_slug}", kind.what)))?;
    let body =
        body.ok_or_else(|| Error::NotFound { what: kind.what, id: id_or_slug.to_owned() })?;
    from_json("documents.body", &body)
}

pub(super) fn list_documents(
    conn: &Connection,
    kind: DocumentKind,
) -> Result<Vec<serde_json::Value>> {
    let mut stmt = conn
        .prepare_cached("SELECT body FROM documents WHERE kind = ?1 ORDER BY slug")
        .map_err(db("preparing the document list"))?;
    let rows = stmt
        .query_map([kind.kind], |row| row.get::<_, String>(0))
        .map_err(db(format!("listing {}s", kind.what)))?;
    let mut out = Vec::new();
    for body in rows {
        let body = body.map_err(db(format!("listing {}s", kind.what)))?;
        out.push(from_json("documents.body", &body)?);
    }
    Ok(out)
}

pub(super) fn delete_document(conn: &Connection, kind: DocumentKind, id: &str) -> Result<()> {
    let deleted = conn
        .prepare_cached("DELETE FROM documents WHERE kind = ?1 AND id = ?2")
        .and_then(|mut stmt| stmt.execute(params![kind.kind, id]))
        .map_err(db(format!("deleting {} {id}", kind.what)))?;
    if deleted == 0 {
        return Err(Error::NotFound { what: kind.what, id: id.to_owned() });
    }
    Ok(())
}

/// Append `event`; `certificate_id` (when given) fills an unset `event.certificate_id` and
/// must agree with a set one.
pub(super) fn append_audit(
    conn: &Connection,
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
    let mut stmt = conn
        .prepare_cached(
            "INSERT INTO audit_events (at, action, certificate_id, subject_id, actor, outcome, \
             detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .map_err(db("preparing the audit insert"))?;
    stmt.execute(params![
        to_micros(event.at)?,
        enum_name(&event.action)?,
        certificate_id,
        event.subject_id,
        event.actor,
        enum_name(&event.outcome)?,
        event.detail,
    ])
    .map_err(db("appending an audit event"))?;
    Ok(conn.last_insert_rowid())
}

pub(super) fn list_audit(conn: &Connection, query: &AuditQuery) -> Result<Vec<AuditEvent>> {
    // Only the set filters go into the SQL, so SQLite can use the matching index.
    let mut clauses = vec!["1"];
    let mut values: Vec<Value> = Vec::new();
    if let Some(id) = &query.certificate_id {
        clauses.push("certificate_id = ?");
        values.push(Value::Text(id.clone()));
    }
    if let Some(since) = query.since {
        clauses.push("at >= ?");
        values.push(Value::Integer(to_micros(since)?));
    }
    values.push(Value::Integer(limit_value(query.limit)));
    let sql = format!(
        "SELECT sequence, at, action, certificate_id, subject_id, actor, outcome, detail \
         FROM audit_events WHERE {} ORDER BY sequence LIMIT ?",
        clauses.join(" AND ")
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(db("preparing the audit query"))?;
    let rows = stmt
        .query_map(params_from_iter(values), |row| {
            Ok(AuditEvent {
                sequence: row.get(0)?,
                at: in_row(1, from_micros(row.get(1)?))?,
                action: in_row(2, parse_enum("audit_events.action", &row.get::<_, String>(2)?))?,
                certificate_id: row.get(3)?,
                subject_id: row.get(4)?,
                actor: row.get(5)?,
                outcome: in_row(6, parse_enum("audit_events.outcome", &row.get::<_, String>(6)?))?,
                detail: row.get(7)?,
            })
        })
        .map_err(db("reading the audit log"))?;
    rows.collect::<rusqlite::Result<_>>().map_err(db("reading the audit log"))
}

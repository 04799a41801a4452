//! Managed certificates and the engine's atomic write sets.

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};

use super::certificates;
use super::convert::{db, from_json, from_micros, in_row, is_unique_violation, to_json, to_micros};
use super::objects::append_audit;
use crate::error::{Error, Result};
use crate::lifecycle::managed::ManagedCertificate;
use crate::store::{ManagedQuery, WriteSet};
use time::OffsetDateTime;

/// The columns [`from_row`] reads.
const COLUMNS: &str = "body, lease_owner, lease_until";

/// Apply a write set inside the caller's transaction.
pub(super) fn write(conn: &Connection, set: &WriteSet) -> Result<()> {
    if let Some(owner) = &set.fence {
        for managed in &set.managed {
            check_fence(conn, &managed.id, owner)?;
        }
    }
    for item in &set.new_certificates {
        certificates::insert_one(
            conn,
            &item.record,
            item.sealed_key.as_deref(),
            &item.request,
            &item.event,
        )?;
    }
    for record in &set.certificate_updates {
        certificates::update(conn, record)?;
    }
    for managed in &set.managed {
        upsert(conn, managed)?;
    }
    for event in &set.events {
        append_audit(conn, event, None)?;
    }
    Ok(())
}

/// `InvalidState` unless `owner` still holds the claim on `id` (or `id` is new).
fn check_fence(conn: &Connection, id: &str, owner: &str) -> Result<()> {
    let holder: Option<Option<String>> = conn
        .prepare_cached("SELECT lease_owner FROM managed_certificates WHERE id = ?1")
        .and_then(|mut stmt| stmt.query_row([id], |row| row.get(0)).optional())
        .map_err(db("reading a claim"))?;
    match holder {
        None => Ok(()),
        Some(Some(holder)) if holder == owner => Ok(()),
        Some(holder) => Err(Error::InvalidState(format!(
            "managed certificate {id} is no longer claimed by agent {owner} (now: {}); its \
             work was not recorded",
            holder.as_deref().unwrap_or("nobody")
        ))),
    }
}

fn upsert(conn: &Connection, managed: &ManagedCertificate) -> Result<()> {
    let mut stmt = conn
        .prepare_cached(
            "INSERT INTO managed_certificates (id, name, state, certificate_id, pending_id, body, \
             due_at, lease_owner, lease_until, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, \
             ?5, ?6, ?7, ?8, ?9, ?10, ?11) ON CONFLICT (id) DO UPDATE SET name = excluded.name, \
             state = excluded.state, certificate_id = excluded.certificate_id, pending_id = \
             excluded.pending_id, body = excluded.body, due_at = excluded.due_at, lease_owner = \
             excluded.lease_owner, lease_until = excluded.lease_until, updated_at = \
             excluded.updated_at",
        )
        .map_err(db("preparing the managed certificate write"))?;
    stmt.execute(params![
        managed.id,
        managed.name,
        managed.state.as_str(),
        managed.certificate_id,
        managed.pending_certificate_id,
        to_json(managed)?,
        managed.due_at().map(to_micros).transpose()?,
        managed.lease_owner,
        managed.lease_until.map(to_micros).transpose()?,
        to_micros(managed.created_at)?,
        to_micros(managed.updated_at)?,
    ])
    .map_err(|e| {
        if is_unique_violation(&e) {
            Error::AlreadyExists { what: "managed certificate", id: managed.name.clone() }
        } else {
            Error::store(format!("writing managed certificate {}: {e}", managed.id))
        }
    })?;
    Ok(())
}

/// A managed certificate from its body, with the claim columns (which the store owns).
fn from_row(row: &Row<'_>) -> rusqlite::Result<ManagedCertificate> {
    let body: String = row.get(0)?;
    let mut managed: ManagedCertificate = in_row(0, from_json("body", &body))?;
    managed.lease_owner = row.get(1)?;
    managed.lease_until =
        row.get::<_, Option<i64>>(2)?.map(|micros| in_row(2, from_micros(micros))).transpose()?;
    Ok(managed)
}

pub(super) fn get(conn: &Connection, id_or_name: &str) -> Result<ManagedCertificate> {
    let sql = format!(
        "SELECT {COLUMNS} FROM managed_certificates WHERE id = ?1 UNION ALL SELECT {COLUMNS} \
         FROM managed_certificates WHERE name = ?1 AND id <> ?1 LIMIT 1"
    );
    conn.prepare_cached(&sql)
        .and_then(|mut stmt| stmt.query_row([id_or_name], from_row).optional())
        .map_err(db(format!("reading managed certificate {id_or_name}")))?
        .ok_or_else(|| Error::NotFound { what: "managed certificate", id: id_or_name.to_owned() })
}

pub(super) fn list(conn: &Connection, query: &ManagedQuery) -> Result<Vec<ManagedCertificate>> {
    let mut clauses = Vec::new();
    let mut values: Vec<Value> = Vec::new();
    if query.states.is_empty() {
        clauses.push("state <> 'deleted'".to_owned());
    } else {
        let marks: Vec<String> = query
            .states
            .iter()
            .map(|state| {
                values.push(Value::Text(state.as_str().to_owned()));
                format!("?{}", values.len())
            })
            .collect();
        clauses.push(format!("state IN ({})", marks.join(", ")));
    }
    if let Some(id) = &query.certificate_id {
        values.push(Value::Text(id.clone()));
        let n = values.len();
        clauses.push(format!("(certificate_id = ?{n} OR pending_id = ?{n})"));
    }
    values.push(Value::Integer(query.limit.map_or(-1, i64::from)));
    let limit = values.len();
    values.push(Value::Integer(i64::from(query.offset.unwrap_or(0))));
    let offset = values.len();
    let sql = format!(
        "SELECT {COLUMNS} FROM managed_certificates WHERE {} ORDER BY created_at, id \
         LIMIT ?{limit} OFFSET ?{offset}",
        clauses.join(" AND ")
    );
    let mut stmt = conn.prepare(&sql).map_err(db("preparing the managed certificate query"))?;
    let rows = stmt
        .query_map(params_from_iter(values), from_row)
        .map_err(db("listing managed certificates"))?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db("reading managed certificates"))
}

pub(super) fn due(conn: &Connection, now: OffsetDateTime, limit: u32) -> Result<Vec<String>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT id FROM managed_certificates WHERE due_at <= ?1 ORDER BY due_at LIMIT ?2",
        )
        .map_err(db("preparing the due query"))?;
    let rows = stmt
        .query_map(params![to_micros(now)?, limit], |row| row.get(0))
        .map_err(db("finding due managed certificates"))?;
    rows.collect::<rusqlite::Result<Vec<String>>>().map_err(db("reading due managed certificates"))
}

/// Claim due rows (inside the caller's transaction).
pub(super) fn claim(
    conn: &Connection,
    now: OffsetDateTime,
    owner: &str,
    lease_until: OffsetDateTime,
    limit: u32,
) -> Result<Vec<ManagedCertificate>> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "UPDATE managed_certificates SET lease_owner = ?2, lease_until = ?3 WHERE id IN \
             (SELECT id FROM managed_certificates WHERE due_at <= ?1 AND (lease_until IS NULL \
             OR lease_until <= ?1 OR lease_owner = ?2) ORDER BY due_at LIMIT ?4) RETURNING \
             {COLUMNS}"
        ))
        .map_err(db("preparing the claim"))?;
    let rows = stmt
        .query_map(params![to_micros(now)?, owner, to_micros(lease_until)?, limit], from_row)
        .map_err(db("claiming due managed certificates"))?;
    let mut claimed =
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(db("reading claimed rows"))?;
    // RETURNING gives no order guarantee; the engine works earliest first.
    claimed.sort_by_key(|m| (m.due_at(), m.id.clone()));
    Ok(claimed)
}

pub(super) fn next_due_at(conn: &Connection) -> Result<Option<OffsetDateTime>> {
    let micros: Option<i64> = conn
        .prepare_cached("SELECT MIN(due_at) FROM managed_certificates WHERE due_at IS NOT NULL")
        .and_then(|mut stmt| stmt.query_row([], |row| row.get(0)))
        .map_err(db("reading the next due time"))?;
    micros.map(from_micros).transpose()
}

//! Managed certificates, claims and the engine's atomic write sets on PostgreSQL.

use deadpool_postgres::GenericClient;
use time::OffsetDateTime;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::objects::append_audit;
use super::{big, certificates, col, db, detail, is_unique_violation, micros};
use crate::error::{Error, Result};
use crate::lifecycle::managed::ManagedCertificate;
use crate::store::{ManagedQuery, WriteSet};

/// The columns [`from_row`] reads.
const COLUMNS: &str = "body, lease_owner, lease_until";

/// Apply a write set inside the caller's transaction.
pub(super) async fn write(client: &impl GenericClient, set: &WriteSet) -> Result<()> {
    if let Some(owner) = &set.fence {
        for managed in &set.managed {
            check_fence(client, &managed.id, owner).await?;
        }
    }
    certificates::insert_many(client, &set.new_certificates).await?;
    for record in &set.certificate_updates {
        certificates::update(client, record).await?;
    }
    for managed in &set.managed {
        upsert(client, managed).await?;
    }
    for event in &set.events {
        append_audit(client, event, None).await?;
    }
    Ok(())
}

/// `InvalidState` unless `owner` still holds the claim on `id` (or `id` is new). The row
/// stays locked until the transaction ends, so no other agent can claim it in between.
async fn check_fence(client: &impl GenericClient, id: &str, owner: &str) -> Result<()> {
    let stmt = client
        .prepare_cached("SELECT lease_owner FROM managed_certificates WHERE id = $1 FOR UPDATE")
        .await
        .map_err(db("preparing the claim check"))?;
    let row = client.query_opt(&stmt, &[&id]).await.map_err(db("reading a claim"))?;
    let Some(row) = row else { return Ok(()) };
    match col::<Option<String>>(&row, 0, "managed_certificates")? {
        Some(holder) if holder == owner => Ok(()),
        holder => Err(Error::InvalidState(format!(
            "managed certificate {id} is no longer claimed by agent {owner} (now: {}); its \
             work was not recorded",
            holder.as_deref().unwrap_or("nobody")
        ))),
    }
}

async fn upsert(client: &impl GenericClient, managed: &ManagedCertificate) -> Result<()> {
    let stmt = client
        .prepare_cached(
            "INSERT INTO managed_certificates (id, name, state, certificate_id, pending_id, body, \
             due_at, lease_owner, lease_until, created_at, updated_at) VALUES ($1, $2, $3, $4, \
             $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (id) DO UPDATE SET name = excluded.name, \
             state = excluded.state, certificate_id = excluded.certificate_id, pending_id = \
             excluded.pending_id, body = excluded.body, due_at = excluded.due_at, lease_owner = \
             excluded.lease_owner, lease_until = excluded.lease_until, updated_at = \
             excluded.updated_at",
        )
        .await
        .map_err(db("preparing the managed certificate write"))?;
    let body = serde_json::to_value(managed).map_err(|e| {
        Error::store(format!("cannot encode managed certificate {}: {e}", managed.id))
    })?;
    let params: [&(dyn ToSql + Sync); 11] = [
        &managed.id,
        &managed.name,
        &managed.state.as_str(),
        &managed.certificate_id,
        &managed.pending_certificate_id,
        &body,
        &managed.due_at().map(micros),
        &managed.lease_owner,
        &managed.lease_until.map(micros),
        &micros(managed.created_at),
        &micros(managed.updated_at),
    ];
    client.execute(&stmt, &params).await.map_err(|e| {
        if is_unique_violation(&e) {
            Error::AlreadyExists { what: "managed certificate", id: managed.name.clone() }
        } else {
            Error::store(format!("writing managed certificate {}: {}", managed.id, detail(&e)))
        }
    })?;
    Ok(())
}

/// A managed certificate from its body, with the claim columns (which the store owns).
fn from_row(row: &Row) -> Result<ManagedCertificate> {
    let mut managed: ManagedCertificate =
        serde_json::from_value(col(row, 0, "managed_certificates")?)
            .map_err(|e| Error::store(format!("invalid JSON in managed_certificates.body: {e}")))?;
    managed.lease_owner = col(row, 1, "managed_certificates")?;
    managed.lease_until = col(row, 2, "managed_certificates")?;
    Ok(managed)
}

pub(super) async fn get(
    client: &impl GenericClient,
    id_or_name: &str,
) -> Result<ManagedCertificate> {
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM managed_certificates WHERE id = $1 OR name = $1 \
             ORDER BY id = $1 DESC LIMIT 1"
        ))
        .await
        .map_err(db("preparing the managed certificate lookup"))?;
    let row = client
        .query_opt(&stmt, &[&id_or_name])
        .await
        .map_err(db(format!("reading managed certificate {id_or_name}")))?
        .ok_or_else(|| Error::NotFound {
            what: "managed certificate",
            id: id_or_name.to_owned(),
        })?;
    from_row(&row)
}

pub(super) async fn list(
    client: &impl GenericClient,
    query: &ManagedQuery,
) -> Result<Vec<ManagedCertificate>> {
    let states: Vec<String> = query.states.iter().map(|s| s.as_str().to_owned()).collect();
    let limit = big(query.limit);
    let offset = i64::from(query.offset.unwrap_or(0));
    let mut params: Vec<&(dyn ToSql + Sync)> = Vec::new();
    let mut clauses = Vec::new();
    if states.is_empty() {
        clauses.push("state <> 'deleted'".to_owned());
    } else {
        params.push(&states);
        clauses.push(format!("state = ANY(${}::text[])", params.len()));
    }
    if let Some(id) = &query.certificate_id {
        params.push(id);
        let n = params.len();
        clauses.push(format!("(certificate_id = ${n} OR pending_id = ${n})"));
    }
    params.push(&limit);
    params.push(&offset);
    let sql = format!(
        "SELECT {COLUMNS} FROM managed_certificates WHERE {} ORDER BY created_at, id \
         LIMIT ${} OFFSET ${}",
        clauses.join(" AND "),
        params.len() - 1,
        params.len()
    );
    let stmt =
        client.prepare_cached(&sql).await.map_err(db("preparing the managed certificate query"))?;
    let rows = client.query(&stmt, &params).await.map_err(db("listing managed certificates"))?;
    rows.iter().map(from_row).collect()
}

pub(super) async fn due(
    client: &impl GenericClient,
    now: OffsetDateTime,
    limit: u32,
) -> Result<Vec<String>> {
    let stmt = client
        .prepare_cached(
            "SELECT id FROM managed_certificates WHERE due_at <= $1 ORDER BY due_at, id \
             LIMIT $2",
        )
        .await
        .map_err(db("preparing the due query"))?;
    let rows = client
        .query(&stmt, &[&micros(now), &i64::from(limit)])
        .await
        .map_err(db("finding due managed certificates"))?;
    rows.iter().map(|row| col(row, 0, "managed_certificates")).collect()
}

/// Lease up to `limit` due rows to `owner`, in one statement. Rows another transaction is
/// claiming or committing right now are skipped (`SKIP LOCKED`), not waited for.
pub(super) async fn claim(
    client: &impl GenericClient,
    now: OffsetDateTime,
    owner: &str,
    lease_until: OffsetDateTime,
    limit: u32,
) -> Result<Vec<ManagedCertificate>> {
    let stmt = client
        .prepare_cached(
            "WITH picked AS (SELECT id FROM managed_certificates WHERE due_at <= $1 AND \
             (lease_until IS NULL OR lease_until <= $1 OR lease_owner = $2) ORDER BY due_at, id \
             LIMIT $4 FOR UPDATE SKIP LOCKED) UPDATE managed_certificates m SET lease_owner = \
             $2, lease_until = $3 FROM picked WHERE m.id = picked.id RETURNING m.body, \
             m.lease_owner, m.lease_until",
        )
        .await
        .map_err(db("preparing the claim"))?;
    let rows = client
        .query(&stmt, &[&micros(now), &owner, &micros(lease_until), &i64::from(limit)])
        .await
        .map_err(db("claiming due managed certificates"))?;
    let mut claimed = rows.iter().map(from_row).collect::<Result<Vec<_>>>()?;
    // RETURNING gives no order guarantee; the engine works earliest first.
    claimed.sort_by_key(|m| (m.due_at(), m.id.clone()));
    Ok(claimed)
}

pub(super) async fn next_due_at(client: &impl GenericClient) -> Result<Option<OffsetDateTime>> {
    let stmt = client
        .prepare_cached("SELECT MIN(due_at) FROM managed_certificates WHERE due_at IS NOT NULL")
        .await
        .map_err(db("preparing the next due query"))?;
    let row = client.query_one(&stmt, &[]).await.map_err(db("reading the next due time"))?;
    col(&row, 0, "managed_certificates")
}

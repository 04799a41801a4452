//! Certificates, their SAN index rows, their requests and their chains on PostgreSQL.

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::objects::append_audit;
use super::{big, col, db, detail, is_foreign_key_violation, is_unique_violation, micros, secs};
use crate::crypto::x509::hex;
use crate::error::{Error, Result};
use crate::model::{CertificateRecord, CertificateState, RevocationReason};
use crate::store::codec::{normalize_serial, parse_enum};
use crate::store::{CertificateQuery, NewCertificate, RevokedEntry};

/// The columns [`record_from_row`] reads, in its order (`c`: certificates, `ch`: chains).
const COLUMNS: &str = "c.id, c.serial_number, c.common_name, c.subject, c.issuer, \
     c.alt_names, c.not_before, c.not_after, c.fingerprint_sha256, c.key_algorithm, c.state, \
     c.profile_id, c.ca_id, c.pem, ch.pem, c.request_id, c.renewed_from, c.renewed_by, \
     c.revoked_at, c.revocation_reason, c.auto_renew, c.renew_before_days, c.key_managed, \
     c.created_at, c.updated_at";

/// `certificates c` with its chain.
const FROM: &str = "certificates c JOIN chains ch ON ch.id = c.chain_id";

/// Insert every item's request row, chain (once), certificate row, SANs and audit event
/// (inside the caller's transaction).
pub(super) async fn insert_many(
    client: &impl GenericClient,
    batch: &[NewCertificate],
) -> Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let request_stmt = client
        .prepare_cached(
            "INSERT INTO certificate_requests (id, profile_id, csr_pem, request_json, \
             created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .await
        .map_err(db("preparing the request insert"))?;
    let chain_stmt = client
        .prepare_cached("INSERT INTO chains (id, pem) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .await
        .map_err(db("preparing the chain insert"))?;
    let cert_stmt = client
        .prepare_cached(
            "INSERT INTO certificates (id, serial_number, common_name, subject, issuer, \
             alt_names, not_before, not_after, fingerprint_sha256, key_algorithm, state, \
             profile_id, ca_id, pem, chain_id, request_id, renewed_from, renewed_by, \
             revoked_at, revocation_reason, auto_renew, renew_before_days, key_managed, \
             created_at, updated_at, sealed_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, \
             $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, \
             $26)",
        )
        .await
        .map_err(db("preparing the certificate insert"))?;
    let san_stmt = client
        .prepare_cached(
            "INSERT INTO certificate_sans (certificate_id, kind, value) \
             SELECT $1, kind, value FROM UNNEST($2::text[], $3::text[]) AS s (kind, value)",
        )
        .await
        .map_err(db("preparing the SAN insert"))?;
    let mut chains_stored: Vec<&str> = Vec::new();
    for item in batch {
        let (record, request) = (&item.record, &item.request);
        let id = &record.certificate_id;
        if record.certificate_request_id.as_deref().is_some_and(|r| r != request.id) {
            return Err(Error::invalid(
                "certificateRequestId",
                format!("certificate {id} names another request than the one stored with it"),
            ));
        }
        if request.request_json.to_string().contains("PRIVATE KEY-----")
            || request.request_json.get("privateKey").is_some()
        {
            // Defence in depth: the inventory never stores a private key in clear text.
            return Err(Error::invalid(
                "request",
                format!("request {} holds a private key; strip it before storing", request.id),
            ));
        }
        client
            .execute(
                &request_stmt,
                &[
                    &request.id,
                    &request.profile_id,
                    &request.csr_pem,
                    &request.request_json,
                    &micros(request.created_at),
                ],
            )
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    Error::AlreadyExists { what: "certificate request", id: request.id.clone() }
                } else {
                    Error::store(format!(
                        "inserting certificate request {}: {}",
                        request.id,
                        detail(&e)
                    ))
                }
            })?;

        let chain = record.certificate_chain.as_str();
        let chain_id = hex(ring::digest::digest(&ring::digest::SHA256, chain.as_bytes()).as_ref());
        if !chains_stored.contains(&chain) {
            client
                .execute(&chain_stmt, &[&chain_id, &chain])
                .await
                .map_err(db(format!("storing the chain of certificate {id}")))?;
            chains_stored.push(chain);
        }

        let alt_names = serde_json::to_value(&record.alt_names)
            .map_err(|e| Error::store(format!("cannot encode the SANs of {id}: {e}")))?;
        let params: [&(dyn ToSql + Sync); 26] = [
            id,
            &record.serial_number,
            &record.common_name,
            &record.subject,
            &record.issuer,
            &alt_names,
            &secs(record.not_before),
            &secs(record.not_after),
            &record.fingerprint_sha256,
            &record.key_algorithm.map(|k| k.as_str()),
            &record.state.as_str(),
            &record.profile_id,
            &record.ca_id,
            &record.certificate,
            &chain_id,
            &request.id,
            &record.renewed_from,
            &record.renewed_by,
            &record.revoked_at.map(micros),
            &record.revocation_reason.map(RevocationReason::as_str),
            &record.auto_renew,
            &record.renew_before_days.map(i64::from),
            &record.key_managed,
            &micros(record.created_at),
            &micros(record.updated_at),
            &item.sealed_key,
        ];
        client.execute(&cert_stmt, &params).await.map_err(|e| {
            if is_unique_violation(&e) {
                Error::AlreadyExists {
                    what: "certificate",
                    id: format!("{id} (serial {} of CA {:?})", record.serial_number, record.ca_id),
                }
            } else {
                Error::store(format!("inserting certificate {id}: {}", detail(&e)))
            }
        })?;

        if !record.alt_names.is_empty() {
            let kinds: Vec<&str> = record.alt_names.iter().map(|n| n.kind.as_str()).collect();
            let values: Vec<String> =
                record.alt_names.iter().map(|n| n.value.to_ascii_lowercase()).collect();
            client
                .execute(&san_stmt, &[id, &kinds, &values])
                .await
                .map_err(db(format!("inserting the SANs of certificate {id}")))?;
        }
        append_audit(client, &item.event, Some(id)).await?;
    }
    Ok(())
}

fn record_from_row(row: &Row) -> Result<CertificateRecord> {
    const T: &str = "certificates";
    let text = |i: usize| col::<String>(row, i, T);
    let opt_text = |i: usize| col::<Option<String>>(row, i, T);
    Ok(CertificateRecord {
        certificate_id: text(0)?,
        serial_number: text(1)?,
        common_name: text(2)?,
        subject: text(3)?,
        issuer: text(4)?,
        alt_names: serde_json::from_value(col(row, 5, T)?)
            .map_err(|e| Error::store(format!("invalid JSON in certificates.alt_names: {e}")))?,
        not_before: col(row, 6, T)?,
        not_after: col(row, 7, T)?,
        fingerprint_sha256: text(8)?,
        key_algorithm: opt_text(9)?.map(|k| k.parse()).transpose()?,
        state: text(10)?.parse::<CertificateState>()?,
        profile_id: opt_text(11)?,
        ca_id: opt_text(12)?,
        certificate: text(13)?,
        certificate_chain: text(14)?,
        certificate_request_id: opt_text(15)?,
        renewed_from: opt_text(16)?,
        renewed_by: opt_text(17)?,
        revoked_at: col(row, 18, T)?,
        revocation_reason: opt_text(19)?
            .map(|r| parse_enum("certificates.revocation_reason", &r))
            .transpose()?,
        auto_renew: col(row, 20, T)?,
        renew_before_days: col::<Option<i64>>(row, 21, T)?
            .map(|days| {
                u32::try_from(days).map_err(|_| {
                    Error::store(format!("certificates.renew_before_days {days} is out of range"))
                })
            })
            .transpose()?,
        key_managed: col(row, 22, T)?,
        created_at: col(row, 23, T)?,
        updated_at: col(row, 24, T)?,
    })
}

/// By id, else by serial number (unique across CAs, or `InvalidInput`).
pub(super) async fn get(client: &impl GenericClient, id: &str) -> Result<CertificateRecord> {
    let by_id = client
        .prepare_cached(&format!("SELECT {COLUMNS} FROM {FROM} WHERE c.id = $1"))
        .await
        .map_err(db("preparing the certificate lookup"))?;
    if let Some(row) =
        client.query_opt(&by_id, &[&id]).await.map_err(db(format!("reading certificate {id}")))?
    {
        return record_from_row(&row);
    }
    let serial = normalize_serial(id);
    let by_serial = client
        .prepare_cached(&format!("SELECT {COLUMNS} FROM {FROM} WHERE c.serial_number = $1 LIMIT 2"))
        .await
        .map_err(db("preparing the certificate lookup"))?;
    let rows = client
        .query(&by_serial, &[&serial])
        .await
        .map_err(db(format!("reading certificate {id}")))?;
    match rows.as_slice() {
        [] => Err(Error::NotFound { what: "certificate", id: id.to_owned() }),
        [row] => record_from_row(row),
        _ => Err(Error::invalid(
            "certificateId",
            format!("serial number {serial} belongs to certificates of several CAs; use the id"),
        )),
    }
}

pub(super) async fn sealed_key(client: &impl GenericClient, id: &str) -> Result<Option<Vec<u8>>> {
    let stmt = client
        .prepare_cached("SELECT sealed_key FROM certificates WHERE id = $1")
        .await
        .map_err(db("preparing the key lookup"))?;
    let row = client
        .query_opt(&stmt, &[&id])
        .await
        .map_err(db(format!("reading the key of certificate {id}")))?
        .ok_or_else(|| Error::NotFound { what: "certificate", id: id.to_owned() })?;
    col(&row, 0, "certificates")
}

/// Write the mutable fields (see [`crate::store::Store::update_certificate`]).
pub(super) async fn update(client: &impl GenericClient, record: &CertificateRecord) -> Result<()> {
    let id = &record.certificate_id;
    let stmt = client
        .prepare_cached(
            "UPDATE certificates SET state = $2, revoked_at = $3, revocation_reason = $4, \
             renewed_by = $5, auto_renew = $6, renew_before_days = $7, key_managed = $8, \
             profile_id = $9, updated_at = $10 WHERE id = $1",
        )
        .await
        .map_err(db("preparing the certificate update"))?;
    let changed = client
        .execute(
            &stmt,
            &[
                id,
                &record.state.as_str(),
                &record.revoked_at.map(micros),
                &record.revocation_reason.map(RevocationReason::as_str),
                &record.renewed_by,
                &record.auto_renew,
                &record.renew_before_days.map(i64::from),
                &record.key_managed,
                &record.profile_id,
                &micros(record.updated_at),
            ],
        )
        .await
        .map_err(|e| {
            if is_foreign_key_violation(&e) {
                Error::invalid("certificate", format!("update of {id} breaks a reference: {e}"))
            } else {
                Error::store(format!("updating certificate {id}: {}", detail(&e)))
            }
        })?;
    if changed == 0 {
        return Err(Error::NotFound { what: "certificate", id: id.clone() });
    }
    Ok(())
}

/// One bound value of a certificate query.
enum Param {
    Text(String),
    Texts(Vec<String>),
    Instant(time::OffsetDateTime),
    Count(Option<i64>),
}

impl Param {
    fn as_sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            Param::Text(v) => v,
            Param::Texts(v) => v,
            Param::Instant(v) => v,
            Param::Count(v) => v,
        }
    }
}

/// The WHERE clause and parameters of a query (same matching rules as the SQLite store).
fn filter(query: &CertificateQuery) -> (String, Vec<Param>) {
    let mut clauses: Vec<String> = Vec::new();
    let mut params: Vec<Param> = Vec::new();
    let bind = |params: &mut Vec<Param>, p: Param| {
        params.push(p);
        format!("${}", params.len())
    };
    if query.states.is_empty() {
        clauses.push("c.state <> 'deleted'".to_owned());
    } else {
        let states = query.states.iter().map(|s| s.as_str().to_owned()).collect();
        clauses.push(format!("c.state = ANY({}::text[])", bind(&mut params, Param::Texts(states))));
    }
    if let Some(before) = query.expiring_before {
        clauses
            .push(format!("c.not_after <= {}", bind(&mut params, Param::Instant(micros(before)))));
    }
    if let Some(cn) = &query.common_name {
        // ASCII case folding on both sides, like SQLite's LIKE; `%`, `_` and `\` literal.
        let escaped =
            cn.to_ascii_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        let mark = bind(&mut params, Param::Text(format!("%{escaped}%")));
        clauses.push(format!(
            "translate(c.common_name, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', \
             'abcdefghijklmnopqrstuvwxyz') LIKE {mark} ESCAPE '\\'"
        ));
    }
    if let Some(san) = &query.san {
        let mark = bind(&mut params, Param::Text(san.to_ascii_lowercase()));
        clauses.push(format!(
            "c.id IN (SELECT certificate_id FROM certificate_sans WHERE value = {mark})"
        ));
    }
    if let Some(fingerprint) = &query.fingerprint_sha256 {
        let mark = bind(&mut params, Param::Text(fingerprint.to_ascii_lowercase()));
        clauses.push(format!("c.fingerprint_sha256 = {mark}"));
    }
    if let Some(ca) = &query.issuer_ca_id {
        clauses.push(format!("c.ca_id = {}", bind(&mut params, Param::Text(ca.clone()))));
    }
    if let Some(profile) = &query.profile_id {
        clauses.push(format!("c.profile_id = {}", bind(&mut params, Param::Text(profile.clone()))));
    }
    (clauses.join(" AND "), params)
}

pub(super) async fn search(
    client: &impl GenericClient,
    query: &CertificateQuery,
) -> Result<Vec<CertificateRecord>> {
    let (clause, mut params) = filter(query);
    let order =
        if query.expiring_before.is_some() { "c.not_after, c.id" } else { "c.created_at, c.id" };
    params.push(Param::Count(big(query.limit)));
    let limit = params.len();
    params.push(Param::Count(Some(query.offset.map_or(0, i64::from))));
    let offset = params.len();
    let sql = format!(
        "SELECT {COLUMNS} FROM {FROM} WHERE {clause} ORDER BY {order} LIMIT ${limit} \
         OFFSET ${offset}"
    );
    let stmt = client.prepare_cached(&sql).await.map_err(db("preparing the certificate search"))?;
    let values: Vec<&(dyn ToSql + Sync)> = params.iter().map(Param::as_sql).collect();
    let rows = client.query(&stmt, &values).await.map_err(db("searching certificates"))?;
    rows.iter().map(record_from_row).collect()
}

pub(super) async fn count(client: &impl GenericClient, query: &CertificateQuery) -> Result<u64> {
    let (clause, params) = filter(query);
    let sql = format!("SELECT COUNT(*) FROM certificates c WHERE {clause}");
    let stmt = client.prepare_cached(&sql).await.map_err(db("preparing the certificate count"))?;
    let values: Vec<&(dyn ToSql + Sync)> = params.iter().map(Param::as_sql).collect();
    let row = client.query_one(&stmt, &values).await.map_err(db("counting certificates"))?;
    u64::try_from(row.get::<_, i64>(0)).map_err(|_| Error::store("negative count"))
}

pub(super) async fn revoked_for_ca(
    client: &impl GenericClient,
    ca_id: &str,
) -> Result<Vec<RevokedEntry>> {
    let stmt = client
        .prepare_cached(
            "SELECT serial_number, COALESCE(revoked_at, updated_at), revocation_reason, state \
             FROM certificates WHERE ca_id = $1 AND state IN ('revoked', 'suspended') \
             ORDER BY serial_number",
        )
        .await
        .map_err(db("preparing the revoked list"))?;
    let rows = client
        .query(&stmt, &[&ca_id])
        .await
        .map_err(db(format!("listing revoked certificates of CA {ca_id}")))?;
    rows.iter()
        .map(|row| {
            let state: String = col(row, 3, "certificates")?;
            let reason = if state == CertificateState::Suspended.as_str() {
                RevocationReason::CertificateHold
            } else {
                match col::<Option<String>>(row, 2, "certificates")? {
                    Some(r) => parse_enum("certificates.revocation_reason", &r)?,
                    None => RevocationReason::Unspecified,
                }
            };
            Ok(RevokedEntry {
                serial_number: col(row, 0, "certificates")?,
                revoked_at: col(row, 1, "certificates")?,
                reason,
            })
        })
        .collect()
}

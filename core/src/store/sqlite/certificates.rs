//! Queries on the certificates table, its SAN index table and certificate requests.

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};

use super::convert::{
    db, from_json, from_micros, from_secs, in_row, is_foreign_key_violation, is_unique_violation,
    limit_value, normalize_serial, parse_enum, to_json, to_micros, to_secs,
};
use super::objects::append_audit;
use crate::error::{Error, Result};
use crate::model::{AuditEvent, CertificateRecord, CertificateState, RevocationReason};
use crate::store::{CertificateQuery, CertificateRequestRow, RevokedEntry};

/// The columns [`record_from_row`] reads, in its order, from [`FROM_CERTIFICATES`]; the chain
/// (stored once in `chains`) comes from a scalar subquery rather than a join: SQLite marks a
/// join's statement to be compiled again whenever its parameters are cleared, which
/// rusqlite's statement cache does on every reuse (that recompilation was a fifth of a batch
/// renewal's CPU time).
const COLUMNS: &str = "id, serial_number, common_name, subject, issuer, alt_names, not_before, \
     not_after, fingerprint_sha256, key_algorithm, state, profile_id, ca_id, pem, \
     (SELECT chain FROM chains WHERE chains.chain_id = certificates.chain_id), \
     request_id, renewed_from, renewed_by, revoked_at, revocation_reason, auto_renew, \
     renew_before_days, key_managed, created_at, updated_at";

/// The table [`COLUMNS`] are read from.
const FROM_CERTIFICATES: &str = "certificates";

/// The columns written on insert: [`COLUMNS`] with `chain_id` for `chain`, and the sealed key.
const INSERT_COLUMNS: &str = "id, serial_number, common_name, subject, issuer, alt_names, \
     not_before, not_after, fingerprint_sha256, key_algorithm, state, profile_id, ca_id, pem, \
     chain_id, request_id, renewed_from, renewed_by, revoked_at, revocation_reason, auto_renew, \
     renew_before_days, key_managed, created_at, updated_at, sealed_key";

/// The id of `chain` in `chains`, stored the first time a certificate carries it.
fn chain_id(conn: &Connection, chain: &str) -> Result<i64> {
    let mut find = conn
        .prepare_cached("SELECT chain_id FROM chains WHERE chain = ?1")
        .map_err(db("preparing the chain lookup"))?;
    if let Some(id) =
        find.query_row([chain], |row| row.get(0)).optional().map_err(db("reading a chain"))?
    {
        return Ok(id);
    }
    let mut add = conn
        .prepare_cached("INSERT INTO chains (chain) VALUES (?1) RETURNING chain_id")
        .map_err(db("preparing the chain insert"))?;
    add.query_row([chain], |row| row.get(0)).map_err(db("storing a chain"))
}

/// Insert the request row, the certificate row, its SANs and its audit event (inside the
/// caller's transaction).
pub(super) fn insert_one(
    conn: &Connection,
    record: &CertificateRecord,
    sealed_key: Option<&[u8]>,
    request: &CertificateRequestRow,
    event: &AuditEvent,
) -> Result<()> {
    let id = &record.certificate_id;
    if record.certificate_request_id.as_deref().is_some_and(|r| r != request.id) {
        return Err(Error::invalid(
            "certificateRequestId",
            format!("certificate {id} names another request than the one stored with it"),
        ));
    }
    let request_json = to_json(&request.request_json)?;
    if request_json.contains("PRIVATE KEY-----") || request.request_json.get("privateKey").is_some()
    {
        // Defence in depth: the inventory never stores a private key in clear text.
        return Err(Error::invalid(
            "request",
            format!("request {} holds a private key; strip it before storing", request.id),
        ));
    }
    let mut req = conn
        .prepare_cached(
            "INSERT INTO certificate_requests (id, profile_id, csr_pem, request_json, \
             created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .map_err(db("preparing the request insert"))?;
    req.execute(params![
        request.id,
        request.profile_id,
        request.csr_pem,
        request_json,
        to_micros(request.created_at)?,
    ])
    .map_err(|e| {
        if is_unique_violation(&e) {
            Error::AlreadyExists { what: "certificate request", id: request.id.clone() }
        } else {
            Error::store(format!("inserting certificate request {}: {e}", request.id))
        }
    })?;

    let chain = chain_id(conn, &record.certificate_chain)?;
    let mut cert = conn
        .prepare_cached(&format!(
            "INSERT INTO certificates ({INSERT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, \
             ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, \
             ?24, ?25, ?26)"
        ))
        .map_err(db("preparing the certificate insert"))?;
    cert.execute(params![
        id,
        record.serial_number,
        record.common_name,
        record.subject,
        record.issuer,
        to_json(&record.alt_names)?,
        to_secs(record.not_before),
        to_secs(record.not_after),
        record.fingerprint_sha256,
        record.key_algorithm.map(|k| k.as_str()),
        record.state.as_str(),
        record.profile_id,
        record.ca_id,
        record.certificate,
        chain,
        request.id,
        record.renewed_from,
        record.renewed_by,
        record.revoked_at.map(to_micros).transpose()?,
        record.revocation_reason.map(RevocationReason::as_str),
        record.auto_renew,
        record.renew_before_days,
        record.key_managed,
        to_micros(record.created_at)?,
        to_micros(record.updated_at)?,
        sealed_key,
    ])
    .map_err(|e| {
        if is_unique_violation(&e) {
            Error::AlreadyExists {
                what: "certificate",
                id: format!("{id} (serial {} of CA {:?})", record.serial_number, record.ca_id),
            }
        } else {
            Error::store(format!("inserting certificate {id}: {e}"))
        }
    })?;

    let mut san = conn
        .prepare_cached(
            "INSERT INTO certificate_sans (certificate_id, kind, value) VALUES (?1, ?2, ?3)",
        )
        .map_err(db("preparing the SAN insert"))?;
    for name in &record.alt_names {
        san.execute(params![id, name.kind.as_str(), name.value])
            .map_err(db(format!("inserting the SANs of certificate {id}")))?;
    }
    append_audit(conn, event, Some(id))?;
    Ok(())
}

fn record_from_row(row: &Row<'_>) -> rusqlite::Result<CertificateRecord> {
    let text = |i: usize| row.get::<_, String>(i);
    let opt_text = |i: usize| row.get::<_, Option<String>>(i);
    Ok(CertificateRecord {
        certificate_id: text(0)?,
        serial_number: text(1)?,
        common_name: text(2)?,
        subject: text(3)?,
        issuer: text(4)?,
        alt_names: in_row(5, from_json("certificates.alt_names", &text(5)?))?,
        not_before: in_row(6, from_secs(row.get(6)?))?,
        not_after: in_row(7, from_secs(row.get(7)?))?,
        fingerprint_sha256: text(8)?,
        key_algorithm: match opt_text(9)? {
            Some(k) => Some(in_row(9, k.parse())?),
            None => None,
        },
        state: in_row(10, text(10)?.parse::<CertificateState>())?,
        profile_id: opt_text(11)?,
        ca_id: opt_text(12)?,
        certificate: text(13)?,
        certificate_chain: text(14)?,
        certificate_request_id: opt_text(15)?,
        renewed_from: opt_text(16)?,
        renewed_by: opt_text(17)?,
        revoked_at: match row.get::<_, Option<i64>>(18)? {
            Some(t) => Some(in_row(18, from_micros(t))?),
            None => None,
        },
        revocation_reason: match opt_text(19)? {
            Some(r) => Some(in_row(19, parse_enum("certificates.revocation_reason", &r))?),
            None => None,
        },
        auto_renew: row.get(20)?,
        renew_before_days: row.get(21)?,
        key_managed: row.get(22)?,
        created_at: in_row(23, from_micros(row.get(23)?))?,
        updated_at: in_row(24, from_micros(row.get(24)?))?,
    })
}

/// By id, else by serial number (unique across CAs, or `InvalidInput`).
pub(super) fn get(conn: &Connection, id: &str) -> Result<CertificateRecord> {
    let mut by_id = conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM {FROM_CERTIFICATES} WHERE id = ?1"))
        .map_err(db("preparing the certificate lookup"))?;
    if let Some(record) = by_id
        .query_row([id], record_from_row)
        .optional()
        .map_err(db(format!("reading certificate {id}")))?
    {
        return Ok(record);
    }
    let serial = normalize_serial(id);
    let mut by_serial = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM {FROM_CERTIFICATES} WHERE serial_number = ?1 LIMIT 2"
        ))
        .map_err(db("preparing the certificate lookup"))?;
    let mut found: Vec<CertificateRecord> = by_serial
        .query_map([&serial], record_from_row)
        .map_err(db(format!("reading certificate {id}")))?
        .collect::<rusqlite::Result<_>>()
        .map_err(db(format!("reading certificate {id}")))?;
    match found.len() {
        0 => Err(Error::NotFound { what: "certificate", id: id.to_owned() }),
        1 => Ok(found.remove(0)),
        _ => Err(Error::invalid(
            "certificateId",
            format!("serial number {serial} belongs to certificates of several CAs; use the id"),
        )),
    }
}

pub(super) fn sealed_key(conn: &Connection, id: &str) -> Result<Option<Vec<u8>>> {
    let mut stmt = conn
        .prepare_cached("SELECT sealed_key FROM certificates WHERE id = ?1")
        .map_err(db("preparing the key lookup"))?;
    let key: Option<Option<Vec<u8>>> = stmt
        .query_row([id], |row| row.get(0))
        .optional()
        .map_err(db(format!("reading the key of certificate {id}")))?;
    key.ok_or_else(|| Error::NotFound { what: "certificate", id: id.to_owned() })
}

/// Write the mutable fields (see [`crate::store::Store::update_certificate`]).
pub(super) fn update(conn: &Connection, record: &CertificateRecord) -> Result<()> {
    let id = &record.certificate_id;
    let mut stmt = conn
        .prepare_cached(
            "UPDATE certificates SET state = ?2, revoked_at = ?3, revocation_reason = ?4, \
             renewed_by = ?5, auto_renew = ?6, renew_before_days = ?7, key_managed = ?8, \
             profile_id = ?9, updated_at = ?10 WHERE id = ?1",
        )
        .map_err(db("preparing the certificate update"))?;
    let changed = stmt
        .execute(params![
            id,
            record.state.as_str(),
            record.revoked_at.map(to_micros).transpose()?,
            record.revocation_reason.map(RevocationReason::as_str),
            record.renewed_by,
            record.auto_renew,
            record.renew_before_days,
            record.key_managed,
            record.profile_id,
            to_micros(record.updated_at)?,
        ])
        .map_err(|e| {
            if is_foreign_key_violation(&e) {
                Error::invalid("certificate", format!("update of {id} breaks a reference: {e}"))
            } else {
                Error::store(format!("updating certificate {id}: {e}"))
            }
        })?;
    if changed == 0 {
        return Err(Error::NotFound { what: "certificate", id: id.clone() });
    }
    Ok(())
}

/// The WHERE clause and parameters of a query.
fn filter(query: &CertificateQuery) -> (String, Vec<Value>) {
    let mut clauses: Vec<String> = Vec::new();
    let mut values: Vec<Value> = Vec::new();
    if query.states.is_empty() {
        clauses.push("state <> 'deleted'".to_owned());
    } else {
        let marks = vec!["?"; query.states.len()].join(", ");
        clauses.push(format!("state IN ({marks})"));
        values.extend(query.states.iter().map(|s| Value::Text(s.as_str().to_owned())));
    }
    if let Some(before) = query.expiring_before {
        // Whole seconds: not_after <= t  <=>  not_after <= floor(t) for integer not_after.
        clauses.push("not_after <= ?".to_owned());
        values.push(Value::Integer(to_secs(before)));
    }
    if let Some(cn) = &query.common_name {
        let escaped = cn.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        clauses.push("common_name LIKE ? ESCAPE '\\'".to_owned());
        values.push(Value::Text(format!("%{escaped}%")));
    }
    if let Some(san) = &query.san {
        clauses.push("id IN (SELECT certificate_id FROM certificate_sans WHERE value = ?)".into());
        values.push(Value::Text(san.clone()));
    }
    if let Some(fingerprint) = &query.fingerprint_sha256 {
        clauses.push("fingerprint_sha256 = ?".to_owned());
        values.push(Value::Text(fingerprint.to_ascii_lowercase()));
    }
    if let Some(ca) = &query.issuer_ca_id {
        clauses.push("ca_id = ?".to_owned());
        values.push(Value::Text(ca.clone()));
    }
    if let Some(profile) = &query.profile_id {
        clauses.push("profile_id = ?".to_owned());
        values.push(Value::Text(profile.clone()));
    }
    (clauses.join(" AND "), values)
}

pub(super) fn search(
    conn: &Connection,
    query: &CertificateQuery,
) -> Result<Vec<CertificateRecord>> {
    let (clause, mut values) = filter(query);
    let order = if query.expiring_before.is_some() { "not_after, id" } else { "created_at, id" };
    let sql = format!(
        "SELECT {COLUMNS} FROM {FROM_CERTIFICATES} WHERE {clause} ORDER BY {order} LIMIT ? \
             OFFSET ?"
    );
    values.push(Value::Integer(limit_value(query.limit)));
    values.push(Value::Integer(query.offset.map_or(0, i64::from)));
    let mut stmt = conn.prepare_cached(&sql).map_err(db("preparing the certificate search"))?;
    let rows = stmt
        .query_map(params_from_iter(values), record_from_row)
        .map_err(db("searching certificates"))?;
    rows.collect::<rusqlite::Result<_>>().map_err(db("searching certificates"))
}

pub(super) fn count(conn: &Connection, query: &CertificateQuery) -> Result<u64> {
    let (clause, values) = filter(query);
    let sql = format!("SELECT COUNT(*) FROM certificates WHERE {clause}");
    let mut stmt = conn.prepare_cached(&sql).map_err(db("preparing the certificate count"))?;
    let n: i64 = stmt
        .query_row(params_from_iter(values), |row| row.get(0))
        .map_err(db("counting certificates"))?;
    u64::try_from(n).map_err(|_| Error::store("negative count"))
}

pub(super) fn revoked_for_ca(conn: &Connection, ca_id: &str) -> Result<Vec<RevokedEntry>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT serial_number, COALESCE(revoked_at, updated_at), revocation_reason, state \
             FROM certificates WHERE ca_id = ?1 AND state IN ('revoked', 'suspended') \
             ORDER BY serial_number",
        )
        .map_err(db("preparing the revoked list"))?;
    let rows = stmt
        .query_map([ca_id], |row| {
            let state: String = row.get(3)?;
            let reason = if state == CertificateState::Suspended.as_str() {
                RevocationReason::CertificateHold
            } else {
                match row.get::<_, Option<String>>(2)? {
                    Some(r) => in_row(2, parse_enum("certificates.revocation_reason", &r))?,
                    None => RevocationReason::Unspecified,
                }
            };
            Ok(RevokedEntry {
                serial_number: row.get(0)?,
                revoked_at: in_row(1, from_micros(row.get(1)?))?,
                reason,
            })
        })
        .map_err(db(format!("listing revoked certificates of CA {ca_id}")))?;
    rows.collect::<rusqlite::Result<_>>()
        .map_err(db(format!("listing revoked certificates of CA {ca_id}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::migrations::migrate;

    fn plan(conn: &Connection, query: &CertificateQuery) -> Result<String> {
        let (clause, values) = filter(query);
        let sql = format!("EXPLAIN QUERY PLAN SELECT id FROM certificates WHERE {clause}");
        let mut stmt = conn.prepare(&sql).map_err(Error::store)?;
        let rows = stmt
            .query_map(params_from_iter(values), |row| row.get::<_, String>(3))
            .map_err(Error::store)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>().map_err(Error::store)?.join("; "))
    }

    #[test]
    fn expiry_sweep_is_answered_from_the_covering_index() -> Result<()> {
        let mut conn = Connection::open_in_memory().map_err(Error::store)?;
        migrate(&mut conn, "test")?;
        let query = CertificateQuery {
            states: vec![CertificateState::Issued, CertificateState::Deployed],
            expiring_before: Some(time::OffsetDateTime::UNIX_EPOCH),
            ..CertificateQuery::default()
        };
        let plan = plan(&conn, &query)?;
        assert!(plan.contains("COVERING INDEX certificates_state_not_after"), "{plan}");
        let san = CertificateQuery { san: Some("a".into()), ..CertificateQuery::default() };
        let plan = self::plan(&conn, &san)?;
        assert!(plan.contains("certificate_sans_value"), "{plan}");
        Ok(())
    }

    /// The lookup by id is compiled once and then reused from the statement cache: a join
    /// there made SQLite recompile it on every call (see [`COLUMNS`]).
    #[test]
    fn the_lookup_by_id_is_not_recompiled_on_reuse() -> Result<()> {
        let mut conn = Connection::open_in_memory().map_err(Error::store)?;
        migrate(&mut conn, "test")?;
        conn.execute_batch(
            "INSERT INTO chains (chain_id, chain) VALUES (1, 'issuing PEM');
             INSERT INTO certificates (id, serial_number, common_name, subject, issuer, \
             alt_names, not_before, not_after, fingerprint_sha256, state, pem, chain_id, \
             auto_renew, key_managed, created_at, updated_at) VALUES ('c1', '01', 'a', 'CN=a', \
             'CN=CA', '[]', 0, 86400, 'ab', 'issued', 'leaf PEM', 1, 0, 0, 0, 0);",
        )
        .map_err(Error::store)?;
        for _ in 0..3 {
            let record = get(&conn, "c1")?;
            assert_eq!(record.certificate_chain, "issuing PEM");
        }
        let sql = format!("SELECT {COLUMNS} FROM {FROM_CERTIFICATES} WHERE id = ?1");
        let stmt = conn.prepare_cached(&sql).map_err(Error::store)?;
        assert_eq!(stmt.get_status(rusqlite::StatementStatus::RePrepare), 0);
        Ok(())
    }
}

//! The inventory (list, search, show, renewals due, expiry sweep) and the audit log.

use std::ffi::c_char;

use certloop_core::model::CertificateState;
use certloop_core::store::{AuditQuery, CertificateQuery};
use serde::Deserialize;
use time::OffsetDateTime;

use crate::errors::{Failure, certloop_result};
use crate::handle::{certloop_t, json_call};
use crate::panic::guard;
use crate::strings::{check_out, input_str, optional_str, parse_json};

/// The JSON shape of `certloop_search`'s query; every field is optional and all must match.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SearchQuery {
    common_name: Option<String>,
    san: Option<String>,
    #[serde(default)]
    states: Vec<CertificateState>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    expiring_before: Option<OffsetDateTime>,
    expiring_within_days: Option<u32>,
    issuer_ca_id: Option<String>,
    profile_id: Option<String>,
    fingerprint_sha256: Option<String>,
    limit: Option<u32>,
    offset: Option<u32>,
}

impl SearchQuery {
    /// The store query; `expiringWithinDays` counts from now and wins over `expiringBefore`
    /// only when it is earlier.
    fn into_query(self) -> CertificateQuery {
        let within = self
            .expiring_within_days
            .map(|days| OffsetDateTime::now_utc() + time::Duration::days(i64::from(days)));
        let expiring_before = match (self.expiring_before, within) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        CertificateQuery {
            common_name: self.common_name,
            san: self.san,
            states: self.states,
            expiring_before,
            issuer_ca_id: self.issuer_ca_id,
            profile_id: self.profile_id,
            fingerprint_sha256: self.fingerprint_sha256,
            limit: self.limit,
            offset: self.offset,
        }
    }
}

/// The JSON shape of `certloop_audit`'s query.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AuditFilter {
    certificate_id: Option<String>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    since: Option<OffsetDateTime>,
    limit: Option<u32>,
}

/// Every certificate that is not deleted, oldest first, as a JSON array of inventory records
/// (`certificateId`, `serialNumber`, `commonName`, `altNames`, `state`, `notBefore`,
/// `notAfter`, `certificate`, ...; never a private key). Free `*certificates_json` with
/// `certloop_string_free`.
///
/// # Safety
///
/// `certloop` is a live handle; `certificates_json` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certloop_list(
    certloop: *const certloop_t,
    certificates_json: *mut *mut c_char,
) -> certloop_result {
    let read = || -> Result<_, Failure> {
        let query = CertificateQuery::default();
        Ok(query)
    };
    // SAFETY: the handle and output pointers are as the contract above says.
    unsafe {
        json_call(certloop, certificates_json, "certificates_json", read, |c, query| async move {
            c.list(&query).await
        })
    }
}

/// Certificates matching `query_json` (`{"commonName" (substring), "san" (exact), "states":
/// ["issued", ...], "expiringBefore" (RFC 3339), "expiringWithinDays", "issuerCaId",
/// "profileId", "limit", "offset"}`, all optional), as `certloop_list` returns them. Free
/// `*certificates_json` with `certloop_string_free`.
///
/// # Safety
///
/// `certloop` is a live handle; `query_json` is NUL-terminated; `certificates_json` is
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certloop_search(
    certloop: *const certloop_t,
    query_json: *const c_char,
    certificates_json: *mut *mut c_char,
) -> certloop_result {
    let read = || -> Result<_, Failure> {
        // SAFETY: NUL-terminated or NULL, by the contract above.
        let text = unsafe { input_str(query_json, "query_json") }?;
        let query = parse_json::<SearchQuery>(text, "query_json")?.into_query();
        Ok(query)
    };
    // SAFETY: the handle and output pointers are as the contract above says.
    unsafe {
        json_call(certloop, certificates_json, "certificates_json", read, |c, query| async move {
            c.list(&query).await
        })
    }
}

/// One certificate by id or serial number, as an inventory record. Free `*certificate_json`
/// with `certloop_string_free`.
///
/// # Safety
///
/// `certloop` is a live handle; `certificate_id` is NUL-terminated; `certificate_json` is
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certloop_show(
    certloop: *const certloop_t,
    certificate_id: *const c_char,
    certificate_json: *mut *mut c_char,
) -> certloop_result {
    let read = || -> Result<_, Failure> {
        // SAFETY: NUL-terminated or NULL, by the contract above.
        unsafe { input_str(certificate_id, "certificate_id") }.map(str::to_owned)
    };
    // SAFETY: the handle and output pointers are as the contract above says.
    unsafe {
        json_call(certloop, certificate_json, "certificate_json", read, |c, id| async move {
            c.show(&id).await
        })
    }
}

/// Audit events, oldest first, filtered by `query_json` (`{"certificateId", "since" (RFC
/// 3339), "limit"}`; NULL for every event). Each event has `sequence`, `at`, `action`,
/// `certificateId`, `subjectId`, `actor`, `outcome`, `detail`. Free `*events_json` with
/// `certloop_string_free`.
///
/// # Safety
///
/// `certloop` is a live handle; `query_json` is NULL or NUL-terminated; `events_json` is
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certloop_audit(
    certloop: *const certloop_t,
    query_json: *const c_char,
    events_json: *mut *mut c_char,
) -> certloop_result {
    let read = || -> Result<_, Failure> {
        // SAFETY: NUL-terminated or NULL, by the contract above.
        let filter = match unsafe { optional_str(query_json, "query_json") }? {
            Some(text) => parse_json::<AuditFilter>(text, "query_json")?,
            None => AuditFilter::default(),
        };
        let query = AuditQuery {
            certificate_id: filter.certificate_id,
            since: filter.since,
            limit: filter.limit,
        };
        Ok(query)
    };
    // SAFETY: the handle and output pointers are as the contract above says.
    unsafe {
        json_call(certloop, events_json, "events_json", read, |c, query| async move {
            c.audit_log(&query).await
        })
    }
}

/// How many certificates match `query_json` (`certloop_search`'s query, whose `limit` and
/// `offset` are ignored here; NULL for every certificate that is not deleted). On success
/// `*count` receives the number.
///
/// # Safety
///
/// `certloop` is a live handle; `query_json` is NULL or NUL-terminated; `count` points to a
/// writable `uint64_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certloop_count(
    certloop: *const certloop_t,
    query_json: *const c_char,
    count: *mut u64,
) -> certloop_result {
    guard(|| {
        // SAFETY: a live handle or NULL, by the contract above.
        let handle = unsafe { certloop_t::borrow(certloop) }?;
        check_out(count, "count")?;
        // SAFETY: NUL-terminated or NULL, by the contract above.
        let query = match unsafe { optional_str(query_json, "query_json") }? {
            Some(text) => parse_json::<SearchQuery>(text, "query_json")?.into_query(),
            None => CertificateQuery::default(),
        };
        let n = handle.run(|c| async move { c.count(&query).await })?;
        // SAFETY: checked non-null; writable by the contract above.
        unsafe { count.write(n) };
        Ok(())
    })
}

/// Live certificates with auto-renewal on that are due now, as a JSON array of
/// `{"certificate": record, "reason": {...}}`. Free `*due_json` with `certloop_string_free`.
///
/// # Safety
///
/// `certloop` is a live handle; `due_json` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certloop_renewals_due(
    certloop: *const certloop_t,
    due_json: *mut *mut c_char,
) -> certloop_result {
    // SAFETY: the handle and output pointers are as the contract above says.
    unsafe {
        json_call(
            certloop,
            due_json,
            "due_json",
            || Ok(()),
            |c, ()| async move { c.renewals_due().await },
        )
    }
}

/// Mark every certificate whose notAfter has passed as `expired` (one audit event each) and
/// return those records as a JSON array. Free `*expired_json` with `certloop_string_free`.
///
/// # Safety
///
/// `certloop` is a live handle; `expired_json` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certloop_expire_overdue(
    certloop: *const certloop_t,
    expired_json: *mut *mut c_char,
) -> certloop_result {
    // SAFETY: the handle and output pointers are as the contract above says.
    unsafe {
        json_call(
            certloop,
            expired_json,
            "expired_json",
            || Ok(()),
            |c, ()| async move { c.expire_overdue().await },
        )
    }
}

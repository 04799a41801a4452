//! Issuance and renewal.

use std::ffi::c_char;

use certloop_core::model::{IssueRequest, IssuedCertificate};
use certloop_core::{Error, Violation};
use serde::Serialize;

use crate::errors::{Failure, certloop_result};
use crate::handle::{certloop_t, json_call};
use crate::strings::{input_str, parse_json};

/// Issue one certificate. `request_json` is `{"profileId", "csr", "attributes": {"commonName",
/// "ttl", "keyAlgorithm", "keyUsages", "extendedKeyUsages", "altNames": [{"type", "value"}]},
/// "manageKey"}`; without `profileId` the default profile is used, without `csr` certloop
/// generates the key. On success `*response_json` receives `{"certificate",
/// "certificateChain", "issuingCaCertificate", "privateKey" (only when certloop generated the
/// key, only in this response), "serialNumber", "certificateId", "certificateRequestId"}`.
/// The caller frees it with `certloop_string_free`, which zeroes it (it may hold a private
/// key).
///
/// # Safety
///
/// `certloop` is a live handle; `request_json` is NUL-terminated; `response_json` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certloop_issue(
    certloop: *const certloop_t,
    request_json: *const c_char,
    response_json: *mut *mut c_char,
) -> certloop_result {
    let read = || -> Result<_, Failure> {
        // SAFETY: NUL-terminated or NULL, by the contract above.
        let text = unsafe { input_str(request_json, "request_json") }?;
        let request: IssueRequest = parse_json(text, "request_json")?;
        Ok(request)
    };
    // SAFETY: the handle and output pointers are as the contract above says.
    unsafe {
        json_call(certloop, response_json, "response_json", read, |c, request| async move {
            c.issue(request).await
        })
    }
}

/// One element of `certloop_issue_many`'s response: the issued certificate or why not.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BatchResult {
    #[serde(skip_serializing_if = "Option::is_none")]
    certificate: Option<IssuedCertificate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<BatchError>,
}

/// A refused request of a batch, with the code `certloop_issue` would have returned.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BatchError {
    code: u32,
    message: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    violations: Vec<Violation>,
}

impl BatchResult {
    fn new(result: Result<IssuedCertificate, Error>) -> Self {
        match result {
            Ok(issued) => Self { certificate: Some(issued), error: None },
            Err(error) => {
                let violations = error.violations().to_vec();
                let failure = Failure::from(error);
                let error = BatchError {
                    code: failure.code() as u32,
                    message: failure.message().to_owned(),
                    violations,
                };
                Self { certificate: None, error: Some(error) }
            }
        }
    }
}

/// Issue many certificates in one store transaction. `requests_json` is a JSON array of
/// `certloop_issue` requests; one refused request does not stop the others. On success
/// `*results_json` receives an array in request order whose elements are
/// `{"certificate": <certloop_issue's response>}` or `{"error": {"code", "message",
/// "violations"}}` (`code` is the certloop_result `certloop_issue` would have returned). The
/// caller frees it with `certloop_string_free`, which zeroes it (it may hold private keys).
///
/// # Safety
///
/// `certloop` is a live handle; `requests_json` is NUL-terminated; `results_json` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certloop_issue_many(
    certloop: *const certloop_t,
    requests_json: *const c_char,
    results_json: *mut *mut c_char,
) -> certloop_result {
    let read = || -> Result<Vec<IssueRequest>, Failure> {
        // SAFETY: NUL-terminated or NULL, by the contract above.
        let text = unsafe { input_str(requests_json, "requests_json") }?;
        parse_json(text, "requests_json")
    };
    // SAFETY: the handle and output pointers are as the contract above says.
    unsafe {
        json_call(certloop, results_json, "results_json", read, |c, requests| async move {
            let results = c.issue_many(requests, |_, _| {}).await?;
            Ok(results.into_iter().map(BatchResult::new).collect::<Vec<_>>())
        })
    }
}

/// Issue a replacement for certificate `certificate_id` (same names and lifetime, a fresh key,
/// under its profile's current policy); the old certificate stays valid and is marked renewed.
/// `*response_json` has the shape of `certloop_issue`'s; free it with `certloop_string_free`.
///
/// # Safety
///
/// `certloop` is a live handle; `certificate_id` is NUL-terminated; `response_json` is
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certloop_renew(
    certloop: *const certloop_t,
    certificate_id: *const c_char,
    response_json: *mut *mut c_char,
) -> certloop_result {
    let read = || -> Result<_, Failure> {
        // SAFETY: NUL-terminated or NULL, by the contract above.
        unsafe { input_str(certificate_id, "certificate_id") }.map(str::to_owned)
    };
    // SAFETY: the handle and output pointers are as the contract above says.
    unsafe {
        json_call(certloop, response_json, "response_json", read, |c, id| async move {
            c.renew(&id).await
        })
    }
}

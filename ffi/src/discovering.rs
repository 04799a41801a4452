//! Discovery: scan files, TLS endpoints or this host's running servers, record the findings
//! in the inventory as `discovered` certificates, list the places found, and rediscover
//! (drift).
//!
//! The option objects are the core's wire shapes ([`certloop_core::wire::FileScan`] and its
//! siblings), the Node and Python bindings' too. A scan and its recording are the two calls
//! `certloop discover` makes.

use std::ffi::c_char;

use certloop_core::discovery::files::scan_files;
use certloop_core::discovery::network::scan_network;
use certloop_core::discovery::servers::scan_host;
use certloop_core::wire::{FileScan, HostScan, NetworkScan};

use crate::errors::{Failure, certloop_result};
use crate::handle::{certloop_t, json_call};
use crate::strings::{input_json, optional_json};

/// Scan files and directories for PEM, DER, PKCS#12 and JKS certificates and record them as
/// `discovered` (deduplicated by SHA-256 fingerprint, each place kept). `options_json` is
/// `{"roots": [paths], "maxDepth", "maxFileSize", "maxFiles", "followSymlinks", "passwords":
/// [keystore passwords to try], "includeCa"}`; the passwords are secrets, used for the scan
/// only and never returned or put in an error.
///
/// On success `*outcome_json` receives `{"items": [{"certificateId", "state", "commonName",
/// "notAfter", "fingerprintSha256", "location": {"kind", "path", "format", ...},
/// "newCertificate", "newLocation"}], "newCertificates", "newLocations", "examined",
/// "problems": [...]}`; the caller frees it with `certloop_string_free`.
///
/// # Safety
///
/// `certloop` is a live handle; `options_json` is NUL-terminated; `outcome_json` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certloop_discover_files(
    certloop: *const certloop_t,
    options_json: *const c_char,
    outcome_json: *mut *mut c_char,
) -> certloop_result {
    let read = || -> Result<FileScan, Failure> {
        // SAFETY: NUL-terminated or NULL, by the contract above.
        unsafe { input_json(options_json, "options_json") }
    };
    // SAFETY: the handle and output pointers are as the contract above says.
    unsafe {
        json_call(certloop, outcome_json, "outcome_json", read, |c, options| async move {
            let report = scan_files(&options.into(), None);
            c.record_discovery(&report).await
        })
    }
}

/// Probe TLS endpoints and record the certificates they serve. `options_json` is
/// `{"targets": ["host:port", "host", "10.0.0.0/28"], "ports", "serverNames", "timeoutMs",
/// "concurrency", "maxEndpoints"}`. `*outcome_json` is shaped as `certloop_discover_files`'s;
/// the caller frees it with `certloop_string_free`.
///
/// # Safety
///
/// `certloop` is a live handle; `options_json` is NUL-terminated; `outcome_json` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certloop_discover_network(
    certloop: *const certloop_t,
    options_json: *const c_char,
    outcome_json: *mut *mut c_char,
) -> certloop_result {
    let read = || -> Result<NetworkScan, Failure> {
        // SAFETY: NUL-terminated or NULL, by the contract above.
        unsafe { input_json(options_json, "options_json") }
    };
    // SAFETY: the handle and output pointers are as the contract above says.
    unsafe {
        json_call(certloop, outcome_json, "outcome_json", read, |c, options| async move {
            let report = scan_network(&options.into(), None)?;
            c.record_discovery(&report).await
        })
    }
}

/// Find this host's running TLS servers (nginx, Apache httpd, Tomcat, ...) and record the
/// certificates their configurations name, each with a `"suggestedTarget"` (without
/// secrets). `options_json` is `{"procRoot", "maxConfigFiles"}` or NULL. `*outcome_json` is
/// shaped as `certloop_discover_files`'s; the caller frees it with `certloop_string_free`.
///
/// # Safety
///
/// `certloop` is a live handle; `options_json` is NULL or NUL-terminated; `outcome_json` is
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certloop_discover_host(
    certloop: *const certloop_t,
    options_json: *const c_char,
    outcome_json: *mut *mut c_char,
) -> certloop_result {
    let read = || -> Result<HostScan, Failure> {
        // SAFETY: NULL or NUL-terminated, by the contract above.
        unsafe { optional_json(options_json, "options_json") }
    };
    // SAFETY: the handle and output pointers are as the contract above says.
    unsafe {
        json_call(certloop, outcome_json, "outcome_json", read, |c, options| async move {
            let report = scan_host(&options.into(), None);
            c.record_discovery(&report).await
        })
    }
}

/// Every place a scan found a certificate, as last seen: a JSON array of `{"id",
/// "location", "certificateId", "fingerprintSha256", "firstSeen", "lastSeen",
/// "suggestedTarget"}`. The caller frees `*locations_json` with `certloop_string_free`.
///
/// # Safety
///
/// `certloop` is a live handle; `locations_json` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certloop_discovered_locations(
    certloop: *const certloop_t,
    locations_json: *mut *mut c_char,
) -> certloop_result {
    // SAFETY: the handle and output pointers are as the contract above says.
    unsafe {
        json_call(
            certloop,
            locations_json,
            "locations_json",
            || Ok(()),
            |c, ()| async move { c.discovered_locations().await },
        )
    }
}

/// Rediscovery: look again at every known place (scan findings and deployed targets) and
/// report drift: `{"checked", "unchanged", "drifts": [{"certificateId", "location", "kind":
/// "changed" | "gone", "expectedSha256", "foundSha256", "detail"}]}`; each drift is also a
/// `driftDetected` audit event. The caller frees `*report_json` with `certloop_string_free`.
///
/// # Safety
///
/// `certloop` is a live handle; `report_json` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certloop_rediscover(
    certloop: *const certloop_t,
    report_json: *mut *mut c_char,
) -> certloop_result {
    // SAFETY: the handle and output pointers are as the contract above says.
    unsafe {
        json_call(
            certloop,
            report_json,
            "report_json",
            || Ok(()),
            |c, ()| async move { c.rediscover().await },
        )
    }
}

//! CAs: create, list, show.

use std::ffi::c_char;

use certloop_core::ca::CaSpec;

use crate::errors::{Failure, certloop_result};
use crate::handle::{certloop_t, json_call};
use crate::strings::{input_str, parse_json};

/// Create a CA from `spec_json` (`{"name", "subject": {"commonName", ...}, "keyAlgorithm",
/// "ttl", "parent", "pathLength", "nameConstraints", "crlDistributionPoints", "caIssuers"}`): a
/// root, or an intermediate when `parent` names a CA. On success `*ca_json` receives the CA
/// summary (`id`, `name`, `certificate`, `certificateChain`, ..., never the key); the caller
/// frees it with `certloop_string_free`.
///
/// # Safety
///
/// `certloop` is a live handle; `spec_json` is NUL-terminated; `ca_json` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certloop_ca_create(
    certloop: *const certloop_t,
    spec_json: *const c_char,
    ca_json: *mut *mut c_char,
) -> certloop_result {
    let read = || -> Result<_, Failure> {
        // SAFETY: NUL-terminated or NULL, by the contract above.
        let spec: CaSpec = parse_json(unsafe { input_str(spec_json, "spec_json") }?, "spec_json")?;
        Ok(spec)
    };
    // SAFETY: the handle and output pointers are as the contract above says.
    unsafe {
        json_call(
            certloop,
            ca_json,
            "ca_json",
            read,
            |c, spec| async move { c.create_ca(spec).await },
        )
    }
}

/// Every CA, as a JSON array of CA summaries. The caller frees `*cas_json` with
/// `certloop_string_free`.
///
/// # Safety
///
/// `certloop` is a live handle; `cas_json` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certloop_ca_list(
    certloop: *const certloop_t,
    cas_json: *mut *mut c_char,
) -> certloop_result {
    // SAFETY: the handle and output pointers are as the contract above says.
    unsafe {
        json_call(
            certloop,
            cas_json,
            "cas_json",
            || Ok(()),
            |c, ()| async move { c.list_cas().await },
        )
    }
}

/// One CA by id or name, with its certificate and chain (no key). The caller frees `*ca_json`
/// with `certloop_string_free`.
///
/// # Safety
///
/// `certloop` is a live handle; `ca` is NUL-terminated; `ca_json` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certloop_ca_show(
    certloop: *const certloop_t,
    ca: *const c_char,
    ca_json: *mut *mut c_char,
) -> certloop_result {
    let read = || -> Result<_, Failure> {
        // SAFETY: NUL-terminated or NULL, by the contract above.
        unsafe { input_str(ca, "ca") }.map(str::to_owned)
    };
    // SAFETY: the handle and output pointers are as the contract above says.
    unsafe {
        json_call(certloop, ca_json, "ca_json", read, |c, ca| async move { c.get_ca(&ca).await })
    }
}

//! CAs: create, list, show.

use std::ffi::c_char;

use certloop_core::ca::CaSpec;

use crate::errors::certloop_result;
use crate::handle::certloop_t;
use crate::panic::guard;
use crate::strings::{check_out, input_str, parse_json, write_json};

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
    guard(|| {
        // SAFETY: a live handle or NULL, by the contract above.
        let handle = unsafe { certloop_t::borrow(certloop) }?;
        check_out(ca_json, "ca_json")?;
        // SAFETY: NUL-terminated or NULL, by the contract above.
        let spec: CaSpec = parse_json(unsafe { input_str(spec_json, "spec_json") }?, "spec_json")?;
        let summary = handle.run(|c| async move { c.create_ca(spec).await })?;
        // SAFETY: checked non-null; writable by the contract above.
        unsafe { write_json(ca_json, &summary) }
    })
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
    guard(|| {
        // SAFETY: a live handle or NULL, by the contract above.
        let handle = unsafe { certloop_t::borrow(certloop) }?;
        check_out(cas_json, "cas_json")?;
        let cas = handle.run(|c| async move { c.list_cas().await })?;
        // SAFETY: checked non-null; writable by the contract above.
        unsafe { write_json(cas_json, &cas) }
    })
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
    guard(|| {
        // SAFETY: a live handle or NULL, by the contract above.
        let handle = unsafe { certloop_t::borrow(certloop) }?;
        check_out(ca_json, "ca_json")?;
        // SAFETY: NUL-terminated or NULL, by the contract above.
        let ca = unsafe { input_str(ca, "ca") }?.to_owned();
        let summary = handle.run(|c| async move { c.get_ca(&ca).await })?;
        // SAFETY: checked non-null; writable by the contract above.
        unsafe { write_json(ca_json, &summary) }
    })
}

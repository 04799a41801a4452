//! Revocation, suspension and CRLs.

use std::ffi::c_char;

use certloop_core::model::RevocationReason;
use serde::Serialize;

use crate::errors::{Failure, certloop_result};
use crate::handle::{certloop_t, json_call};
use crate::panic::guard;
use crate::strings::{input_str, optional_str};

/// A freshly signed CRL, as `certloop_crl` returns it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SignedCrl {
    /// PEM (`X509 CRL`).
    crl: String,
    /// The cRLNumber.
    crl_number: u64,
}

/// Revoke certificate `certificate_id` (id or serial number) permanently; the next CRL lists
/// it. `reason` is an RFC 5280 reason (`keyCompromise`, `superseded`, ...; NULL means
/// `unspecified`); `certificateHold` suspends instead.
///
/// # Safety
///
/// `certloop` is a live handle; `certificate_id` and `reason` (when not NULL) are
/// NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certloop_revoke(
    certloop: *const certloop_t,
    certificate_id: *const c_char,
    reason: *const c_char,
) -> certloop_result {
    guard(|| {
        // SAFETY: a live handle or NULL, by the contract above.
        let handle = unsafe { certloop_t::borrow(certloop) }?;
        // SAFETY: NUL-terminated or NULL, by the contract above.
        let id = unsafe { input_str(certificate_id, "certificate_id") }?.to_owned();
        // SAFETY: NUL-terminated or NULL, by the contract above.
        let reason = match unsafe { optional_str(reason, "reason") }? {
            Some(text) => text.parse::<RevocationReason>()?,
            None => RevocationReason::Unspecified,
        };
        handle.run(|c| async move { c.revoke(&id, reason).await })?;
        Ok(())
    })
}

/// Put certificate `certificate_id` on hold (`certificateHold` in the CRL) until
/// `certloop_unsuspend`.
///
/// # Safety
///
/// `certloop` is a live handle; `certificate_id` is NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certloop_suspend(
    certloop: *const certloop_t,
    certificate_id: *const c_char,
) -> certloop_result {
    guard(|| {
        // SAFETY: a live handle or NULL, by the contract above.
        let handle = unsafe { certloop_t::borrow(certloop) }?;
        // SAFETY: NUL-terminated or NULL, by the contract above.
        let id = unsafe { input_str(certificate_id, "certificate_id") }?.to_owned();
        handle.run(|c| async move { c.suspend(&id).await })?;
        Ok(())
    })
}

/// Lift the hold on certificate `certificate_id`; it drops off the next CRL.
///
/// # Safety
///
/// `certloop` is a live handle; `certificate_id` is NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certloop_unsuspend(
    certloop: *const certloop_t,
    certificate_id: *const c_char,
) -> certloop_result {
    guard(|| {
        // SAFETY: a live handle or NULL, by the contract above.
        let handle = unsafe { certloop_t::borrow(certloop) }?;
        // SAFETY: NUL-terminated or NULL, by the contract above.
        let id = unsafe { input_str(certificate_id, "certificate_id") }?.to_owned();
        handle.run(|c| async move { c.unsuspend(&id).await })?;
        Ok(())
    })
}

/// Sign a fresh CRL for CA `ca` (id or name; NULL means the default issuing CA). On success
/// `*crl_json` receives `{"crl": PEM, "crlNumber": n}`; free it with `certloop_string_free`.
///
/// # Safety
///
/// `certloop` is a live handle; `ca` is NULL or NUL-terminated; `crl_json` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certloop_crl(
    certloop: *const certloop_t,
    ca: *const c_char,
    crl_json: *mut *mut c_char,
) -> certloop_result {
    let read = || -> Result<_, Failure> {
        // SAFETY: NUL-terminated or NULL, by the contract above.
        unsafe { optional_str(ca, "ca") }.map(|ca| ca.map(str::to_owned))
    };
    // SAFETY: the handle and output pointers are as the contract above says.
    unsafe {
        json_call(certloop, crl_json, "crl_json", read, |c, ca| async move {
            let crl = c.crl(ca.as_deref()).await?;
            Ok(SignedCrl { crl: crl.pem, crl_number: crl.number })
        })
    }
}

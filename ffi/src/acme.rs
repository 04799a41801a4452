//! ACME accounts and the orders kept while a person completes manual domain validation.
//!
//! The manual flow from C: `certloop_issue` on an ACME profile whose solver is `manual`
//! returns `CERTLOOP_RESULT_PENDING_VALIDATION`; `certloop_error_detail` then gives the
//! `"orderId"` (and the instructions as text). `certloop_order_show` lists the steps
//! (`instructions.steps[]`: `{"type": "httpFile", "path", "content"}` or a DNS record) to
//! publish, and `certloop_order_resume` completes the order once they are.

use std::ffi::c_char;

use crate::errors::{Failure, certloop_result};
use crate::handle::{certloop_t, json_call};
use crate::strings::input_str;

/// Register (or reuse) the ACME account of ACME profile `profile` (id or slug). On success
/// `*account_json` receives `{"id", "directoryUrl", "email", "eabKid", "accountUrl",
/// "createdAt"}` (never the account key); the caller frees it with `certloop_string_free`.
///
/// # Safety
///
/// `certloop` is a live handle; `profile` is NUL-terminated; `account_json` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certloop_acme_register(
    certloop: *const certloop_t,
    profile: *const c_char,
    account_json: *mut *mut c_char,
) -> certloop_result {
    let read = || -> Result<_, Failure> {
        // SAFETY: NUL-terminated or NULL, by the contract above.
        unsafe { input_str(profile, "profile") }.map(str::to_owned)
    };
    // SAFETY: the handle and output pointers are as the contract above says.
    unsafe {
        json_call(certloop, account_json, "account_json", read, |c, profile| async move {
            c.acme_register(&profile).await
        })
    }
}

/// Every stored ACME account, as a JSON array of `certloop_acme_register`'s objects (never a
/// key). The caller frees `*accounts_json` with `certloop_string_free`.
///
/// # Safety
///
/// `certloop` is a live handle; `accounts_json` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certloop_acme_account_list(
    certloop: *const certloop_t,
    accounts_json: *mut *mut c_char,
) -> certloop_result {
    // SAFETY: the handle and output pointers are as the contract above says.
    unsafe {
        json_call(
            certloop,
            accounts_json,
            "accounts_json",
            || Ok(()),
            |c, ()| async move { c.acme_accounts().await },
        )
    }
}

/// The renewal window (RFC 9773) the ACME CA suggested for certificate `certificate_id`:
/// `{"start", "end", "explanationUrl"}`, or the JSON `null` when it offered none. The caller
/// frees `*window_json` with `certloop_string_free`.
///
/// # Safety
///
/// `certloop` is a live handle; `certificate_id` is NUL-terminated; `window_json` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certloop_acme_renewal_window(
    certloop: *const certloop_t,
    certificate_id: *const c_char,
    window_json: *mut *mut c_char,
) -> certloop_result {
    let read = || -> Result<_, Failure> {
        // SAFETY: NUL-terminated or NULL, by the contract above.
        unsafe { input_str(certificate_id, "certificate_id") }.map(str::to_owned)
    };
    // SAFETY: the handle and output pointers are as the contract above says.
    unsafe {
        json_call(certloop, window_json, "window_json", read, |c, id| async move {
            c.acme_renewal_window(&id).await
        })
    }
}

/// Every ACME order kept for manual validation, oldest first, as a JSON array of
/// `certloop_order_show`'s objects. The caller frees `*orders_json` with
/// `certloop_string_free`.
///
/// # Safety
///
/// `certloop` is a live handle; `orders_json` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certloop_order_list(
    certloop: *const certloop_t,
    orders_json: *mut *mut c_char,
) -> certloop_result {
    // SAFETY: the handle and output pointers are as the contract above says.
    unsafe {
        json_call(
            certloop,
            orders_json,
            "orders_json",
            || Ok(()),
            |c, ()| async move { c.list_orders().await },
        )
    }
}

/// One kept order by id: `{"id", "status": "pendingValidation" | "completed" | "failed",
/// "profileId", "names", "orderUrl", "instructions": {"reason", "steps": [{"type":
/// "httpFile", "path", "content", ...}]}, "certificateId" (once completed), "error" (once
/// failed), "createdAt", "updatedAt"}`. The caller frees `*order_json` with
/// `certloop_string_free`.
///
/// # Safety
///
/// `certloop` is a live handle; `order_id` is NUL-terminated; `order_json` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certloop_order_show(
    certloop: *const certloop_t,
    order_id: *const c_char,
    order_json: *mut *mut c_char,
) -> certloop_result {
    let read = || -> Result<_, Failure> {
        // SAFETY: NUL-terminated or NULL, by the contract above.
        unsafe { input_str(order_id, "order_id") }.map(str::to_owned)
    };
    // SAFETY: the handle and output pointers are as the contract above says.
    unsafe {
        json_call(certloop, order_json, "order_json", read, |c, id| async move {
            c.get_order(&id).await
        })
    }
}

/// Complete an order pending manual validation once the person has published what its
/// instructions say: the CA validates, the certificate is issued and enters the inventory.
/// `*response_json` has the shape of `certloop_issue`'s (with `"privateKey"` when certloop
/// generated the key); the caller frees it with `certloop_string_free`, which zeroes it. An
/// order that is not pending is CERTLOOP_RESULT_INVALID_STATE.
///
/// # Safety
///
/// `certloop` is a live handle; `order_id` is NUL-terminated; `response_json` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certloop_order_resume(
    certloop: *const certloop_t,
    order_id: *const c_char,
    response_json: *mut *mut c_char,
) -> certloop_result {
    let read = || -> Result<_, Failure> {
        // SAFETY: NUL-terminated or NULL, by the contract above.
        unsafe { input_str(order_id, "order_id") }.map(str::to_owned)
    };
    // SAFETY: the handle and output pointers are as the contract above says.
    unsafe {
        json_call(certloop, response_json, "response_json", read, |c, id| async move {
            c.resume_order(&id).await
        })
    }
}

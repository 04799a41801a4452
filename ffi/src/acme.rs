//! ACME accounts and the orders kept while a person completes manual domain validation.
//!
//! The manual flow from C: `certloop_issue` on an ACME profile whose solver is `manual`
//! returns `CERTLOOP_RESULT_PENDING_VALIDATION`; `certloop_error_detail` then gives the
//! `"orderId"` (and the instructions as text). `certloop_order_show` lists the steps
//! (`instructions.steps[]`: `{"type": "httpFile", "path", "content"}` or a DNS record) to
//! publish, and `certloop_order_resume` completes the order once they are.

use std::ffi::c_char;

use crate::errors::certloop_result;
use crate::handle::certloop_t;
use crate::panic::guard;
use crate::strings::{check_out, input_str, write_json};

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
    guard(|| {
        // SAFETY: a live handle or NULL, by the contract above.
        let handle = unsafe { certloop_t::borrow(certloop) }?;
        check_out(account_json, "account_json")?;
        // SAFETY: NUL-terminated or NULL, by the contract above.
        let profile = unsafe { input_str(profile, "profile") }?.to_owned();
        let account = handle.run(|c| async move { c.acme_register(&profile).await })?;
        // SAFETY: checked non-null; writable by the contract above.
        unsafe { write_json(account_json, &account) }
    })
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
    guard(|| {
        // SAFETY: a live handle or NULL, by the contract above.
        let handle = unsafe { certloop_t::borrow(certloop) }?;
        check_out(accounts_json, "accounts_json")?;
        let accounts = handle.run(|c| async move { c.acme_accounts().await })?;
        // SAFETY: checked non-null; writable by the contract above.
        unsafe { write_json(accounts_json, &accounts) }
    })
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
    guard(|| {
        // SAFETY: a live handle or NULL, by the contract above.
        let handle = unsafe { certloop_t::borrow(certloop) }?;
        check_out(window_json, "window_json")?;
        // SAFETY: NUL-terminated or NULL, by the contract above.
        let id = unsafe { input_str(certificate_id, "certificate_id") }?.to_owned();
        let window = handle.run(|c| async move { c.acme_renewal_window(&id).await })?;
        // SAFETY: checked non-null; writable by the contract above.
        unsafe { write_json(window_json, &window) }
    })
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
    guard(|| {
        // SAFETY: a live handle or NULL, by the contract above.
        let handle = unsafe { certloop_t::borrow(certloop) }?;
        check_out(orders_json, "orders_json")?;
        let orders = handle.run(|c| async move { c.list_orders().await })?;
        // SAFETY: checked non-null; writable by the contract above.
        unsafe { write_json(orders_json, &orders) }
    })
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
    guard(|| {
        // SAFETY: a live handle or NULL, by the contract above.
        let handle = unsafe { certloop_t::borrow(certloop) }?;
        check_out(order_json, "order_json")?;
        // SAFETY: NUL-terminated or NULL, by the contract above.
        let id = unsafe { input_str(order_id, "order_id") }?.to_owned();
        let order = handle.run(|c| async move { c.get_order(&id).await })?;
        // SAFETY: checked non-null; writable by the contract above.
        unsafe { write_json(order_json, &order) }
    })
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
    guard(|| {
        // SAFETY: a live handle or NULL, by the contract above.
        let handle = unsafe { certloop_t::borrow(certloop) }?;
        check_out(response_json, "response_json")?;
        // SAFETY: NUL-terminated or NULL, by the contract above.
        let id = unsafe { input_str(order_id, "order_id") }?.to_owned();
        let issued = handle.run(|c| async move { c.resume_order(&id).await })?;
        // SAFETY: checked non-null; writable by the contract above.
        unsafe { write_json(response_json, &issued) }
    })
}

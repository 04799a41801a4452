//! Managed certificates: manage (initiate), show, list, bulk configure, actions, batches with
//! a progress callback, the agent's sweep and its next due time.
//!
//! Conversion only. The one piece of threading is the batch's progress callback, which runs
//! on the thread that called `certloop_managed_batch` (see `certloop_progress_fn`).

use std::ffi::{c_char, c_void};

use certloop_core::lifecycle::managed::ConfigPatch;
use certloop_core::store::ManagedQuery;
use certloop_core::wire::Sweep;
use certloop_core::{Action, BatchOptions, ManageRequest, SweepOptions};
use time::format_description::well_known::Rfc3339;

use crate::errors::{Failure, certloop_result};
use crate::handle::{certloop_t, json_call};
use crate::panic::guard;
use crate::strings::{check_out, input_json, input_str, optional_json, write_text};

/// The progress callback of `certloop_managed_batch`: `done` of `total` items are finished.
///
/// It is called on the thread that called `certloop_managed_batch`, before that call
/// returns: after the ids are looked up (ids that are not found count as done then) and once
/// per finished item. `done` never decreases and the last call has `done == total`, unless
/// the batch stopped early (`"continueOnError": false`; the report's `"skipped"` counts the
/// rest). Calls are sequential (items are worked on concurrently inside certloop, but never
/// reported at the same time). `user_data` is passed through untouched.
///
/// The callback must return normally (no `longjmp` out of it) and must not call certloop
/// functions taking a handle, on this or any other handle: they fail with
/// CERTLOOP_RESULT_REENTRANT_CALL (the calling thread is busy running the batch), and
/// `certloop_free` frees nothing.
/// `certloop_string_free`, `certloop_error_message` and `certloop_error_detail` may be used.
#[allow(non_camel_case_types)]
pub type certloop_progress_fn =
    Option<unsafe extern "C" fn(done: usize, total: usize, user_data: *mut c_void)>;

/// A progress callback and its user data, carried into the batch's future.
struct Progress {
    callback: unsafe extern "C" fn(usize, usize, *mut c_void),
    user_data: *mut c_void,
}

// SAFETY: the batch's future is polled by `block_on` on the thread that called
// `certloop_managed_batch` (a current-thread runtime), and the core calls `progress` from the
// batch's own body, never from a spawned task; so the callback and `user_data` are only used
// on the caller's thread, as the callback's documentation promises. `Send` is only needed
// because the core's signature asks for it.
unsafe impl Send for Progress {}

impl Progress {
    fn report(&self, done: usize, total: usize) {
        // SAFETY: a C function pointer the caller gave with its `user_data`, called on the
        // caller's thread, as `certloop_progress_fn` documents.
        unsafe { (self.callback)(done, total, self.user_data) }
    }
}

/// Put one certificate under management (the *initiate* action). `request_json` is
/// `{"name", "certificateId", "config": {"profile", "targets": [target names],
/// "deploymentType", "csr": {"mode": "reuse" | "partialOverride" | "fullOverride", ...},
/// "keyAlgorithm", "validity", "rollback", "renewal": {...}, "deployment": {...}}}`; without
/// `certificateId` the first certificate is ordered by the first sweep from a `fullOverride`
/// identity. On success `*managed_json` receives the managed certificate (`{"id", "name",
/// "state": "managed", "certificateId", "config", "nextCheckAt", ...}`); the caller frees it
/// with `certloop_string_free`.
///
/// # Safety
///
/// `certloop` is a live handle; `request_json` is NUL-terminated; `managed_json` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certloop_managed_create(
    certloop: *const certloop_t,
    request_json: *const c_char,
    managed_json: *mut *mut c_char,
) -> certloop_result {
    let read = || -> Result<ManageRequest, Failure> {
        // SAFETY: NUL-terminated or NULL, by the contract above.
        unsafe { input_json(request_json, "request_json") }
    };
    // SAFETY: the handle and output pointers are as the contract above says.
    unsafe {
        json_call(certloop, managed_json, "managed_json", read, |c, request| async move {
            c.manage(request).await
        })
    }
}

/// Put many certificates under management, all or none: `requests_json` is a JSON array of
/// `certloop_managed_create` requests; an error names the item (`"[2].config.profile"`).
/// On success `*managed_json` receives the array of managed certificates; the caller frees
/// it with `certloop_string_free`.
///
/// # Safety
///
/// `certloop` is a live handle; `requests_json` is NUL-terminated; `managed_json` is
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certloop_managed_create_many(
    certloop: *const certloop_t,
    requests_json: *const c_char,
    managed_json: *mut *mut c_char,
) -> certloop_result {
    let read = || -> Result<Vec<ManageRequest>, Failure> {
        // SAFETY: NUL-terminated or NULL, by the contract above.
        unsafe { input_json(requests_json, "requests_json") }
    };
    // SAFETY: the handle and output pointers are as the contract above says.
    unsafe {
        json_call(certloop, managed_json, "managed_json", read, |c, requests| async move {
            c.manage_many(requests).await
        })
    }
}

/// One managed certificate by id or name. The caller frees `*managed_json` with
/// `certloop_string_free`.
///
/// # Safety
///
/// `certloop` is a live handle; `managed` is NUL-terminated; `managed_json` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certloop_managed_show(
    certloop: *const certloop_t,
    managed: *const c_char,
    managed_json: *mut *mut c_char,
) -> certloop_result {
    let read = || -> Result<_, Failure> {
        // SAFETY: NUL-terminated or NULL, by the contract above.
        unsafe { input_str(managed, "managed") }.map(str::to_owned)
    };
    // SAFETY: the handle and output pointers are as the contract above says.
    unsafe {
        json_call(certloop, managed_json, "managed_json", read, |c, id| async move {
            c.managed(&id).await
        })
    }
}

/// Managed certificates matching `query_json` (`{"states": ["deployed", ...],
/// "certificateId", "profile", "limit", "offset"}`, all optional; NULL for every one that is
/// not deleted), as a JSON array. The caller frees `*managed_json` with
/// `certloop_string_free`.
///
/// # Safety
///
/// `certloop` is a live handle; `query_json` is NULL or NUL-terminated; `managed_json` is
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certloop_managed_list(
    certloop: *const certloop_t,
    query_json: *const c_char,
    managed_json: *mut *mut c_char,
) -> certloop_result {
    let read = || -> Result<ManagedQuery, Failure> {
        // SAFETY: NULL or NUL-terminated, by the contract above.
        unsafe { optional_json(query_json, "query_json") }
    };
    // SAFETY: the handle and output pointers are as the contract above says.
    unsafe {
        json_call(certloop, managed_json, "managed_json", read, |c, query| async move {
            c.list_managed(&query).await
        })
    }
}

/// Bulk configure: apply `patch_json` (`{"rollback", "validity", "targets", "renewal", ...}`:
/// the fields of a configuration to set) to every managed certificate of `ids_json` (a JSON
/// array of ids or names), all or none. On success `*managed_json` receives the updated
/// managed certificates; the caller frees it with `certloop_string_free`.
///
/// # Safety
///
/// `certloop` is a live handle; `ids_json` and `patch_json` are NUL-terminated;
/// `managed_json` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certloop_managed_configure(
    certloop: *const certloop_t,
    ids_json: *const c_char,
    patch_json: *const c_char,
    managed_json: *mut *mut c_char,
) -> certloop_result {
    let read = || -> Result<_, Failure> {
        // SAFETY: NUL-terminated or NULL, by the contract above.
        let ids: Vec<String> = unsafe { input_json(ids_json, "ids_json") }?;
        // SAFETY: NUL-terminated or NULL, by the contract above.
        let patch: ConfigPatch = unsafe { input_json(patch_json, "patch_json") }?;
        Ok((ids, patch))
    };
    // SAFETY: the handle and output pointers are as the contract above says.
    unsafe {
        json_call(certloop, managed_json, "managed_json", read, |c, (ids, patch)| async move {
            c.bulk_configure(&ids, &patch).await
        })
    }
}

/// Run one lifecycle action on managed certificate `managed` (id or name). `action_json` is
/// `{"action": "order" | "deploy" | "pinCheck" | "rotate" | "suspend" | "delete"}`, `{"action":
/// "rekey", "keyAlgorithm"}` or `{"action": "revoke", "reason"}`; `delete` stops tracking it
/// (this is how a managed certificate is removed; the servers are left as they are). A
/// failed action is an error with its code. On success `*result_json` receives `{"managed":
/// <the managed certificate afterwards>, "detail"}`; the caller frees it with
/// `certloop_string_free`.
///
/// # Safety
///
/// `certloop` is a live handle; `managed` and `action_json` are NUL-terminated;
/// `result_json` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certloop_managed_act(
    certloop: *const certloop_t,
    managed: *const c_char,
    action_json: *const c_char,
    result_json: *mut *mut c_char,
) -> certloop_result {
    let read = || -> Result<_, Failure> {
        // SAFETY: NUL-terminated or NULL, by the contract above.
        let id = unsafe { input_str(managed, "managed") }?.to_owned();
        // SAFETY: NUL-terminated or NULL, by the contract above.
        let action: Action = unsafe { input_json(action_json, "action_json") }?;
        Ok((id, action))
    };
    // SAFETY: the handle and output pointers are as the contract above says.
    unsafe {
        json_call(certloop, result_json, "result_json", read, |c, (id, action)| async move {
            c.act(&id, action).await
        })
    }
}

/// Batch: run `action_json` (as in `certloop_managed_act`) on every managed certificate of
/// `ids_json` (a JSON array of ids or names) with bounded concurrency; each item has its own
/// result, so a failed item does not fail the call. `options_json` is `{"concurrency"
/// (default 4), "continueOnError" (default true)}` or NULL. `progress` (may be NULL) is
/// called with `user_data` on the calling thread as items finish: see
/// `certloop_progress_fn` for when and what it may do. On success `*report_json` receives
/// `{"action", "total", "succeeded", "failed", "skipped", "items": [{"id", "ok", "state",
/// "detail", "errorCode"}]}` in the order asked; the caller frees it with
/// `certloop_string_free`.
///
/// # Safety
///
/// `certloop` is a live handle; `ids_json` and `action_json` are NUL-terminated;
/// `options_json` is NULL or NUL-terminated; `progress` is NULL or a function that may be
/// called with `user_data` until this call returns; `report_json` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certloop_managed_batch(
    certloop: *const certloop_t,
    ids_json: *const c_char,
    action_json: *const c_char,
    options_json: *const c_char,
    progress: certloop_progress_fn,
    user_data: *mut c_void,
    report_json: *mut *mut c_char,
) -> certloop_result {
    let read = || -> Result<_, Failure> {
        // SAFETY: NUL-terminated or NULL, by the contract above.
        let ids: Vec<String> = unsafe { input_json(ids_json, "ids_json") }?;
        // SAFETY: NUL-terminated or NULL, by the contract above.
        let action: Action = unsafe { input_json(action_json, "action_json") }?;
        // SAFETY: NULL or NUL-terminated, by the contract above.
        let options: BatchOptions = unsafe { optional_json(options_json, "options_json") }?;
        let progress = progress.map(|callback| Progress { callback, user_data });
        Ok((ids, action, options, progress))
    };
    // SAFETY: the handle and output pointers are as the contract above says.
    unsafe {
        json_call(
            certloop,
            report_json,
            "report_json",
            read,
            |c, (ids, action, options, progress)| async move {
                c.batch(&ids, action, options, move |done, total| {
                    if let Some(progress) = &progress {
                        progress.report(done, total);
                    }
                })
                .await
            },
        )
    }
}

/// One sweep of the agent: claim what is due now, renew and deploy it (inside its windows),
/// release it. `options_json` is `{"owner", "leaseSeconds", "chunk", "concurrency",
/// "maxAttempts", "retryBaseSeconds", "expiryWarningDays"}` (all optional) or NULL. On success
/// `*report_json` receives `{"processed", "renewed", "deployed", "retried", "failed",
/// "errors": [batch items]}`; the caller frees it with `certloop_string_free`.
///
/// # Safety
///
/// `certloop` is a live handle; `options_json` is NULL or NUL-terminated; `report_json` is
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certloop_sweep(
    certloop: *const certloop_t,
    options_json: *const c_char,
    report_json: *mut *mut c_char,
) -> certloop_result {
    let read = || -> Result<_, Failure> {
        // SAFETY: NULL or NUL-terminated, by the contract above.
        let options: Sweep = unsafe { optional_json(options_json, "options_json") }?;
        Ok(SweepOptions::from(options))
    };
    // SAFETY: the handle and output pointers are as the contract above says.
    unsafe {
        json_call(certloop, report_json, "report_json", read, |c, options| async move {
            c.sweep(&options).await
        })
    }
}

/// When a sweep next has work: `*due_at` receives the earliest due schedule as an RFC 3339
/// string (e.g. "2026-12-07T13:00:00Z"), or NULL when nothing is scheduled. The caller frees
/// a non-NULL string with `certloop_string_free`.
///
/// # Safety
///
/// `certloop` is a live handle; `due_at` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certloop_next_due_at(
    certloop: *const certloop_t,
    due_at: *mut *mut c_char,
) -> certloop_result {
    guard(|| {
        // SAFETY: a live handle or NULL, by the contract above.
        let handle = unsafe { certloop_t::borrow(certloop) }?;
        check_out(due_at, "due_at")?;
        let next = handle.run(|c| async move { c.next_due_at().await })?;
        let text = match next {
            Some(at) => Some(
                at.format(&Rfc3339)
                    .map_err(|e| Failure::internal(format!("a due time does not format: {e}")))?,
            ),
            None => None,
        };
        // SAFETY: checked non-null; writable by the contract above.
        unsafe { write_text(due_at, text.as_deref()) }
    })
}

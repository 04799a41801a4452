//! `certloop_t`: the façade plus the runtime its blocking calls run on.

use std::ffi::{CStr, c_char};
use std::future::Future;

use certloop_core::Certloop;
use certloop_core::wire::OpenOptions;
use serde::Serialize;

use crate::errors::{Failure, certloop_result};
use crate::panic::guard;
use crate::strings::{check_out, input_str, optional_json, optional_str, write_json};

/// The certloop library handle (opaque). Create it with `certloop_open` or
/// `certloop_in_memory`, free it with `certloop_free`.
///
/// Thread safety: a handle may be shared between threads; every function that takes a
/// `const certloop_t *` may run concurrently with any other on the same handle. Only
/// `certloop_free` needs exclusive access (no call may be in flight).
#[allow(non_camel_case_types)]
pub struct certloop_t {
    certloop: Certloop,
    /// Runs the façade's async operations; every C call blocks on it. A current-thread runtime
    /// starts no threads; concurrent callers each drive their own call.
    runtime: tokio::runtime::Runtime,
}

// The contract above, checked by the compiler.
const _: fn() = || {
    fn shareable<T: Send + Sync>() {}
    shareable::<certloop_t>();
};

impl certloop_t {
    /// A handle over the façade that `open` produces.
    fn create<F>(open: impl FnOnce() -> F) -> Result<Box<Self>, Failure>
    where
        F: Future<Output = certloop_core::Result<Certloop>>,
    {
        refuse_reentry()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| certloop_core::Error::io("the async runtime", e))?;
        let certloop = runtime.block_on(open())?;
        Ok(Box::new(Self { certloop, runtime }))
    }

    /// Borrow the handle behind a pointer from C.
    ///
    /// # Safety
    ///
    /// `ptr` is NULL or a live handle from `certloop_open`/`certloop_in_memory` that is not
    /// freed while `'a` lasts.
    pub(crate) unsafe fn borrow<'a>(ptr: *const certloop_t) -> Result<&'a Self, Failure> {
        // SAFETY: forwarded from this function's contract; `as_ref` handles NULL.
        unsafe { ptr.as_ref() }.ok_or_else(|| Failure::null("certloop"))
    }

    /// Run one façade operation to completion on this handle's runtime.
    pub(crate) fn run<F, T>(&self, operation: impl FnOnce(Certloop) -> F) -> Result<T, Failure>
    where
        F: Future<Output = certloop_core::Result<T>>,
    {
        refuse_reentry()?;
        Ok(self.runtime.block_on(operation(self.certloop.clone()))?)
    }
}

/// The body of an exported function that answers with JSON, inside the panic boundary:
/// borrow the handle, check the output pointer, read the arguments (`read`, which borrows and
/// parses the caller's strings), run `operation` on the handle's runtime and write its result
/// as JSON to `*out` (freed with `certloop_string_free`). A NULL handle or output fails before
/// any argument is read, a call from inside a certloop callback is refused
/// (CERTLOOP_RESULT_REENTRANT_CALL), and `*out` is written only on success.
///
/// # Safety
///
/// `certloop` is NULL or a live handle that is not freed during the call; `out` is NULL or
/// points to a writable `char *`.
pub(crate) unsafe fn json_call<A, F, T>(
    certloop: *const certloop_t,
    out: *mut *mut c_char,
    out_name: &str,
    read: impl FnOnce() -> Result<A, Failure>,
    operation: impl FnOnce(Certloop, A) -> F,
) -> certloop_result
where
    F: Future<Output = certloop_core::Result<T>>,
    T: Serialize,
{
    guard(|| {
        // SAFETY: a live handle or NULL, by this function's contract.
        let handle = unsafe { certloop_t::borrow(certloop) }?;
        check_out(out, out_name)?;
        let args = read()?;
        let value = handle.run(|c| operation(c, args))?;
        // SAFETY: checked non-null; writable by this function's contract.
        unsafe { write_json(out, &value) }
    })
}

/// Refuse a call made from inside a callback that a certloop operation runs on this thread
/// (a batch's progress callback): blocking on a runtime from inside one would panic.
fn refuse_reentry() -> Result<(), Failure> {
    match tokio::runtime::Handle::try_current() {
        Ok(_) => Err(Failure::reentrant()),
        Err(_) => Ok(()),
    }
}

/// The library version, e.g. "0.1.0". Static: never free it.
#[unsafe(no_mangle)]
pub extern "C" fn certloop_version() -> *const c_char {
    const VERSION: &CStr =
        match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
            Ok(version) => version,
            Err(_) => panic!("the package version contains a NUL"),
        };
    VERSION.as_ptr()
}

/// Open (or create) the state directory `dir`: `certloop.db` (SQLite) and `master.key` (0600),
/// unless the environment variable CERTLOOP_MASTER_KEY provides the key. On success `*out`
/// receives a new handle that the caller owns and frees with `certloop_free`.
///
/// # Safety
///
/// `dir` is a NUL-terminated UTF-8 path; `out` points to a writable `certloop_t *`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certloop_open(
    dir: *const c_char,
    out: *mut *mut certloop_t,
) -> certloop_result {
    guard(|| {
        check_out(out, "out")?;
        // SAFETY: NUL-terminated or NULL by the contract above.
        let dir = unsafe { input_str(dir, "dir") }?.to_owned();
        let handle = certloop_t::create(|| Certloop::open(dir))?;
        // SAFETY: `out` is non-null (checked) and writable by the contract above.
        unsafe { out.write(Box::into_raw(handle)) };
        Ok(())
    })
}

/// A throwaway instance: an in-memory store and a random master key; everything is lost at
/// `certloop_free`. On success `*out` receives a new handle owned by the caller.
///
/// # Safety
///
/// `out` points to a writable `certloop_t *`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certloop_in_memory(out: *mut *mut certloop_t) -> certloop_result {
    guard(|| {
        check_out(out, "out")?;
        let handle = certloop_t::create(Certloop::in_memory)?;
        // SAFETY: `out` is non-null (checked) and writable by the contract above.
        unsafe { out.write(Box::into_raw(handle)) };
        Ok(())
    })
}

/// Like `certloop_open` (or `certloop_in_memory` when `dir` is NULL), with `options_json`:
/// `{"actor": "who the audit log names (default api)", "scriptRoot": "a directory"}`, every
/// field optional, NULL for none. With `scriptRoot`, script CA profiles are accepted only for
/// scripts inside that directory (after resolving symlinks and `..`); a missing directory is
/// CERTLOOP_RESULT_IO_ERROR. On success `*out` receives a new handle that the caller owns and
/// frees with `certloop_free`.
///
/// # Safety
///
/// `dir` and `options_json` are NULL or NUL-terminated UTF-8; `out` points to a writable
/// `certloop_t *`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certloop_open_with(
    dir: *const c_char,
    options_json: *const c_char,
    out: *mut *mut certloop_t,
) -> certloop_result {
    guard(|| {
        check_out(out, "out")?;
        // SAFETY: NULL or NUL-terminated, by the contract above.
        let dir = unsafe { optional_str(dir, "dir") }?.map(str::to_owned);
        // SAFETY: NULL or NUL-terminated, by the contract above.
        let options: OpenOptions = unsafe { optional_json(options_json, "options_json") }?;
        let handle = certloop_t::create(|| async move {
            let certloop = match dir {
                Some(dir) => Certloop::open(dir).await?,
                None => Certloop::in_memory().await?,
            };
            options.apply(certloop)
        })?;
        // SAFETY: `out` is non-null (checked) and writable by the contract above.
        unsafe { out.write(Box::into_raw(handle)) };
        Ok(())
    })
}

/// Free a handle and everything it holds (CA keys are zeroed). NULL is ignored. Called from
/// inside a certloop callback (a batch's progress) it frees nothing and records
/// CERTLOOP_RESULT_REENTRANT_CALL as the thread's last error: the handle is still in use.
///
/// # Safety
///
/// `certloop` is NULL or a handle from `certloop_open`/`certloop_in_memory` not yet freed, with
/// no call on it in flight on any thread; it must not be used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certloop_free(certloop: *mut certloop_t) {
    let _ = guard(|| {
        if !certloop.is_null() {
            refuse_reentry()?;
            // SAFETY: it came from `Box::into_raw` in `certloop_open`/`certloop_in_memory` and
            // the caller gives up the last reference.
            drop(unsafe { Box::from_raw(certloop) });
        }
        Ok(())
    });
}

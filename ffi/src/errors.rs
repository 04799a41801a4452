//! Result codes, the mapping from [`certloop_core::ErrorKind`], and the thread-local last error
//! that `certloop_error_message` copies out.

use std::cell::RefCell;
use std::ffi::c_char;

use certloop_core::{Error, ErrorKind};

/// What a certloop function returned. `CERTLOOP_RESULT_OK` is 0; every other value is a
/// failure whose text `certloop_error_message` copies out. Ranges are stable:
///
/// - 1–99: the calling code broke the API contract (a NULL pointer, a buffer too small).
/// - 100–199: the caller's data is malformed (not UTF-8, not JSON of the expected shape, a
///   field out of range). Fix the input.
/// - 200–299: the operation was refused or failed (policy, not found, conflict, CA, store,
///   I/O). 299 is a failure this build has no finer code for.
/// - 900: a bug in certloop was caught at the boundary (a Rust panic); nothing was written.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum certloop_result {
    /// Success: every output was written.
    Ok = 0,
    /// A required pointer argument was NULL.
    NullParameter = 1,
    /// The caller's buffer is too small; `*needed` says how many bytes are required.
    InsufficientSize = 2,
    /// A field or value of the input is invalid (the message names it).
    InvalidInput = 100,
    /// A string argument is not valid UTF-8.
    InvalidUtf8 = 101,
    /// A JSON argument does not parse, or does not have the expected shape.
    InvalidJson = 102,
    /// The request breaks its template or profile; the message lists every violation.
    PolicyViolation = 200,
    /// The named certificate, CA, template or profile does not exist.
    NotFound = 201,
    /// The object already exists.
    AlreadyExists = 202,
    /// The object's state forbids the operation (revoking a revoked certificate, ...).
    InvalidState = 203,
    /// A CA refused or failed to issue, renew or revoke.
    CaError = 204,
    /// A signature did not verify, a key was rejected, or signing failed.
    CryptoError = 205,
    /// The inventory store failed.
    StoreError = 206,
    /// A file or network operation failed.
    IoError = 207,
    /// Not supported by this connector or build.
    Unsupported = 208,
    /// A failure this build of the C ABI has no finer code for.
    OtherError = 299,
    /// A bug: a Rust panic was caught at the C boundary.
    Panic = 900,
}

impl certloop_result {
    /// The code for a core error kind.
    fn for_kind(kind: ErrorKind) -> Self {
        match kind {
            ErrorKind::InvalidInput => Self::InvalidInput,
            ErrorKind::PolicyViolation => Self::PolicyViolation,
            ErrorKind::NotFound => Self::NotFound,
            ErrorKind::AlreadyExists => Self::AlreadyExists,
            ErrorKind::InvalidState => Self::InvalidState,
            ErrorKind::Ca => Self::CaError,
            ErrorKind::Crypto => Self::CryptoError,
            ErrorKind::Store => Self::StoreError,
            ErrorKind::Io => Self::IoError,
            ErrorKind::Unsupported => Self::Unsupported,
            _ => Self::OtherError,
        }
    }
}

/// A failed call: its code, its message, and whether a retry can help.
#[derive(Debug)]
pub(crate) struct Failure {
    code: certloop_result,
    message: String,
    retryable: bool,
}

impl Failure {
    fn new(code: certloop_result, message: String) -> Self {
        Self { code, message, retryable: false }
    }

    /// A required pointer argument was NULL.
    pub(crate) fn null(parameter: &str) -> Self {
        Self::new(certloop_result::NullParameter, format!("{parameter} must not be NULL"))
    }

    /// A string argument is not UTF-8.
    pub(crate) fn utf8(parameter: &str, error: std::str::Utf8Error) -> Self {
        Self::new(certloop_result::InvalidUtf8, format!("{parameter} is not valid UTF-8: {error}"))
    }

    /// A JSON argument is malformed or has the wrong shape.
    pub(crate) fn json(parameter: &str, error: serde_json::Error) -> Self {
        Self::new(certloop_result::InvalidJson, format!("{parameter} is not valid JSON: {error}"))
    }

    /// A failure of certloop itself that no input can cause (a response that does not
    /// serialize).
    pub(crate) fn internal(message: String) -> Self {
        Self::new(certloop_result::OtherError, format!("internal error (please report): {message}"))
    }

    /// A panic payload caught at the boundary.
    pub(crate) fn panic(payload: &(dyn std::any::Any + Send)) -> Self {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_owned());
        Self::new(certloop_result::Panic, format!("internal error (please report): {what}"))
    }

    /// The result code.
    pub(crate) fn code(&self) -> certloop_result {
        self.code
    }

    /// The message.
    pub(crate) fn message(&self) -> &str {
        &self.message
    }

    /// Remember this failure as the thread's last error and return its code.
    pub(crate) fn record(self) -> certloop_result {
        let code = self.code;
        LAST_ERROR.with(|last| *last.borrow_mut() = Some(self));
        code
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Self {
            code: certloop_result::for_kind(error.kind()),
            retryable: error.is_retryable(),
            message: error.to_string(),
        }
    }
}

thread_local! {
    /// The last failure on this thread; kept until the next failure replaces it.
    static LAST_ERROR: RefCell<Option<Failure>> = const { RefCell::new(None) };
}

/// Copy the message of the last failed certloop call on this thread into `buf`, NUL-terminated.
///
/// `*needed` receives the message length plus one (for the NUL) whether or not it fits. When
/// `len` is smaller than that, nothing is written to `buf` and CERTLOOP_RESULT_INSUFFICIENT_SIZE
/// is returned: call again with a larger buffer. With no failure yet on this thread the message
/// is empty. Successful calls do not clear the message.
///
/// # Safety
///
/// `buf` must point to `len` writable bytes (it may be NULL when `len` is 0, to ask for the
/// size); `needed` must point to a writable `size_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certloop_error_message(
    buf: *mut c_char,
    len: usize,
    needed: *mut usize,
) -> certloop_result {
    // Not through `guard`: a failure here must not replace the message being read.
    let outcome = std::panic::catch_unwind(|| {
        if needed.is_null() {
            return certloop_result::NullParameter;
        }
        LAST_ERROR.with(|last| {
            let last = last.borrow();
            let message = last.as_ref().map_or("", |failure| failure.message.as_str());
            let required = message.len() + 1;
            // SAFETY: `needed` is non-null (checked) and the caller promises it is writable.
            unsafe { needed.write(required) };
            if len < required {
                return certloop_result::InsufficientSize;
            }
            if buf.is_null() {
                return certloop_result::NullParameter;
            }
            // SAFETY: `buf` is non-null and has `len >= required` writable bytes (caller's
            // promise); the source is a live Rust string that cannot overlap a C buffer.
            unsafe {
                std::ptr::copy_nonoverlapping(message.as_ptr(), buf.cast::<u8>(), message.len());
                buf.add(message.len()).write(0);
            }
            certloop_result::Ok
        })
    });
    outcome.unwrap_or(certloop_result::Panic)
}

/// Whether retrying the last failed call on this thread later can succeed (a CA that was
/// unreachable, a busy store), as opposed to a terminal refusal. False when nothing failed yet.
#[unsafe(no_mangle)]
pub extern "C" fn certloop_error_is_retryable() -> bool {
    std::panic::catch_unwind(|| {
        LAST_ERROR.with(|last| last.borrow().as_ref().is_some_and(|failure| failure.retryable))
    })
    .unwrap_or(false)
}

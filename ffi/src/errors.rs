//! Result codes, the mapping from [`certloop_core::ErrorKind`], and the thread-local last error
//! that `certloop_error_message` copies out and `certloop_error_detail` describes as JSON.

use std::cell::RefCell;
use std::ffi::c_char;

use certloop_core::{Error, ErrorKind};
use serde_json::{Map, Value, json};

use crate::strings::write_json;

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
    /// A certloop function taking a handle was called from inside a callback certloop is
    /// running (a batch's progress callback); nothing was done.
    ReentrantCall = 3,
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
    /// A deployment failed; `certloop_error_detail` says the target and whether the previous
    /// files were restored (`"rolledBack"`).
    DeploymentFailed = 209,
    /// An endpoint serves another certificate than expected; `certloop_error_detail` gives
    /// `"endpoint"`, `"expected"` and `"served"` (SHA-256 fingerprints).
    PinMismatch = 210,
    /// An ACME order waits for a person to complete domain control validation (manual
    /// solver). `certloop_error_detail` gives `"orderId"` and `"instructions"`; publish what
    /// `certloop_order_show` lists, then call `certloop_order_resume`.
    PendingValidation = 211,
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
            ErrorKind::Deployment => Self::DeploymentFailed,
            ErrorKind::PinMismatch => Self::PinMismatch,
            ErrorKind::PendingValidation => Self::PendingValidation,
            _ => Self::OtherError,
        }
    }

    /// The stable name of the code in `certloop_error_detail`'s `"code"`: the header's
    /// constant without its `CERTLOOP_RESULT_` prefix.
    fn name(self) -> &'static str {
        match self {
            Self::Ok => "OK",
            Self::NullParameter => "NULL_PARAMETER",
            Self::InsufficientSize => "INSUFFICIENT_SIZE",
            Self::ReentrantCall => "REENTRANT_CALL",
            Self::InvalidInput => "INVALID_INPUT",
            Self::InvalidUtf8 => "INVALID_UTF8",
            Self::InvalidJson => "INVALID_JSON",
            Self::PolicyViolation => "POLICY_VIOLATION",
            Self::NotFound => "NOT_FOUND",
            Self::AlreadyExists => "ALREADY_EXISTS",
            Self::InvalidState => "INVALID_STATE",
            Self::CaError => "CA_ERROR",
            Self::CryptoError => "CRYPTO_ERROR",
            Self::StoreError => "STORE_ERROR",
            Self::IoError => "IO_ERROR",
            Self::Unsupported => "UNSUPPORTED",
            Self::DeploymentFailed => "DEPLOYMENT_FAILED",
            Self::PinMismatch => "PIN_MISMATCH",
            Self::PendingValidation => "PENDING_VALIDATION",
            Self::OtherError => "OTHER_ERROR",
            Self::Panic => "PANIC",
        }
    }
}

/// A failed call: its code, its message, whether a retry can help, and the structured fields
/// `certloop_error_detail` adds (never a secret: the same fields the core error displays).
#[derive(Debug)]
pub(crate) struct Failure {
    code: certloop_result,
    message: String,
    retryable: bool,
    detail: Map<String, Value>,
}

impl Failure {
    fn new(code: certloop_result, message: String) -> Self {
        Self { code, message, retryable: false, detail: Map::new() }
    }

    /// A failure naming the argument (or field) it is about in its detail's `"field"`.
    fn about(code: certloop_result, message: String, field: &str) -> Self {
        let mut failure = Self::new(code, message);
        failure.detail.insert("field".to_owned(), json!(field));
        failure
    }

    /// A required pointer argument was NULL.
    pub(crate) fn null(parameter: &str) -> Self {
        let message = format!("{parameter} must not be NULL");
        Self::about(certloop_result::NullParameter, message, parameter)
    }

    /// A string argument is not UTF-8.
    pub(crate) fn utf8(parameter: &str, error: std::str::Utf8Error) -> Self {
        let message = format!("{parameter} is not valid UTF-8: {error}");
        Self::about(certloop_result::InvalidUtf8, message, parameter)
    }

    /// JSON argument `parameter` is malformed or has the wrong shape: `error` is the core's
    /// reading of it ([`certloop_core::wire::from_str`]), whose message never repeats the
    /// offending value (a password in the wrong place or shape must not come back in an
    /// error). The message and the detail's `"field"` name the field path inside the
    /// argument (`request_json.attributes.ttl`).
    pub(crate) fn json(parameter: &str, error: Error) -> Self {
        let Error::InvalidInput { field, message } = error else {
            return Self::from(error);
        };
        let message = match field.strip_prefix(parameter).and_then(|p| p.strip_prefix('.')) {
            Some(path) => format!("{parameter} is not valid JSON: {path}: {message}"),
            None => format!("{parameter} is not valid JSON: {message}"),
        };
        Self::about(certloop_result::InvalidJson, message, &field)
    }

    /// A certloop call from inside a callback certloop is running on this thread.
    pub(crate) fn reentrant() -> Self {
        Self::new(
            certloop_result::ReentrantCall,
            "a certloop function taking a handle was called from inside a certloop callback \
             (a batch's progress callback); return from the callback first"
                .to_owned(),
        )
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
        let mut detail = Map::new();
        let mut put = |key: &str, value: Value| detail.insert(key.to_owned(), value);
        match &error {
            Error::InvalidInput { field, .. } => {
                put("field", json!(field));
            }
            Error::PolicyViolation { violations } => {
                put("violations", serde_json::to_value(violations).unwrap_or(Value::Null));
            }
            Error::NotFound { what, id } => {
                put("what", json!(what));
                put("id", json!(id));
            }
            Error::Deployment { target, rolled_back, .. } => {
                put("target", json!(target));
                put("rolledBack", json!(rolled_back));
            }
            Error::PinMismatch { endpoint, expected, served } => {
                put("endpoint", json!(endpoint));
                put("expected", json!(expected));
                put("served", json!(served));
            }
            Error::PendingValidation { order_id, instructions } => {
                put("orderId", json!(order_id));
                put("instructions", json!(instructions));
            }
            _ => {}
        }
        Self {
            code: certloop_result::for_kind(error.kind()),
            retryable: error.is_retryable(),
            message: error.to_string(),
            detail,
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

/// The last failure on this thread as a JSON object, for callers that need more than the
/// message: `{"result": <certloop_result>, "code": "PENDING_VALIDATION", "message",
/// "retryable", ...}` plus, depending on the failure, `"field"` (the argument or request field
/// that is wrong), `"violations": [{"field", "message"}]`, `"what"` and `"id"` (not found),
/// `"target"` and `"rolledBack"` (deployment failed), `"endpoint"`, `"expected"` and
/// `"served"` (pin mismatch), `"orderId"` and `"instructions"` (pending validation: the order
/// to pass to `certloop_order_resume` once the person is done). With no failure yet on this
/// thread it is `{"result": 0, "code": "OK", "message": "", "retryable": false}`.
///
/// Like `certloop_error_message` this reads the thread-local last error (call it on the same
/// thread, before the next failing call) and never replaces it; a successful call does not
/// clear it. The detail holds no secret (passwords and keys never enter an error).
///
/// Ownership: on success `*detail_json` receives a string the caller owns and frees with
/// `certloop_string_free`.
///
/// # Safety
///
/// `detail_json` points to a writable `char *`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certloop_error_detail(detail_json: *mut *mut c_char) -> certloop_result {
    // Not through `guard`: a failure here must not replace the error being described.
    let outcome = std::panic::catch_unwind(|| {
        if detail_json.is_null() {
            return certloop_result::NullParameter;
        }
        let detail = LAST_ERROR.with(|last| {
            let last = last.borrow();
            let mut object = Map::new();
            let code = last.as_ref().map_or(certloop_result::Ok, |failure| failure.code);
            object.insert("result".to_owned(), json!(code as u32));
            object.insert("code".to_owned(), json!(code.name()));
            let message = last.as_ref().map_or("", |failure| failure.message.as_str());
            object.insert("message".to_owned(), json!(message));
            let retryable = last.as_ref().is_some_and(|failure| failure.retryable);
            object.insert("retryable".to_owned(), json!(retryable));
            if let Some(failure) = last.as_ref() {
                object.extend(failure.detail.clone());
            }
            Value::Object(object)
        });
        // SAFETY: `detail_json` is non-null (checked) and writable by the contract above.
        match unsafe { write_json(detail_json, &detail) } {
            Ok(()) => certloop_result::Ok,
            Err(failure) => failure.code(),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_misplaced_value_is_not_repeated_and_the_field_path_is_named() {
        let failure = crate::strings::parse_json::<Vec<String>>("\"s3cret\"", "options_json")
            .expect_err("a string is not a list");
        assert_eq!(failure.code(), certloop_result::InvalidJson);
        assert!(failure.message().starts_with("options_json is not valid JSON: invalid type"));
        assert!(!failure.message().contains("s3cret"), "{}", failure.message());
        assert_eq!(failure.detail["field"], "options_json");
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Spec {
            format: Format,
        }
        #[derive(Debug, serde::Deserialize)]
        #[serde(rename_all = "lowercase")]
        enum Format {
            Pem,
        }
        let failure = crate::strings::parse_json::<Spec>(r#"{"format": "s3cret"}"#, "spec_json")
            .expect_err("an unknown format");
        let message = failure.message();
        assert!(
            message.starts_with("spec_json is not valid JSON: format: unknown variant, expected"),
            "{message}"
        );
        assert!(!message.contains("s3cret"), "{message}");
        assert_eq!(failure.detail["field"], "spec_json.format");
    }

    #[test]
    fn kinds_with_details_keep_them() {
        let pending = Error::PendingValidation {
            order_id: "order-1".to_owned(),
            instructions: "publish the file".to_owned(),
        };
        let failure = Failure::from(pending);
        assert_eq!(failure.code(), certloop_result::PendingValidation);
        assert_eq!(failure.detail["orderId"], "order-1");
        assert_eq!(failure.detail["instructions"], "publish the file");
        let deployment = Error::Deployment {
            target: "web".to_owned(),
            summary: "reload failed".to_owned(),
            rolled_back: true,
        };
        let failure = Failure::from(deployment);
        assert_eq!(failure.code(), certloop_result::DeploymentFailed);
        assert_eq!(failure.detail["rolledBack"], true);
        assert_eq!(certloop_result::PendingValidation.name(), "PENDING_VALIDATION");
    }
}

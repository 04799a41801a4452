//! Strings across the boundary: borrowed NUL-terminated UTF-8 in, library-owned JSON out.

use std::ffi::{CStr, CString, c_char};
use std::io;

use serde::Serialize;
use serde::de::DeserializeOwned;
use zeroize::Zeroize;

use crate::errors::Failure;
use crate::panic::guard;

/// Borrow a required NUL-terminated UTF-8 argument.
///
/// # Safety
///
/// `ptr` is NULL or points to a NUL-terminated string that outlives `'a`.
pub(crate) unsafe fn input_str<'a>(
    ptr: *const c_char,
    parameter: &str,
) -> Result<&'a str, Failure> {
    // SAFETY: forwarded from this function's contract.
    unsafe { optional_str(ptr, parameter) }?.ok_or_else(|| Failure::null(parameter))
}

/// Borrow an optional (NULL allowed) NUL-terminated UTF-8 argument.
///
/// # Safety
///
/// `ptr` is NULL or points to a NUL-terminated string that outlives `'a`.
pub(crate) unsafe fn optional_str<'a>(
    ptr: *const c_char,
    parameter: &str,
) -> Result<Option<&'a str>, Failure> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: non-null, and NUL-terminated and live for 'a by the caller's contract.
    let text = unsafe { CStr::from_ptr(ptr) };
    text.to_str().map(Some).map_err(|e| Failure::utf8(parameter, e))
}

/// Parse a JSON argument into its serde type: the core's reading of the wire shape
/// ([`certloop_core::wire::from_str`]), so an error names the field path and never repeats
/// the offending value, as in the Node and Python bindings.
pub(crate) fn parse_json<T: DeserializeOwned>(text: &str, parameter: &str) -> Result<T, Failure> {
    certloop_core::wire::from_str(text, parameter).map_err(|e| Failure::json(parameter, e))
}

/// Borrow and parse a required JSON argument.
///
/// # Safety
///
/// `ptr` is NULL or points to a NUL-terminated string that lives for the call.
pub(crate) unsafe fn input_json<T: DeserializeOwned>(
    ptr: *const c_char,
    parameter: &str,
) -> Result<T, Failure> {
    // SAFETY: forwarded from this function's contract.
    let text = unsafe { input_str(ptr, parameter) }?;
    parse_json(text, parameter)
}

/// Borrow and parse an optional JSON argument: NULL means `T::default()`.
///
/// # Safety
///
/// `ptr` is NULL or points to a NUL-terminated string that lives for the call.
pub(crate) unsafe fn optional_json<T: DeserializeOwned + Default>(
    ptr: *const c_char,
    parameter: &str,
) -> Result<T, Failure> {
    // SAFETY: forwarded from this function's contract.
    match unsafe { optional_str(ptr, parameter) }? {
        Some(text) => parse_json(text, parameter),
        None => Ok(T::default()),
    }
}

/// Fail early, before any work is done, when an output pointer is NULL.
pub(crate) fn check_out<T>(out: *mut T, parameter: &str) -> Result<(), Failure> {
    if out.is_null() { Err(Failure::null(parameter)) } else { Ok(()) }
}

/// Serialize `value` as JSON into a new C string and store it in `*out` (the caller frees it
/// with `certloop_string_free`).
///
/// The buffer is sized exactly before serializing, so a response carrying a private key is
/// never reallocated (which would leave a copy behind); `certloop_string_free` zeroes it.
///
/// # Safety
///
/// `out` is non-null (see [`check_out`]) and points to a writable `char *`.
pub(crate) unsafe fn write_json<T: Serialize>(
    out: *mut *mut c_char,
    value: &T,
) -> Result<(), Failure> {
    let mut counter = ByteCounter(0);
    serde_json::to_writer(&mut counter, value).map_err(unserializable)?;
    let mut bytes = Vec::with_capacity(counter.0 + 1);
    serde_json::to_writer(&mut bytes, value).map_err(unserializable)?;
    bytes.push(0);
    // serde_json escapes U+0000 as `\u0000`, so the only NUL is the terminator just pushed.
    let text = CString::from_vec_with_nul(bytes)
        .map_err(|_| Failure::internal("a response holds a NUL byte".to_owned()))?;
    // SAFETY: `out` is non-null and writable by this function's contract.
    unsafe { out.write(text.into_raw()) };
    Ok(())
}

/// Store a new C string copy of `text` in `*out`, or NULL for `None` (the caller frees a
/// non-NULL string with `certloop_string_free`).
///
/// # Safety
///
/// `out` is non-null (see [`check_out`]) and points to a writable `char *`.
pub(crate) unsafe fn write_text(out: *mut *mut c_char, text: Option<&str>) -> Result<(), Failure> {
    let raw = match text {
        Some(text) => CString::new(text)
            .map_err(|_| Failure::internal("a response holds a NUL byte".to_owned()))?
            .into_raw(),
        None => std::ptr::null_mut(),
    };
    // SAFETY: `out` is non-null and writable by this function's contract.
    unsafe { out.write(raw) };
    Ok(())
}

fn unserializable(error: serde_json::Error) -> Failure {
    Failure::internal(format!("the response does not serialize: {error}"))
}

/// An `io::Write` that only counts.
struct ByteCounter(usize);

impl io::Write for ByteCounter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Free a string that certloop returned (every `char **` output). The bytes are zeroed first,
/// since an issue response holds a private key. NULL is ignored.
///
/// # Safety
///
/// `string` is NULL or a pointer certloop returned that has not been freed yet; it must not be
/// used afterwards. Never pass it memory from `malloc`, and never `free()` certloop's strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certloop_string_free(string: *mut c_char) {
    let _ = guard(|| {
        if string.is_null() {
            return Ok(());
        }
        // SAFETY: `string` came from `CString::into_raw` in `write_json` and is freed once.
        let owned = unsafe { CString::from_raw(string) };
        owned.into_bytes_with_nul().zeroize();
        Ok(())
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_output_is_sized_exactly_and_round_trips() {
        let value =
            serde_json::json!({"privateKey": "-----BEGIN PRIVATE KEY-----\n\u{0}x", "n": 1});
        let mut out: *mut c_char = std::ptr::null_mut();
        // SAFETY: `out` is a live, writable pointer slot.
        unsafe { write_json(&mut out, &value) }.unwrap();
        // SAFETY: `out` was just written by `write_json` and is freed once below.
        let text = unsafe { CStr::from_ptr(out) }.to_str().unwrap().to_owned();
        assert_eq!(serde_json::from_str::<serde_json::Value>(&text).unwrap(), value);
        // SAFETY: returned by `write_json`, not used afterwards.
        unsafe { certloop_string_free(out) };
    }

    #[test]
    fn a_null_output_is_refused_before_any_work() {
        let out: *mut *mut c_char = std::ptr::null_mut();
        assert!(check_out(out, "response_json").is_err());
    }
}

//! Certificate, CSR and CRL inspection: pure parsing, no handle needed.

use std::ffi::c_char;

use certloop_core::Result;

use crate::errors::certloop_result;
use crate::panic::guard;
use crate::strings::{check_out, input_str, write_json};

/// Parse the PEM text `input` with `inspect` and write the result as JSON.
///
/// # Safety
///
/// `input` is NULL or NUL-terminated; `out` is NULL or writable.
unsafe fn inspect<T: serde::Serialize>(
    input: *const c_char,
    parameter: &str,
    out: *mut *mut c_char,
    inspect: impl FnOnce(&[u8]) -> Result<T>,
) -> certloop_result {
    guard(|| {
        check_out(out, "info_json")?;
        // SAFETY: NUL-terminated or NULL, by the contract above.
        let pem = unsafe { input_str(input, parameter) }?;
        let info = inspect(pem.as_bytes())?;
        // SAFETY: checked non-null; writable by the contract above.
        unsafe { write_json(out, &info) }
    })
}

/// What a PEM certificate says (the first one of `certificate_pem`): `subject`, `subjectDn`,
/// `issuerDn`, `serialNumber`, `notBefore`, `notAfter`, `altNames`, `keyAlgorithm`,
/// `keyUsages`, `extendedKeyUsages`, `isCa`, `fingerprintSha256`, ... Free `*info_json` with
/// `certloop_string_free`.
///
/// # Safety
///
/// `certificate_pem` is NUL-terminated; `info_json` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certloop_certificate_inspect(
    certificate_pem: *const c_char,
    info_json: *mut *mut c_char,
) -> certloop_result {
    // SAFETY: forwarded from the contract above.
    unsafe {
        inspect(certificate_pem, "certificate_pem", info_json, |pem| {
            certloop_core::crypto::inspect_certificate(pem)
        })
    }
}

/// What a PEM CSR asks for (`subject`, `altNames`, `keyAlgorithm`, `signatureAlgorithm`,
/// `keyUsages`, `extendedKeyUsages`), after its self-signature verifies; a CSR whose signature
/// does not verify fails with CERTLOOP_RESULT_INVALID_INPUT or CERTLOOP_RESULT_CRYPTO_ERROR.
/// Free `*info_json` with `certloop_string_free`.
///
/// # Safety
///
/// `csr_pem` is NUL-terminated; `info_json` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certloop_csr_inspect(
    csr_pem: *const c_char,
    info_json: *mut *mut c_char,
) -> certloop_result {
    // SAFETY: forwarded from the contract above.
    unsafe { inspect(csr_pem, "csr_pem", info_json, certloop_core::csr::inspect_csr) }
}

/// What a PEM CRL says (issuer, `thisUpdate`, `nextUpdate`, `crlNumber`, revoked entries).
/// Free `*info_json` with `certloop_string_free`.
///
/// # Safety
///
/// `crl_pem` is NUL-terminated; `info_json` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certloop_crl_inspect(
    crl_pem: *const c_char,
    info_json: *mut *mut c_char,
) -> certloop_result {
    // SAFETY: forwarded from the contract above.
    unsafe { inspect(crl_pem, "crl_pem", info_json, certloop_core::crypto::inspect_crl) }
}

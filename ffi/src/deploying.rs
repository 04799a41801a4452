//! Keystores, deployment targets, deployments (with rollback) and the pinning check.
//!
//! Passwords only go in: they arrive in a keystore spec or a target and never come back
//! (targets are returned redacted by the core, keystore writes return the paths written), and
//! a spec or target that does not parse is refused without the offending value.

use std::ffi::{c_char, c_int};

use certloop_core::deploy::DeployTarget;
use certloop_core::keystore::KeystoreSpec;
use certloop_core::model::IssuedCertificate;

use crate::errors::{Failure, certloop_result};
use crate::handle::{certloop_t, json_call};
use crate::panic::guard;
use crate::strings::{input_json, input_str, optional_str};

/// Write certificate `certificate_id` (issued with `"manageKey": true`, so certloop kept its
/// key sealed) as `spec_json` says, keeping `keep` previous versions of each file (3 is the
/// default of the other bindings; 0 keeps none). `spec_json` is a keystore spec:
/// `{"format": "pem", "certPath", "chainPath", "fullchainPath", "keyPath", "combinedPath",
/// "keyPassphrase", "certMode", "keyMode"}`, `{"format": "pkcs12", "path", "password",
/// "alias", "legacy"}`, `{"format": "jks", "path", "storePassword", "keyPassword", "alias"}`
/// or `{"format": "kubernetesSecret", "path", "name", "namespace"}`. Files holding a key are
/// written with mode 0600, atomically.
///
/// Secrets: the passwords in `spec_json` are used, never stored, returned or put in an error
/// message (a spec that does not parse is refused without the offending value). On success
/// `*paths_json` receives the JSON array of the paths written; the caller frees it with
/// `certloop_string_free`.
///
/// # Safety
///
/// `certloop` is a live handle; `certificate_id` and `spec_json` are NUL-terminated;
/// `paths_json` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certloop_keystore_write(
    certloop: *const certloop_t,
    certificate_id: *const c_char,
    spec_json: *const c_char,
    keep: usize,
    paths_json: *mut *mut c_char,
) -> certloop_result {
    let read = || -> Result<_, Failure> {
        // SAFETY: NUL-terminated or NULL, by the contract above.
        let id = unsafe { input_str(certificate_id, "certificate_id") }?.to_owned();
        // SAFETY: NUL-terminated or NULL, by the contract above.
        let spec: KeystoreSpec = unsafe { input_json(spec_json, "spec_json") }?;
        Ok((id, spec))
    };
    // SAFETY: the handle and output pointers are as the contract above says.
    unsafe {
        json_call(certloop, paths_json, "paths_json", read, |c, (id, spec)| async move {
            Ok(c.write_keystore_for(&id, &spec, keep).await?.paths())
        })
    }
}

/// Like `certloop_keystore_write`, for a just-issued certificate: `issued_json` is
/// `certloop_issue`'s response (its `"privateKey"` is needed for the formats that hold a
/// key), so the key need not be kept by certloop. `issued_json` holds a private key: certloop
/// only borrows it for the call. On success `*paths_json` receives the JSON array of the
/// paths written; the caller frees it with `certloop_string_free`.
///
/// # Safety
///
/// `certloop` is a live handle; `issued_json` and `spec_json` are NUL-terminated;
/// `paths_json` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certloop_keystore_write_issued(
    certloop: *const certloop_t,
    issued_json: *const c_char,
    spec_json: *const c_char,
    keep: usize,
    paths_json: *mut *mut c_char,
) -> certloop_result {
    let read = || -> Result<_, Failure> {
        // SAFETY: NUL-terminated or NULL, by the contract above.
        let issued: IssuedCertificate = unsafe { input_json(issued_json, "issued_json") }?;
        // SAFETY: NUL-terminated or NULL, by the contract above.
        let spec: KeystoreSpec = unsafe { input_json(spec_json, "spec_json") }?;
        Ok((issued, spec))
    };
    // SAFETY: the handle and output pointers are as the contract above says.
    unsafe {
        json_call(certloop, paths_json, "paths_json", read, |c, (issued, spec)| async move {
            Ok(c.write_keystore(&issued, &spec, keep).await?.paths())
        })
    }
}

/// Create or replace (by name) a deployment target: `{"name", "type": "nginx" | "apache" |
/// "tomcat" | "generic" | ..., "certPath", "keyPath", "chainPath", "keystorePath",
/// "keystorePassword", "keyPassword", "testCommand": [argv], "reloadCommand": [argv],
/// "endpoint": "host:port", "serverName", "rollback" (default true), "keepVersions",
/// "pinAttempts", "pinIntervalMs", "timeoutSecs", ...}`.
///
/// Secrets: passwords are sealed at rest with the master key and come back `"[redacted]"`
/// in every response; a target that does not parse is refused without the offending value.
/// On success `*saved_json` receives the stored target (redacted); the caller frees it with
/// `certloop_string_free`.
///
/// # Safety
///
/// `certloop` is a live handle; `target_json` is NUL-terminated; `saved_json` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certloop_target_save(
    certloop: *const certloop_t,
    target_json: *const c_char,
    saved_json: *mut *mut c_char,
) -> certloop_result {
    let read = || -> Result<DeployTarget, Failure> {
        // SAFETY: NUL-terminated or NULL, by the contract above.
        unsafe { input_json(target_json, "target_json") }
    };
    // SAFETY: the handle and output pointers are as the contract above says.
    unsafe {
        json_call(certloop, saved_json, "saved_json", read, |c, target| async move {
            c.save_target(target).await
        })
    }
}

/// Every deployment target (passwords redacted), as a JSON array. The caller frees
/// `*targets_json` with `certloop_string_free`.
///
/// # Safety
///
/// `certloop` is a live handle; `targets_json` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certloop_target_list(
    certloop: *const certloop_t,
    targets_json: *mut *mut c_char,
) -> certloop_result {
    // SAFETY: the handle and output pointers are as the contract above says.
    unsafe {
        json_call(
            certloop,
            targets_json,
            "targets_json",
            || Ok(()),
            |c, ()| async move { c.list_targets().await },
        )
    }
}

/// One deployment target by name or id (passwords redacted). The caller frees
/// `*target_json` with `certloop_string_free`.
///
/// # Safety
///
/// `certloop` is a live handle; `target` is NUL-terminated; `target_json` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certloop_target_show(
    certloop: *const certloop_t,
    target: *const c_char,
    target_json: *mut *mut c_char,
) -> certloop_result {
    let read = || -> Result<_, Failure> {
        // SAFETY: NUL-terminated or NULL, by the contract above.
        unsafe { input_str(target, "target") }.map(str::to_owned)
    };
    // SAFETY: the handle and output pointers are as the contract above says.
    unsafe {
        json_call(certloop, target_json, "target_json", read, |c, name| async move {
            c.target(&name).await
        })
    }
}

/// Remove a deployment target by name or id (the files it points to are left alone).
///
/// # Safety
///
/// `certloop` is a live handle; `target` is NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certloop_target_remove(
    certloop: *const certloop_t,
    target: *const c_char,
) -> certloop_result {
    guard(|| {
        // SAFETY: a live handle or NULL, by the contract above.
        let handle = unsafe { certloop_t::borrow(certloop) }?;
        // SAFETY: NUL-terminated or NULL, by the contract above.
        let name = unsafe { input_str(target, "target") }?.to_owned();
        handle.run(|c| async move { c.remove_target(&name).await })?;
        Ok(())
    })
}

/// The arguments of the deploy calls, owned: certificate id, target, and the rollback choice
/// (negative keeps the target's setting).
///
/// # Safety
///
/// `certificate_id` and `target` are NULL or NUL-terminated.
unsafe fn deploy_arguments(
    certificate_id: *const c_char,
    target: *const c_char,
    rollback: c_int,
) -> Result<(String, String, Option<bool>), Failure> {
    // SAFETY: NUL-terminated or NULL, by this function's contract.
    let id = unsafe { input_str(certificate_id, "certificate_id") }?.to_owned();
    // SAFETY: NUL-terminated or NULL, by this function's contract.
    let target = unsafe { input_str(target, "target") }?.to_owned();
    Ok((id, target, (rollback >= 0).then_some(rollback > 0)))
}

/// Deploy certificate `certificate_id` (issued with `"manageKey": true`) to target `target`
/// (name or id): precheck, write the files (keeping the previous versions), config test,
/// reload, pinning check when the target has an endpoint. `rollback`: negative uses the
/// target's setting, 0 leaves the new files on failure, positive restores the previous ones.
///
/// A deployment that fails is CERTLOOP_RESULT_DEPLOYMENT_FAILED, whose
/// `certloop_error_detail` has `"target"` and `"rolledBack"`; use
/// `certloop_deploy_with_report` for every step. On success `*report_json` receives
/// `{"target", "success": true, "rolledBack", "failedStep", "steps": [{"step": "precheck" |
/// "write" | "configTest" | "reload" | "pinCheck" | "rollback", "ok", "detail"}], "files",
/// "pin": {"matches", ...}}`; the caller frees it with `certloop_string_free`.
///
/// # Safety
///
/// `certloop` is a live handle; `certificate_id` and `target` are NUL-terminated;
/// `report_json` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certloop_deploy(
    certloop: *const certloop_t,
    certificate_id: *const c_char,
    target: *const c_char,
    rollback: c_int,
    report_json: *mut *mut c_char,
) -> certloop_result {
    // SAFETY: NUL-terminated or NULL, by the contract above.
    let read = || unsafe { deploy_arguments(certificate_id, target, rollback) };
    // SAFETY: the handle and output pointers are as the contract above says.
    unsafe {
        json_call(
            certloop,
            report_json,
            "report_json",
            read,
            |c, (id, target, rollback)| async move { c.deploy(&id, &target, rollback).await },
        )
    }
}

/// Like `certloop_deploy`, but a deployment that ran and failed is CERTLOOP_RESULT_OK with
/// `"success": false` in the report (`"failedStep"`, `"rolledBack"`, and a `"rollback"`
/// step when the previous files were restored). It fails only when the deployment could
/// not start (unknown certificate or target, no kept key, a certificate not live). The
/// caller frees `*report_json` with `certloop_string_free`.
///
/// # Safety
///
/// `certloop` is a live handle; `certificate_id` and `target` are NUL-terminated;
/// `report_json` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certloop_deploy_with_report(
    certloop: *const certloop_t,
    certificate_id: *const c_char,
    target: *const c_char,
    rollback: c_int,
    report_json: *mut *mut c_char,
) -> certloop_result {
    // SAFETY: NUL-terminated or NULL, by the contract above.
    let read = || unsafe { deploy_arguments(certificate_id, target, rollback) };
    // SAFETY: the handle and output pointers are as the contract above says.
    unsafe {
        json_call(
            certloop,
            report_json,
            "report_json",
            read,
            |c, (id, target, rollback)| async move {
                c.deploy_with_report(&id, &target, rollback).await
            },
        )
    }
}

/// Check what `endpoint` (`host:port`) serves, with SNI `server_name` (NULL: none), against
/// certificate `certificate_id`'s SHA-256 fingerprint. A mismatch is not an error: the result
/// says `"matches": false` with `"expectedSha256"`, `"servedSha256"` and `"servedSubject"`.
/// An unreachable endpoint is CERTLOOP_RESULT_IO_ERROR. The caller frees `*check_json` with
/// `certloop_string_free`.
///
/// # Safety
///
/// `certloop` is a live handle; `certificate_id` and `endpoint` are NUL-terminated;
/// `server_name` is NULL or NUL-terminated; `check_json` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certloop_pin_check(
    certloop: *const certloop_t,
    certificate_id: *const c_char,
    endpoint: *const c_char,
    server_name: *const c_char,
    check_json: *mut *mut c_char,
) -> certloop_result {
    let read = || -> Result<_, Failure> {
        // SAFETY: NUL-terminated or NULL, by the contract above.
        let id = unsafe { input_str(certificate_id, "certificate_id") }?.to_owned();
        // SAFETY: NUL-terminated or NULL, by the contract above.
        let endpoint = unsafe { input_str(endpoint, "endpoint") }?.to_owned();
        // SAFETY: NUL-terminated or NULL, by the contract above.
        let server_name = unsafe { optional_str(server_name, "server_name") }?.map(str::to_owned);
        Ok((id, endpoint, server_name))
    };
    // SAFETY: the handle and output pointers are as the contract above says.
    unsafe {
        json_call(
            certloop,
            check_json,
            "check_json",
            read,
            |c, (id, endpoint, server_name)| async move {
                c.pin_check(&id, &endpoint, server_name.as_deref()).await
            },
        )
    }
}

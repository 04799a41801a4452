//! Templates, profiles and the embedded default set-up.

use std::ffi::c_char;

use certloop_core::policy::{CertificateProfile, CertificateTemplate};

use crate::errors::{Failure, certloop_result};
use crate::handle::{certloop_t, json_call};
use crate::panic::guard;
use crate::strings::{input_str, parse_json};

/// Set up the embedded default once: a root CA `certloop-root`, an issuing CA
/// `certloop-issuing` under it, and the `tls-server` template and profile that requests without
/// a `profileId` use. Calling it again changes nothing.
///
/// # Safety
///
/// `certloop` is a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certloop_init_default(certloop: *const certloop_t) -> certloop_result {
    guard(|| {
        // SAFETY: a live handle or NULL, by the contract above.
        let handle = unsafe { certloop_t::borrow(certloop) }?;
        handle.run(|c| async move { c.init_default().await })?;
        Ok(())
    })
}

/// Create or replace a template (`{"slug", "description", "subject", "sans", "keyUsages",
/// "extendedKeyUsages", "algorithms", "validity", ...}`; replaced by `id`, else by `slug`).
/// On success `*saved_json` receives the stored template; free it with
/// `certloop_string_free`.
///
/// # Safety
///
/// `certloop` is a live handle; `template_json` is NUL-terminated; `saved_json` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certloop_template_save(
    certloop: *const certloop_t,
    template_json: *const c_char,
    saved_json: *mut *mut c_char,
) -> certloop_result {
    let read = || -> Result<_, Failure> {
        // SAFETY: NUL-terminated or NULL, by the contract above.
        let text = unsafe { input_str(template_json, "template_json") }?;
        let template: CertificateTemplate = parse_json(text, "template_json")?;
        Ok(template)
    };
    // SAFETY: the handle and output pointers are as the contract above says.
    unsafe {
        json_call(certloop, saved_json, "saved_json", read, |c, template| async move {
            c.save_template(template).await
        })
    }
}

/// A template by id or slug. Free `*template_json` with `certloop_string_free`.
///
/// # Safety
///
/// `certloop` is a live handle; `template` is NUL-terminated; `template_json` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certloop_template_show(
    certloop: *const certloop_t,
    template: *const c_char,
    template_json: *mut *mut c_char,
) -> certloop_result {
    let read = || -> Result<_, Failure> {
        // SAFETY: NUL-terminated or NULL, by the contract above.
        unsafe { input_str(template, "template") }.map(str::to_owned)
    };
    // SAFETY: the handle and output pointers are as the contract above says.
    unsafe {
        json_call(certloop, template_json, "template_json", read, |c, id| async move {
            c.get_template(&id).await
        })
    }
}

/// Every template, as a JSON array. Free `*templates_json` with `certloop_string_free`.
///
/// # Safety
///
/// `certloop` is a live handle; `templates_json` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certloop_template_list(
    certloop: *const certloop_t,
    templates_json: *mut *mut c_char,
) -> certloop_result {
    // SAFETY: the handle and output pointers are as the contract above says.
    unsafe {
        json_call(
            certloop,
            templates_json,
            "templates_json",
            || Ok(()),
            |c, ()| async move { c.list_templates().await },
        )
    }
}

/// Create or replace a profile (`{"slug", "templateId", "issuer": {"type": "internalCa",
/// "caId"} | {"type": "selfSigned"}, "enrollmentType": "API", "apiConfig": {"autoRenew",
/// "renewBeforeDays"}}`); its template and CA must exist. On success `*saved_json` receives
/// the stored profile; free it with `certloop_string_free`.
///
/// # Safety
///
/// `certloop` is a live handle; `profile_json` is NUL-terminated; `saved_json` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certloop_profile_save(
    certloop: *const certloop_t,
    profile_json: *const c_char,
    saved_json: *mut *mut c_char,
) -> certloop_result {
    let read = || -> Result<_, Failure> {
        // SAFETY: NUL-terminated or NULL, by the contract above.
        let text = unsafe { input_str(profile_json, "profile_json") }?;
        let profile: CertificateProfile = parse_json(text, "profile_json")?;
        Ok(profile)
    };
    // SAFETY: the handle and output pointers are as the contract above says.
    unsafe {
        json_call(certloop, saved_json, "saved_json", read, |c, profile| async move {
            c.save_profile(profile).await
        })
    }
}

/// A profile by id or slug. Free `*profile_json` with `certloop_string_free`.
///
/// # Safety
///
/// `certloop` is a live handle; `profile` is NUL-terminated; `profile_json` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certloop_profile_show(
    certloop: *const certloop_t,
    profile: *const c_char,
    profile_json: *mut *mut c_char,
) -> certloop_result {
    let read = || -> Result<_, Failure> {
        // SAFETY: NUL-terminated or NULL, by the contract above.
        unsafe { input_str(profile, "profile") }.map(str::to_owned)
    };
    // SAFETY: the handle and output pointers are as the contract above says.
    unsafe {
        json_call(certloop, profile_json, "profile_json", read, |c, id| async move {
            c.get_profile(&id).await
        })
    }
}

/// Every profile, as a JSON array. Free `*profiles_json` with `certloop_string_free`.
///
/// # Safety
///
/// `certloop` is a live handle; `profiles_json` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn certloop_profile_list(
    certloop: *const certloop_t,
    profiles_json: *mut *mut c_char,
) -> certloop_result {
    // SAFETY: the handle and output pointers are as the contract above says.
    unsafe {
        json_call(
            certloop,
            profiles_json,
            "profiles_json",
            || Ok(()),
            |c, ()| async move { c.list_profiles().await },
        )
    }
}

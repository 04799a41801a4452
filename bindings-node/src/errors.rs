//! certloop errors as JavaScript `Error` objects with a stable string `code`.
//!
//! Every failure reaches JavaScript as an `Error` whose `message` is certloop's message and whose
//! `code` is [`ErrorKind::code`](certloop::ErrorKind::code) (`INVALID_INPUT`, `POLICY_VIOLATION`,
//! `NOT_FOUND`, `CA_ERROR`, ...). `retryable` says whether a later retry can help; an input
//! error names its `field`; a policy error lists every `violations` entry as `{field, message}`;
//! `NOT_FOUND` adds `what` and `id`, `DEPLOYMENT_FAILED` adds `target` and `rolledBack`,
//! `PIN_MISMATCH` adds `endpoint`, `expected` and `served`, `PENDING_VALIDATION` adds `orderId`
//! and `instructions`.

use napi::Env;
use napi::bindgen_prelude::{JsValue, Object};

/// Build the JavaScript error for `error`, ready to throw or reject with.
pub fn to_js(env: &Env, error: &certloop::Error) -> napi::Error {
    match build(env, error) {
        Ok(object) => napi::Error::from(object.to_unknown()),
        // Building the object failed (out of memory, a pending exception): still report the
        // right code and message, without the extra properties.
        Err(_) => napi::Error::new(napi::Status::GenericFailure, error.to_string()),
    }
}

fn build<'env>(env: &'env Env, error: &certloop::Error) -> napi::Result<Object<'env>> {
    let code = error.kind().code();
    let mut object = env.create_error(napi::Error::new(napi::Status::GenericFailure, error))?;
    object.set("code", code)?;
    object.set("retryable", error.is_retryable())?;
    if let certloop::Error::InvalidInput { field, .. } = error {
        object.set("field", field.as_str())?;
    }
    match error {
        certloop::Error::PolicyViolation { violations } => {
            object.set("violations", env.to_js_value(violations)?)?;
        }
        certloop::Error::NotFound { what, id } => {
            object.set("what", *what)?;
            object.set("id", id.as_str())?;
        }
        certloop::Error::Deployment { target, rolled_back, .. } => {
            object.set("target", target.as_str())?;
            object.set("rolledBack", *rolled_back)?;
        }
        certloop::Error::PinMismatch { endpoint, expected, served } => {
            object.set("endpoint", endpoint.as_str())?;
            object.set("expected", expected.as_str())?;
            object.set("served", served.as_str())?;
        }
        certloop::Error::PendingValidation { order_id, instructions } => {
            object.set("orderId", order_id.as_str())?;
            object.set("instructions", instructions.as_str())?;
        }
        _ => {}
    }
    Ok(object)
}

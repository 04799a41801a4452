//! The panic boundary: no Rust panic ever unwinds into C.

use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::error::{Failure, certloop_result};

/// Run the body of an exported function: `Ok` becomes `CERTLOOP_RESULT_OK`, a failure or a
/// caught panic is recorded as the thread's last error and its code returned.
///
/// `AssertUnwindSafe` is sound here because a panic never lets the caller observe a half-done
/// output: outputs are written as the last step of each body, and the handle's shared state
/// (the store, the CA cache) recovers from poisoning on its own.
pub(crate) fn guard(body: impl FnOnce() -> Result<(), Failure>) -> certloop_result {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => certloop_result::Ok,
        Ok(Err(failure)) => failure.record(),
        Err(payload) => Failure::panic(payload.as_ref()).record(),
    }
}

//! The panic boundary: no Rust panic ever unwinds into C.

use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::errors::{Failure, certloop_result};

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_the_panic_code_with_its_message() {
        let code = guard(|| panic!("boom at the boundary"));
        assert_eq!(code, certloop_result::Panic);
        let mut buf = [0u8; 128];
        let mut needed = 0usize;
        // SAFETY: `buf` has 128 writable bytes and `needed` is a live usize.
        let read = unsafe {
            crate::errors::certloop_error_message(buf.as_mut_ptr().cast(), buf.len(), &mut needed)
        };
        assert_eq!(read, certloop_result::Ok);
        let message = std::str::from_utf8(&buf[..needed - 1]).unwrap();
        assert!(message.contains("boom at the boundary"), "{message}");
    }

    #[test]
    fn core_error_kinds_map_to_their_codes() {
        let code = guard(|| Err(certloop_core::Error::invalid("attributes.ttl", "bad").into()));
        assert_eq!(code, certloop_result::InvalidInput);
        let code =
            guard(
                || Err(certloop_core::Error::NotFound { what: "profile", id: "x".into() }.into()),
            );
        assert_eq!(code, certloop_result::NotFound);
        assert_eq!(guard(|| Ok(())), certloop_result::Ok);
    }
}

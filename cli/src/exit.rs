//! Exit codes a pipeline can branch on. Documented in the README; never renumber them.

use certloop::ErrorKind;

/// Success.
pub const OK: u8 = 0;
/// Anything not listed below (store or crypto failure).
pub const FAILURE: u8 = 1;
/// Bad command line or invalid input (malformed PEM, unknown algorithm, bad TTL, ...).
pub const USAGE: u8 = 2;
/// The request breaks its template or profile.
pub const POLICY_VIOLATION: u8 = 3;
/// A named certificate, CA, template or profile does not exist.
pub const NOT_FOUND: u8 = 4;
/// The CA refused or failed.
pub const CA_ERROR: u8 = 5;
/// A file or network operation failed.
pub const IO: u8 = 6;
/// The object exists already, or is in a state that forbids the operation.
pub const CONFLICT: u8 = 7;
/// A deployment failed (rolled back or not: the message says which).
pub const DEPLOYMENT_FAILED: u8 = 8;
/// The endpoint serves another certificate than the one expected (pinning mismatch).
pub const PIN_MISMATCH: u8 = 9;

/// The order was kept and waits for manual domain control validation
/// (`certloop order show|resume <id>`).
pub const PENDING_VALIDATION: u8 = 10;

/// The exit code for an error kind.
pub fn for_kind(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::InvalidInput | ErrorKind::Unsupported => USAGE,
        ErrorKind::PolicyViolation => POLICY_VIOLATION,
        ErrorKind::NotFound => NOT_FOUND,
        ErrorKind::Ca => CA_ERROR,
        ErrorKind::Io => IO,
        ErrorKind::AlreadyExists | ErrorKind::InvalidState => CONFLICT,
        ErrorKind::Deployment => DEPLOYMENT_FAILED,
        ErrorKind::PinMismatch => PIN_MISMATCH,

        ErrorKind::PendingValidation => PENDING_VALIDATION,
        _ => FAILURE,
    }
}

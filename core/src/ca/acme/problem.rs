//! ACME errors as ours: retry policy (which problems are worth another attempt, and when),
//! timeouts, and problem documents kept whole in the message.

use std::time::Duration;

use instant_acme::Order;

use crate::error::{Error, Result};

/// Delay before retry `attempt` (1-based): 0.5 s doubling, at most 8 s.
pub(super) fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(500u64.saturating_mul(1 << attempt.min(4).saturating_sub(1)))
}

/// A timeout result flattened into our error.
pub(super) fn flatten<T>(
    result: std::result::Result<
        std::result::Result<T, instant_acme::Error>,
        tokio::time::error::Elapsed,
    >,
    timeout: Duration,
    what: &str,
) -> Result<T> {
    match result {
        Ok(inner) => inner.map_err(map_acme),
        Err(_) => Err(Error::Ca {
            message: format!("ACME {what} timed out after {timeout:?}"),
            retryable: true,
        }),
    }
}

/// ACME problem types (RFC 8555 §6.7) worth retrying; all others are terminal.
const RETRYABLE_PROBLEMS: &[&str] = &["badNonce", "rateLimited", "serverInternal"];

/// An instant-acme error as ours, keeping the problem document whole.
pub(super) fn map_acme(error: instant_acme::Error) -> Error {
    match error {
        instant_acme::Error::Api(problem) => {
            let kind = problem.r#type.as_deref().unwrap_or("about:blank");
            let short = kind.rsplit(':').next().unwrap_or(kind);
            let retryable = RETRYABLE_PROBLEMS.contains(&short);
            Error::Ca { message: describe_problem(&problem), retryable }
        }
        instant_acme::Error::Timeout(_) => {
            Error::Ca { message: "timed out waiting for the ACME server".into(), retryable: true }
        }
        instant_acme::Error::Unsupported(feature) => {
            Error::Unsupported(format!("ACME server: {feature}"))
        }
        instant_acme::Error::Crypto | instant_acme::Error::KeyRejected => {
            Error::crypto(format!("ACME: {error}"))
        }
        instant_acme::Error::Json(e) => Error::ca(format!("ACME server sent bad JSON: {e}")),
        other => Error::Ca { message: format!("ACME transport: {other}"), retryable: true },
    }
}

/// The problem document as one line: type, status, detail, then each subproblem.
fn describe_problem(problem: &instant_acme::Problem) -> String {
    let mut out = format!(
        "ACME problem {} (HTTP {}): {}",
        problem.r#type.as_deref().unwrap_or("about:blank"),
        problem.status.map_or_else(|| "?".to_owned(), |s| s.to_string()),
        problem.detail.as_deref().unwrap_or("no detail"),
    );
    for sub in &problem.subproblems {
        out.push_str(&format!(
            "; {} {}: {}",
            sub.identifier.as_ref().map_or_else(String::new, |id| format!("{id:?}")),
            sub.r#type.as_deref().unwrap_or(""),
            sub.detail.as_deref().unwrap_or(""),
        ));
    }
    out
}

/// A terminal error for an invalid order, with the CA's problem when it gave one.
pub(super) fn order_problem(order: &mut Order, what: &str) -> Error {
    let state = order.state();
    let detail = state.error.as_ref().map(describe_problem);
    Error::ca(match detail {
        Some(detail) => format!("{what}: {detail}"),
        None => format!("{what} (order status {:?})", state.status),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_bounded() {
        assert_eq!(backoff(1), Duration::from_millis(500));
        assert_eq!(backoff(2), Duration::from_secs(1));
        assert_eq!(backoff(30), Duration::from_secs(4));
    }
}

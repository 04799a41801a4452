//! The one error type of the `certloop` crate.
//!
//! Every failure has a [`ErrorKind`] a binding can map to its own error classes, a message that
//! names the field, file or certificate involved, and [`Error::is_retryable`] so that schedulers
//! do not hammer a CA on a terminal error. Dependency error types never leak out: they are
//! turned into text at the boundary.

use std::fmt;

/// A policy rule that a request broke, naming the field it concerns.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Violation {
    /// The request field, in the JSON shape's spelling (`attributes.commonName`, `altNames[1]`).
    pub field: String,
    /// What is wrong and what would be accepted.
    pub message: String,
}

impl Violation {
    /// A violation of `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// What kind of failure an [`Error`] is; stable across releases, for bindings and exit codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A request, file or value was malformed or out of range.
    InvalidInput,
    /// The request was well formed but a template or profile forbids it.
    PolicyViolation,
    /// The named CA, template, profile or certificate does not exist.
    NotFound,
    /// The object already exists.
    AlreadyExists,
    /// The operation is not allowed in the object's current state.
    InvalidState,
    /// A CA refused or failed to issue, renew or revoke.
    Ca,
    /// A cryptographic operation failed (signature did not verify, key rejected).
    Crypto,
    /// The inventory store failed.
    Store,
    /// A file or network operation failed.
    Io,
    /// The operation is not supported by this connector or build.
    Unsupported,
    /// A deployment failed (its report says whether it was rolled back).
    Deployment,
    /// An endpoint serves another certificate than the one expected.
    PinMismatch,

    /// An order waits for a person to complete domain control validation.
    PendingValidation,
}

impl ErrorKind {
    /// A stable upper-case code: `INVALID_INPUT`, `POLICY_VIOLATION`, ...
    pub fn code(self) -> &'static str {
        match self {
            Self::InvalidInput => "INVALID_INPUT",
            Self::PolicyViolation => "POLICY_VIOLATION",
            Self::NotFound => "NOT_FOUND",
            Self::AlreadyExists => "ALREADY_EXISTS",
            Self::InvalidState => "INVALID_STATE",
            Self::Ca => "CA_ERROR",
            Self::Crypto => "CRYPTO_ERROR",
            Self::Store => "STORE_ERROR",
            Self::Io => "IO_ERROR",
            Self::Unsupported => "UNSUPPORTED",
            Self::Deployment => "DEPLOYMENT_FAILED",
            Self::PinMismatch => "PIN_MISMATCH",

            Self::PendingValidation => "PENDING_VALIDATION",
        }
    }
}

/// The error of every fallible certloop operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A field of a request or a value of a file is invalid.
    #[error("invalid {field}: {message}")]
    InvalidInput {
        /// The field (JSON spelling) or file that is wrong.
        field: String,
        /// What is wrong and what would be accepted.
        message: String,
    },
    /// The request breaks its template; every violation is listed.
    #[error("policy violation: {}", join(violations))]
    PolicyViolation {
        /// Every rule the request broke, each naming its field.
        violations: Vec<Violation>,
    },
    /// An object was looked up and does not exist.
    #[error("{what} not found: {id}")]
    NotFound {
        /// What was looked up: `certificate`, `profile`, `template`, `CA`.
        what: &'static str,
        /// The id or slug that was asked for.
        id: String,
    },
    /// An object with this id or slug exists already.
    #[error("{what} already exists: {id}")]
    AlreadyExists {
        /// What kind of object.
        what: &'static str,
        /// Its id or slug.
        id: String,
    },
    /// The operation is not allowed in the current state.
    #[error("{0}")]
    InvalidState(String),
    /// A CA failed; `retryable` says whether trying again later can help.
    #[error("CA error: {message}")]
    Ca {
        /// What the CA said or what failed.
        message: String,
        /// Whether a later retry can succeed (network, rate limit) or not (rejected).
        retryable: bool,
    },
    /// A signature did not verify, a key was rejected, or signing failed.
    #[error("crypto: {0}")]
    Crypto(String),
    /// The inventory store failed.
    #[error("store: {0}")]
    Store(String),
    /// A file or network operation failed; `path` names the file when there is one.
    #[error("I/O error on {path}: {message}")]
    Io {
        /// The file, directory or address involved.
        path: String,
        /// The operating system's message.
        message: String,
    },
    /// Not supported by this connector or build.
    #[error("not supported: {0}")]
    Unsupported(String),
    /// A deployment failed; `summary` says at which step and what was restored.
    #[error("{summary}")]
    Deployment {
        /// The target's name.
        target: String,
        /// What failed and what was restored, one line.
        summary: String,
        /// Whether the previous files were restored.
        rolled_back: bool,
    },
    /// An endpoint serves another certificate than the one expected.
    #[error("{endpoint} serves certificate {served}, expected {expected}")]
    PinMismatch {
        /// `host:port`.
        endpoint: String,
        /// SHA-256 fingerprint expected.
        expected: String,
        /// SHA-256 fingerprint served.
        served: String,
    },

    /// The order was kept, waiting for a person to complete domain control validation; resume
    /// it with `certloop order resume <order_id>`.
    #[error("order {order_id} is pending manual validation\n{instructions}")]
    PendingValidation {
        /// The pending order's id.
        order_id: String,
        /// What the person must do.
        instructions: String,
    },

    /// A script CA connector failed: it raised, overran its timeout, broke the
    /// `certificate_request` contract or returned an unusable certificate. Sensitive parameter
    /// values are redacted from every field.
    #[error("script {script}: {}", script_message(exception.as_deref(), message, traceback.as_deref()))]
    Script {
        /// The script file.
        script: String,
        /// The Python exception type (`ValueError`, `SyntaxError`, `TimeoutError`), when the
        /// script raised.
        exception: Option<String>,
        /// What went wrong.
        message: String,
        /// The Python traceback, when there is one.
        traceback: Option<String>,
        /// Whether a later retry can succeed (timeouts, connection errors, or an exception
        /// with a true `retryable` attribute).
        retryable: bool,
    },
}

fn script_message(exception: Option<&str>, message: &str, traceback: Option<&str>) -> String {
    let mut out = match exception {
        Some(exception) => format!("{exception}: {message}"),
        None => message.to_owned(),
    };
    if let Some(traceback) = traceback.filter(|t| !t.trim().is_empty()) {
        out.push('\n');
        out.push_str(traceback.trim_end());
    }
    out
}

fn join(violations: &[Violation]) -> String {
    violations.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

impl Error {
    /// An [`Error::InvalidInput`] for `field`.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::InvalidInput { field: field.into(), message: message.into() }
    }

    /// An [`Error::Io`] for `path`.
    pub fn io(path: impl fmt::Display, err: impl fmt::Display) -> Self {
        Self::Io { path: path.to_string(), message: err.to_string() }
    }

    /// A terminal [`Error::Ca`].
    pub fn ca(message: impl Into<String>) -> Self {
        Self::Ca { message: message.into(), retryable: false }
    }

    /// A [`Error::Store`] from any displayable cause.
    pub fn store(err: impl fmt::Display) -> Self {
        Self::Store(err.to_string())
    }

    /// A [`Error::Crypto`] from any displayable cause.
    pub fn crypto(err: impl fmt::Display) -> Self {
        Self::Crypto(err.to_string())
    }

    /// The stable kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::InvalidInput { .. } => ErrorKind::InvalidInput,
            Self::PolicyViolation { .. } => ErrorKind::PolicyViolation,
            Self::NotFound { .. } => ErrorKind::NotFound,
            Self::AlreadyExists { .. } => ErrorKind::AlreadyExists,
            Self::InvalidState(_) => ErrorKind::InvalidState,
            Self::Ca { .. } => ErrorKind::Ca,
            Self::Crypto(_) => ErrorKind::Crypto,
            Self::Store(_) => ErrorKind::Store,
            Self::Io { .. } => ErrorKind::Io,
            Self::Unsupported(_) => ErrorKind::Unsupported,
            Self::Deployment { .. } => ErrorKind::Deployment,
            Self::PinMismatch { .. } => ErrorKind::PinMismatch,

            Self::PendingValidation { .. } => ErrorKind::PendingValidation,

            Self::Script { .. } => ErrorKind::Ca,
        }
    }

    /// Whether retrying the same operation later can succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Ca { retryable, .. } | Self::Script { retryable, .. } => *retryable,
            Self::Io { .. } | Self::Store(_) => true,
            _ => false,
        }
    }

    /// The policy violations, when this is a policy error.
    pub fn violations(&self) -> &[Violation] {
        match self {
            Self::PolicyViolation { violations } => violations,
            _ => &[],
        }
    }
}

/// The result type of certloop.
pub type Result<T, E = Error> = std::result::Result<T, E>;

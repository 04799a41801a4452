//! The exception hierarchy and the mapping of [`certloop::Error`] onto it.
//!
//! One base class, `CertloopError`, with a subclass per [`ErrorKind`]. Every instance carries
//! `code` (the stable `ErrorKind::code`) and `retryable`; `InvalidInput` adds `field`,
//! `PolicyViolation` adds `violations` (a list of `(field, message)` objects), `NotFound` adds
//! `what` and `id`, `CaError` keeps `retryable` as the CA said and adds `exception` and
//! `traceback` (a script CA's or registered callable's, redacted), `DeploymentFailed` adds
//! `target` and `rolled_back`, `PinMismatch` adds `endpoint`, `expected` and `served`,
//! `PendingValidation` adds `order_id` and `instructions`.

use certloop::{Error, ErrorKind};
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::PyList;

use crate::records::Violation;

pyo3::create_exception!(
    certloop._native,
    CertloopError,
    PyException,
    "Base of every certloop error."
);
pyo3::create_exception!(
    certloop._native,
    InvalidInput,
    CertloopError,
    "A request, file or value was malformed; `field` names it."
);
pyo3::create_exception!(
    certloop._native,
    PolicyViolation,
    CertloopError,
    "A template or profile forbids the request; `violations` lists every broken rule."
);
pyo3::create_exception!(
    certloop._native,
    NotFound,
    CertloopError,
    "The CA, template, profile or certificate does not exist."
);
pyo3::create_exception!(
    certloop._native,
    AlreadyExists,
    CertloopError,
    "An object with this id or name exists already."
);
pyo3::create_exception!(
    certloop._native,
    InvalidState,
    CertloopError,
    "The operation is not allowed in the object's current state."
);
pyo3::create_exception!(
    certloop._native,
    CaError,
    CertloopError,
    "A CA refused or failed; `retryable` says whether a later retry can help."
);
pyo3::create_exception!(
    certloop._native,
    CryptoError,
    CertloopError,
    "A signature did not verify or a key was rejected."
);
pyo3::create_exception!(certloop._native, StoreError, CertloopError, "The inventory store failed.");
pyo3::create_exception!(
    certloop._native,
    CertloopIOError,
    CertloopError,
    "A file or network operation failed; `path` names it."
);
pyo3::create_exception!(
    certloop._native,
    DeploymentFailed,
    CertloopError,
    "A deployment failed; `target` names it, `rolled_back` says whether the old files are back."
);
pyo3::create_exception!(
    certloop._native,
    PinMismatch,
    CertloopError,
    "An endpoint serves another certificate than expected; `endpoint`, `expected`, `served`."
);
pyo3::create_exception!(
    certloop._native,
    PendingValidation,
    CertloopError,
    "An ACME order waits for manual domain validation; `order_id`, `instructions`."
);
pyo3::create_exception!(
    certloop._native,
    Unsupported,
    CertloopError,
    "Not supported by this connector or build."
);

/// Register every exception class in the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("CertloopError", py.get_type::<CertloopError>())?;
    m.add("InvalidInput", py.get_type::<InvalidInput>())?;
    m.add("PolicyViolation", py.get_type::<PolicyViolation>())?;
    m.add("NotFound", py.get_type::<NotFound>())?;
    m.add("AlreadyExists", py.get_type::<AlreadyExists>())?;
    m.add("InvalidState", py.get_type::<InvalidState>())?;
    m.add("CaError", py.get_type::<CaError>())?;
    m.add("CryptoError", py.get_type::<CryptoError>())?;
    m.add("StoreError", py.get_type::<StoreError>())?;
    m.add("CertloopIOError", py.get_type::<CertloopIOError>())?;
    m.add("DeploymentFailed", py.get_type::<DeploymentFailed>())?;
    m.add("PinMismatch", py.get_type::<PinMismatch>())?;
    m.add("PendingValidation", py.get_type::<PendingValidation>())?;
    m.add("Unsupported", py.get_type::<Unsupported>())?;
    Ok(())
}

/// The Python exception for a certloop error, with its attributes set.
pub fn to_py(py: Python<'_>, error: Error) -> PyErr {
    let message = error.to_string();
    let kind = error.kind();
    let err = match kind {
        ErrorKind::InvalidInput => InvalidInput::new_err(message),
        ErrorKind::PolicyViolation => PolicyViolation::new_err(message),
        ErrorKind::NotFound => NotFound::new_err(message),
        ErrorKind::AlreadyExists => AlreadyExists::new_err(message),
        ErrorKind::InvalidState => InvalidState::new_err(message),
        ErrorKind::Ca => CaError::new_err(message),
        ErrorKind::Crypto => CryptoError::new_err(message),
        ErrorKind::Store => StoreError::new_err(message),
        ErrorKind::Io => CertloopIOError::new_err(message),
        ErrorKind::Deployment => DeploymentFailed::new_err(message),
        ErrorKind::PinMismatch => PinMismatch::new_err(message),
        ErrorKind::PendingValidation => PendingValidation::new_err(message),
        _ => Unsupported::new_err(message),
    };
    if let Err(e) = annotate(py, &err, &error) {
        return e;
    }
    err
}

/// Set `code`, `retryable` and the kind's own attributes on the exception instance.
fn annotate(py: Python<'_>, err: &PyErr, error: &Error) -> PyResult<()> {
    let value = err.value(py);
    value.setattr("code", error.kind().code())?;
    value.setattr("retryable", error.is_retryable())?;
    match error {
        Error::InvalidInput { field, .. } => value.setattr("field", field)?,
        Error::PolicyViolation { violations } => {
            let list = PyList::empty(py);
            for v in violations {
                list.append(Py::new(py, Violation(v.clone()))?)?;
            }
            value.setattr("violations", list)?;
        }
        Error::NotFound { what, id } | Error::AlreadyExists { what, id } => {
            value.setattr("what", *what)?;
            value.setattr("id", id)?;
        }
        Error::Io { path, .. } => value.setattr("path", path)?,
        Error::Deployment { target, rolled_back, .. } => {
            value.setattr("target", target)?;
            value.setattr("rolled_back", *rolled_back)?;
        }
        Error::PinMismatch { endpoint, expected, served } => {
            value.setattr("endpoint", endpoint)?;
            value.setattr("expected", expected)?;
            value.setattr("served", served)?;
        }
        Error::PendingValidation { order_id, instructions } => {
            value.setattr("order_id", order_id)?;
            value.setattr("instructions", instructions)?;
        }
        _ => {}
    }
    if error.kind() == ErrorKind::Ca {
        // Script CAs and registered callables: the Python exception type and traceback,
        // already redacted by the core; None for other CA errors.
        let (exception, traceback) = match error {
            Error::Script { exception, traceback, .. } => (exception.clone(), traceback.clone()),
            _ => (None, None),
        };
        value.setattr("exception", exception)?;
        value.setattr("traceback", traceback)?;
    }
    Ok(())
}

/// An `InvalidInput` naming `field`, for errors found while converting Python values.
pub fn invalid(py: Python<'_>, field: impl Into<String>, message: impl Into<String>) -> PyErr {
    to_py(py, Error::invalid(field, message))
}

/// Converts `certloop::Result` into `PyResult` (needs the GIL to build the exception).
pub trait IntoPyResult<T> {
    /// The value, or the mapped exception.
    fn py_err(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> IntoPyResult<T> for certloop::Result<T> {
    fn py_err(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| to_py(py, e))
    }
}

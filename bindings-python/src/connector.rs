//! A Python callable as a CA connector (`Certloop.register_ca`).
//!
//! `function(csr_pem, common_name, args_dict)` follows the `certificate_request()` contract of
//! script CAs. The core's [`ScriptContract`] gives it its arguments, checks what it returns
//! (the CSR's key, the approved names and validity, the chain) and builds its errors with the
//! sensitive values redacted; this file only calls Python and converts. Policy was applied by
//! the façade before the connector sees an order, as for every connector.
//!
//! Threading: `issue` moves the call to one of tokio's blocking threads and takes the GIL
//! there (`Python::attach`), so it never blocks an async worker, and a callable that calls
//! back into certloop does not start a runtime inside the runtime. Coroutines run on an event
//! loop the runner owns (`certloop/_callable.py`).

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use certloop::ca::{
    CaConnector, Capabilities, CertificateOrder, ContractCall, Issued, ScriptContract,
};
use certloop::{Error, Result};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString};

/// What the contract calls the function in messages.
const FUNCTION: &str = "certificate_request";

/// A registered Python callable.
pub struct PythonCa {
    inner: Arc<Inner>,
    issuer_key: String,
}

struct Inner {
    contract: ScriptContract,
    /// `certloop._callable.Runner` wrapping the function.
    runner: Py<PyAny>,
    /// `certloop._callable.describe`.
    describe: Py<PyAny>,
}

/// Why the function gave no string.
enum Failure {
    /// It raised.
    Raised { exception: String, message: String, traceback: String, retryable: bool },
    /// It returned something that is neither a string nor `None`.
    Contract(String),
}

impl PythonCa {
    /// A connector named `name` calling `function` with `contract`'s fixed arguments;
    /// `timeout` bounds a coroutine (a plain function cannot be interrupted).
    pub fn new(
        py: Python<'_>,
        name: &str,
        function: &Bound<'_, PyAny>,
        contract: ScriptContract,
        timeout: Option<f64>,
    ) -> PyResult<Self> {
        let module = py.import("certloop._callable")?;
        let runner = module.getattr("Runner")?.call1((function, timeout))?.unbind();
        let describe = module.getattr("describe")?.unbind();
        let inner = Arc::new(Inner { contract, runner, describe });
        Ok(Self { inner, issuer_key: format!("python:{name}") })
    }
}

impl Inner {
    /// Call the function for `order` and accept its answer; log a failure (redacted) to the
    /// `certloop.ca` logger before returning it.
    fn issue(&self, order: &CertificateOrder) -> Result<Issued> {
        let call = self.contract.call_for(order)?;
        Python::attach(|py| {
            let returned = self.call(py, &call);
            let result = match returned {
                Ok(pem) => self.contract.accept(&call, pem, order, FUNCTION),
                Err(Failure::Raised { exception, message, traceback, retryable }) => Err(self
                    .contract
                    .failure(&call, Some(&exception), &message, Some(&traceback), retryable)),
                Err(Failure::Contract(message)) => {
                    let message = format!("breaks the {FUNCTION} contract: {message}");
                    Err(self.contract.failure(&call, None, &message, None, false))
                }
            };
            if let Err(e) = &result {
                log_failure(py, &e.to_string());
            }
            result
        })
    }

    /// `function(csr, common_name, args_dict)`, waited for when it is a coroutine.
    fn call(&self, py: Python<'_>, call: &ContractCall) -> Result<Option<String>, Failure> {
        let raised = |err: PyErr| self.describe(py, err);
        let args = PyDict::new(py);
        for param in &call.args {
            args.set_item(&param.name, param.value.expose()).map_err(raised)?;
        }
        let result = self
            .runner
            .bind(py)
            .call1((call.csr_pem.as_str(), call.common_name.as_str(), &args))
            .map_err(raised)?;
        if result.is_none() {
            return Ok(None);
        }
        if let Ok(text) = result.cast::<PyString>() {
            return text.to_cow().map(|s| Some(s.into_owned())).map_err(raised);
        }
        if let Ok(bytes) = result.cast::<PyBytes>() {
            return Ok(Some(String::from_utf8_lossy(bytes.as_bytes()).into_owned()));
        }
        let kind = result.get_type().name().map(|n| n.to_string()).unwrap_or_default();
        Err(Failure::Contract(format!("{FUNCTION} returned {kind}, not a PEM string")))
    }

    /// What an exception says, through `certloop._callable.describe`.
    fn describe(&self, py: Python<'_>, err: PyErr) -> Failure {
        let value = err.value(py);
        let described = self
            .describe
            .bind(py)
            .call1((value, err.traceback(py)))
            .and_then(|d| d.extract::<(String, String, String, bool)>());
        match described {
            Ok((exception, message, traceback, retryable)) => {
                Failure::Raised { exception, message, traceback, retryable }
            }
            // Describing failed (a broken __str__): say what little is safe to say.
            Err(_) => Failure::Raised {
                exception: value.get_type().name().map(|n| n.to_string()).unwrap_or_default(),
                message: "raised an exception that cannot be shown".to_owned(),
                traceback: String::new(),
                retryable: false,
            },
        }
    }
}

/// A warning on the `certloop.ca` logger; a logging failure is not the caller's problem.
fn log_failure(py: Python<'_>, message: &str) {
    let logged = py
        .import("logging")
        .and_then(|logging| logging.call_method1("getLogger", ("certloop.ca",)))
        .and_then(|logger| logger.call_method1("warning", ("%s", message)));
    if let Err(e) = logged {
        e.print(py);
    }
}

impl fmt::Debug for PythonCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The contract's Debug masks sensitive values; the function's repr is never shown.
        f.debug_struct("PythonCa")
            .field("issuer_key", &self.issuer_key)
            .field("contract", &self.inner.contract)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl CaConnector for PythonCa {
    fn issuer_key(&self) -> &str {
        &self.issuer_key
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities { requires_csr: true, can_revoke: false, can_suspend: false }
    }

    async fn issue(&self, order: &CertificateOrder) -> Result<Issued> {
        let inner = self.inner.clone();
        let order = order.clone();
        tokio::task::spawn_blocking(move || inner.issue(&order))
            .await
            .map_err(|e| Error::ca(format!("the Python connector's thread failed: {e}")))?
    }
}

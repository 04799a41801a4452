//! `inProcess` isolation: `host.py` inside the interpreter embedded through pyo3.
//!
//! Each call runs on a thread of its own that takes the GIL only while Python runs, so the
//! async runtime's workers never wait for a script. A running Python thread cannot be killed:
//! on timeout the call fails at once and the script's thread gets an asynchronous exception,
//! which stops it at its next Python instruction (a blocking C call finishes first). Profiles
//! that must be able to hard-stop a script use `process` isolation.

use std::ffi::CString;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyModule;

use super::{HOST_PY, HostFailure, HostReply, ScriptHost, ScriptSpec, parse_reply};
use crate::error::{Error, Result};

/// The `host.py` module, loaded once into the (process-wide) embedded interpreter.
static HOST_MODULE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

pub(super) struct EmbeddedHost {
    /// The `host.py` module (for `interrupt`).
    module: Arc<Py<PyModule>>,
    /// A `host.Host` for this script.
    host: Arc<Py<PyAny>>,
}

impl EmbeddedHost {
    pub(super) fn new(spec: &ScriptSpec) -> Result<Self> {
        let source = CString::new(HOST_PY)
            .map_err(|_| Error::Unsupported("the script host source holds a NUL byte".into()))?;
        let path = spec.path.display().to_string();
        Python::attach(|py| {
            // One host module per interpreter: executing it again would rebind the globals
            // (the per-thread output buffers) that calls running on other threads use.
            let module = HOST_MODULE.get_or_try_init(py, || {
                PyModule::from_code(
                    py,
                    &source,
                    c"certloop_script_host.py",
                    c"certloop_script_host",
                )
                .map(Bound::unbind)
            })?;
            let host = module.bind(py).getattr("Host")?.call1((path, spec.profile.as_str()))?;
            Ok::<_, PyErr>((module.clone_ref(py), host.unbind()))
        })
        .map(|(module, host)| Self { module: Arc::new(module), host: Arc::new(host) })
        .map_err(|e| {
            Error::Unsupported(format!("the embedded Python cannot start the script host: {e}"))
        })
    }
}

#[async_trait]
impl ScriptHost for EmbeddedHost {
    async fn call(&self, request: &str, timeout: Duration) -> Result<HostReply, HostFailure> {
        let (reply_tx, reply_rx) = tokio::sync::oneshot::channel();
        let (ident_tx, ident_rx) = std::sync::mpsc::channel::<u64>();
        let host = self.host.clone();
        let request = zeroize::Zeroizing::new(request.to_owned());
        std::thread::Builder::new()
            .name("certloop-script".into())
            .spawn(move || {
                let reply = Python::attach(|py| {
                    let ident: u64 =
                        py.import("threading")?.getattr("get_ident")?.call0()?.extract()?;
                    let _ = ident_tx.send(ident);
                    host.bind(py).call_method1("handle", (request.as_str(),))?.extract::<String>()
                });
                let _ = reply_tx.send(reply);
            })
            .map_err(|e| HostFailure::Broken(format!("cannot start a script thread: {e}")))?;
        match tokio::time::timeout(timeout, reply_rx).await {
            Ok(Ok(Ok(line))) => parse_reply(&line),
            Ok(Ok(Err(e))) => Err(HostFailure::Broken(format!("the script host failed: {e}"))),
            Ok(Err(_)) => {
                Err(HostFailure::Broken("the script thread ended without a reply".into()))
            }
            Err(_) => {
                if let Ok(ident) = ident_rx.try_recv() {
                    let module = self.module.clone();
                    // Taking the GIL may wait for the running script's next switch interval:
                    // do it off the runtime's threads.
                    let _ = std::thread::Builder::new().name("certloop-script-stop".into()).spawn(
                        move || {
                            Python::attach(|py| {
                                if let Err(e) = module.bind(py).call_method1("interrupt", (ident,))
                                {
                                    tracing::warn!("cannot interrupt a timed-out script: {e}");
                                }
                            })
                        },
                    );
                }
                Err(HostFailure::Timeout)
            }
        }
    }
}

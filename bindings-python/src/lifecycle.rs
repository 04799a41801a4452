//! Argument shapes of the managed-certificate calls that have no serde form in the core
//! (`sweep` options), and the batch's Python progress callback.

use pyo3::prelude::*;
use serde::Deserialize;

use certloop::SweepOptions;

/// `sweep` options: [`SweepOptions`] in camelCase with durations in seconds (or days), every
/// field optional with the core's defaults (the same shape as the Node binding's).
#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Sweep {
    owner: Option<String>,
    lease_seconds: Option<u32>,
    chunk: Option<u32>,
    concurrency: Option<usize>,
    max_attempts: Option<u32>,
    retry_base_seconds: Option<u32>,
    expiry_warning_days: Option<u32>,
}

impl From<Sweep> for SweepOptions {
    fn from(sweep: Sweep) -> Self {
        let default = SweepOptions::default();
        let seconds = |s: Option<u32>, or: time::Duration| {
            s.map_or(or, |s| time::Duration::seconds(s.into()))
        };
        SweepOptions {
            owner: sweep.owner.unwrap_or(default.owner),
            lease: seconds(sweep.lease_seconds, default.lease),
            chunk: sweep.chunk.unwrap_or(default.chunk),
            concurrency: sweep.concurrency.unwrap_or(default.concurrency),
            max_attempts: sweep.max_attempts.unwrap_or(default.max_attempts),
            retry_base: seconds(sweep.retry_base_seconds, default.retry_base),
            expiry_warning: sweep
                .expiry_warning_days
                .map_or(default.expiry_warning, |d| time::Duration::days(d.into())),
        }
    }
}

/// A batch's `progress(done, total)` callable.
///
/// The batch runs with the GIL released on the calling thread (the module's current-thread
/// runtime), so each report takes the GIL back for the call. An exception raised by the
/// callable does not stop the batch: it is reported through `sys.unraisablehook`, the way
/// Python reports errors in callbacks it cannot propagate.
pub struct Progress {
    callback: Py<PyAny>,
}

impl Progress {
    /// The callable, or `None` when `progress` is `None`; anything else is refused.
    pub fn from_py(progress: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Self>> {
        match progress {
            None => Ok(None),
            Some(p) if p.is_none() => Ok(None),
            Some(p) if p.is_callable() => Ok(Some(Self { callback: p.clone().unbind() })),
            Some(p) => Err(crate::errors::invalid(
                p.py(),
                "progress",
                "must be callable: progress(done, total), or None",
            )),
        }
    }

    /// Call `progress(done, total)` with the GIL held: `(1, n)` ... `(n, n)`, one call per
    /// finished item (the core's rule).
    pub fn report(&self, done: usize, total: usize) {
        Python::attach(|py| {
            let callback = self.callback.bind(py);
            if let Err(e) = callback.call1((done, total)) {
                e.write_unraisable(py, Some(callback));
            }
        });
    }
}

//! The batch's Python progress callback (the `sweep` options are the core's
//! [`certloop::wire::Sweep`]).

use pyo3::prelude::*;

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

//! Running certloop work off the JavaScript thread, and reading JavaScript arguments.
//!
//! Every Promise-returning function hands a [`Work`] to `AsyncTask`: libuv runs it on its
//! thread pool (crypto, SQLite and CA calls never block the event loop), and a failure rejects
//! the Promise with the JavaScript error of [`crate::errors`]. Arguments arrive as JavaScript
//! values and are converted here, so that a wrong type becomes an `INVALID_INPUT` error naming
//! the argument instead of a crash.

use std::future::Future;
use std::pin::Pin;

use napi::bindgen_prelude::{AsyncTask, Unknown};
use napi::{Env, ScopedTask, ValueType};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::errors;

type Job<T> = Pin<Box<dyn Future<Output = certloop::Result<T>> + Send>>;

type ToJs = Box<dyn for<'env> FnOnce(&'env Env) -> napi::Result<Unknown<'env>> + Send>;

/// What a finished operation resolves to, converted on the JavaScript thread.
pub struct Reply(ToJs);

impl Reply {
    /// Any serde type, converted straight to a plain JavaScript object (camelCase, as
    /// serialized; no intermediate JSON text, so a returned key is not copied around).
    pub fn json<T: Serialize + Send + 'static>(value: T) -> Self {
        Self(Box::new(move |env| env.to_js_value(&value)))
    }

    /// A value that needs the environment to become JavaScript (class instances).
    pub fn with(convert: ToJs) -> Self {
        Self(convert)
    }
}

/// A Promise of a [`Reply`]: what every asynchronous function of the package returns.
pub type Pending = AsyncTask<Work>;

/// One asynchronous certloop operation; resolves to its [`Reply`] or rejects with a certloop
/// error.
pub struct Work {
    job: Option<Job<Reply>>,
    failure: Option<certloop::Error>,
}

impl Work {
    /// Run `job` on the thread pool; its result becomes a plain object.
    pub fn run<T, F>(job: F) -> Pending
    where
        T: Serialize + Send + 'static,
        F: Future<Output = certloop::Result<T>> + Send + 'static,
    {
        Self::reply(async move { job.await.map(Reply::json) })
    }

    /// Run `job` on the thread pool.
    pub fn reply(job: impl Future<Output = certloop::Result<Reply>> + Send + 'static) -> Pending {
        AsyncTask::new(Self { job: Some(Box::pin(job)), failure: None })
    }

    /// Run `job` with the converted arguments, or reject at once when they did not convert.
    pub fn with<A, T, F>(args: certloop::Result<A>, job: impl FnOnce(A) -> F) -> Pending
    where
        T: Serialize + Send + 'static,
        F: Future<Output = certloop::Result<T>> + Send + 'static,
    {
        match args {
            Ok(args) => Self::run(job(args)),
            Err(e) => Self::failed(e),
        }
    }

    /// A Promise that rejects with `error`.
    pub fn failed(error: certloop::Error) -> Pending {
        AsyncTask::new(Self { job: None, failure: Some(error) })
    }
}

impl<'task> ScopedTask<'task> for Work {
    type Output = Reply;
    type JsValue = Unknown<'task>;

    fn compute(&mut self) -> napi::Result<Reply> {
        let Some(job) = self.job.take() else {
            // Arguments were rejected in `Work::with`; `reject` reports that error.
            return Err(napi::Error::from_reason("invalid arguments"));
        };
        match block_on(job) {
            Ok(value) => Ok(value),
            Err(e) => {
                let reason = e.to_string();
                self.failure = Some(e);
                Err(napi::Error::from_reason(reason))
            }
        }
    }

    fn resolve(&mut self, env: &'task Env, output: Reply) -> napi::Result<Unknown<'task>> {
        (output.0)(env)
    }

    fn reject(&mut self, env: &'task Env, error: napi::Error) -> napi::Result<Unknown<'task>> {
        match self.failure.take() {
            Some(failure) => Err(errors::to_js(env, &failure)),
            None => Err(error),
        }
    }
}

/// Drive `job` to completion on this thread-pool thread's own current-thread runtime.
///
/// certloop's futures do their work inline (the SQLite store runs statements on the calling
/// task), so a small runtime per libuv worker is enough and keeps every worker independent.
/// It has the I/O and time drivers: deployments run commands and pinning checks have
/// timeouts. A panic must not cross the libuv callback (that aborts Node): it becomes an
/// error instead.
fn block_on<T>(job: Job<T>) -> certloop::Result<T> {
    thread_local! {
        static RUNTIME: std::io::Result<tokio::runtime::Runtime> =
            tokio::runtime::Builder::new_current_thread().enable_all().build();
    }
    RUNTIME.with(|runtime| match runtime {
        Ok(runtime) => {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| runtime.block_on(job)))
                .unwrap_or_else(|_| {
                    Err(certloop::Error::io(
                        "certloop-node worker",
                        "the operation panicked (a bug: please report it)",
                    ))
                })
        }
        Err(e) => Err(certloop::Error::io("tokio runtime", e)),
    })
}

/// A required argument of any serde type (objects go through JSON for serde's messages).
pub fn required<T: DeserializeOwned>(
    env: &Env,
    value: Unknown<'_>,
    name: &str,
) -> certloop::Result<T> {
    optional(env, value, name)?.ok_or_else(|| certloop::Error::invalid(name, "is required"))
}

/// An optional argument: `undefined` and `null` are `None`.
pub fn optional<T: DeserializeOwned>(
    env: &Env,
    value: Unknown<'_>,
    name: &str,
) -> certloop::Result<Option<T>> {
    let kind = value
        .get_type()
        .map_err(|e| certloop::Error::invalid(name, format!("unreadable value: {e}")))?;
    if matches!(kind, ValueType::Undefined | ValueType::Null) {
        return Ok(None);
    }
    if matches!(kind, ValueType::Function | ValueType::Symbol | ValueType::External) {
        return Err(certloop::Error::invalid(
            name,
            format!("expected data, got a {}", kind_name(kind)),
        ));
    }
    let json: serde_json::Value =
        env.from_js_value(value).map_err(|e| certloop::Error::invalid(name, e.reason.clone()))?;
    // The core's reading names the field path and never repeats the offending value, the
    // same for every binding.
    certloop::wire::from_value(json, name).map(Some)
}

/// A required string argument (ids, names, PEM text).
pub fn string(value: Unknown<'_>, name: &str) -> certloop::Result<String> {
    match value.get_type() {
        Ok(ValueType::String) => napi::bindgen_prelude::FromNapiValue::from_unknown(value)
            .map_err(|e: napi::Error| certloop::Error::invalid(name, e.reason.clone())),
        Ok(kind) => Err(certloop::Error::invalid(
            name,
            format!("expected a string, got {}", kind_name(kind)),
        )),
        Err(e) => Err(certloop::Error::invalid(name, format!("unreadable value: {e}"))),
    }
}

/// `typeof`-style name of a JavaScript value type.
fn kind_name(kind: ValueType) -> String {
    kind.to_string().to_ascii_lowercase()
}

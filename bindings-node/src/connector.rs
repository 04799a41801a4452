//! A JavaScript function as a CA connector (`Certloop.registerCa`).
//!
//! `fn(csr, commonName, args)` follows the `certificate_request()` contract of script CAs and
//! returns the PEM certificate (optionally followed by its chain), or a Promise of it. The
//! core's [`ScriptContract`] gives it its arguments, checks what it returns (the CSR's key, the
//! approved names and validity, the chain) and builds its errors with the sensitive values
//! redacted; this file only calls JavaScript and converts.
//!
//! Threading: the connector runs on the libuv worker of the `issue` that needs it. It queues
//! the call on the main thread through a `ThreadsafeFunction` (weak: a registered connector
//! does not keep the process alive) and awaits the answer, and the Promise's settlement when
//! it returns one, for at most the timeout. The main thread is never blocked by it.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use certloop::ca::{
    CaConnector, Capabilities, CertificateOrder, ContractCall, Issued, ScriptContract,
};
use certloop::policy::ScriptParam;
use certloop::{Error, Result};
use napi::bindgen_prelude::{FnArgs, FromNapiValue, Function, JsValue, Promise, Unknown};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Env, Status, ValueType};
use napi_derive::napi;
use serde::Deserialize;

use crate::task;
use crate::{Certloop, errors};

/// What the contract calls the function in messages.
const FUNCTION: &str = "certificate_request";

/// `(csr, commonName, args)`, spread into three arguments.
type CaArgs = FnArgs<(String, String, HashMap<String, String>)>;

type CaFunction = ThreadsafeFunction<CaArgs, Unknown<'static>, CaArgs, Status, false, true>;

/// How long a call may take unless `timeoutSeconds` says otherwise.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// `registerCa` options.
#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RegisterOptions {
    /// `args` entries in a script profile's shape (fixed values only).
    #[serde(default)]
    params: Vec<ScriptParam>,
    /// Bound on one call and the Promise it returns.
    timeout_seconds: Option<f64>,
}

#[napi]
impl Certloop {
    /// Register `fn(csr, commonName, args)` as CA connector `name`, for profiles whose issuer
    /// is `{ type: 'connector', name }`. It follows the `certificate_request()` contract of
    /// script CAs: it returns (or resolves to) the PEM certificate, optionally followed by its
    /// chain. `params` are its `args` entries (`{ name, value, sensitive }`); a sensitive value
    /// never appears in an error. Each call is bounded by `timeoutSeconds` (default 30).
    #[napi(
        ts_args_type = "name: string, fn: (csr: string, commonName: string, args: Record<string, string>) => string | null | Promise<string | null>, options?: { params?: ScriptParam[]; timeoutSeconds?: number }"
    )]
    pub fn register_ca(
        &self,
        env: Env,
        name: Unknown<'_>,
        function: Unknown<'_>,
        options: Unknown<'_>,
    ) -> napi::Result<()> {
        self.register(&env, name, function, options).map_err(|e| errors::to_js(&env, &e))
    }

    fn register(
        &self,
        env: &Env,
        name: Unknown<'_>,
        function: Unknown<'_>,
        options: Unknown<'_>,
    ) -> Result<()> {
        let name = task::string(name, "name")?;
        if !matches!(function.get_type(), Ok(ValueType::Function)) {
            return Err(Error::invalid("fn", "must be a function: fn(csr, commonName, args)"));
        }
        let options =
            task::optional::<RegisterOptions>(env, options, "options")?.unwrap_or_default();
        let timeout = match options.timeout_seconds {
            None => DEFAULT_TIMEOUT,
            Some(t) if t.is_finite() && t > 0.0 && t <= 3600.0 => Duration::from_secs_f64(t),
            Some(_) => {
                return Err(Error::invalid(
                    "options.timeoutSeconds",
                    "must be a number of seconds above 0, at most 3600",
                ));
            }
        };
        let contract = ScriptContract::new(&name, options.params, "options.params")?;
        let function: Function<'_, CaArgs, Unknown<'static>> =
            FromNapiValue::from_unknown(function)
                .map_err(|e: napi::Error| Error::invalid("fn", e.reason.clone()))?;
        let connector = NodeCa::new(&name, function, contract, timeout)
            .map_err(|e| Error::invalid("fn", e.reason.clone()))?;
        self.inner.register_connector(&name, Arc::new(connector))
    }
}

/// A registered JavaScript function.
pub struct NodeCa {
    contract: ScriptContract,
    function: CaFunction,
    timeout: Duration,
    issuer_key: String,
}

/// What the function gave back, read on the main thread.
enum Answer {
    /// A string, or `null`/`undefined` (the contract's "no certificate").
    Value(Option<String>),
    /// A Promise, awaited on the worker.
    Pending(Promise<Option<String>>),
    /// It threw.
    Threw(String),
    /// Something else (its `typeof`).
    Other(String),
}

impl NodeCa {
    /// A connector named `name` calling `function` with `contract`'s fixed arguments, each
    /// call (and the Promise it returns) bounded by `timeout`.
    pub fn new(
        name: &str,
        function: Function<'_, CaArgs, Unknown<'static>>,
        contract: ScriptContract,
        timeout: Duration,
    ) -> napi::Result<Self> {
        let function = function
            .build_threadsafe_function::<CaArgs>()
            .callee_handled::<false>()
            .weak::<true>()
            .build()?;
        Ok(Self { contract, function, timeout, issuer_key: format!("node:{name}") })
    }

    /// Queue the call on the main thread and wait (bounded) for its answer.
    async fn call(&self, call: &ContractCall) -> Result<Option<String>> {
        let args: HashMap<String, String> =
            call.args.iter().map(|p| (p.name.clone(), p.value.expose().to_owned())).collect();
        let (sender, receiver) = tokio::sync::oneshot::channel::<Answer>();
        let status = self.function.call_with_return_value(
            FnArgs::from((call.csr_pem.clone(), call.common_name.clone(), args)),
            ThreadsafeFunctionCallMode::NonBlocking,
            move |returned, _env| {
                let answer = match returned {
                    Ok(value) => read_answer(value),
                    Err(thrown) => Answer::Threw(thrown.reason.clone()),
                };
                // The worker may have given up waiting (timeout): nothing to do then.
                let _ = sender.send(answer);
                Ok(())
            },
        );
        if status != Status::Ok {
            return Err(self.failed(call, &format!("could not be called ({status})"), true));
        }
        let answer = tokio::time::timeout(self.timeout, async {
            match receiver.await {
                Ok(Answer::Pending(promise)) => match promise.await {
                    Ok(value) => Answer::Value(value),
                    Err(rejected) => Answer::Threw(rejected.reason.clone()),
                },
                Ok(answer) => answer,
                Err(_) => Answer::Threw("the call was dropped (Node.js is shutting down)".into()),
            }
        })
        .await
        .map_err(|_| {
            let message = format!("did not answer within {} s", self.timeout.as_secs_f64());
            self.failed(call, &message, true)
        })?;
        match answer {
            Answer::Value(value) => Ok(value),
            Answer::Threw(message) => Err(self.failed(call, &format!("threw: {message}"), false)),
            Answer::Other(kind) => {
                let message =
                    format!("breaks the {FUNCTION} contract: returned {kind}, not a PEM string");
                Err(self.contract.failure(call, None, &message, None, false))
            }
            Answer::Pending(_) => Err(self.failed(call, "returned a Promise of a Promise", false)),
        }
    }

    fn failed(&self, call: &ContractCall, message: &str, retryable: bool) -> Error {
        self.contract.failure(call, None, message, None, retryable)
    }
}

/// Classify what the function returned (on the main thread, while the value is alive).
fn read_answer(value: Unknown<'_>) -> Answer {
    let kind = match value.get_type() {
        Ok(kind) => kind,
        Err(e) => return Answer::Other(format!("an unreadable value ({e})")),
    };
    match kind {
        ValueType::Undefined | ValueType::Null => Answer::Value(None),
        ValueType::String => match String::from_unknown(value) {
            Ok(text) => Answer::Value(Some(text)),
            Err(e) => Answer::Other(format!("an unreadable string ({e})")),
        },
        ValueType::Object if value.is_promise().unwrap_or(false) => {
            match Promise::<Option<String>>::from_unknown(value) {
                Ok(promise) => Answer::Pending(promise),
                Err(e) => Answer::Other(format!("an unusable Promise ({e})")),
            }
        }
        other => Answer::Other(other.to_string().to_ascii_lowercase()),
    }
}

impl fmt::Debug for NodeCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The contract's Debug masks sensitive values; the function is never shown.
        f.debug_struct("NodeCa")
            .field("issuer_key", &self.issuer_key)
            .field("contract", &self.contract)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl CaConnector for NodeCa {
    fn issuer_key(&self) -> &str {
        &self.issuer_key
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities { requires_csr: true, can_revoke: false, can_suspend: false }
    }

    async fn issue(&self, order: &CertificateOrder) -> Result<Issued> {
        let call = self.contract.call_for(order)?;
        let returned = self.call(&call).await?;
        self.contract.accept(&call, returned, order, FUNCTION)
    }
}

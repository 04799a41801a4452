//! Managed certificates on `Certloop`: manage, list, bulk configure, actions, batches and
//! the agent's sweep.
//!
//! Conversion only, as everywhere in this crate. The one piece of threading is the batch's
//! progress callback: a JavaScript function wrapped in a `ThreadsafeFunction` and called from
//! the libuv worker that runs the batch (see [`Progress`]).

use std::sync::mpsc;
use std::time::Duration;

use certloop::lifecycle::managed::ConfigPatch;
use certloop::store::ManagedQuery;
use certloop::wire::Sweep;
use certloop::{Action, BatchOptions, ManageRequest};
use napi::bindgen_prelude::{FnArgs, Function, Unknown};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Env, Status, ValueType};
use napi_derive::napi;
use time::format_description::well_known::Rfc3339;

use crate::Certloop;
use crate::task::{self, Pending};

#[napi]
impl Certloop {
    /// Put one certificate under management (the *initiate* action).
    #[napi(ts_args_type = "request: ManageRequest", ts_return_type = "Promise<ManagedCertificate>")]
    pub fn manage(&self, env: Env, request: Unknown<'_>) -> Pending {
        let request = task::required::<ManageRequest>(&env, request, "request");
        self.run_with(request, |cl, request| async move { cl.manage(request).await })
    }

    /// Put many certificates under management, all or none (an error names the item).
    #[napi(
        ts_args_type = "requests: ManageRequest[]",
        ts_return_type = "Promise<ManagedCertificate[]>"
    )]
    pub fn manage_many(&self, env: Env, requests: Unknown<'_>) -> Pending {
        let requests = task::required::<Vec<ManageRequest>>(&env, requests, "requests");
        self.run_with(requests, |cl, requests| async move { cl.manage_many(requests).await })
    }

    /// One managed certificate by id or name.
    #[napi(ts_args_type = "idOrName: string", ts_return_type = "Promise<ManagedCertificate>")]
    pub fn get_managed(&self, id_or_name: Unknown<'_>) -> Pending {
        let id = task::string(id_or_name, "idOrName");
        self.run_with(id, |cl, id| async move { cl.managed(&id).await })
    }

    /// Managed certificates matching `query` (every one that is not deleted by default).
    #[napi(ts_args_type = "query?: ManagedQuery", ts_return_type = "Promise<ManagedCertificate[]>")]
    pub fn list_managed(&self, env: Env, query: Unknown<'_>) -> Pending {
        let query = task::optional::<ManagedQuery>(&env, query, "query");
        self.run_with(query, |cl, query| async move {
            cl.list_managed(&query.unwrap_or_default()).await
        })
    }

    /// Bulk configure: apply `patch` to every one of `ids` (ids or names), all or none.
    #[napi(
        ts_args_type = "ids: string[], patch: ConfigPatch",
        ts_return_type = "Promise<ManagedCertificate[]>"
    )]
    pub fn bulk_configure(&self, env: Env, ids: Unknown<'_>, patch: Unknown<'_>) -> Pending {
        let args = task::required::<Vec<String>>(&env, ids, "ids")
            .and_then(|ids| Ok((ids, task::required::<ConfigPatch>(&env, patch, "patch")?)));
        self.run_with(args, |cl, (ids, patch)| async move { cl.bulk_configure(&ids, &patch).await })
    }

    /// Run one action (`{ action: 'rotate' }`, ...) on a managed certificate; rejects when the
    /// action failed.
    #[napi(
        ts_args_type = "idOrName: string, action: ManagedAction",
        ts_return_type = "Promise<ActionResult>"
    )]
    pub fn act(&self, env: Env, id_or_name: Unknown<'_>, action: Unknown<'_>) -> Pending {
        let args = task::string(id_or_name, "idOrName")
            .and_then(|id| Ok((id, task::required::<Action>(&env, action, "action")?)));
        self.run_with(args, |cl, (id, action)| async move { cl.act(&id, action).await })
    }

    /// One sweep of the agent: claim what is due now, renew and deploy it (inside its
    /// windows), release it. `certloop agent` runs this at every due time.
    #[napi(ts_args_type = "options?: SweepOptions", ts_return_type = "Promise<SweepReport>")]
    pub fn sweep(&self, env: Env, options: Unknown<'_>) -> Pending {
        let options = task::optional::<Sweep>(&env, options, "options");
        self.run_with(options, |cl, options| async move {
            cl.sweep(&options.unwrap_or_default().into()).await
        })
    }

    /// When a sweep next has work: the earliest due schedule, or `null`.
    #[napi(ts_return_type = "Promise<Timestamp | null>")]
    pub fn next_due_at(&self) -> Pending {
        self.run(|cl| async move {
            match cl.next_due_at().await? {
                Some(at) => at
                    .format(&Rfc3339)
                    .map(Some)
                    .map_err(|e| certloop::Error::store(format!("a due time: {e}"))),
                None => Ok(None),
            }
        })
    }

    /// Run `action` on every one of `ids` with bounded concurrency; each item has its own
    /// result, so one failure does not reject the Promise. `progress(done, total)` is called
    /// after each item, every call before the Promise settles; an exception it throws is
    /// ignored.
    #[napi(
        ts_args_type = "ids: string[], action: ManagedAction, options?: BatchOptions | null, progress?: (done: number, total: number) => void",
        ts_return_type = "Promise<BatchReport>"
    )]
    pub fn batch(
        &self,
        env: Env,
        ids: Unknown<'_>,
        action: Unknown<'_>,
        options: Unknown<'_>,
        progress: Unknown<'_>,
    ) -> Pending {
        let args = task::required::<Vec<String>>(&env, ids, "ids").and_then(|ids| {
            let action = task::required::<Action>(&env, action, "action")?;
            let options = task::optional::<BatchOptions>(&env, options, "options")?;
            let progress = Progress::from_js(progress, "progress")?;
            Ok((ids, action, options.unwrap_or_default(), progress))
        });
        self.run_with(args, |cl, (ids, action, options, progress)| async move {
            cl.batch(&ids, action, options, |done, total| {
                if let Some(progress) = &progress {
                    progress.report(done, total);
                }
            })
            .await
        })
    }
}

/// The JavaScript `(done, total) => void` of a batch, callable from the worker thread.
///
/// Each report waits until the main thread has run the callback (bounded by
/// [`Progress::WAIT`]), so every call happens before the batch's Promise settles and a test
/// can count them right after `await`. A worker cannot deadlock on it: the main thread is not
/// waiting for the worker while it runs the event loop, and if the environment shuts down the
/// queued call is dropped, which ends the wait.
pub struct Progress {
    /// `FnArgs`: the tuple is spread into two arguments, not passed as one array.
    callback: ThreadsafeFunction<ProgressArgs, Unknown<'static>, ProgressArgs, Status, false>,
}

type ProgressArgs = FnArgs<(u32, u32)>;

impl Progress {
    /// The longest a worker waits for one progress call to run.
    const WAIT: Duration = Duration::from_secs(30);

    /// The callback in argument `name`, or `None` when it is `undefined` or `null`.
    fn from_js(value: Unknown<'_>, name: &str) -> certloop::Result<Option<Self>> {
        let kind = value
            .get_type()
            .map_err(|e| certloop::Error::invalid(name, format!("unreadable value: {e}")))?;
        match kind {
            ValueType::Undefined | ValueType::Null => return Ok(None),
            ValueType::Function => {}
            other => {
                return Err(certloop::Error::invalid(
                    name,
                    format!("expected a function, got {}", other.to_string().to_ascii_lowercase()),
                ));
            }
        }
        let function: Function<'_, ProgressArgs, Unknown<'static>> =
            napi::bindgen_prelude::FromNapiValue::from_unknown(value)
                .map_err(|e: napi::Error| certloop::Error::invalid(name, e.reason.clone()))?;
        let callback = function
            .build_threadsafe_function::<ProgressArgs>()
            .callee_handled::<false>()
            .build()
            .map_err(|e| certloop::Error::invalid(name, e.reason.clone()))?;
        Ok(Some(Self { callback }))
    }

    /// Call the JavaScript callback with `(done, total)` and wait until it has run.
    fn report(&self, done: usize, total: usize) {
        let clamp = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        let (ran, wait) = mpsc::sync_channel::<()>(1);
        let status = self.callback.call_with_return_value(
            FnArgs::from((clamp(done), clamp(total))),
            ThreadsafeFunctionCallMode::NonBlocking,
            move |_returned, _env| {
                // Whatever the callback returned or threw, it has run; the receiver may have
                // stopped waiting, which is fine.
                let _ = ran.try_send(());
                Ok(())
            },
        );
        if status == Status::Ok {
            let _ = wait.recv_timeout(Self::WAIT);
        }
    }
}

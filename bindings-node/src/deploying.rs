//! Keystores, deployment targets, deployments and pinning checks on `Certloop`.
//!
//! Conversion only: each method reads its arguments in the camelCase wire shape of the core
//! type (`DeployTarget`, `KeystoreSpec`, ...) and resolves to the core's own result, serialized
//! the same way. Passwords arrive in a target or keystore spec and never come back: targets
//! are returned redacted by the core, `writeKeystore` returns the paths it wrote.

use std::path::PathBuf;

use certloop::deploy::DeployTarget;
use certloop::keystore::{DEFAULT_KEEP_VERSIONS, KeystoreSpec};
use certloop::model::IssuedCertificate;
use napi::Env;
use napi::bindgen_prelude::Unknown;
use napi_derive::napi;

use crate::Certloop;
use crate::task::{self, Pending};

#[napi]
impl Certloop {
    // ---- keystores ---------------------------------------------------------------------------

    /// Write a just-issued certificate (from `issue`, with its generated `privateKey` for the
    /// key files) as `spec` says, keeping `keep` previous versions of each file (default 3).
    /// Resolves to the paths written.
    #[napi(
        ts_args_type = "issued: IssuedCertificate, spec: KeystoreSpec, keep?: number",
        ts_return_type = "Promise<string[]>"
    )]
    pub fn write_keystore(
        &self,
        env: Env,
        issued: Unknown<'_>,
        spec: Unknown<'_>,
        keep: Unknown<'_>,
    ) -> Pending {
        let args = task::required::<IssuedCertificate>(&env, issued, "issued").and_then(|issued| {
            let spec = task::required::<KeystoreSpec>(&env, spec, "spec")?;
            let keep = task::optional::<usize>(&env, keep, "keep")?;
            Ok((issued, spec, keep.unwrap_or(DEFAULT_KEEP_VERSIONS)))
        });
        self.run_with(args, |cl, (issued, spec, keep)| async move {
            let written = cl.write_keystore(&issued, &spec, keep).await?;
            Ok::<Vec<PathBuf>, _>(written.paths())
        })
    }

    // ---- deployment targets ------------------------------------------------------------------

    /// Create or replace (by name) a deployment target; resolves to it with passwords redacted.
    #[napi(ts_args_type = "target: DeployTarget", ts_return_type = "Promise<DeployTarget>")]
    pub fn save_target(&self, env: Env, target: Unknown<'_>) -> Pending {
        let target = task::required::<DeployTarget>(&env, target, "target");
        self.run_with(target, |cl, target| async move { cl.save_target(target).await })
    }

    /// Every deployment target, passwords redacted.
    #[napi(ts_return_type = "Promise<DeployTarget[]>")]
    pub fn list_targets(&self) -> Pending {
        self.run(|cl| async move { cl.list_targets().await })
    }

    /// One deployment target by name or id, passwords redacted.
    #[napi(ts_args_type = "nameOrId: string", ts_return_type = "Promise<DeployTarget>")]
    pub fn get_target(&self, name_or_id: Unknown<'_>) -> Pending {
        let name = task::string(name_or_id, "nameOrId");
        self.run_with(name, |cl, name| async move { cl.target(&name).await })
    }

    /// Remove a deployment target.
    #[napi(ts_args_type = "nameOrId: string", ts_return_type = "Promise<void>")]
    pub fn remove_target(&self, name_or_id: Unknown<'_>) -> Pending {
        let name = task::string(name_or_id, "nameOrId");
        self.run_with(name, |cl, name| async move { cl.remove_target(&name).await })
    }

    // ---- deployment and pinning --------------------------------------------------------------

    /// Deploy certificate `id` (issued with `manageKey`) to target `target`; `rollback`
    /// overrides the target's setting. A failed deployment rejects with `DEPLOYMENT_FAILED`
    /// (`rolledBack` says whether the previous files are back).
    #[napi(
        ts_args_type = "id: string, target: string, rollback?: boolean",
        ts_return_type = "Promise<DeployReport>"
    )]
    pub fn deploy(
        &self,
        env: Env,
        id: Unknown<'_>,
        target: Unknown<'_>,
        rollback: Unknown<'_>,
    ) -> Pending {
        let args = deploy_args(&env, id, target, rollback);
        self.run_with(args, |cl, (id, target, rollback)| async move {
            cl.deploy(&id, &target, rollback).await
        })
    }

    /// Like `deploy`, resolving to the report also when the deployment failed (`success:
    /// false`, the failed step, whether it was rolled back).
    #[napi(
        ts_args_type = "id: string, target: string, rollback?: boolean",
        ts_return_type = "Promise<DeployReport>"
    )]
    pub fn deploy_with_report(
        &self,
        env: Env,
        id: Unknown<'_>,
        target: Unknown<'_>,
        rollback: Unknown<'_>,
    ) -> Pending {
        let args = deploy_args(&env, id, target, rollback);
        self.run_with(args, |cl, (id, target, rollback)| async move {
            cl.deploy_with_report(&id, &target, rollback).await
        })
    }

    /// Check what `endpoint` (`host:port`) serves against certificate `id`. A mismatch is not
    /// an error: the result says `matches: false` with both fingerprints.
    #[napi(
        ts_args_type = "id: string, endpoint: string, serverName?: string",
        ts_return_type = "Promise<PinCheck>"
    )]
    pub fn pin_check(
        &self,
        env: Env,
        id: Unknown<'_>,
        endpoint: Unknown<'_>,
        server_name: Unknown<'_>,
    ) -> Pending {
        let args = task::string(id, "id").and_then(|id| {
            let endpoint = task::string(endpoint, "endpoint")?;
            let server_name = task::optional::<String>(&env, server_name, "serverName")?;
            Ok((id, endpoint, server_name))
        });
        self.run_with(args, |cl, (id, endpoint, server_name)| async move {
            cl.pin_check(&id, &endpoint, server_name.as_deref()).await
        })
    }
}

/// The arguments of `deploy` and `deployWithReport`.
fn deploy_args(
    env: &Env,
    id: Unknown<'_>,
    target: Unknown<'_>,
    rollback: Unknown<'_>,
) -> certloop::Result<(String, String, Option<bool>)> {
    let id = task::string(id, "id")?;
    let target = task::string(target, "target")?;
    let rollback = task::optional::<bool>(env, rollback, "rollback")?;
    Ok((id, target, rollback))
}

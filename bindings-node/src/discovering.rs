//! Discovery on `Certloop`: scan files, TLS endpoints or this host's running servers, record
//! the findings in the inventory, and rediscover (drift).
//!
//! The option objects are the core's wire shapes ([`certloop::wire::FileScan`] and its
//! siblings), every field optional but the roots or targets, with the core's defaults. A scan
//! and its recording are the same two calls `certloop discover` makes; the scan itself is
//! blocking I/O and runs on the libuv worker like everything else.

use certloop::discovery::files::scan_files;
use certloop::discovery::network::scan_network;
use certloop::discovery::servers::scan_host;
use certloop::wire::{FileScan, HostScan, NetworkScan};
use napi::Env;
use napi::bindgen_prelude::Unknown;
use napi_derive::napi;

use crate::Certloop;
use crate::task::{self, Pending};

#[napi]
impl Certloop {
    /// Scan files and directories for PEM, DER, PKCS#12 and JKS certificates and record them
    /// as `discovered` (deduplicated by fingerprint, each place kept).
    #[napi(ts_args_type = "options: FileScanOptions", ts_return_type = "Promise<DiscoveryOutcome>")]
    pub fn discover_files(&self, env: Env, options: Unknown<'_>) -> Pending {
        let options = task::required::<FileScan>(&env, options, "options");
        self.run_with(options, |cl, options| async move {
            let report = scan_files(&options.into(), None);
            cl.record_discovery(&report).await
        })
    }

    /// Probe TLS endpoints (`host:port`, hosts with `ports`, CIDR ranges) and record the
    /// certificates they serve.
    #[napi(
        ts_args_type = "options: NetworkScanOptions",
        ts_return_type = "Promise<DiscoveryOutcome>"
    )]
    pub fn discover_network(&self, env: Env, options: Unknown<'_>) -> Pending {
        let options = task::required::<NetworkScan>(&env, options, "options");
        self.run_with(options, |cl, options| async move {
            let report = scan_network(&options.into(), None)?;
            cl.record_discovery(&report).await
        })
    }

    /// Find the running TLS servers of this host (nginx, Apache httpd, Tomcat, ...) and record
    /// the certificates their configurations name, each with a suggested deployment target.
    #[napi(
        ts_args_type = "options?: HostScanOptions",
        ts_return_type = "Promise<DiscoveryOutcome>"
    )]
    pub fn discover_host(&self, env: Env, options: Unknown<'_>) -> Pending {
        let options = task::optional::<HostScan>(&env, options, "options");
        self.run_with(options, |cl, options| async move {
            let report = scan_host(&options.unwrap_or_default().into(), None);
            cl.record_discovery(&report).await
        })
    }

    /// Every place a scan found a certificate, as the inventory keeps it.
    #[napi(ts_return_type = "Promise<DiscoveredLocation[]>")]
    pub fn discovered_locations(&self) -> Pending {
        self.run(|cl| async move { cl.discovered_locations().await })
    }

    /// Rediscovery: look again at every known place and report drift (each drift is also a
    /// `driftDetected` audit event).
    #[napi(ts_return_type = "Promise<RediscoveryReport>")]
    pub fn rediscover(&self) -> Pending {
        self.run(|cl| async move { cl.rediscover().await })
    }
}

//! Discovery on `Certloop`: scan files, TLS endpoints or this host's running servers, record
//! the findings in the inventory, and rediscover (drift).
//!
//! The scan options of the core are Rust structs without a wire shape (durations, secret
//! passwords); the option objects here are their camelCase JSON form, every field optional
//! but the roots or targets, with the core's defaults. A scan and its recording are the same
//! two calls `certloop discover` makes; the scan itself is blocking I/O and runs on the libuv
//! worker like everything else.

use std::path::PathBuf;
use std::time::Duration;

use certloop::crypto::SecretString;
use certloop::discovery::files::{FileScanOptions, scan_files};
use certloop::discovery::host::HostScanOptions;
use certloop::discovery::network::{NetworkScanOptions, scan_network};
use certloop::discovery::servers::scan_host;
use napi::Env;
use napi::bindgen_prelude::Unknown;
use napi_derive::napi;
use serde::Deserialize;

use crate::Certloop;
use crate::task::{self, Pending};

/// `discoverFiles` options.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FileScan {
    roots: Vec<PathBuf>,
    max_depth: Option<usize>,
    max_file_size: Option<u64>,
    max_files: Option<u64>,
    follow_symlinks: Option<bool>,
    #[serde(default)]
    passwords: Vec<SecretString>,
    include_ca: Option<bool>,
}

impl From<FileScan> for FileScanOptions {
    fn from(scan: FileScan) -> Self {
        let default = FileScanOptions::default();
        FileScanOptions {
            roots: scan.roots,
            max_depth: scan.max_depth.unwrap_or(default.max_depth),
            max_file_size: scan.max_file_size.unwrap_or(default.max_file_size),
            max_files: scan.max_files.unwrap_or(default.max_files),
            follow_symlinks: scan.follow_symlinks.unwrap_or(default.follow_symlinks),
            passwords: scan.passwords,
            include_ca: scan.include_ca.unwrap_or(default.include_ca),
        }
    }
}

/// `discoverNetwork` options.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NetworkScan {
    targets: Vec<String>,
    ports: Option<Vec<u16>>,
    #[serde(default)]
    server_names: Vec<String>,
    timeout_ms: Option<u64>,
    concurrency: Option<usize>,
    max_endpoints: Option<usize>,
}

impl From<NetworkScan> for NetworkScanOptions {
    fn from(scan: NetworkScan) -> Self {
        let default = NetworkScanOptions::default();
        NetworkScanOptions {
            targets: scan.targets,
            ports: scan.ports.unwrap_or(default.ports),
            server_names: scan.server_names,
            timeout: scan.timeout_ms.map_or(default.timeout, Duration::from_millis),
            concurrency: scan.concurrency.unwrap_or(default.concurrency),
            max_endpoints: scan.max_endpoints.unwrap_or(default.max_endpoints),
        }
    }
}

/// `discoverHost` options.
#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct HostScan {
    proc_root: Option<PathBuf>,
    max_config_files: Option<usize>,
}

impl From<HostScan> for HostScanOptions {
    fn from(scan: HostScan) -> Self {
        let default = HostScanOptions::default();
        HostScanOptions {
            proc_root: scan.proc_root.unwrap_or(default.proc_root),
            max_config_files: scan.max_config_files.unwrap_or(default.max_config_files),
        }
    }
}

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

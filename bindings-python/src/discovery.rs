//! Discovery scan options as dicts: the core's option structs have no wire shape (durations,
//! secret passwords), so these are their camelCase form, every field optional but the roots
//! or targets, with the core's defaults (the same shapes as the Node binding's).

use std::path::PathBuf;
use std::time::Duration;

use certloop::crypto::SecretString;
use certloop::discovery::files::FileScanOptions;
use certloop::discovery::host::HostScanOptions;
use certloop::discovery::network::NetworkScanOptions;
use serde::Deserialize;

/// `discover_files` options.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FileScan {
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

/// `discover_network` options.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NetworkScan {
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

/// `discover_host` options.
#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HostScan {
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

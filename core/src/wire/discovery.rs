//! The discovery scans' options on the wire: the core's [`FileScanOptions`],
//! [`NetworkScanOptions`] and [`HostScanOptions`] have durations and secret passwords and no
//! serde form, so these are their camelCase JSON shape, every field optional but the roots or
//! targets, with the core's defaults. The C ABI, Node and Python read the same shapes.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::crypto::SecretString;
use crate::discovery::files::FileScanOptions;
use crate::discovery::host::HostScanOptions;
use crate::discovery::network::NetworkScanOptions;

/// A file scan (`{"roots": [..], "maxDepth", "maxFileSize", "maxFiles", "followSymlinks",
/// "passwords", "includeCa"}`), read as [`FileScanOptions`].
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FileScan {
    /// Files or directories to scan.
    pub roots: Vec<PathBuf>,
    /// Directory levels below each root.
    pub max_depth: Option<usize>,
    /// Larger files are skipped.
    pub max_file_size: Option<u64>,
    /// Stop after examining this many files.
    pub max_files: Option<u64>,
    /// Follow symbolic links to directories.
    pub follow_symlinks: Option<bool>,
    /// Keystore passwords to try: secrets, used for the scan only.
    #[serde(default)]
    pub passwords: Vec<SecretString>,
    /// Record CA certificates too.
    pub include_ca: Option<bool>,
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

/// A TLS endpoint scan (`{"targets": ["host:port", "host", "10.0.0.0/28"], "ports",
/// "serverNames", "timeoutMs", "concurrency", "maxEndpoints"}`), read as
/// [`NetworkScanOptions`].
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NetworkScan {
    /// `host:port`, `[v6]:port`, `host`, or a CIDR range.
    pub targets: Vec<String>,
    /// Ports for targets without one.
    pub ports: Option<Vec<u16>>,
    /// SNI names to ask each endpoint for, besides none.
    #[serde(default)]
    pub server_names: Vec<String>,
    /// Connect and handshake timeout per endpoint, in milliseconds.
    pub timeout_ms: Option<u64>,
    /// Endpoints probed at once.
    pub concurrency: Option<usize>,
    /// Refuse a scan that expands to more endpoints than this.
    pub max_endpoints: Option<usize>,
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

/// A scan of this host's running TLS servers (`{"procRoot", "maxConfigFiles"}`), read as
/// [`HostScanOptions`].
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HostScan {
    /// The proc file system (`/proc` by default).
    pub proc_root: Option<PathBuf>,
    /// At most this many configuration files per server.
    pub max_config_files: Option<usize>,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;
    use crate::wire::from_value;

    #[test]
    fn omitted_fields_take_the_core_defaults() {
        let scan: FileScan = from_value(serde_json::json!({"roots": ["/etc/ssl"]}), "options")
            .expect("a minimal file scan");
        let options = FileScanOptions::from(scan);
        let default = FileScanOptions::default();
        assert_eq!(options.roots, vec![PathBuf::from("/etc/ssl")]);
        assert_eq!((options.max_depth, options.max_files), (default.max_depth, default.max_files));
        let scan: NetworkScan =
            from_value(serde_json::json!({"targets": ["a:443"], "timeoutMs": 250}), "options")
                .expect("a network scan");
        let options = NetworkScanOptions::from(scan);
        assert_eq!(options.timeout, Duration::from_millis(250));
        assert_eq!(options.ports, NetworkScanOptions::default().ports);
        let options = HostScanOptions::from(HostScan::default());
        assert_eq!(options.proc_root, HostScanOptions::default().proc_root);
    }

    #[test]
    fn a_misspelled_option_names_the_field_and_a_password_is_not_repeated() {
        let value = serde_json::json!({"roots": [], "maxDepht": 3});
        let Err(Error::InvalidInput { field, message }) = from_value::<FileScan>(value, "options")
        else {
            panic!("maxDepht is refused");
        };
        assert_eq!(field, "options.maxDepht");
        assert!(message.starts_with("unknown field `maxDepht`"), "{message}");
        let value = serde_json::json!({"roots": [], "passwords": "s3cret"});
        let Err(Error::InvalidInput { field, message }) = from_value::<FileScan>(value, "options")
        else {
            panic!("a string of passwords is refused");
        };
        assert_eq!(field, "options.passwords");
        assert!(!message.contains("s3cret"), "{message}");
    }
}

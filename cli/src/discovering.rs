//! `certloop discover files|network`: scan, record what was found in the inventory as
//! `discovered` certificates, and print a table (or `--json`).

use std::path::PathBuf;

use certloop::crypto::SecretString;
use certloop::discovery::ScanReport;
use certloop::discovery::files::{FileScanOptions, scan_files};
use certloop::discovery::host::HostScanOptions;
use certloop::discovery::network::{NetworkScanOptions, scan_network};
use certloop::discovery::servers::scan_host;
use certloop::model::Ttl;
use certloop::{Certloop, DiscoveryOutcome, Error, Result};
use clap::{Args, Subcommand};

use crate::output::{json, table};

/// `certloop discover ...`
#[derive(Debug, Subcommand)]
pub enum DiscoverCommand {
    /// Certificates in PEM, DER, PKCS#12 and JKS files under the given files or directories.
    Files(FilesArgs),
    /// TLS endpoints: host:port, host (with --port), or CIDR ranges (with --port).
    Network(NetworkArgs),
    /// Running TLS servers on this host (nginx, Apache httpd, Tomcat, Jetty, WildFly, Java):
    /// the certificates their configurations name, with a suggested deployment target each.
    Host {
        /// Where to read processes from.
        #[arg(long, default_value = "/proc")]
        proc_root: PathBuf,
    },
    /// Rediscovery: check every known place (found by scans, or deployed to) against the
    /// inventory and report drift (also in the audit log as `driftDetected` events).
    Drift,
}

/// `certloop discover files`
#[derive(Debug, Args)]
pub struct FilesArgs {
    /// Files or directories to scan.
    #[arg(required = true)]
    pub roots: Vec<PathBuf>,
    /// Directory levels below each root.
    #[arg(long, default_value_t = 16)]
    pub max_depth: usize,
    /// Larger files are passed over (bytes).
    #[arg(long, default_value_t = 1024 * 1024)]
    pub max_size: u64,
    /// Do not follow symbolic links.
    #[arg(long)]
    pub no_follow: bool,
    /// Also record CA certificates of trust bundles.
    #[arg(long)]
    pub include_ca: bool,
    /// A file holding PKCS#12 passwords to try, one per line (the empty one is always tried).
    #[arg(long)]
    pub password_file: Option<PathBuf>,
}

/// `certloop discover network`
#[derive(Debug, Args)]
pub struct NetworkArgs {
    /// host:port, [v6]:port, host, or a CIDR range.
    #[arg(required = true)]
    pub targets: Vec<String>,
    /// Ports for targets without one (repeatable; default 443).
    #[arg(long = "port")]
    pub ports: Vec<u16>,
    /// SNI name to send (repeatable; default: the host when it is a name).
    #[arg(long = "sni")]
    pub server_names: Vec<String>,
    /// Connect + handshake timeout per endpoint.
    #[arg(long, default_value = "3s", value_parser = |s: &str| Ttl::parse_field(s, "--timeout"))]
    pub timeout: Ttl,
    /// Endpoints probed at once.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
}

pub async fn discover(certloop: &Certloop, command: DiscoverCommand, as_json: bool) -> Result<()> {
    let report = match command {
        DiscoverCommand::Drift => return drift(certloop, as_json).await,
        DiscoverCommand::Host { proc_root } => {
            let options = HostScanOptions { proc_root, ..HostScanOptions::default() };
            let bar = crate::commands::progress_bar(0, "reading servers", as_json);
            blocking(move || {
                let progress = |n: u64, total: Option<u64>| {
                    if let Some(total) = total {
                        bar.set_length(total);
                    }
                    bar.set_position(n);
                };
                let report = scan_host(&options, Some(&progress));
                bar.finish_and_clear();
                Ok(report)
            })
            .await?
        }
        DiscoverCommand::Files(args) => {
            let passwords = match &args.password_file {
                Some(path) => read_passwords(path)?,
                None => Vec::new(),
            };
            let options = FileScanOptions {
                roots: args.roots,
                max_depth: args.max_depth,
                max_file_size: args.max_size,
                follow_symlinks: !args.no_follow,
                passwords,
                include_ca: args.include_ca,
                ..FileScanOptions::default()
            };
            let bar = crate::commands::spinner("scanning files", as_json);
            blocking(move || {
                let progress = |n: u64, _: Option<u64>| bar.set_position(n);
                let report = scan_files(&options, Some(&progress));
                bar.finish_and_clear();
                Ok(report)
            })
            .await?
        }
        DiscoverCommand::Network(args) => {
            let options = NetworkScanOptions {
                targets: args.targets,
                ports: if args.ports.is_empty() { vec![443] } else { args.ports },
                server_names: args.server_names,
                timeout: args.timeout.duration().unsigned_abs(),
                concurrency: args.concurrency,
                ..NetworkScanOptions::default()
            };
            let bar = crate::commands::progress_bar(0, "probing", as_json);
            blocking(move || {
                let progress = |n: u64, total: Option<u64>| {
                    if let Some(total) = total {
                        bar.set_length(total);
                    }
                    bar.set_position(n);
                };
                let report = scan_network(&options, Some(&progress));
                bar.finish_and_clear();
                report
            })
            .await?
        }
    };
    let outcome = certloop.record_discovery(&report).await?;
    if as_json {
        return json(&outcome);
    }
    print_outcome(&outcome);
    Ok(())
}

async fn drift(certloop: &Certloop, as_json: bool) -> Result<()> {
    let report = certloop.rediscover().await?;
    if as_json {
        return json(&report);
    }
    let rows: Vec<Vec<String>> = report
        .drifts
        .iter()
        .map(|d| {
            vec![
                d.location.to_string(),
                format!("{:?}", d.kind).to_lowercase(),
                d.expected_sha256.chars().take(16).collect(),
                d.found_sha256.as_deref().unwrap_or("-").chars().take(16).collect(),
                d.certificate_id.clone(),
            ]
        })
        .collect();
    if !rows.is_empty() {
        table(&["PLACE", "DRIFT", "EXPECTED", "FOUND", "CERTIFICATE"], &rows);
    }
    out!(
        "{} places checked, {} as expected, {} drifted",
        report.checked,
        report.unchanged,
        report.drifts.len()
    );
    Ok(())
}

fn print_outcome(outcome: &DiscoveryOutcome) {
    let rows: Vec<Vec<String>> = outcome
        .items
        .iter()
        .map(|item| {
            vec![
                item.location.to_string(),
                item.common_name.clone(),
                item.not_after.date().to_string(),
                item.state.to_string(),
                if item.new_certificate { "new".into() } else { "known".into() },
                item.fingerprint_sha256.chars().take(16).collect(),
                item.certificate_id.clone(),
            ]
        })
        .collect();
    if !rows.is_empty() {
        table(&["FOUND AT", "CN", "NOT AFTER", "STATE", "", "SHA-256", "ID"], &rows);
    }
    out!(
        "{} examined, {} certificates found ({} new to the inventory), {} could not be read",
        outcome.examined,
        outcome.items.len(),
        outcome.new_certificates,
        outcome.problems.len()
    );
    for problem in &outcome.problems {
        out!("  {}: {}", problem.at, problem.error);
    }
}

/// Run a blocking scan off the async runtime's worker.
async fn blocking<F>(scan: F) -> Result<ScanReport>
where
    F: FnOnce() -> Result<ScanReport> + Send + 'static,
{
    tokio::task::spawn_blocking(scan)
        .await
        .map_err(|e| Error::store(format!("the scan stopped: {e}")))?
}

fn read_passwords(path: &std::path::Path) -> Result<Vec<SecretString>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path.display(), e))?;
    Ok(text.lines().filter(|l| !l.is_empty()).map(|l| SecretString::new(l.to_owned())).collect())
}

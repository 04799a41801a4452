//! Host scan to findings: each certificate the running servers' configurations name, read
//! from its file or keystore, with a deployment suggestion (the "Automatic" deployment type:
//! the server's type, files and endpoint as its configuration gives them).

use std::path::Path;

use crate::deploy::{DeployTarget, ServerType};

use super::files::{FileScanOptions, read_certificate_file};
use super::host::{HostScanOptions, RunningServer, TlsSite, running_servers};
use super::{Location, ScanProblem, ScanProgress, ScanReport};

/// Scan the running servers (see [`running_servers`]) and read every certificate their
/// configurations name. `progress` gets (servers read, servers found).
pub fn scan_host(options: &HostScanOptions, progress: Option<ScanProgress<'_>>) -> ScanReport {
    let (servers, problems) = running_servers(options);
    let mut report = ScanReport { problems, ..ScanReport::default() };
    let total = servers.len() as u64;
    for (n, server) in servers.iter().enumerate() {
        report.examined += 1;
        for site in &server.sites {
            let files = FileScanOptions {
                passwords: site.keystore_password.iter().cloned().collect(),
                include_ca: true,
                ..FileScanOptions::default()
            };
            let at = site.certificate_path.display().to_string();
            let findings = match read_certificate_file(&site.certificate_path, &files) {
                Ok(findings) => findings,
                Err(e) => {
                    let named = format!("named in {}: {e}", site.config_path.display());
                    report.problems.push(ScanProblem::new(at, named));
                    continue;
                }
            };
            // A PEM file's first finding is its leaf; a keystore's is the configured alias
            // when one is named, else its first entry.
            let wanted = findings.into_iter().find(|f| match (&f.location, &site.key_alias) {
                (Location::File { alias: Some(found), .. }, Some(alias)) => found == alias,
                _ => true,
            });
            let Some(mut finding) = wanted else {
                report.problems.push(ScanProblem::new(at, "no certificate in it"));
                continue;
            };
            let ports = if site.ports.is_empty() {
                server.listening_ports.clone()
            } else {
                site.ports.clone()
            };
            finding.location = Location::Server {
                server_type: server.server_type,
                config_path: site.config_path.clone(),
                certificate_path: site.certificate_path.clone(),
                key_path: site.key_path.clone(),
                ports: ports.clone(),
            };
            finding.suggested_target = suggestion(server, site, &ports);
            report.findings.push(finding);
        }
        if let Some(progress) = progress {
            progress(n as u64 + 1, Some(total));
        }
    }
    report
}

/// The deployment target a user would write for this site: never with its password (the
/// user gives it when accepting the suggestion).
fn suggestion(server: &RunningServer, site: &TlsSite, ports: &[u16]) -> Option<DeployTarget> {
    let file_stem =
        |p: &Path| p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let kind = match server.server_type {
        ServerType::Nginx => "nginx",
        ServerType::Apache => "apache",
        ServerType::Tomcat => "tomcat",
        ServerType::Jboss => "jboss",
        ServerType::Jetty => "jetty",
        ServerType::Weblogic => "weblogic",
        ServerType::Generic | ServerType::Sftp => "server",
    };
    let java = matches!(
        server.server_type,
        ServerType::Tomcat | ServerType::Jboss | ServerType::Jetty | ServerType::Weblogic
    );
    let (test_command, reload_command) = match server.server_type {
        ServerType::Nginx => (
            Some(vec!["nginx".to_owned(), "-t".to_owned()]),
            Some(vec!["nginx".to_owned(), "-s".to_owned(), "reload".to_owned()]),
        ),
        ServerType::Apache => (
            Some(vec!["apachectl".to_owned(), "configtest".to_owned()]),
            Some(vec!["apachectl".to_owned(), "graceful".to_owned()]),
        ),
        _ => (None, None),
    };
    // Built through the documented JSON shape, so every other field takes its default.
    let mut target = serde_json::json!({
        "name": format!("{kind}-{}", file_stem(&site.certificate_path)),
        "type": server.server_type,
    });
    let mut set = |field: &str, value: serde_json::Value| {
        if !value.is_null() {
            target[field] = value;
        }
    };
    if java {
        set("keystorePath", serde_json::json!(site.certificate_path));
        set("keystoreType", serde_json::json!(site.keystore_type));
        set("alias", serde_json::json!(site.key_alias));
    } else {
        set("certPath", serde_json::json!(site.certificate_path));
        set("keyPath", serde_json::json!(site.key_path));
        set("chainPath", serde_json::json!(site.chain_path));
    }
    set("testCommand", serde_json::json!(test_command));
    set("reloadCommand", serde_json::json!(reload_command));
    set("endpoint", serde_json::json!(ports.first().map(|port| format!("127.0.0.1:{port}"))));
    let sni = site.server_names.iter().find(|n| !n.contains('*') && *n != "_" && *n != "localhost");
    set("serverName", serde_json::json!(sni));
    serde_json::from_value(target).ok()
}

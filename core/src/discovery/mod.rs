//! Discovery: find the certificates that exist before certloop manages them, and where they
//! live. Three scans, each read-only and bounded:
//!
//! - [`files`]: PEM, DER, PKCS#12 and JKS files under given roots;
//! - [`network`]: TLS endpoints (host:port, CIDR ranges), recording the served chain;
//! - [`host`]: running servers (nginx, Apache httpd, Tomcat, Jetty, WildFly, WebLogic, Java),
//!   their configuration, the certificate and key files it names and the ports it listens on,
//!   with a deployment suggestion ([`crate::deploy::DeployTarget`]) per certificate.
//!
//! A scan returns a [`ScanReport`]: what it found ([`Finding`]: a certificate, its chain and
//! its [`Location`]) and what it could not read ([`ScanProblem`]), never an error for one bad
//! file or one silent port. [`crate::Certloop::record_discovery`] puts the findings in the
//! inventory as `discovered` records, deduplicated by fingerprint, and
//! [`crate::Certloop::rediscover`] compares a new scan with what the inventory expects.

pub mod files;
pub mod host;
pub mod network;
pub mod servers;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::crypto::CertificateInfo;
use crate::deploy::{DeployTarget, ServerType};

/// Where a certificate was found. JSON: `{"kind": "file", "path": "/etc/ssl/a.pem", ...}`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum Location {
    /// A file on this host.
    File {
        /// The file.
        path: PathBuf,
        /// Its format.
        format: FileFormat,
        /// The keystore entry (PKCS#12 friendly name or JKS alias), when it has one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        alias: Option<String>,
    },
    /// A TLS endpoint, as it answered.
    Endpoint {
        /// The host (name or IP address) connected to.
        host: String,
        /// The TCP port.
        port: u16,
        /// The SNI name sent, when one was.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        server_name: Option<String>,
    },
    /// A running server's configuration names this certificate.
    Server {
        /// The server type.
        server_type: ServerType,
        /// The configuration file that names the certificate.
        config_path: PathBuf,
        /// The certificate file or keystore.
        certificate_path: PathBuf,
        /// The private key file (PEM servers).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key_path: Option<PathBuf>,
        /// The TCP ports the server listens on for this certificate.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        ports: Vec<u16>,
    },
}

impl Location {
    /// A stable key of the place (not of the certificate found there): two scans that find
    /// something at the same place give the same key.
    pub fn key(&self) -> String {
        match self {
            Self::File { path, alias, .. } => match alias {
                Some(alias) => format!("file:{}#{alias}", path.display()),
                None => format!("file:{}", path.display()),
            },
            Self::Endpoint { host, port, server_name } => match server_name {
                Some(sni) => format!("tls:{host}:{port}/{sni}"),
                None => format!("tls:{host}:{port}"),
            },
            Self::Server { server_type, certificate_path, .. } => {
                let kind = serde_json::to_value(server_type)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                format!("server:{kind}:{}", certificate_path.display())
            }
        }
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File { path, alias: Some(alias), .. } => {
                write!(f, "{} ({alias})", path.display())
            }
            Self::File { path, .. } => write!(f, "{}", path.display()),
            Self::Endpoint { host, port, server_name: Some(sni) } if sni != host => {
                write!(f, "{host}:{port} (SNI {sni})")
            }
            Self::Endpoint { host, port, .. } => write!(f, "{host}:{port}"),
            Self::Server { server_type, certificate_path, ports, .. } => {
                let kind = serde_json::to_value(server_type)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                write!(f, "{kind} {}", certificate_path.display())?;
                if !ports.is_empty() {
                    let ports: Vec<String> = ports.iter().map(u16::to_string).collect();
                    write!(f, " on port {}", ports.join(", "))?;
                }
                Ok(())
            }
        }
    }
}

/// The format of a certificate file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FileFormat {
    /// PEM text (one or more certificates, maybe with a key).
    Pem,
    /// One DER certificate.
    Der,
    /// A PKCS#12 (PFX) keystore.
    Pkcs12,
    /// A Java KeyStore.
    Jks,
}

/// One certificate found at one place.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    /// Where.
    pub location: Location,
    /// The certificates found with it that chain up from it (issuing CA first), DER.
    #[serde(skip)]
    pub chain: Vec<Vec<u8>>,
    /// The certificate (the leaf of what was found there): what it says, and its DER
    /// (`info.der`).
    pub info: CertificateInfo,
    /// A deployment target suggested for it (the "Automatic" deployment type): the server's
    /// type, files and endpoint as its configuration gives them. Host scans fill it in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suggested_target: Option<DeployTarget>,
}

impl Finding {
    /// A finding of the certificate `info` with `chain` at `location`.
    pub fn new(location: Location, info: CertificateInfo, chain: Vec<Vec<u8>>) -> Finding {
        Finding { location, chain, info, suggested_target: None }
    }

    /// SHA-256 of the certificate, lower-case hex.
    pub fn fingerprint(&self) -> &str {
        &self.info.fingerprint_sha256
    }
}

/// Something a scan could not read or reach; the scan went on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScanProblem {
    /// The file, directory, endpoint or process.
    pub at: String,
    /// What went wrong.
    pub error: String,
}

impl ScanProblem {
    /// A problem at `at`.
    pub fn new(at: impl Into<String>, error: impl std::fmt::Display) -> ScanProblem {
        ScanProblem { at: at.into(), error: error.to_string() }
    }
}

/// What a scan found and what it could not read.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScanReport {
    /// Certificates found, in the order found.
    pub findings: Vec<Finding>,
    /// What could not be read or reached.
    pub problems: Vec<ScanProblem>,
    /// How many files, endpoints or processes were examined.
    pub examined: u64,
}

impl ScanReport {
    /// Add everything of `other`.
    pub fn extend(&mut self, other: ScanReport) {
        self.findings.extend(other.findings);
        self.problems.extend(other.problems);
        self.examined += other.examined;
    }
}

/// Progress of a scan: how many items were examined of how many (when known). Called from
/// the scanning task; keep it cheap.
pub type ScanProgress<'a> = &'a (dyn Fn(u64, Option<u64>) + Send + Sync);

/// Split the certificates of one file or one handshake into findings: each certificate that
/// is not a CA, followed by the certificates that chain up from it, is one finding. A lone
/// certificate is a finding whatever its basicConstraints say (`openssl req -x509` marks
/// self-signed server certificates as CAs). Other CA certificates that chain from no leaf
/// are findings of their own only when `include_ca` (trust bundles hold hundreds).
/// `location` makes each finding's place.
pub(crate) fn group_chains(
    certificates: Vec<CertificateInfo>,
    include_ca: bool,
    location: impl Fn(&CertificateInfo) -> Location,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut used = vec![false; certificates.len()];
    let lone = certificates.len() == 1;
    for (i, leaf) in certificates.iter().enumerate() {
        if leaf.is_ca && !lone {
            continue;
        }
        used[i] = true;
        let mut chain = Vec::new();
        let mut current = leaf;
        // Follow issuer → subject among the other certificates, at most once each.
        while let Some((j, issuer)) = certificates
            .iter()
            .enumerate()
            .find(|(j, c)| !used[*j] && c.subject_dn == current.issuer_dn && c.der != current.der)
        {
            used[j] = true;
            chain.push(issuer.der.clone());
            current = issuer;
        }
        findings.push(Finding::new(location(leaf), leaf.clone(), chain));
    }
    if include_ca {
        for (i, ca) in certificates.iter().enumerate() {
            if !used[i] {
                findings.push(Finding::new(location(ca), ca.clone(), Vec::new()));
            }
        }
    }
    findings
}

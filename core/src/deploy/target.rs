//! Deployment targets: which server, where its files go, how to test and reload it, where it
//! answers TLS. Stored as documents in the inventory; passwords are [`SecretString`]s that the
//! façade seals at rest and redacts in listings.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::crypto::SecretString;
use crate::error::{Error, Result, Violation};
use crate::keystore::{DEFAULT_KEEP_VERSIONS, KeystoreSpec};

/// The server types of the provisioning document that run on Linux.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ServerType {
    /// nginx: PEM `certPath` (leaf + intermediates) and `keyPath`.
    Nginx,
    /// Apache HTTP Server: PEM `certPath`, `keyPath`, optional `chainPath`.
    Apache,
    /// Apache Tomcat: a PKCS#12 or JKS `keystorePath`.
    Tomcat,
    /// JBoss EAP / WildFly: a keystore, like Tomcat.
    Jboss,
    /// Eclipse Jetty: a keystore, like Tomcat.
    Jetty,
    /// Oracle WebLogic: a keystore, like Tomcat.
    Weblogic,
    /// Anything else: a full `keystore` spec and optional commands.
    Generic,
    /// Agentless: the `keystore` files are copied to `remoteDir` on `host` over SFTP and the
    /// commands run there over SSH.
    Sftp,
}

/// The keystore file type of a Java server target.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum JavaKeystoreType {
    /// PKCS#12 (the default since Java 9).
    #[default]
    Pkcs12,
    /// Java KeyStore, for old installs.
    Jks,
}

/// A deployment target, as a user writes it (JSON, camelCase). See the README's
/// "Deployment" section for every field.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeployTarget {
    /// Store id (assigned when saved).
    #[serde(default)]
    pub id: String,
    /// Unique name, used on the command line.
    pub name: String,
    /// The server type.
    #[serde(rename = "type")]
    pub server_type: ServerType,
    /// nginx/Apache: the certificate file (leaf + intermediates unless `chainPath` is set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_path: Option<PathBuf>,
    /// nginx/Apache: the private key file (written 0600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_path: Option<PathBuf>,
    /// Apache: a separate chain file (then `certPath` holds the leaf alone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain_path: Option<PathBuf>,
    /// Java servers: the keystore file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keystore_path: Option<PathBuf>,
    /// Java servers: `pkcs12` (default) or `jks`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keystore_type: Option<JavaKeystoreType>,
    /// Java servers: the keystore password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keystore_password: Option<SecretString>,
    /// Java servers, JKS: the key password (default: the keystore password).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_password: Option<SecretString>,
    /// Java servers: the key entry's alias (default `certloop`; Tomcat's default is `tomcat`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    /// Java servers, PKCS#12: legacy encryption (3DES, SHA-1 MAC) for old JDKs.
    #[serde(default)]
    pub legacy_pkcs12: bool,
    /// Generic and SFTP targets: the keystore to write (SFTP: paths relative to `remoteDir`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keystore: Option<KeystoreSpec>,
    /// SFTP: the remote host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// SFTP: the SSH port (default 22).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// SFTP: the remote user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// SFTP: the private key file for authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_file: Option<PathBuf>,
    /// SFTP: a known_hosts file holding the host's key (host keys are always checked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known_hosts_file: Option<PathBuf>,
    /// SFTP: the remote directory the keystore files go to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_dir: Option<String>,
    /// Config test, run before the reload (`["nginx", "-t"]`); on the remote host for SFTP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_command: Option<Vec<String>>,
    /// Graceful reload (`["nginx", "-s", "reload"]`); on the remote host for SFTP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reload_command: Option<Vec<String>>,
    /// `host:port` where the server answers TLS: enables the pinning check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// SNI name for the pinning check (default: the endpoint's host).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    /// Restore the previous files and reload when a step fails (default true).
    #[serde(default = "default_true")]
    pub rollback: bool,
    /// Previous versions kept of each file (default 3; at least 1 with rollback).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_versions: Option<usize>,
    /// Pinning check attempts after a reload (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin_attempts: Option<u32>,
    /// Milliseconds between pinning attempts (default 500).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin_interval_ms: Option<u64>,
    /// Timeout of each command and connection, seconds (default 60).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_secs: Option<u64>,
}

fn default_true() -> bool {
    true
}

/// The text a redacted secret shows.
pub const REDACTED: &str = "[redacted]";

impl DeployTarget {
    /// Check every field the server type needs; every problem is reported at once.
    pub fn validate(&self) -> Result<()> {
        let mut problems = Vec::new();
        let mut need = |present: bool, field: &str, why: &str| {
            if !present {
                problems.push(Violation::new(field, why.to_owned()));
            }
        };
        need(
            !self.name.is_empty()
                && self.name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)),
            "name",
            "a non-empty name of letters, digits, '-', '_' or '.'",
        );
        let who = format!("required for a {:?} target", self.server_type).to_lowercase();
        match self.server_type {
            ServerType::Nginx | ServerType::Apache => {
                need(self.cert_path.is_some(), "certPath", &who);
                need(self.key_path.is_some(), "keyPath", &who);
            }
            ServerType::Tomcat | ServerType::Jboss | ServerType::Jetty | ServerType::Weblogic => {
                need(self.keystore_path.is_some(), "keystorePath", &who);
                need(
                    self.keystore_password.as_ref().is_some_and(|p| !p.expose().is_empty()),
                    "keystorePassword",
                    &who,
                );
            }
            ServerType::Generic => need(self.keystore.is_some(), "keystore", &who),
            ServerType::Sftp => {
                need(self.keystore.is_some(), "keystore", &who);
                need(self.host.as_deref().is_some_and(|h| !h.is_empty()), "host", &who);
                need(self.user.as_deref().is_some_and(|u| !u.is_empty()), "user", &who);
                need(
                    self.remote_dir.as_deref().is_some_and(|d| d.starts_with('/')),
                    "remoteDir",
                    "an absolute remote directory is required for an sftp target",
                );
            }
        }
        for (field, command) in
            [("testCommand", &self.test_command), ("reloadCommand", &self.reload_command)]
        {
            if command.as_ref().is_some_and(|c| c.is_empty() || c[0].is_empty()) {
                problems.push(Violation::new(
                    field,
                    "an argument list whose first item is the program",
                ));
            }
        }
        // A relative path would depend on the deploying process's working directory.
        let local_paths = [
            ("certPath", &self.cert_path),
            ("keyPath", &self.key_path),
            ("chainPath", &self.chain_path),
            ("keystorePath", &self.keystore_path),
            ("identityFile", &self.identity_file),
            ("knownHostsFile", &self.known_hosts_file),
        ];
        for (field, path) in local_paths {
            if path.as_ref().is_some_and(|p| !p.is_absolute()) {
                problems.push(Violation::new(field, "an absolute path"));
            }
        }
        if self.server_type == ServerType::Generic
            && let Some(spec) = &self.keystore
            && spec.paths().iter().any(|p| !p.is_absolute())
        {
            problems.push(Violation::new("keystore", "absolute paths for a generic target"));
        }
        if self.rollback && self.keep_versions() == 0 {
            problems.push(Violation::new("keepVersions", "rollback needs at least 1 kept version"));
        }
        if self.pin_attempts == Some(0) || self.pin_attempts.is_some_and(|n| n > 100) {
            problems.push(Violation::new("pinAttempts", "between 1 and 100"));
        }
        if self.pin_interval_ms.is_some_and(|ms| ms > 60_000) {
            problems.push(Violation::new("pinIntervalMs", "at most 60000"));
        }
        if self.timeout_secs == Some(0) || self.timeout_secs.is_some_and(|s| s > 3600) {
            problems.push(Violation::new("timeoutSecs", "between 1 and 3600"));
        }
        if !problems.is_empty() {
            let message = problems.iter().map(ToString::to_string).collect::<Vec<_>>();
            return Err(Error::invalid("target", message.join("; ")));
        }
        self.keystore_spec()?.writer().map(|_| ())
    }

    /// The keystore this target writes (local paths; for SFTP, paths relative to `remoteDir`).
    pub fn keystore_spec(&self) -> Result<KeystoreSpec> {
        let missing = |field: &str| {
            Error::invalid(field, format!("required for a {:?} target", self.server_type))
        };
        Ok(match self.server_type {
            ServerType::Nginx | ServerType::Apache => {
                let cert = self.cert_path.clone().ok_or_else(|| missing("certPath"))?;
                let (cert_path, fullchain_path) = match &self.chain_path {
                    Some(_) => (Some(cert), None),
                    None => (None, Some(cert)),
                };
                KeystoreSpec::Pem {
                    cert_path,
                    chain_path: self.chain_path.clone(),
                    fullchain_path,
                    key_path: Some(self.key_path.clone().ok_or_else(|| missing("keyPath"))?),
                    combined_path: None,
                    key_passphrase: None,
                    cert_mode: None,
                    key_mode: None,
                }
            }
            ServerType::Tomcat | ServerType::Jboss | ServerType::Jetty | ServerType::Weblogic => {
                let path = self.keystore_path.clone().ok_or_else(|| missing("keystorePath"))?;
                let password =
                    self.keystore_password.clone().ok_or_else(|| missing("keystorePassword"))?;
                match self.keystore_type.unwrap_or_default() {
                    JavaKeystoreType::Pkcs12 => KeystoreSpec::Pkcs12 {
                        path,
                        password: Some(password),
                        alias: self.alias.clone(),
                        legacy: self.legacy_pkcs12,
                    },
                    JavaKeystoreType::Jks => KeystoreSpec::Jks {
                        path,
                        store_password: password,
                        key_password: self.key_password.clone(),
                        alias: self.alias.clone(),
                    },
                }
            }
            ServerType::Generic | ServerType::Sftp => {
                self.keystore.clone().ok_or_else(|| missing("keystore"))?
            }
        })
    }

    /// Every secret of the target by field name (top-level and inside `keystore`).
    pub fn secrets_mut(&mut self) -> Vec<(String, &mut SecretString)> {
        let mut out = Vec::new();
        if let Some(p) = self.keystore_password.as_mut() {
            out.push(("keystorePassword".to_owned(), p));
        }
        if let Some(p) = self.key_password.as_mut() {
            out.push(("keyPassword".to_owned(), p));
        }
        if let Some(spec) = self.keystore.as_mut() {
            out.extend(spec.secrets_mut().into_iter().map(|(f, s)| (format!("keystore.{f}"), s)));
        }
        out
    }

    /// A copy whose secrets read `[redacted]`: what listings show.
    pub fn redacted(&self) -> DeployTarget {
        let mut copy = self.clone();
        for (_, secret) in copy.secrets_mut() {
            *secret = SecretString::new(REDACTED.to_owned());
        }
        copy
    }

    /// Previous versions kept of each file.
    pub fn keep_versions(&self) -> usize {
        self.keep_versions.unwrap_or(DEFAULT_KEEP_VERSIONS)
    }

    /// Timeout of each command and connection.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs.unwrap_or(60))
    }

    /// Pinning attempts and the pause between them.
    pub fn pin_schedule(&self) -> (u32, Duration) {
        (
            self.pin_attempts.unwrap_or(10),
            Duration::from_millis(self.pin_interval_ms.unwrap_or(500)),
        )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn nginx_target_from_the_issue_parses_and_validates() {
        let json = r#"{"name": "web1", "type": "nginx", "certPath": "/etc/nginx/tls/fullchain.pem",
            "keyPath": "/etc/nginx/tls/key.pem", "testCommand": ["nginx", "-t"],
            "reloadCommand": ["nginx", "-s", "reload"], "endpoint": "127.0.0.1:443", "rollback": true}"#;
        let target: DeployTarget = serde_json::from_str(json).unwrap();
        target.validate().unwrap();
        match target.keystore_spec().unwrap() {
            KeystoreSpec::Pem { fullchain_path, key_path, cert_path, .. } => {
                assert_eq!(fullchain_path.unwrap(), PathBuf::from("/etc/nginx/tls/fullchain.pem"));
                assert_eq!(key_path.unwrap(), PathBuf::from("/etc/nginx/tls/key.pem"));
                assert!(cert_path.is_none());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn missing_fields_are_all_named() {
        let json = r#"{"name": "t", "type": "tomcat", "keepVersions": 0, "identityFile": "id"}"#;
        let target: DeployTarget = serde_json::from_str(json).unwrap();
        let err = target.validate().unwrap_err().to_string();
        for field in ["keystorePath", "keystorePassword", "keepVersions", "identityFile"] {
            assert!(err.contains(field), "{err}");
        }
        let typo =
            serde_json::from_str::<DeployTarget>(r#"{"name":"t","type":"nginx","certPth":"x"}"#);
        assert!(typo.unwrap_err().to_string().contains("certPth"));
    }

    #[test]
    fn secrets_are_redacted() {
        let json = r#"{"name": "t", "type": "tomcat", "keystorePath": "/k.p12", "keystorePassword": "hunter2hunter2"}"#;
        let target: DeployTarget = serde_json::from_str(json).unwrap();
        target.validate().unwrap();
        let shown = serde_json::to_string(&target.redacted()).unwrap();
        assert!(!shown.contains("hunter2") && shown.contains(REDACTED), "{shown}");
        assert!(!format!("{target:?}").contains("hunter2"));
    }
}

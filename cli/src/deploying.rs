//! `certloop target ...`, `certloop deploy`, `certloop pin-check`, and the keystore options of
//! `certloop issue`. Output goes through a locked stdout with `writeln!`, so a closed pipe
//! (`certloop target list --json | head`) ends quietly instead of panicking.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use certloop::crypto::SecretString;
use certloop::deploy::{DeployReport, DeployTarget, PinCheck};
use certloop::keystore::{DEFAULT_KEEP_VERSIONS, KeystoreSpec};
use certloop::model::IssuedCertificate;
use certloop::{Certloop, Error, Result};
use clap::{Args, Subcommand, ValueEnum};

use crate::IssueArgs;

/// `certloop target ...`
#[derive(Debug, Subcommand)]
pub enum TargetCommand {
    /// Create or replace (by name) a target from a JSON file (see README "Deployment").
    Add {
        /// JSON file: `{"name": "web1", "type": "nginx", "certPath": ..., "keyPath": ...}`.
        #[arg(long)]
        file: PathBuf,
    },
    /// List targets (passwords read `[redacted]`).
    List,
    /// Show one target as JSON (passwords read `[redacted]`).
    Show {
        /// Target name or id.
        name: String,
    },
    /// Remove a target.
    Remove {
        /// Target name or id.
        name: String,
    },
}

/// `certloop deploy`
#[derive(Debug, Args)]
pub struct DeployArgs {
    /// Certificate id or serial number (its key must have been kept: `issue --manage-key`).
    pub id: String,
    /// Target name or id.
    #[arg(long)]
    pub target: String,
    /// Leave the new files in place when a step fails.
    #[arg(long)]
    pub no_rollback: bool,
}

/// `certloop pin-check`
#[derive(Debug, Args)]
pub struct PinCheckArgs {
    /// Certificate id or serial number whose fingerprint is expected.
    pub id: String,
    /// `host:port` to connect to.
    #[arg(long)]
    pub endpoint: String,
    /// SNI name to send (default: the endpoint's host).
    #[arg(long)]
    pub server_name: Option<String>,
}

/// Keystore formats of `certloop issue --format`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum IssueFormat {
    /// cert.pem, chain.pem, fullchain.pem, ca.pem, key.pem.
    #[default]
    Pem,
    /// DIR/keystore.p12 (AES-256/PBKDF2/SHA-256 MAC; --legacy for 3DES/SHA-1).
    Pkcs12,
    /// DIR/keystore.jks.
    Jks,
    /// DIR/secret.yaml, a kubernetes.io/tls Secret with ca.crt.
    K8s,
}

/// The keystore options of `certloop issue`.
#[derive(Debug, Args)]
pub struct IssueKeystoreArgs {
    /// Keystore format written into --out.
    #[arg(long, value_enum, default_value_t)]
    pub format: IssueFormat,
    /// Keystore password (PKCS#12, JKS); prefer the environment variable to the flag.
    #[arg(long, env = "CERTLOOP_KEYSTORE_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// Alias / friendly name of the key entry (default certloop).
    #[arg(long)]
    pub alias: Option<String>,
    /// PKCS#12 with legacy encryption (3DES, SHA-1 MAC) for old consumers.
    #[arg(long)]
    pub legacy: bool,
    /// Kubernetes Secret name (default: the certificate's common name, dots to dashes).
    #[arg(long)]
    pub secret_name: Option<String>,
    /// Kubernetes namespace.
    #[arg(long)]
    pub namespace: Option<String>,
    /// Deploy to this target right after issuing (keeps the key, sealed, in the inventory).
    #[arg(long)]
    pub target: Option<String>,
}

impl IssueKeystoreArgs {
    /// Whether `--out` gets the plain PEM files.
    pub fn is_pem(&self) -> bool {
        self.format == IssueFormat::Pem
    }
}

/// Refuse keystore flags that cannot apply before anything is issued.
pub fn check_issue_args(args: &IssueArgs) -> Result<()> {
    let k = &args.keystore;
    if !k.is_pem() && args.out.is_none() {
        return Err(Error::invalid("format", "--format needs --out DIR"));
    }
    if k.format == IssueFormat::Jks && k.password.is_none() {
        return Err(Error::invalid(
            "password",
            "a JKS keystore needs --password (at least 6 characters)",
        ));
    }
    if args.csr.is_some() && (!k.is_pem() || k.target.is_some()) {
        return Err(Error::invalid(
            "csr",
            "with --csr the key stays with you: keystores and --target need a key certloop generates",
        ));
    }
    if args.count > 1 && (k.target.is_some() || !k.is_pem()) {
        return Err(Error::invalid("count", "--count does not combine with --format or --target"));
    }
    Ok(())
}

/// Write the keystore `--format` asks for into `dir`; returns the files written.
pub async fn write_issued_keystore(
    certloop: &Certloop,
    issued: &IssuedCertificate,
    dir: &Path,
    args: &IssueKeystoreArgs,
) -> Result<Vec<PathBuf>> {
    let password = args.password.clone().map(SecretString::new);
    let spec = match args.format {
        IssueFormat::Pem => return Err(Error::invalid("format", "PEM is written by the caller")),
        IssueFormat::Pkcs12 => KeystoreSpec::Pkcs12 {
            path: dir.join("keystore.p12"),
            password,
            alias: args.alias.clone(),
            legacy: args.legacy,
        },
        IssueFormat::Jks => KeystoreSpec::Jks {
            path: dir.join("keystore.jks"),
            store_password: password
                .ok_or_else(|| Error::invalid("password", "a JKS keystore needs --password"))?,
            key_password: None,
            alias: args.alias.clone(),
        },
        IssueFormat::K8s => KeystoreSpec::KubernetesSecret {
            path: dir.join("secret.yaml"),
            name: match &args.secret_name {
                Some(name) => name.clone(),
                None => secret_name_for(issued)?,
            },
            namespace: args.namespace.clone(),
        },
    };
    Ok(certloop.write_keystore(issued, &spec, DEFAULT_KEEP_VERSIONS).await?.paths())
}

/// A Kubernetes object name from the certificate's common name.
fn secret_name_for(issued: &IssuedCertificate) -> Result<String> {
    let info = certloop::crypto::inspect_certificate(issued.certificate.as_bytes())?;
    let cn = info.subject.common_name.unwrap_or_default().to_ascii_lowercase();
    let name: String =
        cn.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    let name = name.trim_matches('-').to_owned();
    if name.is_empty() {
        return Err(Error::invalid("secretName", "give --secret-name (no usable common name)"));
    }
    Ok(format!("{name}-tls"))
}

/// `certloop issue --target`: deploy what was just issued.
pub async fn deploy_issued(
    certloop: &Certloop,
    issued: &IssuedCertificate,
    files: &[PathBuf],
    args: &IssueKeystoreArgs,
    as_json: bool,
) -> Result<()> {
    let target = args.target.as_deref().unwrap_or_default();
    let report = certloop.deploy_with_report(&issued.certificate_id, target, None).await?;
    let mut out = io::stdout().lock();
    let written = if as_json {
        let body = serde_json::json!({
            "certificateId": issued.certificate_id,
            "serialNumber": issued.serial_number,
            "files": files,
            "deployment": report,
        });
        writeln!(out, "{}", pretty(&body)?)
    } else {
        writeln!(
            out,
            "issued certificate {} (serial {})",
            issued.certificate_id, issued.serial_number
        )
        .and_then(|()| files.iter().try_for_each(|f| writeln!(out, "  wrote {}", f.display())))
        .and_then(|()| write_report(&mut out, &report))
    };
    finish(written)?;
    report_result(report)
}

/// `certloop target ...`
pub async fn target(certloop: &Certloop, command: TargetCommand, as_json: bool) -> Result<()> {
    let mut out = io::stdout().lock();
    let written = match command {
        TargetCommand::Add { file } => {
            let text = std::fs::read_to_string(&file).map_err(|e| Error::io(file.display(), e))?;
            let target: DeployTarget =
                certloop::wire::from_str(&text, &file.display().to_string())?;
            let saved = certloop.save_target(target).await?;
            if as_json {
                writeln!(out, "{}", pretty(&saved)?)
            } else {
                writeln!(out, "saved target {} ({})", saved.name, saved.id)
            }
        }
        TargetCommand::List => {
            let targets = certloop.list_targets().await?;
            if as_json {
                writeln!(out, "{}", pretty(&targets)?)
            } else {
                let rows: Vec<Vec<String>> = targets
                    .iter()
                    .map(|t| {
                        vec![
                            t.name.clone(),
                            format!("{:?}", t.server_type).to_lowercase(),
                            t.endpoint.clone().unwrap_or_default(),
                            if t.rollback { "yes" } else { "no" }.to_owned(),
                            t.id.clone(),
                        ]
                    })
                    .collect();
                write_table(&mut out, &["NAME", "TYPE", "ENDPOINT", "ROLLBACK", "ID"], &rows)
            }
        }
        TargetCommand::Show { name } => {
            writeln!(out, "{}", pretty(&certloop.target(&name).await?)?)
        }
        TargetCommand::Remove { name } => {
            certloop.remove_target(&name).await?;
            if as_json {
                writeln!(out, "{}", serde_json::json!({"removed": name}))
            } else {
                writeln!(out, "removed target {name}")
            }
        }
    };
    finish(written)
}

/// `certloop deploy`
pub async fn deploy(certloop: &Certloop, args: DeployArgs, as_json: bool) -> Result<()> {
    let rollback = if args.no_rollback { Some(false) } else { None };
    let report = certloop.deploy_with_report(&args.id, &args.target, rollback).await?;
    let mut out = io::stdout().lock();
    let written = if as_json {
        writeln!(out, "{}", pretty(&report)?)
    } else {
        write_report(&mut out, &report)
    };
    finish(written)?;
    report_result(report)
}

/// `certloop pin-check`
pub async fn pin_check(certloop: &Certloop, args: PinCheckArgs, as_json: bool) -> Result<()> {
    let check = certloop.pin_check(&args.id, &args.endpoint, args.server_name.as_deref()).await?;
    let mut out = io::stdout().lock();
    let written =
        if as_json { writeln!(out, "{}", pretty(&check)?) } else { write_pin(&mut out, &check) };
    finish(written)?;
    if check.matches {
        Ok(())
    } else {
        Err(Error::PinMismatch {
            endpoint: check.endpoint,
            expected: check.expected_sha256,
            served: check.served_sha256,
        })
    }
}

fn report_result(report: DeployReport) -> Result<()> {
    if report.success {
        return Ok(());
    }
    Err(Error::Deployment {
        target: report.target.clone(),
        summary: report.summary(),
        rolled_back: report.rolled_back,
    })
}

fn write_report(out: &mut impl Write, report: &DeployReport) -> io::Result<()> {
    for step in &report.steps {
        let mark = if step.ok { "ok  " } else { "FAIL" };
        writeln!(out, "  {mark} {:<16} {}", step.step.as_str(), step.detail)?;
    }
    writeln!(out, "{}", report.summary())
}

fn write_pin(out: &mut impl Write, check: &PinCheck) -> io::Result<()> {
    let verdict = if check.matches { "match" } else { "MISMATCH" };
    writeln!(out, "{verdict}: {}", check.endpoint)?;
    writeln!(out, "  expected sha256  {}", check.expected_sha256)?;
    writeln!(out, "  served   sha256  {}", check.served_sha256)?;
    writeln!(out, "  served   spki    {}", check.served_spki_sha256)?;
    writeln!(out, "  served   subject {}", check.served_subject)?;
    writeln!(out, "  served   expires {}", check.served_not_after)
}

fn write_table(out: &mut impl Write, headers: &[&str], rows: &[Vec<String>]) -> io::Result<()> {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut line = |cells: Vec<&str>| {
        let padded: Vec<String> =
            cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}", w = *w)).collect();
        writeln!(out, "{}", padded.join("  ").trim_end())
    };
    line(headers.to_vec())?;
    rows.iter().try_for_each(|row| line(row.iter().map(String::as_str).collect()))
}

fn pretty<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string_pretty(value).map_err(|e| Error::invalid("output", e.to_string()))
}

/// A closed pipe is the reader's choice, not an error; anything else is.
fn finish(written: io::Result<()>) -> Result<()> {
    match written {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(Error::io("stdout", e)),
        _ => Ok(()),
    }
}

//! `certloop`: issue, renew, revoke and track certificates from a shell or a pipeline.
//!
//! Human-readable tables by default, `--json` on every command, and exit codes a pipeline can
//! branch on (see [`exit`]).
#![forbid(unsafe_code)]
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]
// Command output goes through `out!`, which survives a closed pipe.
#![deny(clippy::print_stdout)]

#[macro_use]
mod output;
mod acme;
mod commands;
mod deploying;
mod discovering;
mod exit;
mod lifecycle;
mod serving;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// Certificate lifecycle management: an embedded CA, policy, inventory and audit log.
#[derive(Debug, Parser)]
#[command(name = "certloop", version, about, propagate_version = true)]
pub struct Cli {
    /// State directory (database, master key).
    #[arg(long, global = true, env = "CERTLOOP_HOME", default_value = ".certloop")]
    pub home: PathBuf,
    /// Where the inventory lives: a `postgres://user@host/db` URL shared by several agents,
    /// or an SQLite file (default: `certloop.db` in the state directory).
    #[arg(long, global = true, env = "CERTLOOP_STORE", hide_env_values = true)]
    pub store: Option<String>,
    /// Print machine-readable JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    /// More log lines on stderr: -v adds what connectors report (a script CA's output, ACME
    /// steps), -vv debugging detail. Warnings are always shown. Secrets are never logged.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the embedded default: a root CA, an issuing CA and a `tls-server` profile.
    Init,
    /// Manage CAs.
    #[command(subcommand)]
    Ca(CaCommand),
    /// Manage certificate templates (policy).
    #[command(subcommand)]
    Template(DocumentCommand),
    /// Manage certificate profiles (template + issuer + renewal).
    #[command(subcommand)]
    Profile(DocumentCommand),
    /// Issue a certificate and write it (and a generated key) into a directory.
    Issue(IssueArgs),
    /// Renew a certificate (new key, same names), or every certificate that is due.
    Renew(RenewArgs),
    /// Revoke a certificate.
    Revoke {
        /// Certificate id or serial number.
        id: String,
        /// keyCompromise, superseded, cessationOfOperation, affiliationChanged, ...
        #[arg(long, default_value = "unspecified")]
        reason: String,
    },
    /// Put a certificate on hold (certificateHold).
    Suspend {
        /// Certificate id or serial number.
        id: String,
    },
    /// Lift a hold.
    Unsuspend {
        /// Certificate id or serial number.
        id: String,
    },
    /// Sign and write a fresh CRL.
    Crl {
        /// CA id or name (default: the default issuing CA).
        #[arg(long)]
        ca: Option<String>,
        /// Where to write the CRL (PEM unless --der).
        #[arg(long)]
        out: PathBuf,
        /// Write DER instead of PEM.
        #[arg(long)]
        der: bool,
    },
    /// List certificates in the inventory.
    List(ListArgs),
    /// Show one certificate.
    Show {
        /// Certificate id or serial number.
        id: String,
    },
    /// Show the audit log.
    Audit {
        /// Only events about this certificate.
        #[arg(long)]
        certificate: Option<String>,
        /// At most this many events (newest kept).
        #[arg(long)]
        limit: Option<u32>,
    },
    /// Manage deployment targets (servers a certificate is deployed to).
    #[command(subcommand)]
    Target(deploying::TargetCommand),
    /// Deploy a certificate to a target: precheck, write, config test, reload, pin check,
    /// rollback on failure. Exit code 8 when it fails.
    Deploy(deploying::DeployArgs),
    /// Check that an endpoint serves a certificate (SHA-256 fingerprint). Exit code 9 when it
    /// serves another one.
    PinCheck(deploying::PinCheckArgs),

    /// ACME accounts.
    #[command(subcommand)]
    Acme(acme::AcmeCommand),
    /// Orders kept for manual domain control validation.
    #[command(subcommand)]
    Order(acme::OrderCommand),
    /// Managed certificates: initiate, bulk configure, and the lifecycle actions as batches.
    #[command(subcommand)]
    Manage(lifecycle::ManageCommand),
    /// Renew and deploy managed certificates by their schedules, until SIGTERM (or `--once`).
    Agent(lifecycle::AgentArgs),
    /// Find certificates in files and on TLS endpoints and record them as `discovered`.
    #[command(subcommand)]
    Discover(discovering::DiscoverCommand),
    /// Serve the REST API (Infisical's certificate endpoints) and /metrics until SIGTERM.
    Serve(serving::ServeArgs),
    /// API credentials for `certloop serve`, each restricted to profiles and actions.
    #[command(subcommand)]
    Token(serving::TokenCommand),
}

/// `certloop ca ...`
#[derive(Debug, Subcommand)]
pub enum CaCommand {
    /// Create a CA from a JSON spec, or from flags.
    Create {
        /// JSON file with the CA spec (`name`, `subject`, `keyAlgorithm`, `parent`, ...).
        #[arg(long, conflicts_with_all = ["name", "cn"])]
        file: Option<PathBuf>,
        /// Short name.
        #[arg(long, required_unless_present = "file")]
        name: Option<String>,
        /// Subject common name.
        #[arg(long, required_unless_present = "file")]
        cn: Option<String>,
        /// Signing CA (id or name) for an intermediate.
        #[arg(long)]
        parent: Option<String>,
        /// Key algorithm.
        #[arg(long)]
        key_alg: Option<String>,
        /// Lifetime, e.g. 10y.
        #[arg(long)]
        ttl: Option<String>,
    },
    /// List CAs.
    List,
    /// Print (or write) a CA certificate.
    Export {
        /// CA id or name.
        ca: String,
        /// Include the chain up to the root.
        #[arg(long)]
        chain: bool,
        /// Write to this file instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// `certloop template|profile ...`
#[derive(Debug, Subcommand)]
pub enum DocumentCommand {
    /// Create or replace from a JSON file.
    Create {
        /// JSON file in the documented shape.
        #[arg(long)]
        file: PathBuf,
    },
    /// List them.
    List,
    /// Show one as JSON.
    Show {
        /// Id or slug.
        id: String,
    },
}

/// `certloop issue`
#[derive(Debug, Args)]
pub struct IssueArgs {
    /// Subject common name.
    #[arg(long)]
    pub cn: Option<String>,
    /// Subject alternative name: DNS:x, IP:x, EMAIL:x or URI:x (repeatable).
    #[arg(long = "san")]
    pub sans: Vec<String>,
    /// Profile slug or id (default: tls-server, created on first use).
    #[arg(long)]
    pub profile: Option<String>,
    /// Lifetime: 90d, 1y, 12h.
    #[arg(long)]
    pub ttl: Option<String>,
    /// Key algorithm for a generated key: EC_prime256v1, EC_secp384r1, ED25519, RSA_2048, ...
    #[arg(long)]
    pub key_alg: Option<String>,
    /// Signature algorithm: ECDSA-SHA256, RSA-SHA256, ...
    #[arg(long)]
    pub sig_alg: Option<String>,
    /// Use this PEM CSR (the key stays with you).
    #[arg(long)]
    pub csr: Option<PathBuf>,
    /// A whole request in the JSON shape (`profileId`, `csr`, `attributes`); flags override it.
    #[arg(long)]
    pub request: Option<PathBuf>,
    /// Keep the generated key (encrypted) in the inventory for deployment.
    #[arg(long, alias = "keep-key")]
    pub manage_key: bool,
    /// Directory for cert.pem, chain.pem, fullchain.pem, ca.pem and key.pem.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Issue this many certificates for the same names in one batch (benchmarks, load tests).
    #[arg(long, default_value_t = 1, hide = true)]
    pub count: usize,
    /// Keystore options for --out, and --target.
    #[command(flatten)]
    pub keystore: Box<deploying::IssueKeystoreArgs>,

    /// A dynamic connector parameter of the profile's script CA: NAME=VALUE (repeatable).
    #[arg(long = "param", value_name = "NAME=VALUE")]
    pub params: Vec<String>,
}

/// `certloop renew`
#[derive(Debug, Args)]
pub struct RenewArgs {
    /// Certificate id or serial number.
    #[arg(required_unless_present = "due", conflicts_with = "due")]
    pub id: Option<String>,
    /// Renew every auto-renewing certificate that is due now.
    #[arg(long)]
    pub due: bool,
    /// Directory for the renewed certificate's files (single renewal).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// A dynamic connector parameter of the profile's script CA: NAME=VALUE (repeatable).
    #[arg(long = "param", value_name = "NAME=VALUE", conflicts_with = "due")]
    pub params: Vec<String>,
}

/// `certloop list`
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Common name contains this (case-insensitive).
    #[arg(long)]
    pub cn: Option<String>,
    /// Has a SAN with this value.
    #[arg(long)]
    pub san: Option<String>,
    /// Only these states (repeatable): issued, revoked, suspended, ...
    #[arg(long)]
    pub state: Vec<String>,
    /// Expiring within this many days.
    #[arg(long)]
    pub expiring_within: Option<u32>,
    /// At most this many.
    #[arg(long)]
    pub limit: Option<u32>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.json;
    init_logging(cli.verbose);
    match commands::run(cli).await {
        Ok(()) => ExitCode::from(exit::OK),
        Err(error) => {
            if json {
                let body = serde_json::json!({
                    "error": {
                        "code": error.kind().code(),
                        "message": error.to_string(),
                        "violations": error.violations(),
                        "retryable": error.is_retryable(),
                    }
                });
                eprintln!("{body}");
            } else {
                eprintln!("certloop: {error}");
                for violation in error.violations() {
                    eprintln!("  - {violation}");
                }
            }
            ExitCode::from(exit::for_kind(error.kind()))
        }
    }
}

/// Log lines go to stderr, so stdout stays the command's output (`--json` stays parseable).
fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => tracing::Level::WARN,
        1 => tracing::Level::INFO,
        2 => tracing::Level::DEBUG,
        _ => tracing::Level::TRACE,
    };
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .without_time()
        .init();
}

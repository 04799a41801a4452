//! Domain control validation (DCV): proving to a CA that we control the names we ask for.
//!
//! A [`ChallengeSolver`] makes one challenge answerable (`present`), waits until it is
//! (`wait`) and removes it afterwards (`cleanup`). The solvers here: a token file in a web root
//! ([`HttpFileSolver`], RFC 8555 §8.3 or the CA/B Forum's `pki-validation` file), a standalone
//! HTTP-01 responder ([`StandaloneHttpSolver`]), and DNS-01 through a hook ([`DnsHookSolver`],
//! RFC 8555 §8.4). When automation cannot work (no solver chosen, web root missing or not
//! writable, the server not reachable) the caller falls back to [`ManualInstructions`] that a
//! person follows before resuming the order.

mod dns_hook;
mod standalone;
mod webroot;

use std::fmt;
use std::path::PathBuf;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub use dns_hook::{CommandDnsHook, DnsHook, DnsHookSolver};
pub use standalone::StandaloneHttpSolver;
pub use webroot::{HttpFileSolver, SelfCheck, TokenLocation};

use crate::error::{Error, Result};

/// Which kind of proof a challenge asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ChallengeKind {
    /// A file served over plain HTTP on port 80 (RFC 8555 §8.3).
    #[serde(rename = "http-01")]
    Http01,
    /// A TXT record at `_acme-challenge.<name>` (RFC 8555 §8.4).
    #[serde(rename = "dns-01")]
    Dns01,
}

impl fmt::Display for ChallengeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Http01 => "http-01",
            Self::Dns01 => "dns-01",
        })
    }
}

/// One challenge to answer. The key authorization is public by design (the CA fetches it), so
/// it is a plain string.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Challenge {
    /// HTTP-01 or DNS-01.
    pub kind: ChallengeKind,
    /// The identifier being validated (`example.com`; `*.` removed for wildcards).
    pub identifier: String,
    /// The challenge token (base64url); names the HTTP-01 file.
    pub token: String,
    /// `token.thumbprint`: the HTTP-01 file's content.
    pub key_authorization: String,
    /// base64url(SHA-256(key authorization)): the DNS-01 TXT value.
    pub dns_value: String,
}

impl Challenge {
    /// `_acme-challenge.<identifier>`, the DNS-01 record name (without the final dot).
    pub fn dns_record_name(&self) -> String {
        format!("_acme-challenge.{}", self.identifier)
    }

    /// Check that the token is base64url (RFC 8555 §8.1): it becomes a file name.
    pub fn check_token(&self) -> Result<()> {
        let ok = !self.token.is_empty()
            && self.token.len() <= 256
            && self.token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Ok(())
        } else {
            Err(Error::invalid("challenge.token", "the token is not base64url; refusing it"))
        }
    }
}

/// Answers challenges of one kind.
#[async_trait]
pub trait ChallengeSolver: Send + Sync + fmt::Debug {
    /// The kind of challenge this solver answers.
    fn kind(&self) -> ChallengeKind;

    /// Check, before anything is ordered, that the solver can work (web root exists and is
    /// writable, the hook exists, the port can be bound). An error here means "fall back to
    /// manual validation".
    async fn prepare(&self) -> Result<()> {
        Ok(())
    }

    /// Make `challenge` answerable.
    async fn present(&self, challenge: &Challenge) -> Result<()>;

    /// Wait until the answer is visible where the CA will look (self-check). An error here
    /// means "fall back to manual validation".
    async fn wait(&self, challenge: &Challenge) -> Result<()> {
        let _ = challenge;
        Ok(())
    }

    /// Remove what `present` created. Called whatever the outcome.
    async fn cleanup(&self, challenge: &Challenge) -> Result<()>;
}

/// How a profile validates names; `{"type": "http01-webroot", "path": "/var/www/html"}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", rename_all_fields = "camelCase")]
#[non_exhaustive]
pub enum SolverConfig {
    /// A token file written into the web root of a server that serves the names on port 80.
    #[serde(rename = "http01-webroot")]
    Http01Webroot {
        /// The web root (document root).
        path: PathBuf,
        /// Fetch the file over HTTP before telling the CA to look (optional).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        self_check: Option<SelfCheck>,
    },
    /// A small HTTP server of our own answering `/.well-known/acme-challenge/`.
    #[serde(rename = "http01-standalone")]
    Http01Standalone {
        /// Address to bind, e.g. `0.0.0.0:80` or `127.0.0.1:5002`.
        listen: String,
    },
    /// DNS-01 through a command: `COMMAND present|cleanup RECORD_NAME VALUE`.
    #[serde(rename = "dns01-hook")]
    Dns01Hook {
        /// The hook program (absolute path).
        command: PathBuf,
    },
    /// No automation: the order waits for a person (see [`ManualInstructions`]).
    #[default]
    Manual,
}

impl SolverConfig {
    /// The solver this configuration describes (`None` for manual validation). Binding ports
    /// and checking paths happens in [`ChallengeSolver::prepare`].
    pub fn solver(&self) -> Result<Option<Box<dyn ChallengeSolver>>> {
        Ok(match self {
            Self::Http01Webroot { path, self_check } => Some(Box::new(
                HttpFileSolver::new(path.clone(), TokenLocation::AcmeChallenge)
                    .with_self_check(self_check.clone()),
            )),
            Self::Http01Standalone { listen } => {
                let addr = listen.parse().map_err(|e| {
                    Error::invalid("issuer.solver.listen", format!("{listen:?}: {e}"))
                })?;
                Some(Box::new(StandaloneHttpSolver::new(addr)))
            }
            Self::Dns01Hook { command } => Some(Box::new(CommandDnsHook::new(command.clone())?)),
            Self::Manual => None,
        })
    }

    /// Check the fields a user wrote, naming the first bad one.
    pub fn validate(&self) -> Result<()> {
        match self {
            Self::Http01Webroot { path, .. } if path.as_os_str().is_empty() => {
                Err(Error::invalid("issuer.solver.path", "give the web root directory"))
            }
            Self::Http01Standalone { listen } => listen
                .parse::<std::net::SocketAddr>()
                .map(|_| ())
                .map_err(|e| Error::invalid("issuer.solver.listen", format!("{listen:?}: {e}"))),
            Self::Dns01Hook { command } if !command.is_absolute() => Err(Error::invalid(
                "issuer.solver.command",
                format!("{} must be an absolute path", command.display()),
            )),
            _ => Ok(()),
        }
    }
}

/// What a person must do before an order pending manual validation can be resumed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManualInstructions {
    /// Why automation did not run (DCV not selected, web root not writable, ...).
    pub reason: String,
    /// One step per name to validate.
    pub steps: Vec<ManualStep>,
}

/// One manual validation step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum ManualStep {
    /// Serve `content` at `http://<identifier>/<path>`.
    HttpFile {
        /// The name validated.
        identifier: String,
        /// Path under the web root: `.well-known/acme-challenge/<token>`.
        path: String,
        /// The full URL the CA fetches.
        url: String,
        /// The exact file content.
        content: String,
    },
    /// Publish a TXT record.
    DnsTxt {
        /// The name validated.
        identifier: String,
        /// The record name: `_acme-challenge.<identifier>`.
        name: String,
        /// The TXT value.
        value: String,
    },
}

impl ManualStep {
    /// The step for `challenge`.
    pub fn for_challenge(challenge: &Challenge) -> Self {
        match challenge.kind {
            ChallengeKind::Http01 => {
                let path = format!("{}/{}", TokenLocation::AcmeChallenge.dir(), challenge.token);
                Self::HttpFile {
                    identifier: challenge.identifier.clone(),
                    url: format!("http://{}/{path}", challenge.identifier),
                    path,
                    content: challenge.key_authorization.clone(),
                }
            }
            ChallengeKind::Dns01 => Self::DnsTxt {
                identifier: challenge.identifier.clone(),
                name: challenge.dns_record_name(),
                value: challenge.dns_value.clone(),
            },
        }
    }
}

impl fmt::Display for ManualInstructions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "manual validation needed: {}", self.reason)?;
        for step in &self.steps {
            match step {
                ManualStep::HttpFile { path, url, content, .. } => writeln!(
                    f,
                    "  - create the file {path} in the web root with the content\n      {content}\n    so that {url} serves it"
                )?,
                ManualStep::DnsTxt { name, value, .. } => {
                    writeln!(f, "  - publish a TXT record {name}. with the value\n      {value}")?
                }
            }
        }
        write!(f, "then run `certloop order resume <order id>`")
    }
}

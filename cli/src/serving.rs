//! `certloop serve` (the REST API) and `certloop token create|list|revoke` (its credentials).

use std::net::SocketAddr;

use certloop::model::{TokenAction, TokenSpec, Ttl};
use certloop::{Certloop, Error, Result};
use certloop_serve::ServeOptions;
use clap::{Args, Subcommand};

use crate::output::{json, table};

/// `certloop serve`
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0: any free port; the line printed says which).
    #[arg(long, default_value = "127.0.0.1:8443")]
    pub listen: SocketAddr,
    /// The largest request body accepted, in bytes.
    #[arg(long, default_value_t = 64 * 1024)]
    pub max_body_bytes: usize,
    /// Worker threads (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// The URL clients reach the server at (`https://ca.example:8443`), used in the ACME
    /// directory's links (default: `http://` + the request's Host).
    #[arg(long)]
    pub public_url: Option<String>,
    /// The port the ACME server's HTTP-01 validation connects to.
    #[arg(long, default_value_t = 80)]
    pub acme_http01_port: u16,
    /// Validate NAME at ADDRESS instead of resolving it (`www.example.test=127.0.0.1`,
    /// repeatable), like curl's --resolve.
    #[arg(long = "acme-resolve", value_name = "NAME=ADDRESS")]
    pub acme_resolve: Vec<String>,
    /// The DNS server (`ADDRESS:PORT`) DNS-01 asks for TXT records, and HTTP-01 for A records
    /// (default: the first nameserver of /etc/resolv.conf for DNS-01, the system resolver for
    /// HTTP-01).
    #[arg(long)]
    pub acme_dns_server: Option<SocketAddr>,
    /// Serve HTTPS with this PEM certificate chain (leaf first; needs --tls-key).
    #[arg(long)]
    pub tls_cert: Option<std::path::PathBuf>,
    /// The PEM private key of --tls-cert (PKCS#8, SEC1 or PKCS#1).
    #[arg(long)]
    pub tls_key: Option<std::path::PathBuf>,
}

/// `--acme-resolve` values as a map, naming the bad one.
fn resolve_map(values: &[String]) -> Result<std::collections::BTreeMap<String, std::net::IpAddr>> {
    values
        .iter()
        .map(|value| {
            let (name, address) = value.split_once('=').ok_or_else(|| {
                Error::invalid("--acme-resolve", format!("{value:?} is not NAME=ADDRESS"))
            })?;
            let address = address.parse().map_err(|_| {
                Error::invalid(
                    "--acme-resolve",
                    format!("{address:?} in {value:?} is not an IP address"),
                )
            })?;
            Ok((name.trim_end_matches('.').to_ascii_lowercase(), address))
        })
        .collect()
}

/// `certloop token ...`
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token; its secret is printed once and only its hash is kept.
    Create {
        /// Unique name, recorded as the actor of its requests.
        #[arg(long)]
        name: String,
        /// A profile (slug or id) it may use; repeat for several, `*` for all.
        #[arg(long = "profile", required = true)]
        profiles: Vec<String>,
        /// issue, renew, revoke, read, manageProfiles, or all; repeat for several.
        #[arg(long = "action", required = true)]
        actions: Vec<String>,
        /// How long it is valid, e.g. 90d (default: until revoked).
        #[arg(long)]
        ttl: Option<String>,
    },
    /// List tokens (never their secrets).
    List,
    /// Revoke a token by name or id.
    Revoke {
        /// Name or id.
        token: String,
    },
}

pub async fn token(certloop: &Certloop, command: TokenCommand, as_json: bool) -> Result<()> {
    match command {
        TokenCommand::Create { name, profiles, actions, ttl } => {
            let mut parsed = Vec::new();
            for action in &actions {
                if action.eq_ignore_ascii_case("all") {
                    parsed.extend(TokenAction::ALL);
                } else {
                    parsed.push(action.parse()?);
                }
            }
            parsed.sort_unstable();
            parsed.dedup();
            let ttl = ttl.map(|t| Ttl::parse_field(&t, "ttl")).transpose()?;
            let created =
                certloop.create_token(TokenSpec { name, profiles, actions: parsed, ttl }).await?;
            if as_json {
                return json(&created);
            }
            out!("{}", created.token.expose());
            eprintln!(
                "token {} created; the line above is its secret, shown this once",
                created.info.name
            );
            Ok(())
        }
        TokenCommand::List => {
            let tokens = certloop.list_tokens().await?;
            if as_json {
                return json(&tokens);
            }
            let rows: Vec<Vec<String>> = tokens
                .iter()
                .map(|t| {
                    let actions: Vec<&str> = t.actions.iter().map(|a| a.as_str()).collect();
                    let state = if t.revoked_at.is_some() {
                        "revoked".to_owned()
                    } else if let Some(at) = t.expires_at {
                        format!("expires {at}")
                    } else {
                        "active".to_owned()
                    };
                    vec![t.name.clone(), t.profiles.join(","), actions.join(","), state]
                })
                .collect();
            table(&["NAME", "PROFILES", "ACTIONS", "STATE"], &rows);
            Ok(())
        }
        TokenCommand::Revoke { token } => {
            let revoked = certloop.revoke_token(&token).await?;
            if as_json {
                return json(&revoked);
            }
            out!("revoked token {}", revoked.name);
            Ok(())
        }
    }
}

/// Serve the API until SIGTERM or Ctrl-C, on a runtime of its own with a thread per core
/// (the CLI's runtime has one thread).
pub async fn serve(certloop: Certloop, args: ServeArgs, verbose: bool) -> Result<()> {
    if let Some(url) = &args.public_url
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        return Err(Error::invalid("--public-url", format!("{url:?} is not an http(s) URL")));
    }
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(chain), Some(key)) => Some(certloop_serve::tls_config(chain, key)?),
        (None, None) => None,
        (Some(_), None) => return Err(Error::invalid("--tls-key", "--tls-cert needs --tls-key")),
        (None, Some(_)) => return Err(Error::invalid("--tls-cert", "--tls-key needs --tls-cert")),
    };
    let acme_validation = certloop::acme_server::ValidationOptions {
        http01_port: args.acme_http01_port,
        resolve: resolve_map(&args.acme_resolve)?,
        dns_server: args.acme_dns_server,
        ..Default::default()
    };
    let options = ServeOptions {
        max_body_bytes: args.max_body_bytes,
        request_log: verbose,
        public_url: args.public_url.clone(),
        acme_validation,
    };
    let threads = args.threads.unwrap_or_else(|| {
        std::thread::available_parallelism().map(std::num::NonZeroUsize::get).unwrap_or(2)
    });
    let listen = args.listen;
    let run = move || -> Result<()> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .enable_all()
            .build()
            .map_err(|e| Error::io("the server runtime", e))?;
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .map_err(|e| Error::io(format!("--listen {listen}"), e))?;
            let bound = listener.local_addr().map_err(|e| Error::io("--listen", e))?;
            let shutdown = crate::lifecycle::shutdown_signal();
            let served = match tls {
                Some(tls) => {
                    out!("certloop serve: listening on https://{bound}");
                    certloop_serve::serve_tls(listener, certloop, options, tls, shutdown).await
                }
                None => {
                    out!("certloop serve: listening on http://{bound}");
                    certloop_serve::serve(listener, certloop, options, shutdown).await
                }
            };
            served.map_err(|e| Error::io(format!("serving on {bound}"), e))
        })
    };
    tokio::task::spawn_blocking(run).await.map_err(|e| Error::io("the server thread", e))?
}

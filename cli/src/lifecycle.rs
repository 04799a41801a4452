//! `certloop manage ...` (managed certificates, bulk configure, the eight actions as batches)
//! and `certloop agent` (the loop that renews and deploys by itself).

use std::path::PathBuf;
use std::sync::Arc;

use certloop::lifecycle::agent::{Agent, AgentOptions};
use certloop::lifecycle::managed::{ConfigPatch, ManagedCertificate};
use certloop::lifecycle::notify::WebhookNotifier;
use certloop::model::{KeyAlgorithm, RevocationReason, Ttl};
use certloop::store::ManagedQuery;
use certloop::{Action, BatchOptions, Certloop, Error, ManageRequest, Result, SweepOptions};
use clap::{Args, Subcommand, ValueEnum};

use crate::output::{json, table};

/// `certloop manage ...`
#[derive(Debug, Subcommand)]
pub enum ManageCommand {
    /// Put certificates under management (initiate) from a JSON file: one request
    /// `{"certificateId": ..., "config": {...}}` or a list of them (all or none).
    Add {
        /// JSON file in the documented shape (README "Lifecycle").
        #[arg(long)]
        file: PathBuf,
    },
    /// List managed certificates.
    List {
        /// Only these states (repeatable).
        #[arg(long)]
        state: Vec<String>,
    },
    /// Show one managed certificate as JSON.
    Show {
        /// Id or name.
        id: String,
    },
    /// Bulk configure: apply one change (profile, key algorithm, validity, renewal rule,
    /// deployment rule, targets) to every named certificate, all or none.
    Configure {
        /// Ids or names.
        #[arg(required = true)]
        ids: Vec<String>,
        /// JSON file with the patch: `{"keyAlgorithm": "RSA_3072", "validity": "365d"}`.
        #[arg(long)]
        patch: PathBuf,
    },
    /// Run an action on one or many certificates (a batch): per-item results, a progress bar,
    /// a JSON summary with --json. Exit code 7 when any item failed.
    Run(RunArgs),
}

/// `certloop manage run`
#[derive(Debug, Args)]
pub struct RunArgs {
    /// What to do.
    #[arg(value_enum)]
    pub action: ActionName,
    /// Ids or names.
    #[arg(required = true)]
    pub ids: Vec<String>,
    /// For rekey: the new key algorithm (EC_prime256v1, RSA_3072, ...).
    #[arg(long)]
    pub key_alg: Option<String>,
    /// For revoke: the reason.
    #[arg(long)]
    pub reason: Option<String>,
    /// Items worked on at once.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Stop starting new items after the first failure.
    #[arg(long)]
    pub stop_on_error: bool,
}

/// The actions, as the command line spells them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ActionName {
    /// Order a new certificate; deployment follows the schedule.
    Order,
    /// Deploy now.
    Deploy,
    /// Stop tracking (servers are left alone).
    Delete,
    /// Check what the target endpoints serve.
    PinCheck,
    /// New certificate, deployed now.
    Rotate,
    /// New key pair and certificate, deployed now.
    Rekey,
    /// Revoke at the CA.
    Revoke,
    /// Put on hold.
    Suspend,
}

/// `certloop agent`
#[derive(Debug, Args)]
pub struct AgentArgs {
    /// One pass over what is due now, then exit (cron, CI).
    #[arg(long)]
    pub once: bool,
    /// This agent's name in work claims (default: the host name); keep it stable so a
    /// restarted agent takes back its own work.
    #[arg(long, env = "CERTLOOP_AGENT_NAME")]
    pub name: Option<String>,
    /// POST a JSON notification here on renewal failure, deploy failure, pin mismatch and
    /// expiry soon.
    #[arg(long, env = "CERTLOOP_WEBHOOK_URL")]
    pub webhook: Option<String>,
    /// Items worked on at once.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// How long this agent's claim on due work holds: when it dies, another agent takes the
    /// work over after this long (`30s`, `10m`).
    #[arg(long, default_value = "10m", value_parser = |s: &str| Ttl::parse_field(s, "--lease"))]
    pub lease: Ttl,
    /// Due certificates claimed at a time.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub chunk: u32,
    /// Re-check every place the inventory knows (discovered files and endpoints, deployed
    /// targets) this often, recording drift in the audit log (`6h`, `1d`); off by default.
    #[arg(long, value_parser = |s: &str| Ttl::parse_field(s, "--rediscover-every"))]
    pub rediscover_every: Option<Ttl>,
}

pub async fn manage(certloop: &Certloop, command: ManageCommand, as_json: bool) -> Result<()> {
    match command {
        ManageCommand::Add { file } => {
            let text = std::fs::read_to_string(&file).map_err(|e| Error::io(file.display(), e))?;
            let name = file.display().to_string();
            let value: serde_json::Value = certloop::wire::from_str(&text, &name)?;
            let requests: Vec<ManageRequest> = match value {
                serde_json::Value::Array(_) => certloop::wire::from_value(value, &name)?,
                one => vec![certloop::wire::from_value(one, &name)?],
            };
            let managed = certloop.manage_many(requests).await?;
            print_managed(&managed, as_json)
        }
        ManageCommand::List { state } => {
            let states = state.iter().map(|s| s.parse()).collect::<Result<Vec<_>>>()?;
            let query = ManagedQuery { states, ..ManagedQuery::default() };
            print_managed(&certloop.list_managed(&query).await?, as_json)
        }
        ManageCommand::Show { id } => json(&certloop.managed(&id).await?),
        ManageCommand::Configure { ids, patch } => {
            let text =
                std::fs::read_to_string(&patch).map_err(|e| Error::io(patch.display(), e))?;
            let patch: ConfigPatch = certloop::wire::from_str(&text, &patch.display().to_string())?;
            print_managed(&certloop.bulk_configure(&ids, &patch).await?, as_json)
        }
        ManageCommand::Run(args) => run(certloop, args, as_json).await,
    }
}

async fn run(certloop: &Certloop, args: RunArgs, as_json: bool) -> Result<()> {
    let action = match args.action {
        ActionName::Order => Action::Order,
        ActionName::Deploy => Action::Deploy,
        ActionName::Delete => Action::Delete,
        ActionName::PinCheck => Action::PinCheck,
        ActionName::Rotate => Action::Rotate,
        ActionName::Rekey => Action::Rekey {
            key_algorithm: args.key_alg.as_deref().map(str::parse::<KeyAlgorithm>).transpose()?,
        },
        ActionName::Revoke => Action::Revoke {
            reason: args.reason.as_deref().map(str::parse::<RevocationReason>).transpose()?,
        },
        ActionName::Suspend => Action::Suspend,
    };
    let options = BatchOptions {
        concurrency: args.concurrency.max(1),
        continue_on_error: !args.stop_on_error,
    };
    let bar = crate::commands::progress_bar(args.ids.len() as u64, action.name(), as_json);
    let tick = bar.clone();
    let report = certloop
        .batch(&args.ids, action, options, move |done, _| tick.set_position(done as u64))
        .await?;
    bar.finish_and_clear();
    if as_json {
        json(&report)?;
    } else {
        let rows: Vec<Vec<String>> = report
            .items
            .iter()
            .map(|i| {
                vec![
                    i.id.clone(),
                    if i.ok { "ok".into() } else { "FAILED".into() },
                    i.state.map(|s| s.to_string()).unwrap_or_default(),
                    i.detail.clone(),
                ]
            })
            .collect();
        table(&["ID", "RESULT", "STATE", "DETAIL"], &rows);
        out!(
            "{}: {} succeeded, {} failed, {} skipped of {}",
            report.action,
            report.succeeded,
            report.failed,
            report.skipped,
            report.total
        );
    }
    if report.failed > 0 || report.skipped > 0 {
        return Err(Error::InvalidState(format!(
            "{} of {} items failed",
            report.failed + report.skipped,
            report.total
        )));
    }
    Ok(())
}

pub async fn agent(certloop: Certloop, args: AgentArgs, as_json: bool) -> Result<()> {
    let owner = args.name.clone().unwrap_or_else(host_name);
    // The audit log says which of several agents sharing a database did what.
    let mut certloop = certloop.with_actor(format!("agent/{owner}"));
    if let Some(url) = &args.webhook {
        certloop = certloop.with_notifier(Arc::new(WebhookNotifier::new(url)?));
    }
    let options = AgentOptions {
        sweep: SweepOptions {
            owner,
            concurrency: args.concurrency.max(1),
            lease: args.lease.duration(),
            chunk: args.chunk,
            ..SweepOptions::default()
        },
        rediscover_every: args.rediscover_every.map(Ttl::duration),
        ..AgentOptions::default()
    };
    let agent = Agent::new(certloop, options);
    let summary = if args.once {
        agent.run_once().await?
    } else {
        tracing::info!("agent running; SIGTERM or Ctrl-C stops it after the current sweep");
        agent.run(shutdown_signal()).await
    };
    if as_json {
        return json(&summary);
    }
    out!(
        "{} sweeps: {} renewed, {} deployed, {} retried, {} failed, {} expired",
        summary.sweeps,
        summary.work.renewed,
        summary.work.deployed,
        summary.work.retried,
        summary.work.failed,
        summary.expired
    );
    for item in &summary.work.errors {
        out!("  {}: {}", item.id, item.detail);
    }
    if summary.rediscoveries > 0 {
        out!("{} rediscoveries: {} places drifted", summary.rediscoveries, summary.drifts);
    }
    Ok(())
}

/// SIGTERM or SIGINT.
pub(crate) async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "agent".to_owned())
}

fn print_managed(managed: &[ManagedCertificate], as_json: bool) -> Result<()> {
    if as_json {
        return json(&managed);
    }
    let when = |t: Option<time::OffsetDateTime>| {
        t.and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
            .unwrap_or_else(|| "-".to_owned())
    };
    let rows: Vec<Vec<String>> = managed
        .iter()
        .map(|m| {
            vec![
                m.id.clone(),
                m.name.clone(),
                m.state.to_string(),
                m.config.profile.clone(),
                when(m.next_check_at),
                when(m.next_deploy_at),
            ]
        })
        .collect();
    table(&["ID", "NAME", "STATE", "PROFILE", "NEXT CHECK", "NEXT DEPLOY"], &rows);
    Ok(())
}

//! `certloop acme ...` and `certloop order ...`: ACME accounts and orders pending manual
//! validation. Output goes through a locked stdout with errors handled (no broken-pipe panic).

use std::io::Write;
use std::path::PathBuf;

use certloop::{Certloop, Error, PendingOrder, Result};
use clap::Subcommand;

/// `certloop acme ...`
#[derive(Debug, Subcommand)]
pub enum AcmeCommand {
    /// ACME accounts.
    #[command(subcommand)]
    Account(AccountCommand),
    /// External account keys for `certloop serve`'s ACME server (profiles with
    /// `"acmeConfig": {"externalAccountRequired": true}`).
    #[command(subcommand)]
    Eab(EabCommand),
}

/// `certloop acme eab ...`
#[derive(Debug, Subcommand)]
pub enum EabCommand {
    /// Make a key id and HMAC key for an ACME client (certbot `--eab-kid --eab-hmac-key`,
    /// lego `--eab --kid --hmac`); the HMAC key is printed once and kept sealed.
    Create {
        /// The ACME-enrolled profile (slug or id).
        #[arg(long)]
        profile: String,
    },
}

/// `certloop acme account ...`
#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Register the account of an ACME profile (or reuse the stored one).
    Register {
        /// The ACME profile (slug or id).
        #[arg(long)]
        profile: String,
    },
    /// List stored ACME accounts (never their keys).
    List,
}

/// `certloop order ...`
#[derive(Debug, Subcommand)]
pub enum OrderCommand {
    /// List orders kept for manual validation.
    List,
    /// Show one order and its instructions.
    Show {
        /// Order id.
        id: String,
    },
    /// Complete an order once the file or DNS record is in place.
    Resume {
        /// Order id.
        id: String,
        /// Directory for cert.pem, chain.pem, fullchain.pem, ca.pem and key.pem.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// Write `text` to stdout; a closed pipe is not an error worth a panic.
fn emit(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Error::io("stdout", e)),
    }
}

fn emit_json<T: serde::Serialize>(value: &T) -> Result<()> {
    let text =
        serde_json::to_string_pretty(value).map_err(|e| Error::invalid("output", e.to_string()))?;
    emit(&format!("{text}\n"))
}

/// Run `certloop acme ...`.
pub async fn acme(certloop: &Certloop, command: AcmeCommand, as_json: bool) -> Result<()> {
    match command {
        AcmeCommand::Account(AccountCommand::Register { profile }) => {
            let account = certloop.acme_register(&profile).await?;
            if as_json {
                return emit_json(&account);
            }
            emit(&format!(
                "ACME account {} ({}) at {}\n",
                account.id, account.account_url, account.directory_url
            ))
        }
        AcmeCommand::Eab(EabCommand::Create { profile }) => {
            let created = certloop.acme_server_create_eab(&profile).await?;
            if as_json {
                return emit_json(&serde_json::json!({
                    "kid": created.kid,
                    "hmacKey": created.hmac_key.expose(),
                    "profile": created.profile,
                }));
            }
            emit(&format!(
                "kid {}\nhmac-key {}\n(for profile {}; the HMAC key is not shown again)\n",
                created.kid,
                created.hmac_key.expose(),
                created.profile
            ))
        }
        AcmeCommand::Account(AccountCommand::List) => {
            let accounts = certloop.acme_accounts().await?;
            if as_json {
                return emit_json(&accounts);
            }
            let mut text = String::new();
            for a in accounts {
                text.push_str(&format!(
                    "{}  {}  {}  {}\n",
                    a.id,
                    a.directory_url,
                    a.email.as_deref().unwrap_or("-"),
                    a.account_url
                ));
            }
            emit(&text)
        }
    }
}

/// Run `certloop order ...`.
pub async fn order(certloop: &Certloop, command: OrderCommand, as_json: bool) -> Result<()> {
    match command {
        OrderCommand::List => {
            let orders = certloop.list_orders().await?;
            if as_json {
                return emit_json(&orders);
            }
            let mut text = String::new();
            for o in orders {
                text.push_str(&format!(
                    "{}  {:?}  {}  {}\n",
                    o.id,
                    o.status,
                    o.names.join(","),
                    o.certificate_id.as_deref().unwrap_or("-")
                ));
            }
            emit(&text)
        }
        OrderCommand::Show { id } => show_order(&certloop.get_order(&id).await?, as_json),
        OrderCommand::Resume { id, out } => {
            let issued = certloop.resume_order(&id).await?;
            let files = match &out {
                Some(dir) => crate::output::write_bundle(dir, &issued)?.files,
                None => Vec::new(),
            };
            if as_json {
                return emit_json(&issued);
            }
            let mut text = format!(
                "issued certificate {} (serial {})\n",
                issued.certificate_id, issued.serial_number
            );
            for file in files {
                text.push_str(&format!("  wrote {}\n", file.display()));
            }
            if out.is_none() {
                text.push_str(&issued.certificate);
            }
            emit(&text)
        }
    }
}

/// Print a kept order: status, names and the instructions.
pub fn show_order(order: &PendingOrder, as_json: bool) -> Result<()> {
    if as_json {
        return emit_json(order);
    }
    let mut text = format!(
        "order {}\n  status: {:?}\n  names: {}\n  ACME order: {}\n",
        order.id,
        order.status,
        order.names.join(", "),
        order.order_url
    );
    if let Some(id) = &order.certificate_id {
        text.push_str(&format!("  certificate: {id}\n"));
    }
    if let Some(error) = &order.error {
        text.push_str(&format!("  error: {error}\n"));
    }
    text.push_str(&format!("{}\n", order.instructions).replace("<order id>", &order.id));
    emit(&text)
}

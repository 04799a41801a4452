//! What each command does, over the [`certloop::Certloop`] façade.

use std::fs;
use std::path::Path;

use certloop::ca::CaSpec;
use certloop::model::{
    CertificateAttributes, CertificateRecord, CertificateState, IssueRequest, IssuedCertificate,
    Subject, SubjectAltName, Ttl,
};
use certloop::policy::{CertificateProfile, CertificateTemplate};
use certloop::store::{AuditQuery, CertificateQuery};
use certloop::{Certloop, Error, Result};
use indicatif::{ProgressBar, ProgressStyle};

use crate::output::{self, json, table};
use crate::{CaCommand, Cli, Command, DocumentCommand, IssueArgs, ListArgs, RenewArgs};

/// Run one command.
pub async fn run(cli: Cli) -> Result<()> {
    let mut certloop =
        Certloop::open_with_store(&cli.home, cli.store.as_deref()).await?.with_actor("cli");
    // Script CA profiles may only name scripts under this directory, when it is set.
    if let Some(root) = std::env::var_os("CERTLOOP_SCRIPT_ROOT").filter(|r| !r.is_empty()) {
        certloop = certloop.with_script_root(root)?;
    }
    let as_json = cli.json;
    let verbose = cli.verbose > 0;
    match cli.command {
        Command::Init => {
            let setup = certloop.init_default().await?;
            if as_json {
                return json(&setup);
            }
            let verb = if setup.created { "created" } else { "already set up" };
            out!(
                "{verb}: root CA {}, issuing CA {}, profile {}",
                setup.root_ca.name,
                setup.issuing_ca.name,
                setup.profile.slug
            );
            Ok(())
        }
        Command::Ca(command) => ca(&certloop, command, as_json).await,
        Command::Template(command) => template(&certloop, command, as_json).await,
        Command::Profile(command) => profile(&certloop, command, as_json).await,
        Command::Issue(args) => issue(&certloop, args, as_json).await,
        Command::Renew(args) => renew(&certloop, args, as_json).await,
        Command::Revoke { id, reason } => {
            let record = certloop.revoke(&id, reason.parse()?).await?;
            print_record_change(&record, as_json)
        }
        Command::Suspend { id } => print_record_change(&certloop.suspend(&id).await?, as_json),
        Command::Unsuspend { id } => print_record_change(&certloop.unsuspend(&id).await?, as_json),
        Command::Crl { ca, out, der } => {
            let crl = certloop.crl(ca.as_deref()).await?;
            let bytes = if der { crl.der.clone() } else { crl.pem.clone().into_bytes() };
            output::write_atomic(&out, &bytes, 0o644)?;
            if as_json {
                return json(
                    &serde_json::json!({"crlNumber": crl.number, "path": out.display().to_string()}),
                );
            }
            out!("CRL {} written to {}", crl.number, out.display());
            Ok(())
        }
        Command::List(args) => list(&certloop, args, as_json).await,
        Command::Target(command) => crate::deploying::target(&certloop, command, as_json).await,
        Command::Deploy(args) => crate::deploying::deploy(&certloop, args, as_json).await,
        Command::PinCheck(args) => crate::deploying::pin_check(&certloop, args, as_json).await,

        Command::Acme(command) => crate::acme::acme(&certloop, command, as_json).await,
        Command::Order(command) => crate::acme::order(&certloop, command, as_json).await,
        Command::Manage(command) => crate::lifecycle::manage(&certloop, command, as_json).await,
        Command::Agent(args) => crate::lifecycle::agent(certloop, args, as_json).await,
        Command::Serve(args) => crate::serving::serve(certloop, args, verbose).await,
        Command::Token(command) => crate::serving::token(&certloop, command, as_json).await,
        Command::Discover(command) => {
            crate::discovering::discover(&certloop, command, as_json).await
        }
        Command::Show { id } => {
            let record = match certloop.show(&id).await {
                Err(Error::NotFound { .. }) if certloop.get_order(&id).await.is_ok() => {
                    // An order pending manual validation has no certificate yet.
                    return crate::acme::show_order(&certloop.get_order(&id).await?, as_json);
                }
                other => other?,
            };
            if as_json {
                return json(&record);
            }
            print_record(&record);
            Ok(())
        }
        Command::Audit { certificate, limit } => {
            let events = certloop
                .audit_log(&AuditQuery { certificate_id: certificate, since: None, limit })
                .await?;
            if as_json {
                return json(&events);
            }
            let rows = events
                .iter()
                .map(|e| {
                    vec![
                        e.sequence.to_string(),
                        rfc3339(e.at),
                        format!("{:?}", e.action),
                        e.certificate_id
                            .clone()
                            .or_else(|| e.subject_id.clone())
                            .unwrap_or_default(),
                        e.actor.clone(),
                        format!("{:?}", e.outcome),
                        e.detail.clone(),
                    ]
                })
                .collect::<Vec<_>>();
            table(&["SEQ", "AT", "ACTION", "OBJECT", "ACTOR", "OUTCOME", "DETAIL"], &rows);
            Ok(())
        }
    }
}

async fn ca(certloop: &Certloop, command: CaCommand, as_json: bool) -> Result<()> {
    match command {
        CaCommand::Create { file, name, cn, parent, key_alg, ttl } => {
            let spec: CaSpec = match file {
                Some(file) => read_json(&file)?,
                None => CaSpec {
                    name: name.unwrap_or_default(),
                    subject: Subject::common_name(cn.unwrap_or_default()),
                    key_algorithm: key_alg
                        .as_deref()
                        .map(str::parse)
                        .transpose()?
                        .unwrap_or_default(),
                    ttl: ttl.as_deref().map(|t| Ttl::parse_field(t, "ttl")).transpose()?,
                    parent,
                    path_length: None,
                    name_constraints: None,
                    crl_distribution_points: Vec::new(),
                    ca_issuers: Vec::new(),
                },
            };
            let summary = certloop.create_ca(spec).await?;
            if as_json {
                return json(&summary);
            }
            out!("created CA {} ({})", summary.name, summary.id);
            Ok(())
        }
        CaCommand::List => {
            let cas = certloop.list_cas().await?;
            if as_json {
                return json(&cas);
            }
            let rows = cas
                .iter()
                .map(|c| {
                    vec![
                        c.name.clone(),
                        c.id.clone(),
                        c.subject.clone(),
                        c.key_algorithm.clone(),
                        rfc3339(c.not_after),
                    ]
                })
                .collect::<Vec<_>>();
            table(&["NAME", "ID", "SUBJECT", "KEY", "NOT AFTER"], &rows);
            Ok(())
        }
        CaCommand::Export { ca, chain, out } => {
            let summary = certloop.get_ca(&ca).await?;
            let pem = if chain { summary.certificate_chain } else { summary.certificate };
            match out {
                Some(path) => {
                    output::write_atomic(&path, pem.as_bytes(), 0o644)?;
                }
                None => out_raw!("{pem}"),
            }
            Ok(())
        }
    }
}

async fn template(certloop: &Certloop, command: DocumentCommand, as_json: bool) -> Result<()> {
    match command {
        DocumentCommand::Create { file } => {
            let template: CertificateTemplate = read_json(&file)?;
            let saved = certloop.save_template(template).await?;
            if as_json {
                return json(&saved);
            }
            out!("saved template {} ({})", saved.slug, saved.id);
            Ok(())
        }
        DocumentCommand::List => {
            let templates = certloop.list_templates().await?;
            if as_json {
                return json(&templates);
            }
            let rows = templates
                .iter()
                .map(|t| {
                    vec![
                        t.slug.clone(),
                        t.id.clone(),
                        t.max_ttl().map(|t| t.to_string()).unwrap_or_default(),
                    ]
                })
                .collect::<Vec<_>>();
            table(&["SLUG", "ID", "MAX TTL"], &rows);
            Ok(())
        }
        DocumentCommand::Show { id } => json(&certloop.get_template(&id).await?),
    }
}

async fn profile(certloop: &Certloop, command: DocumentCommand, as_json: bool) -> Result<()> {
    match command {
        DocumentCommand::Create { file } => {
            let profile: CertificateProfile = read_json(&file)?;
            let saved = certloop.save_profile(profile).await?;
            if as_json {
                return json(&saved);
            }
            out!("saved profile {} ({})", saved.slug, saved.id);
            Ok(())
        }
        DocumentCommand::List => {
            let profiles = certloop.list_profiles().await?;
            if as_json {
                return json(&profiles);
            }
            let rows = profiles
                .iter()
                .map(|p| vec![p.slug.clone(), p.id.clone(), p.template_id.clone()])
                .collect::<Vec<_>>();
            table(&["SLUG", "ID", "TEMPLATE"], &rows);
            Ok(())
        }
        DocumentCommand::Show { id } => json(&certloop.get_profile(&id).await?),
    }
}

async fn issue(certloop: &Certloop, args: IssueArgs, as_json: bool) -> Result<()> {
    let mut request: IssueRequest = match &args.request {
        Some(path) => read_json(path)?,
        None => IssueRequest::default(),
    };
    apply_flags(&mut request, &args)?;
    crate::deploying::check_issue_args(&args)?;
    if args.keystore.target.is_some() {
        // Deploying (now and later) needs the key kept, sealed, in the inventory.
        request.manage_key = true;
    }
    if request.profile_id.is_none() {
        // Zero-config first run: the embedded default is created on first use.
        certloop.init_default().await?;
    }
    if args.count > 1 {
        return issue_batch(certloop, request, args.count, as_json).await;
    }
    let issued = certloop.issue(request).await?;
    let files = match &args.out {
        Some(dir) if args.keystore.is_pem() => output::write_bundle(dir, &issued)?.files,
        Some(dir) => {
            crate::deploying::write_issued_keystore(certloop, &issued, dir, &args.keystore).await?
        }
        None => Vec::new(),
    };
    if args.keystore.target.is_some() {
        return crate::deploying::deploy_issued(certloop, &issued, &files, &args.keystore, as_json)
            .await;
    }
    if as_json {
        return json(&issued);
    }
    out!("issued certificate {} (serial {})", issued.certificate_id, issued.serial_number);
    for file in files {
        out!("  wrote {}", file.display());
    }
    if args.out.is_none() {
        out_raw!("{}", issued.certificate);
    }
    Ok(())
}

fn apply_flags(request: &mut IssueRequest, args: &IssueArgs) -> Result<()> {
    if let Some(profile) = &args.profile {
        request.profile_id = Some(profile.clone());
    }
    let attributes: &mut CertificateAttributes = &mut request.attributes;
    if let Some(cn) = &args.cn {
        attributes.subject.common_name = Some(cn.clone());
    }
    if !args.sans.is_empty() {
        let sans = args
            .sans
            .iter()
            .map(|s| SubjectAltName::parse_tagged(s))
            .collect::<Result<Vec<_>>>()?;
        attributes.alt_names = Some(sans);
    }
    if let Some(ttl) = &args.ttl {
        attributes.ttl = Some(Ttl::parse_field(ttl, "ttl")?);
    }
    if let Some(alg) = &args.key_alg {
        attributes.key_algorithm = Some(alg.parse()?);
    }
    if let Some(alg) = &args.sig_alg {
        attributes.signature_algorithm = Some(alg.parse()?);
    }
    if let Some(csr) = &args.csr {
        let pem = fs::read_to_string(csr).map_err(|e| Error::io(csr.display(), e))?;
        request.csr = Some(pem);
    }
    request.manage_key |= args.manage_key;
    for (name, value) in parse_params(&args.params)? {
        request.connector_params.insert(name, value);
    }
    Ok(())
}

/// `--param NAME=VALUE` flags as (name, value) pairs.
fn parse_params(flags: &[String]) -> Result<Vec<(String, String)>> {
    flags
        .iter()
        .map(|flag| match flag.split_once('=') {
            Some((name, value)) if !name.trim().is_empty() => {
                Ok((name.trim().to_owned(), value.to_owned()))
            }
            _ => Err(Error::invalid(
                "--param",
                format!("{flag:?} is not NAME=VALUE (e.g. --param ticket=CHG-42)"),
            )),
        })
        .collect()
}

async fn issue_batch(
    certloop: &Certloop,
    request: IssueRequest,
    count: usize,
    as_json: bool,
) -> Result<()> {
    let bar = progress_bar(count as u64, "issuing", as_json);
    let requests = vec![request; count];
    let results = certloop.issue_many(requests, |done, _| bar.set_position(done as u64)).await?;
    bar.finish_and_clear();
    let issued: Vec<&IssuedCertificate> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    if let Some(Err(first)) = results.iter().find(|r| r.is_err()) {
        eprintln!("certloop: {} of {count} refused; first: {first}", count - issued.len());
    }
    if as_json {
        let ids: Vec<&str> = issued.iter().map(|i| i.certificate_id.as_str()).collect();
        return json(&serde_json::json!({"issued": ids.len(), "certificateIds": ids}));
    }
    out!("issued {} of {count} certificates", issued.len());
    Ok(())
}

async fn renew(certloop: &Certloop, args: RenewArgs, as_json: bool) -> Result<()> {
    if let Some(id) = args.id {
        let params = parse_params(&args.params)?.into_iter().collect();
        let issued = certloop.renew_with(&id, params).await?;
        if let Some(dir) = &args.out {
            output::write_bundle(dir, &issued)?;
        }
        if as_json {
            return json(&issued);
        }
        out!("renewed {id} as {} (serial {})", issued.certificate_id, issued.serial_number);
        return Ok(());
    }
    // Overdue certificates are marked expired first; they are reported, not renewed.
    let expired = certloop.expire_overdue().await?;
    let due = certloop.renewals_due().await?;
    let bar = progress_bar(due.len() as u64, "renewing", as_json);
    let mut report = Vec::new();
    for item in &due {
        let outcome = certloop.renew(&item.certificate.certificate_id).await;
        report.push(serde_json::json!({
            "certificateId": item.certificate.certificate_id,
            "reason": item.reason,
            "renewedAs": outcome.as_ref().ok().map(|i| i.certificate_id.clone()),
            "error": outcome.as_ref().err().map(ToString::to_string),
        }));
        bar.inc(1);
    }
    bar.finish_and_clear();
    if as_json {
        let expired: Vec<&str> = expired.iter().map(|r| r.certificate_id.as_str()).collect();
        return json(&serde_json::json!({"expired": expired, "renewals": report}));
    }
    for record in &expired {
        out!("expired: {} ({})", record.certificate_id, record.common_name);
    }
    out!("{} certificate(s) were due", due.len());
    for line in &report {
        out!("  {line}");
    }
    Ok(())
}

async fn list(certloop: &Certloop, args: ListArgs, as_json: bool) -> Result<()> {
    let states = args.state.iter().map(|s| s.parse()).collect::<Result<Vec<CertificateState>>>()?;
    let records = match args.expiring_within {
        Some(days) if args.cn.is_none() && args.san.is_none() && states.is_empty() => {
            certloop.expiring_within(days).await?
        }
        days => {
            let now = time::OffsetDateTime::now_utc();
            let query = CertificateQuery {
                common_name: args.cn,
                san: args.san,
                states,
                expiring_before: days.map(|d| now + time::Duration::days(i64::from(d))),
                limit: args.limit,
                ..CertificateQuery::default()
            };
            certloop.list(&query).await?
        }
    };
    if as_json {
        return json(&records);
    }
    let rows = records
        .iter()
        .map(|r| {
            vec![
                r.certificate_id.clone(),
                r.common_name.clone(),
                r.state.to_string(),
                rfc3339(r.not_after),
                r.serial_number.clone(),
            ]
        })
        .collect::<Vec<_>>();
    table(&["ID", "COMMON NAME", "STATE", "NOT AFTER", "SERIAL"], &rows);
    Ok(())
}

fn print_record_change(record: &CertificateRecord, as_json: bool) -> Result<()> {
    if as_json {
        return json(record);
    }
    out!("certificate {} is now {}", record.certificate_id, record.state);
    Ok(())
}

fn print_record(record: &CertificateRecord) {
    let sans: Vec<String> = record.alt_names.iter().map(ToString::to_string).collect();
    let fields = [
        ("id", record.certificate_id.clone()),
        ("common name", record.common_name.clone()),
        ("subject", record.subject.clone()),
        ("issuer", record.issuer.clone()),
        ("alt names", sans.join(", ")),
        ("serial", record.serial_number.clone()),
        ("not before", rfc3339(record.not_before)),
        ("not after", rfc3339(record.not_after)),
        ("state", record.state.to_string()),
        ("sha-256", record.fingerprint_sha256.clone()),
    ];
    for (name, value) in fields {
        out!("{name:<12} {value}");
    }
}

/// A spinner with a count, for work of unknown length (a file scan).
pub(crate) fn spinner(message: &'static str, quiet: bool) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner().with_message(message);
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg}: {pos} {per_sec}") {
        bar.set_style(style);
    }
    bar
}

pub(crate) fn progress_bar(len: u64, message: &'static str, quiet: bool) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len).with_message(message);
    if let Ok(style) = ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} {per_sec}") {
        bar.set_style(style);
    }
    bar
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = fs::read_to_string(path).map_err(|e| Error::io(path.display(), e))?;
    certloop::wire::from_str(&text, &path.display().to_string())
}

fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339).unwrap_or_else(|_| at.to_string())
}

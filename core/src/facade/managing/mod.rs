//! The lifecycle engine's façade: managed certificates, the eight actions of the provisioning
//! document (initiate, order, deploy, delete, pin check, rotate, rekey, revoke/suspend), bulk
//! configure, batches, and the sweep that `certloop agent` runs at every due schedule.
//!
//! Every piece of work is one managed certificate, processed into a [`WriteSet`]: the store
//! applies it in one transaction, so a renewal is recorded completely or not at all, and a
//! batch commits many of them at once. Deployments do their own I/O and audit their steps as
//! they go (see [`Certloop::deploy_with_report`]).

use std::collections::HashSet;

use tokio::task::JoinSet;

use super::issuing::IssueContext;
use super::*;

use crate::lifecycle::managed::ProvisioningConfig;
use crate::lifecycle::managed::{CompiledConfig, ConfigPatch, CsrConfig, ManagedCertificate};
use crate::lifecycle::notify::{Notification, NotificationKind};
use crate::model::KeyAlgorithm;
use crate::store::{ManagedQuery, WriteSet};

mod batch;
mod deploying;
mod requests;

pub use requests::*;

/// Certificates committed together by a batch or a sweep.
const COMMIT_CHUNK: usize = 256;

/// What to do with one claimed or selected managed certificate.
#[derive(Clone, Debug)]
enum Job {
    /// Whatever its schedules say is due.
    Sweep(Arc<SweepOptions>),
    /// A user's action.
    Action(Action),
}

/// The result of the first (store-free) phase of one item.
struct Worked {
    managed: ManagedCertificate,
    set: WriteSet,
    deploy: Option<DeployMode>,
    notifications: Vec<Notification>,
    outcome: Result<String>,
    counts: SweepReport,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DeployMode {
    /// The schedule said so: only inside the window.
    Scheduled,
    /// A user asked: now.
    Forced,
}

/// Issue contexts shared by the items of a batch, by profile.
#[derive(Default)]
struct Contexts(std::sync::Mutex<HashMap<String, Arc<IssueContext>>>);

impl Contexts {
    async fn get(&self, certloop: &Certloop, profile: &str) -> Result<Arc<IssueContext>> {
        if let Some(found) = self.lock().get(profile) {
            return Ok(found.clone());
        }
        let context = Arc::new(certloop.issue_context(profile).await?);
        self.lock().insert(profile.to_owned(), context.clone());
        Ok(context)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<IssueContext>>> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Certloop {
    // ---- managing -----------------------------------------------------------------------------

    /// Put one certificate under management (initiate). See [`Certloop::manage_many`].
    pub async fn manage(&self, request: ManageRequest) -> Result<ManagedCertificate> {
        let mut managed = self.manage_many(vec![request]).await?;
        managed.pop().ok_or_else(|| Error::store("no managed certificate was created"))
    }

    /// Put certificates under management, all or none: every configuration is checked (its
    /// profile and targets must exist, its schedules must be able to fire) before anything is
    /// stored. The certificate in service is not touched; its renewal is scheduled by the
    /// configuration. Audit: the configuration and the transition to `managed`, per item.
    pub async fn manage_many(
        &self,
        requests: Vec<ManageRequest>,
    ) -> Result<Vec<ManagedCertificate>> {
        let now = self.now();
        let many = requests.len() > 1;
        let mut set = WriteSet::default();
        let mut taken = HashSet::new();
        for (i, request) in requests.into_iter().enumerate() {
            let at = |e: Error| if many { in_item(e, i) } else { e };
            let compiled = self.check_config(&request.config, now).await.map_err(at)?;
            let record = match &request.certificate_id {
                Some(id) => Some(self.show(id).await.map_err(at)?),
                None => None,
            };
            if let Some(record) = &record {
                if !record.state.is_live() {
                    return Err(at(Error::InvalidState(format!(
                        "certificate {} is {} and cannot be managed",
                        record.certificate_id, record.state
                    ))));
                }
                let query = ManagedQuery {
                    certificate_id: Some(record.certificate_id.clone()),
                    ..ManagedQuery::default()
                };
                let existing = self.inner.store.list_managed(&query).await?;
                if !existing.is_empty() || !taken.insert(record.certificate_id.clone()) {
                    return Err(at(Error::AlreadyExists {
                        what: "managed certificate",
                        id: format!("for certificate {}", record.certificate_id),
                    }));
                }
            } else if !matches!(request.config.csr, CsrConfig::FullOverride { .. }) {
                return Err(at(Error::invalid(
                    "config.csr",
                    "without a certificateId there is no identity to reuse: use csr mode \
                     fullOverride with the commonName and altNames to order",
                )));
            }
            let name = match request.name.clone().filter(|n| !n.trim().is_empty()) {
                Some(name) => name,
                None => default_name(record.as_ref(), &request.config),
            };
            let next_check_at = match &record {
                Some(record) => {
                    let ari = self.ari_start(&record.certificate_id).await;
                    compiled.next_check(record, ari, now)
                }
                // Nothing issued yet: the first sweep orders it (when renewal is on).
                None => compiled.renewal_enabled().then_some(now),
            };
            let managed = ManagedCertificate {
                id: uuid::Uuid::new_v4().to_string(),
                name,
                state: CertificateState::Managed,
                certificate_id: record.as_ref().map(|r| r.certificate_id.clone()),
                pending_certificate_id: None,
                config: request.config.clone(),
                next_check_at,
                next_deploy_at: None,
                attempts: 0,
                last_error: None,
                expiry_warned_for: None,
                lease_owner: None,
                lease_until: None,
                created_at: now,
                updated_at: now,
            };
            let from = record.as_ref().map_or("nothing".to_owned(), |r| r.state.to_string());
            let detail = format!(
                "{} under profile {} ({:?} deployment to [{}]); next check {}",
                managed.name,
                managed.config.profile,
                managed.config.deployment_type,
                managed.config.targets.join(", "),
                show_time(managed.next_check_at),
            );
            set.events.push(self.managed_event(&managed, AuditAction::ManagedConfigured, detail));
            set.events.push(self.transition_event(&managed, &from, "managed", "initiated"));
            set.managed.push(managed);
        }
        self.inner.store.write(&set).await?;
        Ok(set.managed)
    }

    /// One managed certificate by id or name.
    pub async fn managed(&self, id_or_name: &str) -> Result<ManagedCertificate> {
        self.inner.store.get_managed(id_or_name).await
    }

    /// Managed certificates matching `query`.
    pub async fn list_managed(&self, query: &ManagedQuery) -> Result<Vec<ManagedCertificate>> {
        self.inner.store.list_managed(query).await
    }

    /// One sweep of the agent: claim what is due now, renew and deploy it, release it.
    /// Work another agent holds is left alone; work this `owner` held before a restart is
    /// taken back (it was never recorded, because every change commits atomically).
    pub async fn sweep(&self, options: &SweepOptions) -> Result<SweepReport> {
        let now = self.now();
        let options = Arc::new(options.clone());
        let mut report = SweepReport::default();
        let mut seen = HashSet::new();
        loop {
            // Each claim holds for the lease from when it is made, however long the sweep ran.
            let lease_until = self.now() + options.lease;
            let claimed = self
                .inner
                .store
                .claim_due(now, &options.owner, lease_until, options.chunk.max(1))
                .await?;
            let fresh: Vec<ManagedCertificate> =
                claimed.into_iter().filter(|m| seen.insert(m.id.clone())).collect();
            if fresh.is_empty() {
                return Ok(report);
            }
            let mut counts = SweepReport::default();
            self.run_jobs(
                fresh,
                Job::Sweep(options.clone()),
                options.concurrency,
                Some(&mut counts),
                &mut |_, _| {},
            )
            .await?;
            report.add(counts);
        }
    }

    /// When the agent must next wake: the earliest due schedule.
    pub async fn next_due_at(&self) -> Result<Option<OffsetDateTime>> {
        self.inner.store.next_due_at().await
    }

    // ---- the engine ---------------------------------------------------------------------------

    /// Work `items` (store-free phase in parallel), commit their write sets together, then
    /// deploy those that need it, send notifications, and return each item's outcome.
    async fn run_jobs(
        &self,
        items: Vec<ManagedCertificate>,
        job: Job,
        concurrency: usize,
        mut counts: Option<&mut SweepReport>,
        progress: &mut (dyn FnMut(usize, usize) + Send),
    ) -> Result<Vec<(ManagedCertificate, Result<String>)>> {
        let fence = match &job {
            Job::Sweep(options) => Some(options.owner.clone()),
            Job::Action(_) => None,
        };
        let contexts = Arc::new(Contexts::default());
        let total = items.len();
        let mut worked: Vec<Option<Worked>> = (0..total).map(|_| None).collect();
        let mut tasks = JoinSet::new();
        let mut queue = items.into_iter().enumerate();
        let limit = concurrency.max(1);
        loop {
            while tasks.len() < limit {
                let Some((i, managed)) = queue.next() else { break };
                let (this, job, contexts) = (self.clone(), job.clone(), contexts.clone());
                tasks.spawn(async move { (i, this.work(managed, &job, &contexts).await) });
            }
            let Some(joined) = tasks.join_next().await else { break };
            let (i, mut one) = joined.map_err(|e| Error::store(format!("a task failed: {e}")))?;
            one.set.fence = fence.clone();
            worked[i] = Some(one);
            progress(worked.iter().filter(|w| w.is_some()).count(), total);
        }
        let mut worked: Vec<Worked> = worked.into_iter().flatten().collect();
        self.commit(&mut worked).await;
        let mut results = Vec::with_capacity(worked.len());
        for mut one in worked {
            if one.outcome.is_ok()
                && let Some(mode) = one.deploy
            {
                let options = match &job {
                    Job::Sweep(options) => options.clone(),
                    Job::Action(_) => Arc::new(SweepOptions::default()),
                };
                let (managed, outcome, counts_now, notes) =
                    self.deploy_managed(one.managed, mode, &options, fence.clone()).await;
                one.managed = managed;
                one.counts.add(counts_now);
                one.notifications.extend(notes);
                one.outcome = match (one.outcome, outcome) {
                    (Ok(before), Ok(after)) if before.is_empty() => Ok(after),
                    (Ok(before), Ok(after)) => Ok(format!("{before}; {after}")),
                    (_, Err(e)) => Err(e),
                    (Err(e), _) => Err(e),
                };
            }
            for notification in &one.notifications {
                self.send(notification).await;
            }
            if let Some(counts) = counts.as_deref_mut() {
                counts.add(std::mem::take(&mut one.counts));
                if let Err(e) = &one.outcome {
                    counts.errors.push(failed_item(&one.managed.id, Some(one.managed.state), e));
                }
            }
            results.push((one.managed, one.outcome));
        }
        Ok(results)
    }

    /// Commit the write sets of `worked` in one transaction; when that fails, one by one, so
    /// that one bad item fails alone (its outcome becomes the store error).
    async fn commit(&self, worked: &mut [Worked]) {
        let mut all = WriteSet::default();
        for one in worked.iter() {
            all.extend(one.set.clone());
        }
        if self.inner.store.write(&all).await.is_ok() {
            return;
        }
        for one in worked.iter_mut() {
            if let Err(e) = self.inner.store.write(&one.set).await {
                one.outcome = Err(e);
                one.deploy = None;
                one.notifications.clear();
            }
        }
    }

    /// The store-free phase of one item: decide, issue (the CA call), build the write set.
    async fn work(&self, managed: ManagedCertificate, job: &Job, contexts: &Contexts) -> Worked {
        let now = self.now();
        let mut worked = Worked {
            managed: managed.clone(),
            set: WriteSet::default(),
            deploy: None,
            notifications: Vec::new(),
            outcome: Ok(String::new()),
            counts: SweepReport { processed: 1, ..SweepReport::default() },
        };
        let compiled = match managed.config.compile() {
            Ok(compiled) => compiled,
            Err(e) => {
                // A configuration that no longer compiles (e.g. a time zone renamed in the tz
                // database): fail it instead of claiming it forever.
                let mut m = managed;
                m.next_check_at = None;
                m.next_deploy_at = None;
                self.fail(&mut worked, m, e, None);
                return worked;
            }
        };
        let result = match job {
            Job::Sweep(options) => {
                self.work_due(&mut worked, managed, &compiled, options, contexts, now).await
            }
            Job::Action(action) => {
                self.work_action(&mut worked, managed, &compiled, action, contexts, now).await
            }
        };
        if let Err(e) = result {
            worked.outcome = Err(e);
        }
        worked
    }

    /// A claimed item: renew when its check finds it due, mark deployments.
    async fn work_due(
        &self,
        worked: &mut Worked,
        mut m: ManagedCertificate,
        compiled: &CompiledConfig,
        options: &SweepOptions,
        contexts: &Contexts,
        now: OffsetDateTime,
    ) -> Result<()> {
        let claim = (m.lease_owner.take(), m.lease_until.take());
        let check_due = m.next_check_at.is_some_and(|t| t <= now);
        let deploy_due = m.next_deploy_at.is_some_and(|t| t <= now);
        if check_due {
            let newest = match m.pending_certificate_id.as_ref().or(m.certificate_id.as_ref()) {
                Some(id) => Some(self.show(id).await?),
                None => None,
            };
            let in_service = match (&m.certificate_id, &m.pending_certificate_id) {
                (Some(id), Some(_)) => Some(self.show(id).await?),
                _ => newest.clone(),
            };
            if let Some(current) = &in_service {
                self.warn_expiry(worked, &mut m, current, options, now);
            }
            let reason = match &newest {
                None => Some("first order".to_owned()),
                Some(record) if record.not_after <= now => {
                    Some(format!("expired at {}", record.not_after))
                }
                Some(record) => {
                    let ari = if compiled.use_ari() {
                        self.ari_start(&record.certificate_id).await
                    } else {
                        None
                    };
                    let due = compiled.trigger_at(record).min(ari.unwrap_or(record.not_after));
                    (due <= now).then(|| {
                        format!(
                            "{} trigger at {due} (notAfter {})",
                            match ari {
                                Some(start) if start <= compiled.trigger_at(record) => "ARI",
                                _ => compiled.trigger_name(),
                            },
                            record.not_after
                        )
                    })
                }
            };
            match (reason, newest) {
                (Some(reason), newest) => {
                    if let Some(record) = &newest
                        && record.not_after <= now
                        && m.state != CertificateState::Expired
                    {
                        let from = m.state.to_string();
                        m.state = CertificateState::Expired;
                        worked.set.events.push(self.transition_event(&m, &from, "expired", ""));
                    }
                    let issued =
                        self.order(worked, &mut m, compiled, newest, None, &reason, contexts).await;
                    match issued {
                        Ok(()) => {
                            worked.counts.renewed += 1;
                            if compiled.deploys() {
                                worked.deploy = Some(DeployMode::Scheduled);
                            }
                        }
                        Err(e) => {
                            self.retry_or_fail(worked, m, compiled, e, options, now);
                            return Ok(());
                        }
                    }
                }
                (None, Some(record)) => {
                    let ari = self.ari_start(&record.certificate_id).await;
                    m.next_check_at = compiled.next_check(&record, ari, now);
                }
                (None, None) => m.next_check_at = None,
            }
        }
        if deploy_due && worked.deploy.is_none() {
            worked.deploy = Some(DeployMode::Scheduled);
        }
        if worked.deploy.is_some() {
            // Still ours until the deployment is recorded (which releases it).
            (m.lease_owner, m.lease_until) = claim;
        }
        m.updated_at = now;
        worked.managed = m.clone();
        worked.set.managed.push(m);
        Ok(())
    }

    /// A user's action on one item.
    async fn work_action(
        &self,
        worked: &mut Worked,
        mut m: ManagedCertificate,
        compiled: &CompiledConfig,
        action: &Action,
        contexts: &Contexts,
        now: OffsetDateTime,
    ) -> Result<()> {
        if m.state == CertificateState::Deleted {
            return Err(Error::InvalidState(format!("managed certificate {} was deleted", m.name)));
        }
        if m.state == CertificateState::Revoked && *action != Action::Delete {
            return Err(Error::InvalidState(format!(
                "managed certificate {} is revoked; manage a new certificate instead",
                m.name
            )));
        }
        let newest = match m.pending_certificate_id.as_ref().or(m.certificate_id.as_ref()) {
            Some(id) => Some(self.show(id).await?),
            None => None,
        };
        let detail = match action {
            Action::Order | Action::Rotate | Action::Rekey { .. } => {
                let key = match action {
                    Action::Rekey { key_algorithm } => key_algorithm
                        .or(m.config.key_algorithm)
                        .or(newest.as_ref().and_then(|r| r.key_algorithm)),
                    _ => None,
                };
                let why = format!("{} requested by {}", action.name(), self.inner.actor);
                self.order(worked, &mut m, compiled, newest, key, &why, contexts).await?;
                if *action != Action::Order {
                    if m.config.targets.is_empty() {
                        return Err(Error::InvalidState(format!(
                            "{} was issued, but {} has no deployment target to {} to",
                            m.pending_certificate_id.as_deref().unwrap_or_default(),
                            m.name,
                            action.name()
                        )));
                    }
                    worked.deploy = Some(DeployMode::Forced);
                } else if compiled.deploys() {
                    worked.deploy = Some(DeployMode::Scheduled);
                }
                format!(
                    "issued {}",
                    m.pending_certificate_id
                        .as_ref()
                        .or(m.certificate_id.as_ref())
                        .map_or("", |s| s)
                )
            }
            Action::Deploy => {
                if newest.is_none() {
                    return Err(Error::InvalidState(format!(
                        "managed certificate {} has no certificate to deploy yet; order one",
                        m.name
                    )));
                }
                if m.config.targets.is_empty() {
                    return Err(Error::InvalidState(format!(
                        "managed certificate {} has no deployment target",
                        m.name
                    )));
                }
                worked.deploy = Some(DeployMode::Forced);
                String::new()
            }
            Action::Delete => {
                let from = m.state.to_string();
                m.state = CertificateState::Deleted;
                m.next_check_at = None;
                m.next_deploy_at = None;
                worked.set.events.push(self.transition_event(
                    &m,
                    &from,
                    "deleted",
                    "tracking stopped; the servers were left as they are",
                ));
                "tracking stopped".to_owned()
            }
            Action::PinCheck => self.pin_check_targets(worked, &m).await?,
            Action::Revoke { reason } => {
                let id = m.certificate_id.clone().ok_or_else(|| nothing_in_service(&m))?;
                let reason = reason.unwrap_or(RevocationReason::Unspecified);
                self.revoke(&id, reason).await?;
                let from = m.state.to_string();
                m.state = if reason == RevocationReason::CertificateHold {
                    CertificateState::Suspended
                } else {
                    CertificateState::Revoked
                };
                m.next_check_at = None;
                m.next_deploy_at = None;
                let to = m.state.to_string();
                worked.set.events.push(self.transition_event(&m, &from, &to, reason.as_str()));
                format!("revoked {id} ({reason})")
            }
            Action::Suspend => {
                let id = m.certificate_id.clone().ok_or_else(|| nothing_in_service(&m))?;
                self.suspend(&id).await?;
                let from = m.state.to_string();
                m.state = CertificateState::Suspended;
                m.next_check_at = None;
                m.next_deploy_at = None;
                worked.set.events.push(self.transition_event(
                    &m,
                    &from,
                    "suspended",
                    "schedules paused",
                ));
                format!("suspended {id}")
            }
        };
        m.updated_at = now;
        worked.outcome = Ok(detail);
        worked.managed = m.clone();
        worked.set.managed.push(m);
        Ok(())
    }

    /// Issue the next certificate of `m` (the CA call) and record it in `worked.set`: the new
    /// certificate, the previous one marked renewed, the transitions, the new schedules.
    #[allow(clippy::too_many_arguments)]
    async fn order(
        &self,
        worked: &mut Worked,
        m: &mut ManagedCertificate,
        compiled: &CompiledConfig,
        previous: Option<CertificateRecord>,
        key_algorithm: Option<KeyAlgorithm>,
        reason: &str,
        contexts: &Contexts,
    ) -> Result<()> {
        let now = self.now();
        let context = contexts.get(self, &m.config.profile).await?;
        let request = self.renewal_request(m, previous.as_ref(), key_algorithm)?;
        let (new, _response) = self.sign(&context, &request, previous.as_ref()).await?;
        let from = m.state.to_string();
        let new_id = new.record.certificate_id.clone();
        let serial = new.record.serial_number.clone();
        let ari = match &context.acme {
            Some(_) => self.ari_start(&new_id).await,
            None => None,
        };
        m.next_check_at = compiled.next_check(&new.record, ari, now);
        if compiled.deploys() {
            m.pending_certificate_id = Some(new_id.clone());
            m.next_deploy_at = compiled.next_deploy(now);
        } else {
            m.certificate_id = Some(new_id.clone());
            m.pending_certificate_id = None;
            m.next_deploy_at = None;
        }
        m.state = CertificateState::Issued;
        m.attempts = 0;
        m.last_error = None;
        m.updated_at = now;
        worked.set.events.push(self.transition_event(m, &from, "ordered", reason));
        let detail = format!(
            "serial {serial}; deployment {}; next check {}",
            match m.next_deploy_at {
                Some(at) => format!("at {at}"),
                None if compiled.deploys() => "not scheduled".to_owned(),
                None => "not automatic".to_owned(),
            },
            show_time(m.next_check_at)
        );
        let mut issued_event = self.transition_event(m, "ordered", "issued", &detail);
        issued_event.certificate_id = Some(new_id.clone());
        if let Some(mut old) = previous {
            old.renewed_by = Some(new_id.clone());
            old.updated_at = now;
            worked.set.events.push(self.event(
                AuditAction::Renewed,
                Some(&old.certificate_id),
                Some(&m.id),
                AuditOutcome::Success,
                format!("replaced by {new_id}"),
            ));
            worked.set.certificate_updates.push(old);
        }
        worked.set.new_certificates.push(new);
        worked.set.events.push(issued_event);
        Ok(())
    }

    /// The issue request for the next certificate of `m`, by its CSR mode.
    fn renewal_request(
        &self,
        m: &ManagedCertificate,
        previous: Option<&CertificateRecord>,
        key_algorithm: Option<KeyAlgorithm>,
    ) -> Result<IssueRequest> {
        let key_algorithm =
            key_algorithm.or(m.config.key_algorithm).or(previous.and_then(|r| r.key_algorithm));
        let mut attributes = crate::model::CertificateAttributes {
            key_algorithm,
            ttl: m.config.validity,
            ..Default::default()
        };
        match (&m.config.csr, previous) {
            (CsrConfig::FullOverride { common_name, alt_names }, _) => {
                attributes.subject.common_name = common_name.clone();
                attributes.alt_names = Some(alt_names.clone());
            }
            (mode, Some(previous)) => {
                let info = crypto::inspect_certificate(previous.certificate.as_bytes())?;
                attributes.subject = info.subject.clone();
                attributes.alt_names = Some(previous.alt_names.clone());
                attributes.key_usages = Some(info.key_usages.clone());
                attributes.extended_key_usages = Some(info.extended_key_usages.clone());
                if let CsrConfig::PartialOverride { common_name, alt_names } = mode {
                    if let Some(cn) = common_name {
                        attributes.subject.common_name = Some(cn.clone());
                    }
                    if let Some(alt_names) = alt_names {
                        attributes.alt_names = Some(alt_names.clone());
                    }
                }
            }
            (_, None) => {
                return Err(Error::invalid(
                    "config.csr",
                    format!(
                        "{} has no certificate whose identity could be reused: use csr mode \
                         fullOverride",
                        m.name
                    ),
                ));
            }
        }
        Ok(IssueRequest {
            profile_id: Some(m.config.profile.clone()),
            csr: None,
            attributes,
            manage_key: true,
            connector_params: crate::model::ConnectorParams::default(),
        })
    }

    /// After a failed renewal: retry with backoff when the error is retryable and attempts
    /// remain, otherwise mark failed until the next regular check. Notifies on failure.
    fn retry_or_fail(
        &self,
        worked: &mut Worked,
        mut m: ManagedCertificate,
        compiled: &CompiledConfig,
        error: Error,
        options: &SweepOptions,
        now: OffsetDateTime,
    ) {
        m.attempts += 1;
        if error.is_retryable() && m.attempts < options.max_attempts {
            let at = now + retry_delay(options, &m);
            m.next_check_at = Some(at);
            m.last_error = Some(error.to_string());
            m.updated_at = now;
            let detail = format!("attempt {} failed: {error}; retry at {at}", m.attempts);
            worked.set.events.push(self.managed_event(&m, AuditAction::RenewalFailed, detail));
            worked.counts.retried += 1;
            worked.outcome = Err(error);
            worked.managed = m.clone();
            worked.set.managed.push(m);
            return;
        }
        m.next_check_at = Some(compiled.check_after(now));
        self.fail(worked, m, error, Some(NotificationKind::RenewalFailed));
    }

    /// Mark `m` failed with `error` (and notify).
    fn fail(
        &self,
        worked: &mut Worked,
        mut m: ManagedCertificate,
        error: Error,
        notify: Option<NotificationKind>,
    ) {
        let now = self.now();
        let from = m.state.to_string();
        m.state = CertificateState::Failed;
        m.last_error = Some(error.to_string());
        m.updated_at = now;
        release(&mut m);
        let detail = format!("{error}; next check {}", show_time(m.next_check_at));
        worked.set.events.push(self.transition_event(&m, &from, "failed", &detail));
        if let Some(kind) = notify {
            worked.notifications.push(self.notification(
                &m,
                kind,
                &detail,
                m.certificate_id.as_deref(),
            ));
        }
        worked.counts.failed += 1;
        worked.outcome = Err(error);
        worked.managed = m.clone();
        worked.set.managed.push(m);
    }

    fn warn_expiry(
        &self,
        worked: &mut Worked,
        m: &mut ManagedCertificate,
        current: &CertificateRecord,
        options: &SweepOptions,
        now: OffsetDateTime,
    ) {
        if current.not_after - now > options.expiry_warning
            || m.expiry_warned_for.as_deref() == Some(current.certificate_id.as_str())
        {
            return;
        }
        m.expiry_warned_for = Some(current.certificate_id.clone());
        let text = format!("{} expires at {}", current.certificate_id, current.not_after);
        let mut note = self.notification(
            m,
            NotificationKind::ExpirySoon,
            &text,
            Some(&current.certificate_id),
        );
        note.not_after = Some(current.not_after);
        worked.notifications.push(note);
    }

    // ---- helpers -------------------------------------------------------------------------------

    /// Validate a configuration against the store: schedules, the profile, the targets.
    async fn check_config(
        &self,
        config: &ProvisioningConfig,
        now: OffsetDateTime,
    ) -> Result<CompiledConfig> {
        let compiled = config.validate(now).map_err(|e| prefix_field(e, "config"))?;
        match self.profile_and_template(&config.profile).await {
            Ok(_) => {}
            Err(Error::NotFound { what, id }) => {
                return Err(Error::invalid(
                    "config.profile",
                    format!("{what} {id} does not exist"),
                ));
            }
            Err(e) => return Err(e),
        }
        for (i, target) in config.targets.iter().enumerate() {
            if let Err(Error::NotFound { .. }) = self.target(target).await {
                return Err(Error::invalid(
                    format!("config.targets[{i}]"),
                    format!("no deployment target is named {target}; save it first"),
                ));
            }
        }
        Ok(compiled)
    }

    /// Recompute `m`'s schedules under `compiled` (after a configuration change).
    async fn reschedule(
        &self,
        m: &mut ManagedCertificate,
        compiled: &CompiledConfig,
        now: OffsetDateTime,
    ) -> Result<()> {
        let newest = m.pending_certificate_id.as_ref().or(m.certificate_id.as_ref()).cloned();
        m.next_check_at = match &newest {
            Some(id) => {
                let record = self.show(id).await?;
                let ari = self.ari_start(id).await;
                compiled.next_check(&record, ari, now)
            }
            None => compiled.renewal_enabled().then_some(now),
        };
        m.next_deploy_at = match &m.pending_certificate_id {
            Some(_) => compiled.next_deploy(now),
            None => None,
        };
        Ok(())
    }

    /// The start of the ACME CA's suggested renewal window for a certificate, if it gave one.
    async fn ari_start(&self, certificate_id: &str) -> Option<OffsetDateTime> {
        self.acme_renewal_window(certificate_id).await.ok().flatten().map(|w| w.start)
    }

    fn managed_event(
        &self,
        m: &ManagedCertificate,
        action: AuditAction,
        detail: String,
    ) -> AuditEvent {
        let outcome = match action {
            AuditAction::RenewalFailed => AuditOutcome::Failure,
            _ => AuditOutcome::Success,
        };
        let cert = m.pending_certificate_id.as_deref().or(m.certificate_id.as_deref());
        self.event(action, cert, Some(&m.id), outcome, detail)
    }

    fn transition_event(
        &self,
        m: &ManagedCertificate,
        from: &str,
        to: &str,
        why: &str,
    ) -> AuditEvent {
        let outcome = if to == "failed" { AuditOutcome::Failure } else { AuditOutcome::Success };
        let detail = if why.is_empty() {
            format!("{}: {from} -> {to}", m.name)
        } else {
            format!("{}: {from} -> {to}: {why}", m.name)
        };
        let cert = m.certificate_id.as_deref();
        self.event(AuditAction::ManagedTransition, cert, Some(&m.id), outcome, detail)
    }

    fn notification(
        &self,
        m: &ManagedCertificate,
        kind: NotificationKind,
        message: &str,
        certificate_id: Option<&str>,
    ) -> Notification {
        Notification {
            kind,
            at: self.now(),
            managed_id: m.id.clone(),
            name: m.name.clone(),
            certificate_id: certificate_id.map(str::to_owned),
            not_after: None,
            message: message.to_owned(),
        }
    }

    /// Deliver a notification; a failure is audited, never fatal.
    async fn send(&self, notification: &Notification) {
        let (outcome, detail) = match self.inner.notifier.notify(notification).await {
            Ok(()) => (
                AuditOutcome::Success,
                format!("{:?}: {}", notification.kind, notification.message),
            ),
            Err(e) => {
                (AuditOutcome::Failure, format!("{:?} not delivered: {e}", notification.kind))
            }
        };
        let cert = notification.certificate_id.as_deref();
        let subject = Some(notification.managed_id.as_str());
        if let Err(e) = self.audit(AuditAction::Notified, cert, subject, outcome, detail).await {
            tracing::warn!(error = %e, "cannot audit a notification");
        }
    }
}

/// Drop the claim fields (the write releases the claim).
fn release(m: &mut ManagedCertificate) {
    m.lease_owner = None;
    m.lease_until = None;
}

/// The retry delay after `m.attempts` failures: base × 2^(attempts-1), at most six hours,
/// plus up to 10% jitter derived from the id (deterministic, so tests replay exactly).
fn retry_delay(options: &SweepOptions, m: &ManagedCertificate) -> time::Duration {
    let exponent = m.attempts.saturating_sub(1).min(16);
    let delay = (options.retry_base * 2_i32.pow(exponent)).min(time::Duration::hours(6));
    let hash = m.id.bytes().fold(u64::from(m.attempts), |h, b| {
        h.wrapping_mul(0x0100_0000_01b3).wrapping_add(u64::from(b))
    });
    let jitter = delay.whole_seconds().max(1) / 10;
    delay + time::Duration::seconds((hash % (jitter.max(1) as u64)) as i64)
}

fn default_name(record: Option<&CertificateRecord>, config: &ProvisioningConfig) -> String {
    if let Some(record) = record {
        if !record.common_name.is_empty() {
            return record.common_name.clone();
        }
        if let Some(san) = record.alt_names.first() {
            return san.value.clone();
        }
        return record.certificate_id.clone();
    }
    match &config.csr {
        CsrConfig::FullOverride { common_name: Some(cn), .. } if !cn.is_empty() => cn.clone(),
        CsrConfig::FullOverride { alt_names, .. } if !alt_names.is_empty() => {
            alt_names[0].value.clone()
        }
        _ => uuid::Uuid::new_v4().to_string(),
    }
}

fn show_time(at: Option<OffsetDateTime>) -> String {
    match at.and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok()) {
        Some(text) => text,
        None => "none".to_owned(),
    }
}

fn nothing_in_service(m: &ManagedCertificate) -> Error {
    Error::InvalidState(format!("managed certificate {} has no certificate in service", m.name))
}

fn failed_item(id: &str, state: Option<CertificateState>, e: &Error) -> BatchItem {
    BatchItem {
        id: id.to_owned(),
        ok: false,
        state,
        detail: e.to_string(),
        error_code: Some(e.kind().code()),
    }
}

/// `e` with its field prefixed by `prefix.` (`renewal.check.timeZone` → `config.renewal...`).
fn prefix_field(e: Error, prefix: &str) -> Error {
    match e {
        Error::InvalidInput { field, message } => {
            Error::InvalidInput { field: format!("{prefix}.{field}"), message }
        }
        other => other,
    }
}

/// `e` as the error of item `i` of a list (`[3].config.profile`).
fn in_item(e: Error, i: usize) -> Error {
    match e {
        Error::InvalidInput { field, message } => {
            Error::InvalidInput { field: format!("[{i}].{field}"), message }
        }
        other => other,
    }
}

//! Managed certificates: a provisioning configuration (the provisioning-bot document's five
//! steps) bound to an inventory record, and the arithmetic that says when the agent next looks
//! at one. Pure: no I/O and no clock; times are arguments.
//!
//! A managed certificate moves `managed → ordered → issued → deployed` (and `failed`,
//! `revoked`, `suspended`, `expired`, `deleted`); the façade records every transition in the
//! audit log. `certificate_id` is the certificate in service; a renewed certificate waits in
//! `pending_certificate_id` (state `issued`) until its deployment schedule lets it out.

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use super::schedule::{
    CompiledRecurrence, CompiledWindow, Frequency, LocalDateTime, Recurrence, WindowSpec,
};
use crate::error::{Error, Result};
use crate::model::{CertificateRecord, CertificateState, KeyAlgorithm, SubjectAltName, Ttl};

/// Longest renew-before window accepted, in days (ten years).
const MAX_DAYS_BEFORE_EXPIRY: i64 = 3650;

/// One managed certificate. Serde: camelCase JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManagedCertificate {
    /// Store id (UUID).
    pub id: String,
    /// Unique name (defaults to the common name).
    pub name: String,
    /// Where it is in its lifecycle.
    pub state: CertificateState,
    /// The certificate in service (deployed, or issued when nothing is deployed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_id: Option<String>,
    /// A renewed certificate waiting for its deployment window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_certificate_id: Option<String>,
    /// How it is issued, renewed and deployed.
    pub config: ProvisioningConfig,
    /// When the renewal check next runs; `None` when renewal is off or nothing is left to do.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub next_check_at: Option<OffsetDateTime>,
    /// When the pending certificate is next deployed (the window's opening).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub next_deploy_at: Option<OffsetDateTime>,
    /// Failed attempts of the current job (reset on success).
    #[serde(default)]
    pub attempts: u32,
    /// The last failure, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// The certificate an expiry warning was last sent for (sent once per certificate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry_warned_for: Option<String>,
    /// The agent working on it now, if any (set by the store's claim).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_owner: Option<String>,
    /// Until when that agent's claim holds.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub lease_until: Option<OffsetDateTime>,
    /// When it was put under management.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl ManagedCertificate {
    /// When the agent must next look at it: the earlier of the check and the deployment.
    pub fn due_at(&self) -> Option<OffsetDateTime> {
        match (self.next_check_at, self.next_deploy_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// The provisioning configuration. JSON (every section but `profile` optional):
///
/// ```json
/// {"profile": "tls-server", "targets": ["web-1"], "deploymentType": "automatic",
///  "csr": {"mode": "reuseExisting"}, "keyAlgorithm": "EC_prime256v1", "rollback": true,
///  "renewal": {"enabled": true, "trigger": {"type": "daysBeforeExpiry", "days": 30},
///              "useAri": true,
///              "check": {"frequency": "daily", "time": "03:00", "timeZone": "Europe/Berlin"}},
///  "deployment": {"enabled": true,
///                 "when": {"type": "window", "frequency": "weekly", "weekday": "sunday",
///                          "time": "02:00", "timeZone": "Europe/Berlin",
///                          "durationMinutes": 120}}}
/// ```
///
/// The CA and connector come from the profile (its issuer); keystore format and password from
/// each target (sealed there); domain control validation from the profile's ACME settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProvisioningConfig {
    /// Profile id or slug: template (policy) and issuer (CA connector).
    pub profile: String,
    /// Deployment targets by name.
    #[serde(default)]
    pub targets: Vec<String>,
    /// Whether the targets came from discovery (`automatic`) or were set by hand (`manual`).
    #[serde(default)]
    pub deployment_type: DeploymentType,
    /// How the CSR of a renewal is made.
    #[serde(default)]
    pub csr: CsrConfig,
    /// The key algorithm of new keys; the current certificate's when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_algorithm: Option<KeyAlgorithm>,
    /// The validity of new certificates (`"90d"`); the profile's default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validity: Option<Ttl>,
    /// Restore the previous certificate when a deployment fails.
    #[serde(default = "yes")]
    pub rollback: bool,
    /// When to renew.
    #[serde(default)]
    pub renewal: RenewalSchedule,
    /// When to deploy a renewed certificate.
    #[serde(default)]
    pub deployment: DeploymentSchedule,
}

fn yes() -> bool {
    true
}

/// Where the deployment mapping came from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DeploymentType {
    /// Suggested by discovery and accepted.
    #[default]
    Automatic,
    /// Entered by hand.
    Manual,
}

/// How a renewal's CSR is built; the library always generates a new key (it never reuses a
/// private key across certificates).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "camelCase", deny_unknown_fields)]
pub enum CsrConfig {
    /// The current certificate's subject, SANs and usages.
    #[default]
    ReuseExisting,
    /// The current certificate's identity with these fields replaced.
    #[serde(rename_all = "camelCase")]
    PartialOverride {
        /// A new common name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        common_name: Option<String>,
        /// New SANs.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        alt_names: Option<Vec<SubjectAltName>>,
    },
    /// A new identity entirely (the profile's template still applies).
    #[serde(rename_all = "camelCase")]
    FullOverride {
        /// The common name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        common_name: Option<String>,
        /// The SANs.
        #[serde(default)]
        alt_names: Vec<SubjectAltName>,
    },
}

/// Renewal: the trigger and how often it is checked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RenewalSchedule {
    /// Renew automatically.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// When a certificate becomes due.
    #[serde(default)]
    pub trigger: RenewalTrigger,
    /// Also renew inside the CA's suggested window (ACME ARI, RFC 9773) when it has one.
    #[serde(default = "yes")]
    pub use_ari: bool,
    /// When the check runs.
    #[serde(default = "daily_check")]
    pub check: Recurrence,
}

impl Default for RenewalSchedule {
    fn default() -> Self {
        Self {
            enabled: true,
            trigger: RenewalTrigger::default(),
            use_ari: true,
            check: daily_check(),
        }
    }
}

fn daily_check() -> Recurrence {
    Recurrence {
        frequency: Frequency::Daily,
        weekday: None,
        day_of_month: None,
        time: "03:00".to_owned(),
        time_zone: "UTC".to_owned(),
    }
}

/// When a certificate becomes due for renewal. Numbers are `i64` so that a negative value is
/// reported as such, naming the field, rather than as a JSON type error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase", deny_unknown_fields)]
pub enum RenewalTrigger {
    /// `days` before notAfter.
    DaysBeforeExpiry {
        /// 1 to 3650.
        days: i64,
    },
    /// On a date (for certificates issued before it; later ones renew at two thirds of
    /// their lifetime).
    #[serde(rename_all = "camelCase")]
    FixedDate {
        /// Local date and time, `2027-06-01T09:00`.
        date_time: String,
        /// IANA time zone.
        time_zone: String,
    },
    /// Once `percent` % of the lifetime has passed.
    LifetimePercentage {
        /// 1 to 99.
        percent: i64,
    },
}

impl Default for RenewalTrigger {
    fn default() -> Self {
        Self::DaysBeforeExpiry { days: 30 }
    }
}

/// Deployment of renewed certificates.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeploymentSchedule {
    /// Deploy automatically; when off, renewed certificates wait for a `deploy` action.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// When.
    #[serde(default)]
    pub when: DeployWhen,
}

/// When a renewed certificate is deployed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum DeployWhen {
    /// As soon as it is issued.
    #[default]
    Immediately,
    /// Not before this local date and time (later renewals deploy immediately).
    At(LocalDateTime),
    /// Inside a recurring maintenance window.
    Window(WindowSpec),
}

/// A validated configuration with its schedules compiled.
#[derive(Clone, Debug)]
pub struct CompiledConfig {
    trigger: Trigger,
    renewal_enabled: bool,
    use_ari: bool,
    check: CompiledRecurrence,
    deploy: Option<Deploy>,
}

#[derive(Clone, Copy, Debug)]
enum Trigger {
    DaysBeforeExpiry(Duration),
    FixedDate(OffsetDateTime),
    LifetimePercentage(i64),
}

#[derive(Clone, Debug)]
enum Deploy {
    Immediately,
    At(OffsetDateTime),
    Window(CompiledWindow),
}

impl ProvisioningConfig {
    /// Check every field and compile the schedules, as when the configuration is saved at
    /// `now`: a one-off deployment time must still be ahead. Errors name the field
    /// (`renewal.check.timeZone`).
    pub fn validate(&self, now: OffsetDateTime) -> Result<CompiledConfig> {
        self.compile_at(Some(now))
    }

    /// Compile a saved configuration (a one-off deployment time may have passed since).
    pub fn compile(&self) -> Result<CompiledConfig> {
        self.compile_at(None)
    }

    fn compile_at(&self, saved_at: Option<OffsetDateTime>) -> Result<CompiledConfig> {
        if self.profile.trim().is_empty() {
            return Err(Error::invalid("profile", "name the profile (id or slug) to issue under"));
        }
        for (i, target) in self.targets.iter().enumerate() {
            if target.trim().is_empty() {
                return Err(Error::invalid(format!("targets[{i}]"), "a target name is empty"));
            }
        }
        if let CsrConfig::FullOverride { common_name, alt_names } = &self.csr
            && common_name.as_deref().is_none_or(str::is_empty)
            && alt_names.is_empty()
        {
            return Err(Error::invalid(
                "csr",
                "a full override needs a commonName or altNames for the new identity",
            ));
        }
        let renewal = &self.renewal;
        let trigger = match &renewal.trigger {
            RenewalTrigger::DaysBeforeExpiry { days } => {
                if !(1..=MAX_DAYS_BEFORE_EXPIRY).contains(days) {
                    return Err(Error::invalid(
                        "renewal.trigger.days",
                        format!(
                            "{days} is not a number of days before expiry: use 1 to \
                             {MAX_DAYS_BEFORE_EXPIRY}"
                        ),
                    ));
                }
                Trigger::DaysBeforeExpiry(Duration::days(*days))
            }
            RenewalTrigger::FixedDate { date_time, time_zone } => {
                let local =
                    LocalDateTime { date_time: date_time.clone(), time_zone: time_zone.clone() };
                Trigger::FixedDate(local.resolve("renewal.trigger")?)
            }
            RenewalTrigger::LifetimePercentage { percent } => {
                if !(1..=99).contains(percent) {
                    return Err(Error::invalid(
                        "renewal.trigger.percent",
                        format!("{percent} is not a percentage of the lifetime: use 1 to 99"),
                    ));
                }
                Trigger::LifetimePercentage(*percent)
            }
        };
        let check = renewal.check.compile("renewal.check")?;
        let deploy = if self.deployment.enabled && !self.targets.is_empty() {
            Some(match &self.deployment.when {
                DeployWhen::Immediately => Deploy::Immediately,
                DeployWhen::At(local) => {
                    let at = local.resolve("deployment.when")?;
                    if saved_at.is_some_and(|now| at <= now) {
                        return Err(Error::invalid(
                            "deployment.when.dateTime",
                            format!(
                                "{} {} has passed: the deployment window would never open; \
                                 give a future time or deploy immediately",
                                local.date_time, local.time_zone
                            ),
                        ));
                    }
                    Deploy::At(at)
                }
                DeployWhen::Window(window) => Deploy::Window(window.compile("deployment.when")?),
            })
        } else {
            None
        };
        if renewal.enabled
            && let Trigger::DaysBeforeExpiry(before) = trigger
        {
            // A certificate found due at one check must be renewed and deployed before it
            // expires: the renew-before window has to cover a check interval plus a window.
            let deploy_wait = match &deploy {
                Some(Deploy::Window(window)) => window.max_period(),
                _ => Duration::ZERO,
            };
            let needed = check.max_period() + deploy_wait;
            if before <= needed {
                return Err(Error::invalid(
                    "renewal.trigger.days",
                    format!(
                        "{} days before expiry is not more than the check interval plus the \
                         deployment window interval (up to {} hours): a certificate could \
                         expire before it is renewed and deployed; renew earlier or check \
                         more often",
                        before.whole_days(),
                        needed.whole_hours()
                    ),
                ));
            }
        }
        Ok(CompiledConfig {
            trigger,
            renewal_enabled: renewal.enabled,
            use_ari: renewal.use_ari,
            check,
            deploy,
        })
    }
}

impl CompiledConfig {
    /// Whether renewals are automatic.
    pub fn renewal_enabled(&self) -> bool {
        self.renewal_enabled
    }

    /// Whether the CA's ARI window counts.
    pub fn use_ari(&self) -> bool {
        self.use_ari
    }

    /// Whether renewed certificates are deployed by the agent.
    pub fn deploys(&self) -> bool {
        self.deploy.is_some()
    }

    /// When `record` becomes due by the trigger (not yet rounded to a check time).
    pub fn trigger_at(&self, record: &CertificateRecord) -> OffsetDateTime {
        let lifetime = record.not_after - record.not_before;
        match self.trigger {
            Trigger::DaysBeforeExpiry(before) if before < lifetime => record.not_after - before,
            // A window as long as the lifetime would renew in a loop: two thirds, as
            // cert-manager does.
            Trigger::DaysBeforeExpiry(_) => record.not_after - lifetime / 3,
            Trigger::FixedDate(at) if record.not_before < at => at,
            Trigger::FixedDate(_) => record.not_after - lifetime / 3,
            Trigger::LifetimePercentage(percent) => {
                let elapsed = lifetime.whole_seconds().saturating_mul(percent) / 100;
                record.not_before + Duration::seconds(elapsed)
            }
        }
    }

    /// Which trigger this is, for audit details.
    pub fn trigger_name(&self) -> &'static str {
        match self.trigger {
            Trigger::DaysBeforeExpiry(_) => "daysBeforeExpiry",
            Trigger::FixedDate(_) => "fixedDate",
            Trigger::LifetimePercentage(_) => "lifetimePercentage",
        }
    }

    /// When the check that renews `record` runs: the first check time at or after the trigger
    /// (or an ARI window's start, whichever is earlier), never before `now`. When that check
    /// would come after notAfter (an unlucky percentage trigger), the trigger time itself.
    pub fn next_check(
        &self,
        record: &CertificateRecord,
        ari_start: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Option<OffsetDateTime> {
        if !self.renewal_enabled {
            return None;
        }
        let mut due = self.trigger_at(record);
        if let Some(start) = ari_start.filter(|_| self.use_ari) {
            due = due.min(start);
        }
        let from = due.max(now);
        let check = self.check.next_at_or_after(from);
        Some(if check >= record.not_after { from } else { check })
    }

    /// The next regular check strictly after `now` (after a failure or a not-yet-due check).
    pub fn check_after(&self, now: OffsetDateTime) -> OffsetDateTime {
        self.check.next_after(now)
    }

    /// When a certificate issued at `issued_at` is deployed; `None` when the agent does not
    /// deploy.
    pub fn next_deploy(&self, issued_at: OffsetDateTime) -> Option<OffsetDateTime> {
        match self.deploy.as_ref()? {
            Deploy::Immediately => Some(issued_at),
            Deploy::At(at) => Some((*at).max(issued_at)),
            Deploy::Window(window) => Some(window.current_or_next(issued_at).0.max(issued_at)),
        }
    }

    /// The end of the deployment window open at `now`, if one is.
    pub fn window_end(&self, now: OffsetDateTime) -> Option<OffsetDateTime> {
        match &self.deploy {
            Some(Deploy::Window(window)) if window.contains(now) => {
                Some(window.current_or_next(now).1)
            }
            _ => None,
        }
    }

    /// Whether a deployment may run at `now` (inside the window; after the `at` time).
    pub fn may_deploy(&self, now: OffsetDateTime) -> bool {
        match &self.deploy {
            None => false,
            Some(Deploy::Immediately) => true,
            Some(Deploy::At(at)) => now >= *at,
            Some(Deploy::Window(window)) => window.contains(now),
        }
    }
}

/// A change applied by bulk configure; every field set replaces the one in each configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfigPatch {
    /// A new profile (template + CA mapping).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// New key algorithm and size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_algorithm: Option<KeyAlgorithm>,
    /// New validity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validity: Option<Ttl>,
    /// New CSR mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csr: Option<CsrConfig>,
    /// New targets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub targets: Option<Vec<String>>,
    /// Rollback on or off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback: Option<bool>,
    /// New renewal rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewal: Option<RenewalSchedule>,
    /// New deployment rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<DeploymentSchedule>,
}

impl ConfigPatch {
    /// `config` with this patch applied.
    pub fn apply(&self, config: &ProvisioningConfig) -> ProvisioningConfig {
        let mut out = config.clone();
        if let Some(profile) = &self.profile {
            out.profile = profile.clone();
        }
        if let Some(alg) = self.key_algorithm {
            out.key_algorithm = Some(alg);
        }
        if let Some(validity) = self.validity {
            out.validity = Some(validity);
        }
        if let Some(csr) = &self.csr {
            out.csr = csr.clone();
        }
        if let Some(targets) = &self.targets {
            out.targets = targets.clone();
        }
        if let Some(rollback) = self.rollback {
            out.rollback = rollback;
        }
        if let Some(renewal) = &self.renewal {
            out.renewal = renewal.clone();
        }
        if let Some(deployment) = &self.deployment {
            out.deployment = deployment.clone();
        }
        out
    }

    /// Field names this patch sets, for the audit detail.
    pub fn fields(&self) -> Vec<&'static str> {
        let set = [
            ("profile", self.profile.is_some()),
            ("keyAlgorithm", self.key_algorithm.is_some()),
            ("validity", self.validity.is_some()),
            ("csr", self.csr.is_some()),
            ("targets", self.targets.is_some()),
            ("rollback", self.rollback.is_some()),
            ("renewal", self.renewal.is_some()),
            ("deployment", self.deployment.is_some()),
        ];
        set.iter().filter(|(_, on)| *on).map(|(name, _)| *name).collect()
    }
}

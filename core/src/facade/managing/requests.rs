//! What callers of the lifecycle engine send and get back: manage requests, the eight
//! actions, batch and sweep options and their reports.

use super::*;

/// Put a certificate under management (the *initiate* action). JSON:
/// `{"name": "web", "certificateId": "...", "config": {...}}`; without `certificateId` the
/// first certificate is ordered from the configuration's `fullOverride` identity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ManageRequest {
    /// A unique name; the common name when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The inventory certificate (discovered or issued) to manage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_id: Option<String>,
    /// How it is issued, renewed and deployed.
    pub config: ProvisioningConfig,
}

/// A lifecycle action on managed certificates. JSON: `{"action": "rekey", "keyAlgorithm":
/// "EC_secp384r1"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum Action {
    /// Request a new certificate from the CA; it is deployed by the deployment schedule.
    Order,
    /// Deploy the newest certificate to the targets now, window or not.
    Deploy,
    /// Stop tracking; the servers are left as they are.
    Delete,
    /// Check that every target endpoint serves the certificate in service.
    PinCheck,
    /// A new certificate (new key, same key algorithm), deployed now.
    Rotate,
    /// A new key pair (optionally of another algorithm) and certificate, deployed now.
    Rekey {
        /// The new key algorithm; the configured one when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key_algorithm: Option<KeyAlgorithm>,
    },
    /// Revoke the certificate in service at its CA and stop renewing.
    Revoke {
        /// The reason (default `unspecified`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<RevocationReason>,
    },
    /// Put the certificate in service on hold and pause the schedules.
    Suspend,
}

impl Action {
    /// The wire name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Order => "order",
            Self::Deploy => "deploy",
            Self::Delete => "delete",
            Self::PinCheck => "pinCheck",
            Self::Rotate => "rotate",
            Self::Rekey { .. } => "rekey",
            Self::Revoke { .. } => "revoke",
            Self::Suspend => "suspend",
        }
    }
}

/// What an action did to one managed certificate.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionResult {
    /// The managed certificate afterwards.
    pub managed: ManagedCertificate,
    /// What happened, for people.
    pub detail: String,
}

/// How a batch runs. An option it does not know is refused (a misspelled
/// `continueOnError` must not silently keep going after failures).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct BatchOptions {
    /// Items worked on at once (at least 1).
    pub concurrency: usize,
    /// Go on after a failed item (the default); when false, stop starting new items.
    pub continue_on_error: bool,
}

impl Default for BatchOptions {
    fn default() -> Self {
        Self { concurrency: 4, continue_on_error: true }
    }
}

/// One item of a [`BatchReport`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchItem {
    /// The managed certificate id (or the name asked for).
    pub id: String,
    /// Whether the action succeeded.
    pub ok: bool,
    /// Its state afterwards, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<CertificateState>,
    /// What happened.
    pub detail: String,
    /// The error's stable code on failure (`ca`, `invalidInput`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<&'static str>,
}

/// The JSON summary of a batch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchReport {
    /// The action's wire name.
    pub action: &'static str,
    /// Items asked for.
    pub total: usize,
    /// Items that succeeded.
    pub succeeded: usize,
    /// Items that failed.
    pub failed: usize,
    /// Items not started (after a failure without `continueOnError`).
    pub skipped: usize,
    /// Per item, in the order asked.
    pub items: Vec<BatchItem>,
}

/// How one sweep of the agent runs.
#[derive(Clone, Debug)]
pub struct SweepOptions {
    /// This agent's name in claims (stable across restarts, so it takes back its own work).
    pub owner: String,
    /// How long a claim holds before another agent may take the work.
    pub lease: time::Duration,
    /// Items claimed at a time.
    pub chunk: u32,
    /// Items worked on at once.
    pub concurrency: usize,
    /// Failed attempts of a retryable error before the certificate is marked failed (it is
    /// tried again at its next regular check).
    pub max_attempts: u32,
    /// First retry delay; doubled per attempt, at most six hours.
    pub retry_base: time::Duration,
    /// Send an `expirySoon` notification when the certificate in service expires within
    /// this long.
    pub expiry_warning: time::Duration,
}

impl Default for SweepOptions {
    fn default() -> Self {
        Self {
            owner: "agent".to_owned(),
            lease: time::Duration::minutes(10),
            chunk: COMMIT_CHUNK as u32,
            concurrency: 4,
            max_attempts: 8,
            retry_base: time::Duration::minutes(5),
            expiry_warning: time::Duration::days(14),
        }
    }
}

/// What one sweep did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SweepReport {
    /// Managed certificates looked at.
    pub processed: usize,
    /// Certificates issued (first orders and renewals).
    pub renewed: usize,
    /// Deployments that succeeded.
    pub deployed: usize,
    /// Failures retried later with backoff.
    pub retried: usize,
    /// Failures that marked a certificate failed.
    pub failed: usize,
    /// The failures, per item.
    pub errors: Vec<BatchItem>,
}

impl SweepReport {
    /// Add `other`'s counts.
    pub fn add(&mut self, other: SweepReport) {
        self.processed += other.processed;
        self.renewed += other.renewed;
        self.deployed += other.deployed;
        self.retried += other.retried;
        self.failed += other.failed;
        self.errors.extend(other.errors);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    #[test]
    fn a_misspelled_batch_option_is_refused_by_name() {
        let value = serde_json::json!({"concurrency": 2, "continueOnErorr": false});
        let Err(Error::InvalidInput { field, message }) =
            crate::wire::from_value::<BatchOptions>(value, "options")
        else {
            panic!("continueOnErorr is not a batch option");
        };
        assert_eq!(field, "options.continueOnErorr");
        assert!(message.starts_with("unknown field `continueOnErorr`"), "{message}");
        assert!(message.contains("`continueOnError`"), "{message}");
        let options: BatchOptions =
            crate::wire::from_value(serde_json::json!({"concurrency": 2}), "options")
                .expect("a known option");
        assert_eq!(options, BatchOptions { concurrency: 2, ..BatchOptions::default() });
    }
}

//! What the inventory keeps about a certificate, its lifecycle state, and the audit trail.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{KeyAlgorithm, SubjectAltName};
use crate::error::Error;

/// Where a certificate is in its lifecycle (see ARCHITECTURE.md, "Certificate states").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum CertificateState {
    /// Found by discovery, not yet under management.
    Discovered,
    /// Under management, nothing ordered yet.
    Managed,
    /// Ordered from a CA, not yet issued.
    Ordered,
    /// Waiting for a domain control validation step.
    PendingValidation,
    /// Issued and valid.
    Issued,
    /// Installed on its targets.
    Deployed,
    /// A managed certificate whose last renewal or deployment failed (it retries at its next
    /// check or window; the certificate in service is unchanged).
    Failed,
    /// Revoked; permanent.
    Revoked,
    /// On hold (`certificateHold`); can be lifted.
    Suspended,
    /// Past its notAfter.
    Expired,
    /// No longer tracked; kept as a tombstone for the audit log.
    Deleted,
}

impl CertificateState {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Discovered => "discovered",
            Self::Managed => "managed",
            Self::Ordered => "ordered",
            Self::PendingValidation => "pendingValidation",
            Self::Issued => "issued",
            Self::Deployed => "deployed",
            Self::Failed => "failed",
            Self::Revoked => "revoked",
            Self::Suspended => "suspended",
            Self::Expired => "expired",
            Self::Deleted => "deleted",
        }
    }

    /// Whether the certificate is in use (can be revoked, suspended, renewed).
    pub fn is_live(self) -> bool {
        matches!(self, Self::Issued | Self::Deployed | Self::Discovered | Self::Managed)
    }
}

impl fmt::Display for CertificateState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CertificateState {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        serde_json::from_value(serde_json::Value::String(s.to_owned())).map_err(|_| {
            Error::invalid(
                "state",
                format!(
                    "unknown state {s:?}; use discovered, managed, ordered, pendingValidation, \
                     issued, deployed, failed, revoked, suspended, expired or deleted"
                ),
            )
        })
    }
}

/// CRL reason codes (RFC 5280 §5.3.1), camelCase on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RevocationReason {
    /// unspecified (0).
    Unspecified,
    /// keyCompromise (1).
    KeyCompromise,
    /// cACompromise (2).
    CaCompromise,
    /// affiliationChanged (3).
    AffiliationChanged,
    /// superseded (4).
    Superseded,
    /// cessationOfOperation (5).
    CessationOfOperation,
    /// certificateHold (6): a suspension.
    CertificateHold,
    /// privilegeWithdrawn (9).
    PrivilegeWithdrawn,
}

impl RevocationReason {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unspecified => "unspecified",
            Self::KeyCompromise => "keyCompromise",
            Self::CaCompromise => "caCompromise",
            Self::AffiliationChanged => "affiliationChanged",
            Self::Superseded => "superseded",
            Self::CessationOfOperation => "cessationOfOperation",
            Self::CertificateHold => "certificateHold",
            Self::PrivilegeWithdrawn => "privilegeWithdrawn",
        }
    }
}

impl fmt::Display for RevocationReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RevocationReason {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let folded: String = s
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        Ok(match folded.as_str() {
            "unspecified" => Self::Unspecified,
            "keycompromise" => Self::KeyCompromise,
            "cacompromise" => Self::CaCompromise,
            "affiliationchanged" => Self::AffiliationChanged,
            "superseded" => Self::Superseded,
            "cessationofoperation" => Self::CessationOfOperation,
            "certificatehold" => Self::CertificateHold,
            "privilegewithdrawn" => Self::PrivilegeWithdrawn,
            _ => {
                return Err(Error::invalid(
                    "reason",
                    format!(
                        "unknown revocation reason {s:?}; use unspecified, keyCompromise, \
                         caCompromise, affiliationChanged, superseded, cessationOfOperation or \
                         privilegeWithdrawn"
                    ),
                ));
            }
        })
    }
}

/// One certificate in the inventory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateRecord {
    /// The inventory id (UUID).
    pub certificate_id: String,
    /// Serial number, lower-case hex without separators.
    pub serial_number: String,
    /// The subject CN ("" when the subject has none).
    pub common_name: String,
    /// The subject in one-line form.
    pub subject: String,
    /// The issuer's subject in one-line form.
    pub issuer: String,
    /// Subject alternative names.
    pub alt_names: Vec<SubjectAltName>,
    /// Start of validity.
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    /// End of validity.
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    /// SHA-256 of the DER, lower-case hex.
    pub fingerprint_sha256: String,
    /// Key algorithm of the subject key, when recognised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_algorithm: Option<KeyAlgorithm>,
    /// Lifecycle state.
    pub state: CertificateState,
    /// The profile it was issued under, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_id: Option<String>,
    /// The CA (id) or connector (issuer key) that issued it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_id: Option<String>,
    /// The leaf, PEM.
    pub certificate: String,
    /// Issuing CA up to the root, PEM, concatenated.
    pub certificate_chain: String,
    /// The request it was issued for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_request_id: Option<String>,
    /// The certificate this one renewed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewed_from: Option<String>,
    /// The certificate that renewed this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewed_by: Option<String>,
    /// When it was revoked or suspended.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub revoked_at: Option<OffsetDateTime>,
    /// Why it was revoked or suspended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_reason: Option<RevocationReason>,
    /// Whether auto-renewal watches it.
    #[serde(default)]
    pub auto_renew: bool,
    /// Days before notAfter at which auto-renewal starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renew_before_days: Option<u32>,
    /// Whether the library keeps its private key (encrypted) to deploy it.
    #[serde(default)]
    pub key_managed: bool,
    /// When the record was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When the record last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// What an audit event says happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AuditAction {
    /// A CA was created or imported.
    CaCreated,
    /// A template was created or replaced.
    TemplateSaved,
    /// A profile was created or replaced.
    ProfileSaved,
    /// A certificate was issued.
    Issued,
    /// A certificate was issued to replace another.
    Renewed,
    /// A certificate was revoked.
    Revoked,
    /// A certificate was put on hold.
    Suspended,
    /// A hold was lifted.
    Unsuspended,
    /// A certificate passed its notAfter.
    Expired,
    /// Tracking stopped.
    Deleted,
    /// A CRL was signed.
    CrlSigned,
    /// A request was refused (policy, CA error).
    Refused,
    /// A deployment target was created or replaced.
    TargetSaved,
    /// A deployment target was removed.
    TargetRemoved,
    /// One step of a deployment (precheck, write, config test, reload, pin check, rollback).
    DeployStep,
    /// A certificate was deployed to a target and verified.
    Deployed,
    /// A deployment failed (rolled back or not).
    DeployFailed,
    /// A failed deployment's previous files were restored.
    RolledBack,
    /// An endpoint was checked for the certificate it serves.
    PinChecked,

    /// An ACME account was registered.
    AcmeAccountRegistered,
    /// An order was kept, waiting for manual domain control validation.
    ValidationPending,
    /// The ACME server checked a client's challenge (HTTP-01), passed or failed.
    AcmeChallengeValidated,

    /// A certificate was put under management, or its provisioning configuration changed.
    ManagedConfigured,
    /// A managed certificate moved from one state to another (the detail says why).
    ManagedTransition,
    /// A managed certificate's renewal failed (retried later, or given up until the next
    /// check).
    RenewalFailed,
    /// A lifecycle notification (webhook) was sent or could not be.
    Notified,

    /// A discovery scan found a certificate: new to the inventory, or at a new place.
    Discovered,
    /// Rediscovery found a place that does not hold what the inventory says it holds.
    DriftDetected,

    /// An API token was created (`certloop token create`).
    TokenCreated,
    /// An API token was revoked.
    TokenRevoked,
    /// `certloop serve` answered a request (the actor is the token's name).
    ApiRequest,
}

/// Whether the action succeeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AuditOutcome {
    /// It happened.
    Success,
    /// It was attempted and failed.
    Failure,
}

/// One append-only audit log entry. Never holds a private key or a sensitive parameter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEvent {
    /// Position in the log (assigned by the store; 0 before insertion).
    pub sequence: i64,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// What.
    pub action: AuditAction,
    /// Which certificate, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_id: Option<String>,
    /// Which other object (CA, template, profile), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_id: Option<String>,
    /// Who: the API user, CLI user or scheduler.
    pub actor: String,
    /// Success or failure.
    pub outcome: AuditOutcome,
    /// Free text: reason, error message, state change.
    #[serde(default)]
    pub detail: String,
}

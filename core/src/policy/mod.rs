//! Policy: what a request may ask for ([`CertificateTemplate`]), how certificates are issued
//! and renewed ([`CertificateProfile`]), when renewal is due and why ([`RenewalChain`]), and
//! what a to-be-signed certificate must satisfy ([`lint_certificate`]).
//!
//! Pure code: no I/O, no clock (times come in as arguments), no crypto library.

pub mod lint;
mod pattern;
pub mod presets;
mod profile;
pub mod renewal;
mod rules;
mod script;
mod template;

pub use lint::{
    CABF_POLICY_OIDS, LintFinding, LintInput, LintProfile, lint_certificate, lint_rules,
};
pub use presets::{br_max_validity, br_max_validity_days};
pub use profile::{
    AcmeEnrollmentConfig, ApiConfig, CertificateProfile, EnrollmentType, ProfileIssuer,
};
pub use renewal::{
    DaysBeforeExpiry, Expired, FixedDate, LifecyclePolicy, LifetimePercentage, RenewalChain,
    RenewalCheck, RenewalReason,
};
pub use rules::{AlgorithmRule, SanRule, SubjectAttribute, SubjectRule, UsageRule, ValidityRule};
pub(crate) use script::check_script_params;
pub use script::{
    DEFAULT_SCRIPT_TIMEOUT_SECONDS, MASKED, MAX_SCRIPT_TIMEOUT_SECONDS, ResolvedParam,
    ScriptIsolation, ScriptParam, resolve_script_args,
};
pub(crate) use template::definition_result;
pub use template::{CertificateTemplate, PolicyRequest, TemplatePreset};

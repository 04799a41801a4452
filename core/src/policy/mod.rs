//! Policy: what a request may ask for ([`CertificateTemplate`]), how certificates are issued
//! and renewed ([`CertificateProfile`]), and what a
//! to-be-signed certificate must satisfy ([`lint_certificate`]).
//!
//! Pure code: no I/O, no clock (times come in as arguments), no crypto library.

mod pattern;
pub mod presets;
mod profile;
mod template;

pub use presets::{br_max_validity, br_max_validity_days};
pub use profile::{ApiConfig, CertificateProfile, EnrollmentType, ProfileIssuer};
pub use template::{
    AlgorithmRule, CertificateTemplate, PolicyRequest, SanRule, SubjectAttribute, SubjectRule,
    TemplatePreset, UsageRule, ValidityRule,
};

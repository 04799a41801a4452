//! Typed, frozen result classes. Each wraps the core's value; attributes are the Rust field
//! names (snake_case), and `to_dict()` gives the camelCase wire shape that requests accept.
//!
//! Scalars map to `str`/`int`/`bool`, instants to aware UTC `datetime`s, enums to their wire
//! string (`"EC_prime256v1"`, `"issued"`), and nested structures (subject, SANs, rules) to
//! dicts and lists in the wire shape.

use certloop::ca::Crl as CoreCrl;
use certloop::crypto::{
    CertificateInfo as CoreCertificateInfo, CrlInfo as CoreCrlInfo, SecretString,
};
use certloop::csr::CsrInfo as CoreCsrInfo;
use certloop::model::{
    AuditAction, AuditEvent as CoreAuditEvent, AuditOutcome, CertificateAttributes,
    CertificateRecord as CoreCertificateRecord, CertificateState, ExtendedKeyUsage,
    IssuedCertificate as CoreIssuedCertificate, KeyAlgorithm, KeyFamily, KeyUsage,
    RevocationReason, SignatureAlgorithm, Subject, SubjectAltName,
};
use certloop::policy::{
    AlgorithmRule, ApiConfig, CertificateProfile, CertificateTemplate, EnrollmentType,
    ProfileIssuer, RenewalReason, SanRule, SubjectRule, TemplatePreset, UsageRule, ValidityRule,
};
use certloop::{CaSummary as CoreCaSummary, DefaultSetup as CoreDefaultSetup};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};
use time::OffsetDateTime;

use crate::convert;

/// How one field becomes a Python value.
pub trait ToPyField {
    /// The Python value of this field.
    fn to_py_field<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>>;
}

macro_rules! scalar_field {
    ($($ty:ty),*) => {$(
        impl ToPyField for $ty {
            fn to_py_field<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
                Ok(self.clone().into_pyobject(py)?.to_owned().into_any())
            }
        }
    )*};
}
scalar_field!(String, bool, u8, u32, u64, i64);

/// Fields whose Python value is their serde (wire) form.
macro_rules! serde_field {
    ($($ty:ty),*) => {$(
        impl ToPyField for $ty {
            fn to_py_field<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
                convert::to_py(py, self)
            }
        }
    )*};
}
serde_field!(
    Subject,
    SubjectAltName,
    KeyAlgorithm,
    KeyFamily,
    SignatureAlgorithm,
    KeyUsage,
    ExtendedKeyUsage,
    CertificateState,
    RevocationReason,
    AuditAction,
    AuditOutcome,
    TemplatePreset,
    SubjectRule,
    SanRule,
    UsageRule<KeyUsage>,
    UsageRule<ExtendedKeyUsage>,
    AlgorithmRule,
    ValidityRule,
    ProfileIssuer,
    EnrollmentType,
    ApiConfig,
    CertificateAttributes,
    RenewalReason,
    certloop::crypto::RevokedEntry
);

impl ToPyField for OffsetDateTime {
    fn to_py_field<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        convert::datetime(py, *self)
    }
}

impl<T: ToPyField> ToPyField for Option<T> {
    fn to_py_field<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match self {
            Some(value) => value.to_py_field(py),
            None => Ok(py.None().into_bound(py)),
        }
    }
}

impl<T: ToPyField> ToPyField for Vec<T> {
    fn to_py_field<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let list = PyList::empty(py);
        for item in self {
            list.append(item.to_py_field(py)?)?;
        }
        Ok(list.into_any())
    }
}

impl ToPyField for SecretString {
    fn to_py_field<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.expose().to_owned().to_py_field(py)
    }
}

/// A frozen class around a core type: one getter per listed field, `to_dict()`, a `__repr__`
/// built from the `repr` fields, and `ToPyField` for the core type (for nesting).
macro_rules! record_class {
    (
        $(#[$doc:meta])*
        $class:ident($core:ty) as $pyname:literal,
        repr: [$($repr:ident),*],
        fields: { $($field:ident),* $(,)? }
        $(, extra: { $($extra:tt)* })?
    ) => {
        $(#[$doc])*
        #[pyclass(frozen, module = "certloop._native", name = $pyname)]
        pub struct $class(pub $core);

        #[pymethods]
        impl $class {
            $(
                #[getter]
                fn $field<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
                    ToPyField::to_py_field(&self.0.$field, py)
                }
            )*

            /// The camelCase wire shape, as accepted by requests and emitted by the CLI.
            fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
                convert::to_py(py, &self.0)
            }

            fn __repr__(&self) -> String {
                let parts: Vec<String> = vec![$(format!(concat!(stringify!($repr), "={:?}"), self.0.$repr)),*];
                format!("{}({})", $pyname, parts.join(", "))
            }

            $($($extra)*)?
        }

        impl ToPyField for $core {
            fn to_py_field<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
                Ok(Bound::new(py, $class(self.clone()))?.into_any())
            }
        }
    };
}

record_class!(
    /// The response to issue and renew: the private key is present only when the library made it.
    IssuedCertificate(CoreIssuedCertificate) as "IssuedCertificate",
    repr: [certificate_id, serial_number],
    fields: {
        certificate, certificate_chain, issuing_ca_certificate, private_key, serial_number,
        certificate_id, certificate_request_id,
    }
);

record_class!(
    /// One certificate of the inventory.
    CertificateRecord(CoreCertificateRecord) as "CertificateRecord",
    repr: [certificate_id, common_name, state],
    fields: {
        certificate_id, serial_number, common_name, subject, issuer, alt_names, not_before,
        not_after, fingerprint_sha256, key_algorithm, state, profile_id, ca_id, certificate,
        certificate_chain, certificate_request_id, renewed_from, renewed_by, revoked_at,
        revocation_reason, auto_renew, renew_before_days, key_managed, created_at, updated_at,
    }
);

record_class!(
    /// One audit log entry.
    AuditEvent(CoreAuditEvent) as "AuditEvent",
    repr: [sequence, action, certificate_id],
    fields: { sequence, at, action, certificate_id, subject_id, actor, outcome, detail }
);

record_class!(
    /// A CA: its certificate and chain, never its key.
    CaSummary(CoreCaSummary) as "CaSummary",
    repr: [id, name],
    fields: {
        id, name, parent_id, subject, not_before, not_after, key_algorithm, fingerprint_sha256,
        certificate, certificate_chain,
    }
);

record_class!(
    /// What `init_default()` set up.
    DefaultSetup(CoreDefaultSetup) as "DefaultSetup",
    repr: [created],
    fields: { root_ca, issuing_ca, profile, created }
);

record_class!(
    /// A certificate template: what requests under it may ask for.
    Template(CertificateTemplate) as "Template",
    repr: [id, slug],
    fields: {
        id, slug, description, preset, subject, sans, key_usages, extended_key_usages,
        algorithms, validity,
    }
);

record_class!(
    /// A certificate profile: template + issuer + enrollment + renewal.
    Profile(CertificateProfile) as "Profile",
    repr: [id, slug],
    fields: {
        id, slug, description, template_id, issuer, enrollment_type, api_config, defaults,
        manage_keys,
    }
);

record_class!(
    /// A certificate due for renewal, and the check that fired.
    DueRenewal(certloop::DueRenewal) as "DueRenewal",
    repr: [reason],
    fields: { certificate, reason }
);

record_class!(
    /// One rule a request broke, naming its field (`attributes.commonName`, `altNames[1]`).
    Violation(certloop::Violation) as "Violation",
    repr: [field, message],
    fields: { field, message }
);

record_class!(
    /// What a certificate says.
    CertificateInfo(CoreCertificateInfo) as "CertificateInfo",
    repr: [subject_dn, serial_number],
    fields: {
        subject, subject_dn, issuer_dn, serial_number, not_before, not_after, alt_names,
        key_family, key_bits, key_algorithm, signature_algorithm, key_usages,
        extended_key_usages, is_ca, path_length, subject_key_id, authority_key_id,
        crl_distribution_points, ca_issuers, policies, fingerprint_sha256,
    },
    extra: {
        /// The certificate's DER.
        #[getter]
        fn der<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
            PyBytes::new(py, &self.0.der)
        }
    }
);

record_class!(
    /// What a CSR asks for; its self-signature has been verified.
    CsrInfo(CoreCsrInfo) as "CsrInfo",
    repr: [subject_dn],
    fields: {
        subject, subject_dn, alt_names, key_family, key_bits, key_algorithm,
        signature_algorithm, key_usages, extended_key_usages,
    },
    extra: {
        /// The CSR's DER.
        #[getter]
        fn der<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
            PyBytes::new(py, &self.0.der)
        }

        /// The subject public key, PEM `PUBLIC KEY`.
        #[getter]
        fn public_key_pem(&self) -> String {
            self.0.public_key.to_pem()
        }
    }
);

record_class!(
    /// What a CRL says.
    CrlInfo(CoreCrlInfo) as "CrlInfo",
    repr: [issuer_dn, crl_number],
    fields: { issuer_dn, this_update, next_update, crl_number, revoked },
    extra: {
        /// The CRL's DER.
        #[getter]
        fn der<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
            PyBytes::new(py, &self.0.der)
        }
    }
);

/// A signed CRL.
#[pyclass(frozen, module = "certloop._native", name = "Crl")]
pub struct Crl(pub CoreCrl);

#[pymethods]
impl Crl {
    /// PEM `X509 CRL`.
    #[getter]
    fn pem(&self) -> &str {
        &self.0.pem
    }

    /// DER.
    #[getter]
    fn der<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.0.der)
    }

    /// The cRLNumber.
    #[getter]
    fn number(&self) -> u64 {
        self.0.number
    }

    /// `{"pem": ..., "number": ...}`.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let value = serde_json::json!({"pem": self.0.pem, "number": self.0.number});
        convert::to_py(py, &value)
    }

    fn __repr__(&self) -> String {
        format!("Crl(number={})", self.0.number)
    }
}

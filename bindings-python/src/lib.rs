//! `certloop._native`: the Python extension module of certloop.
//!
//! Thin by design (STYLE.md, "Bindings stay thin"): conversion of arguments and results
//! ([`convert`], [`records`]), the exception mapping ([`errors`]), the handle ([`handle`])
//! and the pure crypto functions ([`crypto`]). Business logic lives in the `certloop` crate.
#![warn(missing_docs)]

mod connector;
mod convert;
mod crypto;
mod errors;
mod handle;
mod lifecycle;
mod records;

use pyo3::prelude::*;

/// The module `certloop._native`; `certloop/__init__.py` re-exports it.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    errors::register(m)?;
    m.add_class::<handle::Certloop>()?;
    m.add_class::<crypto::PrivateKey>()?;
    m.add_class::<crypto::Csr>()?;
    m.add_class::<records::IssuedCertificate>()?;
    m.add_class::<records::CertificateRecord>()?;
    m.add_class::<records::AuditEvent>()?;
    m.add_class::<records::CaSummary>()?;
    m.add_class::<records::DefaultSetup>()?;
    m.add_class::<records::Template>()?;
    m.add_class::<records::Profile>()?;
    m.add_class::<records::DueRenewal>()?;
    m.add_class::<records::Violation>()?;
    m.add_class::<records::CertificateInfo>()?;
    m.add_class::<records::CsrInfo>()?;
    m.add_class::<records::CrlInfo>()?;
    m.add_class::<records::Crl>()?;
    m.add_function(wrap_pyfunction!(crypto::generate_key, m)?)?;
    m.add_function(wrap_pyfunction!(crypto::build_csr, m)?)?;
    m.add_function(wrap_pyfunction!(crypto::inspect_certificate, m)?)?;
    m.add_function(wrap_pyfunction!(crypto::inspect_certificates, m)?)?;
    m.add_function(wrap_pyfunction!(crypto::inspect_csr, m)?)?;
    m.add_function(wrap_pyfunction!(crypto::inspect_crl, m)?)?;
    Ok(())
}

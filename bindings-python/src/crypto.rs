//! Keys, CSRs and inspection: pure functions of the core, with the GIL released around the
//! crypto (RSA key generation takes long enough to stall other threads).

use std::str::FromStr;
use std::sync::Arc;

use certloop::crypto::{self, PrivateKey as CoreKey};
use certloop::csr::{Csr as CoreCsr, CsrBuilder, CsrSpec, DefaultCsrBuilder};
use certloop::model::{CertificateAttributes, KeyAlgorithm};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};
use zeroize::Zeroizing;

use crate::convert;
use crate::errors::{IntoPyResult, invalid};
use crate::records::{CertificateInfo, CrlInfo, CsrInfo};

/// A private key. Never printed: `repr()` shows the algorithm only; `to_pem()` is the one way
/// out, and the Rust copy is zeroized when the object is collected.
#[pyclass(frozen, module = "certloop._native", name = "PrivateKey")]
pub struct PrivateKey(pub Arc<CoreKey>);

#[pymethods]
impl PrivateKey {
    /// A new key: `"EC_prime256v1"` (default), `"EC_secp384r1"`, `"ED25519"`, `"RSA_2048"`...
    #[staticmethod]
    #[pyo3(signature = (algorithm = "EC_prime256v1"))]
    fn generate(py: Python<'_>, algorithm: &str) -> PyResult<Self> {
        let algorithm = KeyAlgorithm::from_str(algorithm).py_err(py)?;
        let key = py.detach(|| CoreKey::generate(algorithm)).py_err(py)?;
        Ok(Self(Arc::new(key)))
    }

    /// Load a PEM key: PKCS#8, PKCS#1 RSA, SEC1 EC, or encrypted PKCS#8 with `passphrase`.
    #[staticmethod]
    #[pyo3(signature = (pem, passphrase = None))]
    fn from_pem(
        py: Python<'_>,
        pem: &str,
        passphrase: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let key = match passphrase {
            Some(p) => {
                let secret = bytes_or_str(p, "passphrase")?;
                py.detach(|| CoreKey::from_encrypted_pem(pem, &secret))
            }
            None => py.detach(|| CoreKey::from_pem(pem)),
        }
        .py_err(py)?;
        Ok(Self(Arc::new(key)))
    }

    /// The key algorithm, wire spelling (`"EC_prime256v1"`).
    #[getter]
    fn algorithm(&self) -> String {
        self.0.algorithm().to_string()
    }

    /// The public key, PEM `PUBLIC KEY`.
    #[getter]
    fn public_key_pem(&self) -> String {
        self.0.public_key().to_pem()
    }

    /// PKCS#8 PEM (`PRIVATE KEY`), unencrypted.
    fn to_pem(&self) -> String {
        self.0.to_pkcs8_pem().expose().to_owned()
    }

    /// Encrypted PKCS#8 PEM (PBES2: PBKDF2-HMAC-SHA256 + AES-256-CBC).
    fn to_encrypted_pem(&self, py: Python<'_>, passphrase: &Bound<'_, PyAny>) -> PyResult<String> {
        let secret = bytes_or_str(passphrase, "passphrase")?;
        let key = self.0.clone();
        py.detach(move || key.to_encrypted_pkcs8_pem(&secret)).py_err(py)
    }

    fn __repr__(&self) -> String {
        format!("PrivateKey(algorithm={:?}, [redacted])", self.0.algorithm().to_string())
    }
}

/// A signed PKCS#10 request.
#[pyclass(frozen, module = "certloop._native", name = "Csr")]
pub struct Csr(pub CoreCsr);

#[pymethods]
impl Csr {
    /// PEM `CERTIFICATE REQUEST`.
    #[getter]
    fn pem(&self) -> &str {
        &self.0.pem
    }

    /// DER.
    #[getter]
    fn der<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.0.der)
    }

    /// `{"pem": ...}`.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        convert::to_py(py, &serde_json::json!({"pem": self.0.pem}))
    }

    fn __repr__(&self) -> String {
        format!("Csr({} bytes)", self.0.der.len())
    }
}

/// `PrivateKey.generate(algorithm)`.
#[pyfunction]
#[pyo3(signature = (algorithm = "EC_prime256v1"))]
pub fn generate_key(py: Python<'_>, algorithm: &str) -> PyResult<PrivateKey> {
    PrivateKey::generate(py, algorithm)
}

/// Build and sign a CSR for `key`. `request` is the attributes shape of an issue request:
/// `commonName`, `organization`, ..., `altNames`, `keyUsages`, `extendedKeyUsages`,
/// `signatureAlgorithm`.
#[pyfunction]
pub fn build_csr(py: Python<'_>, key: &PrivateKey, request: &Bound<'_, PyAny>) -> PyResult<Csr> {
    let attributes: CertificateAttributes = convert::from_py(request, "request")?;
    if attributes.ttl.is_some() || attributes.key_algorithm.is_some() {
        let field = if attributes.ttl.is_some() { "request.ttl" } else { "request.keyAlgorithm" };
        return Err(invalid(py, field, "a CSR carries no lifetime or key choice; the key decides"));
    }
    let spec = CsrSpec {
        subject: attributes.subject,
        alt_names: attributes.alt_names.unwrap_or_default(),
        key_usages: attributes.key_usages.unwrap_or_default(),
        extended_key_usages: attributes.extended_key_usages.unwrap_or_default(),
        signature_algorithm: attributes.signature_algorithm,
    };
    let key = key.0.clone();
    let csr = py.detach(move || DefaultCsrBuilder.build(&key, &spec)).py_err(py)?;
    Ok(Csr(csr))
}

/// Inspect one certificate (PEM or DER; the first of a PEM bundle).
#[pyfunction]
pub fn inspect_certificate(
    py: Python<'_>,
    certificate: &Bound<'_, PyAny>,
) -> PyResult<CertificateInfo> {
    let input = bytes_or_str(certificate, "certificate")?;
    py.detach(|| crypto::inspect_certificate(&input)).py_err(py).map(CertificateInfo)
}

/// Inspect every certificate of a PEM bundle (a chain), in order.
#[pyfunction]
pub fn inspect_certificates(
    py: Python<'_>,
    certificates: &Bound<'_, PyAny>,
) -> PyResult<Vec<CertificateInfo>> {
    let input = bytes_or_str(certificates, "certificates")?;
    let infos = py.detach(|| crypto::inspect_certificates(&input)).py_err(py)?;
    Ok(infos.into_iter().map(CertificateInfo).collect())
}

/// Inspect a CSR (PEM or DER) and verify its self-signature.
#[pyfunction]
pub fn inspect_csr(py: Python<'_>, csr: &Bound<'_, PyAny>) -> PyResult<CsrInfo> {
    let input = bytes_or_str(csr, "csr")?;
    py.detach(|| certloop::csr::inspect_csr(&input)).py_err(py).map(CsrInfo)
}

/// Inspect a CRL (PEM or DER).
#[pyfunction]
pub fn inspect_crl(py: Python<'_>, crl: &Bound<'_, PyAny>) -> PyResult<CrlInfo> {
    let input = bytes_or_str(crl, "crl")?;
    py.detach(|| crypto::inspect_crl(&input)).py_err(py).map(CrlInfo)
}

/// `str` (UTF-8) or `bytes` as bytes (zeroized when dropped: passphrases pass through here);
/// anything else is `InvalidInput` naming `field`.
fn bytes_or_str(obj: &Bound<'_, PyAny>, field: &str) -> PyResult<Zeroizing<Vec<u8>>> {
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Zeroizing::new(s.to_cow()?.as_bytes().to_vec()));
    }
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(Zeroizing::new(b.as_bytes().to_vec()));
    }
    Err(invalid(obj.py(), field, "must be str or bytes"))
}

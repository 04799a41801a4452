//! Functions that need no `Certloop` handle: inspection of certificates, CSRs and CRLs, key
//! generation and CSR building. Each has a Promise form; the cheap ones (parsing) also a
//! `*Sync` form.

use certloop::crypto::{self, PrivateKey, SecretString};
use certloop::csr::{self, CsrBuilder, CsrSpec, DefaultCsrBuilder};
use certloop::model::KeyAlgorithm;
use napi::Env;
use napi::bindgen_prelude::Unknown;
use napi_derive::napi;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::errors;
use crate::task::{self, Pending, Work};

/// Serialize a certloop result for a synchronous return.
fn json<T: Serialize>(value: &T) -> certloop::Result<Value> {
    serde_json::to_value(value)
        .map_err(|e| certloop::Error::InvalidState(format!("result is not serializable: {e}")))
}

fn certificate(pem: &str) -> certloop::Result<Value> {
    json(&crypto::inspect_certificate(pem.as_bytes())?)
}

fn certificates(pem: &str) -> certloop::Result<Value> {
    json(&crypto::inspect_certificates(pem.as_bytes())?)
}

fn csr_info(pem: &str) -> certloop::Result<Value> {
    json(&csr::inspect_csr(pem.as_bytes())?)
}

fn crl_info(pem: &str) -> certloop::Result<Value> {
    json(&crypto::inspect_crl(pem.as_bytes())?)
}

/// Run a cheap parser on the calling thread, throwing certloop's error.
fn now(env: &Env, result: certloop::Result<Value>) -> napi::Result<Value> {
    result.map_err(|e| errors::to_js(env, &e))
}

/// Queue a parser on the thread pool.
fn later(
    pem: Unknown<'_>,
    name: &'static str,
    parse: fn(&str) -> certloop::Result<Value>,
) -> Pending {
    let pem = task::string(pem, name);
    Work::with(pem, move |pem| async move { parse(&pem) })
}

/// What a certificate says (subject, SANs, validity, key, usages, extensions, fingerprint).
/// Reads the first certificate of a PEM string.
#[napi(ts_args_type = "pem: string", ts_return_type = "Promise<CertificateInfo>")]
pub fn inspect_certificate(pem: Unknown<'_>) -> Pending {
    later(pem, "certificate", certificate)
}

/// [`inspectCertificate`] on the calling thread (parsing only: cheap).
#[napi(ts_args_type = "pem: string", ts_return_type = "CertificateInfo")]
pub fn inspect_certificate_sync(env: Env, pem: Unknown<'_>) -> napi::Result<Value> {
    let pem = task::string(pem, "certificate");
    now(&env, pem.and_then(|pem| certificate(&pem)))
}

/// Every certificate of a PEM bundle (a chain), in order.
#[napi(ts_args_type = "pem: string", ts_return_type = "Promise<CertificateInfo[]>")]
pub fn inspect_certificates(pem: Unknown<'_>) -> Pending {
    later(pem, "certificate", certificates)
}

/// [`inspectCertificates`] on the calling thread.
#[napi(ts_args_type = "pem: string", ts_return_type = "CertificateInfo[]")]
pub fn inspect_certificates_sync(env: Env, pem: Unknown<'_>) -> napi::Result<Value> {
    let pem = task::string(pem, "certificate");
    now(&env, pem.and_then(|pem| certificates(&pem)))
}

/// What a CSR asks for; its self-signature is verified (a CSR that fails it is rejected).
#[napi(ts_args_type = "pem: string", ts_return_type = "Promise<CsrInfo>")]
pub fn inspect_csr(pem: Unknown<'_>) -> Pending {
    later(pem, "csr", csr_info)
}

/// [`inspectCsr`] on the calling thread.
#[napi(ts_args_type = "pem: string", ts_return_type = "CsrInfo")]
pub fn inspect_csr_sync(env: Env, pem: Unknown<'_>) -> napi::Result<Value> {
    let pem = task::string(pem, "csr");
    now(&env, pem.and_then(|pem| csr_info(&pem)))
}

/// What a CRL says: issuer, thisUpdate/nextUpdate, number, revoked serials and reasons.
#[napi(ts_args_type = "pem: string", ts_return_type = "Promise<CrlInfo>")]
pub fn inspect_crl(pem: Unknown<'_>) -> Pending {
    later(pem, "crl", crl_info)
}

/// [`inspectCrl`] on the calling thread.
#[napi(ts_args_type = "pem: string", ts_return_type = "CrlInfo")]
pub fn inspect_crl_sync(env: Env, pem: Unknown<'_>) -> napi::Result<Value> {
    let pem = task::string(pem, "crl");
    now(&env, pem.and_then(|pem| crl_info(&pem)))
}

/// A freshly generated key pair.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GeneratedKey {
    key_algorithm: KeyAlgorithm,
    /// PKCS#8 PEM (or encrypted PKCS#8 PEM with a passphrase).
    private_key: SecretString,
    /// SubjectPublicKeyInfo PEM.
    public_key: String,
}

/// Options of [`generate_key`].
#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct KeyOptions {
    /// Encrypt the PKCS#8 output (PBKDF2 + AES-256-CBC) with this passphrase.
    passphrase: Option<SecretString>,
}

/// Generate a private key (`EC_prime256v1` when no algorithm is given). RSA and P-384 take
/// long enough that this always runs on the thread pool.
#[napi(
    ts_args_type = "keyAlgorithm?: KeyAlgorithm, options?: { passphrase?: string }",
    ts_return_type = "Promise<GeneratedKey>"
)]
pub fn generate_key(env: Env, key_algorithm: Unknown<'_>, options: Unknown<'_>) -> Pending {
    let args =
        task::optional::<KeyAlgorithm>(&env, key_algorithm, "keyAlgorithm").and_then(|alg| {
            Ok((alg.unwrap_or_default(), task::optional::<KeyOptions>(&env, options, "options")?))
        });
    Work::with(args, |(alg, options)| async move {
        let key = PrivateKey::generate(alg)?;
        let private_key = match options.unwrap_or_default().passphrase {
            Some(passphrase) => {
                SecretString::new(key.to_encrypted_pkcs8_pem(passphrase.expose().as_bytes())?)
            }
            None => key.to_pkcs8_pem(),
        };
        Ok(GeneratedKey { key_algorithm: alg, private_key, public_key: key.public_key().to_pem() })
    })
}

/// A CSR to build: the key that signs it plus a [`CsrSpec`].
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CsrRequest {
    /// PEM private key (PKCS#8, PKCS#1 or SEC1; encrypted PKCS#8 with `passphrase`).
    private_key: SecretString,
    passphrase: Option<SecretString>,
    #[serde(flatten)]
    spec: CsrSpec,
}

/// The built CSR.
#[derive(Serialize)]
struct BuiltCsr {
    /// PEM `CERTIFICATE REQUEST`.
    csr: String,
}

/// Build and sign a PKCS#10 CSR (RFC 2986) for a private key.
#[napi(ts_args_type = "request: CsrRequest", ts_return_type = "Promise<{ csr: string }>")]
pub fn build_csr(env: Env, request: Unknown<'_>) -> Pending {
    let request = task::required::<CsrRequest>(&env, request, "request");
    Work::with(request, |request| async move {
        let key = match &request.passphrase {
            Some(passphrase) => {
                let pem = request.private_key.expose();
                PrivateKey::from_encrypted_pem(pem, passphrase.expose().as_bytes())?
            }
            None => PrivateKey::from_pem(request.private_key.expose())?,
        };
        let csr = DefaultCsrBuilder.build(&key, &request.spec)?;
        Ok(BuiltCsr { csr: csr.pem })
    })
}

//! The ACME issuer settings of a profile (`"issuer": {"type": "acme", ...}`).

use std::path::PathBuf;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::dcv::SolverConfig;
use crate::error::{Error, Result};

/// Default time allowed for one ACME request.
const DEFAULT_TIMEOUT_SECS: u64 = 30;
/// Default time allowed for the CA to validate and issue.
const DEFAULT_VALIDATION_TIMEOUT_SECS: u64 = 120;
/// Default attempts for a retryable failure.
const DEFAULT_MAX_ATTEMPTS: u32 = 4;

/// ACME issuer settings. Holds no secret: the EAB HMAC key is read from a file or an
/// environment variable when the account is registered, and never stored.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AcmeIssuerConfig {
    /// The directory URL, e.g. `https://acme-v02.api.letsencrypt.org/directory`.
    pub directory_url: String,
    /// PEM file with the root that signs the ACME server's own TLS certificate (private ACME
    /// servers, tests). The system roots are used when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_roots: Option<PathBuf>,
    /// Contact e-mail of the account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Agreement to the CA's terms of service, sent at registration (RFC 8555 §7.3). Creating
    /// an ACME profile means agreeing; set `false` to have the CA refuse instead.
    #[serde(default = "yes")]
    pub terms_of_service_agreed: bool,
    /// External Account Binding, for CAs that require it (RFC 8555 §7.3.4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eab: Option<EabConfig>,
    /// How names are validated.
    #[serde(default)]
    pub solver: SolverConfig,
    /// Seconds allowed for one ACME request (default 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_secs: Option<u64>,
    /// Seconds allowed for validation and issuance (default 120).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_timeout_secs: Option<u64>,
    /// Attempts for a retryable failure (network, badNonce, rateLimited), 1 to 10 (default 4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
}

fn yes() -> bool {
    true
}

/// External Account Binding: a key id and where to read the HMAC key (base64url).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EabConfig {
    /// The key id the CA gave.
    pub kid: String,
    /// File holding the base64url HMAC key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hmac_key_file: Option<PathBuf>,
    /// Environment variable holding the base64url HMAC key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hmac_key_env: Option<String>,
}

impl EabConfig {
    /// The raw HMAC key, base64url-decoded.
    pub fn hmac_key(&self) -> Result<Zeroizing<Vec<u8>>> {
        let encoded = match (&self.hmac_key_file, &self.hmac_key_env) {
            (Some(path), None) => Zeroizing::new(
                std::fs::read_to_string(path).map_err(|e| Error::io(path.display(), e))?,
            ),
            (None, Some(var)) => Zeroizing::new(std::env::var(var).map_err(|_| {
                Error::invalid("issuer.eab.hmacKeyEnv", format!("${var} is not set"))
            })?),
            _ => {
                return Err(Error::invalid(
                    "issuer.eab",
                    "give exactly one of hmacKeyFile or hmacKeyEnv",
                ));
            }
        };
        let trimmed = encoded.trim().trim_end_matches('=');
        URL_SAFE_NO_PAD
            .decode(trimmed)
            .or_else(|_| URL_SAFE.decode(encoded.trim()))
            .map(Zeroizing::new)
            .map_err(|_| Error::invalid("issuer.eab.hmacKey", "the HMAC key is not base64url"))
    }
}

impl AcmeIssuerConfig {
    /// Check the fields, naming the first bad one.
    pub fn validate(&self) -> Result<()> {
        let url = self.directory_url.trim();
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(Error::invalid(
                "issuer.directoryUrl",
                format!("{url:?} is not an http(s) URL"),
            ));
        }
        if let Some(email) = &self.email
            && (!email.contains('@') || email.contains(char::is_whitespace))
        {
            return Err(Error::invalid("issuer.email", format!("{email:?} is not an e-mail")));
        }
        if let Some(eab) = &self.eab
            && eab.kid.trim().is_empty()
        {
            return Err(Error::invalid("issuer.eab.kid", "give the key id"));
        }
        if let Some(n) = self.max_attempts
            && !(1..=10).contains(&n)
        {
            return Err(Error::invalid("issuer.maxAttempts", "use 1 to 10"));
        }
        for (field, value) in [
            ("issuer.timeoutSecs", self.timeout_secs),
            ("issuer.validationTimeoutSecs", self.validation_timeout_secs),
        ] {
            if let Some(secs) = value
                && !(1..=3600).contains(&secs)
            {
                return Err(Error::invalid(field, "use 1 to 3600 seconds"));
            }
        }
        self.solver.validate()
    }

    /// Time allowed for one request.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs.unwrap_or(DEFAULT_TIMEOUT_SECS))
    }

    /// Time allowed for validation and issuance.
    pub fn validation_timeout(&self) -> Duration {
        Duration::from_secs(self.validation_timeout_secs.unwrap_or(DEFAULT_VALIDATION_TIMEOUT_SECS))
    }

    /// Attempts for a retryable failure.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS)
    }

    /// The store key of the account these settings use: one account per directory, contact
    /// and EAB key id.
    pub fn account_slug(&self) -> String {
        let material = format!(
            "{}\n{}\n{}",
            self.directory_url.trim(),
            self.email.as_deref().unwrap_or(""),
            self.eab.as_ref().map_or("", |e| e.kid.as_str())
        );
        let digest = ring::digest::digest(&ring::digest::SHA256, material.as_bytes());
        let hex: String = digest.as_ref()[..12].iter().map(|b| format!("{b:02x}")).collect();
        format!("acme-{hex}")
    }
}

#[cfg(test)]
mod tests {
    use crate::policy::{CertificateProfile, ProfileIssuer};

    fn profile(issuer: serde_json::Value) -> Result<CertificateProfile, serde_json::Error> {
        serde_json::from_value(serde_json::json!({
            "slug": "le", "templateId": "tls-server", "issuer": issuer,
        }))
    }

    #[test]
    fn issue_example_profile_parses_and_round_trips() {
        let parsed = profile(serde_json::json!({
            "type": "acme", "directoryUrl": "https://127.0.0.1:14000/dir",
            "caRoots": "pebble-tls.pem", "email": "ops@acme.com",
            "eab": {"kid": "kid-1", "hmacKeyEnv": "EAB_KEY"},
            "solver": {"type": "http01-webroot", "path": "/var/www/html"},
        }))
        .unwrap();
        let ProfileIssuer::Acme(config) = &parsed.issuer else { panic!("not ACME") };
        assert!(config.terms_of_service_agreed);
        config.validate().unwrap();
        let again: CertificateProfile =
            serde_json::from_value(serde_json::to_value(&parsed).unwrap()).unwrap();
        assert_eq!(again, parsed);
    }

    #[test]
    fn typos_and_bad_values_are_named() {
        let typo = profile(serde_json::json!({"type": "acme", "directoryURL": "https://x/dir"}));
        assert!(typo.unwrap_err().to_string().contains("directoryURL"));
        let bad = profile(serde_json::json!({"type": "acme", "directoryUrl": "ftp://x"})).unwrap();
        let err = bad.validate_definition().unwrap_err();
        assert!(err.to_string().contains("issuer.directoryUrl"), "{err}");
        let relative = profile(serde_json::json!({"type": "acme", "directoryUrl": "https://x/d",
            "solver": {"type": "dns01-hook", "command": "hook.sh"}}))
        .unwrap();
        let err = relative.validate_definition().unwrap_err();
        assert!(err.to_string().contains("issuer.solver.command"), "{err}");
    }

    #[test]
    fn eab_key_comes_from_the_environment_or_a_file_never_the_profile() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("eab.key");
        std::fs::write(&file, "c2VjcmV0\n").unwrap();
        let eab =
            super::EabConfig { kid: "k".into(), hmac_key_file: Some(file), hmac_key_env: None };
        assert_eq!(eab.hmac_key().unwrap().as_slice(), b"secret");
        let neither = super::EabConfig { kid: "k".into(), hmac_key_file: None, hmac_key_env: None };
        assert!(neither.hmac_key().unwrap_err().to_string().contains("issuer.eab"));
    }
}

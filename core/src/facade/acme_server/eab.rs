//! External account bindings (RFC 8555 §7.3.4): keys made for a profile with
//! `certloop acme eab create`, kept sealed with the master key, and the check of a newAccount's
//! binding against them.

use super::*;

const EAB_KEY: DocumentKind =
    DocumentKind { kind: "acmeEabKey", what: "ACME external account key" };

/// An external account key as stored: the HMAC key sealed with the master key.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredEab {
    kid: String,
    profile_id: String,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    sealed_key: String,
}

/// A new external account key: hand `kid` and `hmac_key` to the ACME client's operator
/// (certbot `--eab-kid --eab-hmac-key`, lego `--kid --hmac`). The key is shown this once.
#[derive(Debug)]
pub struct CreatedEab {
    /// The key id.
    pub kid: String,
    /// The HMAC key, base64url (redacted in `Debug`).
    pub hmac_key: crypto::SecretString,
    /// The profile's slug.
    pub profile: String,
}

fn eab_context(kid: &str) -> Vec<u8> {
    format!("certloop acme eab {kid}").into_bytes()
}

impl Certloop {
    /// Check an external account binding against the stored key; its kid on success.
    pub(super) async fn verify_binding(
        &self,
        profile: &CertificateProfile,
        binding: &serde_json::Value,
        url: &str,
        account_key: &crate::acme_server::jws::Jwk,
    ) -> Result<String, Problem> {
        let binding = crate::acme_server::jws::ExternalBinding::parse(binding, url, account_key)?;
        let unknown =
            || Problem::unauthorized(format!("no EAB key {} on this profile", binding.kid));
        let stored: StoredEab = match self.get_typed(EAB_KEY, &binding.kid).await {
            Ok(stored) => stored,
            Err(Error::NotFound { .. }) => return Err(unknown()),
            Err(e) => return Err(e.into()),
        };
        if stored.profile_id != profile.id || stored.kid != binding.kid {
            return Err(unknown());
        }
        use base64::Engine as _;
        let sealed = base64::engine::general_purpose::STANDARD
            .decode(&stored.sealed_key)
            .map_err(|_| Error::store(format!("EAB key {} is unreadable", stored.kid)))?;
        let key = self.inner.sealer.open(&sealed, &eab_context(&stored.kid))?;
        binding.verify(&key)?;
        Ok(stored.kid)
    }

    /// Make an external account key for ACME profile `profile`; the HMAC key is returned this
    /// once and kept sealed with the master key.
    pub async fn acme_server_create_eab(&self, profile: &str) -> Result<CreatedEab> {
        use base64::Engine as _;
        use ring::rand::SecureRandom as _;
        let profile = self.acme_server_profile(profile).await?;
        let mut key = zeroize::Zeroizing::new([0u8; 32]);
        ring::rand::SystemRandom::new()
            .fill(key.as_mut())
            .map_err(|_| Error::crypto("the system random source failed"))?;
        let kid = format!("eab_{}", uuid::Uuid::new_v4().simple());
        let sealed = self.inner.sealer.seal(key.as_ref(), &eab_context(&kid))?;
        let stored = StoredEab {
            kid: kid.clone(),
            profile_id: profile.id.clone(),
            created_at: self.now(),
            sealed_key: base64::engine::general_purpose::STANDARD.encode(sealed),
        };
        self.put_typed(EAB_KEY, &kid, &kid, &stored).await?;
        let detail = format!("ACME external account key {kid} for profile {}", profile.slug);
        self.audit(AuditAction::TokenCreated, None, Some(&kid), AuditOutcome::Success, detail)
            .await?;
        let hmac_key = crypto::SecretString::new(
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.as_ref()),
        );
        Ok(CreatedEab { kid, hmac_key, profile: profile.slug })
    }
}

/// Whether the profile's new ACME accounts need an external account binding.
pub fn external_account_required(profile: &CertificateProfile) -> bool {
    profile.acme_config.is_some_and(|c| c.external_account_required)
}

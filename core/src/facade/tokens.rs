//! API credentials for `certloop serve`: create, list, revoke, authenticate. A token's text is
//! `clt_<id>_<43 base64url characters>` (256 random bits); the store keeps the SHA-256 of the
//! whole text beside the token's restrictions, never the text.

use base64::Engine as _;
use ring::rand::SecureRandom as _;

use super::*;
use crate::model::{ApiToken, CreatedToken, TokenSpec};

const API_TOKEN: DocumentKind = DocumentKind { kind: "apiToken", what: "API token" };
const PREFIX: &str = "clt_";

/// A token as stored: what is listed, and the hash its text must match.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredToken {
    #[serde(flatten)]
    info: ApiToken,
    sha256: String,
}

impl Certloop {
    /// Create a token restricted to `spec`'s profiles and actions. The returned secret is the
    /// only copy: the inventory keeps its hash.
    pub async fn create_token(&self, spec: TokenSpec) -> Result<CreatedToken> {
        validate_spec(&spec)?;
        if self.inner.store.get_document(API_TOKEN, &spec.name).await.is_ok() {
            return Err(Error::AlreadyExists { what: API_TOKEN.what, id: spec.name });
        }
        let id = uuid::Uuid::new_v4().simple().to_string();
        let mut random = zeroize::Zeroizing::new([0u8; 32]);
        ring::rand::SystemRandom::new()
            .fill(random.as_mut())
            .map_err(|_| Error::crypto("the system random source failed"))?;
        let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random.as_ref());
        let token = crate::crypto::SecretString::new(format!("{PREFIX}{id}_{secret}"));
        drop(zeroize::Zeroizing::new(secret));
        let now = self.now();
        let info = ApiToken {
            id: id.clone(),
            name: spec.name,
            profiles: spec.profiles,
            actions: spec.actions,
            created_at: now,
            expires_at: spec.ttl.map(|ttl| now + ttl.duration()),
            revoked_at: None,
        };
        let stored = StoredToken { info, sha256: token_hash(token.expose()) };
        self.put_typed(API_TOKEN, &id, &stored.info.name, &stored).await?;
        let detail = format!("token {} for {:?}", stored.info.name, stored.info.profiles);
        self.audit(AuditAction::TokenCreated, None, Some(&id), AuditOutcome::Success, detail)
            .await?;
        Ok(CreatedToken { token, info: stored.info })
    }

    /// Every token (without secrets), revoked ones included.
    pub async fn list_tokens(&self) -> Result<Vec<ApiToken>> {
        let stored: Vec<StoredToken> = self.list_typed(API_TOKEN).await?;
        Ok(stored.into_iter().map(|s| s.info).collect())
    }

    /// Revoke the token with this id or name: every later request with it is refused.
    /// Revoking a revoked token changes nothing.
    pub async fn revoke_token(&self, id_or_name: &str) -> Result<ApiToken> {
        let mut stored: StoredToken = self.get_typed(API_TOKEN, id_or_name).await?;
        if stored.info.revoked_at.is_none() {
            stored.info.revoked_at = Some(self.now());
            self.put_typed(API_TOKEN, &stored.info.id, &stored.info.name, &stored).await?;
            let id = Some(stored.info.id.as_str());
            let detail = format!("token {}", stored.info.name);
            self.audit(AuditAction::TokenRevoked, None, id, AuditOutcome::Success, detail).await?;
        }
        Ok(stored.info)
    }

    /// The active token whose text is `presented`, or `None` (unknown, wrong secret, revoked,
    /// expired). Comparison is on hashes in constant time; nothing about `presented` is logged.
    pub async fn authenticate_token(&self, presented: &str) -> Result<Option<ApiToken>> {
        let Some(id) = presented.strip_prefix(PREFIX).and_then(|rest| rest.split('_').next())
        else {
            return Ok(None);
        };
        if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        let stored: StoredToken = match self.get_typed(API_TOKEN, id).await {
            Ok(stored) => stored,
            Err(Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let matches = constant_time_eq(token_hash(presented).as_bytes(), stored.sha256.as_bytes());
        Ok((matches && stored.info.id == id && stored.info.is_active(self.now()))
            .then_some(stored.info))
    }

    /// Record one API request in the audit log, with this handle's actor (see
    /// [`with_actor`](Self::with_actor)): `detail` is the method, route and status; the
    /// outcome is a failure when `succeeded` is false (refused, invalid, failed).
    pub async fn audit_api_request(&self, detail: String, succeeded: bool) -> Result<()> {
        let outcome = if succeeded { AuditOutcome::Success } else { AuditOutcome::Failure };
        self.audit(AuditAction::ApiRequest, None, None, outcome, detail).await
    }
}

fn validate_spec(spec: &TokenSpec) -> Result<()> {
    let name_ok = !spec.name.is_empty()
        && spec.name.len() <= 64
        && spec.name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if !name_ok {
        return Err(Error::invalid(
            "name",
            format!("{:?} must be 1 to 64 letters, digits, '-', '_' or '.'", spec.name),
        ));
    }
    if spec.profiles.is_empty() {
        return Err(Error::invalid("profiles", "name at least one profile, or \"*\" for all"));
    }
    if let Some(bad) = spec.profiles.iter().find(|p| p.is_empty() || p.len() > 64) {
        return Err(Error::invalid("profiles", format!("{bad:?} is not a profile slug or id")));
    }
    if spec.actions.is_empty() {
        return Err(Error::invalid("actions", "name at least one action"));
    }
    if spec.ttl.is_some_and(|ttl| ttl.seconds() == 0) {
        return Err(Error::invalid("ttl", "must be longer than zero"));
    }
    Ok(())
}

fn token_hash(text: &str) -> String {
    crate::crypto::x509::hex(ring::digest::digest(&ring::digest::SHA256, text.as_bytes()).as_ref())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

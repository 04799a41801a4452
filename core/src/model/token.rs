//! API credentials: bearer tokens for `certloop serve`, each restricted to named profiles and
//! actions (least privilege). The secret is shown once when created; the inventory keeps only
//! its SHA-256.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::Ttl;

/// What a token may do. `"issue"`, `"renew"`, `"revoke"`, `"read"`, `"manageProfiles"` in JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TokenAction {
    /// Issue certificates (with or without a CSR) under its profiles.
    Issue,
    /// Renew certificates issued under its profiles.
    Renew,
    /// Revoke certificates issued under its profiles.
    Revoke,
    /// Read certificates, chains, CRLs and profiles of its profiles; list and search.
    Read,
    /// Create or replace profiles with the slugs it names.
    ManageProfiles,
}

impl TokenAction {
    /// Every action, for `--action all`.
    pub const ALL: [TokenAction; 5] =
        [Self::Issue, Self::Renew, Self::Revoke, Self::Read, Self::ManageProfiles];

    /// The JSON spelling: `issue`, `manageProfiles`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Issue => "issue",
            Self::Renew => "renew",
            Self::Revoke => "revoke",
            Self::Read => "read",
            Self::ManageProfiles => "manageProfiles",
        }
    }
}

impl std::str::FromStr for TokenAction {
    type Err = crate::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|a| a.as_str().eq_ignore_ascii_case(s)).ok_or_else(|| {
            crate::Error::invalid(
                "actions",
                format!(
                    "unknown action {s:?}; expected issue, renew, revoke, read or manageProfiles"
                ),
            )
        })
    }
}

/// The profile pattern that allows every profile.
pub const ANY_PROFILE: &str = "*";

/// What to create a token with; camelCase JSON:
/// `{"name": "ci-web", "profiles": ["web"], "actions": ["issue", "read"], "ttl": "90d"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TokenSpec {
    /// Unique name, recorded as the actor of every request made with the token.
    pub name: String,
    /// Profile slugs or ids it may use; `"*"` for all.
    pub profiles: Vec<String>,
    /// What it may do with them.
    pub actions: Vec<TokenAction>,
    /// How long it is valid; forever when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<Ttl>,
}

/// A token as listed: everything but its secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiToken {
    /// Its id (UUID); the token text carries it, so a lookup needs no scan.
    pub id: String,
    /// Unique name.
    pub name: String,
    /// Profile slugs or ids it may use; `"*"` for all.
    pub profiles: Vec<String>,
    /// What it may do.
    pub actions: Vec<TokenAction>,
    /// When it was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it stops being valid.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub expires_at: Option<OffsetDateTime>,
    /// When it was revoked.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub revoked_at: Option<OffsetDateTime>,
}

impl ApiToken {
    /// Whether it may do `action` at all.
    pub fn may(&self, action: TokenAction) -> bool {
        self.actions.contains(&action)
    }

    /// Whether it may do `action` on the profile with this id and slug.
    pub fn allows(&self, action: TokenAction, profile_id: &str, profile_slug: &str) -> bool {
        self.may(action)
            && self
                .profiles
                .iter()
                .any(|p| p == ANY_PROFILE || p == profile_id || p == profile_slug)
    }

    /// Whether it is usable at `now`: not revoked, not expired.
    pub fn is_active(&self, now: OffsetDateTime) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|at| now < at)
    }
}

/// A token just created: the only time its secret exists outside the caller's hands.
#[derive(Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatedToken {
    /// The bearer secret (`clt_<id>_<random>`); shown once, stored only as a hash.
    pub token: crate::crypto::SecretString,
    /// What was stored.
    pub info: ApiToken,
}

impl std::fmt::Debug for CreatedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedToken")
            .field("token", &"[redacted]")
            .field("info", &self.info)
            .finish()
    }
}

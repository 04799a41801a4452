//! An ACME server (RFC 8555) on certloop's own CAs: the protocol's objects, its errors, request
//! signatures and HTTP-01 validation, independent of any HTTP framework. The store-backed
//! operations are methods of [`crate::Certloop`] (`acme_*`); `certloop serve` maps them to
//! routes under `/acme/{profile}/`.
//!
//! Every profile whose `enrollmentType` is `ACME` has its own directory; orders are finalized
//! under that profile's template, so ACME clients get exactly what the policy allows.

pub mod jws;
mod validation;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

pub use validation::{ValidationOptions, validate_dns01, validate_http01};

/// An ACME error type (RFC 8555 §6.7), `urn:ietf:params:acme:error:<name>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProblemType {
    /// The request is not well formed.
    Malformed,
    /// The nonce is unknown, used or missing.
    BadNonce,
    /// The JWS algorithm is not accepted.
    BadSignatureAlgorithm,
    /// The JWK is not accepted.
    BadPublicKey,
    /// The account named by `kid` does not exist.
    AccountDoesNotExist,
    /// The client may not do this.
    Unauthorized,
    /// The order is not ready to finalize.
    OrderNotReady,
    /// The server will not issue for an identifier.
    RejectedIdentifier,
    /// The identifier type is not supported.
    UnsupportedIdentifier,
    /// The CSR is unacceptable.
    BadCsr,
    /// The certificate is already revoked.
    AlreadyRevoked,
    /// The revocation reason is not allowed.
    BadRevocationReason,
    /// The client's response to a challenge was wrong.
    IncorrectResponse,
    /// The validation server could not be reached.
    Connection,
    /// New accounts need an external account binding.
    ExternalAccountRequired,
    /// Something failed on the server.
    ServerInternal,
}

impl ProblemType {
    /// The last part of the URN.
    pub fn name(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::BadNonce => "badNonce",
            Self::BadSignatureAlgorithm => "badSignatureAlgorithm",
            Self::BadPublicKey => "badPublicKey",
            Self::AccountDoesNotExist => "accountDoesNotExist",
            Self::Unauthorized => "unauthorized",
            Self::OrderNotReady => "orderNotReady",
            Self::RejectedIdentifier => "rejectedIdentifier",
            Self::UnsupportedIdentifier => "unsupportedIdentifier",
            Self::BadCsr => "badCSR",
            Self::AlreadyRevoked => "alreadyRevoked",
            Self::BadRevocationReason => "badRevocationReason",
            Self::IncorrectResponse => "incorrectResponse",
            Self::Connection => "connection",
            Self::ExternalAccountRequired => "externalAccountRequired",
            Self::ServerInternal => "serverInternal",
        }
    }

    /// The HTTP status an answer with this problem carries.
    pub fn status(self) -> u16 {
        match self {
            Self::AccountDoesNotExist => 400,
            Self::Unauthorized => 403,
            Self::OrderNotReady => 403,
            Self::ServerInternal => 500,
            _ => 400,
        }
    }
}

/// A problem document (RFC 7807) as ACME answers errors.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The error type.
    pub kind: ProblemType,
    /// What went wrong, for the client's operator. Never holds a secret.
    pub detail: String,
}

impl Problem {
    /// A problem of `kind`.
    pub fn new(kind: ProblemType, detail: impl Into<String>) -> Self {
        Self { kind, detail: detail.into() }
    }

    /// A `malformed` problem.
    pub fn malformed(detail: impl Into<String>) -> Self {
        Self::new(ProblemType::Malformed, detail)
    }

    /// An `unauthorized` problem.
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(ProblemType::Unauthorized, detail)
    }

    /// The JSON body: `{"type": "urn:ietf:params:acme:error:...", "detail": ..., "status": ...}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "type": format!("urn:ietf:params:acme:error:{}", self.kind.name()),
            "detail": self.detail,
            "status": self.kind.status(),
        })
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kind.name(), self.detail)
    }
}

impl From<crate::Error> for Problem {
    fn from(error: crate::Error) -> Self {
        use crate::ErrorKind as K;
        let kind = match error.kind() {
            K::InvalidInput | K::Crypto => ProblemType::Malformed,
            K::PolicyViolation => ProblemType::RejectedIdentifier,
            K::NotFound => ProblemType::Malformed,
            K::InvalidState => ProblemType::Malformed,
            _ => ProblemType::ServerInternal,
        };
        let detail = match kind {
            // Store and I/O detail stays in the server's log.
            ProblemType::ServerInternal => "the server failed; its log says why".to_owned(),
            _ => error.to_string(),
        };
        Problem::new(kind, detail)
    }
}

/// Where a profile's ACME resources live: `{base}/...` with `base` like
/// `https://ca.example:8443/acme/web`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AcmeUrls {
    /// The profile's ACME root, without a trailing `/`.
    pub base: String,
}

impl AcmeUrls {
    /// A resource URL: `{base}/{path}`.
    pub fn at(&self, path: &str) -> String {
        format!("{}/{path}", self.base)
    }

    /// An account URL (the `kid` clients sign with).
    pub fn account(&self, id: &str) -> String {
        self.at(&format!("account/{id}"))
    }

    /// The account id in an account URL of this profile, if it is one.
    pub fn account_id<'a>(&self, kid: &'a str) -> Option<&'a str> {
        kid.strip_prefix(self.base.as_str())?.strip_prefix("/account/").filter(|id| !id.is_empty())
    }

    /// The directory object (RFC 8555 §7.1.1).
    pub fn directory(&self, meta: serde_json::Value) -> serde_json::Value {
        serde_json::json!({
            "newNonce": self.at("new-nonce"),
            "newAccount": self.at("new-account"),
            "newOrder": self.at("new-order"),
            "revokeCert": self.at("revoke-cert"),
            "renewalInfo": self.at("renewal-info"),
            "meta": meta,
        })
    }
}

/// Status of an account, order, authorization or challenge (RFC 8555 §7.1.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Status {
    /// Waiting for the client.
    Pending,
    /// Every authorization is valid: the order can be finalized.
    Ready,
    /// Being validated or issued.
    Processing,
    /// Done.
    Valid,
    /// Failed.
    Invalid,
    /// Deactivated by the client.
    Deactivated,
    /// Past its expiry.
    Expired,
    /// Revoked.
    Revoked,
}

/// An ACME account of one profile.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerAccount {
    /// The account id (the last part of its URL).
    pub id: String,
    /// The profile it belongs to.
    pub profile_id: String,
    /// Its public key.
    pub key: jws::Jwk,
    /// The key's RFC 7638 thumbprint.
    pub thumbprint: String,
    /// `valid` or `deactivated`.
    pub status: Status,
    /// `mailto:` URLs.
    #[serde(default)]
    pub contact: Vec<String>,
    /// When it was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// What a client asks a certificate for: `{"type": "dns", "value": "www.example.com"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identifier {
    /// `dns` or `ip`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The name or address.
    pub value: String,
}

/// One challenge of an authorization.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerChallenge {
    /// `http-01` or `dns-01`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The token (43 base64url characters).
    pub token: String,
    /// Its status.
    pub status: Status,
    /// When it was validated.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub validated: Option<OffsetDateTime>,
    /// Why it failed.
    #[serde(default)]
    pub error: Option<String>,
}

/// An authorization: proof of control over one identifier.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerAuthorization {
    /// The identifier (without `*.` for a wildcard).
    pub identifier: Identifier,
    /// Whether the order asked for `*.` + the identifier.
    #[serde(default)]
    pub wildcard: bool,
    /// Its status.
    pub status: Status,
    /// Its challenges.
    pub challenges: Vec<ServerChallenge>,
}

/// An order with its authorizations (kept in one stored document, so they change together).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerOrder {
    /// The order id.
    pub id: String,
    /// The account that placed it.
    pub account_id: String,
    /// The profile it is issued under.
    pub profile_id: String,
    /// Its status.
    pub status: Status,
    /// When it and its authorizations expire.
    #[serde(with = "time::serde::rfc3339")]
    pub expires: OffsetDateTime,
    /// What the certificate is for, as requested.
    pub identifiers: Vec<Identifier>,
    /// One authorization per identifier.
    pub authorizations: Vec<ServerAuthorization>,
    /// The issued certificate's inventory id.
    #[serde(default)]
    pub certificate_id: Option<String>,
    /// The certificate this order replaces (RFC 9773 `replaces`), by inventory id.
    #[serde(default)]
    pub replaces: Option<String>,
    /// Why it failed.
    #[serde(default)]
    pub error: Option<String>,
}

impl ServerOrder {
    /// The order object a client sees (RFC 8555 §7.1.3).
    pub fn to_json(&self, urls: &AcmeUrls) -> serde_json::Value {
        let mut order = serde_json::json!({
            "status": self.status,
            "expires": rfc3339(self.expires),
            "identifiers": self.identifiers,
            "authorizations": (0..self.authorizations.len())
                .map(|i| urls.at(&format!("authz/{}/{i}", self.id)))
                .collect::<Vec<_>>(),
            "finalize": urls.at(&format!("order/{}/finalize", self.id)),
        });
        if let Some(certificate_id) = &self.certificate_id {
            order["certificate"] = urls.at(&format!("cert/{certificate_id}")).into();
        }
        if let Some(replaces) = &self.replaces {
            order["replaces"] = replaces.clone().into();
        }
        if let Some(error) = &self.error {
            order["error"] = Problem::new(ProblemType::BadCsr, error.clone()).to_json();
        }
        order
    }

    /// Authorization `index` as a client sees it (RFC 8555 §7.1.4).
    pub fn authorization_json(&self, index: usize, urls: &AcmeUrls) -> Option<serde_json::Value> {
        let authz = self.authorizations.get(index)?;
        let challenges: Vec<_> = authz
            .challenges
            .iter()
            .map(|c| {
                let mut json = serde_json::json!({
                    "type": c.kind,
                    "url": urls.at(&format!("chall/{}/{index}/{}", self.id, c.kind)),
                    "token": c.token,
                    "status": c.status,
                });
                if let Some(at) = c.validated {
                    json["validated"] = rfc3339(at).into();
                }
                if let Some(error) = &c.error {
                    json["error"] =
                        Problem::new(ProblemType::IncorrectResponse, error.clone()).to_json();
                }
                json
            })
            .collect();
        let mut json = serde_json::json!({
            "identifier": authz.identifier,
            "status": authz.status,
            "expires": rfc3339(self.expires),
            "challenges": challenges,
        });
        if authz.wildcard {
            json["wildcard"] = true.into();
        }
        Some(json)
    }

    /// Mark the order ready when every authorization is valid, invalid when one is.
    pub fn settle(&mut self) {
        if self.status != Status::Pending {
            return;
        }
        if self.authorizations.iter().any(|a| a.status == Status::Invalid) {
            self.status = Status::Invalid;
        } else if self.authorizations.iter().all(|a| a.status == Status::Valid) {
            self.status = Status::Ready;
        }
    }
}

/// An instant as RFC 3339 (ACME's date format).
pub fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

/// The key authorization of `token` for an account key (RFC 8555 §8.1).
pub fn key_authorization(token: &str, account_key: &jws::Jwk) -> String {
    format!("{token}.{}", account_key.thumbprint())
}

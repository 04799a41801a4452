//! ACME (RFC 8555) connector over `instant-acme`: accounts (with External Account Binding),
//! orders for DNS and IP identifiers, HTTP-01 / DNS-01 validation through a
//! [`ChallengeSolver`](crate::dcv::ChallengeSolver), finalization with our CSR, chain download,
//! revocation, and renewal information (RFC 9773 ARI) when the directory offers it.
//!
//! Account storage is the façade's job: [`AcmeAccount::create`] returns sealed-ready credential
//! bytes, [`AcmeAccount::restore`] takes them back. When validation cannot be automated the
//! order is not lost: [`AcmeConnector::order`] returns [`AcmeOutcome::Pending`] with the order
//! URL and the instructions a person needs, and [`AcmeConnector::resume`] completes it later.

mod config;
mod problem;
mod renewal_info;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, ChallengeType, ExternalAccountKey,
    Identifier, NewAccount, NewOrder, Order, OrderStatus, RetryPolicy, RevocationRequest,
};
use rustls_pki_types::CertificateDer;
use time::OffsetDateTime;
use zeroize::Zeroizing;

pub use config::{AcmeIssuerConfig, EabConfig};
pub use renewal_info::{RenewalWindow, ari_certificate_id};

use problem::{backoff, flatten, map_acme, order_problem};

use super::{CaConnector, Capabilities, CertificateOrder, Issued, Revoker};
use crate::crypto;
use crate::dcv::{Challenge, ChallengeKind, ChallengeSolver, ManualInstructions, ManualStep};
use crate::error::{Error, Result};
use crate::model::{CertificateRecord, RevocationReason, SubjectAltName};

/// An ACME account, usable by connectors; cheap to clone.
#[derive(Clone)]
pub struct AcmeAccount {
    account: Account,
    config: Arc<AcmeIssuerConfig>,
}

impl std::fmt::Debug for AcmeAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AcmeAccount")
            .field("id", &self.account.id())
            .field("directory_url", &self.config.directory_url)
            .finish_non_exhaustive()
    }
}

impl AcmeAccount {
    /// Register a new account (contact, terms of service, EAB). Returns the account and its
    /// credentials as JSON bytes (they hold the account key: seal them before storing).
    pub async fn create(config: &AcmeIssuerConfig) -> Result<(Self, Zeroizing<Vec<u8>>)> {
        config.validate()?;
        let contact = config.email.as_ref().map(|email| format!("mailto:{email}"));
        let contacts: Vec<&str> = contact.iter().map(String::as_str).collect();
        let new_account = NewAccount {
            contact: &contacts,
            terms_of_service_agreed: config.terms_of_service_agreed,
            only_return_existing: false,
        };
        let eab = match &config.eab {
            Some(eab) => {
                let raw = eab.hmac_key()?;
                Some(ExternalAccountKey::new(eab.kid.clone(), &raw))
            }
            None => None,
        };
        let timeout = config.timeout();
        let mut attempt = 0;
        let (account, credentials) = loop {
            attempt += 1;
            let builder = builder(config)?;
            let created = tokio::time::timeout(
                timeout,
                builder.create(&new_account, config.directory_url.clone(), eab.as_ref()),
            )
            .await;
            match flatten(created, timeout, "account creation") {
                Ok(ok) => break ok,
                Err(e) if e.is_retryable() && attempt < config.max_attempts() => {
                    tokio::time::sleep(backoff(attempt)).await;
                }
                Err(e) => return Err(e),
            }
        };
        let json = serde_json::to_vec(&credentials)
            .map_err(|e| Error::ca(format!("cannot encode ACME account credentials: {e}")))?;
        Ok((Self { account, config: Arc::new(config.clone()) }, Zeroizing::new(json)))
    }

    /// An account from stored credentials (JSON bytes from [`AcmeAccount::create`]). Fetches
    /// the directory; the account itself is checked on first use.
    pub async fn restore(config: &AcmeIssuerConfig, credentials: &[u8]) -> Result<Self> {
        config.validate()?;
        let credentials: AccountCredentials = serde_json::from_slice(credentials)
            .map_err(|e| Error::store(format!("stored ACME account is unreadable: {e}")))?;
        let timeout = config.timeout();
        let restored =
            tokio::time::timeout(timeout, builder(config)?.from_credentials(credentials)).await;
        let account = flatten(restored, timeout, "directory")?;
        Ok(Self { account, config: Arc::new(config.clone()) })
    }

    /// The account URL (its id at the CA).
    pub fn id(&self) -> &str {
        self.account.id()
    }
}

/// The HTTP client: default roots, or the configured private root.
fn builder(config: &AcmeIssuerConfig) -> Result<instant_acme::AccountBuilder> {
    match &config.ca_roots {
        Some(path) => {
            if !path.is_file() {
                return Err(Error::invalid(
                    "issuer.caRoots",
                    format!("{} is not a readable PEM file", path.display()),
                ));
            }
            Account::builder_with_root(path)
                .map_err(|e| Error::invalid("issuer.caRoots", format!("{}: {e}", path.display())))
        }
        None => Account::builder().map_err(|e| Error::ca(format!("HTTP client: {e}"))),
    }
}

/// What an order came to.
#[derive(Debug)]
pub enum AcmeOutcome {
    /// The certificate.
    Issued(Issued),
    /// Waiting for a person to complete validation; resume with [`AcmeConnector::resume`].
    Pending {
        /// The ACME order URL.
        order_url: String,
        /// What the person must do.
        instructions: ManualInstructions,
    },
}

/// The ACME connector.
#[derive(Debug)]
pub struct AcmeConnector {
    account: AcmeAccount,
    issuer_key: String,
}

impl AcmeConnector {
    /// A connector ordering through `account`.
    pub fn new(account: AcmeAccount) -> Self {
        let issuer_key = format!("acme:{}", account.config.directory_url);
        Self { account, issuer_key }
    }

    fn config(&self) -> &AcmeIssuerConfig {
        &self.account.config
    }

    /// Order a certificate for `order` with `csr_der` (its names must match the order's).
    /// `replaces` names the certificate this one renews (ARI), when the CA offers ARI.
    pub async fn order(
        &self,
        order: &CertificateOrder,
        csr_der: &[u8],
        replaces: Option<&CertificateRecord>,
    ) -> Result<AcmeOutcome> {
        let identifiers = identifiers(&order.alt_names)?;
        let config = self.config();
        let solver = config.solver.solver()?;
        // The provisioning document's fallbacks: DCV not selected, path invalid or not
        // writable (prepare), server not reachable (wait).
        let mut fallback = match &solver {
            None => Some("no automated validation method is configured".to_owned()),
            Some(solver) => solver.prepare().await.err().map(|e| e.to_string()),
        };
        let replaces_id = match replaces {
            Some(previous) => ari_certificate_id(&previous.certificate)?,
            None => None,
        };
        let mut acme_order = self
            .retry("new order", || async {
                let mut new_order = NewOrder::new(&identifiers);
                if let Some(id) = &replaces_id {
                    new_order = new_order.replaces(id.clone());
                }
                match self.account.account.new_order(&new_order).await {
                    // A CA without ARI refuses `replaces` client-side: order without it.
                    Err(instant_acme::Error::Unsupported(_)) => {
                        self.account.account.new_order(&NewOrder::new(&identifiers)).await
                    }
                    other => other,
                }
            })
            .await?;
        let preferred = solver.as_ref().map(|s| s.kind());
        let challenges = self.challenges(&mut acme_order, preferred).await?;

        if let (None, Some(solver)) = (&fallback, &solver) {
            match self.solve(&mut acme_order, solver.as_ref(), &challenges).await {
                Ok(()) => {}
                Err(SolveError::Fallback(reason)) => fallback = Some(reason),
                Err(SolveError::Failed(e)) => return Err(e),
            }
        }
        if let Some(reason) = fallback {
            let steps = self.challenges(&mut acme_order, None).await?;
            return Ok(AcmeOutcome::Pending {
                order_url: acme_order.url().to_owned(),
                instructions: ManualInstructions {
                    reason,
                    steps: steps.iter().map(ManualStep::for_challenge).collect(),
                },
            });
        }
        self.finish(&mut acme_order, csr_der).await.map(AcmeOutcome::Issued)
    }

    /// Complete an order left pending for manual validation: tell the CA to check each
    /// pending challenge, wait for the result, finalize with `csr_der`, download the chain.
    pub async fn resume(&self, order_url: &str, csr_der: &[u8]) -> Result<Issued> {
        let mut order =
            self.retry("order lookup", || self.account.account.order(order_url.to_owned())).await?;
        let status = order.state().status;
        if status == OrderStatus::Invalid {
            return Err(order_problem(&mut order, "the order is invalid"));
        }
        if status == OrderStatus::Pending {
            let challenges = self.challenges(&mut order, None).await?;
            self.set_ready(&mut order, &challenges).await?;
        }
        self.finish(&mut order, csr_der).await
    }

    /// Revoke `certificate_pem` (RFC 8555 §7.6) for `reason`.
    pub async fn revoke_pem(&self, certificate_pem: &str, reason: RevocationReason) -> Result<()> {
        let der = crypto::pem_decode_all(certificate_pem.as_bytes(), "CERTIFICATE")?
            .into_iter()
            .next()
            .ok_or_else(|| Error::invalid("certificate", "no certificate to revoke"))?;
        let certificate = CertificateDer::from(der);
        let reason = Some(acme_reason(reason));
        self.retry("revocation", || async {
            let request = RevocationRequest { certificate: &certificate, reason: reason.clone() };
            self.account.account.revoke(&request).await
        })
        .await
    }

    /// The CA's suggested renewal window for `certificate_pem` (RFC 9773), or `None` when the
    /// directory offers no ARI or the certificate has no authority key identifier.
    pub async fn renewal_window(&self, certificate_pem: &str) -> Result<Option<RenewalWindow>> {
        let Some(id) = ari_certificate_id(certificate_pem)? else { return Ok(None) };
        let fetched = self.retry("renewal info", || self.account.account.renewal_info(&id)).await;
        match fetched {
            Ok((info, _retry_after)) => Ok(Some(RenewalWindow {
                start: info.suggested_window.start,
                end: info.suggested_window.end,
                explanation_url: info.explanation_url,
                certificate_id: format!("{}.{}", id.authority_key_identifier, id.serial),
            })),
            Err(Error::Unsupported(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The challenges of the order's pending authorizations: of `kind` when given, else the
    /// manual choice (DNS-01 for wildcards, HTTP-01 otherwise, whichever the CA offers).
    async fn challenges(
        &self,
        order: &mut Order,
        kind: Option<ChallengeKind>,
    ) -> Result<Vec<Challenge>> {
        let mut out = Vec::new();
        let mut authorizations = order.authorizations();
        while let Some(authz) = authorizations.next().await {
            let authz = authz.map_err(map_acme)?;
            if authz.status != AuthorizationStatus::Pending {
                continue; // already valid (reused), or failed: poll_ready reports it
            }
            let identifier = authz.identifier();
            let wildcard = identifier.wildcard;
            let name = match identifier.identifier {
                Identifier::Dns(name) => name.clone(),
                Identifier::Ip(ip) => ip.to_string(),
                other => return Err(Error::ca(format!("unexpected identifier {other:?}"))),
            };
            let wanted = match kind {
                Some(kind) => vec![kind],
                None if wildcard => vec![ChallengeKind::Dns01],
                None => vec![ChallengeKind::Http01, ChallengeKind::Dns01],
            };
            let found = wanted.iter().find_map(|k| {
                let offered = authz.challenges.iter().find(|c| c.r#type == acme_type(*k))?;
                // RFC 8555 §8.1: token "." base64url(JWK thumbprint of the account key).
                let key_authorization =
                    format!("{}.{}", offered.token, self.account.account.key_thumbprint());
                let digest =
                    ring::digest::digest(&ring::digest::SHA256, key_authorization.as_bytes());
                Some(Challenge {
                    kind: *k,
                    identifier: name.clone(),
                    token: offered.token.clone(),
                    dns_value: URL_SAFE_NO_PAD.encode(digest.as_ref()),
                    key_authorization,
                })
            });
            match found {
                Some(challenge) => out.push(challenge),
                None => {
                    return Err(Error::ca(format!(
                        "the CA offers no {} challenge for {}{name}",
                        wanted.iter().map(ToString::to_string).collect::<Vec<_>>().join(" or "),
                        if wildcard { "*." } else { "" },
                    )));
                }
            }
        }
        Ok(out)
    }

    /// Present, self-check, tell the CA, wait; clean up whatever happens.
    async fn solve(
        &self,
        order: &mut Order,
        solver: &dyn ChallengeSolver,
        challenges: &[Challenge],
    ) -> std::result::Result<(), SolveError> {
        let mut presented = Vec::new();
        let mut outcome = Ok(());
        for challenge in challenges {
            if let Err(e) = solver.present(challenge).await {
                outcome = Err(SolveError::Fallback(e.to_string()));
                break;
            }
            presented.push(challenge);
        }
        if outcome.is_ok() {
            for challenge in challenges {
                if let Err(e) = solver.wait(challenge).await {
                    outcome = Err(SolveError::Fallback(e.to_string()));
                    break;
                }
            }
        }
        if outcome.is_ok() {
            outcome = self.set_ready(order, challenges).await.map_err(SolveError::Failed);
            if outcome.is_ok() {
                outcome = self.wait_ready(order).await.map(|_| ()).map_err(SolveError::Failed);
            }
        }
        for challenge in presented {
            if let Err(e) = solver.cleanup(challenge).await {
                tracing::warn!(identifier = %challenge.identifier, error = %e, "DCV cleanup failed");
            }
        }
        outcome
    }

    /// Tell the CA to validate each of `challenges`.
    async fn set_ready(&self, order: &mut Order, challenges: &[Challenge]) -> Result<()> {
        let mut authorizations = order.authorizations();
        while let Some(authz) = authorizations.next().await {
            let mut authz = authz.map_err(map_acme)?;
            if authz.status != AuthorizationStatus::Pending {
                continue;
            }
            let Some(mine) = challenges
                .iter()
                .find(|c| authz.challenges.iter().any(|offered| offered.token == c.token))
            else {
                continue;
            };
            let Some(mut handle) = authz.challenge(acme_type(mine.kind)) else { continue };
            let mut attempt = 0;
            loop {
                attempt += 1;
                match handle.set_ready().await.map_err(map_acme) {
                    Ok(()) => break,
                    Err(e) if e.is_retryable() && attempt < self.config().max_attempts() => {
                        tokio::time::sleep(backoff(attempt)).await;
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }

    /// Poll until the order is ready (or valid), bounded by the configured timeout.
    async fn wait_ready(&self, order: &mut Order) -> Result<OrderStatus> {
        let policy = RetryPolicy::new()
            .initial_delay(Duration::from_millis(250))
            .backoff(1.5)
            .timeout(self.config().validation_timeout());
        let mut attempt = 0;
        let status = loop {
            attempt += 1;
            match order.poll_ready(&policy).await.map_err(map_acme) {
                Ok(status) => break status,
                Err(e) if e.is_retryable() && attempt < self.config().max_attempts() => {
                    tokio::time::sleep(backoff(attempt)).await;
                }
                Err(e) => return Err(e),
            }
        };
        match status {
            OrderStatus::Ready | OrderStatus::Valid | OrderStatus::Processing => Ok(status),
            OrderStatus::Invalid => Err(order_problem(order, "validation failed")),
            OrderStatus::Pending => Err(Error::Ca {
                message: "validation did not finish in time; the order stays pending".into(),
                retryable: true,
            }),
        }
    }

    /// Finalize (when ready) and download the chain.
    async fn finish(&self, order: &mut Order, csr_der: &[u8]) -> Result<Issued> {
        let status = match order.state().status {
            OrderStatus::Pending => self.wait_ready(order).await?,
            status => status,
        };
        match status {
            OrderStatus::Ready => {
                let mut attempt = 0;
                loop {
                    attempt += 1;
                    match order.finalize_csr(csr_der).await.map_err(map_acme) {
                        Ok(()) => break,
                        Err(e) if e.is_retryable() && attempt < self.config().max_attempts() => {
                            tokio::time::sleep(backoff(attempt)).await;
                        }
                        Err(e) => return Err(e),
                    }
                }
            }
            OrderStatus::Invalid => return Err(order_problem(order, "the order is invalid")),
            _ => {}
        }
        let policy = RetryPolicy::new().timeout(self.config().validation_timeout());
        let mut attempt = 0;
        let pem = loop {
            attempt += 1;
            match order.poll_certificate(&policy).await.map_err(map_acme) {
                Ok(pem) => break pem,
                Err(e) if e.is_retryable() && attempt < self.config().max_attempts() => {
                    tokio::time::sleep(backoff(attempt)).await;
                }
                Err(e) => return Err(e),
            }
        };
        let mut ders = crypto::pem_decode_all(pem.as_bytes(), "CERTIFICATE")?.into_iter();
        let certificate_der =
            ders.next().ok_or_else(|| Error::ca("the CA returned no certificate"))?;
        Ok(Issued { certificate_der, chain_der: ders.collect() })
    }

    /// Run `op` with the configured timeout; retry retryable failures with backoff.
    async fn retry<T, F, Fut>(&self, what: &str, mut op: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = std::result::Result<T, instant_acme::Error>>,
    {
        let timeout = self.config().timeout();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome = match tokio::time::timeout(timeout, op()).await {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(instant_acme::Error::Unsupported(feature))) => {
                    return Err(Error::Unsupported(format!("ACME server: {feature}")));
                }
                Ok(Err(e)) => map_acme(e),
                Err(_) => Error::Ca {
                    message: format!("ACME {what} timed out after {timeout:?}"),
                    retryable: true,
                },
            };
            if !(outcome.is_retryable() && attempt < self.config().max_attempts()) {
                return Err(outcome);
            }
            tracing::debug!(what, attempt, error = %outcome, "retrying ACME request");
            tokio::time::sleep(backoff(attempt)).await;
        }
    }
}

enum SolveError {
    /// Automation could not work: fall back to manual validation.
    Fallback(String),
    /// The CA answered: report it.
    Failed(Error),
}

#[async_trait]
impl CaConnector for AcmeConnector {
    fn issuer_key(&self) -> &str {
        &self.issuer_key
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities { requires_csr: true, can_revoke: true, can_suspend: false }
    }

    async fn issue(&self, order: &CertificateOrder) -> Result<Issued> {
        let csr =
            order.csr.as_ref().ok_or_else(|| Error::invalid("csr", "an ACME order needs a CSR"))?;
        match self.order(order, &csr.der, None).await? {
            AcmeOutcome::Issued(issued) => Ok(issued),
            AcmeOutcome::Pending { order_url, instructions } => Err(Error::PendingValidation {
                order_id: order_url,
                instructions: instructions.to_string(),
            }),
        }
    }
}

#[async_trait]
impl Revoker for AcmeConnector {
    async fn revoke(
        &self,
        record: &CertificateRecord,
        reason: RevocationReason,
        _at: OffsetDateTime,
    ) -> Result<()> {
        if reason == RevocationReason::CertificateHold {
            return Err(Error::Unsupported("ACME has no suspension (certificateHold)".into()));
        }
        self.revoke_pem(&record.certificate, reason).await
    }

    async fn suspend(&self, _record: &CertificateRecord, _at: OffsetDateTime) -> Result<()> {
        Err(Error::Unsupported("ACME has no suspension (certificateHold)".into()))
    }

    async fn unsuspend(&self, _record: &CertificateRecord) -> Result<()> {
        Err(Error::Unsupported("ACME has no suspension (certificateHold)".into()))
    }
}

/// Order identifiers for the SANs: DNS names and IP addresses only (RFC 8555 §9.7.7, RFC 8738).
fn identifiers(alt_names: &[SubjectAltName]) -> Result<Vec<Identifier>> {
    use crate::model::SanType;
    if alt_names.is_empty() {
        return Err(Error::invalid("attributes.altNames", "an ACME order needs at least one name"));
    }
    alt_names
        .iter()
        .enumerate()
        .map(|(i, san)| match san.kind {
            SanType::Dns => Ok(Identifier::Dns(san.value.to_ascii_lowercase())),
            SanType::Ip => san.value.parse().map(Identifier::Ip).map_err(|e| {
                Error::invalid(format!("attributes.altNames[{i}]"), format!("{}: {e}", san.value))
            }),
            _ => Err(Error::invalid(
                format!("attributes.altNames[{i}]"),
                format!("ACME certifies DNS names and IP addresses, not {}", san.value),
            )),
        })
        .collect()
}

fn acme_type(kind: ChallengeKind) -> ChallengeType {
    match kind {
        ChallengeKind::Http01 => ChallengeType::Http01,
        ChallengeKind::Dns01 => ChallengeType::Dns01,
    }
}

fn acme_reason(reason: RevocationReason) -> instant_acme::RevocationReason {
    use instant_acme::RevocationReason as R;
    match reason {
        RevocationReason::Unspecified => R::Unspecified,
        RevocationReason::KeyCompromise => R::KeyCompromise,
        RevocationReason::CaCompromise => R::CaCompromise,
        RevocationReason::AffiliationChanged => R::AffiliationChanged,
        RevocationReason::Superseded => R::Superseded,
        RevocationReason::CessationOfOperation => R::CessationOfOperation,
        RevocationReason::CertificateHold => R::CertificateHold,
        RevocationReason::PrivilegeWithdrawn => R::PrivilegeWithdrawn,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_dns_and_ip_names_are_ordered() {
        let ok = identifiers(&[SubjectAltName::dns("A.example.com")]).unwrap();
        assert_eq!(ok, vec![Identifier::Dns("a.example.com".into())]);
        let err = identifiers(&[SubjectAltName::email("a@example.com")]).unwrap_err();
        assert!(err.to_string().contains("altNames[0]"), "{err}");
    }
}

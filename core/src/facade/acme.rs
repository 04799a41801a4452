//! ACME accounts, orders pending manual validation, and renewal information.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::*;
use crate::ca::acme::{AcmeAccount, AcmeConnector, AcmeIssuerConfig, RenewalWindow};
use crate::dcv::ManualInstructions;

/// ACME accounts: credentials sealed, one per directory, contact and EAB key id.
const ACME_ACCOUNT: DocumentKind = DocumentKind { kind: "acmeAccount", what: "ACME account" };
/// ACME orders kept while a person completes validation.
const ACME_ORDER: DocumentKind = DocumentKind { kind: "acmeOrder", what: "order" };
/// RFC 9773 renewal windows, by certificate id.
const ACME_RENEWAL: DocumentKind =
    DocumentKind { kind: "acmeRenewalInfo", what: "renewal information" };

/// An ACME account as listed: never its key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AcmeAccountSummary {
    /// Store id.
    pub id: String,
    /// The directory it is registered with.
    pub directory_url: String,
    /// Contact e-mail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// EAB key id it was bound with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eab_kid: Option<String>,
    /// The account URL at the CA.
    pub account_url: String,
    /// When it was registered.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredAccount {
    #[serde(flatten)]
    summary: AcmeAccountSummary,
    slug: String,
    /// The credentials JSON sealed with the master key, base64.
    sealed_credentials: String,
}

/// Where an order kept for manual validation stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum OrderStatus {
    /// Waiting for the person; resume it afterwards.
    PendingValidation,
    /// Resumed and issued.
    Completed,
    /// The CA refused it for good (validation failed, order invalid).
    Failed,
}

/// An order kept while a person completes domain control validation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingOrder {
    /// The order id (`certloop order resume <id>`).
    pub id: String,
    /// Where it stands.
    pub status: OrderStatus,
    /// The profile it was ordered under.
    pub profile_id: String,
    /// The names ordered.
    pub names: Vec<String>,
    /// The ACME order URL.
    pub order_url: String,
    /// What the person must do.
    pub instructions: ManualInstructions,
    /// The certificate it renews, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewed_from: Option<String>,
    /// The certificate it became, once completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_id: Option<String>,
    /// Why it failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When it was ordered.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Last change.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredOrder {
    #[serde(flatten)]
    order: PendingOrder,
    /// The request as received (no key material).
    request: IssueRequest,
    /// The CSR sent at finalization, PEM.
    csr_pem: String,
    /// The generated private key, sealed, base64; dropped once the order completes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sealed_key: Option<String>,
}

/// A renewal window as stored, with the certificate it belongs to.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct KeptWindow {
    certificate: String,
    #[serde(flatten)]
    window: RenewalWindow,
}

fn order_key_context(order_id: &str) -> Vec<u8> {
    format!("certloop/acme-order-key/{order_id}").into_bytes()
}

fn account_context(account_id: &str) -> Vec<u8> {
    format!("certloop/acme-account/{account_id}").into_bytes()
}

/// What an ACME issuance must remember when it has to wait for a person.
pub(super) struct Waiting<'a> {
    pub request: &'a IssueRequest,
    pub profile_id: &'a str,
    pub names: Vec<String>,
    pub csr_pem: String,
    pub generated_key: Option<&'a PrivateKey>,
    pub renewed_from: Option<String>,
    pub order_url: String,
    pub instructions: ManualInstructions,
}

impl Certloop {
    // ---- ACME accounts ----------------------------------------------------------------------

    /// Register (or reuse) the ACME account of profile `profile`'s issuer.
    pub async fn acme_register(&self, profile: &str) -> Result<AcmeAccountSummary> {
        let config = self.acme_config(profile).await?;
        let (_, summary) = self.acme_account(&config).await?;
        Ok(summary)
    }

    /// Every stored ACME account (never their keys).
    pub async fn acme_accounts(&self) -> Result<Vec<AcmeAccountSummary>> {
        let stored: Vec<StoredAccount> = self.list_typed(ACME_ACCOUNT).await?;
        Ok(stored.into_iter().map(|a| a.summary).collect())
    }

    async fn acme_config(&self, profile: &str) -> Result<AcmeIssuerConfig> {
        match self.get_profile(profile).await?.issuer {
            ProfileIssuer::Acme(config) => Ok(*config),
            _ => {
                Err(Error::invalid("profile", format!("profile {profile} does not issue via ACME")))
            }
        }
    }

    /// The account for `config`: restored from the store, or registered and stored sealed.
    async fn acme_account(
        &self,
        config: &AcmeIssuerConfig,
    ) -> Result<(AcmeAccount, AcmeAccountSummary)> {
        let slug = config.account_slug();
        match self.get_typed::<StoredAccount>(ACME_ACCOUNT, &slug).await {
            Ok(stored) => {
                let sealed = BASE64
                    .decode(&stored.sealed_credentials)
                    .map_err(|e| Error::store(format!("ACME account {slug}: {e}")))?;
                let json = self.inner.sealer.open(&sealed, &account_context(&stored.summary.id))?;
                let account = AcmeAccount::restore(config, &json).await?;
                Ok((account, stored.summary))
            }
            Err(Error::NotFound { .. }) => {
                let (account, json) = AcmeAccount::create(config).await?;
                let id = uuid::Uuid::new_v4().to_string();
                let sealed = self.inner.sealer.seal(&json, &account_context(&id))?;
                let summary = AcmeAccountSummary {
                    id: id.clone(),
                    directory_url: config.directory_url.clone(),
                    email: config.email.clone(),
                    eab_kid: config.eab.as_ref().map(|e| e.kid.clone()),
                    account_url: account.id().to_owned(),
                    created_at: self.now(),
                };
                let stored = StoredAccount {
                    summary: summary.clone(),
                    slug: slug.clone(),
                    sealed_credentials: BASE64.encode(sealed),
                };
                self.put_typed(ACME_ACCOUNT, &id, &slug, &stored).await?;
                self.audit(
                    AuditAction::AcmeAccountRegistered,
                    None,
                    Some(&id),
                    AuditOutcome::Success,
                    format!("{} at {}", summary.account_url, summary.directory_url),
                )
                .await?;
                Ok((account, summary))
            }
            Err(e) => Err(e),
        }
    }

    /// A connector for `config`, with its account.
    pub(super) async fn acme_connector(
        &self,
        config: &AcmeIssuerConfig,
    ) -> Result<Arc<AcmeConnector>> {
        let (account, _) = self.acme_account(config).await?;
        Ok(Arc::new(AcmeConnector::new(account)))
    }

    /// The ACME connector of the profile `record` was issued under, if it is an ACME one.
    pub(super) async fn acme_for_record(
        &self,
        record: &CertificateRecord,
    ) -> Result<Option<Arc<AcmeConnector>>> {
        let Some(profile_id) = &record.profile_id else { return Ok(None) };
        match self.get_profile(profile_id).await?.issuer {
            ProfileIssuer::Acme(config) => self.acme_connector(&config).await.map(Some),
            _ => Ok(None),
        }
    }

    // ---- renewal information (RFC 9773) ------------------------------------------------------

    /// Fetch and keep the CA's suggested renewal window for an ACME-issued certificate.
    pub(super) async fn keep_renewal_window(
        &self,
        acme: &AcmeConnector,
        certificate_id: &str,
        certificate_pem: &str,
    ) {
        let window = match acme.renewal_window(certificate_pem).await {
            Ok(Some(window)) => window,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(certificate_id, error = %e, "ACME renewal information unavailable");
                return;
            }
        };
        let kept = KeptWindow { certificate: certificate_id.to_owned(), window };
        if let Err(e) = self.put_typed(ACME_RENEWAL, certificate_id, certificate_id, &kept).await {
            tracing::warn!(certificate_id, error = %e, "cannot store ACME renewal information");
        }
    }

    /// The renewal window the ACME CA suggested for certificate `id` (RFC 9773), when it
    /// offered one. Renew at a random point inside it.
    pub async fn acme_renewal_window(&self, id: &str) -> Result<Option<RenewalWindow>> {
        let record = self.show(id).await?;
        match self.get_typed::<KeptWindow>(ACME_RENEWAL, &record.certificate_id).await {
            Ok(kept) => Ok(Some(kept.window)),
            Err(Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every kept renewal window, by certificate id.
    pub(super) async fn acme_renewal_windows(&self) -> Result<HashMap<String, RenewalWindow>> {
        let stored: Vec<KeptWindow> = self.list_typed(ACME_RENEWAL).await?;
        Ok(stored.into_iter().map(|k| (k.certificate, k.window)).collect())
    }

    // ---- orders pending manual validation -----------------------------------------------------

    /// Keep an order that waits for a person; returns the error the caller reports.
    pub(super) async fn keep_pending(&self, waiting: Waiting<'_>) -> Result<Error> {
        let id = uuid::Uuid::new_v4().to_string();
        let sealed_key = match waiting.generated_key {
            Some(key) => Some(
                BASE64
                    .encode(self.inner.sealer.seal(&key.to_pkcs8_der(), &order_key_context(&id))?),
            ),
            None => None,
        };
        let now = self.now();
        let order = PendingOrder {
            id: id.clone(),
            status: OrderStatus::PendingValidation,
            profile_id: waiting.profile_id.to_owned(),
            names: waiting.names,
            order_url: waiting.order_url,
            instructions: waiting.instructions,
            renewed_from: waiting.renewed_from,
            certificate_id: None,
            error: None,
            created_at: now,
            updated_at: now,
        };
        let message = order.instructions.to_string().replace("<order id>", &id);
        let stored = StoredOrder {
            order,
            request: waiting.request.clone(),
            csr_pem: waiting.csr_pem,
            sealed_key,
        };
        self.put_typed(ACME_ORDER, &id, &id, &stored).await?;
        self.audit(
            AuditAction::ValidationPending,
            None,
            Some(&id),
            AuditOutcome::Success,
            format!("order {id} waits for manual validation: {}", stored.order.instructions.reason),
        )
        .await?;
        Ok(Error::PendingValidation { order_id: id, instructions: message })
    }

    /// Every kept order, newest last.
    pub async fn list_orders(&self) -> Result<Vec<PendingOrder>> {
        let stored: Vec<StoredOrder> = self.list_typed(ACME_ORDER).await?;
        let mut orders: Vec<PendingOrder> = stored.into_iter().map(|s| s.order).collect();
        orders.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(orders)
    }

    /// One kept order.
    pub async fn get_order(&self, id: &str) -> Result<PendingOrder> {
        self.get_typed::<StoredOrder>(ACME_ORDER, id).await.map(|s| s.order)
    }

    /// Complete an order pending manual validation, once the person has published the file or
    /// record: the CA validates, the certificate is issued and enters the inventory.
    pub async fn resume_order(&self, id: &str) -> Result<IssuedCertificate> {
        let mut stored: StoredOrder = self.get_typed(ACME_ORDER, id).await?;
        if stored.order.status != OrderStatus::PendingValidation {
            return Err(Error::InvalidState(format!(
                "order {id} is {:?}, not pending validation",
                stored.order.status
            )));
        }
        let context = self.issue_context(&stored.order.profile_id).await?;
        let acme = context.acme.clone().ok_or_else(|| {
            Error::InvalidState(format!(
                "profile {} no longer issues via ACME; order {id} cannot be resumed",
                stored.order.profile_id
            ))
        })?;
        let csr = crate::csr::inspect_csr(stored.csr_pem.as_bytes())?;
        let issued = match acme.resume(&stored.order.order_url, &csr.der).await {
            Ok(issued) => issued,
            Err(e) => {
                if !e.is_retryable() {
                    stored.order.status = OrderStatus::Failed;
                    stored.order.error = Some(e.to_string());
                    stored.order.updated_at = self.now();
                    stored.sealed_key = None;
                    self.put_typed(ACME_ORDER, id, id, &stored).await?;
                }
                self.refused(&e, None).await?;
                return Err(e);
            }
        };
        let generated_key = match &stored.sealed_key {
            Some(sealed) => {
                let sealed =
                    BASE64.decode(sealed).map_err(|e| Error::store(format!("order {id}: {e}")))?;
                let der = self.inner.sealer.open(&sealed, &order_key_context(id))?;
                Some(Arc::new(PrivateKey::from_pkcs8_der(&der)?))
            }
            None => None,
        };
        let mut previous = match &stored.order.renewed_from {
            Some(previous) => Some(self.show(previous).await?),
            None => None,
        };
        let (new, response) = self.record_issued(
            &context,
            &stored.request,
            &issued,
            None,
            generated_key,
            stored.request.csr.clone(),
            previous.as_ref(),
            self.now(),
        )?;
        self.inner.store.insert_certificates(std::slice::from_ref(&new)).await?;
        let certificate_id = new.record.certificate_id.clone();
        if let Some(previous) = previous.as_mut() {
            self.mark_renewed(previous, &certificate_id).await?;
        }
        stored.order.status = OrderStatus::Completed;
        stored.order.certificate_id = Some(certificate_id.clone());
        stored.order.updated_at = self.now();
        stored.sealed_key = None;
        self.put_typed(ACME_ORDER, id, id, &stored).await?;
        self.keep_renewal_window(&acme, &certificate_id, &new.record.certificate).await;
        Ok(response)
    }
}

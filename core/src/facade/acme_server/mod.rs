//! The store-backed side of the ACME server (RFC 8555; see [`crate::acme_server`]): accounts,
//! orders with their authorizations, HTTP-01 validation, finalization under the profile's
//! template, download, revocation and renewal information (RFC 9773).
//!
//! An order and its authorizations are one stored document, so a challenge result and the
//! order's status change together; read-modify-write of those documents is serialized in this
//! process (several servers on one store can race on one order: a known limit).

use std::collections::BTreeSet;

use super::*;
use crate::acme_server::jws::{SignedRequest, Signer};
use crate::acme_server::{
    AcmeUrls, Identifier, Problem, ProblemType, ServerAccount, ServerAuthorization,
    ServerChallenge, ServerOrder, Status, ValidationOptions, key_authorization,
};
use crate::policy::EnrollmentType;

mod eab;
mod issued;

pub use eab::{CreatedEab, external_account_required};

const ACCOUNT: DocumentKind =
    DocumentKind { kind: "acmeServerAccount", what: "ACME server account" };
const ORDER: DocumentKind = DocumentKind { kind: "acmeServerOrder", what: "ACME server order" };
const ISSUED: DocumentKind =
    DocumentKind { kind: "acmeServerCertificate", what: "ACME-issued certificate" };

/// How long an order and its authorizations may wait for the client.
const ORDER_LIFETIME: time::Duration = time::Duration::days(7);
/// The most identifiers one order may name.
const MAX_IDENTIFIERS: usize = 100;

static ORDER_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Which certificate an ACME account obtained: revocation by account and ARI look it up.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct IssuedTo {
    certificate_id: String,
    account_id: String,
    order_id: String,
    serial_number: String,
}

/// A challenge the client said is ready: what [`Certloop::acme_server_validate`] checks.
#[derive(Clone, Debug)]
pub struct ValidationJob {
    order_id: String,
    kind: String,
    index: usize,
    name: String,
    token: String,
    key_authorization: String,
}

/// The window in which a client should renew a certificate (RFC 9773 §4.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RenewalWindow {
    /// Renew from here...
    pub start: OffsetDateTime,
    /// ...until here.
    pub end: OffsetDateTime,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NewAccount {
    #[serde(default)]
    contact: Vec<String>,
    #[serde(default)]
    only_return_existing: bool,
    #[serde(default)]
    external_account_binding: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct AccountUpdate {
    #[serde(default)]
    contact: Option<Vec<String>>,
    #[serde(default)]
    status: Option<Status>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NewOrder {
    identifiers: Vec<Identifier>,
    #[serde(default)]
    replaces: Option<String>,
}

#[derive(Deserialize)]
struct Finalize {
    csr: String,
}

impl Certloop {
    /// The profile (id or slug) that serves ACME: its `enrollmentType` must be `ACME`.
    pub async fn acme_server_profile(&self, id_or_slug: &str) -> Result<CertificateProfile> {
        let profile = self.get_profile(id_or_slug).await?;
        if profile.enrollment_type != EnrollmentType::Acme {
            return Err(Error::NotFound { what: "ACME-enrolled profile", id: id_or_slug.into() });
        }
        Ok(profile)
    }

    /// The account that signed `request` (a `kid` request), its signature verified.
    pub async fn acme_server_signer(
        &self,
        urls: &AcmeUrls,
        profile: &CertificateProfile,
        request: &SignedRequest,
    ) -> Result<ServerAccount, Problem> {
        let Signer::Account(kid) = &request.signer else {
            return Err(Problem::malformed("sign this request with the account's kid, not a jwk"));
        };
        let account = self.account_by_kid(urls, profile, kid).await?;
        request.verify(&account.key)?;
        if account.status != Status::Valid {
            return Err(Problem::unauthorized(format!("account {} is deactivated", account.id)));
        }
        Ok(account)
    }

    async fn account_by_kid(
        &self,
        urls: &AcmeUrls,
        profile: &CertificateProfile,
        kid: &str,
    ) -> Result<ServerAccount, Problem> {
        let missing = || {
            Problem::new(
                ProblemType::AccountDoesNotExist,
                format!("no account {kid} on this profile"),
            )
        };
        let id = urls.account_id(kid).ok_or_else(missing)?;
        let account: ServerAccount = match self.get_typed(ACCOUNT, id).await {
            Ok(account) => account,
            Err(Error::NotFound { .. }) => return Err(missing()),
            Err(e) => return Err(e.into()),
        };
        if account.profile_id != profile.id || account.id != id {
            return Err(missing());
        }
        Ok(account)
    }

    /// newAccount (RFC 8555 §7.3): the account of the request's key, created unless it exists
    /// or `onlyReturnExisting` is set. `true` with a new account.
    pub async fn acme_server_new_account(
        &self,
        profile: &CertificateProfile,
        request: &SignedRequest,
    ) -> Result<(ServerAccount, bool), Problem> {
        let Signer::Key(key) = &request.signer else {
            return Err(Problem::malformed("newAccount is signed with a jwk, not a kid"));
        };
        request.verify(key)?;
        let body: NewAccount = request.payload_json()?;
        let thumbprint = key.thumbprint();
        let slug = format!("{}:{thumbprint}", profile.id);
        match self.get_typed::<ServerAccount>(ACCOUNT, &slug).await {
            Ok(existing) => return Ok((existing, false)),
            Err(Error::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        if body.only_return_existing {
            return Err(Problem::new(ProblemType::AccountDoesNotExist, "no account has this key"));
        }
        check_contacts(&body.contact)?;
        let eab_kid = match &body.external_account_binding {
            Some(binding) => Some(self.verify_binding(profile, binding, &request.url, key).await?),
            None if external_account_required(profile) => {
                return Err(Problem::new(
                    ProblemType::ExternalAccountRequired,
                    format!("profile {} needs an external account binding", profile.slug),
                ));
            }
            None => None,
        };
        let account = ServerAccount {
            id: uuid::Uuid::new_v4().simple().to_string(),
            profile_id: profile.id.clone(),
            key: key.clone(),
            thumbprint,
            status: Status::Valid,
            contact: body.contact,
            created_at: self.now(),
        };
        self.put_typed(ACCOUNT, &account.id, &slug, &account).await?;
        let bound = eab_kid.map(|kid| format!(", bound to EAB key {kid}")).unwrap_or_default();
        let detail =
            format!("ACME server account {} under profile {}{bound}", account.id, profile.slug);
        let subject = Some(account.id.as_str());
        self.audit(
            AuditAction::AcmeAccountRegistered,
            None,
            subject,
            AuditOutcome::Success,
            detail,
        )
        .await?;
        Ok((account, true))
    }

    /// POST to an account URL (RFC 8555 §7.3.2, §7.3.6): update contacts, or deactivate.
    pub async fn acme_server_update_account(
        &self,
        mut account: ServerAccount,
        request: &SignedRequest,
    ) -> Result<ServerAccount, Problem> {
        if request.is_post_as_get() {
            return Ok(account);
        }
        let update: AccountUpdate = request.payload_json()?;
        if let Some(contact) = update.contact {
            check_contacts(&contact)?;
            account.contact = contact;
        }
        match update.status {
            None => {}
            Some(Status::Deactivated) => account.status = Status::Deactivated,
            Some(other) => {
                return Err(Problem::malformed(format!("an account cannot be set to {other:?}")));
            }
        }
        let slug = format!("{}:{}", account.profile_id, account.thumbprint);
        self.put_typed(ACCOUNT, &account.id, &slug, &account).await?;
        Ok(account)
    }

    /// newOrder (RFC 8555 §7.4): one pending authorization with an HTTP-01 challenge per
    /// identifier.
    pub async fn acme_server_new_order(
        &self,
        account: &ServerAccount,
        request: &SignedRequest,
    ) -> Result<ServerOrder, Problem> {
        let body: NewOrder = request.payload_json()?;
        if body.identifiers.is_empty() || body.identifiers.len() > MAX_IDENTIFIERS {
            return Err(Problem::malformed(format!(
                "an order names 1 to {MAX_IDENTIFIERS} identifiers"
            )));
        }
        let mut identifiers = Vec::with_capacity(body.identifiers.len());
        let mut authorizations = Vec::with_capacity(body.identifiers.len());
        for (i, identifier) in body.identifiers.into_iter().enumerate() {
            let identifier = normalized(identifier, i)?;
            if identifiers.contains(&identifier) {
                continue;
            }
            let base = identifier.value.strip_prefix("*.");
            // A wildcard can only be proven in DNS; a name either way.
            let kinds: &[&str] = if base.is_some() { &["dns-01"] } else { &["http-01", "dns-01"] };
            let mut challenges = Vec::with_capacity(kinds.len());
            for kind in kinds {
                challenges.push(ServerChallenge {
                    kind: (*kind).into(),
                    token: crypto::random_base64url::<32>()?,
                    status: Status::Pending,
                    validated: None,
                    error: None,
                });
            }
            authorizations.push(ServerAuthorization {
                identifier: Identifier {
                    kind: identifier.kind.clone(),
                    value: base.unwrap_or(&identifier.value).to_owned(),
                },
                wildcard: base.is_some(),
                status: Status::Pending,
                challenges,
            });
            identifiers.push(identifier);
        }
        let replaces = match body.replaces {
            Some(cert_id) => Some(self.replaced(account, &cert_id).await?),
            None => None,
        };
        let order = ServerOrder {
            id: uuid::Uuid::new_v4().simple().to_string(),
            account_id: account.id.clone(),
            profile_id: account.profile_id.clone(),
            status: Status::Pending,
            expires: self.now() + ORDER_LIFETIME,
            identifiers,
            authorizations,
            certificate_id: None,
            replaces,
            error: None,
        };
        self.put_typed(ORDER, &order.id, &order.id, &order).await?;
        Ok(order)
    }

    /// Every order of `account`, oldest first.
    pub async fn acme_server_orders(&self, account: &ServerAccount) -> Result<Vec<ServerOrder>> {
        let mut orders: Vec<ServerOrder> = self.list_typed(ORDER).await?;
        orders.retain(|o| o.account_id == account.id);
        orders.sort_by_key(|o| o.expires);
        Ok(orders)
    }

    /// The certificate an ARI `replaces` names, which must be this account's.
    async fn replaced(&self, account: &ServerAccount, ari_id: &str) -> Result<String, Problem> {
        let issued = self.issued_by_ari_id(ari_id).await?;
        if issued.account_id != account.id {
            return Err(Problem::unauthorized("`replaces` names another account's certificate"));
        }
        Ok(issued.certificate_id)
    }

    /// Order `id` of `account`, expired when its time is up.
    pub async fn acme_server_order(
        &self,
        account: &ServerAccount,
        id: &str,
    ) -> Result<ServerOrder, Problem> {
        let mut order: ServerOrder = match self.get_typed(ORDER, id).await {
            Ok(order) => order,
            Err(Error::NotFound { .. }) => {
                return Err(Problem::malformed(format!("no order {id}")));
            }
            Err(e) => return Err(e.into()),
        };
        if order.account_id != account.id {
            return Err(Problem::unauthorized(format!("order {id} is another account's")));
        }
        if order.expires <= self.now() && matches!(order.status, Status::Pending | Status::Ready) {
            order.status = Status::Invalid;
            order.error = Some("the order expired".into());
        }
        Ok(order)
    }

    /// The client says challenge `kind` of authorization `index` is ready (RFC 8555 §7.5.1):
    /// the challenge turns `processing` and the returned job is what to check. `None` when
    /// there is nothing to check (already valid or invalid).
    pub async fn acme_server_respond(
        &self,
        account: &ServerAccount,
        order_id: &str,
        index: usize,
        kind: &str,
    ) -> Result<(ServerOrder, Option<ValidationJob>), Problem> {
        let _lock = ORDER_LOCK.lock().await;
        let mut order = self.acme_server_order(account, order_id).await?;
        let authz = order.authorizations.get_mut(index).ok_or_else(|| {
            Problem::malformed(format!("order {order_id} has no authorization {index}"))
        })?;
        let name = authz.identifier.value.clone();
        let authz_status = authz.status;
        let challenge = authz
            .challenges
            .iter_mut()
            .find(|c| c.kind == kind)
            .ok_or_else(|| Problem::malformed(format!("no {kind} challenge here")))?;
        if challenge.status != Status::Pending || authz_status != Status::Pending {
            return Ok((order, None));
        }
        challenge.status = Status::Processing;
        let job = ValidationJob {
            order_id: order.id.clone(),
            kind: challenge.kind.clone(),
            index,
            name,
            token: challenge.token.clone(),
            key_authorization: key_authorization(&challenge.token, &account.key),
        };
        self.put_typed(ORDER, &order.id, &order.id, &order).await?;
        Ok((order, Some(job)))
    }

    /// Check a challenge and save the result: the authorization turns valid or invalid, and the
    /// order ready or invalid with it. Returns whether the challenge passed.
    pub async fn acme_server_validate(
        &self,
        job: ValidationJob,
        options: &ValidationOptions,
    ) -> Result<bool> {
        let outcome = match job.kind.as_str() {
            "dns-01" => {
                crate::acme_server::validate_dns01(options, &job.name, &job.key_authorization).await
            }
            _ => {
                let (name, token) = (&job.name, &job.token);
                crate::acme_server::validate_http01(options, name, token, &job.key_authorization)
                    .await
            }
        };
        let _lock = ORDER_LOCK.lock().await;
        let mut order: ServerOrder = self.get_typed(ORDER, &job.order_id).await?;
        let now = self.now();
        let Some(authz) = order.authorizations.get_mut(job.index) else {
            return Err(Error::store(format!("order {} lost an authorization", job.order_id)));
        };
        let passed = outcome.is_ok();
        for challenge in authz.challenges.iter_mut().filter(|c| c.token == job.token) {
            match &outcome {
                Ok(()) => {
                    challenge.status = Status::Valid;
                    challenge.validated = Some(now);
                }
                Err(why) => {
                    challenge.status = Status::Invalid;
                    challenge.error = Some(why.clone());
                }
            }
        }
        authz.status = if passed { Status::Valid } else { Status::Invalid };
        order.settle();
        self.put_typed(ORDER, &order.id, &order.id, &order).await?;
        let (result, detail) = match &outcome {
            Ok(()) => (AuditOutcome::Success, format!("{} for {} passed", job.kind, job.name)),
            Err(why) => {
                (AuditOutcome::Failure, format!("{} for {} failed: {why}", job.kind, job.name))
            }
        };
        self.audit(AuditAction::AcmeChallengeValidated, None, Some(&order.id), result, detail)
            .await?;
        Ok(passed)
    }

    /// finalize (RFC 8555 §7.4): the CSR must name exactly the order's identifiers; the
    /// certificate is issued under the profile (its template decides the rest).
    pub async fn acme_server_finalize(
        &self,
        account: &ServerAccount,
        order_id: &str,
        request: &SignedRequest,
    ) -> Result<ServerOrder, Problem> {
        let body: Finalize = request.payload_json()?;
        let der = crate::acme_server::jws::b64(&body.csr, "csr")?;
        let ready = {
            let _lock = ORDER_LOCK.lock().await;
            let mut order = self.acme_server_order(account, order_id).await?;
            if order.status != Status::Ready {
                return Err(Problem::new(
                    ProblemType::OrderNotReady,
                    format!("order {order_id} is {:?}, not ready", order.status),
                ));
            }
            order.status = Status::Processing;
            self.put_typed(ORDER, &order.id, &order.id, &order).await?;
            order
        };
        let outcome = self.issue_for_order(account, &ready, &der).await;
        let _lock = ORDER_LOCK.lock().await;
        let mut order: ServerOrder = self.get_typed(ORDER, order_id).await?;
        match outcome {
            Ok((certificate_id, serial_number)) => {
                let issued = IssuedTo {
                    certificate_id: certificate_id.clone(),
                    account_id: account.id.clone(),
                    order_id: order.id.clone(),
                    serial_number: serial_number.clone(),
                };
                self.put_typed(ISSUED, &certificate_id, &normal_serial(&serial_number), &issued)
                    .await?;
                order.status = Status::Valid;
                order.certificate_id = Some(certificate_id);
                self.put_typed(ORDER, &order.id, &order.id, &order).await?;
                Ok(order)
            }
            Err(problem) => {
                // A refused CSR lets the client try another on the same order.
                order.status = Status::Ready;
                self.put_typed(ORDER, &order.id, &order.id, &order).await?;
                Err(problem)
            }
        }
    }

    async fn issue_for_order(
        &self,
        account: &ServerAccount,
        order: &ServerOrder,
        csr_der: &[u8],
    ) -> Result<(String, String), Problem> {
        let info = crate::csr::inspect_csr(csr_der)
            .map_err(|e| Problem::new(ProblemType::BadCsr, e.to_string()))?;
        let wanted: BTreeSet<String> =
            order.identifiers.iter().map(|i| i.value.to_ascii_lowercase()).collect();
        let mut named: BTreeSet<String> =
            info.alt_names.iter().map(|n| n.value.to_ascii_lowercase()).collect();
        if let Some(cn) = &info.subject.common_name {
            named.insert(cn.to_ascii_lowercase());
        }
        if named != wanted {
            return Err(Problem::new(
                ProblemType::BadCsr,
                format!("the CSR names {named:?}; the order is for {wanted:?}"),
            ));
        }
        let mut attributes = crate::model::CertificateAttributes::default();
        if info.subject.common_name.is_none() {
            attributes.subject.common_name = order.identifiers.first().map(|i| i.value.clone());
        }
        let request = IssueRequest {
            profile_id: Some(order.profile_id.clone()),
            csr: Some(crate::crypto::pem_encode("CERTIFICATE REQUEST", csr_der)),
            attributes,
            manage_key: false,
            connector_params: Default::default(),
        };
        let actor = format!("acme:{}", account.id);
        let issued = self.clone().with_actor(actor).issue(request).await.map_err(|e| match e {
            Error::PolicyViolation { .. } => Problem::new(ProblemType::BadCsr, e.to_string()),
            other => Problem::from(other),
        })?;
        Ok((issued.certificate_id, issued.serial_number))
    }
}

/// A serial number in lower-case hex without leading zero bytes.
fn normal_serial(hex: &str) -> String {
    let hex = hex.replace(':', "").to_ascii_lowercase();
    let trimmed = hex.trim_start_matches('0');
    if trimmed.is_empty() { "0".into() } else { trimmed.to_owned() }
}

fn check_contacts(contact: &[String]) -> Result<(), Problem> {
    for c in contact {
        let Some(address) = c.strip_prefix("mailto:") else {
            return Err(Problem::new(
                ProblemType::Malformed,
                format!("contact {c:?} is not a mailto: URL"),
            ));
        };
        if address.is_empty() || !address.contains('@') || address.contains(',') {
            return Err(Problem::malformed(format!("contact {c:?} is not one e-mail address")));
        }
    }
    Ok(())
}

/// A lower-cased identifier this server can validate (HTTP-01 or DNS-01; `*.` names DNS-01
/// only).
fn normalized(identifier: Identifier, index: usize) -> Result<Identifier, Problem> {
    let field = format!("identifiers[{index}]");
    let value = identifier.value.trim_end_matches('.').to_ascii_lowercase();
    let san = match identifier.kind.as_str() {
        "dns" => crate::model::SubjectAltName::dns(value.clone()),
        "ip" => match value.parse() {
            Ok(ip) => crate::model::SubjectAltName::ip(ip),
            Err(_) => return Err(Problem::malformed(format!("{field}: {value:?} is not an IP"))),
        },
        other => {
            return Err(Problem::new(
                ProblemType::UnsupportedIdentifier,
                format!("{field}: identifier type {other:?} is not supported (dns, ip)"),
            ));
        }
    };
    san.validate(&field)
        .map_err(|e| Problem::new(ProblemType::RejectedIdentifier, e.to_string()))?;
    Ok(Identifier { kind: identifier.kind, value: san.value })
}

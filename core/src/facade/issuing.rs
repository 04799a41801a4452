//! Issuance and renewal: one approval path, then the connector, then one store transaction.

use std::sync::OnceLock;

use super::acme;
use super::*;
use crate::ca::acme::{AcmeConnector, AcmeOutcome};
use crate::crypto::CertificateInfo;

impl Certloop {
    // ---- issuance ---------------------------------------------------------------------------

    /// Issue one certificate under the request's profile (the default profile when absent).
    pub async fn issue(&self, request: IssueRequest) -> Result<IssuedCertificate> {
        let mut issued = self.issue_many(vec![request], |_, _| {}).await?;
        issued.pop().unwrap_or_else(|| Err(Error::store("no result for the request")))
    }

    /// Issue many certificates, sharing one store transaction: each request gets its own result
    /// (one refused request does not stop the others). `progress(done, total)` is called as
    /// certificates are signed.
    pub async fn issue_many(
        &self,
        requests: Vec<IssueRequest>,
        mut progress: impl FnMut(usize, usize) + Send,
    ) -> Result<Vec<Result<IssuedCertificate>>> {
        let total = requests.len();
        let mut results = Vec::with_capacity(total);
        let mut batch = Vec::new();
        let mut contexts: HashMap<String, Arc<IssueContext>> = HashMap::new();
        for (done, request) in requests.into_iter().enumerate() {
            let slug = request.profile_id.clone().unwrap_or_else(|| defaults::PROFILE.to_owned());
            let context = match contexts.get(&slug) {
                Some(context) => Ok(context.clone()),
                None => self.issue_context(&slug).await.map(Arc::new),
            };
            let outcome = match context {
                Ok(context) => {
                    contexts.insert(slug, context.clone());
                    self.sign(&context, &request, None).await
                }
                Err(e) => Err(e),
            };
            match outcome {
                Ok((new, response)) => {
                    results.push(Ok(response));
                    batch.push(new);
                }
                Err(e) => {
                    self.refused(&e, None).await?;
                    results.push(Err(e));
                }
            }
            progress(done + 1, total);
        }
        if !batch.is_empty() {
            self.inner.store.insert_certificates(&batch).await?;
        }
        Ok(results)
    }

    /// Everything a request needs from its profile, resolved once per batch.
    pub(super) async fn issue_context(&self, profile_id: &str) -> Result<IssueContext> {
        let (profile, template) = self.profile_and_template(profile_id).await?;
        let mut acme = None;
        let (connector, ca): (Arc<dyn CaConnector>, Option<Arc<InternalCa>>) = match &profile.issuer
        {
            ProfileIssuer::InternalCa { ca_id } => {
                let ca = self.load_ca(ca_id).await?;
                (ca.clone(), Some(ca))
            }
            ProfileIssuer::SelfSigned => (Arc::new(SelfSignedIssuer), None),
            ProfileIssuer::Acme(config) => {
                let connector = self.acme_connector(config).await?;
                acme = Some(connector.clone());
                (connector, None)
            }

            ProfileIssuer::Script { .. } => (self.script_connector(&profile).await?, None),
            ProfileIssuer::Connector { name } => (self.registered_connector(name)?, None),
        };
        Ok(IssueContext { profile, template, connector, ca, acme, chain: OnceLock::new() })
    }

    /// Approve, sign and build the record for one request; nothing is stored yet.
    pub(super) async fn sign(
        &self,
        context: &IssueContext,
        request: &IssueRequest,
        renewed: Option<&CertificateRecord>,
    ) -> Result<(NewCertificate, IssuedCertificate)> {
        scripts::check_connector_params(&context.profile, &request.connector_params)?;
        let now = self.now();
        let issuer_signature = context.ca.as_ref().map(|ca| ca.key().signature_algorithm());
        let ApprovedOrder { mut order, generated_key, csr_pem } =
            issuance::approve(request, &context.profile, &context.template, issuer_signature, now)?;
        if context.connector.capabilities().requires_csr && order.csr.is_none() {
            // The library generated the key: build the CSR an external CA needs.
            let key = generated_key
                .as_deref()
                .ok_or_else(|| Error::invalid("csr", "a CSR or a generated key is needed"))?;
            let spec = CsrSpec {
                subject: order.subject.clone(),
                alt_names: order.alt_names.clone(),
                key_usages: order.key_usages.clone(),
                extended_key_usages: order.extended_key_usages.clone(),
                signature_algorithm: None,
            };
            order.csr = Some(self.inner.csr_builder.build(key, &spec)?);
        }
        let (issued, inspected) = match (&context.acme, &context.ca, renewed) {
            (Some(acme), _, _) => {
                let csr = order.csr.as_ref().ok_or_else(|| Error::invalid("csr", "no CSR"))?;
                match acme.order(&order, &csr.der, renewed).await? {
                    AcmeOutcome::Issued(issued) => (issued, None),
                    AcmeOutcome::Pending { order_url, instructions } => {
                        let waiting = acme::Waiting {
                            request,
                            profile_id: &context.profile.id,
                            names: order.alt_names.iter().map(|n| n.value.clone()).collect(),
                            csr_pem: csr.pem.clone(),
                            generated_key: generated_key.as_deref(),
                            renewed_from: renewed.map(|r| r.certificate_id.clone()),
                            order_url,
                            instructions,
                        };
                        return Err(self.keep_pending(waiting).await?);
                    }
                }
            }
            // The internal CA (the profile's connector) signs directly, so that what its lint
            // pass read from the leaf makes the record instead of a second parse.
            (None, Some(ca), _) => {
                let (issued, info) = ca.issue_leaf_inspected(&order)?;
                (issued, Some(info))
            }
            (None, None, Some(previous)) => {
                (context.connector.renew(previous, &order).await?, None)
            }
            (None, None, None) => (context.connector.issue(&order).await?, None),
        };
        let signed = self.record_issued(
            context,
            request,
            &issued,
            inspected,
            generated_key,
            csr_pem,
            renewed,
            now,
        )?;
        if let Some(acme) = &context.acme {
            let record = &signed.0.record;
            self.keep_renewal_window(acme, &record.certificate_id, &record.certificate).await;
        }
        Ok(signed)
    }

    /// The inventory record, request row, audit event and response for an issued certificate;
    /// `inspected` is what was already read from it (else the certificate is parsed here).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn record_issued(
        &self,
        context: &IssueContext,
        request: &IssueRequest,
        issued: &Issued,
        inspected: Option<CertificateInfo>,
        generated_key: Option<Arc<PrivateKey>>,
        csr_pem: Option<String>,
        renewed: Option<&CertificateRecord>,
        now: OffsetDateTime,
    ) -> Result<(NewCertificate, IssuedCertificate)> {
        let certificate_id = super::record_id();
        let request_id = super::record_id();
        let key_managed =
            generated_key.is_some() && (request.manage_key || context.profile.manage_keys);
        let info = match inspected {
            Some(info) => info,
            None => CertificateInfo::from_der(&issued.certificate_der)?,
        };
        let chain = context.chain_pem(issued);
        let record = issuance::record(
            issued,
            &info,
            NewRecord {
                certificate_id: certificate_id.clone(),
                request_id: request_id.clone(),
                profile: &context.profile,
                ca_id: context.ca.as_ref().map(|ca| ca.id().to_owned()),
                key_managed,
                renewed_from: renewed.map(|r| r.certificate_id.clone()),
                certificate_chain: chain.chain.clone(),
                now,
            },
        );
        let sealed_key = match (&generated_key, key_managed) {
            (Some(key), true) => Some(
                self.inner
                    .sealer
                    .seal(&key.to_pkcs8_der(), &certificate_key_context(&certificate_id))?,
            ),
            _ => None,
        };
        let response = IssuedCertificate {
            certificate: record.certificate.clone(),
            certificate_chain: record.certificate_chain.clone(),
            issuing_ca_certificate: chain.issuing_ca.clone(),
            private_key: generated_key.map(|k| k.to_pkcs8_pem()),
            serial_number: record.serial_number.clone(),
            certificate_id: certificate_id.clone(),
            certificate_request_id: request_id.clone(),
        };
        let (action, detail) = match renewed {
            Some(previous) => (
                AuditAction::Renewed,
                format!("renewed {} as serial {}", previous.certificate_id, record.serial_number),
            ),
            None => (
                AuditAction::Issued,
                format!("serial {} under profile {}", record.serial_number, context.profile.slug),
            ),
        };
        let event = self.event(action, Some(&certificate_id), None, AuditOutcome::Success, detail);
        let request_row = CertificateRequestRow {
            id: request_id,
            profile_id: Some(context.profile.id.clone()),
            csr_pem,
            request_json: scripts::stored_request_json(&context.profile, request)?,
            created_at: now,
        };
        Ok((NewCertificate { record, sealed_key, request: request_row, event }, response))
    }

    /// Issue a replacement for certificate `id` with the same names, a fresh key and the same
    /// lifetime, under its profile's current policy. The old certificate stays valid.
    pub async fn renew(&self, id: &str) -> Result<IssuedCertificate> {
        self.renew_with(id, crate::model::ConnectorParams::default()).await
    }

    /// [`Certloop::renew`] with values for the profile's dynamic connector parameters (a
    /// script issuer that declares some needs them again for the renewal).
    pub async fn renew_with(
        &self,
        id: &str,
        connector_params: crate::model::ConnectorParams,
    ) -> Result<IssuedCertificate> {
        let mut previous = self.show(id).await?;
        if !previous.state.is_live() {
            return Err(Error::InvalidState(format!(
                "certificate {} is {} and cannot be renewed",
                previous.certificate_id, previous.state
            )));
        }
        let profile_id = previous.profile_id.clone().ok_or_else(|| {
            Error::InvalidState(format!(
                "certificate {} has no profile to renew under",
                previous.certificate_id
            ))
        })?;
        let context = self.issue_context(&profile_id).await?;
        let info = crypto::inspect_certificate(previous.certificate.as_bytes())?;
        let lifetime = (previous.not_after - previous.not_before).whole_seconds().max(1);
        let request = IssueRequest {
            profile_id: Some(profile_id),
            csr: None,
            attributes: crate::model::CertificateAttributes {
                subject: info.subject.clone(),
                // An ACME CA sets the lifetime itself; asking for the old one would only trip
                // the template when the CA issues longer than it allows.
                ttl: match context.acme {
                    Some(_) => None,
                    None => {
                        Some(crate::model::Ttl::from_seconds(u64::try_from(lifetime).unwrap_or(1)))
                    }
                },
                key_algorithm: previous.key_algorithm,
                key_usages: Some(info.key_usages.clone()),
                extended_key_usages: Some(info.extended_key_usages.clone()),
                alt_names: Some(previous.alt_names.clone()),
                signature_algorithm: None,
            },
            manage_key: previous.key_managed,
            connector_params,
        };
        let signed = self.sign(&context, &request, Some(&previous)).await;
        let (new, response) = match signed {
            Ok(ok) => ok,
            Err(e) => {
                self.refused(&e, Some(&previous.certificate_id)).await?;
                return Err(e);
            }
        };
        self.inner.store.insert_certificates(std::slice::from_ref(&new)).await?;
        self.mark_renewed(&mut previous, &new.record.certificate_id).await?;
        Ok(response)
    }

    /// Record on `previous` that `successor` replaced it, with its audit event.
    pub(super) async fn mark_renewed(
        &self,
        previous: &mut CertificateRecord,
        successor: &str,
    ) -> Result<()> {
        previous.renewed_by = Some(successor.to_owned());
        previous.updated_at = self.now();
        let note = self.event(
            AuditAction::Renewed,
            Some(&previous.certificate_id),
            None,
            AuditOutcome::Success,
            format!("replaced by {successor}"),
        );
        self.inner.store.update_certificate(previous, &note).await
    }
}

impl Certloop {
    /// Register `connector` under `name`, for profiles whose issuer is
    /// `{"type": "connector", "name": ...}`. Replaces an earlier one of that name. Shared by
    /// every clone of this handle; not stored (register again after a restart).
    pub fn register_connector(&self, name: &str, connector: Arc<dyn CaConnector>) -> Result<()> {
        if name.trim().is_empty() {
            return Err(Error::invalid("name", "a connector name cannot be empty"));
        }
        let mut connectors =
            self.inner.connectors.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        connectors.insert(name.to_owned(), connector);
        Ok(())
    }

    /// The internal CA `id_or_name` as a connector (to wrap, to register under a name).
    pub async fn internal_ca_connector(&self, id_or_name: &str) -> Result<Arc<dyn CaConnector>> {
        Ok(self.load_ca(id_or_name).await?)
    }

    fn registered_connector(&self, name: &str) -> Result<Arc<dyn CaConnector>> {
        let connectors =
            self.inner.connectors.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        connectors.get(name).cloned().ok_or_else(|| Error::NotFound {
            what: "CA connector",
            id: format!("{name} (register it with register_connector before issuing)"),
        })
    }
}

/// What one profile resolves to for issuing.
pub(super) struct IssueContext {
    pub(super) profile: Arc<CertificateProfile>,
    template: Arc<CertificateTemplate>,
    connector: Arc<dyn CaConnector>,
    ca: Option<Arc<InternalCa>>,
    /// The ACME connector, for ACME profiles (orders may wait for manual validation).
    pub(super) acme: Option<Arc<AcmeConnector>>,
    /// The PEM of the first chain this context's connector returned: a CA returns the same
    /// chain for every leaf, and a batch encodes it once.
    chain: OnceLock<Arc<ChainPem>>,
}

/// An issuing chain, DER and PEM.
pub(super) struct ChainPem {
    der: Vec<Vec<u8>>,
    /// The issuing CA up to the root ([`issuance::chain_pem`]).
    pub(super) chain: String,
    /// The issuing CA alone ([`issuance::issuing_ca_pem`]).
    pub(super) issuing_ca: String,
}

impl IssueContext {
    /// The PEM forms of `issued`'s chain: the remembered ones when the chain is the one seen
    /// first (compared byte for byte), else encoded now. A self-signed leaf is its own chain
    /// and is never remembered.
    fn chain_pem(&self, issued: &Issued) -> Arc<ChainPem> {
        let encode = || ChainPem {
            der: issued.chain_der.clone(),
            chain: issuance::chain_pem(issued),
            issuing_ca: issuance::issuing_ca_pem(issued),
        };
        if issued.chain_der.is_empty() {
            return Arc::new(encode());
        }
        let first = self.chain.get_or_init(|| Arc::new(encode()));
        if first.der == issued.chain_der { first.clone() } else { Arc::new(encode()) }
    }
}

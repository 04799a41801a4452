//! Templates, profiles, and the embedded default set-up.

use super::*;

impl Certloop {
    // ---- templates and profiles ------------------------------------------------------------

    /// Create or replace a template (by id; slugs are unique).
    pub async fn save_template(
        &self,
        mut template: CertificateTemplate,
    ) -> Result<CertificateTemplate> {
        template.validate_definition()?;
        template.id =
            self.document_id(DocumentKind::TEMPLATE, &template.id, &template.slug).await?;
        self.put_typed(DocumentKind::TEMPLATE, &template.id, &template.slug, &template).await?;
        let (id, slug) = (Some(template.id.as_str()), template.slug.clone());
        self.audit(AuditAction::TemplateSaved, None, id, AuditOutcome::Success, slug).await?;
        Ok(template)
    }

    /// A template by id or slug.
    pub async fn get_template(&self, id_or_slug: &str) -> Result<CertificateTemplate> {
        self.get_typed(DocumentKind::TEMPLATE, id_or_slug).await
    }

    /// Every template.
    pub async fn list_templates(&self) -> Result<Vec<CertificateTemplate>> {
        self.list_typed(DocumentKind::TEMPLATE).await
    }

    /// Create or replace a profile. Its template and issuer must exist.
    pub async fn save_profile(
        &self,
        mut profile: CertificateProfile,
    ) -> Result<CertificateProfile> {
        profile.validate_definition()?;
        profile.template_id = self.get_template(&profile.template_id).await?.id;
        if let ProfileIssuer::InternalCa { ca_id } = &mut profile.issuer {
            *ca_id = self.load_ca(ca_id).await?.id().to_owned();
        }
        profile.id = self.document_id(DocumentKind::PROFILE, &profile.id, &profile.slug).await?;
        self.prepare_script_profile(&mut profile).await?;
        self.put_typed(DocumentKind::PROFILE, &profile.id, &profile.slug, &profile).await?;
        let (id, slug) = (Some(profile.id.as_str()), profile.slug.clone());
        self.audit(AuditAction::ProfileSaved, None, id, AuditOutcome::Success, slug).await?;
        Ok(profile)
    }

    /// A profile by id or slug.
    pub async fn get_profile(&self, id_or_slug: &str) -> Result<CertificateProfile> {
        self.get_typed(DocumentKind::PROFILE, id_or_slug).await
    }

    /// Every profile.
    pub async fn list_profiles(&self) -> Result<Vec<CertificateProfile>> {
        self.list_typed(DocumentKind::PROFILE).await
    }

    /// The profile `id_or_slug` and its template, parsed, for issuing. Kept between calls
    /// while the store's [`documents_version`](Store::documents_version) stays the same, so
    /// one-by-one issuance does not read and parse two JSON documents per certificate; a
    /// template or profile saved through any handle or process takes effect on the next call.
    pub(super) async fn profile_and_template(
        &self,
        id_or_slug: &str,
    ) -> Result<(Arc<CertificateProfile>, Arc<CertificateTemplate>)> {
        // Read the version before the documents: a write between the two leaves an entry
        // stamped with the old version, which the next call then re-reads.
        let version = self.inner.store.documents_version().await?;
        if let Some(version) = version {
            let cached = self.inner.policies.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(entry) = cached.get(id_or_slug).filter(|e| e.version == version) {
                return Ok((entry.profile.clone(), entry.template.clone()));
            }
        }
        let profile = Arc::new(self.get_profile(id_or_slug).await?);
        let template = Arc::new(self.get_template(&profile.template_id).await?);
        if let Some(version) = version {
            let mut cached = self.inner.policies.lock().unwrap_or_else(|p| p.into_inner());
            // Entries of older versions can never match again.
            cached.retain(|_, entry| entry.version == version);
            let entry =
                CachedPolicy { version, profile: profile.clone(), template: template.clone() };
            cached.insert(id_or_slug.to_owned(), entry);
        }
        Ok((profile, template))
    }

    /// Set up the embedded default, once: a root CA, an issuing CA under it, and a `tls-server`
    /// template and profile. Calling it again changes nothing.
    pub async fn init_default(&self) -> Result<DefaultSetup> {
        let mut created = false;
        let root = match self.get_ca(defaults::ROOT_CA).await {
            Ok(root) => root,
            Err(Error::NotFound { .. }) => {
                created = true;
                self.create_ca(default_ca_spec(defaults::ROOT_CA, "certloop Root CA", None, None))
                    .await?
            }
            Err(e) => return Err(e),
        };
        let issuing = match self.get_ca(defaults::ISSUING_CA).await {
            Ok(issuing) => issuing,
            Err(Error::NotFound { .. }) => {
                created = true;
                let spec = default_ca_spec(
                    defaults::ISSUING_CA,
                    "certloop Issuing CA 1",
                    Some(root.id.clone()),
                    Some(0),
                );
                self.create_ca(spec).await?
            }
            Err(e) => return Err(e),
        };
        if let Err(Error::NotFound { .. }) = self.get_template(defaults::PROFILE).await {
            created = true;
            self.save_template(CertificateTemplate::from_preset(
                defaults::PROFILE,
                TemplatePreset::TlsServer,
            ))
            .await?;
        }
        let profile = match self.get_profile(defaults::PROFILE).await {
            Ok(profile) => profile,
            Err(Error::NotFound { .. }) => {
                created = true;
                self.save_profile(default_profile(&issuing.id)?).await?
            }
            Err(e) => return Err(e),
        };
        Ok(DefaultSetup { root_ca: root, issuing_ca: issuing, profile, created })
    }
}

/// A profile and its template as read at one [`Store::documents_version`].
pub(super) struct CachedPolicy {
    version: u64,
    profile: Arc<CertificateProfile>,
    template: Arc<CertificateTemplate>,
}

fn default_ca_spec(
    name: &str,
    cn: &str,
    parent: Option<String>,
    path_length: Option<u8>,
) -> CaSpec {
    CaSpec {
        name: name.to_owned(),
        subject: Subject { organization: Some("certloop".to_owned()), ..Subject::common_name(cn) },
        key_algorithm: crate::model::KeyAlgorithm::EcP256,
        ttl: None,
        parent,
        path_length,
        name_constraints: None,
        crl_distribution_points: Vec::new(),
        ca_issuers: Vec::new(),
    }
}

fn default_profile(issuing_ca_id: &str) -> Result<CertificateProfile> {
    let json = serde_json::json!({
        "slug": defaults::PROFILE,
        "description": "TLS server certificates from the embedded issuing CA",
        "templateId": defaults::PROFILE,
        "issuer": {"type": "internalCa", "caId": issuing_ca_id},
        "enrollmentType": "API",
        "apiConfig": {"autoRenew": true, "renewBeforeDays": 30},
    });
    serde_json::from_value(json).map_err(|e| Error::store(format!("default profile: {e}")))
}

//! CAs: create, list, load (unsealing the key once) and cache.

use super::*;

impl Certloop {
    // ---- CAs -------------------------------------------------------------------------------

    /// Create a CA from `spec`: a root, or an intermediate when `spec.parent` names a CA.
    pub async fn create_ca(&self, spec: CaSpec) -> Result<CaSummary> {
        if self.inner.store.get_ca(&spec.name).await.is_ok() {
            return Err(Error::AlreadyExists { what: "CA", id: spec.name });
        }
        let parent = match &spec.parent {
            Some(parent) => Some(self.load_ca(parent).await?),
            None => None,
        };
        let id = uuid::Uuid::new_v4().to_string();
        let key = PrivateKey::generate(spec.key_algorithm)?;
        let ca = InternalCa::create(id.clone(), spec, key, parent.as_deref(), self.now())?;
        let sealed_key = self.inner.sealer.seal(&ca.key().to_pkcs8_der(), &ca_key_context(&id))?;
        let stored = StoredCa {
            id: id.clone(),
            name: ca.name().to_owned(),
            parent_id: parent.as_ref().map(|p| p.id().to_owned()),
            certificate_pem: ca.certificate_pem().to_owned(),
            sealed_key,
            config: serde_json::to_value(ca.spec()).map_err(Error::store)?,
            created_at: self.now(),
        };
        self.inner.store.insert_ca(&stored).await?;
        self.audit(
            AuditAction::CaCreated,
            None,
            Some(&id),
            AuditOutcome::Success,
            format!("CA {}", ca.name()),
        )
        .await?;
        let summary = summarize(&stored, &ca)?;
        self.cache_ca(Arc::new(ca));
        Ok(summary)
    }

    /// Every CA.
    pub async fn list_cas(&self) -> Result<Vec<CaSummary>> {
        let mut out = Vec::new();
        for stored in self.inner.store.list_cas().await? {
            let ca = self.load_ca(&stored.id).await?;
            out.push(summarize(&stored, &ca)?);
        }
        Ok(out)
    }

    /// One CA by id or name, with its certificate and chain (no key).
    pub async fn get_ca(&self, id_or_name: &str) -> Result<CaSummary> {
        let stored = self.inner.store.get_ca(id_or_name).await?;
        let ca = self.load_ca(&stored.id).await?;
        summarize(&stored, &ca)
    }

    /// The unsealed CA, from the cache or the store.
    pub(super) async fn load_ca(&self, id_or_name: &str) -> Result<Arc<InternalCa>> {
        if let Some(ca) = self.cached_ca(id_or_name) {
            return Ok(ca);
        }
        let stored = self.inner.store.get_ca(id_or_name).await?;
        if let Some(ca) = self.cached_ca(&stored.id) {
            return Ok(ca);
        }
        let mut parent_chain = Vec::new();
        let mut next = stored.parent_id.clone();
        while let Some(parent_id) = next {
            if parent_chain.len() > 16 {
                return Err(Error::store(format!("CA {} has a parent loop", stored.name)));
            }
            let parent = self.inner.store.get_ca(&parent_id).await?;
            parent_chain.push(crypto::inspect_certificate(parent.certificate_pem.as_bytes())?.der);
            next = parent.parent_id;
        }
        let pkcs8 = self.inner.sealer.open(&stored.sealed_key, &ca_key_context(&stored.id))?;
        let key = PrivateKey::from_pkcs8_der(&pkcs8)?;
        let spec: CaSpec = serde_json::from_value(stored.config.clone())
            .map_err(|e| Error::store(format!("CA {} config is unreadable: {e}", stored.name)))?;
        let ca = Arc::new(InternalCa::from_parts(
            stored.id.clone(),
            spec,
            &stored.certificate_pem,
            key,
            parent_chain,
        )?);
        self.cache_ca(ca.clone());
        Ok(ca)
    }

    pub(super) fn cached_ca(&self, id_or_name: &str) -> Option<Arc<InternalCa>> {
        let cas = self.inner.cas.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        cas.get(id_or_name).or_else(|| cas.values().find(|ca| ca.name() == id_or_name)).cloned()
    }

    pub(super) fn cache_ca(&self, ca: Arc<InternalCa>) {
        let mut cas = self.inner.cas.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        cas.insert(ca.id().to_owned(), ca);
    }
}

fn summarize(stored: &StoredCa, ca: &InternalCa) -> Result<CaSummary> {
    let info = crypto::inspect_certificate(stored.certificate_pem.as_bytes())?;
    Ok(CaSummary {
        id: stored.id.clone(),
        name: stored.name.clone(),
        parent_id: stored.parent_id.clone(),
        subject: info.subject_dn.clone(),
        not_before: info.not_before,
        not_after: info.not_after,
        key_algorithm: ca.key().algorithm().to_string(),
        fingerprint_sha256: info.fingerprint_sha256.clone(),
        certificate: stored.certificate_pem.clone(),
        certificate_chain: ca.chain_pem(),
    })
}

//! Script CA connectors: sealing a script profile's sensitive parameters, building (and
//! keeping) one connector per profile so the script stays loaded, and revoking through it.

use std::path::PathBuf;
use std::time::Duration;

use super::*;
use crate::ca::{ScriptConnector, ScriptSpec, check_script_file};
use crate::crypto::SecretString;
use crate::model::ConnectorParams;
use crate::policy::{MASKED, ScriptParam};
use crate::store::connector_param_context;

/// Sealed sensitive values of script profiles: one document per profile, keyed by its id,
/// `{"id": ..., "params": {"<name>": "<hex of the sealed value>"}}`. The profile document itself
/// only ever holds the mask.
const SCRIPT_SECRETS: DocumentKind =
    DocumentKind { kind: "script-secrets", what: "script profile secrets" };

impl Certloop {
    /// The same instance accepting script CA profiles only for scripts inside `dir` (after
    /// resolving symlinks and `..`). Call before sharing it.
    pub fn with_script_root(self, dir: impl AsRef<std::path::Path>) -> Result<Self> {
        let dir = dir.as_ref();
        let root = std::fs::canonicalize(dir).map_err(|e| Error::io(dir.display(), e))?;
        Ok(self.rebuild(|inner| {
            inner.script_root = Some(root);
            // Connectors loaded before were not checked against the root.
            inner.scripts = Arc::default();
        }))
    }

    /// Before a script profile is saved: canonicalize and check its script path, and seal its
    /// sensitive values into the secrets document (a masked value keeps the sealed one saved
    /// before). Called with the profile's final id.
    pub(super) async fn prepare_script_profile(
        &self,
        profile: &mut CertificateProfile,
    ) -> Result<()> {
        let profile_id = profile.id.clone();
        let ProfileIssuer::Script { path, params, .. } = &mut profile.issuer else {
            return Ok(());
        };
        let canonical = std::fs::canonicalize(&*path)
            .map_err(|e| Error::invalid("issuer.path", format!("cannot use script {path}: {e}")))?;
        if let Some(root) = &self.inner.script_root
            && !canonical.starts_with(root)
        {
            return Err(Error::invalid(
                "issuer.path",
                format!(
                    "{} is outside the script directory {}; put the script there",
                    canonical.display(),
                    root.display()
                ),
            ));
        }
        check_script_file(&canonical)?;
        *path = canonical.display().to_string();
        let previous = self.sealed_script_params(&profile_id).await?;
        let mut sealed = serde_json::Map::new();
        for param in params.iter().filter(|p| p.sensitive && !p.dynamic) {
            let blob = if param.is_masked() {
                previous.get(&param.name).cloned().ok_or_else(|| {
                    Error::invalid(
                        format!("issuer.params.{}", param.name),
                        format!(
                            "{MASKED} is the mask of a stored value, and profile {} has none \
                             stored for {:?}: give the real value",
                            profile.slug, param.name
                        ),
                    )
                })?
            } else {
                let value = param.value.as_ref().map(SecretString::expose).unwrap_or_default();
                let context = connector_param_context(&profile_id, &param.name);
                crate::crypto::x509::hex(&self.inner.sealer.seal(value.as_bytes(), &context)?)
            };
            sealed.insert(param.name.clone(), serde_json::Value::String(blob));
        }
        let body = serde_json::json!({"id": profile_id, "params": sealed});
        self.inner.store.put_document(SCRIPT_SECRETS, &profile_id, &profile_id, &body).await
    }

    /// The sealed values stored for profile `profile_id`, by parameter name (hex).
    async fn sealed_script_params(&self, profile_id: &str) -> Result<HashMap<String, String>> {
        let body = match self.inner.store.get_document(SCRIPT_SECRETS, profile_id).await {
            Ok(body) => body,
            Err(Error::NotFound { .. }) => return Ok(HashMap::new()),
            Err(e) => return Err(e),
        };
        let params = body.get("params").and_then(|p| p.as_object()).cloned().unwrap_or_default();
        Ok(params
            .into_iter()
            .filter_map(|(name, v)| v.as_str().map(|s| (name, s.to_owned())))
            .collect())
    }

    /// The connector of a script profile: the cached one while the profile is unchanged (so
    /// the script stays loaded), else a new one with the sensitive values unsealed.
    pub(super) async fn script_connector(
        &self,
        profile: &CertificateProfile,
    ) -> Result<Arc<ScriptConnector>> {
        let ProfileIssuer::Script { path, timeout_seconds, isolation, interpreter, params } =
            &profile.issuer
        else {
            return Err(Error::InvalidState(format!(
                "profile {} has no script issuer",
                profile.slug
            )));
        };
        let sealed = self.sealed_script_params(&profile.id).await?;
        let mut unsealed = Vec::with_capacity(params.len());
        for param in params {
            let mut param = param.clone();
            if param.sensitive && !param.dynamic {
                let blob = sealed.get(&param.name).and_then(|h| crate::crypto::x509::hex_decode(h)).ok_or_else(|| {
                    Error::store(format!(
                        "profile {}: the sealed value of {:?} is missing; save the profile again",
                        profile.slug, param.name
                    ))
                })?;
                let context = connector_param_context(&profile.id, &param.name);
                let clear = self.inner.sealer.open(&blob, &context)?;
                let text = String::from_utf8(clear.to_vec()).map_err(|_| {
                    Error::store(format!("profile {}: a sealed value is not text", profile.slug))
                })?;
                param.value = Some(SecretString::new(text));
            }
            unsealed.push(param);
        }
        let spec = ScriptSpec {
            profile: profile.slug.clone(),
            path: PathBuf::from(path),
            timeout: Duration::from_secs(u64::from(*timeout_seconds)),
            isolation: *isolation,
            interpreter: interpreter.clone(),
            params: unsealed,
        };
        let mut scripts = self.inner.scripts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(cached) = scripts.get(&profile.id).filter(|c| c.spec() == &spec) {
            return Ok(cached.clone());
        }
        let connector = Arc::new(ScriptConnector::new(spec)?);
        scripts.insert(profile.id.clone(), connector.clone());
        Ok(connector)
    }

    /// The script connector that issued `record`, when its profile has a script issuer.
    pub(super) async fn script_revoker(
        &self,
        record: &CertificateRecord,
    ) -> Result<Option<Arc<ScriptConnector>>> {
        let Some(profile_id) = &record.profile_id else {
            return Ok(None);
        };
        let profile = self.get_profile(profile_id).await?;
        if !matches!(profile.issuer, ProfileIssuer::Script { .. }) {
            return Ok(None);
        }
        self.script_connector(&profile).await.map(Some)
    }
}

/// Refuse connector parameters for a profile whose issuer takes none.
pub(super) fn check_connector_params(
    profile: &CertificateProfile,
    params: &ConnectorParams,
) -> Result<()> {
    if params.is_empty() || matches!(profile.issuer, ProfileIssuer::Script { .. }) {
        return Ok(());
    }
    let names: Vec<&str> = params.as_map().keys().map(String::as_str).collect();
    Err(Error::invalid(
        "connectorParams",
        format!(
            "profile {}'s issuer takes no connector parameters (got {})",
            profile.slug,
            names.join(", ")
        ),
    ))
}

/// The request as the inventory keeps it: sensitive dynamic values replaced by the mask.
pub(super) fn stored_request_json(
    profile: &CertificateProfile,
    request: &IssueRequest,
) -> Result<serde_json::Value> {
    let mut value = serde_json::to_value(request).map_err(Error::store)?;
    if let ProfileIssuer::Script { params, .. } = &profile.issuer
        && let Some(stored) = value.get_mut("connectorParams").and_then(|v| v.as_object_mut())
    {
        for param in params.iter().filter(|p: &&ScriptParam| p.sensitive) {
            if let Some(v) = stored.get_mut(&param.name) {
                *v = serde_json::Value::String(MASKED.to_owned());
            }
        }
    }
    Ok(value)
}

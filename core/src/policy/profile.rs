//! Certificate profiles: a template plus an issuer, an enrollment method, renewal settings and
//! default attributes (Infisical's certificate profiles).

use serde::{Deserialize, Serialize};

use super::script::{
    DEFAULT_SCRIPT_TIMEOUT_SECONDS, ScriptIsolation, ScriptParam, check_script_issuer,
};
use super::template::{check_slug, definition_result};
use crate::Error;
use crate::error::Violation;
use crate::model::CertificateAttributes;

/// How certificates are requested under a profile, issued by whom, and renewed when.
///
/// ```json
/// {
///   "id": "550e8400-e29b-41d4-a716-446655440000",
///   "slug": "web-servers",
///   "description": "internal web servers",
///   "templateId": "660f1234-e29b-41d4-a716-446655440001",
///   "issuer": { "type": "internalCa", "caId": "770a2345-e29b-41d4-a716-446655440002" },
///   "enrollmentType": "API",
///   "apiConfig": { "autoRenew": true, "renewBeforeDays": 7 },
///   "defaults": { "organization": "Acme", "ttl": "90d", "keyAlgorithm": "EC_prime256v1" },
///   "manageKeys": false
/// }
/// ```
///
/// Infisical's spelling is accepted too: `certificateTemplateId` for `templateId`, and a
/// top-level `"caId": "..."` in place of `issuer` (meaning `{"type": "internalCa"}`).
/// Serialization always writes `templateId` and `issuer`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", try_from = "ProfileWire")]
pub struct CertificateProfile {
    /// The profile id (a UUID string; assigned by the store when empty).
    #[serde(default)]
    pub id: String,
    /// Unique human name: lowercase letters, digits and `-`, 1 to 64 characters.
    pub slug: String,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The template requests are checked against (id or slug).
    pub template_id: String,
    /// Who issues.
    pub issuer: ProfileIssuer,
    /// How certificates are requested.
    #[serde(default)]
    pub enrollment_type: EnrollmentType,
    /// Settings of API enrollment (auto-renewal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_config: Option<ApiConfig>,
    /// Settings of ACME enrollment (`enrollmentType: "ACME"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acme_config: Option<AcmeEnrollmentConfig>,
    /// Attributes used where a request leaves them out.
    #[serde(default)]
    pub defaults: CertificateAttributes,
    /// Whether the library keeps generated private keys (encrypted) to deploy and renew them.
    #[serde(default)]
    pub manage_keys: bool,
}

/// Who issues certificates under a profile; `{"type": "internalCa", "caId": "..."}`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase", rename_all_fields = "camelCase")]
#[non_exhaustive]
pub enum ProfileIssuer {
    /// A CA managed by this library (root or intermediate).
    InternalCa {
        /// The CA's id.
        ca_id: String,
    },
    /// Each certificate signs itself.
    SelfSigned,
    /// An ACME CA (RFC 8555): `{"type": "acme", "directoryUrl": "...", "solver": {...}}`.
    Acme(Box<crate::ca::acme::AcmeIssuerConfig>),

    /// A Python script implementing `certificate_request(csr, common_name, args_dict)`:
    /// `{"type": "script", "path": "/etc/certloop/corp_ca.py", "timeoutSeconds": 30,
    /// "isolation": "process", "params": [{"name": "ticket", "dynamic": true}]}`.
    Script {
        /// The script file (absolute, or relative to the working directory when saved; the
        /// façade stores it canonicalized).
        path: String,
        /// How long one call may take before it fails with a timeout.
        #[serde(default = "default_script_timeout")]
        timeout_seconds: u32,
        /// Where the script runs.
        #[serde(default)]
        isolation: ScriptIsolation,
        /// The Python interpreter for `process` isolation (default: `python3` on `PATH`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        interpreter: Option<String>,
        /// What the script receives in `args_dict`.
        #[serde(default)]
        params: Vec<ScriptParam>,
    },
    /// A connector registered at run time with [`crate::Certloop::register_connector`]
    /// (a binding's callable, an outside CA's client): `{"type": "connector", "name": "corp"}`.
    Connector {
        /// The registered name.
        name: String,
    },
}

fn default_script_timeout() -> u32 {
    DEFAULT_SCRIPT_TIMEOUT_SECONDS
}

/// How certificates are requested under a profile; `"API"` on the wire.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
#[non_exhaustive]
pub enum EnrollmentType {
    /// Requests through the library's API, CLI or bindings.
    #[default]
    Api,
    /// ACME clients (certbot, lego, cert-manager) through `certloop serve`'s ACME server at
    /// `/acme/{profile slug}/directory`; the REST API and the library can issue under it too.
    Acme,
}

/// API enrollment settings, as Infisical spells them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiConfig {
    /// Whether the renewal scheduler renews certificates of this profile.
    #[serde(default)]
    pub auto_renew: bool,
    /// How many days before notAfter renewal starts.
    pub renew_before_days: u32,
}

/// ACME enrollment settings: `{"externalAccountRequired": true}` makes every new account
/// bind to a key made with `certloop acme eab create` (RFC 8555 §7.3.4).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AcmeEnrollmentConfig {
    /// Whether new accounts need an external account binding.
    #[serde(default)]
    pub external_account_required: bool,
}

/// The wire form accepted on input, with Infisical's aliases.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProfileWire {
    #[serde(default)]
    id: String,
    slug: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(alias = "certificateTemplateId")]
    template_id: String,
    #[serde(default)]
    issuer: Option<ProfileIssuer>,
    #[serde(default)]
    ca_id: Option<String>,
    #[serde(default)]
    enrollment_type: EnrollmentType,
    #[serde(default)]
    api_config: Option<ApiConfig>,
    #[serde(default)]
    acme_config: Option<AcmeEnrollmentConfig>,
    #[serde(default)]
    defaults: CertificateAttributes,
    #[serde(default)]
    manage_keys: bool,
}

impl CertificateProfile {
    /// A profile issuing from the internal CA `ca_id` under the template `template_id`.
    pub fn internal_ca(
        slug: impl Into<String>,
        template_id: impl Into<String>,
        ca_id: impl Into<String>,
    ) -> Self {
        Self {
            id: String::new(),
            slug: slug.into(),
            description: None,
            template_id: template_id.into(),
            issuer: ProfileIssuer::InternalCa { ca_id: ca_id.into() },
            enrollment_type: EnrollmentType::Api,
            api_config: None,
            acme_config: None,
            defaults: CertificateAttributes::default(),
            manage_keys: false,
        }
    }

    /// Whether the renewal scheduler watches certificates of this profile.
    pub fn auto_renew(&self) -> bool {
        self.api_config.is_some_and(|c| c.auto_renew)
    }

    /// Days before notAfter at which auto-renewal starts, when auto-renewal is on.
    pub fn renew_before_days(&self) -> Option<u32> {
        self.api_config.filter(|c| c.auto_renew).map(|c| c.renew_before_days)
    }

    /// `request` with every attribute it leaves out taken from the profile's defaults.
    pub fn merge_defaults(&self, request: &CertificateAttributes) -> CertificateAttributes {
        let d = &self.defaults;
        let r = request.clone();
        CertificateAttributes {
            subject: r.subject.or(&d.subject),
            ttl: r.ttl.or(d.ttl),
            signature_algorithm: r.signature_algorithm.or(d.signature_algorithm),
            key_algorithm: r.key_algorithm.or(d.key_algorithm),
            key_usages: r.key_usages.or_else(|| d.key_usages.clone()),
            extended_key_usages: r.extended_key_usages.or_else(|| d.extended_key_usages.clone()),
            alt_names: r.alt_names.or_else(|| d.alt_names.clone()),
        }
    }

    /// Check that a user-written profile is coherent, naming the JSON field of the first
    /// problem and listing all of them.
    pub fn validate_definition(&self) -> Result<(), Error> {
        let mut out = Vec::new();
        if let Err(why) = check_slug(&self.slug) {
            out.push(Violation::new("slug", why));
        }
        if self.template_id.trim().is_empty() {
            out.push(Violation::new("templateId", "a profile needs a template id or slug"));
        }
        if let ProfileIssuer::InternalCa { ca_id } = &self.issuer
            && ca_id.trim().is_empty()
        {
            out.push(Violation::new("issuer.caId", "name the CA that issues"));
        }
        if let ProfileIssuer::Acme(acme) = &self.issuer
            && let Err(Error::InvalidInput { field, message }) = acme.validate()
        {
            out.push(Violation::new(field, message));
        }

        if let ProfileIssuer::Connector { name } = &self.issuer
            && name.trim().is_empty()
        {
            out.push(Violation::new("issuer.name", "name the registered CA connector"));
        }
        if let ProfileIssuer::Script { path, timeout_seconds, params, .. } = &self.issuer {
            check_script_issuer(path, *timeout_seconds, params, &mut out);
        }
        if let Some(config) = self.api_config
            && !(1..=3650).contains(&config.renew_before_days)
        {
            out.push(Violation::new(
                "apiConfig.renewBeforeDays",
                format!("{} is out of range; use 1 to 3650 days", config.renew_before_days),
            ));
        }
        for (i, san) in self.defaults.alt_names.iter().flatten().enumerate() {
            let field = format!("defaults.altNames[{i}]");
            if let Err(Error::InvalidInput { message, .. }) = san.validate(&field) {
                out.push(Violation::new(field, message));
            }
        }
        definition_result(out)
    }
}

impl TryFrom<ProfileWire> for CertificateProfile {
    type Error = String;

    fn try_from(wire: ProfileWire) -> Result<Self, String> {
        let issuer = match (wire.issuer, wire.ca_id) {
            (Some(issuer), None) => issuer,
            (None, Some(ca_id)) => ProfileIssuer::InternalCa { ca_id },
            (Some(ProfileIssuer::InternalCa { ca_id }), Some(top)) if ca_id == top => {
                ProfileIssuer::InternalCa { ca_id }
            }
            (Some(_), Some(_)) => {
                return Err("give either `issuer` or `caId`, not both with different CAs".into());
            }
            (None, None) => {
                return Err(
                    "missing `issuer` (e.g. {\"type\": \"internalCa\", \"caId\": \"...\"})".into(),
                );
            }
        };
        Ok(Self {
            id: wire.id,
            slug: wire.slug,
            description: wire.description,
            template_id: wire.template_id,
            issuer,
            enrollment_type: wire.enrollment_type,
            api_config: wire.api_config,
            acme_config: wire.acme_config,
            defaults: wire.defaults,
            manage_keys: wire.manage_keys,
        })
    }
}

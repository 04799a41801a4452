//! Certificate templates: what a request may ask for, modelled on Infisical's certificate
//! templates (v2). A template is pure data; [`CertificateTemplate::validate`] checks a
//! [`PolicyRequest`] against it and reports every violation at once.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::rules::{AlgorithmRule, SanRule, SubjectRule, UsageRule, ValidityRule};
use super::{pattern, presets};
use crate::error::{Error, Violation};
use crate::model::{
    ExtendedKeyUsage, KeyAlgorithm, KeyFamily, KeyUsage, SignatureAlgorithm, Subject,
    SubjectAltName, Ttl,
};

/// What a certificate request may ask for.
///
/// ```json
/// {
///   "id": "660f1234-e29b-41d4-a716-446655440001",
///   "slug": "tls-server",
///   "description": "internal TLS servers",
///   "preset": "tlsServer",
///   "subject": [
///     { "type": "common_name", "allowed": ["*.acme.com"], "required": true },
///     { "type": "organizational_unit", "allowed": [] }
///   ],
///   "sans": [
///     { "type": "DNS", "allowed": ["*.acme.com", "acme.com"], "denied": ["admin.acme.com"] },
///     { "type": "IP", "allowed": ["10.0.0.0/8", "::1/128"] }
///   ],
///   "keyUsages": { "required": ["digital_signature"], "allowed": ["key_encipherment"] },
///   "extendedKeyUsages": { "required": ["server_auth"], "allowed": ["client_auth"] },
///   "algorithms": {
///     "signature": ["ECDSA-SHA256", "RSA-SHA256"],
///     "keyAlgorithm": ["EC_prime256v1", "RSA_2048", "RSA_3072"],
///     "minRsaBits": 2048
///   },
///   "validity": { "max": "90d" }
/// }
/// ```
///
/// What an absent rule means (anything goes unless a rule says otherwise):
/// - `subject`: an attribute without an entry may take any value; an entry with an empty
///   `allowed` list forbids the attribute; `required: true` makes it mandatory.
/// - `sans`: no entries at all means any SAN of any type. Once there is an entry, SAN types
///   without one are not allowed, and an entry with an empty `allowed` list forbids its type.
///   Each `required` pattern needs at least one SAN of that type matching it.
/// - `denied` beats `allowed` everywhere.
/// - `keyUsages` / `extendedKeyUsages`: absent means any; present means every `required` usage
///   must be asked for and nothing outside `required` + `allowed` may be.
/// - `algorithms`: an empty list means any; `minRsaBits` applies to RSA keys only.
/// - `validity`: absent means no maximum (the issuer's own limits still apply).
/// - `preset: "publicTls"` also enforces the CA/Browser Forum Baseline Requirements rules that
///   cannot be written as static rules (see [`presets`](super::presets)).
///
/// Patterns: `*` matches anything; DNS (and subject values) `*.acme.com` matches exactly one
/// left-most label (`a.acme.com`, not `a.b.acme.com` nor `acme.com`), otherwise literal and
/// case-insensitive; IP rules take CIDR ranges (`10.0.0.0/8`, `::1/128`) or addresses; e-mail
/// `*@acme.com` or `*@*.acme.com`; URI a literal or a prefix ending in `*` (`spiffe://acme/*`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateTemplate {
    /// The template id (a UUID string; assigned by the store when empty).
    #[serde(default)]
    pub id: String,
    /// Unique human name: lowercase letters, digits and `-`, 1 to 64 characters.
    pub slug: String,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The preset this template was made from; `publicTls` adds the CA/B Forum checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<TemplatePreset>,
    /// Rules for subject attributes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subject: Vec<SubjectRule>,
    /// Rules for subject alternative names, one per SAN type.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sans: Vec<SanRule>,
    /// Rules for the keyUsage extension.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_usages: Option<UsageRule<KeyUsage>>,
    /// Rules for the extendedKeyUsage extension.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extended_key_usages: Option<UsageRule<ExtendedKeyUsage>>,
    /// Allowed key and signature algorithms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithms: Option<AlgorithmRule>,
    /// Maximum lifetime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validity: Option<ValidityRule>,
}

/// A ready-made template shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TemplatePreset {
    /// Private TLS server: serverAuth, DNS/IP/URI SANs, RSA ≥ 2048, at most 398 days.
    TlsServer,
    /// Private TLS client (mTLS): clientAuth, any SAN type, RSA ≥ 2048, at most 1 year.
    TlsClient,
    /// Publicly-trusted TLS server per the CA/Browser Forum Baseline Requirements.
    PublicTls,
}

/// A request as the policy sees it: the merged attributes plus facts about the key and clock.
/// The engine fills it from the issue request, the profile defaults and the CSR.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyRequest {
    /// Subject attributes.
    pub subject: Subject,
    /// Subject alternative names, in request order (`attributes.altNames[i]`).
    pub alt_names: Vec<SubjectAltName>,
    /// Requested lifetime.
    pub ttl: Ttl,
    /// Family of the subject key.
    pub key_family: KeyFamily,
    /// Size of the subject key in bits (modulus for RSA, curve size for EC).
    pub key_bits: u32,
    /// Signature algorithm the issuer will use.
    pub signature_algorithm: SignatureAlgorithm,
    /// Key usages that will be encoded.
    pub key_usages: Vec<KeyUsage>,
    /// Extended key usages that will be encoded.
    pub extended_key_usages: Vec<ExtendedKeyUsage>,
    /// When the certificate will be issued (the engine's clock); dates BR validity limits.
    pub issued_at: OffsetDateTime,
}

impl CertificateTemplate {
    /// A template with no rules at all: anything goes.
    pub fn permissive(slug: impl Into<String>) -> Self {
        Self {
            id: String::new(),
            slug: slug.into(),
            description: None,
            preset: None,
            subject: Vec::new(),
            sans: Vec::new(),
            key_usages: None,
            extended_key_usages: None,
            algorithms: None,
            validity: None,
        }
    }

    /// The template of `preset`, named `slug`.
    pub fn from_preset(slug: &str, preset: TemplatePreset) -> Self {
        presets::template(slug, preset)
    }

    /// Check `req`; on failure [`Error::PolicyViolation`] lists every violation.
    pub fn validate(&self, req: &PolicyRequest) -> Result<(), Error> {
        let violations = self.violations(req);
        if violations.is_empty() { Ok(()) } else { Err(Error::PolicyViolation { violations }) }
    }

    /// Every rule `req` breaks, each naming its request field (`attributes.altNames[2]`).
    pub fn violations(&self, req: &PolicyRequest) -> Vec<Violation> {
        let mut out = Vec::new();
        self.check_subject(&req.subject, &mut out);
        self.check_sans(&req.alt_names, &mut out);
        if let Some(rule) = &self.key_usages {
            check_usages(rule, &req.key_usages, "attributes.keyUsages", |u| u.as_str(), &mut out);
        }
        if let Some(rule) = &self.extended_key_usages {
            let field = "attributes.extendedKeyUsages";
            check_usages(rule, &req.extended_key_usages, field, ExtendedKeyUsage::as_str, &mut out);
        }
        if let Some(rule) = &self.algorithms {
            check_algorithms(rule, req, &mut out);
        }
        if let Some(max) = self.max_ttl_at(req.issued_at)
            && req.ttl > max
        {
            out.push(Violation::new(
                "attributes.ttl",
                format!(
                    "ttl {} is longer than the maximum {} of this template",
                    in_days(req.ttl),
                    in_days(max)
                ),
            ));
        }
        if self.preset == Some(TemplatePreset::PublicTls) {
            out.extend(presets::public_tls_violations(req));
        }
        out
    }

    /// The template's own maximum lifetime, if it has one (see [`Self::max_ttl_at`]).
    pub fn max_ttl(&self) -> Option<Ttl> {
        self.validity.map(|v| v.max)
    }

    /// The maximum lifetime for a certificate issued at `at`: the template's maximum, lowered
    /// to the CA/B Forum limit in force at `at` for `publicTls` templates.
    pub fn max_ttl_at(&self, at: OffsetDateTime) -> Option<Ttl> {
        let br = (self.preset == Some(TemplatePreset::PublicTls))
            .then(|| Ttl::from_days(u64::from(presets::br_max_validity_days(at))));
        match (self.max_ttl(), br) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Key usages for a request that names none, for an EC or Ed25519 key.
    pub fn default_key_usages(&self) -> Vec<KeyUsage> {
        self.default_key_usages_for(KeyFamily::Ec)
    }

    /// Key usages for a request that names none: the template's required usages, else
    /// digitalSignature, plus keyEncipherment for RSA keys (RSA key transport) when the
    /// template allows it. Never keyEncipherment for EC keys.
    pub fn default_key_usages_for(&self, family: KeyFamily) -> Vec<KeyUsage> {
        if let Some(rule) = self.key_usages.as_ref().filter(|r| !r.required.is_empty()) {
            let mut usages = rule.required.clone();
            let wants_ke = family == KeyFamily::Rsa
                && self.preset != Some(TemplatePreset::TlsClient)
                && rule.allowed.contains(&KeyUsage::KeyEncipherment);
            if wants_ke && !usages.contains(&KeyUsage::KeyEncipherment) {
                usages.push(KeyUsage::KeyEncipherment);
            }
            return usages;
        }
        let mut usages = vec![KeyUsage::DigitalSignature];
        if family == KeyFamily::Rsa
            && self.preset != Some(TemplatePreset::TlsClient)
            && self.permits_key_usage(KeyUsage::KeyEncipherment)
        {
            usages.push(KeyUsage::KeyEncipherment);
        }
        usages.retain(|u| self.permits_key_usage(*u));
        usages
    }

    /// Extended key usages for a request that names none: the template's required ones, else
    /// serverAuth for TLS server presets, clientAuth for the TLS client preset, else none.
    pub fn default_extended_key_usages(&self) -> Vec<ExtendedKeyUsage> {
        if let Some(rule) = self.extended_key_usages.as_ref().filter(|r| !r.required.is_empty()) {
            return rule.required.clone();
        }
        match self.preset {
            Some(TemplatePreset::TlsServer | TemplatePreset::PublicTls) => {
                vec![ExtendedKeyUsage::ServerAuth]
            }
            Some(TemplatePreset::TlsClient) => vec![ExtendedKeyUsage::ClientAuth],
            None => Vec::new(),
        }
    }

    /// Check that a user-written template is coherent (slug, patterns, CIDR ranges, OIDs,
    /// sizes), naming the JSON field of the first problem and listing all of them.
    pub fn validate_definition(&self) -> Result<(), Error> {
        let mut out = Vec::new();
        if let Err(why) = check_slug(&self.slug) {
            out.push(Violation::new("slug", why));
        }
        for (i, rule) in self.subject.iter().enumerate() {
            let at = format!("subject[{i}]");
            if self.subject[..i].iter().any(|r| r.attribute == rule.attribute) {
                out.push(Violation::new(format!("{at}.type"), "duplicate rule for this attribute"));
            }
            if rule.required && rule.allowed.is_empty() {
                out.push(Violation::new(
                    format!("{at}.allowed"),
                    "a required attribute needs at least one allowed pattern (use \"*\")",
                ));
            }
            for (list, patterns) in [("allowed", &rule.allowed), ("denied", &rule.denied)] {
                for (j, p) in patterns.iter().enumerate() {
                    if let Err(why) = pattern::check_subject_pattern(rule.attribute, p) {
                        out.push(Violation::new(format!("{at}.{list}[{j}]"), why));
                    }
                }
            }
        }
        for (i, rule) in self.sans.iter().enumerate() {
            let at = format!("sans[{i}]");
            if self.sans[..i].iter().any(|r| r.kind == rule.kind) {
                out.push(Violation::new(format!("{at}.type"), "duplicate rule for this SAN type"));
            }
            let lists = [("allowed", &rule.allowed), ("required", &rule.required)];
            for (list, patterns) in lists.into_iter().chain([("denied", &rule.denied)]) {
                for (j, p) in patterns.iter().enumerate() {
                    if let Err(why) = pattern::check_san_pattern(rule.kind, p) {
                        out.push(Violation::new(format!("{at}.{list}[{j}]"), why));
                    }
                }
            }
        }
        if let Some(rule) = &self.extended_key_usages {
            let all = rule.required.iter().chain(&rule.allowed);
            for eku in all.filter(|e| matches!(e, ExtendedKeyUsage::Other(_))) {
                if !is_dotted_oid(eku.oid()) {
                    out.push(Violation::new(
                        "extendedKeyUsages",
                        format!("{:?} is neither a known usage nor a dotted OID", eku.oid()),
                    ));
                }
            }
        }
        if let Some(bits) = self.algorithms.as_ref().and_then(|a| a.min_rsa_bits)
            && !(1024..=16384).contains(&bits)
        {
            out.push(Violation::new("algorithms.minRsaBits", "must be 1024 to 16384"));
        }
        definition_result(out)
    }

    fn permits_key_usage(&self, usage: KeyUsage) -> bool {
        self.key_usages
            .as_ref()
            .is_none_or(|r| r.required.contains(&usage) || r.allowed.contains(&usage))
    }

    fn check_subject(&self, subject: &Subject, out: &mut Vec<Violation>) {
        for rule in &self.subject {
            let field = format!("attributes.{}", rule.attribute.field());
            let Some(value) = rule.attribute.value(subject) else {
                if rule.required {
                    out.push(Violation::new(field, "required by the template"));
                }
                continue;
            };
            if let Some(p) =
                rule.denied.iter().find(|p| pattern::subject_matches(rule.attribute, p, value))
            {
                out.push(Violation::new(field, format!("{value:?} is denied by pattern {p:?}")));
            } else if rule.allowed.is_empty() {
                out.push(Violation::new(field, "not allowed by the template; leave it out"));
            } else if !rule
                .allowed
                .iter()
                .any(|p| pattern::subject_matches(rule.attribute, p, value))
            {
                out.push(Violation::new(
                    field,
                    format!("{value:?} matches none of the allowed patterns {:?}", rule.allowed),
                ));
            }
        }
    }

    fn check_sans(&self, sans: &[SubjectAltName], out: &mut Vec<Violation>) {
        for (i, san) in sans.iter().enumerate() {
            let field = format!("attributes.altNames[{i}]");
            if let Err(err) = san.validate(&field) {
                out.push(Violation::new(field, message_of(err)));
                continue;
            }
            if self.sans.is_empty() {
                continue;
            }
            let (kind, value) = (san.kind, san.value.as_str());
            let Some(rule) = self.sans.iter().find(|r| r.kind == kind) else {
                let types: Vec<&str> = self.sans.iter().map(|r| r.kind.as_str()).collect();
                out.push(Violation::new(
                    field,
                    format!("{} SANs are not allowed; allowed types: {types:?}", kind.as_str()),
                ));
                continue;
            };
            if let Some(p) = rule.denied.iter().find(|p| pattern::san_matches(kind, p, value)) {
                out.push(Violation::new(field, format!("{san} is denied by pattern {p:?}")));
            } else if rule.allowed.is_empty() {
                let why = format!("{} SANs are not allowed by the template", kind.as_str());
                out.push(Violation::new(field, why));
            } else if !rule.allowed.iter().any(|p| pattern::san_matches(kind, p, value)) {
                out.push(Violation::new(
                    field,
                    format!("{san} matches none of the allowed patterns {:?}", rule.allowed),
                ));
            }
        }
        for rule in &self.sans {
            for p in &rule.required {
                if !sans
                    .iter()
                    .any(|s| s.kind == rule.kind && pattern::san_matches(s.kind, p, &s.value))
                {
                    out.push(Violation::new(
                        "attributes.altNames",
                        format!("a {} SAN matching {p:?} is required", rule.kind.as_str()),
                    ));
                }
            }
        }
    }
}

/// Check a slug: lowercase ASCII letters, digits and `-`, 1 to 64 characters.
pub(crate) fn check_slug(slug: &str) -> Result<(), String> {
    let ok = (1..=64).contains(&slug.len())
        && slug.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(format!("{slug:?} is not a slug; use 1 to 64 lowercase letters, digits and '-'"))
    }
}

/// One [`Error::InvalidInput`] naming the first field and listing every problem.
pub(crate) fn definition_result(violations: Vec<Violation>) -> Result<(), Error> {
    let Some(first) = violations.first() else {
        return Ok(());
    };
    let mut message = first.message.clone();
    for v in &violations[1..] {
        message.push_str(&format!("; also {v}"));
    }
    Err(Error::invalid(first.field.clone(), message))
}

/// A lifetime for messages: whole days as `90d` (the model's `Display` would say `3M`).
fn in_days(ttl: Ttl) -> String {
    if ttl.seconds().is_multiple_of(86_400) {
        format!("{}d", ttl.seconds() / 86_400)
    } else {
        ttl.to_string()
    }
}

fn is_dotted_oid(oid: &str) -> bool {
    let arcs: Vec<&str> = oid.split('.').collect();
    arcs.len() >= 2 && arcs.iter().all(|a| !a.is_empty() && a.bytes().all(|b| b.is_ascii_digit()))
}

fn message_of(err: Error) -> String {
    match err {
        Error::InvalidInput { message, .. } => message,
        other => other.to_string(),
    }
}

fn check_usages<T: PartialEq>(
    rule: &UsageRule<T>,
    asked: &[T],
    field: &str,
    name: impl Fn(&T) -> &str,
    out: &mut Vec<Violation>,
) {
    for missing in rule.required.iter().filter(|u| !asked.contains(u)) {
        out.push(Violation::new(field, format!("{} is required by the template", name(missing))));
    }
    for extra in asked.iter().filter(|u| !rule.required.contains(u) && !rule.allowed.contains(u)) {
        out.push(Violation::new(field, format!("{} is not allowed by the template", name(extra))));
    }
}

fn check_algorithms(rule: &AlgorithmRule, req: &PolicyRequest, out: &mut Vec<Violation>) {
    let field = "attributes.keyAlgorithm";
    let below_min =
        rule.min_rsa_bits.filter(|min| req.key_family == KeyFamily::Rsa && req.key_bits < *min);
    if let Some(min) = below_min {
        out.push(Violation::new(
            field,
            format!("RSA key of {} bits is weaker than the minimum {min} bits", req.key_bits),
        ));
    } else if !rule.key_algorithm.is_empty() {
        let named = KeyAlgorithm::ALL
            .into_iter()
            .find(|a| a.family() == req.key_family && a.bits() == req.key_bits);
        if !named.is_some_and(|a| rule.key_algorithm.contains(&a)) {
            let allowed: Vec<&str> = rule.key_algorithm.iter().map(|a| a.as_str()).collect();
            out.push(Violation::new(
                field,
                format!(
                    "{:?} key of {} bits is not allowed; use one of {allowed:?}",
                    req.key_family, req.key_bits
                ),
            ));
        }
    }
    if !rule.signature.is_empty() && !rule.signature.contains(&req.signature_algorithm) {
        let allowed: Vec<&str> = rule.signature.iter().map(|a| a.as_str()).collect();
        out.push(Violation::new(
            "attributes.signatureAlgorithm",
            format!("{} is not allowed; use one of {allowed:?}", req.signature_algorithm),
        ));
    }
}

//! The embedded CA: a root, intermediates signed by it, leaves from an intermediate, CRLs.

use std::net::IpAddr;

use async_trait::async_trait;
use ipnet::IpNet;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyUsagePurpose};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::params::{self, LeafParams};
use super::{CaConnector, Capabilities, CertificateOrder, Issued, Revoker, lint};
use crate::crypto::{self, CertificateInfo, PrivateKey};
use crate::error::{Error, Result};
use crate::model::{
    CertificateRecord, KeyAlgorithm, RevocationReason, SanType, Subject, SubjectAltName, Ttl,
};

/// How to create a CA (the JSON body of `certloop ca create --file`).
///
/// ```json
/// { "name": "corp-issuing", "subject": {"commonName": "Corp Issuing CA 1", "organization": "Corp"},
///   "keyAlgorithm": "EC_prime256v1", "ttl": "5y", "parent": "corp-root", "pathLength": 0,
///   "nameConstraints": {"permittedDns": ["corp.example"]},
///   "crlDistributionPoints": ["http://pki.corp.example/issuing.crl"],
///   "caIssuers": ["http://pki.corp.example/issuing.crt"] }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CaSpec {
    /// Unique short name (`[a-z0-9-]`), used to refer to the CA.
    pub name: String,
    /// The CA's subject; a common name is required.
    pub subject: Subject,
    /// Key type; ECDSA P-256 by default.
    #[serde(default)]
    pub key_algorithm: KeyAlgorithm,
    /// Lifetime; 10 years for a root, 5 for an intermediate by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<Ttl>,
    /// Id or name of the signing CA; absent for a root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// Maximum number of CAs below this one (basicConstraints pathLenConstraint).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_length: Option<u8>,
    /// Names this CA (and those below it) may certify.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_constraints: Option<NameConstraintsSpec>,
    /// CRL URLs written into every certificate this CA issues.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub crl_distribution_points: Vec<String>,
    /// URLs of this CA's certificate, written (AIA caIssuers) into what it issues.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ca_issuers: Vec<String>,
}

/// Name constraints (RFC 5280 §4.2.1.10) for a CA.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NameConstraintsSpec {
    /// DNS subtrees allowed (`corp.example` covers it and every name below it).
    #[serde(default)]
    pub permitted_dns: Vec<String>,
    /// DNS subtrees forbidden.
    #[serde(default)]
    pub excluded_dns: Vec<String>,
    /// IP ranges allowed.
    #[serde(default)]
    pub permitted_ip: Vec<IpNet>,
    /// IP ranges forbidden.
    #[serde(default)]
    pub excluded_ip: Vec<IpNet>,
}

impl NameConstraintsSpec {
    fn to_rcgen(&self) -> rcgen::NameConstraints {
        fn subtrees(dns: &[String], ips: &[IpNet]) -> Vec<rcgen::GeneralSubtree> {
            let dns = dns.iter().cloned().map(rcgen::GeneralSubtree::DnsName);
            let ips = ips.iter().map(|net| {
                rcgen::GeneralSubtree::IpAddress(rcgen::CidrSubnet::from_addr_prefix(
                    net.addr(),
                    net.prefix_len(),
                ))
            });
            dns.chain(ips).collect()
        }
        rcgen::NameConstraints {
            permitted_subtrees: subtrees(&self.permitted_dns, &self.permitted_ip),
            excluded_subtrees: subtrees(&self.excluded_dns, &self.excluded_ip),
        }
    }

    /// Whether `san` is inside these constraints; names of a type with no permitted subtree
    /// are allowed unless excluded (RFC 5280 semantics).
    fn allows(&self, san: &SubjectAltName) -> bool {
        fn under(name: &str, base: &str) -> bool {
            let name = name.trim_start_matches("*.").to_ascii_lowercase();
            let base = base.trim_start_matches('.').to_ascii_lowercase();
            name == base || name.ends_with(&format!(".{base}"))
        }
        match san.kind {
            SanType::Dns => {
                (self.permitted_dns.is_empty()
                    || self.permitted_dns.iter().any(|b| under(&san.value, b)))
                    && !self.excluded_dns.iter().any(|b| under(&san.value, b))
            }
            SanType::Ip => match san.value.parse::<IpAddr>() {
                Ok(ip) => {
                    (self.permitted_ip.is_empty()
                        || self.permitted_ip.iter().any(|n| n.contains(&ip)))
                        && !self.excluded_ip.iter().any(|n| n.contains(&ip))
                }
                Err(_) => false,
            },
            SanType::Email | SanType::Uri => true,
        }
    }
}

/// One entry of a CRL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrlEntry {
    /// Serial number, hex.
    pub serial_number: String,
    /// When it was revoked.
    pub revoked_at: OffsetDateTime,
    /// Why; `certificateHold` for a suspension.
    pub reason: Option<RevocationReason>,
}

/// A signed certificate revocation list (RFC 5280 §5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Crl {
    /// DER encoding.
    pub der: Vec<u8>,
    /// PEM encoding (`X509 CRL`).
    pub pem: String,
    /// The cRLNumber.
    pub number: u64,
}

/// A CA whose key certloop holds: a root, or an intermediate under another `InternalCa`.
pub struct InternalCa {
    id: String,
    issuer_key: String,
    spec: CaSpec,
    certificate_pem: String,
    /// This CA's certificate first, then its issuers' up to the root.
    chain_der: Vec<Vec<u8>>,
    not_after: OffsetDateTime,
    issuer: Issuer<'static, PrivateKey>,
}

impl InternalCa {
    /// Key usages of every CA certificate certloop makes.
    const KEY_USAGES: [KeyUsagePurpose; 3] =
        [KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];

    /// Create a new CA with `key`: self-signed when `parent` is `None`, else signed by `parent`.
    pub fn create(
        id: String,
        spec: CaSpec,
        key: PrivateKey,
        parent: Option<&InternalCa>,
        now: OffsetDateTime,
    ) -> Result<Self> {
        validate_spec(&spec)?;
        let default_ttl = if parent.is_some() { 5 * 365 } else { 10 * 365 };
        let ttl = spec.ttl.unwrap_or(Ttl::from_days(default_ttl));
        let mut not_after = now + ttl.duration();
        let mut params = Self::issuer_params(&spec)?;
        params.serial_number = Some(params::random_serial()?);
        params.not_before = now;
        params.is_ca = IsCa::Ca(match spec.path_length {
            Some(n) => BasicConstraints::Constrained(n),
            None => BasicConstraints::Unconstrained,
        });
        params.name_constraints = spec.name_constraints.as_ref().map(|nc| nc.to_rcgen());
        let (certificate, chain_tail) = match parent {
            None => {
                params.not_after = not_after;
                (params.self_signed(&key).map_err(Error::crypto)?, Vec::new())
            }
            Some(parent) => {
                if parent.spec.path_length == Some(0) {
                    return Err(Error::invalid(
                        "parent",
                        format!("CA {} has pathLength 0 and cannot sign another CA", parent.name()),
                    ));
                }
                not_after = not_after.min(parent.not_after);
                params.not_after = not_after;
                params.use_authority_key_identifier_extension = true;
                parent.add_issuer_extensions(&mut params)?;
                let cert = params.signed_by(&key, &parent.issuer).map_err(Error::crypto)?;
                (cert, parent.chain_der.clone())
            }
        };
        let mut chain_der = vec![certificate.der().to_vec()];
        chain_der.extend(chain_tail);
        Self::assemble(id, spec, certificate.pem(), chain_der, key)
    }

    /// Rebuild a CA from what the store kept: its spec, certificate, key and parent chain.
    pub fn from_parts(
        id: String,
        spec: CaSpec,
        certificate_pem: &str,
        key: PrivateKey,
        parent_chain_der: Vec<Vec<u8>>,
    ) -> Result<Self> {
        let info = crypto::inspect_certificate(certificate_pem.as_bytes())?;
        if info.public_key()?.spki_der() != key.public_key().spki_der() {
            return Err(Error::crypto(format!(
                "the key of CA {} does not match its certificate",
                spec.name
            )));
        }
        let mut chain_der = vec![info.der.clone()];
        chain_der.extend(parent_chain_der);
        Self::assemble(id, spec, certificate_pem.to_owned(), chain_der, key)
    }

    fn assemble(
        id: String,
        spec: CaSpec,
        certificate_pem: String,
        chain_der: Vec<Vec<u8>>,
        key: PrivateKey,
    ) -> Result<Self> {
        let info = crypto::inspect_certificate(certificate_pem.as_bytes())?;
        let issuer = Issuer::new(Self::issuer_params(&spec)?, key);
        Ok(Self {
            issuer_key: format!("internal:{id}"),
            id,
            spec,
            certificate_pem,
            chain_der,
            not_after: info.not_after,
            issuer,
        })
    }

    /// The parameters rcgen needs to act as this CA: its name, usages and key-id method. They
    /// are rebuilt from the spec, and encode to the same bytes as the certificate's subject.
    fn issuer_params(spec: &CaSpec) -> Result<CertificateParams> {
        let mut params = CertificateParams::default();
        params.distinguished_name = params::distinguished_name(&spec.subject)?;
        params.key_usages = Self::KEY_USAGES.to_vec();
        Ok(params)
    }

    /// The store id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The short name.
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// How it was made.
    pub fn spec(&self) -> &CaSpec {
        &self.spec
    }

    /// Its private key (for sealing into the store; never print it).
    pub fn key(&self) -> &PrivateKey {
        self.issuer.key()
    }

    /// Its certificate, PEM.
    pub fn certificate_pem(&self) -> &str {
        &self.certificate_pem
    }

    /// This CA's certificate first, then its issuers' up to and including the root, DER.
    pub fn chain_der(&self) -> &[Vec<u8>] {
        &self.chain_der
    }

    /// The chain as concatenated PEM.
    pub fn chain_pem(&self) -> String {
        self.chain_der.iter().map(|der| crypto::pem_encode("CERTIFICATE", der)).collect()
    }

    /// End of this CA's validity; nothing it issues outlives it.
    pub fn not_after(&self) -> OffsetDateTime {
        self.not_after
    }

    /// Write CRL distribution points and AIA of this CA into `params` of a certificate it signs.
    fn add_issuer_extensions(&self, params: &mut CertificateParams) -> Result<()> {
        if !self.spec.crl_distribution_points.is_empty() {
            params.crl_distribution_points = vec![rcgen::CrlDistributionPoint {
                uris: self.spec.crl_distribution_points.clone(),
            }];
        }
        if !self.spec.ca_issuers.is_empty() {
            params.custom_extensions.push(params::authority_info_access(&self.spec.ca_issuers)?);
        }
        Ok(())
    }

    /// Sign a leaf for `order` (synchronously; the connector trait wraps this).
    pub fn issue_leaf(&self, order: &CertificateOrder) -> Result<Issued> {
        self.issue_leaf_inspected(order).map(|(issued, _)| issued)
    }

    /// [`InternalCa::issue_leaf`], with what the lint pass read from the signed leaf (the
    /// façade builds the inventory record from it instead of parsing the leaf again).
    pub(crate) fn issue_leaf_inspected(
        &self,
        order: &CertificateOrder,
    ) -> Result<(Issued, CertificateInfo)> {
        let not_after = order.not_after.min(self.not_after);
        if not_after <= order.not_before {
            return Err(Error::ca(format!(
                "CA {} expires at {} and cannot issue anything valid after {}",
                self.name(),
                self.not_after,
                order.not_before
            )));
        }
        let outside =
            self.spec.name_constraints.as_ref().and_then(|constraints| {
                order.alt_names.iter().find(|san| !constraints.allows(san))
            });
        if let Some(san) = outside {
            return Err(Error::PolicyViolation {
                violations: vec![crate::Violation::new(
                    "attributes.altNames",
                    format!("{san} is outside the name constraints of CA {}", self.name()),
                )],
            });
        }
        let mut params = LeafParams {
            subject: &order.subject,
            alt_names: &order.alt_names,
            key_usages: &order.key_usages,
            extended_key_usages: &order.extended_key_usages,
            not_before: order.not_before,
            not_after,
        }
        .to_rcgen()?;
        params.use_authority_key_identifier_extension = true;
        self.add_issuer_extensions(&mut params)?;
        if !order.policy_oids.is_empty() {
            params.custom_extensions.push(params::certificate_policies(&order.policy_oids)?);
        }
        let certificate = match order.signature_algorithm {
            Some(sig) if sig != self.key().signature_algorithm() => {
                let key = self.key().with_signature(sig).map_err(|_| {
                    Error::invalid(
                        "attributes.signatureAlgorithm",
                        format!(
                            "CA {} has a {} key and cannot sign with {sig}",
                            self.name(),
                            self.key().algorithm()
                        ),
                    )
                })?;
                let issuer = Issuer::new(Self::issuer_params(&self.spec)?, key);
                params.signed_by(&order.public_key, &issuer)
            }
            _ => params.signed_by(&order.public_key, &self.issuer),
        }
        .map_err(Error::crypto)?;
        let certificate_der = certificate.der().to_vec();
        let info = lint::check(&certificate_der, order.lint, order.not_before)?;
        Ok((Issued { certificate_der, chain_der: self.chain_der.clone() }, info))
    }

    /// Sign a CRL listing `entries`, numbered `number`, valid from `this_update` to
    /// `next_update` (RFC 5280 §5.1).
    pub fn sign_crl(
        &self,
        entries: &[CrlEntry],
        number: u64,
        this_update: OffsetDateTime,
        next_update: OffsetDateTime,
    ) -> Result<Crl> {
        let revoked_certs = entries
            .iter()
            .map(|entry| {
                let serial = serial_bytes(&entry.serial_number).ok_or_else(|| {
                    Error::invalid("serialNumber", format!("{:?} is not hex", entry.serial_number))
                })?;
                Ok(rcgen::RevokedCertParams {
                    serial_number: rcgen::SerialNumber::from_slice(&serial),
                    revocation_time: entry.revoked_at,
                    reason_code: entry.reason.map(crl_reason),
                    invalidity_date: None,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let params = rcgen::CertificateRevocationListParams {
            this_update,
            next_update,
            crl_number: rcgen::SerialNumber::from_slice(&number.to_be_bytes()),
            issuing_distribution_point: None,
            revoked_certs,
            key_identifier_method: rcgen::KeyIdMethod::Sha256,
        };
        let crl = params.signed_by(&self.issuer).map_err(Error::crypto)?;
        let der = crl.der().to_vec();
        Ok(Crl { pem: crypto::pem_encode("X509 CRL", &der), der, number })
    }
}

impl std::fmt::Debug for InternalCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InternalCa")
            .field("id", &self.id)
            .field("name", &self.spec.name)
            .field("not_after", &self.not_after)
            .field("key", &"[redacted]")
            .finish()
    }
}

#[async_trait]
impl CaConnector for InternalCa {
    fn issuer_key(&self) -> &str {
        &self.issuer_key
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities { requires_csr: false, can_revoke: true, can_suspend: true }
    }

    async fn issue(&self, order: &CertificateOrder) -> Result<Issued> {
        self.issue_leaf(order)
    }
}

#[async_trait]
impl Revoker for InternalCa {
    /// The revocation itself is the inventory's state change, published by the next CRL; the
    /// CA checks that the certificate is its own, so a CRL never lists a stranger's serial.
    async fn revoke(
        &self,
        record: &CertificateRecord,
        _reason: RevocationReason,
        _at: OffsetDateTime,
    ) -> Result<()> {
        self.check_issued_here(record)
    }

    async fn unsuspend(&self, record: &CertificateRecord) -> Result<()> {
        self.check_issued_here(record)
    }
}

impl InternalCa {
    fn check_issued_here(&self, record: &CertificateRecord) -> Result<()> {
        let leaf = crypto::inspect_certificate(record.certificate.as_bytes())?;
        let own = crypto::inspect_certificate(self.certificate_pem.as_bytes())?;
        if leaf.authority_key_id.is_some() && leaf.authority_key_id == own.subject_key_id {
            Ok(())
        } else {
            Err(Error::invalid(
                "certificateId",
                format!(
                    "certificate {} was not issued by CA {}",
                    record.certificate_id,
                    self.name()
                ),
            ))
        }
    }
}

fn validate_spec(spec: &CaSpec) -> Result<()> {
    let slug_ok = !spec.name.is_empty()
        && spec.name.len() <= 64
        && spec.name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !slug_ok {
        return Err(Error::invalid(
            "name",
            format!("{:?} must be 1-64 characters of a-z, 0-9 and '-'", spec.name),
        ));
    }
    if spec.subject.common_name.as_deref().is_none_or(str::is_empty) {
        return Err(Error::invalid("subject.commonName", "a CA needs a common name"));
    }
    for (field, urls) in
        [("crlDistributionPoints", &spec.crl_distribution_points), ("caIssuers", &spec.ca_issuers)]
    {
        for url in urls {
            if !(url.starts_with("http://")
                || url.starts_with("https://")
                || url.starts_with("ldap://"))
                || !url.is_ascii()
            {
                return Err(Error::invalid(
                    field,
                    format!("{url:?} is not an http(s) or ldap URL"),
                ));
            }
        }
    }
    Ok(())
}

fn crl_reason(reason: RevocationReason) -> rcgen::RevocationReason {
    use rcgen::RevocationReason as R;
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

/// A stored serial number's bytes; an odd digit count is read with a leading zero.
fn serial_bytes(hex: &str) -> Option<Vec<u8>> {
    let hex = hex.trim();
    if hex.len() % 2 == 1 {
        crate::crypto::x509::hex_decode(&format!("0{hex}"))
    } else {
        crate::crypto::x509::hex_decode(hex)
    }
}

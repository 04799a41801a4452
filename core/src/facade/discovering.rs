//! Discovery into the inventory: a scan's findings become `discovered` certificate records
//! (one per fingerprint), and each place a certificate was found is kept beside it.

use super::*;
use crate::discovery::{Finding, Location, ScanProblem, ScanReport};
use crate::store::{ManagedQuery, WriteSet};

/// Where the inventory last saw a certificate: one document per place.
const DISCOVERED_LOCATION: DocumentKind =
    DocumentKind { kind: "discoveredLocation", what: "discovered location" };

/// A place where a scan found a certificate, as the inventory keeps it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DiscoveredLocation {
    /// Store id (derived from the place, so the same place is one document).
    pub id: String,
    /// The place.
    pub location: Location,
    /// The inventory certificate found there.
    pub certificate_id: String,
    /// Its fingerprint when it was last seen there.
    pub fingerprint_sha256: String,
    /// When a scan first found a certificate there.
    #[serde(with = "time::serde::rfc3339")]
    pub first_seen: OffsetDateTime,
    /// When a scan last found it there.
    #[serde(with = "time::serde::rfc3339")]
    pub last_seen: OffsetDateTime,
    /// The deployment target suggested for it, when a host scan made one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suggested_target: Option<crate::deploy::DeployTarget>,
}

/// One finding as recorded.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DiscoveredItem {
    /// The inventory certificate (new or already known).
    pub certificate_id: String,
    /// Its state in the inventory (`discovered` unless certloop already knew it).
    pub state: CertificateState,
    /// Subject CN.
    pub common_name: String,
    /// Its notAfter.
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    /// SHA-256 fingerprint.
    pub fingerprint_sha256: String,
    /// Where it was found.
    pub location: Location,
    /// Whether this scan added the certificate to the inventory.
    pub new_certificate: bool,
    /// Whether this place is new for this certificate.
    pub new_location: bool,
    /// The deployment target suggested for it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suggested_target: Option<crate::deploy::DeployTarget>,
}

/// What [`Certloop::record_discovery`] did.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DiscoveryOutcome {
    /// Every finding, in scan order.
    pub items: Vec<DiscoveredItem>,
    /// Certificates added to the inventory.
    pub new_certificates: u64,
    /// Places recorded for the first time (or that now hold another certificate).
    pub new_locations: u64,
    /// Files, endpoints or processes examined.
    pub examined: u64,
    /// What the scan could not read.
    pub problems: Vec<ScanProblem>,
}

/// How a place differs from what the inventory says it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DriftKind {
    /// Another certificate is there (a file replaced by hand, a server serving another one).
    Changed,
    /// No certificate is there any more (the file is gone or holds none, the port is silent).
    Gone,
}

/// One place that is not as the inventory expects.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Drift {
    /// The certificate the inventory expects there.
    pub certificate_id: String,
    /// The place.
    pub location: Location,
    /// How it differs.
    pub kind: DriftKind,
    /// The fingerprint expected.
    pub expected_sha256: String,
    /// The fingerprint found, when a certificate was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub found_sha256: Option<String>,
    /// What was seen, for people.
    pub detail: String,
}

/// What [`Certloop::rediscover`] found.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RediscoveryReport {
    /// Places checked.
    pub checked: u64,
    /// Places that hold what the inventory expects.
    pub unchanged: u64,
    /// The others, each also an audit event.
    pub drifts: Vec<Drift>,
}

/// A place rediscovery checks and what it should hold.
struct Expectation {
    location: Location,
    certificate_id: String,
    fingerprint: String,
    passwords: Vec<crypto::SecretString>,
}

impl Certloop {
    // ---- discovery --------------------------------------------------------------------------

    /// Put a scan's findings in the inventory. A certificate the inventory does not know (by
    /// SHA-256 fingerprint) becomes a `discovered` record with its chain, one audit event
    /// naming where it was found; a known one (issued by certloop or found before) is not
    /// duplicated. Each place is kept as a [`DiscoveredLocation`]; a place that now holds
    /// another certificate is updated and audited. Running the same scan twice adds nothing.
    ///
    /// The certificates and their events are written in one transaction, then the places;
    /// if writing a place fails, the next scan writes it.
    pub async fn record_discovery(&self, report: &ScanReport) -> Result<DiscoveryOutcome> {
        let now = self.now();
        let mut outcome = DiscoveryOutcome {
            examined: report.examined,
            problems: report.problems.clone(),
            ..DiscoveryOutcome::default()
        };
        let mut set = WriteSet::default();
        // Fingerprint → (certificate id, state, new in this scan).
        let mut known: HashMap<String, (String, CertificateState)> = HashMap::new();
        let mut places: Vec<DiscoveredLocation> = Vec::new();
        for finding in &report.findings {
            let fingerprint = finding.fingerprint().to_owned();
            let mut new_certificate = false;
            if !known.contains_key(&fingerprint) {
                let query = CertificateQuery {
                    fingerprint_sha256: Some(fingerprint.clone()),
                    states: Vec::new(),
                    limit: Some(1),
                    ..CertificateQuery::default()
                };
                let found = self.inner.store.search_certificates(&query).await?;
                let entry = match found.into_iter().next() {
                    Some(record) => (record.certificate_id, record.state),
                    None => {
                        let new = self.discovered_certificate(finding, now)?;
                        let entry = (new.record.certificate_id.clone(), new.record.state);
                        set.new_certificates.push(new);
                        outcome.new_certificates += 1;
                        new_certificate = true;
                        entry
                    }
                };
                known.insert(fingerprint.clone(), entry);
            }
            let Some((certificate_id, state)) = known.get(&fingerprint).cloned() else {
                continue;
            };
            let id = location_id(&finding.location);
            let previous = match self.inner.store.get_document(DISCOVERED_LOCATION, &id).await {
                Ok(body) => serde_json::from_value::<DiscoveredLocation>(body).ok(),
                Err(Error::NotFound { .. }) => None,
                Err(e) => return Err(e),
            };
            let suggested_target = finding.suggested_target.as_ref().map(without_secrets);
            let same = previous.as_ref().is_some_and(|p| p.fingerprint_sha256 == fingerprint);
            if !same && !new_certificate {
                let detail = match &previous {
                    Some(p) => format!(
                        "found at {} (which held {} before)",
                        finding.location, p.fingerprint_sha256
                    ),
                    None => format!("found at {}", finding.location),
                };
                set.events.push(self.event(
                    AuditAction::Discovered,
                    Some(&certificate_id),
                    None,
                    AuditOutcome::Success,
                    detail,
                ));
            }
            if !same {
                outcome.new_locations += 1;
            }
            places.push(DiscoveredLocation {
                id,
                location: finding.location.clone(),
                certificate_id: certificate_id.clone(),
                fingerprint_sha256: fingerprint.clone(),
                first_seen: previous.filter(|_| same).map_or(now, |p| p.first_seen),
                last_seen: now,
                suggested_target: suggested_target.clone(),
            });
            outcome.items.push(DiscoveredItem {
                certificate_id,
                state,
                common_name: finding.info.subject.common_name.clone().unwrap_or_default(),
                not_after: finding.info.not_after,
                fingerprint_sha256: fingerprint,
                location: finding.location.clone(),
                new_certificate,
                new_location: !same,
                suggested_target,
            });
        }
        if !set.is_empty() {
            self.inner.store.write(&set).await?;
        }
        for place in &places {
            let body = serde_json::to_value(place).map_err(|e| Error::store(e.to_string()))?;
            self.inner.store.put_document(DISCOVERED_LOCATION, &place.id, &place.id, &body).await?;
        }
        Ok(outcome)
    }

    /// Every place a scan found a certificate, as last seen.
    pub async fn discovered_locations(&self) -> Result<Vec<DiscoveredLocation>> {
        let bodies = self.inner.store.list_documents(DISCOVERED_LOCATION).await?;
        bodies
            .into_iter()
            .map(|body| {
                serde_json::from_value(body)
                    .map_err(|e| Error::store(format!("a stored discovered location: {e}")))
            })
            .collect()
    }

    /// Rediscovery: look again at every place the inventory knows (where scans found
    /// certificates, and the files and endpoints of the targets deployed certificates went
    /// to) and compare what is there with what the inventory expects. Each difference is a
    /// [`Drift`] and a `driftDetected` audit event on the expected certificate. A deployed
    /// target's expectation (the certificate in service) wins over an older scan's.
    /// `certloop agent --rediscover-every` runs it on a schedule.
    pub async fn rediscover(&self) -> Result<RediscoveryReport> {
        let mut expectations: Vec<Expectation> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut expect = |e: Expectation| match index.get(&e.location.key()) {
            Some(&i) => expectations[i] = e,
            None => {
                index.insert(e.location.key(), expectations.len());
                expectations.push(e);
            }
        };
        for place in self.discovered_locations().await? {
            expect(Expectation {
                location: place.location,
                certificate_id: place.certificate_id,
                fingerprint: place.fingerprint_sha256,
                passwords: Vec::new(),
            });
        }
        let deployed =
            ManagedQuery { states: vec![CertificateState::Deployed], ..ManagedQuery::default() };
        for managed in self.inner.store.list_managed(&deployed).await? {
            let Some(certificate_id) = managed.certificate_id.clone() else { continue };
            let record = self.show(&certificate_id).await?;
            for name in &managed.config.targets {
                let target = match self.unsealed_target(name).await {
                    Ok(target) => target,
                    Err(Error::NotFound { .. }) => continue,
                    Err(e) => return Err(e),
                };
                for location in target_places(&target) {
                    let passwords = target.keystore_password.iter().cloned().collect();
                    expect(Expectation {
                        location,
                        certificate_id: certificate_id.clone(),
                        fingerprint: record.fingerprint_sha256.clone(),
                        passwords,
                    });
                }
            }
        }
        let mut report = RediscoveryReport::default();
        let mut events = Vec::new();
        for expectation in expectations {
            report.checked += 1;
            let seen = look_again(&expectation).await;
            let drift = match seen {
                Ok(found) if found == expectation.fingerprint => {
                    report.unchanged += 1;
                    continue;
                }
                Ok(found) => Drift {
                    detail: format!(
                        "{} holds {found}, not {} as the inventory says",
                        expectation.location, expectation.fingerprint
                    ),
                    kind: DriftKind::Changed,
                    found_sha256: Some(found),
                    certificate_id: expectation.certificate_id,
                    location: expectation.location,
                    expected_sha256: expectation.fingerprint,
                },
                Err(why) => Drift {
                    detail: format!(
                        "{} holds no certificate any more: {why}",
                        expectation.location
                    ),
                    kind: DriftKind::Gone,
                    found_sha256: None,
                    certificate_id: expectation.certificate_id,
                    location: expectation.location,
                    expected_sha256: expectation.fingerprint,
                },
            };
            events.push(self.event(
                AuditAction::DriftDetected,
                Some(&drift.certificate_id),
                None,
                AuditOutcome::Failure,
                drift.detail.clone(),
            ));
            report.drifts.push(drift);
        }
        if !events.is_empty() {
            self.inner.store.write(&WriteSet { events, ..WriteSet::default() }).await?;
        }
        Ok(report)
    }

    /// The inventory row of a certificate a scan found: `discovered`, no profile, no key; its
    /// request row records the scan (no CSR).
    fn discovered_certificate(
        &self,
        finding: &Finding,
        now: OffsetDateTime,
    ) -> Result<NewCertificate> {
        let info = &finding.info;
        let certificate_id = super::record_id();
        let request_id = super::record_id();
        let chain = if finding.chain.is_empty() {
            crypto::pem_encode("CERTIFICATE", &info.der)
        } else {
            finding.chain.iter().map(|der| crypto::pem_encode("CERTIFICATE", der)).collect()
        };
        let record = CertificateRecord {
            certificate_id: certificate_id.clone(),
            serial_number: info.serial_number.clone(),
            common_name: info.subject.common_name.clone().unwrap_or_default(),
            subject: info.subject_dn.clone(),
            issuer: info.issuer_dn.clone(),
            alt_names: info.alt_names.clone(),
            not_before: info.not_before,
            not_after: info.not_after,
            fingerprint_sha256: info.fingerprint_sha256.clone(),
            key_algorithm: info.key_algorithm,
            state: CertificateState::Discovered,
            profile_id: None,
            ca_id: None,
            certificate: crypto::pem_encode("CERTIFICATE", &info.der),
            certificate_chain: chain,
            certificate_request_id: Some(request_id.clone()),
            renewed_from: None,
            renewed_by: None,
            revoked_at: None,
            revocation_reason: None,
            auto_renew: false,
            renew_before_days: None,
            key_managed: false,
            created_at: now,
            updated_at: now,
        };
        let event = self.event(
            AuditAction::Discovered,
            Some(&certificate_id),
            None,
            AuditOutcome::Success,
            format!("serial {} found at {}", info.serial_number, finding.location),
        );
        let request = CertificateRequestRow {
            id: request_id,
            profile_id: None,
            csr_pem: None,
            request_json: serde_json::json!({ "discoveredAt": finding.location }),
            created_at: now,
        };
        Ok(NewCertificate { record, sealed_key: None, request, event })
    }
}

/// The places a deployment target puts a certificate: its certificate file or keystore, and
/// the endpoint it answers on.
fn target_places(target: &crate::deploy::DeployTarget) -> Vec<Location> {
    use crate::deploy::{JavaKeystoreType, ServerType};
    use crate::discovery::FileFormat;
    let mut places = Vec::new();
    if target.server_type == ServerType::Sftp {
        return places; // Remote files: the endpoint below is what can be checked from here.
    }
    if let Some(path) = &target.cert_path {
        places.push(Location::File { path: path.clone(), format: FileFormat::Pem, alias: None });
    }
    if let Some(path) = &target.keystore_path {
        let format = match target.keystore_type.unwrap_or_default() {
            JavaKeystoreType::Pkcs12 => FileFormat::Pkcs12,
            JavaKeystoreType::Jks => FileFormat::Jks,
        };
        places.push(Location::File { path: path.clone(), format, alias: target.alias.clone() });
    }
    if let Some((host, port)) = target.endpoint.as_deref().and_then(|e| e.rsplit_once(':'))
        && let Ok(port) = port.parse()
    {
        let host = host.trim_start_matches('[').trim_end_matches(']').to_owned();
        places.push(Location::Endpoint { host, port, server_name: target.server_name.clone() });
    }
    places
}

/// The fingerprint of the certificate at a place now (the entry's, for a keystore entry;
/// the leaf's, for a file or an endpoint), or why there is none.
async fn look_again(expectation: &Expectation) -> std::result::Result<String, String> {
    let location = expectation.location.clone();
    let passwords = expectation.passwords.clone();
    let found = tokio::task::spawn_blocking(move || match &location {
        Location::File { path, .. } | Location::Server { certificate_path: path, .. } => {
            let alias = match &location {
                Location::File { alias, .. } => alias.as_ref(),
                _ => None,
            };
            let options = crate::discovery::files::FileScanOptions {
                passwords,
                include_ca: true,
                ..Default::default()
            };
            let findings = crate::discovery::files::read_certificate_file(path, &options)?;
            let wanted = findings.iter().find(|f| match (&f.location, alias) {
                (Location::File { alias: found, .. }, Some(alias)) => found.as_ref() == Some(alias),
                _ => true,
            });
            wanted
                .map(|f| f.fingerprint().to_owned())
                .ok_or_else(|| "no certificate in it".to_owned())
        }
        Location::Endpoint { host, port, server_name } => {
            let endpoint = if host.contains(':') {
                format!("[{host}]:{port}")
            } else {
                format!("{host}:{port}")
            };
            let served = crate::deploy::fetch_served_chain(
                &endpoint,
                server_name.as_deref(),
                std::time::Duration::from_secs(10),
            )
            .map_err(|e| e.to_string())?;
            served
                .certificates
                .first()
                .map(|leaf| crypto::fingerprint_sha256(leaf))
                .ok_or_else(|| "the server sent no certificate".to_owned())
        }
    })
    .await;
    found.unwrap_or_else(|e| Err(format!("the check stopped: {e}")))
}

/// A suggested target as stored and shown: passwords a configuration held are left out
/// (the user gives them when accepting the suggestion).
fn without_secrets(target: &crate::deploy::DeployTarget) -> crate::deploy::DeployTarget {
    let mut target = target.clone();
    target.keystore_password = None;
    target.key_password = None;
    target
}

/// The document id of a place: a hash of its key, so any path fits the id column.
fn location_id(location: &Location) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, location.key().as_bytes());
    crypto::x509::hex(&digest.as_ref()[..16])
}

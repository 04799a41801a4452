//! Fixtures shared by the criterion benches (`benches/benches/*.rs`) and the peer comparison
//! program (`certloop-issue-leaves`, driven by `benches/compare/compare.py`).
//!
//! Everything here goes through certloop's public API, the way an embedding program would:
//! the in-process issuer is an [`InternalCa`] intermediate under a root, both P-256, and each
//! leaf takes the issuance engine's one path ([`issuance::approve`]: fresh key, template
//! check) and then the [`CaConnector`] (sign, lint before release).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use certloop::ca::{CaConnector, CaSpec, InternalCa, Issued};
use certloop::clock::FixedClock;
use certloop::crypto::PrivateKey;
use certloop::lifecycle::issuance::{self, ApprovedOrder};
use certloop::model::{
    AuditAction, AuditEvent, AuditOutcome, CertificateAttributes, CertificateState, IssueRequest,
    KeyAlgorithm, Subject,
};
use certloop::policy::{CertificateProfile, CertificateTemplate, TemplatePreset};
use certloop::store::{CertificateRequestRow, NewCertificate, SqliteStore, Store};
use certloop::{Certloop, Error, Result};
use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use time::{Duration, OffsetDateTime};

/// Criterion measurement of the benchmark thread's CPU time, in nanoseconds.
///
/// The machine these figures come from is shared (other developers compile on its 2 cores), so
/// wall time mostly measures the queue for a core. The thread's time on the CPU does not: each
/// bench runs on one thread (a current-thread runtime, SQLite inline), so this is the work done.
/// Read with `clock_gettime(CLOCK_THREAD_CPUTIME_ID)` (nanosecond resolution; the
/// `/proc/thread-self/schedstat` counter only moves at scheduler ticks).
pub struct ThreadCpuTime {
    // Values are nanoseconds, like `WallTime`'s, so its formatter shows them.
    wall: WallTime,
}

impl Default for ThreadCpuTime {
    fn default() -> Self {
        Self { wall: WallTime }
    }
}

impl std::fmt::Debug for ThreadCpuTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ThreadCpuTime")
    }
}

impl Measurement for ThreadCpuTime {
    type Intermediate = u64;
    type Value = u64;

    fn start(&self) -> u64 {
        thread_cpu_nanos()
    }

    fn end(&self, start: u64) -> u64 {
        thread_cpu_nanos().saturating_sub(start)
    }

    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }

    fn zero(&self) -> u64 {
        0
    }

    fn to_f64(&self, value: &u64) -> f64 {
        *value as f64
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        self.wall.formatter()
    }
}

/// Nanoseconds this thread has run on a CPU (`clock_gettime(CLOCK_THREAD_CPUTIME_ID)`).
pub fn thread_cpu_nanos() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    u64::try_from(t.tv_sec).unwrap_or(0) * 1_000_000_000 + u64::try_from(t.tv_nsec).unwrap_or(0)
}

/// A P-256 root and a P-256 intermediate, with the default `tls-server` template and a profile
/// over it: what `Certloop::init_default` sets up, held in memory without a store.
#[derive(Debug)]
pub struct LeafIssuer {
    intermediate: Arc<InternalCa>,
    profile: CertificateProfile,
    template: CertificateTemplate,
}

impl LeafIssuer {
    /// Create the root and the intermediate (fresh P-256 keys).
    pub fn new() -> Result<Self> {
        let now = OffsetDateTime::now_utc();
        let root = InternalCa::create(
            "bench-root".to_owned(),
            ca_spec("bench-root", "certloop bench Root CA", None),
            PrivateKey::generate(KeyAlgorithm::EcP256)?,
            None,
            now,
        )?;
        let intermediate = InternalCa::create(
            "bench-issuing".to_owned(),
            ca_spec("bench-issuing", "certloop bench Issuing CA", Some("bench-root")),
            PrivateKey::generate(KeyAlgorithm::EcP256)?,
            Some(&root),
            now,
        )?;
        let template = CertificateTemplate::from_preset("tls-server", TemplatePreset::TlsServer);
        let profile = CertificateProfile::internal_ca("tls-server", "tls-server", "bench-issuing");
        Ok(Self { intermediate: Arc::new(intermediate), profile, template })
    }

    /// The intermediate, as a connector.
    pub fn connector(&self) -> &InternalCa {
        &self.intermediate
    }

    /// Run `request` through the issuance engine: the CSR's proof of possession (or a fresh
    /// key), the profile's defaults and the template's checks.
    pub fn approve(&self, request: &IssueRequest) -> Result<ApprovedOrder> {
        issuance::approve(
            request,
            &self.profile,
            &self.template,
            Some(self.intermediate.key().signature_algorithm()),
            OffsetDateTime::now_utc(),
        )
    }

    /// Issue one leaf for `common_name` (a DNS name): fresh P-256 key, policy, sign, lint.
    /// Returns the certificate and the key's PKCS#8 PEM, as a caller would receive them.
    pub async fn issue(&self, common_name: &str) -> Result<(Issued, String)> {
        let approved = self.approve(&leaf_request(common_name))?;
        let issued = self.intermediate.issue(&approved.order).await?;
        let key = approved
            .generated_key
            .ok_or_else(|| Error::invalid("csr", "the engine did not generate a key"))?;
        Ok((issued, key.to_pkcs8_pem().expose().to_owned()))
    }
}

/// The request every benchmark and peer issues: CN plus the same DNS SAN, 90 days, P-256.
pub fn leaf_request(common_name: &str) -> IssueRequest {
    IssueRequest {
        attributes: CertificateAttributes {
            subject: Subject::common_name(common_name),
            ttl: Some(certloop::model::Ttl::from_days(90)),
            key_algorithm: Some(KeyAlgorithm::EcP256),
            ..CertificateAttributes::default()
        },
        ..IssueRequest::default()
    }
}

fn ca_spec(name: &str, common_name: &str, parent: Option<&str>) -> CaSpec {
    CaSpec {
        name: name.to_owned(),
        subject: Subject::common_name(common_name),
        key_algorithm: KeyAlgorithm::EcP256,
        ttl: None,
        parent: parent.map(str::to_owned),
        path_length: parent.map(|_| 0),
        name_constraints: None,
        crl_distribution_points: Vec::new(),
        ca_issuers: Vec::new(),
    }
}

/// A current-thread tokio runtime, as the CLI and the C binding use.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("tokio runtime", e))
}

/// Where cached bench fixtures live: `$CARGO_TARGET_DIR/bench-data`, else the workspace's
/// `target/bench-data`.
pub fn bench_data_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("bench-data")
}

/// An inventory with `records` certificates, for expiry searches.
#[derive(Debug)]
pub struct Inventory {
    /// The handle, with its clock standing at [`Inventory::anchor`].
    pub certloop: Certloop,
    /// The instant the fixture's validity periods are laid out around.
    pub anchor: OffsetDateTime,
    /// How many certificates it holds.
    pub records: usize,
}

/// How many distinct real certificates the inventory fixture issues at most; the other records
/// are copies of them with their own id, serial number and validity.
const REAL_CERTIFICATES: usize = 1_000;

/// Days of the inventory's spread: notAfter is spread evenly over
/// `[anchor - 30d, anchor + 365d)`, so about 30/395 (7.6%) expire within 30 days (the real
/// certificates themselves expire 90 days after the anchor).
const SPREAD_PAST_DAYS: i64 = 30;
const SPREAD_FUTURE_DAYS: i64 = 365;

impl Inventory {
    /// Open the inventory of `records` certificates in `dir`, building it first when `dir`
    /// does not hold a complete one (a marker file is written last, so an interrupted build
    /// is started over, never used).
    pub async fn open_or_build(dir: &Path, records: usize) -> Result<Self> {
        let marker = dir.join("complete");
        let anchor = match std::fs::read_to_string(&marker) {
            Ok(text) => parse_marker(&text, records),
            Err(_) => None,
        };
        let anchor = match anchor {
            Some(anchor) => anchor,
            None => {
                if dir.exists() {
                    std::fs::remove_dir_all(dir).map_err(|e| Error::io(dir.display(), e))?;
                }
                let anchor = build_inventory(dir, records).await?;
                let text = format!("{records} {}\n", anchor.unix_timestamp());
                std::fs::write(&marker, text).map_err(|e| Error::io(marker.display(), e))?;
                anchor
            }
        };
        let certloop = Certloop::open(dir).await?.with_clock(Arc::new(FixedClock::new(anchor)));
        Ok(Self { certloop, anchor, records })
    }
}

fn parse_marker(text: &str, records: usize) -> Option<OffsetDateTime> {
    let mut parts = text.split_whitespace();
    let count: usize = parts.next()?.parse().ok()?;
    let anchor: i64 = parts.next()?.parse().ok()?;
    (count == records).then_some(())?;
    OffsetDateTime::from_unix_timestamp(anchor).ok()
}

/// Issue up to [`REAL_CERTIFICATES`] real certificates through the façade, then fill the store
/// up to `records` with copies of their records (new id, serial, validity, request row and
/// audit event each), 10,000 per transaction.
async fn build_inventory(dir: &Path, records: usize) -> Result<OffsetDateTime> {
    let anchor = OffsetDateTime::now_utc().replace_nanosecond(0).map_err(Error::crypto)?;
    // One real certificate per ten records at most, so that small (test-mode) stores are quick.
    let real = (records / 10).clamp(1, REAL_CERTIFICATES);
    let certloop = Certloop::open(dir).await?.with_clock(Arc::new(FixedClock::new(anchor)));
    certloop.init_default().await?;
    let requests = (0..real).map(|i| leaf_request(&format!("host-{i}.bench.internal"))).collect();
    let issued = certloop.issue_many(requests, |_, _| {}).await?;
    let mut templates = Vec::with_capacity(real);
    for result in issued {
        templates.push(certloop.show(&result?.certificate_id).await?);
    }
    drop(certloop);

    let store = SqliteStore::open(&dir.join("certloop.db"))?;
    let span = Duration::days(SPREAD_PAST_DAYS + SPREAD_FUTURE_DAYS).whole_seconds();
    let mut batch = Vec::with_capacity(10_000);
    for i in real..records {
        let Some(template) = templates.get(i % real) else { break };
        let mut record = template.clone();
        // Copies are laid out evenly over the spread, in index order.
        let position = i64::try_from(i - real).unwrap_or(0);
        let copies = i64::try_from(records - real).unwrap_or(1).max(1);
        let offset = span * position / copies;
        record.not_after = anchor - Duration::days(SPREAD_PAST_DAYS) + Duration::seconds(offset);
        record.not_before = record.not_after - Duration::days(90);
        record.certificate_id = uuid_like(i, "c");
        record.serial_number = format!("{:032x}", 0x7f00_0000_0000_0000_u128 + i as u128);
        record.certificate_request_id = Some(uuid_like(i, "r"));
        record.state = match i % 50 {
            0 => CertificateState::Revoked,
            1 => CertificateState::Deployed,
            _ if record.not_after < anchor => CertificateState::Expired,
            _ => CertificateState::Issued,
        };
        let request = CertificateRequestRow {
            id: uuid_like(i, "r"),
            profile_id: record.profile_id.clone(),
            csr_pem: None,
            request_json: serde_json::json!({ "attributes": { "commonName": record.common_name } }),
            created_at: anchor,
        };
        let event = AuditEvent {
            sequence: 0,
            at: anchor,
            action: AuditAction::Issued,
            certificate_id: Some(record.certificate_id.clone()),
            subject_id: None,
            actor: "bench-fixture".to_owned(),
            outcome: AuditOutcome::Success,
            detail: format!("serial {}", record.serial_number),
        };
        batch.push(NewCertificate { record, sealed_key: None, request, event });
        if batch.len() == batch.capacity() {
            store.insert_certificates(&batch).await?;
            batch.clear();
        }
    }
    if !batch.is_empty() {
        store.insert_certificates(&batch).await?;
    }
    Ok(anchor)
}

/// A deterministic, unique id in UUID shape for fixture row `i`.
fn uuid_like(i: usize, kind: &str) -> String {
    let tag = if kind == "c" { 0xc } else { 0xe };
    format!("00000000-0000-4000-8{tag:03x}-{i:012x}")
}

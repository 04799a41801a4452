//! Discovery: file scans of what openssl and keytool make, a 10,000-file tree with garbage,
//! links that loop or lead nowhere, a FIFO and unreadable files; TLS endpoint scans of a real
//! `openssl s_server`; and findings recorded in the inventory on both stores.

mod common;

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use certloop::clock::{Clock, FixedClock};
use certloop::discovery::files::{FileScanOptions, scan_files};
use certloop::discovery::network::{NetworkScanOptions, scan_network};
use certloop::discovery::{FileFormat, Location};
use certloop::lifecycle::agent::{Agent, AgentOptions};
use certloop::model::{AuditAction, CertificateState, IssueRequest};
use certloop::store::{AuditQuery, MasterKey, Store};
use certloop::{Action, Certloop, DriftKind, ErrorKind, ManageRequest};
use common::{Scratch, openssl_ok};
use serde_json::json;

every_store!(
    findings_become_discovered_records_once_and_known_certificates_stay_known,
    a_deployed_file_replaced_by_hand_is_drift_at_the_next_rediscovery,
);

/// A self-signed P-256 certificate for `cn` in `dir/<name>.pem` with its key `<name>.key`.
fn self_signed(dir: &Path, name: &str, cn: &str) {
    openssl_ok(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "30",
            "-subj",
            &format!("/CN={cn}"),
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.pem"),
        ],
    );
}

fn options(root: &Path) -> FileScanOptions {
    FileScanOptions { roots: vec![root.to_path_buf()], ..FileScanOptions::default() }
}

fn running_as_root() -> bool {
    let out = Command::new("id").arg("-u").output().expect("id runs");
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

#[test]
fn a_file_scan_finds_pem_der_and_pkcs12_files_openssl_made_and_groups_a_chain() {
    let scratch = Scratch::new();
    let dir = scratch.path();
    self_signed(dir, "web", "web.example.test");
    openssl_ok(dir, &["x509", "-in", "web.pem", "-outform", "der", "-out", "web.der"]);
    openssl_ok(
        dir,
        &[
            "pkcs12",
            "-export",
            "-in",
            "web.pem",
            "-inkey",
            "web.key",
            "-name",
            "web-entry",
            "-passout",
            "pass:s3cret-pw",
            "-out",
            "web.p12",
        ],
    );
    // A leaf signed by a CA, stored as fullchain (leaf then CA): one finding with a chain.
    self_signed(dir, "ca", "Test Discovery CA");
    openssl_ok(
        dir,
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-subj",
            "/CN=api.example.test",
            "-keyout",
            "api.key",
            "-out",
            "api.csr",
        ],
    );
    scratch.write("ext.cnf", "basicConstraints=CA:FALSE\nsubjectAltName=DNS:api.example.test\n");
    openssl_ok(
        dir,
        &[
            "x509", "-req", "-in", "api.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-days", "10",
            "-extfile", "ext.cnf", "-out", "api.pem",
        ],
    );
    let fullchain = format!(
        "{}{}",
        std::fs::read_to_string(dir.join("api.pem")).unwrap(),
        std::fs::read_to_string(dir.join("ca.pem")).unwrap()
    );
    scratch.write("fullchain.pem", fullchain);
    // A trust bundle of two CAs holds no server certificate.
    self_signed(dir, "ca2", "Another CA");
    let bundle = format!(
        "{}{}",
        std::fs::read_to_string(dir.join("ca.pem")).unwrap(),
        std::fs::read_to_string(dir.join("ca2.pem")).unwrap()
    );
    scratch.write("bundle.crt", bundle);

    // Without the password the PKCS#12 file is reported, not skipped.
    let report = scan_files(&options(dir), None);
    let p12 = dir.join("web.p12").display().to_string();
    assert!(
        report.problems.iter().any(|p| p.at == p12 && p.error.contains("password")),
        "{:?}",
        report.problems
    );

    let with_password = FileScanOptions {
        passwords: vec![certloop::crypto::SecretString::new("s3cret-pw".into())],
        ..options(dir)
    };
    let report = scan_files(&with_password, None);
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    let found: Vec<(String, FileFormat, Option<String>, String, usize)> = report
        .findings
        .iter()
        .map(|f| match &f.location {
            Location::File { path, format, alias } => (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                *format,
                alias.clone(),
                f.info.subject.common_name.clone().unwrap_or_default(),
                f.chain.len(),
            ),
            other => panic!("a file scan reported {other:?}"),
        })
        .collect();
    let expect = |name: &str, format, alias: Option<&str>, cn: &str, chain| {
        (name.to_owned(), format, alias.map(str::to_owned), cn.to_owned(), chain)
    };
    assert_eq!(
        found,
        [
            // The CA files on their own are lone certificates, so they count.
            expect("api.pem", FileFormat::Pem, None, "api.example.test", 0),
            expect("ca.pem", FileFormat::Pem, None, "Test Discovery CA", 0),
            expect("ca2.pem", FileFormat::Pem, None, "Another CA", 0),
            expect("fullchain.pem", FileFormat::Pem, None, "api.example.test", 1),
            expect("web.der", FileFormat::Der, None, "web.example.test", 0),
            expect("web.p12", FileFormat::Pkcs12, Some("web-entry"), "web.example.test", 0),
            expect("web.pem", FileFormat::Pem, None, "web.example.test", 0),
        ]
    );
    // The same certificate in three formats has one fingerprint.
    let web: Vec<&str> = report
        .findings
        .iter()
        .filter(|f| f.info.subject.common_name.as_deref() == Some("web.example.test"))
        .map(|f| f.fingerprint())
        .collect();
    assert!(web.len() == 3 && web.iter().all(|f| *f == web[0]), "{web:?}");

    // include_ca adds the bundle's CAs.
    let report = scan_files(&FileScanOptions { include_ca: true, ..with_password }, None);
    let bundle_cas = report
        .findings
        .iter()
        .filter(
            |f| matches!(&f.location, Location::File { path, .. } if path.ends_with("bundle.crt")),
        )
        .count();
    assert_eq!(bundle_cas, 2);
}

#[test]
fn a_file_scan_reads_a_jks_keystore_keytool_made() {
    if std::env::var("CERTLOOP_TEST_KEYTOOL").map_or(true, |v| v.is_empty()) {
        eprintln!(
            "skipped: set CERTLOOP_TEST_KEYTOOL=1 with keytool on PATH (scripts/stages/45-discover.sh)"
        );
        return;
    }
    let scratch = Scratch::new();
    let status = Command::new("keytool")
        .args([
            "-genkeypair",
            "-keystore",
            "app.jks",
            "-storetype",
            "JKS",
            "-storepass",
            "changeit",
            "-keypass",
            "changeit",
            "-alias",
            "tomcat",
            "-keyalg",
            "EC",
            "-groupname",
            "secp256r1",
            "-dname",
            "CN=app.example.test",
            "-validity",
            "10",
        ])
        .current_dir(scratch.path())
        .stderr(Stdio::null())
        .status()
        .expect("keytool runs");
    assert!(status.success());
    let status = Command::new("keytool")
        .args([
            "-exportcert",
            "-keystore",
            "app.jks",
            "-storepass",
            "changeit",
            "-alias",
            "tomcat",
            "-rfc",
            "-file",
            "app.pem",
        ])
        .current_dir(scratch.path())
        .stderr(Stdio::null())
        .status()
        .expect("keytool runs");
    assert!(status.success());
    // No password given: JKS keeps certificates in clear.
    let report = scan_files(&options(scratch.path()), None);
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    let jks = report
        .findings
        .iter()
        .find(|f| matches!(&f.location, Location::File { format: FileFormat::Jks, .. }))
        .expect("the JKS entry");
    assert_eq!(
        jks.location,
        Location::File {
            path: scratch.path().join("app.jks"),
            format: FileFormat::Jks,
            alias: Some("tomcat".into())
        }
    );
    let pem = report
        .findings
        .iter()
        .find(|f| matches!(&f.location, Location::File { format: FileFormat::Pem, .. }))
        .expect("the exported PEM");
    assert_eq!(jks.fingerprint(), pem.fingerprint(), "keytool exported the same certificate");
}

#[test]
fn ten_thousand_files_with_garbage_loops_a_fifo_and_unreadable_files_finish_and_report() {
    let scratch = Scratch::new();
    let root = scratch.path();
    self_signed(root, "real", "real.example.test");
    let real = std::fs::read(root.join("real.pem")).unwrap();
    // 10,000 files in 100 directories: garbage of every kind and ten certificates.
    #[derive(Clone, Copy, PartialEq)]
    enum Kind {
        Certificate,
        CorruptPem,
        TruncatedPfx,
        LyingJks,
        Empty,
        Noise,
        Text,
    }
    let kind = |i: usize| match i % 7 {
        _ if i % 1000 == 5 => Kind::Certificate,
        0 => Kind::CorruptPem,
        1 => Kind::TruncatedPfx,
        2 => Kind::LyingJks,
        3 => Kind::Empty,
        4 => Kind::Noise,
        _ => Kind::Text,
    };
    for d in 0..100 {
        let dir = root.join(format!("d{d:03}"));
        std::fs::create_dir(&dir).unwrap();
        for f in 0..100 {
            let i = d * 100 + f;
            let bytes: Vec<u8> = match kind(i) {
                Kind::Certificate => real.clone(),
                Kind::CorruptPem => {
                    b"-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n"
                        .to_vec()
                }
                Kind::TruncatedPfx => vec![0x30, 0x82, 0xff, 0xff, 0x02, 0x01, 0x03],
                // JKS magic, version 2, then 4 billion entries in 12 bytes.
                Kind::LyingJks => vec![0xfe, 0xed, 0xfe, 0xed, 0, 0, 0, 2, 0xff, 0xff, 0xff, 0xff],
                Kind::Empty => Vec::new(),
                Kind::Noise => {
                    (1..=512u32).map(|b| (b.wrapping_mul(2_654_435_761) >> 13) as u8 | 1).collect()
                }
                Kind::Text => format!("plain text file {i}\n").into_bytes(),
            };
            std::fs::write(dir.join(format!("f{f:03}")), bytes).unwrap();
        }
    }
    // Loops, a dead link, a FIFO (never opened: it would block), an oversized file.
    std::os::unix::fs::symlink(root, root.join("d000/loop-to-root")).unwrap();
    std::os::unix::fs::symlink("..", root.join("d001/loop-up")).unwrap();
    std::os::unix::fs::symlink(root.join("nowhere"), root.join("d002/dead-link")).unwrap();
    assert!(Command::new("mkfifo").arg(root.join("d003/fifo")).status().unwrap().success());
    std::fs::write(root.join("d004/big.pem"), vec![b'x'; 2 * 1024 * 1024]).unwrap();
    let unreadable = root.join("d005/secret.pem");
    std::fs::write(&unreadable, &real).unwrap();
    let root_user = running_as_root();
    if !root_user {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&unreadable, std::fs::Permissions::from_mode(0o000)).unwrap();
    }

    let calls = AtomicU64::new(0);
    let progress = |n: u64, _total: Option<u64>| {
        calls.fetch_add(1, Ordering::Relaxed);
        assert!(n <= 10_100);
    };
    let report = scan_files(&options(root), Some(&progress));

    // Every regular file once (loops add nothing): 10,000 + real.pem/real.key + big + secret.
    assert_eq!(report.examined, 10_004, "{:?}", report.problems.first());
    assert_eq!(calls.load(Ordering::Relaxed), 10_004);
    // The certificates: real.pem at the root, ten copies, and the "unreadable" one for root.
    let expected = 1 + 10 + usize::from(root_user);
    assert_eq!(report.findings.len(), expected);
    assert!(
        report
            .findings
            .iter()
            .all(|f| f.info.subject.common_name.as_deref() == Some("real.example.test"))
    );
    let problem = |suffix: &str| {
        report.problems.iter().find(|p| p.at.ends_with(suffix)).unwrap_or_else(|| {
            panic!(
                "no problem reported for {suffix}: {:?}",
                &report.problems[..5.min(report.problems.len())]
            )
        })
    };
    assert!(problem("d002/dead-link").error.contains("symbolic link"));
    // Corrupt certificate PEM, the truncated PFX and the lying JKS are reported; plain text,
    // empty files and noise are passed over.
    assert!(!problem("d000/f000").error.is_empty());
    assert!(problem("d000/f001").error.contains("PKCS#12"));
    assert!(problem("d000/f002").error.contains("JKS"));
    if !root_user {
        assert!(problem("d005/secret.pem").error.contains("ermission"));
    }
    let count = |k: Kind| (0..10_000).filter(|&i| kind(i) == k).count();
    assert_eq!(count(Kind::Certificate), 10);
    let expected_problems = count(Kind::CorruptPem)
        + count(Kind::TruncatedPfx)
        + count(Kind::LyingJks)
        + 1 // the dead link
        + usize::from(!root_user);
    assert_eq!(report.problems.len(), expected_problems, "{:?}", &report.problems[..3]);
}

/// `openssl s_server` on a free loopback port, killed at drop.
struct TlsServer {
    child: Child,
    port: u16,
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn start_tls_server(dir: &Path) -> TlsServer {
    let port = free_port();
    let child = Command::new("openssl")
        .args([
            "s_server",
            "-accept",
            &format!("127.0.0.1:{port}"),
            "-cert",
            "api.pem",
            "-key",
            "api.key",
            "-cert_chain",
            "ca.pem",
            "-www",
            "-quiet",
        ])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl s_server starts");
    let server = TlsServer { child, port };
    // Bounded: up to 10 s for it to listen.
    for _ in 0..200 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return server;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("openssl s_server did not listen on {port}");
}

#[test]
fn a_network_scan_records_the_served_chain_and_reports_silent_ports() {
    let scratch = Scratch::new();
    let dir = scratch.path();
    self_signed(dir, "ca", "Endpoint Test CA");
    openssl_ok(
        dir,
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-subj",
            "/CN=svc.example.test",
            "-keyout",
            "api.key",
            "-out",
            "api.csr",
        ],
    );
    scratch.write("ext.cnf", "basicConstraints=CA:FALSE\nsubjectAltName=DNS:svc.example.test\n");
    openssl_ok(
        dir,
        &[
            "x509", "-req", "-in", "api.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-days", "10",
            "-extfile", "ext.cnf", "-out", "api.pem",
        ],
    );
    let server = start_tls_server(dir);
    let closed = free_port();
    let options = NetworkScanOptions {
        targets: vec![format!("127.0.0.1:{}", server.port), format!("127.0.0.1:{closed}")],
        server_names: vec!["svc.example.test".into()],
        timeout: Duration::from_secs(5),
        concurrency: 2,
        ..NetworkScanOptions::default()
    };
    let totals = std::sync::Mutex::new(Vec::new());
    let progress = |n: u64, total: Option<u64>| totals.lock().unwrap().push((n, total));
    let report = scan_network(&options, Some(&progress)).expect("scan");
    assert_eq!(report.examined, 2);
    let mut seen = totals.into_inner().unwrap();
    seen.sort();
    assert_eq!(seen, [(1, Some(2)), (2, Some(2))]);
    assert_eq!(report.findings.len(), 1, "{:?}", report.problems);
    let finding = &report.findings[0];
    assert_eq!(
        finding.location,
        Location::Endpoint {
            host: "127.0.0.1".into(),
            port: server.port,
            server_name: Some("svc.example.test".into())
        }
    );
    assert_eq!(finding.info.subject.common_name.as_deref(), Some("svc.example.test"));
    assert_eq!(finding.chain.len(), 1, "the server sent its CA");
    let ca_der = openssl_ok(dir, &["x509", "-in", "ca.pem", "-noout", "-fingerprint", "-sha256"]);
    let ca_fingerprint = ca_der.trim().rsplit('=').next().unwrap().replace(':', "").to_lowercase();
    assert_eq!(certloop::crypto::fingerprint_sha256(&finding.chain[0]), ca_fingerprint);
    assert_eq!(report.problems.len(), 1);
    assert!(report.problems[0].at.contains(&closed.to_string()), "{:?}", report.problems);
    assert!(report.problems[0].error.contains("connect"), "{:?}", report.problems);

    // A bad target is refused before anything is probed.
    let bad = NetworkScanOptions { targets: vec!["127.0.0.1:0".into()], ..options };
    let err = scan_network(&bad, None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("targets[0]"), "{err}");
}

async fn findings_become_discovered_records_once_and_known_certificates_stay_known(
    store: Arc<dyn Store>,
) {
    let certloop = Certloop::with_store(store, MasterKey::generate().unwrap()).unwrap();
    certloop.init_default().await.unwrap();
    let scratch = Scratch::new();
    let dir = scratch.path();
    self_signed(dir, "outside", "outside.example.test");
    openssl_ok(dir, &["x509", "-in", "outside.pem", "-outform", "der", "-out", "outside.der"]);
    // A certificate certloop issued, deployed by hand into the scanned tree.
    let request: IssueRequest = serde_json::from_value(json!({
        "attributes": {"commonName": "ours.example.test",
                       "altNames": [{"type": "DNS", "value": "ours.example.test"}]}
    }))
    .unwrap();
    let ours = certloop.issue(request).await.unwrap();
    scratch.write("ours.pem", &ours.certificate);

    let report = scan_files(&options(dir), None);
    assert_eq!(report.findings.len(), 3, "{:?}", report.problems);
    let outcome = certloop.record_discovery(&report).await.unwrap();
    assert_eq!(outcome.new_certificates, 1, "only the outside certificate is new");
    assert_eq!(outcome.new_locations, 3);
    let by_name = |name: &str| {
        outcome
            .items
            .iter()
            .find(|i| matches!(&i.location, Location::File { path, .. } if path.ends_with(name)))
            .unwrap()
    };
    let (pem, der, ours_item) =
        (by_name("outside.pem"), by_name("outside.der"), by_name("ours.pem"));
    assert_eq!(pem.certificate_id, der.certificate_id, "one record per fingerprint");
    assert_eq!(pem.state, CertificateState::Discovered);
    assert_eq!(ours_item.certificate_id, ours.certificate_id);
    assert_eq!(ours_item.state, CertificateState::Issued);

    let record = certloop.show(&pem.certificate_id).await.unwrap();
    assert_eq!(record.state, CertificateState::Discovered);
    assert_eq!(record.common_name, "outside.example.test");
    assert!(!record.key_managed && record.profile_id.is_none());
    // One event per place: the record's first (scan order: the DER file), then the PEM file.
    let events = certloop
        .audit_log(&AuditQuery {
            certificate_id: Some(pem.certificate_id.clone()),
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    let details: Vec<&str> = events.iter().map(|e| e.detail.as_str()).collect();
    assert_eq!(events.len(), 2, "{details:?}");
    assert!(events.iter().all(|e| e.action == AuditAction::Discovered));
    assert!(
        details[0].starts_with("serial ") && details[0].ends_with("outside.der"),
        "{details:?}"
    );
    assert!(details[1].ends_with("outside.pem"), "{details:?}");
    let ours_events = certloop
        .audit_log(&AuditQuery {
            certificate_id: Some(ours.certificate_id.clone()),
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert!(
        ours_events
            .iter()
            .any(|e| e.action == AuditAction::Discovered && e.detail.contains("ours.pem"))
    );
    assert_eq!(certloop.discovered_locations().await.unwrap().len(), 3);

    // The same scan again adds nothing.
    let again = certloop.record_discovery(&scan_files(&options(dir), None)).await.unwrap();
    assert_eq!((again.new_certificates, again.new_locations), (0, 0));
    assert!(again.items.iter().all(|i| !i.new_certificate && !i.new_location));
    let all = certloop.audit_log(&AuditQuery::default()).await.unwrap();
    let discovered = all.iter().filter(|e| e.action == AuditAction::Discovered).count();
    assert_eq!(discovered, 3, "one per place, none for places seen before");
    assert_eq!(certloop.discovered_locations().await.unwrap().len(), 3);

    // A discovered certificate can be put under management (initiate).
    assert!(certloop.show(&der.certificate_id).await.unwrap().state.is_live());
}

async fn a_deployed_file_replaced_by_hand_is_drift_at_the_next_rediscovery(store: Arc<dyn Store>) {
    // Whole seconds, as the audit log keeps time.
    let now = time::OffsetDateTime::now_utc();
    let clock =
        Arc::new(FixedClock::new(now - time::Duration::nanoseconds(now.nanosecond().into())));
    let certloop = Certloop::with_store(store, MasterKey::generate().unwrap())
        .unwrap()
        .with_clock(clock.clone());
    certloop.init_default().await.unwrap();
    let scratch = Scratch::new();
    let request: IssueRequest = serde_json::from_value(json!({
        "attributes": {"commonName": "drift.example.test",
                       "altNames": [{"type": "DNS", "value": "drift.example.test"}]},
        "manageKey": true,
    }))
    .unwrap();
    let issued = certloop.issue(request).await.unwrap();
    let cert_path = scratch.path().join("cert.pem");
    let target = serde_json::from_value(json!({
        "name": "web", "type": "nginx",
        "certPath": cert_path, "keyPath": scratch.path().join("key.pem"),
    }))
    .unwrap();
    certloop.save_target(target).await.unwrap();
    let config = serde_json::from_value(json!({
        "profile": "tls-server", "targets": ["web"], "validity": "90d",
        "renewal": {"trigger": {"type": "daysBeforeExpiry", "days": 30},
                    "check": {"frequency": "daily", "time": "03:00", "timeZone": "UTC"}},
        "deployment": {"when": {"type": "immediately"}},
    }))
    .unwrap();
    let managed = certloop
        .manage(ManageRequest {
            name: None,
            certificate_id: Some(issued.certificate_id.clone()),
            config,
        })
        .await
        .unwrap();
    let deployed = certloop.act(&managed.id, Action::Deploy).await.unwrap();
    assert_eq!(deployed.managed.state, CertificateState::Deployed, "{}", deployed.detail);

    // As deployed: nothing drifted.
    let clean = certloop.rediscover().await.unwrap();
    assert_eq!((clean.checked, clean.unchanged), (1, 1), "{:?}", clean.drifts);

    // Someone replaces the file by hand with a certificate certloop did not issue.
    self_signed(scratch.path(), "intruder", "drift.example.test");
    std::fs::copy(scratch.path().join("intruder.pem"), &cert_path).unwrap();
    let report = certloop.rediscover().await.unwrap();
    assert_eq!(report.drifts.len(), 1, "{report:?}");
    let drift = &report.drifts[0];
    assert_eq!(drift.kind, DriftKind::Changed);
    assert_eq!(drift.certificate_id, issued.certificate_id);
    let record = certloop.show(&issued.certificate_id).await.unwrap();
    assert_eq!(drift.expected_sha256, record.fingerprint_sha256);
    let intruder = openssl_ok(
        scratch.path(),
        &["x509", "-in", "intruder.pem", "-noout", "-fingerprint", "-sha256"],
    );
    let intruder = intruder.trim().rsplit('=').next().unwrap().replace(':', "").to_lowercase();
    assert_eq!(drift.found_sha256.as_deref(), Some(intruder.as_str()));
    let events = certloop
        .audit_log(&AuditQuery {
            certificate_id: Some(issued.certificate_id.clone()),
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    let drifted: Vec<_> =
        events.iter().filter(|e| e.action == AuditAction::DriftDetected).collect();
    assert_eq!(drifted.len(), 1);
    assert!(drifted[0].detail.contains(cert_path.to_str().unwrap()), "{}", drifted[0].detail);

    // The file removed: gone.
    std::fs::remove_file(&cert_path).unwrap();
    let report = certloop.rediscover().await.unwrap();
    assert_eq!(report.drifts.len(), 1);
    assert_eq!(report.drifts[0].kind, DriftKind::Gone);
    assert!(report.drifts[0].found_sha256.is_none());

    // The agent rediscovers by itself: every 6 hours of the injected clock, from its start.
    std::fs::copy(scratch.path().join("intruder.pem"), &cert_path).unwrap();
    let options = AgentOptions {
        rediscover_every: Some(time::Duration::hours(6)),
        ..AgentOptions::default()
    };
    let start = clock.now();
    let summary =
        Agent::new(certloop.clone(), options).run_until(start + time::Duration::hours(13)).await;
    assert_eq!(summary.errors, 0);
    assert_eq!(summary.rediscoveries, 3, "at +0 h, +6 h and +12 h");
    assert_eq!(summary.drifts, 3);
    let events = certloop
        .audit_log(&AuditQuery {
            certificate_id: Some(issued.certificate_id.clone()),
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    let drift_times: Vec<i64> = events
        .iter()
        .filter(|e| e.action == AuditAction::DriftDetected)
        .map(|e| (e.at - start).whole_hours())
        .collect();
    assert_eq!(drift_times[drift_times.len() - 3..], [0, 6, 12], "{drift_times:?}");
}

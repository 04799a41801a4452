//! Keystores and deployment against real programs: openssl always; keytool, nginx and an
//! OpenSSH server when `scripts/stages/40-deploy.sh` provides them (it sets the
//! `CERTLOOP_TEST_*` variables; without them those tests print why they skip).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use certloop::crypto::{PrivateKey, SecretString, fingerprint_sha256, inspect_certificate};
use certloop::deploy::{self, DeployStep, DeployTarget};
use certloop::keystore::{KeystoreBundle, KeystoreSpec, previous_version_path};
use certloop::model::{
    AuditAction, CertificateAttributes, CertificateState, IssueRequest, IssuedCertificate, Subject,
    SubjectAltName,
};
use certloop::store::AuditQuery;
use certloop::{Certloop, ErrorKind};
use common::{Scratch, openssl, openssl_ok};

async fn certloop() -> Certloop {
    let certloop = Certloop::in_memory().await.unwrap();
    certloop.init_default().await.unwrap();
    certloop
}

async fn issue(certloop: &Certloop, cn: &str) -> IssuedCertificate {
    let request = IssueRequest {
        attributes: CertificateAttributes {
            subject: Subject::common_name(cn),
            alt_names: Some(vec![
                SubjectAltName::dns("localhost"),
                SubjectAltName::ip("127.0.0.1".parse().unwrap()),
            ]),
            ..Default::default()
        },
        manage_key: true,
        ..Default::default()
    };
    certloop.issue(request).await.unwrap()
}

fn bundle(issued: &IssuedCertificate) -> KeystoreBundle {
    let key = PrivateKey::from_pem(issued.private_key.as_ref().unwrap().expose()).unwrap();
    KeystoreBundle::from_pem(&issued.certificate, &issued.certificate_chain, Some(key)).unwrap()
}

fn env(name: &str) -> Option<String> {
    let value = std::env::var(name).ok().filter(|v| !v.is_empty());
    if value.is_none() {
        eprintln!("skipped: {name} is not set (scripts/stages/40-deploy.sh sets it)");
    }
    value
}

fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program).args(args).output().expect("program runs");
    let text =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{program} {args:?} failed:\n{text}");
    text
}

fn sha256_of_file(path: &Path) -> String {
    fingerprint_sha256(&std::fs::read(path).unwrap())
}

fn leaf_fingerprint_of_pem_file(path: &Path) -> String {
    inspect_certificate(&std::fs::read(path).unwrap()).unwrap().fingerprint_sha256
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

// ---- keystores, read by someone else's parser ---------------------------------------------

#[tokio::test]
async fn pem_files_verify_with_openssl_and_the_encrypted_key_opens() {
    let certloop = certloop().await;
    let issued = issue(&certloop, "pem.example").await;
    let scratch = Scratch::new();
    let dir = scratch.path();
    let spec: KeystoreSpec = serde_json::from_value(serde_json::json!({
        "format": "pem",
        "certPath": dir.join("cert.pem"), "chainPath": dir.join("chain.pem"),
        "fullchainPath": dir.join("fullchain.pem"), "keyPath": dir.join("key.pem"),
        "combinedPath": dir.join("combined.pem"), "keyPassphrase": "correct horse"
    }))
    .unwrap();
    let written = spec.writer().unwrap().write(&bundle(&issued), 2).unwrap();
    assert_eq!(written.files.len(), 5);
    assert_eq!(mode(&dir.join("key.pem")), 0o600);
    assert_eq!(mode(&dir.join("combined.pem")), 0o600);
    assert_eq!(mode(&dir.join("cert.pem")), 0o644);
    // chain.pem is intermediate + root: the root is the trust anchor, the rest untrusted.
    let chain = std::fs::read_to_string(dir.join("chain.pem")).unwrap();
    let blocks = common::pem_blocks(&chain);
    assert_eq!(blocks.len(), 2);
    scratch.write("root.pem", &blocks[1]);
    let verified = openssl_ok(
        dir,
        &["verify", "-CAfile", "root.pem", "-untrusted", "chain.pem", "fullchain.pem"],
    );
    assert!(verified.contains("fullchain.pem: OK"), "{verified}");
    // The key is encrypted; openssl opens it with the passphrase and not without.
    let key = std::fs::read_to_string(dir.join("key.pem")).unwrap();
    assert!(key.contains("ENCRYPTED PRIVATE KEY"));
    assert!(!openssl(dir, &["pkey", "-in", "key.pem", "-passin", "pass:wrong", "-noout"]).success);
    let public =
        openssl_ok(dir, &["pkey", "-in", "key.pem", "-passin", "pass:correct horse", "-pubout"]);
    let cert_public = openssl_ok(dir, &["x509", "-in", "cert.pem", "-noout", "-pubkey"]);
    assert_eq!(public, cert_public);
    let combined = std::fs::read_to_string(dir.join("combined.pem")).unwrap();
    assert_eq!(combined.matches("BEGIN CERTIFICATE").count(), 3);
    assert!(combined.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
}

#[tokio::test]
async fn pkcs12_modern_legacy_and_passwordless_are_read_by_openssl() {
    let certloop = certloop().await;
    let issued = issue(&certloop, "p12.example").await;
    let scratch = Scratch::new();
    let dir = scratch.path();
    let write = |name: &str, password: Option<&str>, legacy: bool| {
        let spec = KeystoreSpec::Pkcs12 {
            path: dir.join(name),
            password: password.map(|p| SecretString::new(p.to_owned())),
            alias: Some("web".into()),
            legacy,
        };
        spec.writer().unwrap().write(&bundle(&issued), 1).unwrap();
        assert_eq!(mode(&dir.join(name)), 0o600);
    };
    write("modern.p12", Some("changeit"), false);
    write("legacy.p12", Some("changeit"), true);
    write("open.p12", None, false);

    // `-info` reports on stderr.
    let info_of = |args: &[&str]| {
        let run = openssl(dir, args);
        assert!(run.success, "openssl {args:?}: {}", run.stderr);
        run.stderr
    };
    let info = info_of(&[
        "pkcs12",
        "-in",
        "modern.p12",
        "-passin",
        "pass:changeit",
        "-info",
        "-nokeys",
        "-noout",
    ]);
    assert!(info.contains("MAC: sha256"), "{info}");
    assert!(info.contains("PBES2, PBKDF2, AES-256-CBC"), "{info}");
    let dump =
        openssl_ok(dir, &["pkcs12", "-in", "modern.p12", "-passin", "pass:changeit", "-nodes"]);
    assert_eq!(dump.matches("BEGIN CERTIFICATE").count(), 3, "leaf + intermediate + root");
    assert!(dump.contains("BEGIN PRIVATE KEY") && dump.contains("friendlyName: web"), "{dump}");
    assert!(
        !openssl(dir, &["pkcs12", "-in", "modern.p12", "-passin", "pass:wrong", "-noout"]).success
    );

    // Legacy needs -legacy in OpenSSL 3 (3DES is in the legacy provider)...
    let legacy = info_of(&[
        "pkcs12",
        "-legacy",
        "-in",
        "legacy.p12",
        "-passin",
        "pass:changeit",
        "-info",
        "-nokeys",
        "-noout",
    ]);
    assert!(legacy.contains("MAC: sha1"), "{legacy}");
    assert!(legacy.contains("pbeWithSHA1And3-KeyTripleDES-CBC"), "{legacy}");

    let open = openssl_ok(dir, &["pkcs12", "-in", "open.p12", "-passin", "pass:", "-nodes"]);
    assert!(open.contains("BEGIN PRIVATE KEY"));
}

#[tokio::test]
async fn pkcs12_and_jks_are_read_by_keytool() {
    let Some(_) = env("CERTLOOP_TEST_KEYTOOL") else { return };
    let certloop = certloop().await;
    let issued = issue(&certloop, "java.example").await;
    let scratch = Scratch::new();
    let dir = scratch.path();
    let b = bundle(&issued);
    let specs = [
        (
            "PKCS12",
            KeystoreSpec::Pkcs12 {
                path: dir.join("keystore.p12"),
                password: Some(SecretString::new("changeit".into())),
                alias: Some("tomcat".into()),
                legacy: false,
            },
        ),
        (
            "JKS",
            KeystoreSpec::Jks {
                path: dir.join("keystore.jks"),
                store_password: SecretString::new("changeit".into()),
                key_password: None,
                alias: Some("tomcat".into()),
            },
        ),
    ];
    for (store_type, spec) in specs {
        let written = spec.writer().unwrap().write(&b, 1).unwrap();
        let path = written.files[0].path.display().to_string();
        let list = run(
            "keytool",
            &[
                "-list",
                "-v",
                "-storetype",
                store_type,
                "-keystore",
                &path,
                "-storepass",
                "changeit",
            ],
        );
        assert!(list.contains("Alias name: tomcat"), "{store_type}: {list}");
        assert!(list.contains("PrivateKeyEntry"), "{store_type}: {list}");
        assert!(list.contains("Certificate chain length: 3"), "{store_type}: {list}");
        assert!(list.contains("CN=java.example"), "{store_type}: {list}");
        let wrong = Command::new("keytool")
            .args([
                "-list",
                "-storetype",
                store_type,
                "-keystore",
                &path,
                "-storepass",
                "wrongpass",
            ])
            .output()
            .unwrap();
        assert!(!wrong.status.success(), "{store_type} opened with a wrong password");
    }
    // keytool rejects short JKS passwords; we refuse them before writing.
    let short = KeystoreSpec::Jks {
        path: dir.join("short.jks"),
        store_password: SecretString::new("abc".into()),
        key_password: None,
        alias: None,
    };
    assert!(short.writer().unwrap_err().to_string().contains("storePassword"));
}

#[tokio::test]
async fn kubernetes_secret_manifest_has_the_tls_keys() {
    let certloop = certloop().await;
    let issued = issue(&certloop, "k8s.example").await;
    let scratch = Scratch::new();
    let spec = KeystoreSpec::KubernetesSecret {
        path: scratch.path().join("secret.yaml"),
        name: "k8s-example-tls".into(),
        namespace: Some("web".into()),
    };
    spec.writer().unwrap().write(&bundle(&issued), 1).unwrap();
    let text = std::fs::read_to_string(scratch.path().join("secret.yaml")).unwrap();
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
    assert_eq!(doc["apiVersion"].as_str(), Some("v1"));
    assert_eq!(doc["kind"].as_str(), Some("Secret"));
    assert_eq!(doc["type"].as_str(), Some("kubernetes.io/tls"));
    assert_eq!(doc["metadata"]["name"].as_str(), Some("k8s-example-tls"));
    assert_eq!(doc["metadata"]["namespace"].as_str(), Some("web"));
    use base64::Engine;
    let decode = |key: &str| {
        let b64 = doc["data"][key].as_str().unwrap_or_else(|| panic!("data.{key} missing"));
        base64::engine::general_purpose::STANDARD.decode(b64).unwrap()
    };
    scratch.write("tls.crt", decode("tls.crt"));
    scratch.write("tls.key", decode("tls.key"));
    scratch.write("ca.crt", decode("ca.crt"));
    let dir = scratch.path();
    let verified =
        openssl_ok(dir, &["verify", "-CAfile", "ca.crt", "-untrusted", "tls.crt", "tls.crt"]);
    assert!(verified.contains("OK"), "{verified}");
    let public = openssl_ok(dir, &["pkey", "-in", "tls.key", "-pubout"]);
    assert_eq!(public, openssl_ok(dir, &["x509", "-in", "tls.crt", "-noout", "-pubkey"]));
    let bad = KeystoreSpec::KubernetesSecret {
        path: dir.join("x.yaml"),
        name: "Bad_Name".into(),
        namespace: None,
    };
    assert!(bad.writer().unwrap_err().to_string().contains("name"));
}

// ---- targets in the store -------------------------------------------------------------------

#[tokio::test]
async fn target_passwords_are_sealed_at_rest_and_redacted() {
    let scratch = Scratch::new();
    let home = scratch.path().join("home");
    let certloop = Certloop::open(&home).await.unwrap();
    let target: DeployTarget = serde_json::from_value(serde_json::json!({
        "name": "tomcat1", "type": "tomcat", "keystorePath": scratch.path().join("ks.p12"),
        "keystorePassword": "s3cret-Keystore-pw", "alias": "tomcat"
    }))
    .unwrap();
    let saved = certloop.save_target(target).await.unwrap();
    assert_eq!(saved.keystore_password.as_ref().unwrap().expose(), deploy::REDACTED);
    let listed = serde_json::to_string(&certloop.list_targets().await.unwrap()).unwrap();
    assert!(!listed.contains("s3cret") && listed.contains("tomcat1"), "{listed}");
    drop(certloop);
    for entry in std::fs::read_dir(&home).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(!bytes.windows(6).any(|w| w == b"s3cret"), "a password is stored in clear");
    }
    // The sealed password really unseals: deploying writes a keystore openssl opens with it.
    let certloop = Certloop::open(&home).await.unwrap();
    certloop.init_default().await.unwrap();
    let issued = issue(&certloop, "tomcat.example").await;
    let report = certloop.deploy(&issued.certificate_id, "tomcat1", None).await.unwrap();
    assert!(report.success);
    let dir = scratch.path();
    let dump = openssl_ok(
        dir,
        &["pkcs12", "-in", "ks.p12", "-passin", "pass:s3cret-Keystore-pw", "-nodes"],
    );
    assert!(dump.contains("friendlyName: tomcat"), "{dump}");
    // Saving a redacted copy back is refused instead of storing "[redacted]" as a password.
    let shown = certloop.target("tomcat1").await.unwrap();
    assert_eq!(certloop.save_target(shown).await.unwrap_err().kind(), ErrorKind::InvalidInput);
    assert_eq!(
        certloop.show(&issued.certificate_id).await.unwrap().state,
        CertificateState::Deployed
    );
    certloop.remove_target("tomcat1").await.unwrap();
    assert_eq!(certloop.target("tomcat1").await.unwrap_err().kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn deploying_a_certificate_whose_key_was_not_kept_is_a_clear_error() {
    let certloop = certloop().await;
    let scratch = Scratch::new();
    let request = IssueRequest {
        attributes: CertificateAttributes {
            subject: Subject::common_name("nokey.example"),
            ..Default::default()
        },
        ..Default::default()
    };
    let issued = certloop.issue(request).await.unwrap();
    let target: DeployTarget = serde_json::from_value(serde_json::json!({
        "name": "files", "type": "generic",
        "keystore": {"format": "pem", "fullchainPath": scratch.path().join("f.pem"), "keyPath": scratch.path().join("k.pem")}
    }))
    .unwrap();
    certloop.save_target(target).await.unwrap();
    let err = certloop.deploy(&issued.certificate_id, "files", None).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidState);
    assert!(err.to_string().contains("without keeping its key"), "{err}");
    assert!(!scratch.path().join("f.pem").exists());
}

#[tokio::test]
async fn a_stored_certificate_is_written_by_id_with_its_kept_key() {
    let certloop = certloop().await;
    let scratch = Scratch::new();
    let issued = issue(&certloop, "byid.example").await;
    let spec: KeystoreSpec = serde_json::from_value(serde_json::json!({
        "format": "pem",
        "fullchainPath": scratch.path().join("full.pem"),
        "keyPath": scratch.path().join("key.pem"),
    }))
    .unwrap();
    let written = certloop.write_keystore_for(&issued.certificate_id, &spec, 1).await.unwrap();
    assert_eq!(written.paths().len(), 2);
    let key = std::fs::read_to_string(scratch.path().join("key.pem")).unwrap();
    assert_eq!(Some(key.as_str()), issued.private_key.as_ref().map(|k| k.expose()));
    assert_eq!(mode(&scratch.path().join("key.pem")), 0o600);
    let full = std::fs::read_to_string(scratch.path().join("full.pem")).unwrap();
    assert!(full.starts_with(&issued.certificate), "{full}");
    // Without a kept key there is nothing to write: a typed refusal, no file.
    let request = IssueRequest {
        attributes: CertificateAttributes {
            subject: Subject::common_name("nokey-byid.example"),
            ..Default::default()
        },
        ..Default::default()
    };
    let unkept = certloop.issue(request).await.unwrap();
    let other: KeystoreSpec = serde_json::from_value(serde_json::json!({
        "format": "pem", "keyPath": scratch.path().join("other.pem"),
    }))
    .unwrap();
    let err = certloop.write_keystore_for(&unkept.certificate_id, &other, 1).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidState);
    assert!(!scratch.path().join("other.pem").exists());
}

// ---- nginx ----------------------------------------------------------------------------------

struct Nginx {
    dir: PathBuf,
    port: String,
}

impl Nginx {
    fn from_env() -> Option<Nginx> {
        let dir = env("CERTLOOP_TEST_NGINX_DIR")?;
        let port = env("CERTLOOP_TEST_NGINX_PORT")?;
        Some(Nginx { dir: PathBuf::from(dir), port })
    }

    fn args(&self, extra: &[&str]) -> Vec<String> {
        let mut argv = vec!["nginx".to_owned()];
        argv.extend(extra.iter().map(|s| (*s).to_owned()));
        let conf = self.dir.join("nginx.conf");
        argv.extend([
            "-p".into(),
            self.dir.display().to_string(),
            "-c".into(),
            conf.display().to_string(),
        ]);
        argv
    }

    fn target(&self, name: &str, reload: Vec<String>) -> DeployTarget {
        serde_json::from_value(serde_json::json!({
            "name": name, "type": "nginx",
            "certPath": self.dir.join("tls/fullchain.pem"), "keyPath": self.dir.join("tls/key.pem"),
            "testCommand": self.args(&["-t"]), "reloadCommand": reload,
            "endpoint": format!("127.0.0.1:{}", self.port), "serverName": "localhost",
            "pinAttempts": 20, "pinIntervalMs": 250, "rollback": true
        }))
        .unwrap()
    }

    fn endpoint(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

#[tokio::test]
async fn nginx_deploy_pin_check_refusal_and_rollback() {
    let Some(nginx) = Nginx::from_env() else { return };
    let certloop = certloop().await;
    certloop.save_target(nginx.target("web1", nginx.args(&["-s", "reload"]))).await.unwrap();
    let fullchain = nginx.dir.join("tls/fullchain.pem");
    let key = nginx.dir.join("tls/key.pem");

    // Deploy A: written, tested, reloaded, served.
    let a = issue(&certloop, "a.example").await;
    let report = certloop.deploy(&a.certificate_id, "web1", None).await.unwrap();
    assert!(report.success, "{}", report.summary());
    let steps: Vec<DeployStep> = report.steps.iter().map(|s| s.step).collect();
    assert_eq!(
        steps,
        [
            DeployStep::Precheck,
            DeployStep::Write,
            DeployStep::ConfigTest,
            DeployStep::Reload,
            DeployStep::PinCheck
        ]
    );
    assert!(report.pin.as_ref().unwrap().matches);
    assert_eq!(mode(&key), 0o600);
    let check =
        certloop.pin_check(&a.certificate_id, &nginx.endpoint(), Some("localhost")).await.unwrap();
    assert!(check.matches, "{check:?}");
    assert_eq!(check.served_subject, "CN=a.example");
    assert_eq!(check.served_chain_length, 2, "leaf + intermediate");

    // Deploy B: A is no longer served, B is.
    let b = issue(&certloop, "b.example").await;
    certloop.deploy(&b.certificate_id, "web1", None).await.unwrap();
    let stale = certloop.pin_check(&a.certificate_id, &nginx.endpoint(), None).await.unwrap();
    assert!(!stale.matches);
    assert_eq!(stale.served_sha256, fingerprint_sha256(&bundle(&b).certificate));
    assert_eq!(stale.expected_sha256, fingerprint_sha256(&bundle(&a).certificate));
    assert!(certloop.pin_check(&b.certificate_id, &nginx.endpoint(), None).await.unwrap().matches);
    assert_eq!(
        leaf_fingerprint_of_pem_file(&previous_version_path(&fullchain, 1)),
        stale.expected_sha256
    );
    let b_files = (sha256_of_file(&fullchain), sha256_of_file(&key));

    // A broken bundle (B's certificate with A's key) is refused before any file changes;
    // nginx -t would have accepted it.
    let target = nginx.target("web1", nginx.args(&["-s", "reload"]));
    let mut broken = bundle(&b);
    broken.private_key = bundle(&a).private_key;
    let refused = deploy::deploy(&target, &broken, time::OffsetDateTime::now_utc()).await.unwrap();
    assert!(!refused.success);
    assert_eq!(refused.failed_step, Some(DeployStep::Precheck));
    assert!(refused.error.as_deref().unwrap().contains("does not match"), "{refused:?}");
    assert_eq!((sha256_of_file(&fullchain), sha256_of_file(&key)), b_files);

    // The config test fails (someone broke an included file): rollback, B stays.
    std::fs::write(nginx.dir.join("extra.conf"), "this_is_not_a_directive on;\n").unwrap();
    let c = issue(&certloop, "c.example").await;
    let err = certloop.deploy(&c.certificate_id, "web1", None).await.unwrap_err();
    std::fs::write(nginx.dir.join("extra.conf"), "").unwrap();
    assert_eq!(err.kind(), ErrorKind::Deployment);
    assert!(err.to_string().contains("failed at configTest"), "{err}");
    assert!(err.to_string().contains("rollback ok"), "{err}");
    assert_eq!((sha256_of_file(&fullchain), sha256_of_file(&key)), b_files);
    assert!(certloop.pin_check(&b.certificate_id, &nginx.endpoint(), None).await.unwrap().matches);
    assert_eq!(certloop.show(&c.certificate_id).await.unwrap().state, CertificateState::Issued);

    // A "reload" that does not reload: the pin check fails, files are restored, the
    // rollback's own pin check sees B served.
    let no_reload = nginx.target("web1-noreload", nginx.args(&["-t"]));
    let no_reload: DeployTarget = DeployTarget { pin_attempts: Some(3), ..no_reload };
    certloop.save_target(no_reload).await.unwrap();
    let report =
        certloop.deploy_with_report(&c.certificate_id, "web1-noreload", None).await.unwrap();
    assert!(!report.success);
    assert_eq!(report.failed_step, Some(DeployStep::PinCheck));
    assert!(report.rolled_back);
    let last = report.steps.last().unwrap();
    assert_eq!((last.step, last.ok), (DeployStep::RollbackPinCheck, true), "{report:?}");
    assert_eq!((sha256_of_file(&fullchain), sha256_of_file(&key)), b_files);

    // The audit log has every step.
    let events = certloop
        .audit_log(&AuditQuery {
            certificate_id: Some(c.certificate_id.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    let actions: Vec<AuditAction> = events.iter().map(|e| e.action).collect();
    assert!(actions.contains(&AuditAction::DeployStep));
    assert_eq!(actions.iter().filter(|a| **a == AuditAction::RolledBack).count(), 2);
    assert_eq!(actions.iter().filter(|a| **a == AuditAction::DeployFailed).count(), 2);
    let deployed = certloop
        .audit_log(&AuditQuery {
            certificate_id: Some(b.certificate_id.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(deployed.iter().any(|e| e.action == AuditAction::Deployed));
}

// ---- SFTP -----------------------------------------------------------------------------------

#[tokio::test]
async fn sftp_deploy_and_remote_rollback() {
    let Some(dir) = env("CERTLOOP_TEST_SSH_DIR") else { return };
    let Some(port) = env("CERTLOOP_TEST_SSH_PORT") else { return };
    let dir = PathBuf::from(dir);
    let remote = dir.join("remote");
    let user = run("id", &["-un"]).trim().to_owned();
    let target = |name: &str, test: &[&str]| -> DeployTarget {
        serde_json::from_value(serde_json::json!({
            "name": name, "type": "sftp", "host": "127.0.0.1", "port": port.parse::<u16>().unwrap(),
            "user": user, "identityFile": dir.join("id_ed25519"), "knownHostsFile": dir.join("known_hosts"),
            "remoteDir": remote,
            "keystore": {"format": "pem", "fullchainPath": "fullchain.pem", "keyPath": "key.pem"},
            "testCommand": test,
            "reloadCommand": ["touch", remote.join("reloaded")],
            "timeoutSecs": 30
        }))
        .unwrap()
    };
    let certloop = certloop().await;
    certloop
        .save_target(target("remote1", &["test", "-d", remote.to_str().unwrap()]))
        .await
        .unwrap();
    let a = issue(&certloop, "sftp-a.example").await;
    let report = certloop.deploy(&a.certificate_id, "remote1", None).await.unwrap();
    assert!(report.success, "{}", report.summary());
    assert_eq!(
        leaf_fingerprint_of_pem_file(&remote.join("fullchain.pem")),
        fingerprint_sha256(&bundle(&a).certificate)
    );
    assert_eq!(mode(&remote.join("key.pem")), 0o600);
    assert!(remote.join("reloaded").exists(), "the remote reload ran");
    let a_files =
        (sha256_of_file(&remote.join("fullchain.pem")), sha256_of_file(&remote.join("key.pem")));

    // B with a remote config test that fails: the remote files are A's again.
    certloop
        .save_target(target("remote-broken", &["test", "-e", "/nonexistent/certloop"]))
        .await
        .unwrap();
    let b = issue(&certloop, "sftp-b.example").await;
    let err = certloop.deploy(&b.certificate_id, "remote-broken", None).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Deployment);
    assert!(err.to_string().contains("rollback ok"), "{err}");
    assert_eq!(
        (sha256_of_file(&remote.join("fullchain.pem")), sha256_of_file(&remote.join("key.pem"))),
        a_files
    );

    // A host whose key is not in known_hosts is refused (BatchMode, strict checking).
    let mut stranger = target("stranger", &["true"]);
    stranger.known_hosts_file = Some(dir.join("empty_known_hosts"));
    std::fs::write(dir.join("empty_known_hosts"), "").unwrap();
    certloop.save_target(stranger).await.unwrap();
    let err = certloop.deploy(&b.certificate_id, "stranger", None).await.unwrap_err();
    assert!(err.to_string().contains("failed at write"), "{err}");
}

#[tokio::test]
async fn precheck_lists_every_problem_of_a_bundle() {
    let certloop = certloop().await;
    let a = issue(&certloop, "a.example").await;
    let b = issue(&certloop, "b.example").await;
    let good = bundle(&a);
    deploy::check_bundle(&good, time::OffsetDateTime::now_utc()).unwrap();

    // A's certificate, B's key, the intermediate missing (root only), checked after expiry.
    let mut bad = bundle(&a);
    bad.private_key = bundle(&b).private_key;
    bad.chain.remove(0);
    let later = inspect_certificate(&bad.certificate).unwrap().not_after + time::Duration::DAY;
    let err = deploy::check_bundle(&bad, later).unwrap_err().to_string();
    assert!(err.contains("does not match the certificate"), "{err}");
    assert!(err.contains("CN=a.example is not signed by the next certificate"), "{err}");
    assert!(err.contains("CN=a.example is not valid now"), "{err}");

    let mut keyless = bundle(&a);
    keyless.private_key = None;
    let err = deploy::check_bundle(&keyless, time::OffsetDateTime::now_utc()).unwrap_err();
    assert!(err.to_string().contains("no private key"), "{err}");
}

//! The Python-script CA connector against real CPython scripts, in both isolation modes:
//! `process` (a child python3) always, `inProcess` (embedded pyo3) with feature `python`.
//! Issued certificates are verified with the real `openssl`.

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use certloop::model::{CertificateAttributes, ConnectorParams, IssueRequest, Subject};
use certloop::policy::{CertificateProfile, CertificateTemplate, TemplatePreset};
use certloop::store::AuditQuery;
use certloop::{Certloop, Error, ErrorKind};
use common::{Scratch, openssl, openssl_ok};

const SECRET: &str = "hunter2-ZX9-never-shown";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scripts").join(name)
}

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/script-ca").join(name)
}

/// A state directory with the tls-server template.
async fn open(scratch: &Scratch) -> Certloop {
    captured_events();
    let certloop = Certloop::open(scratch.path().join("state")).await.unwrap();
    certloop
        .save_template(CertificateTemplate::from_preset("tls-server", TemplatePreset::TlsServer))
        .await
        .unwrap();
    certloop
}

/// Save a script profile `slug` for `script` with `params` (JSON array).
async fn profile(
    certloop: &Certloop,
    slug: &str,
    script: &Path,
    isolation: &str,
    timeout: u32,
    params: serde_json::Value,
) -> CertificateProfile {
    let json = serde_json::json!({
        "slug": slug,
        "templateId": "tls-server",
        "issuer": {
            "type": "script",
            "path": script,
            "timeoutSeconds": timeout,
            "isolation": isolation,
            "params": params,
        },
    });
    let profile: CertificateProfile = serde_json::from_value(json).unwrap();
    certloop.save_profile(profile).await.unwrap()
}

/// The corporate example CA (`examples/script-ca/corp_ca.py`) with its CA under `ca_dir`.
fn corp_params(ca_dir: &Path) -> serde_json::Value {
    serde_json::json!([
        {"name": "ca_dir", "value": ca_dir},
        {"name": "password", "value": SECRET, "sensitive": true},
        {"name": "days", "value": "30"},
        {"name": "ticket", "dynamic": true},
    ])
}

fn request(profile: &str, cn: &str, params: &[(&str, &str)]) -> IssueRequest {
    IssueRequest {
        profile_id: Some(profile.to_owned()),
        attributes: CertificateAttributes {
            subject: Subject::common_name(cn),
            ..Default::default()
        },
        connector_params: params.iter().copied().collect::<ConnectorParams>(),
        ..Default::default()
    }
}

fn journal(ca_dir: &Path) -> String {
    std::fs::read_to_string(ca_dir.join("journal.log")).unwrap_or_default()
}

/// `openssl verify` the leaf against the chain the script returned.
fn verify(scratch: &Scratch, issued: &certloop::model::IssuedCertificate) {
    scratch.write("leaf.pem", &issued.certificate);
    scratch.write("root.pem", &issued.issuing_ca_certificate);
    let out = openssl_ok(scratch.path(), &["verify", "-CAfile", "root.pem", "leaf.pem"]);
    assert!(out.contains("leaf.pem: OK"), "{out}");
}

fn script_error(error: &Error) -> (Option<&str>, &str, Option<&str>, bool) {
    match error {
        Error::Script { exception, message, traceback, retryable, .. } => {
            (exception.as_deref(), message.as_str(), traceback.as_deref(), *retryable)
        }
        other => panic!("expected a script error, got {other:?}"),
    }
}

async fn issues_verifies_and_keeps_the_module_loaded(isolation: &str) {
    let scratch = Scratch::new();
    let certloop = open(&scratch).await;
    let ca_dir = scratch.path().join("corp-ca");
    let script = scratch.path().join("corp_ca.py");
    std::fs::copy(example("corp_ca.py"), &script).unwrap();
    profile(&certloop, "corp-ca", &script, isolation, 30, corp_params(&ca_dir)).await;

    let first = certloop.issue(request("corp-ca", "host.corp", &[("ticket", "CHG-1")])).await;
    let first = first.unwrap();
    verify(&scratch, &first);
    let second =
        certloop.issue(request("corp-ca", "db.corp", &[("ticket", "CHG-2")])).await.unwrap();
    verify(&scratch, &second);
    let text = openssl_ok(
        scratch.path(),
        &["x509", "-in", "leaf.pem", "-noout", "-ext", "subjectAltName"],
    );
    assert!(text.contains("DNS:db.corp"), "{text}");

    // One login for two calls: the module (and its token global) stayed loaded.
    let log = journal(&ca_dir);
    assert_eq!(log.matches("login ").count(), 1, "{log}");
    assert!(log.contains("issued host.corp") && log.contains("call=1 ticket=CHG-1"), "{log}");
    assert!(log.contains("issued db.corp") && log.contains("call=2 ticket=CHG-2"), "{log}");

    // The inventory records them like any other certificate.
    let record = certloop.show(&second.certificate_id).await.unwrap();
    assert_eq!(record.common_name, "db.corp");
    assert!(record.issuer.contains("Corp Script CA"), "{}", record.issuer);

    // A changed file is reloaded: fresh module globals, so a second login.
    let mut source = std::fs::read_to_string(&script).unwrap();
    source.push_str("\n# edited\n");
    std::fs::write(&script, source).unwrap();
    certloop.issue(request("corp-ca", "web.corp", &[("ticket", "CHG-3")])).await.unwrap();
    let log = journal(&ca_dir);
    assert_eq!(log.matches("login ").count(), 2, "{log}");
    assert!(log.contains("issued web.corp") && log.contains("call=1 ticket=CHG-3"), "{log}");

    // Renewal goes through renew_certificate with the dynamic value supplied again.
    let missing = certloop.renew(&second.certificate_id).await.unwrap_err();
    assert!(
        matches!(&missing, Error::InvalidInput { field, .. } if field == "connectorParams.ticket"),
        "{missing}"
    );
    let params: ConnectorParams = [("ticket", "CHG-4")].into_iter().collect();
    let renewed = certloop.renew_with(&second.certificate_id, params).await.unwrap();
    verify(&scratch, &renewed);
    assert!(journal(&ca_dir).contains("renewed db.corp"), "{}", journal(&ca_dir));

    // Revocation goes through revoke_certificate.
    let revoked =
        certloop.revoke(&first.certificate_id, "keyCompromise".parse().unwrap()).await.unwrap();
    assert_eq!(revoked.state.to_string(), "revoked");
    let serial = first.serial_number.to_ascii_uppercase();
    let log = journal(&ca_dir);
    assert!(log.contains("reason=keyCompromise"), "{log}");
    assert!(log.to_ascii_uppercase().contains(&serial), "serial {serial} in {log}");
}

async fn parameters_and_policy_are_checked_before_the_script_runs(isolation: &str) {
    let scratch = Scratch::new();
    let certloop = open(&scratch).await;
    let ca_dir = scratch.path().join("corp-ca");
    profile(&certloop, "corp-ca", &example("corp_ca.py"), isolation, 30, corp_params(&ca_dir))
        .await;

    let missing = certloop.issue(request("corp-ca", "host.corp", &[])).await.unwrap_err();
    assert!(
        matches!(&missing, Error::InvalidInput { field, .. } if field == "connectorParams.ticket"),
        "{missing}"
    );
    assert!(missing.to_string().contains("--param ticket=VALUE"), "{missing}");
    let unexpected = certloop
        .issue(request("corp-ca", "host.corp", &[("ticket", "CHG-1"), ("password", "x")]))
        .await
        .unwrap_err();
    assert!(
        matches!(&unexpected, Error::InvalidInput { field, .. } if field == "connectorParams.password"),
        "{unexpected}"
    );
    let unknown = certloop
        .issue(request("corp-ca", "host.corp", &[("ticket", "CHG-1"), ("colour", "red")]))
        .await
        .unwrap_err();
    assert!(unknown.to_string().contains("declares no parameter \"colour\""), "{unknown}");
    // The template's policy (no wildcard CN, 398 days at most) holds before the script runs.
    let mut too_long = request("corp-ca", "host.corp", &[("ticket", "CHG-1")]);
    too_long.attributes.ttl = Some("5y".parse().unwrap());
    let refused = certloop.issue(too_long).await.unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::PolicyViolation, "{refused}");
    assert!(!ca_dir.join("journal.log").exists(), "the script never ran");
}

async fn timeouts_fail_the_call_and_the_host_stays_healthy(isolation: &str) {
    let scratch = Scratch::new();
    let certloop = open(&scratch).await;
    let ca_dir = scratch.path().join("corp-ca");
    profile(&certloop, "slow", &fixture("slow.py"), isolation, 1, serde_json::json!([])).await;
    profile(&certloop, "corp-ca", &example("corp_ca.py"), isolation, 30, corp_params(&ca_dir))
        .await;
    let error = certloop.issue(request("slow", "host.corp", &[])).await.unwrap_err();
    let (exception, message, _, retryable) = script_error(&error);
    assert_eq!(exception, Some("TimeoutError"));
    assert!(message.contains("within 1s"), "{message}");
    assert!(retryable);
    // The same profile again (a fresh child, or the interrupted thread's module), then another.
    let again = certloop.issue(request("slow", "host.corp", &[])).await.unwrap_err();
    assert_eq!(script_error(&again).0, Some("TimeoutError"));
    let ok = certloop.issue(request("corp-ca", "host.corp", &[("ticket", "CHG-9")])).await;
    verify(&scratch, &ok.unwrap());
}

async fn every_bad_script_is_a_clear_error(isolation: &str) {
    let scratch = Scratch::new();
    let certloop = open(&scratch).await;
    let cases: &[(&str, Option<&str>, &str)] = &[
        ("syntax_error.py", Some("SyntaxError"), "cannot be loaded"),
        ("no_function.py", None, "defines no certificate_request"),
        ("wrong_signature.py", None, "wrong signature"),
        ("returns_none.py", None, "certificate_request returned None"),
        ("returns_int.py", None, "returned int, not a PEM string"),
        ("returns_garbage.py", None, "an unreadable certificate"),
        ("returns_csr.py", None, "no PEM certificate"),
        ("other_key.py", None, "certifies another public key"),
        ("other_cn.py", None, "names CN \"evil.example\""),
    ];
    for (i, (script, exception, needle)) in cases.iter().enumerate() {
        let slug = format!("bad-{i}");
        profile(&certloop, &slug, &fixture(script), isolation, 20, serde_json::json!([])).await;
        let error = certloop.issue(request(&slug, "host.corp", &[])).await.unwrap_err();
        let (got, _, _, retryable) = script_error(&error);
        assert_eq!(got, *exception, "{script}: {error}");
        let text = error.to_string();
        assert!(text.contains(needle), "{script}: {text}");
        assert!(text.contains(script), "the error names the script: {text}");
        assert!(!retryable, "{script}");
        assert_eq!(error.kind(), ErrorKind::Ca);
    }

    // An exception: its type, message and traceback; retryable when the script says so.
    let params = serde_json::json!([{"name": "mode", "dynamic": true}]);
    profile(&certloop, "raises", &fixture("raises.py"), isolation, 20, params).await;
    let error =
        certloop.issue(request("raises", "host.corp", &[("mode", "hard")])).await.unwrap_err();
    let (exception, message, traceback, retryable) = script_error(&error);
    assert_eq!(exception, Some("ValueError"));
    assert_eq!(message, "the CA refused host.corp: policy 17");
    assert!(traceback.unwrap().contains("raises.py\", line 8"), "{traceback:?}");
    assert!(!retryable);
    let error =
        certloop.issue(request("raises", "host.corp", &[("mode", "retryable")])).await.unwrap_err();
    assert_eq!(script_error(&error).0, Some("CaUnavailable"));
    assert!(error.is_retryable());

    // A script file that disappears after the profile was saved.
    let gone = scratch.write("gone.py", "def certificate_request(a, b, c):\n    return ''\n");
    profile(&certloop, "gone", &gone, isolation, 20, serde_json::json!([])).await;
    std::fs::remove_file(&gone).unwrap();
    let error = certloop.issue(request("gone", "host.corp", &[])).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Io, "{error}");
    assert!(error.to_string().contains("gone.py"), "{error}");

    // A script without revoke_certificate: revocation is not supported by the connector.
    let ca_dir = scratch.path().join("corp-ca");
    let source = std::fs::read_to_string(example("corp_ca.py")).unwrap();
    let no_revoke = scratch
        .write("no_revoke.py", source.replace("def revoke_certificate(", "def _revoke_disabled("));
    profile(&certloop, "no-revoke", &no_revoke, isolation, 30, corp_params(&ca_dir)).await;
    let issued =
        certloop.issue(request("no-revoke", "host.corp", &[("ticket", "CHG-5")])).await.unwrap();
    let error =
        certloop.revoke(&issued.certificate_id, "superseded".parse().unwrap()).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unsupported, "{error}");
    assert!(error.to_string().contains("not supported by this connector"), "{error}");
}

async fn sensitive_values_never_leak(isolation: &str) {
    let scratch = Scratch::new();
    let certloop = open(&scratch).await;
    let ca_dir = scratch.path().join("corp-ca");
    let params = serde_json::json!([{"name": "password", "value": SECRET, "sensitive": true}]);
    // One slug per isolation mode: both tests run at once and share the captured log.
    let leaky = format!("leaky-{}", isolation.to_ascii_lowercase());
    let saved = profile(&certloop, &leaky, &fixture("leaky.py"), isolation, 20, params).await;
    let corp =
        profile(&certloop, "corp-ca", &example("corp_ca.py"), isolation, 30, corp_params(&ca_dir))
            .await;

    let (events, error) =
        capture_tracing(&leaky, certloop.issue(request(&leaky, "host.corp", &[]))).await;
    let error = error.unwrap_err();
    let (exception, message, traceback, _) = script_error(&error);
    assert_eq!(exception, Some("PermissionError"));
    assert_eq!(message, "login refused for password ********");
    let mut shown = vec![
        error.to_string(),
        format!("{error:?}"),
        traceback.unwrap_or_default().to_owned(),
        format!("{saved:?}"),
        serde_json::to_string(&saved).unwrap(),
        format!("{corp:?}"),
        serde_json::to_string(&certloop.get_profile(&leaky).await.unwrap()).unwrap(),
        serde_json::to_string(&certloop.list_profiles().await.unwrap()).unwrap(),
        serde_json::to_string(&certloop.audit_log(&AuditQuery::default()).await.unwrap()).unwrap(),
    ];
    // What the script printed and logged reached tracing, with the profile, redacted.
    let logged = events.join("\n");
    assert!(logged.contains("connecting with password ********"), "{logged}");
    assert!(logged.contains("WARNING leaky: password='********'"), "{logged}");
    assert!(logged.contains(&format!("profile={leaky}")), "{logged}");
    shown.push(logged);
    // A saved profile shows the mask; saving it back as shown keeps the sealed value.
    let shown_profile =
        serde_json::to_value(certloop.get_profile("corp-ca").await.unwrap()).unwrap();
    assert_eq!(shown_profile["issuer"]["params"][1]["value"], "********");
    let round_trip: CertificateProfile = serde_json::from_value(shown_profile).unwrap();
    certloop.save_profile(round_trip).await.unwrap();
    certloop.issue(request("corp-ca", "host.corp", &[("ticket", "CHG-7")])).await.unwrap();

    for text in &shown {
        assert!(!text.contains(SECRET), "the secret leaked: {text}");
        assert!(!text.contains("hunter2"), "part of the secret leaked: {text}");
    }
    // Nothing in the state directory (database, WAL, master key) holds it in clear.
    drop(certloop);
    for entry in std::fs::read_dir(scratch.path().join("state")).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let found = bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes());
        assert!(!found, "{} holds the secret in clear", path.display());
    }
}

/// Every tracing event of this test binary, one line each: a process-global subscriber,
/// installed before the first test issues anything. (A thread-local one was flaky: callsites
/// registered by other test threads could keep a cached "never" interest, and events emitted
/// on another thread never reached it.)
fn captured_events() -> Arc<Mutex<Vec<String>>> {
    static EVENTS: std::sync::OnceLock<Arc<Mutex<Vec<String>>>> = std::sync::OnceLock::new();
    EVENTS
        .get_or_init(|| {
            let events = Arc::new(Mutex::new(Vec::new()));
            tracing::subscriber::set_global_default(Lines { events: events.clone() })
                .expect("this test binary installs no other global subscriber");
            events
        })
        .clone()
}

/// Run `future` and return the events logged for `profile` (tests run concurrently, so the
/// lines are picked by the profile field every script log line carries).
async fn capture_tracing<F: std::future::Future>(
    profile: &str,
    future: F,
) -> (Vec<String>, F::Output) {
    let events = captured_events();
    let output = future.await;
    let marker = format!("profile={profile}");
    let lines =
        events.lock().unwrap().iter().filter(|line| line.contains(&marker)).cloned().collect();
    (lines, output)
}

struct Lines {
    events: Arc<Mutex<Vec<String>>>,
}

struct Fields(String);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!(" {}={value:?}", field.name()));
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.push_str(&format!(" {}={value}", field.name()));
    }
}

impl tracing::Subscriber for Lines {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut fields = Fields(event.metadata().target().to_owned());
        event.record(&mut fields);
        self.events.lock().unwrap().push(fields.0);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[tokio::test]
async fn profile_definitions_are_checked() {
    let scratch = Scratch::new();
    let certloop = open(&scratch).await;
    let bad = |issuer: serde_json::Value| {
        serde_json::from_value::<CertificateProfile>(serde_json::json!({
            "slug": "bad", "templateId": "tls-server", "issuer": issuer,
        }))
        .unwrap()
    };
    let missing =
        bad(serde_json::json!({"type": "script", "path": scratch.path().join("nope.py")}));
    let error = certloop.save_profile(missing).await.unwrap_err();
    assert!(
        matches!(&error, Error::InvalidInput { field, .. } if field == "issuer.path"),
        "{error}"
    );
    let dynamic_with_value = bad(serde_json::json!({
        "type": "script", "path": example("corp_ca.py"),
        "params": [{"name": "ticket", "value": "x", "dynamic": true}],
    }));
    let error = certloop.save_profile(dynamic_with_value).await.unwrap_err();
    assert!(error.to_string().contains("issuer.params[0].value"), "{error}");
    // A masked value with nothing sealed behind it.
    let masked = bad(serde_json::json!({
        "type": "script", "path": example("corp_ca.py"),
        "params": [{"name": "password", "value": "********", "sensitive": true}],
    }));
    let error = certloop.save_profile(masked).await.unwrap_err();
    assert!(error.to_string().contains("give the real value"), "{error}");
    // Connector parameters for an issuer that takes none.
    certloop.init_default().await.unwrap();
    let mut plain = request("tls-server", "host.corp", &[("ticket", "CHG-1")]);
    plain.profile_id = None;
    let error = certloop.issue(plain).await.unwrap_err();
    assert!(
        matches!(&error, Error::InvalidInput { field, .. } if field == "connectorParams"),
        "{error}"
    );
}

#[tokio::test]
async fn scripts_can_be_confined_to_a_directory() {
    let scratch = Scratch::new();
    let allowed = scratch.path().join("scripts");
    std::fs::create_dir(&allowed).unwrap();
    let inside = allowed.join("corp_ca.py");
    std::fs::copy(example("corp_ca.py"), &inside).unwrap();
    let certloop = open(&scratch).await.with_script_root(&allowed).unwrap();
    let profile_for = |path: &Path| {
        serde_json::from_value::<CertificateProfile>(serde_json::json!({
            "slug": "corp-ca", "templateId": "tls-server",
            "issuer": {"type": "script", "path": path},
        }))
        .unwrap()
    };
    let outside = certloop.save_profile(profile_for(&example("corp_ca.py"))).await.unwrap_err();
    assert!(
        matches!(&outside, Error::InvalidInput { field, .. } if field == "issuer.path"),
        "{outside}"
    );
    assert!(outside.to_string().contains("outside the script directory"), "{outside}");
    // `..` does not get out either.
    std::fs::copy(example("corp_ca.py"), scratch.path().join("outside.py")).unwrap();
    let escape = certloop.save_profile(profile_for(&allowed.join("../outside.py"))).await;
    assert!(escape.unwrap_err().to_string().contains("outside the script directory"));
    let saved = certloop.save_profile(profile_for(&allowed.join("./corp_ca.py"))).await.unwrap();
    let stored = serde_json::to_value(&saved).unwrap();
    let canonical = std::fs::canonicalize(&inside).unwrap();
    assert_eq!(stored["issuer"]["path"], canonical.to_str().unwrap());
}

/// The `cryptography`-based example CA; run by scripts/stages/60-script.sh with
/// `CERTLOOP_TEST_PYTHON` naming a venv interpreter that has `cryptography`.
#[tokio::test]
#[ignore = "needs CERTLOOP_TEST_PYTHON with the cryptography package (scripts/stages/60-script.sh)"]
async fn cryptography_ca_in_a_venv_process() {
    let python = std::env::var("CERTLOOP_TEST_PYTHON").expect("CERTLOOP_TEST_PYTHON is set");
    let scratch = Scratch::new();
    let certloop = open(&scratch).await;
    let json = serde_json::json!({
        "slug": "external", "templateId": "tls-server",
        "issuer": {"type": "script", "path": example("crypto_ca.py"), "isolation": "process",
                   "interpreter": python, "params": [{"name": "days", "value": "20"}]},
    });
    certloop.save_profile(serde_json::from_value(json).unwrap()).await.unwrap();
    cryptography_round(&scratch, &certloop).await;
}

async fn cryptography_round(scratch: &Scratch, certloop: &Certloop) {
    let mut req = request("external", "api.example", &[]);
    req.attributes.alt_names = Some(vec![
        certloop::model::SubjectAltName::dns("api.example"),
        certloop::model::SubjectAltName::dns("api2.example"),
    ]);
    let first = certloop.issue(req.clone()).await.unwrap();
    let second = certloop.issue(req).await.unwrap();
    verify(scratch, &first);
    verify(scratch, &second);
    // One CA per loaded module: both certificates chain to the same root.
    assert_eq!(first.issuing_ca_certificate, second.issuing_ca_certificate);
    let text =
        openssl(scratch.path(), &["x509", "-in", "leaf.pem", "-noout", "-ext", "subjectAltName"]);
    assert!(text.stdout.contains("DNS:api2.example"), "{}", text.stdout);
}

macro_rules! in_mode {
    ($mode:ident, $isolation:literal) => {
        mod $mode {
            #[tokio::test]
            async fn issues_verifies_and_keeps_the_module_loaded() {
                super::issues_verifies_and_keeps_the_module_loaded($isolation).await;
            }

            #[tokio::test]
            async fn parameters_and_policy_are_checked_before_the_script_runs() {
                super::parameters_and_policy_are_checked_before_the_script_runs($isolation).await;
            }

            #[tokio::test]
            async fn timeouts_fail_the_call_and_the_host_stays_healthy() {
                super::timeouts_fail_the_call_and_the_host_stays_healthy($isolation).await;
            }

            #[tokio::test]
            async fn every_bad_script_is_a_clear_error() {
                super::every_bad_script_is_a_clear_error($isolation).await;
            }

            #[tokio::test]
            async fn sensitive_values_never_leak() {
                super::sensitive_values_never_leak($isolation).await;
            }
        }
    };
}

in_mode!(process, "process");
#[cfg(feature = "python")]
in_mode!(in_process, "inProcess");

/// The `cryptography` example in the embedded interpreter (`PYTHONPATH` names the venv's
/// site-packages); run by scripts/stages/60-script.sh.
#[cfg(feature = "python")]
#[tokio::test]
#[ignore = "needs the cryptography package on PYTHONPATH (scripts/stages/60-script.sh)"]
async fn cryptography_ca_in_process() {
    let scratch = Scratch::new();
    let certloop = open(&scratch).await;
    let json = serde_json::json!({
        "slug": "external", "templateId": "tls-server",
        "issuer": {"type": "script", "path": example("crypto_ca.py"), "isolation": "inProcess"},
    });
    certloop.save_profile(serde_json::from_value(json).unwrap()).await.unwrap();
    cryptography_round(&scratch, &certloop).await;
}

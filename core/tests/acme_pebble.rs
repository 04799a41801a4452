//! ACME against a real Pebble (with pebble-challtestsrv as its DNS), started on loopback by
//! `scripts/stages/50-acme.sh`, which sets the environment these tests read. Without it they
//! print why and pass vacuously; the stage always sets it.

use std::path::{Path, PathBuf};
use std::process::Command;

use certloop::model::{IssueRequest, RevocationReason, SubjectAltName};
use certloop::policy::CertificateProfile;
use certloop::{Certloop, Error, ErrorKind, OrderStatus};

struct Env {
    directory: String,
    management: String,
    eab_directory: String,
    eab_kid: String,
    eab_key_file: String,
    tls_root: String,
    root: String,
    webroot: PathBuf,
    webroot_addr: String,
    standalone_addr: String,
    dns_hook: String,
}

fn env() -> Option<Env> {
    let get = |name: &str| std::env::var(name).ok();
    let env = (|| {
        Some(Env {
            directory: get("CERTLOOP_ACME_DIRECTORY")?,
            management: get("CERTLOOP_ACME_MANAGEMENT")?,
            eab_directory: get("CERTLOOP_ACME_EAB_DIRECTORY")?,
            eab_kid: get("CERTLOOP_ACME_EAB_KID")?,
            eab_key_file: get("CERTLOOP_ACME_EAB_KEY_FILE")?,
            tls_root: get("CERTLOOP_ACME_TLS_ROOT")?,
            root: get("CERTLOOP_ACME_ROOT")?,
            webroot: get("CERTLOOP_ACME_WEBROOT")?.into(),
            webroot_addr: get("CERTLOOP_ACME_WEBROOT_ADDR")?,
            standalone_addr: get("CERTLOOP_ACME_STANDALONE_ADDR")?,
            dns_hook: get("CERTLOOP_ACME_DNS_HOOK")?,
        })
    })();
    if env.is_none() {
        eprintln!(
            "skipped: CERTLOOP_ACME_* not set; run `bash scripts/stages/50-acme.sh` to start \
             Pebble and run these tests"
        );
    }
    env
}

async fn open(dir: &Path) -> Certloop {
    let certloop = Certloop::open(dir).await.unwrap();
    certloop.init_default().await.unwrap();
    certloop
}

async fn acme_profile(
    certloop: &Certloop,
    slug: &str,
    directory: &str,
    env: &Env,
    extra: serde_json::Value,
) {
    let mut issuer = serde_json::json!({
        "type": "acme",
        "directoryUrl": directory,
        "caRoots": env.tls_root,
        "email": "ops@example.com",
        "validationTimeoutSecs": 60,
    });
    for (k, v) in extra.as_object().unwrap() {
        issuer[k] = v.clone();
    }
    let profile: CertificateProfile = serde_json::from_value(serde_json::json!({
        "slug": slug, "templateId": "tls-server", "issuer": issuer,
    }))
    .unwrap();
    certloop.save_profile(profile).await.unwrap();
}

fn request(profile: &str, names: &[SubjectAltName]) -> IssueRequest {
    let mut request = IssueRequest { profile_id: Some(profile.into()), ..Default::default() };
    request.attributes.alt_names = Some(names.to_vec());
    request
}

/// `openssl verify` of the leaf with the chain against Pebble's root.
fn openssl_verify(env: &Env, certificate: &str, chain: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (leaf, untrusted) = (dir.path().join("leaf.pem"), dir.path().join("chain.pem"));
    std::fs::write(&leaf, certificate).unwrap();
    std::fs::write(&untrusted, chain).unwrap();
    let out = Command::new("openssl")
        .args(["verify", "-CAfile", &env.root, "-untrusted"])
        .arg(&untrusted)
        .arg(&leaf)
        .output()
        .unwrap();
    assert!(out.status.success(), "openssl verify: {}", String::from_utf8_lossy(&out.stderr));
}

/// Pebble's management API's view of a serial: `"Valid"` or `"Revoked"`.
fn pebble_status(env: &Env, serial: &str) -> String {
    let url = format!("{}/cert-status-by-serial/{serial}", env.management);
    let out = Command::new("curl").args(["-sfk", &url]).output().unwrap();
    assert!(out.status.success(), "curl {url}: {}", String::from_utf8_lossy(&out.stderr));
    let body: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    body["Status"].as_str().unwrap_or_default().to_owned()
}

fn webroot_solver(env: &Env) -> serde_json::Value {
    serde_json::json!({"solver": {"type": "http01-webroot", "path": env.webroot,
        "selfCheck": {"connectTo": env.webroot_addr, "timeoutSecs": 5}}})
}

#[tokio::test]
async fn http01_webroot_issue_renew_revoke() {
    let Some(env) = env() else { return };
    let dir = tempfile::tempdir().unwrap();
    let certloop = open(dir.path()).await;
    acme_profile(&certloop, "le", &env.directory, &env, webroot_solver(&env)).await;

    let issued =
        certloop.issue(request("le", &[SubjectAltName::dns("web.certloop.test")])).await.unwrap();
    openssl_verify(&env, &issued.certificate, &issued.certificate_chain);
    assert!(issued.private_key.is_some(), "the library generated the key");
    let record = certloop.show(&issued.certificate_id).await.unwrap();
    assert_eq!(record.alt_names, vec![SubjectAltName::dns("web.certloop.test")]);
    assert_eq!(pebble_status(&env, &issued.serial_number), "Valid");
    // The account is reused: one stored account for this directory.
    assert_eq!(certloop.acme_accounts().await.unwrap().len(), 1);

    let renewed = certloop.renew(&issued.certificate_id).await.unwrap();
    assert_ne!(renewed.serial_number, issued.serial_number);
    openssl_verify(&env, &renewed.certificate, &renewed.certificate_chain);
    assert_eq!(certloop.acme_accounts().await.unwrap().len(), 1);
    // Pebble 2.4 offers no ARI: nothing is stored, and nothing fails.
    assert_eq!(certloop.acme_renewal_window(&renewed.certificate_id).await.unwrap(), None);

    let revoked =
        certloop.revoke(&issued.certificate_id, RevocationReason::KeyCompromise).await.unwrap();
    assert_eq!(revoked.state.as_str(), "revoked");
    assert_eq!(pebble_status(&env, &issued.serial_number), "Revoked");
    assert_eq!(pebble_status(&env, &renewed.serial_number), "Valid");
}

#[tokio::test]
async fn dns01_wildcard_through_the_hook() {
    let Some(env) = env() else { return };
    let dir = tempfile::tempdir().unwrap();
    let certloop = open(dir.path()).await;
    let solver = serde_json::json!({"solver": {"type": "dns01-hook", "command": env.dns_hook}});
    acme_profile(&certloop, "dns", &env.directory, &env, solver).await;
    let names =
        [SubjectAltName::dns("*.wild.certloop.test"), SubjectAltName::dns("wild.certloop.test")];
    let issued = certloop.issue(request("dns", &names)).await.unwrap();
    openssl_verify(&env, &issued.certificate, &issued.certificate_chain);
    let record = certloop.show(&issued.certificate_id).await.unwrap();
    assert!(record.alt_names.contains(&SubjectAltName::dns("*.wild.certloop.test")));
}

#[tokio::test]
async fn eab_and_standalone_responder_for_an_ip_identifier() {
    let Some(env) = env() else { return };
    let dir = tempfile::tempdir().unwrap();
    let certloop = open(dir.path()).await;
    let extra = serde_json::json!({
        "eab": {"kid": env.eab_kid, "hmacKeyFile": env.eab_key_file},
        "solver": {"type": "http01-standalone", "listen": env.standalone_addr},
    });
    acme_profile(&certloop, "eab", &env.eab_directory, &env, extra).await;
    let account = certloop.acme_register("eab").await.unwrap();
    assert_eq!(account.eab_kid.as_deref(), Some(env.eab_kid.as_str()));
    let issued = certloop
        .issue(request("eab", &[SubjectAltName::ip("127.0.0.1".parse().unwrap())]))
        .await
        .unwrap();
    let record = certloop.show(&issued.certificate_id).await.unwrap();
    assert_eq!(record.alt_names, vec![SubjectAltName::ip("127.0.0.1".parse().unwrap())]);
    // The responder stopped after cleanup: the port is free again.
    assert!(std::net::TcpListener::bind(&env.standalone_addr).is_ok());
}

#[tokio::test]
async fn manual_fallback_survives_a_restart_and_resumes() {
    let Some(env) = env() else { return };
    let dir = tempfile::tempdir().unwrap();
    let order_id = {
        let certloop = open(dir.path()).await;
        // A web root that does not exist: the provisioning document's "path invalid" case.
        let solver = serde_json::json!({"solver": {"type": "http01-webroot",
            "path": dir.path().join("no-such-webroot")}});
        acme_profile(&certloop, "fallback", &env.directory, &env, solver).await;
        let err = certloop
            .issue(request("fallback", &[SubjectAltName::dns("manual.certloop.test")]))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::PendingValidation, "{err}");
        let Error::PendingValidation { order_id, instructions } = err else { unreachable!() };
        assert!(instructions.contains("does not exist"), "{instructions}");
        assert!(instructions.contains(".well-known/acme-challenge/"), "{instructions}");
        order_id
    }; // the process "exits": everything is dropped

    let certloop = Certloop::open(dir.path()).await.unwrap();
    let order = certloop.get_order(&order_id).await.unwrap();
    assert_eq!(order.status, OrderStatus::PendingValidation);
    // The person follows the instructions.
    for step in &order.instructions.steps {
        let certloop::dcv::ManualStep::HttpFile { path, content, .. } = step else {
            panic!("expected an HTTP file step: {step:?}")
        };
        let file = env.webroot.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, content).unwrap();
    }
    let issued = certloop.resume_order(&order_id).await.unwrap();
    assert!(issued.private_key.is_some(), "the sealed key comes back once");
    openssl_verify(&env, &issued.certificate, &issued.certificate_chain);
    let order = certloop.get_order(&order_id).await.unwrap();
    assert_eq!(order.status, OrderStatus::Completed);
    assert_eq!(order.certificate_id.as_deref(), Some(issued.certificate_id.as_str()));
    let again = certloop.resume_order(&order_id).await.unwrap_err();
    assert_eq!(again.kind(), ErrorKind::InvalidState);
}

#[tokio::test]
async fn symlinked_challenge_dir_is_refused_and_falls_back() {
    let Some(env) = env() else { return };
    let dir = tempfile::tempdir().unwrap();
    let webroot = dir.path().join("www");
    let outside = dir.path().join("outside");
    std::fs::create_dir_all(webroot.join(".well-known")).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, webroot.join(".well-known/acme-challenge")).unwrap();
    let certloop = open(&dir.path().join("state")).await;
    let solver = serde_json::json!({"solver": {"type": "http01-webroot", "path": webroot}});
    acme_profile(&certloop, "confined", &env.directory, &env, solver).await;
    let err = certloop
        .issue(request("confined", &[SubjectAltName::dns("confined.certloop.test")]))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PendingValidation, "{err}");
    assert!(err.to_string().contains("outside the web root"), "{err}");
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0, "nothing written outside");
}

#[tokio::test]
async fn unreachable_web_server_falls_back_to_manual() {
    let Some(env) = env() else { return };
    let dir = tempfile::tempdir().unwrap();
    let certloop = open(dir.path()).await;
    // The web root is fine but the self-check reaches no server: "server not reachable".
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let solver = serde_json::json!({"solver": {"type": "http01-webroot", "path": env.webroot,
        "selfCheck": {"connectTo": dead.to_string(), "timeoutSecs": 2}}});
    acme_profile(&certloop, "unreachable", &env.directory, &env, solver).await;
    let err = certloop
        .issue(request("unreachable", &[SubjectAltName::dns("dark.certloop.test")]))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PendingValidation, "{err}");
    assert!(
        err.to_string().contains("self-check") || err.to_string().contains(&dead.to_string()),
        "{err}"
    );
    let orders = certloop.list_orders().await.unwrap();
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].names, vec!["dark.certloop.test".to_owned()]);
    // The token written for the self-check was removed again.
    let token_dir = env.webroot.join(".well-known/acme-challenge");
    let token = match &orders[0].instructions.steps[0] {
        certloop::dcv::ManualStep::HttpFile { path, .. } => env.webroot.join(path),
        other => panic!("expected an HTTP file step: {other:?}"),
    };
    assert!(token.starts_with(&token_dir) && !token.exists(), "{}", token.display());
}

#[tokio::test]
async fn error_cases_are_typed_and_terminal_ones_are_not_retried() {
    let Some(env) = env() else { return };
    let dir = tempfile::tempdir().unwrap();
    let certloop = open(dir.path()).await;

    // Unreachable directory: a retryable CA error after bounded attempts.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let extra = serde_json::json!({"maxAttempts": 2, "timeoutSecs": 5});
    acme_profile(&certloop, "down", &format!("https://127.0.0.1:{port}/dir"), &env, extra).await;
    let err = certloop.acme_register("down").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Ca, "{err}");
    assert!(err.is_retryable(), "{err}");

    // Wrong EAB key: the CA's problem document, terminal.
    let bad_key = dir.path().join("bad-eab.key");
    std::fs::write(&bad_key, "c2VjcmV0LWJ1dC13cm9uZy1rZXktdmFsdWUtMDEyMzQ1Njc4OQ").unwrap();
    let extra = serde_json::json!({"eab": {"kid": env.eab_kid, "hmacKeyFile": bad_key}});
    acme_profile(&certloop, "bad-eab", &env.eab_directory, &env, extra).await;
    let err = certloop.acme_register("bad-eab").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Ca, "{err}");
    assert!(!err.is_retryable(), "{err}");
    assert!(err.to_string().contains("urn:ietf:params:acme:error:"), "{err}");

    // EAB required but not given.
    acme_profile(&certloop, "no-eab", &env.eab_directory, &env, serde_json::json!({})).await;
    let err = certloop.acme_register("no-eab").await.unwrap_err();
    assert!(err.to_string().contains("externalAccountRequired"), "{err}");

    // Rejected identifier (on Pebble's domainBlocklist): reported at once with the problem type.
    acme_profile(&certloop, "reject", &env.directory, &env, webroot_solver(&env)).await;
    let err = certloop
        .issue(request("reject", &[SubjectAltName::dns("blocked.certloop.test")]))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Ca, "{err}");
    assert!(!err.is_retryable(), "{err}");
    assert!(err.to_string().contains("rejectedIdentifier"), "{err}");
}

//! `certloop issue --format/--target`, `target`, `deploy` and `pin-check` through the real
//! binary: exit codes 0, 8 and 9, keystores read by openssl, passwords never printed. The
//! nginx part runs when `scripts/stages/40-deploy.sh` provides nginx (it prints why it skips
//! otherwise).

mod common;

use common::{certloop, json, ok, text};
use std::path::Path;
use std::process::Command;

fn openssl_ok(args: &[&str]) -> String {
    let out = Command::new("openssl").args(args).output().expect("openssl runs");
    assert!(out.status.success(), "openssl {args:?}: {}", text(&out));
    text(&out)
}

#[test]
fn issue_writes_pkcs12_jks_and_kubernetes_keystores() {
    let work = tempfile::tempdir().unwrap();
    let home = work.path().join("state");
    let p12 = work.path().join("p12");
    let out = ok(
        &home,
        &[
            "issue",
            "--cn",
            "app.example",
            "--format",
            "pkcs12",
            "--password",
            "changeit",
            "--alias",
            "app",
            "--out",
            p12.to_str().unwrap(),
        ],
    );
    assert!(out.contains("keystore.p12") && !out.contains("changeit"), "{out}");
    let dump = openssl_ok(&[
        "pkcs12",
        "-in",
        p12.join("keystore.p12").to_str().unwrap(),
        "-passin",
        "pass:changeit",
        "-nodes",
    ]);
    assert!(dump.contains("friendlyName: app") && dump.contains("BEGIN PRIVATE KEY"), "{dump}");

    let k8s = work.path().join("k8s");
    ok(
        &home,
        &[
            "issue",
            "--cn",
            "app.example",
            "--format",
            "k8s",
            "--namespace",
            "web",
            "--out",
            k8s.to_str().unwrap(),
        ],
    );
    let manifest = std::fs::read_to_string(k8s.join("secret.yaml")).unwrap();
    assert!(
        manifest.contains("type: kubernetes.io/tls") && manifest.contains("name: app-example-tls"),
        "{manifest}"
    );

    // JKS without a password is a usage error (exit 2) and writes nothing.
    let jks = work.path().join("jks");
    let refused = certloop(
        &home,
        &["issue", "--cn", "app.example", "--format", "jks", "--out", jks.to_str().unwrap()],
    );
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(!jks.exists());
}

#[test]
fn targets_deploy_and_rollback_with_exit_code_8() {
    let work = tempfile::tempdir().unwrap();
    let home = work.path().join("state");
    let files = work.path().join("files");
    // Commands are stored and shown as written: a password they need comes from a file.
    let pass = work.path().join("pass.txt");
    std::fs::write(&pass, "Sup3r-secret\n").unwrap();
    let passin = format!("file:{}", pass.display());
    let target = serde_json::json!({
        "name": "files", "type": "generic",
        "keystore": {"format": "pkcs12", "path": files.join("app.p12"), "password": "Sup3r-secret"},
        // openssl reads the keystore it is given: a real config test of the written file.
        "testCommand": ["openssl", "pkcs12", "-in", files.join("app.p12"), "-passin", passin, "-noout"]
    });
    let target_file = work.path().join("target.json");
    std::fs::write(&target_file, target.to_string()).unwrap();
    let saved = ok(&home, &["--json", "target", "add", "--file", target_file.to_str().unwrap()]);
    assert!(!saved.contains("Sup3r-secret") && saved.contains("[redacted]"), "{saved}");
    let listed = ok(&home, &["target", "list"]);
    assert!(listed.contains("files") && listed.contains("generic"), "{listed}");

    let issued = json(&ok(&home, &["--json", "issue", "--cn", "a.example", "--target", "files"]));
    assert_eq!(issued["deployment"]["success"], true, "{issued}");
    assert!(issued.get("privateKey").is_none(), "the kept key is not printed");
    let id = issued["certificateId"].as_str().unwrap().to_owned();
    assert_eq!(json(&ok(&home, &["--json", "show", &id]))["state"], "deployed");
    let first = std::fs::read(files.join("app.p12")).unwrap();

    // The same target with a config test that fails: exit 8, the previous file is back.
    let broken = serde_json::json!({
        "name": "files", "type": "generic",
        "keystore": {"format": "pkcs12", "path": files.join("app.p12"), "password": "Sup3r-secret"},
        "testCommand": ["openssl", "pkcs12", "-in", files.join("app.p12"), "-passin", "pass:wrong", "-noout"]
    });
    std::fs::write(&target_file, broken.to_string()).unwrap();
    ok(&home, &["target", "add", "--file", target_file.to_str().unwrap()]);
    let out = certloop(&home, &["deploy", &id, "--target", "files"]);
    assert_eq!(out.status.code(), Some(8), "{}", text(&out));
    assert!(
        text(&out).contains("failed at configTest") && text(&out).contains("rollback ok"),
        "{}",
        text(&out)
    );
    assert_eq!(
        std::fs::read(files.join("app.p12")).unwrap(),
        first,
        "the previous keystore is restored"
    );
    // --no-rollback leaves the new file in place.
    let out = certloop(&home, &["--json", "deploy", &id, "--target", "files", "--no-rollback"]);
    assert_eq!(out.status.code(), Some(8));
    let report = json(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(report["rolledBack"], false);
    assert_ne!(std::fs::read(files.join("app.p12")).unwrap(), first);

    // A certificate whose key was not kept cannot be deployed (exit 7, conflict).
    let plain = json(&ok(&home, &["--json", "issue", "--cn", "b.example"]));
    let out =
        certloop(&home, &["deploy", plain["certificateId"].as_str().unwrap(), "--target", "files"]);
    assert_eq!(out.status.code(), Some(7), "{}", text(&out));
    ok(&home, &["target", "remove", "files"]);
    assert_eq!(certloop(&home, &["target", "show", "files"]).status.code(), Some(4));
}

#[test]
fn nginx_issue_with_target_and_pin_check_exit_codes() {
    let (Ok(dir), Ok(port)) =
        (std::env::var("CERTLOOP_TEST_NGINX_DIR"), std::env::var("CERTLOOP_TEST_NGINX_PORT"))
    else {
        eprintln!(
            "skipped: CERTLOOP_TEST_NGINX_DIR/PORT not set (scripts/stages/40-deploy.sh sets them)"
        );
        return;
    };
    let dir = Path::new(&dir);
    let work = tempfile::tempdir().unwrap();
    let home = work.path().join("state");
    let nginx = |extra: &[&str]| {
        let mut argv: Vec<String> = vec!["nginx".into()];
        argv.extend(extra.iter().map(|s| (*s).to_owned()));
        argv.extend([
            "-p".into(),
            dir.display().to_string(),
            "-c".into(),
            dir.join("nginx.conf").display().to_string(),
        ]);
        argv
    };
    let endpoint = format!("127.0.0.1:{port}");
    let target = serde_json::json!({
        "name": "web1", "type": "nginx",
        "certPath": dir.join("tls/fullchain.pem"), "keyPath": dir.join("tls/key.pem"),
        "testCommand": nginx(&["-t"]), "reloadCommand": nginx(&["-s", "reload"]),
        "endpoint": endpoint, "pinIntervalMs": 250, "pinAttempts": 20
    });
    let target_file = work.path().join("web1.json");
    std::fs::write(&target_file, target.to_string()).unwrap();
    ok(&home, &["target", "add", "--file", target_file.to_str().unwrap()]);

    let other =
        json(&ok(&home, &["--json", "issue", "--cn", "other.example", "--san", "DNS:localhost"]));
    let issued =
        ok(&home, &["issue", "--cn", "web.example", "--san", "DNS:localhost", "--target", "web1"]);
    assert!(issued.contains("deployed"), "{issued}");
    let id = issued.split_whitespace().nth(2).unwrap().to_owned();
    let matched = json(&ok(&home, &["--json", "pin-check", &id, "--endpoint", &endpoint]));
    assert_eq!(matched["matches"], true, "{matched}");
    // A certificate that is not the one served: exit 9, both fingerprints printed.
    let out = certloop(
        &home,
        &["pin-check", other["certificateId"].as_str().unwrap(), "--endpoint", &endpoint],
    );
    assert_eq!(out.status.code(), Some(9), "{}", text(&out));
    assert!(
        text(&out).contains("MISMATCH")
            && text(&out).contains(matched["servedSha256"].as_str().unwrap())
    );
    // Nothing listens: an I/O error (exit 6), not a mismatch.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    let out =
        certloop(&home, &["pin-check", &id, "--endpoint", &format!("127.0.0.1:{closed_port}")]);
    assert_eq!(out.status.code(), Some(6), "{}", text(&out));
}

//! The README's journey, through the real `certloop` binary and the real `openssl`.

mod common;

use common::{certloop, json, ok, text};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

fn openssl(dir: &Path, args: &[&str]) -> Output {
    Command::new("openssl").args(args).current_dir(dir).output().expect("openssl runs")
}

#[test]
fn zero_config_issue_list_revoke_and_crl() {
    let work = tempfile::tempdir().unwrap();
    let home = work.path().join("state");
    let out = work.path().join("certs");
    let out_arg = out.to_str().unwrap();

    // First run on an empty directory: the default CA and profile appear, then the issue.
    ok(&home, &["issue", "--cn", "demo.internal", "--out", out_arg]);
    for file in ["cert.pem", "chain.pem", "fullchain.pem", "ca.pem", "key.pem"] {
        assert!(out.join(file).is_file(), "{file} written");
    }
    let key_mode = std::fs::metadata(out.join("key.pem")).unwrap().permissions().mode() & 0o777;
    assert_eq!(key_mode, 0o600);
    let verify =
        openssl(&out, &["verify", "-CAfile", "ca.pem", "-untrusted", "chain.pem", "cert.pem"]);
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stderr));
    let fullchain = std::fs::read_to_string(out.join("fullchain.pem")).unwrap();
    assert_eq!(fullchain.matches("BEGIN CERTIFICATE").count(), 2, "leaf + intermediate, no root");
    let chain = std::fs::read_to_string(out.join("chain.pem")).unwrap();
    assert_eq!(chain.matches("BEGIN CERTIFICATE").count(), 2, "intermediate + root");

    let listed = json(&ok(&home, &["list", "--json"]));
    let records = listed.as_array().unwrap();
    assert_eq!(records.len(), 1);
    let record = &records[0];
    for field in [
        "certificateId",
        "commonName",
        "altNames",
        "serialNumber",
        "notBefore",
        "notAfter",
        "state",
        "profileId",
        "fingerprintSha256",
    ] {
        assert!(record.get(field).is_some(), "list --json has {field}: {record}");
    }
    assert_eq!(record["commonName"], "demo.internal");
    assert_eq!(record["state"], "issued");
    let id = record["certificateId"].as_str().unwrap().to_owned();
    let serial = record["serialNumber"].as_str().unwrap().to_ascii_uppercase();

    ok(&home, &["revoke", &id, "--reason", "keyCompromise"]);
    let shown = json(&ok(&home, &["show", &id, "--json"]));
    assert_eq!(shown["state"], "revoked");

    let crl = work.path().join("crl.pem");
    ok(&home, &["crl", "--out", crl.to_str().unwrap()]);
    let text = openssl(work.path(), &["crl", "-in", "crl.pem", "-noout", "-text"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains(serial.trim_start_matches('0')), "CRL lists {serial}:\n{text}");

    let audit = json(&ok(&home, &["audit", "--json"]));
    let actions: Vec<&str> =
        audit.as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
    assert!(
        actions.contains(&"issued")
            && actions.contains(&"revoked")
            && actions.contains(&"crlSigned"),
        "{actions:?}"
    );
}

#[test]
fn issue_json_is_the_infisical_shape_and_sans_flags_work() {
    let work = tempfile::tempdir().unwrap();
    let home = work.path().join("state");
    let issued = json(&ok(
        &home,
        &[
            "issue",
            "--cn",
            "api.internal",
            "--san",
            "DNS:www.api.internal",
            "--san",
            "IP:127.0.0.1",
            "--ttl",
            "30d",
            "--key-alg",
            "EC_secp384r1",
            "--json",
        ],
    ));
    for field in [
        "certificate",
        "certificateChain",
        "issuingCaCertificate",
        "privateKey",
        "serialNumber",
        "certificateId",
        "certificateRequestId",
    ] {
        assert!(issued.get(field).is_some(), "issue --json has {field}");
    }
    let shown = json(&ok(&home, &["show", issued["certificateId"].as_str().unwrap(), "--json"]));
    let sans: Vec<String> = shown["altNames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| format!("{}:{}", s["type"].as_str().unwrap(), s["value"].as_str().unwrap()))
        .collect();
    assert_eq!(sans, ["DNS:api.internal", "DNS:www.api.internal", "IP:127.0.0.1"]);
    assert_eq!(shown["keyAlgorithm"], "EC_secp384r1");
    assert!(shown.get("privateKey").is_none(), "show never returns a key");
}

#[test]
fn exit_codes_let_a_pipeline_branch() {
    let work = tempfile::tempdir().unwrap();
    let home = work.path().join("state");
    ok(&home, &["init"]);
    let code = |args: &[&str]| certloop(&home, args).status.code();
    assert_eq!(
        code(&["issue", "--cn", "a.internal", "--key-alg", "RSA_1000"]),
        Some(2),
        "invalid input"
    );
    assert_eq!(
        code(&["issue", "--cn", "a.internal", "--ttl", "5000d"]),
        Some(3),
        "policy violation"
    );
    assert_eq!(code(&["show", "nope"]), Some(4), "not found");
    assert_eq!(
        code(&["issue", "--cn", "a.internal", "--profile", "nope"]),
        Some(4),
        "unknown profile"
    );
    assert_eq!(
        code(&["issue", "--csr", work.path().join("missing.csr").to_str().unwrap()]),
        Some(6),
        "I/O"
    );
    assert_eq!(code(&["frobnicate"]), Some(2), "usage");

    let policy = certloop(&home, &["issue", "--cn", "a.internal", "--ttl", "5000d", "--json"]);
    let body = json(&String::from_utf8_lossy(&policy.stderr));
    assert_eq!(body["error"]["code"], "POLICY_VIOLATION");
    assert_eq!(body["error"]["violations"][0]["field"], "attributes.ttl");
}

#[test]
fn a_reader_that_closes_the_pipe_early_ends_the_output_quietly() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let work = tempfile::tempdir().unwrap();
    let home = work.path().join("state");
    // Enough records that `list --json` overflows the pipe buffer and must block on the reader.
    ok(&home, &["issue", "--cn", "many.internal", "--count", "300"]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_certloop"))
        .args(["list", "--json"])
        .env("CERTLOOP_HOME", &home)
        .env_remove("CERTLOOP_MASTER_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("certloop runs");
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    assert_eq!(first.trim(), "[");
    // The reader is dropped here, like `| head -1`.
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}: {stderr}", out.status.code());
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_store_given_by_url_is_shared_only_with_its_master_key() {
    let work = tempfile::tempdir().unwrap();
    let shared = work.path().join("shared.db");
    let store = shared.to_str().unwrap();
    let (first, second) = (work.path().join("first"), work.path().join("second"));
    ok(&first, &["--store", &format!("sqlite://{store}"), "init"]);
    ok(
        &first,
        &[
            "--store",
            store,
            "issue",
            "--cn",
            "a.internal",
            "--out",
            work.path().join("a").to_str().unwrap(),
        ],
    );
    // Another state directory has another master.key: refused before anything is written.
    let refused = certloop(&second, &["--store", store, "list"]);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    let message = text(&refused);
    assert!(message.contains("master key") && message.contains(store), "{message}");
    // Its key file, copied, opens the shared inventory.
    std::fs::copy(first.join("master.key"), second.join("master.key")).unwrap();
    let listed = json(&ok(&second, &["--store", store, "--json", "list"]));
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    // A bad store location is a clear error naming it (and never echoes a password).
    let bad = certloop(&second, &["--store", "mysql://root:hunter2@127.0.0.1/x", "list"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad).contains("store") && !text(&bad).contains("hunter2"), "{}", text(&bad));
}

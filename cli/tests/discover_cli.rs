//! `certloop discover`: files and endpoints found, recorded once, unreadable files reported
//! (run as an unprivileged user when the tests run as root, so permissions mean something).

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use common::{json, ok, text};

fn running_as_root() -> bool {
    let out = Command::new("id").arg("-u").output().expect("id runs");
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

/// `certloop ARGS` as the current user, or as `nobody` when that is root.
fn certloop_unprivileged(home: &Path, args: &[&str]) -> Output {
    let binary = env!("CARGO_BIN_EXE_certloop");
    let mut command = if running_as_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "nobody", "--", "env"]).arg(format!("CERTLOOP_HOME={}", home.display()));
        c.arg(binary);
        c
    } else {
        let mut c = Command::new(binary);
        c.env("CERTLOOP_HOME", home);
        c
    };
    command.args(args).env_remove("CERTLOOP_MASTER_KEY").output().expect("certloop runs")
}

#[test]
fn discover_files_records_once_and_reports_what_it_cannot_read() {
    let work = tempfile::tempdir().unwrap();
    std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let home = work.path().join("home");
    std::fs::create_dir(&home).unwrap();
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o777)).unwrap();
    let scan = work.path().join("scan");
    std::fs::create_dir(&scan).unwrap();
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"])
        .args(["-days", "20", "-subj", "/CN=legacy.example.test", "-keyout", "legacy.key"])
        .args(["-out", "legacy.pem"])
        .current_dir(&scan)
        .output()
        .unwrap();
    assert!(made.status.success());
    std::fs::set_permissions(scan.join("legacy.key"), std::fs::Permissions::from_mode(0o600))
        .unwrap();
    std::fs::copy(scan.join("legacy.pem"), scan.join("private.pem")).unwrap();
    std::fs::set_permissions(scan.join("private.pem"), std::fs::Permissions::from_mode(0o600))
        .unwrap();
    // Owned by root and 0600, nobody cannot read them; as another user, 0000 does it.
    if !running_as_root() {
        for name in ["private.pem", "legacy.key"] {
            std::fs::set_permissions(scan.join(name), std::fs::Permissions::from_mode(0o000))
                .unwrap();
        }
    }
    let scan_arg = scan.to_str().unwrap();

    let first = certloop_unprivileged(&home, &["discover", "files", scan_arg, "--json"]);
    assert!(first.status.success(), "{}", text(&first));
    let outcome = json(&String::from_utf8_lossy(&first.stdout));
    assert_eq!(outcome["examined"], 3, "{outcome}");
    assert_eq!(outcome["newCertificates"], 1, "{outcome}");
    let items = outcome["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{outcome}");
    assert_eq!(items[0]["commonName"], "legacy.example.test");
    assert_eq!(items[0]["state"], "discovered");
    assert_eq!(items[0]["location"]["path"], scan.join("legacy.pem").to_str().unwrap());
    let problems: Vec<String> = outcome["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| format!("{} {}", p["at"].as_str().unwrap(), p["error"].as_str().unwrap()))
        .collect();
    assert_eq!(problems.len(), 2, "{problems:?}");
    for name in ["legacy.key", "private.pem"] {
        assert!(
            problems.iter().any(|p| p.contains(name) && p.contains("Permission denied")),
            "{name}: {problems:?}"
        );
    }

    // Again, as a table: nothing new.
    let again = certloop_unprivileged(&home, &["discover", "files", scan_arg]);
    assert!(again.status.success(), "{}", text(&again));
    let table = String::from_utf8_lossy(&again.stdout);
    assert!(table.contains("FOUND AT") && table.contains("legacy.example.test"), "{table}");
    assert!(table.contains("(0 new to the inventory), 2 could not be read"), "{table}");

    let listed = certloop_unprivileged(&home, &["list", "--json"]);
    assert!(listed.status.success(), "{}", text(&listed));
    let records = json(&String::from_utf8_lossy(&listed.stdout));
    let discovered: Vec<&serde_json::Value> =
        records.as_array().unwrap().iter().filter(|r| r["state"] == "discovered").collect();
    assert_eq!(discovered.len(), 1, "{records}");
    assert_eq!(discovered[0]["commonName"], "legacy.example.test");
}

#[test]
fn discover_network_refuses_a_bad_target_naming_it() {
    let home = tempfile::tempdir().unwrap();
    let out = common::certloop(home.path(), &["discover", "network", "127.0.0.1:443", "[::1"]);
    assert!(!out.status.success());
    let message = text(&out);
    assert!(message.contains("targets[1]"), "{message}");
    // Nothing was probed or recorded.
    let listed = json(&ok(home.path(), &["list", "--json"]));
    assert_eq!(listed.as_array().map(Vec::len), Some(0), "{listed}");
}

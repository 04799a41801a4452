//! `certloop profile create` + `certloop issue --param` with a Python-script CA, through the
//! real binary (which embeds CPython), the real example script and the real `openssl`.

mod common;

use common::{certloop, ok};
use std::path::{Path, PathBuf};
use std::process::Command;

const SECRET: &str = "cli-s3cret-QW7-never-shown";

fn corp_ca_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/script-ca/corp_ca.py")
}

fn write_profile(dir: &Path, slug: &str, isolation: &str, ca_dir: &Path) -> PathBuf {
    let profile = serde_json::json!({
        "slug": slug,
        "templateId": "tls-server",
        "issuer": {
            "type": "script",
            "path": corp_ca_script(),
            "timeoutSeconds": 30,
            "isolation": isolation,
            "params": [
                {"name": "ca_dir", "value": ca_dir},
                {"name": "password", "value": SECRET, "sensitive": true},
                {"name": "ticket", "dynamic": true},
            ],
        },
    });
    let path = dir.join(format!("{slug}.json"));
    std::fs::write(&path, profile.to_string()).unwrap();
    path
}

#[test]
fn issue_through_a_script_profile_in_both_isolation_modes() {
    let work = tempfile::tempdir().unwrap();
    let home = work.path().join("state");
    let ca_dir = work.path().join("corp-ca");
    ok(&home, &["init"]);
    let mut outputs = Vec::new();
    for (slug, isolation) in [("corp-ca", "inProcess"), ("corp-ca-isolated", "process")] {
        let file = write_profile(work.path(), slug, isolation, &ca_dir);
        outputs.push(ok(&home, &["profile", "create", "--file", file.to_str().unwrap(), "--json"]));
        let out = work.path().join(slug);
        let out_arg = out.to_str().unwrap();
        let issued = ok(
            &home,
            &[
                "issue",
                "--profile",
                slug,
                "--cn",
                "host.corp",
                "--param",
                "ticket=CHG-42",
                "--out",
                out_arg,
                "--json",
            ],
        );
        assert!(issued.contains("\"certificateId\""), "{issued}");
        outputs.push(issued);
        let verify = Command::new("openssl")
            .args(["verify", "-CAfile", "ca.pem", "cert.pem"])
            .current_dir(&out)
            .output()
            .unwrap();
        assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stderr));
        assert!(out.join("key.pem").is_file(), "the library generated the key and wrote it");
    }
    // What the script prints reaches stderr with -v (the script log target), never stdout.
    for (flag, shown) in [(None, false), (Some("-v"), true)] {
        let mut args = vec!["issue", "--profile", "corp-ca", "--cn", "host.corp"];
        args.extend(["--param", "ticket=CHG-43", "--json"]);
        args.extend(flag);
        let run = certloop(&home, &args);
        assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
        let (stdout, stderr) =
            (String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr));
        assert_eq!(stderr.contains("for ticket CHG-43"), shown, "{flag:?}: {stderr}");
        assert!(!stdout.contains("for ticket"), "{stdout}");
        serde_json::from_str::<serde_json::Value>(&stdout).expect("stdout stays JSON");
    }
    // CERTLOOP_SCRIPT_ROOT confines script paths.
    let confined = Command::new(env!("CARGO_BIN_EXE_certloop"))
        .args(["profile", "create", "--file"])
        .arg(write_profile(work.path(), "confined", "process", &ca_dir))
        .env("CERTLOOP_HOME", &home)
        .env("CERTLOOP_SCRIPT_ROOT", work.path())
        .output()
        .unwrap();
    assert_eq!(confined.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&confined.stderr);
    assert!(stderr.contains("outside the script directory"), "{stderr}");

    let journal = std::fs::read_to_string(ca_dir.join("journal.log")).unwrap();
    assert_eq!(journal.matches("ticket=CHG-42").count(), 2, "{journal}");

    // A missing dynamic parameter is a usage error (2) naming it; the script never runs.
    let missing = certloop(&home, &["issue", "--profile", "corp-ca", "--cn", "a.corp"]);
    assert_eq!(missing.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(stderr.contains("connectorParams.ticket"), "{stderr}");
    let malformed = certloop(&home, &["issue", "--profile", "corp-ca", "--param", "ticket"]);
    assert_eq!(malformed.status.code(), Some(2));

    // The script refusing (a bad ticket raises ValueError) is a CA error (5) with its message.
    let refused = certloop(
        &home,
        &["issue", "--profile", "corp-ca", "--cn", "a.corp", "--param", "ticket=nope", "--json"],
    );
    assert_eq!(refused.status.code(), Some(5));
    let body: serde_json::Value = serde_json::from_slice(&refused.stderr).unwrap();
    assert_eq!(body["error"]["code"], "CA_ERROR");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("ValueError: ticket must look like CHG-123"), "{message}");
    assert!(message.contains("corp_ca.py"), "{message}");

    // The secret appears in no output and in no file of the state directory.
    outputs.push(ok(&home, &["profile", "show", "corp-ca", "--json"]));
    outputs.push(ok(&home, &["profile", "list", "--json"]));
    outputs.push(ok(&home, &["profile", "list"]));
    outputs.push(ok(&home, &["list", "--json"]));
    outputs.push(ok(&home, &["audit", "--json"]));
    outputs.push(String::from_utf8_lossy(&refused.stderr).into_owned());
    assert!(outputs[0].contains("********"), "{}", outputs[0]);
    for text in &outputs {
        assert!(!text.contains(SECRET), "the secret leaked: {text}");
    }
    for entry in std::fs::read_dir(&home).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            !bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()),
            "{} holds the secret in clear",
            path.display()
        );
    }
}

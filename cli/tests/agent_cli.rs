//! `certloop manage` and `certloop agent` through the real binary against the running nginx of
//! `scripts/stages/40-deploy.sh`: the agent orders and deploys inside an open maintenance
//! window, a broken deployment rolls back, and the pin check proves the previous certificate
//! is served again. Without the stage's nginx it says why it skips.

mod common;

use std::path::Path;

use common::{certloop, json, ok, text};

fn write_json(dir: &Path, name: &str, value: &serde_json::Value) -> String {
    let path = dir.join(name);
    std::fs::write(&path, value.to_string()).unwrap();
    path.display().to_string()
}

#[test]
fn agent_renews_and_deploys_to_nginx_in_its_window_and_a_broken_deploy_rolls_back() {
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
    ok(&home, &["init"]);
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
        "name": "edge", "type": "nginx",
        "certPath": dir.join("tls/fullchain.pem"), "keyPath": dir.join("tls/key.pem"),
        "testCommand": nginx(&["-t"]), "reloadCommand": nginx(&["-s", "reload"]),
        "endpoint": endpoint, "pinIntervalMs": 250, "pinAttempts": 20
    });
    ok(&home, &["target", "add", "--file", &write_json(work.path(), "edge.json", &target)]);
    // The same files, but its config test fails: every deployment to it must roll back.
    let mut broken = target.clone();
    broken["name"] = "edge-broken".into();
    broken["testCommand"] =
        serde_json::json!(["sh", "-c", "echo 'emerg: broken on purpose' >&2; exit 1"]);
    ok(&home, &["target", "add", "--file", &write_json(work.path(), "broken.json", &broken)]);

    // A daily maintenance window that opened five minutes ago (UTC) and lasts two hours.
    let opened = time::OffsetDateTime::now_utc() - time::Duration::minutes(5);
    let request = serde_json::json!({
        "name": "edge-localhost",
        "config": {
            "profile": "tls-server", "targets": ["edge"], "validity": "30d",
            "csr": {"mode": "fullOverride", "commonName": "edge.example",
                    "altNames": [{"type": "DNS", "value": "localhost"}]},
            "renewal": {"trigger": {"type": "daysBeforeExpiry", "days": 10},
                        "check": {"frequency": "daily", "time": "03:00", "timeZone": "UTC"}},
            "deployment": {"when": {"type": "window", "frequency": "daily",
                                     "time": format!("{:02}:{:02}", opened.hour(), opened.minute()),
                                     "timeZone": "UTC", "durationMinutes": 120}}
        }
    });
    let added = json(&ok(
        &home,
        &["--json", "manage", "add", "--file", &write_json(work.path(), "m.json", &request)],
    ));
    assert_eq!(added[0]["state"], "managed", "{added}");

    // One pass of the agent: nothing issued yet, so it orders, and the window is open.
    let summary = json(&ok(&home, &["--json", "agent", "--once", "--name", "stage-agent"]));
    assert_eq!(summary["work"]["renewed"], 1, "{summary}");
    assert_eq!(summary["work"]["deployed"], 1, "{summary}");
    let managed = json(&ok(&home, &["--json", "manage", "show", "edge-localhost"]));
    assert_eq!(managed["state"], "deployed", "{managed}");
    let first = managed["certificateId"].as_str().unwrap().to_owned();
    let served = json(&ok(&home, &["--json", "pin-check", &first, "--endpoint", &endpoint]));
    assert_eq!(served["matches"], true, "{served}");
    // A second pass finds nothing due.
    let idle = json(&ok(&home, &["--json", "agent", "--once", "--name", "stage-agent"]));
    assert_eq!(idle["work"]["processed"], 0, "{idle}");

    // Move it to the broken target and rotate: the deployment fails and rolls back.
    let patch = serde_json::json!({"targets": ["edge-broken"]});
    ok(
        &home,
        &[
            "manage",
            "configure",
            "edge-localhost",
            "--patch",
            &write_json(work.path(), "patch.json", &patch),
        ],
    );
    let out = certloop(&home, &["--json", "manage", "run", "rotate", "edge-localhost"]);
    assert_eq!(out.status.code(), Some(7), "{}", text(&out));
    let report = json(&String::from_utf8_lossy(&out.stdout));
    assert_eq!((report["succeeded"].as_u64(), report["failed"].as_u64()), (Some(0), Some(1)));
    let detail = report["items"][0]["detail"].as_str().unwrap();
    assert!(detail.contains("edge-broken"), "{detail}");
    let managed = json(&ok(&home, &["--json", "manage", "show", "edge-localhost"]));
    assert_eq!(managed["state"], "failed", "{managed}");
    assert_eq!(managed["certificateId"].as_str(), Some(first.as_str()), "still in service");
    // The pin check proves the previous certificate is served again.
    let served = json(&ok(&home, &["--json", "pin-check", &first, "--endpoint", &endpoint]));
    assert_eq!(served["matches"], true, "{served}");
    let audit = ok(&home, &["--json", "audit", "--limit", "200"]);
    assert!(audit.contains("rollbackPinCheck") || audit.contains("rolledBack"), "{audit}");
}

//! Several `certloop agent` processes on one PostgreSQL inventory (the server
//! `CERTLOOP_TEST_POSTGRES` names; scripts/test starts one on loopback): every due certificate
//! is renewed exactly once, also when one agent is killed with SIGKILL in the middle of its
//! work and another takes its claims over once their lease ran out.
#![cfg(all(unix, feature = "postgres"))]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use certloop::Certloop;
use certloop::clock::FixedClock;
use certloop::lifecycle::managed::ProvisioningConfig;
use certloop::model::{AuditAction, CertificateState, IssueRequest};
use certloop::store::{AuditQuery, ManagedQuery, MasterKey};
use certloop::{ManageRequest, store};
use serde_json::json;

const CERTIFICATES: usize = 2_000;
const AGENTS: usize = 4;
/// Short, so that the killed agent's claims expire within the test.
const LEASE: &str = "2s";
/// The bound on waiting for anything in this test.
const PATIENCE: Duration = Duration::from_secs(240);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

/// The base URL of the test server; `None` skips (unless scripts/test requires it).
fn server() -> Option<String> {
    match std::env::var("CERTLOOP_TEST_POSTGRES") {
        Ok(url) if !url.trim().is_empty() => Some(url.trim().trim_end_matches('/').to_owned()),
        _ => {
            assert_ne!(
                std::env::var("CERTLOOP_TEST_REQUIRE_POSTGRES").as_deref(),
                Ok("1"),
                "CERTLOOP_TEST_POSTGRES is unset, but CERTLOOP_TEST_REQUIRE_POSTGRES=1 asks for it"
            );
            eprintln!("skipped: CERTLOOP_TEST_POSTGRES is unset (scripts/test sets it)");
            None
        }
    }
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) =
        tokio_postgres::connect(url, tokio_postgres::NoTls).await.expect("connect");
    tokio::spawn(connection);
    client
}

/// A new, empty database on the server; its URL.
async fn fresh_database(base: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_nanos();
    let name = format!("certloop_agents_{}_{nanos}", std::process::id());
    let admin = connect(&format!("{base}/postgres")).await;
    admin.batch_execute(&format!("CREATE DATABASE {name}")).await.expect("create database");
    format!("{base}/{name}")
}

/// One count from the database.
async fn count(client: &tokio_postgres::Client, sql: &str) -> i64 {
    client.query_one(sql, &[]).await.expect(sql).get(0)
}

/// 64 hexadecimal characters from openssl: the master key every agent shares.
fn shared_key() -> String {
    let out = Command::new("openssl").args(["rand", "-hex", "32"]).output().expect("openssl");
    assert!(out.status.success());
    String::from_utf8(out.stdout).expect("hex").trim().to_owned()
}

/// `certloop agent --once` as agent `name`, its own state directory, the shared database.
fn agent(work: &Path, url: &str, key: &str, name: &str) -> Child {
    let home = work.join(name);
    Command::new(env!("CARGO_BIN_EXE_certloop"))
        .args(["--json", "agent", "--once", "--name", name, "--lease", LEASE])
        .args(["--chunk", "40", "--concurrency", "2"])
        .env("CERTLOOP_HOME", &home)
        .env("CERTLOOP_STORE", url)
        .env("CERTLOOP_MASTER_KEY", key)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("agent starts")
}

/// Wait for `child` (bounded) and return its JSON summary; it must have succeeded.
fn finished(child: Child, name: &str) -> serde_json::Value {
    let out = child.wait_with_output().expect("agent output");
    let text =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{name} failed ({:?}):\n{text}", out.status.code());
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{name}: not JSON ({e}): {text}"))
}

/// 2,000 certificates, issued three hours ago (an injected clock) for four hours and renewed
/// at half their lifetime, with a daily check twelve hours from now: each expires before its
/// next regular check, so the trigger time itself, an hour ago, is when all are due.
async fn set_up(url: &str, key: &str, home: &Path) -> Vec<String> {
    let key = MasterKey::from_env_value(Some(key), home).expect("key");
    let store = store::open_location(url).await.expect("store");
    let then = time::OffsetDateTime::now_utc() - time::Duration::hours(3);
    let certloop = Certloop::with_store(store, key)
        .expect("certloop")
        .with_clock(Arc::new(FixedClock::new(then)))
        .with_actor("set-up");
    certloop.init_default().await.expect("init");
    let requests = (0..CERTIFICATES)
        .map(|i| {
            serde_json::from_value::<IssueRequest>(json!({
                "attributes": {"commonName": format!("svc-{i}.example.test"), "ttl": "4h",
                               "altNames": [{"type": "DNS", "value": format!("svc-{i}.example.test")}]},
                "manageKey": true,
            }))
            .expect("request")
        })
        .collect();
    let check = time::OffsetDateTime::now_utc() + time::Duration::hours(12);
    let config: ProvisioningConfig = serde_json::from_value(json!({
        "profile": "tls-server", "validity": "30d",
        "renewal": {"trigger": {"type": "lifetimePercentage", "percent": 50},
                    "check": {"frequency": "daily", "timeZone": "UTC",
                              "time": format!("{:02}:{:02}", check.hour(), check.minute())}},
    }))
    .expect("config");
    let mut manage = Vec::with_capacity(CERTIFICATES);
    for issued in certloop.issue_many(requests, |_, _| {}).await.expect("issue") {
        let certificate_id = issued.expect("issued").certificate_id;
        manage.push(ManageRequest {
            name: None,
            certificate_id: Some(certificate_id),
            config: config.clone(),
        });
    }
    let managed = certloop.manage_many(manage).await.expect("manage");
    let now = time::OffsetDateTime::now_utc();
    let late = managed.iter().find(|m| m.next_check_at.is_none_or(|t| t > now));
    assert!(late.is_none(), "all due now, at {now}: {late:?}");
    managed.into_iter().filter_map(|m| m.certificate_id).collect()
}

#[test]
fn four_agents_renew_every_certificate_once_even_when_one_is_killed() {
    let Some(base) = server() else { return };
    let rt = runtime();
    let url = rt.block_on(fresh_database(&base));
    let work = tempfile::tempdir().expect("work dir");
    let key = shared_key();
    let originals = rt.block_on(set_up(&url, &key, &work.path().join("set-up")));
    assert_eq!(originals.len(), CERTIFICATES);
    let db = rt.block_on(connect(&url));
    // The managed certificate's `renewed` event (it names the one it replaced).
    let renewed_by = |actor: &str| {
        let sql = format!(
            "SELECT count(*) FROM audit_events WHERE action = 'renewed' AND subject_id IS NOT \
             NULL AND actor = 'agent/{actor}'"
        );
        rt.block_on(count(&db, &sql))
    };
    let leased_to = |owner: &str| {
        let sql =
            format!("SELECT count(*) FROM managed_certificates WHERE lease_owner = '{owner}'");
        rt.block_on(count(&db, &sql))
    };

    let mut agents: Vec<(String, Child)> = (0..AGENTS)
        .map(|i| {
            let name = format!("agent-{i}");
            let child = agent(work.path(), &url, &key, &name);
            (name, child)
        })
        .collect();
    // Kill agent-0 in the middle of its work: once it committed some, frozen (SIGSTOP, so
    // nothing moves while we look) at a moment it holds claims it has not finished.
    let started = Instant::now();
    let (victim_name, mut victim) = agents.remove(0);
    let pid = victim.id();
    let signal = |name: &str| {
        let status =
            Command::new("sh").args(["-c", &format!("kill -{name} {pid}")]).status().expect("kill");
        assert!(status.success(), "kill -{name}");
    };
    let stranded_claims = loop {
        assert!(started.elapsed() < PATIENCE, "{victim_name} never held claims mid-run");
        assert!(
            victim.try_wait().expect("wait").is_none(),
            "{victim_name} finished before it could be killed; renewed {}",
            renewed_by(&victim_name)
        );
        if renewed_by(&victim_name) >= 40 {
            signal("STOP");
            let held = leased_to(&victim_name);
            if held > 0 {
                break held;
            }
            signal("CONT");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    victim.kill().expect("SIGKILL");
    victim.wait().expect("reaped");
    let by_victim = renewed_by(&victim_name);

    let mut renewed_by_survivors = 0;
    for (name, child) in agents {
        let summary = finished(child, &name);
        assert_eq!(summary["work"]["failed"], 0, "{name}: {summary}");
        renewed_by_survivors += summary["work"]["renewed"].as_i64().expect("renewed");
    }
    // What agent-0 had claimed but not committed waits for its lease to run out; then
    // another agent takes it over.
    let stranded = "SELECT count(*) FROM managed_certificates WHERE due_at <= now()";
    let mut takeover = 0;
    loop {
        if rt.block_on(count(&db, stranded)) == 0 {
            break;
        }
        assert!(started.elapsed() < PATIENCE, "the killed agent's work was never taken over");
        std::thread::sleep(Duration::from_millis(250));
        let summary = finished(agent(work.path(), &url, &key, "agent-late"), "agent-late");
        takeover += summary["work"]["renewed"].as_i64().expect("renewed");
    }

    eprintln!(
        "renewed: {by_victim} by the killed agent, {renewed_by_survivors} by the survivors, \
         {takeover} taken over ({stranded_claims} stranded claims)"
    );
    assert!(
        takeover > 0 && takeover <= stranded_claims,
        "{takeover} of {stranded_claims} taken over"
    );
    assert_eq!(leased_to(&victim_name), 0, "the killed agent's claims all passed on");
    // Exactly once: one `renewed` event per original certificate, one new certificate each.
    assert_eq!(
        by_victim + renewed_by_survivors + takeover,
        CERTIFICATES as i64,
        "renewals by the killed agent ({by_victim}), the survivors ({renewed_by_survivors}) and \
         the late one ({takeover})"
    );
    rt.block_on(async {
        let key = MasterKey::from_env_value(Some(&key), work.path()).expect("key");
        let store = store::open_location(&url).await.expect("store");
        let certloop = Certloop::with_store(store, key).expect("certloop");
        let events = certloop.audit_log(&AuditQuery::default()).await.expect("audit");
        let mut renewed: Vec<&str> = events
            .iter()
            .filter(|e| e.action == AuditAction::Renewed && e.subject_id.is_some())
            .filter_map(|e| e.certificate_id.as_deref())
            .collect();
        renewed.sort_unstable();
        let mut expected: Vec<&str> = originals.iter().map(String::as_str).collect();
        expected.sort_unstable();
        assert_eq!(renewed, expected, "each original certificate renewed exactly once");
        let total = count(&db, "SELECT count(*) FROM certificates").await;
        assert_eq!(total, 2 * CERTIFICATES as i64, "one new certificate per renewal");
        let managed = certloop.list_managed(&ManagedQuery::default()).await.expect("managed");
        assert_eq!(managed.len(), CERTIFICATES);
        for m in &managed {
            assert_eq!(m.state, CertificateState::Issued, "{}", m.name);
            let current = m.certificate_id.as_deref().expect("current certificate");
            assert!(!originals.iter().any(|o| o == current), "{} still on its original", m.name);
            assert!(m.lease_owner.is_none(), "{} left leased by {:?}", m.name, m.lease_owner);
        }
    });
}

//! Lifecycle engine figures, as one JSON line each:
//!
//! ```text
//! certloop-lifecycle sweep --records 1000000 [--due-percent 1]
//! certloop-lifecycle batch-renew --count 100000 [--threads 2] [--concurrency 4]
//! ```
//!
//! `sweep` fills an on-disk SQLite store with `--records` managed certificates (schedules
//! spread over a year, `--due-percent` of them due now) and times what the agent does to find
//! its work: the ids of everything due (`Store::due_managed`) and one claim of a chunk of 256
//! (`Store::claim_due`), each the median of 5 runs.
//!
//! `batch-renew` issues `--count` P-256 certificates, puts them under management, and times
//! `Certloop::batch(Action::Order)` over all of them end to end: a fresh key, the template
//! check, the internal CA's signature, the inventory insert, the old certificate marked
//! renewed, the managed record and its audit events, committed 256 at a time; no deployment.
//! Wall-clock time on a multi-thread runtime with `--threads` workers.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use certloop::clock::FixedClock;
use certloop::lifecycle::managed::{ManagedCertificate, ProvisioningConfig};
use certloop::model::{CertificateState, IssueRequest};
use certloop::store::{MasterKey, SqliteStore, Store, WriteSet};
use certloop::{Action, BatchOptions, Certloop, ManageRequest};
use serde_json::json;
use time::{Duration, OffsetDateTime};

const USAGE: &str = "usage: certloop-lifecycle sweep --records N [--due-percent P]\n       \
                     certloop-lifecycle batch-renew --count N [--threads T] [--concurrency C]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str, default: usize| -> Result<usize, String> {
        match args.iter().position(|a| a == name) {
            Some(i) => args
                .get(i + 1)
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("{name} needs a number\n{USAGE}")),
            None => Ok(default),
        }
    };
    let result = match args.first().map(String::as_str) {
        Some("sweep") => flag("--records", 100_000)
            .and_then(|n| flag("--due-percent", 1).map(|p| (n, p)))
            .and_then(|(n, p)| run(1, sweep(n, p))),
        Some("batch-renew") => flag("--count", 1_000).and_then(|n| {
            let threads = flag("--threads", 2)?;
            let concurrency = flag("--concurrency", 4)?;
            run(threads, batch_renew(n, concurrency))
        }),
        _ => Err(USAGE.to_owned()),
    };
    match result {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("certloop-lifecycle: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(
    threads: usize,
    work: impl std::future::Future<Output = Result<String, String>>,
) -> Result<String, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?
        .block_on(work)
}

fn config(profile: &str) -> Result<ProvisioningConfig, String> {
    serde_json::from_value(json!({
        "profile": profile, "validity": "90d",
        "renewal": {"trigger": {"type": "daysBeforeExpiry", "days": 30},
                    "check": {"frequency": "daily", "time": "03:00", "timeZone": "Europe/Berlin"}},
    }))
    .map_err(|e| e.to_string())
}

async fn sweep(records: usize, due_percent: usize) -> Result<String, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let store = SqliteStore::open(&dir.path().join("sweep.db")).map_err(|e| e.to_string())?;
    let now = OffsetDateTime::now_utc();
    let config = config("tls-server")?;
    let due_every = (100 / due_percent.clamp(1, 100)).max(1);
    let fill = Instant::now();
    let mut set = WriteSet::default();
    for i in 0..records {
        // Due ones a little in the past, the others spread over the coming year.
        let next = if i % due_every == 0 {
            now - Duration::minutes((i % 600) as i64)
        } else {
            now + Duration::minutes(1 + (i as i64 * 7919) % (365 * 24 * 60))
        };
        set.managed.push(ManagedCertificate {
            id: format!("m-{i:08}"),
            name: format!("svc-{i}.example.test"),
            state: CertificateState::Deployed,
            certificate_id: Some(format!("c-{i:08}")),
            pending_certificate_id: None,
            config: config.clone(),
            next_check_at: Some(next),
            next_deploy_at: None,
            attempts: 0,
            last_error: None,
            expiry_warned_for: None,
            lease_owner: None,
            lease_until: None,
            created_at: now,
            updated_at: now,
        });
        if set.managed.len() == 10_000 {
            store.write(&std::mem::take(&mut set)).await.map_err(|e| e.to_string())?;
        }
    }
    store.write(&set).await.map_err(|e| e.to_string())?;
    let fill_s = fill.elapsed().as_secs_f64();
    let mut find = Vec::new();
    let mut found = 0;
    for _ in 0..5 {
        let t = Instant::now();
        found = store.due_managed(now, u32::MAX).await.map_err(|e| e.to_string())?.len();
        find.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let mut claim = Vec::new();
    for round in 0..5 {
        let t = Instant::now();
        let owner = format!("agent-{round}");
        let lease = now + Duration::minutes(10);
        let claimed = store.claim_due(now, &owner, lease, 256).await.map_err(|e| e.to_string())?;
        claim.push(t.elapsed().as_secs_f64() * 1000.0);
        // Each round's agent takes the next 256: the earlier rounds' claims still hold.
        let expected = 256.min(found.saturating_sub(256 * round));
        if claimed.len() != expected {
            return Err(format!("round {round} claimed {} of {expected}", claimed.len()));
        }
    }
    Ok(json!({
        "bench": "sweep", "records": records, "due": found,
        "findDueMs": median(&mut find), "claim256Ms": median(&mut claim), "fillSeconds": fill_s,
    })
    .to_string())
}

async fn batch_renew(count: usize, concurrency: usize) -> Result<String, String> {
    let clock = Arc::new(FixedClock::new(OffsetDateTime::now_utc()));
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let store = SqliteStore::open(&dir.path().join("batch.db")).map_err(|e| e.to_string())?;
    let key = MasterKey::generate().map_err(|e| e.to_string())?;
    let certloop = Certloop::with_store(Arc::new(store), key)
        .map_err(|e| e.to_string())?
        .with_clock(clock.clone());
    certloop.init_default().await.map_err(|e| e.to_string())?;
    let setup = Instant::now();
    let mut requests = Vec::with_capacity(count);
    for i in 0..count {
        let request: IssueRequest = serde_json::from_value(json!({
            "attributes": {"commonName": format!("svc-{i}.example.test"), "ttl": "90d",
                           "altNames": [{"type": "DNS", "value": format!("svc-{i}.example.test")}]},
            "manageKey": true,
        }))
        .map_err(|e| e.to_string())?;
        requests.push(request);
    }
    let mut ids = Vec::with_capacity(count);
    let mut manage = Vec::with_capacity(count);
    let config = config("tls-server")?;
    for chunk in requests.chunks(1000) {
        for issued in
            certloop.issue_many(chunk.to_vec(), |_, _| {}).await.map_err(|e| e.to_string())?
        {
            let issued = issued.map_err(|e| e.to_string())?;
            manage.push(ManageRequest {
                name: None,
                certificate_id: Some(issued.certificate_id),
                config: config.clone(),
            });
        }
    }
    for chunk in manage.chunks(10_000) {
        for m in certloop.manage_many(chunk.to_vec()).await.map_err(|e| e.to_string())? {
            ids.push(m.id);
        }
    }
    let setup_s = setup.elapsed().as_secs_f64();
    clock.advance(Duration::days(61));
    let t = Instant::now();
    let options = BatchOptions { concurrency, continue_on_error: true };
    let report =
        certloop.batch(&ids, Action::Order, options, |_, _| {}).await.map_err(|e| e.to_string())?;
    let seconds = t.elapsed().as_secs_f64();
    if report.succeeded != count {
        let first = report.items.iter().find(|i| !i.ok).map(|i| i.detail.clone());
        return Err(format!("{} of {count} renewed; first failure: {first:?}", report.succeeded));
    }
    Ok(json!({
        "bench": "batchRenew", "count": count, "seconds": seconds,
        "perSecond": count as f64 / seconds, "setupSeconds": setup_s,
    })
    .to_string())
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

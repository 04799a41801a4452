//! Issuing P-256 leaves with a fresh key, signed by a P-256 intermediate:
//! - `engine`: in-process, through the issuance engine (key generation, template check) and the
//!   internal CA connector (sign, lint before release); no store.
//! - `facade/single`: `Certloop::issue` over an on-disk SQLite inventory (WAL): policy, sign,
//!   request row, certificate record, SAN index rows and audit event, one transaction each.
//! - `facade/batch_100`: `Certloop::issue_many` with 100 requests sharing one transaction.
//!
//! `cargo bench -p certloop-benches --bench issuance`

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};

use certloop::Certloop;
use certloop_benches::{LeafIssuer, ThreadCpuTime, leaf_request, runtime};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// A fresh name for every leaf, so the inventory holds distinct certificates.
fn next_name() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!("host-{}.bench.internal", NEXT.fetch_add(1, Ordering::Relaxed))
}

fn engine(c: &mut Criterion<ThreadCpuTime>) -> certloop::Result<()> {
    let issuer = LeafIssuer::new()?;
    let rt = runtime()?;
    let mut group = c.benchmark_group("issue_p256_leaf");
    group.throughput(Throughput::Elements(1));
    group.bench_function("engine", |b| {
        b.iter(|| rt.block_on(issuer.issue(black_box(&next_name()))))
    });
    group.finish();
    Ok(())
}

fn facade(c: &mut Criterion<ThreadCpuTime>) -> certloop::Result<()> {
    let rt = runtime()?;
    let dir = tempfile::tempdir().map_err(|e| certloop::Error::io("temporary directory", e))?;
    let certloop = rt.block_on(async {
        let certloop = Certloop::open(dir.path()).await?;
        certloop.init_default().await?;
        Ok::<_, certloop::Error>(certloop)
    })?;
    let mut group = c.benchmark_group("issue_p256_leaf_facade");
    group.throughput(Throughput::Elements(1));
    group.bench_function("single", |b| {
        b.iter(|| rt.block_on(certloop.issue(leaf_request(&next_name()))))
    });
    const BATCH: u64 = 100;
    group.throughput(Throughput::Elements(BATCH));
    group.bench_function("batch_100", |b| {
        b.iter(|| {
            let requests = (0..BATCH).map(|_| leaf_request(&next_name())).collect();
            rt.block_on(certloop.issue_many(requests, |_, _| {}))
        })
    });
    group.finish();
    Ok(())
}

fn benches(c: &mut Criterion<ThreadCpuTime>) {
    if let Err(e) = engine(c) {
        panic!("engine benchmark setup failed: {e}");
    }
    if let Err(e) = facade(c) {
        panic!("facade benchmark setup failed: {e}");
    }
}

criterion_group! {
    name = issuance_benches;
    config = Criterion::default().with_measurement(ThreadCpuTime::default());
    targets = benches
}
criterion_main!(issuance_benches);

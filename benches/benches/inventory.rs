//! Expiry search over a large inventory: which certificates expire within 30 days.
//!
//! The 1,000,000-record fixture is built once (about a minute) and cached under
//! `target/bench-data/inventory-1000000`; in test mode (`cargo test --benches -- --test`)
//! a 2,000-record one (200 real certificates) in a temporary directory stands in, so CI never builds the big one.
//! notAfter is spread evenly over [now - 30d, now + 365d): about 7% of the live records match.
//!
//! `cargo bench -p certloop-benches --bench inventory`

use std::hint::black_box;

use certloop::model::CertificateState;
use certloop::store::CertificateQuery;
use certloop_benches::{Inventory, ThreadCpuTime, bench_data_dir, runtime};
use criterion::{Criterion, criterion_group, criterion_main};

const FULL_RECORDS: usize = 1_000_000;
const TEST_RECORDS: usize = 2_000;

fn expiry_search(c: &mut Criterion<ThreadCpuTime>) -> certloop::Result<()> {
    let test_mode = std::env::args().any(|arg| arg == "--test");
    let rt = runtime()?;
    let scratch = tempfile::tempdir().map_err(|e| certloop::Error::io("temporary directory", e))?;
    let (dir, records) = if test_mode {
        (scratch.path().join("inventory"), TEST_RECORDS)
    } else {
        (bench_data_dir().join(format!("inventory-{FULL_RECORDS}")), FULL_RECORDS)
    };
    let inventory = rt.block_on(Inventory::open_or_build(&dir, records))?;
    let certloop = &inventory.certloop;
    let window = CertificateQuery {
        states: vec![CertificateState::Issued, CertificateState::Deployed],
        expiring_before: Some(inventory.anchor + time::Duration::days(30)),
        ..CertificateQuery::default()
    };
    let matching = rt.block_on(certloop.expiring_within(30))?.len();
    if matching == 0 || matching >= records {
        panic!("the fixture is wrong: {matching} of {records} records expire within 30 days");
    }
    eprintln!("inventory: {records} records, {matching} live ones expire within 30 days");

    let mut group = c.benchmark_group(format!("expiring_within_30d_of_{records}"));
    group.sample_size(20);
    // The index answers alone: how many are due.
    group.bench_function("count", |b| b.iter(|| rt.block_on(certloop.count(black_box(&window)))));
    // What a sweep does: the first page of full records, soonest first.
    let page = CertificateQuery { limit: Some(1_000), ..window.clone() };
    group.bench_function("first_1000_records", |b| {
        b.iter(|| rt.block_on(certloop.list(black_box(&page))))
    });
    // Every matching record, with its PEM, chain and SANs.
    group.bench_function("all_records", |b| {
        b.iter(|| rt.block_on(certloop.expiring_within(black_box(30))))
    });
    group.finish();
    Ok(())
}

fn benches(c: &mut Criterion<ThreadCpuTime>) {
    if let Err(e) = expiry_search(c) {
        panic!("inventory benchmark setup failed: {e}");
    }
}

criterion_group! {
    name = inventory_benches;
    config = Criterion::default().with_measurement(ThreadCpuTime::default());
    targets = benches
}
criterion_main!(inventory_benches);

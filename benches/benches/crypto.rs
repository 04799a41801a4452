//! Pure crypto work, one operation per iteration: key generation per algorithm, CSR build,
//! CSR parse + verify + sign (the CSR path of issuance), certificate parse + SHA-256
//! fingerprint.
//!
//! `cargo bench -p certloop-benches --bench crypto`

use std::hint::black_box;

use certloop::ca::CaConnector;
use certloop::crypto::{self, PrivateKey};
use certloop::csr::{CsrBuilder, CsrSpec, DefaultCsrBuilder, inspect_csr};
use certloop::model::{ExtendedKeyUsage, KeyAlgorithm, KeyUsage, Subject, SubjectAltName};
use certloop_benches::{LeafIssuer, ThreadCpuTime, runtime};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

fn key_generation(c: &mut Criterion<ThreadCpuTime>) {
    let mut group = c.benchmark_group("key_generation");
    group.throughput(Throughput::Elements(1));
    for alg in [KeyAlgorithm::EcP256, KeyAlgorithm::EcP384, KeyAlgorithm::Ed25519] {
        group.bench_function(BenchmarkId::from_parameter(alg), |b| {
            b.iter(|| PrivateKey::generate(black_box(alg)).map(drop))
        });
    }
    // RSA key generation takes ~50-500 ms and varies a lot (prime search): few samples.
    group.sample_size(10);
    group.bench_function(BenchmarkId::from_parameter(KeyAlgorithm::Rsa2048), |b| {
        b.iter(|| PrivateKey::generate(black_box(KeyAlgorithm::Rsa2048)).map(drop))
    });
    group.finish();
}

fn csr_spec() -> CsrSpec {
    CsrSpec {
        subject: Subject::common_name("bench.example.internal"),
        alt_names: vec![SubjectAltName::dns("bench.example.internal")],
        key_usages: vec![KeyUsage::DigitalSignature],
        extended_key_usages: vec![ExtendedKeyUsage::ServerAuth],
        signature_algorithm: None,
    }
}

fn csr(c: &mut Criterion<ThreadCpuTime>) -> certloop::Result<()> {
    let key = PrivateKey::generate(KeyAlgorithm::EcP256)?;
    let spec = csr_spec();
    let mut group = c.benchmark_group("csr");
    group.throughput(Throughput::Elements(1));
    group.bench_function("build_p256", |b| {
        b.iter(|| DefaultCsrBuilder.build(&key, black_box(&spec)))
    });

    // What a CA does with a caller's CSR: parse, verify its self-signature, check the request
    // against the template, sign the leaf, lint it.
    let issuer = LeafIssuer::new()?;
    let rt = runtime()?;
    let pem = DefaultCsrBuilder.build(&key, &spec)?.pem;
    group
        .bench_function("parse_verify_p256", |b| b.iter(|| inspect_csr(black_box(pem.as_bytes()))));
    let mut request = certloop_benches::leaf_request("bench.example.internal");
    request.csr = Some(pem.clone());
    group.bench_function("parse_verify_sign_p256", |b| {
        b.iter(|| {
            rt.block_on(async {
                let approved = issuer.approve(black_box(&request))?;
                issuer.connector().issue(&approved.order).await
            })
        })
    });
    group.finish();
    Ok(())
}

fn certificate_parse(c: &mut Criterion<ThreadCpuTime>) -> certloop::Result<()> {
    let issuer = LeafIssuer::new()?;
    let rt = runtime()?;
    let (issued, _key) = rt.block_on(issuer.issue("bench.example.internal"))?;
    let pem = crypto::pem_encode("CERTIFICATE", &issued.certificate_der);
    let der = issued.certificate_der;
    let mut group = c.benchmark_group("certificate");
    group.throughput(Throughput::Elements(1));
    group.bench_function("parse_fingerprint_der", |b| {
        b.iter(|| crypto::inspect_certificate(black_box(&der)).map(|info| info.fingerprint_sha256))
    });
    group.bench_function("parse_fingerprint_pem", |b| {
        b.iter(|| {
            crypto::inspect_certificate(black_box(pem.as_bytes()))
                .map(|info| info.fingerprint_sha256)
        })
    });
    group.bench_function("fingerprint_only", |b| {
        b.iter(|| crypto::fingerprint_sha256(black_box(&der)))
    });
    group.finish();
    Ok(())
}

fn benches(c: &mut Criterion<ThreadCpuTime>) {
    key_generation(c);
    if let Err(e) = csr(c) {
        panic!("csr benchmark setup failed: {e}");
    }
    if let Err(e) = certificate_parse(c) {
        panic!("certificate benchmark setup failed: {e}");
    }
}

criterion_group! {
    name = crypto_benches;
    config = Criterion::default().with_measurement(ThreadCpuTime::default());
    targets = benches
}
criterion_main!(crypto_benches);

//! Issue N P-256 leaves (fresh key each, signed by a P-256 intermediate) and print the time the
//! loop took as one JSON line; the peer comparison (`benches/compare/compare.py`) runs this
//! beside openssl and Python `cryptography` doing the same work.
//!
//! ```text
//! certloop-issue-leaves --count 5000 [--mode engine|facade|facade-batch] [--store URL] [--out DIR]
//! ```
//!
//! `engine` issues in-process (issuance engine + internal CA connector, no store); `facade`
//! calls `Certloop::issue` once per leaf over an on-disk SQLite inventory; `facade-batch` calls
//! `Certloop::issue_many` with 100 requests per call, one transaction each (`--per-call N`
//! changes that). `--store` puts the inventory
//! elsewhere (a `postgres://` URL: that server's own CPU time is not in `cpu_seconds`; compare
//! `wall_seconds`). Each leaf's certificate and key are
//! PEM-encoded, as a caller receives them. `--out DIR` writes the last leaf (`cert.pem`,
//! `key.pem`) and its CA chain (`chain.pem`) so that the caller can check it with
//! `openssl verify`.
//!
//! CPU time is this thread's (`CLOCK_THREAD_CPUTIME_ID`; everything runs on one thread: a
//! current-thread runtime, SQLite inline), so other processes on the machine do not inflate it.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use certloop::Certloop;
use certloop::crypto::pem_encode;
use certloop_benches::{LeafIssuer, leaf_request, runtime};

const USAGE: &str = "usage: certloop-issue-leaves --count N [--mode engine|facade|facade-batch] \
     [--per-call N] [--store URL] [--out DIR]";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Engine,
    Facade,
    FacadeBatch,
}

#[derive(Debug)]
struct Args {
    count: usize,
    mode: Mode,
    /// Requests per `issue_many` call (facade-batch).
    per_call: usize,
    store: Option<String>,
    out: Option<PathBuf>,
}

/// The last leaf issued: certificate, key, chain (PEM).
struct Leaf {
    certificate: String,
    key: String,
    chain: String,
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("certloop-issue-leaves: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("certloop-issue-leaves: {message}");
            ExitCode::FAILURE
        }
    }
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut count = None;
    let mut mode = Mode::Engine;
    let mut out = None;
    let mut store = None;
    let mut per_call = 100;
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--count" => {
                let text = value("--count")?;
                let n: usize =
                    text.parse().map_err(|_| format!("--count: {text:?} is not a number"))?;
                if n == 0 {
                    return Err("--count must be at least 1".to_owned());
                }
                count = Some(n);
            }
            "--mode" => {
                mode = match value("--mode")?.as_str() {
                    "engine" => Mode::Engine,
                    "facade" => Mode::Facade,
                    "facade-batch" => Mode::FacadeBatch,
                    other => return Err(format!("--mode: unknown mode {other:?}")),
                }
            }
            "--per-call" => {
                let text = value("--per-call")?;
                per_call = text
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| format!("--per-call: {text:?} is not a positive number"))?;
            }
            "--out" => out = Some(PathBuf::from(value("--out")?)),
            "--store" => store = Some(value("--store")?),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(Args { count: count.ok_or("--count is required")?, mode, per_call, store, out })
}

fn run(args: &Args) -> Result<(), String> {
    let rt = runtime().map_err(|e| e.to_string())?;
    let scratch = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
    let (leaf, cpu, wall) = rt.block_on(async {
        match args.mode {
            Mode::Engine => {
                let issuer = LeafIssuer::new().map_err(|e| e.to_string())?;
                timed(|| async {
                    let mut last = None;
                    for i in 0..args.count {
                        let (issued, key) = issuer
                            .issue(&format!("host-{i}.bench.internal"))
                            .await
                            .map_err(|e| e.to_string())?;
                        let certificate = pem_encode("CERTIFICATE", &issued.certificate_der);
                        let chain =
                            issued.chain_der.iter().map(|d| pem_encode("CERTIFICATE", d)).collect();
                        last = Some(Leaf { certificate, key, chain });
                    }
                    last.ok_or_else(|| "nothing issued".to_owned())
                })
                .await
            }
            Mode::Facade | Mode::FacadeBatch => {
                let certloop = Certloop::open_with_store(scratch.path(), args.store.as_deref())
                    .await
                    .map_err(|e| e.to_string())?;
                certloop.init_default().await.map_err(|e| e.to_string())?;
                let batch = if args.mode == Mode::Facade { 1 } else { args.per_call };
                timed(|| async {
                    let mut last = None;
                    let mut done = 0;
                    while done < args.count {
                        let n = batch.min(args.count - done);
                        let requests = (done..done + n)
                            .map(|i| leaf_request(&format!("host-{i}.bench.internal")))
                            .collect();
                        for result in certloop
                            .issue_many(requests, |_, _| {})
                            .await
                            .map_err(|e| e.to_string())?
                        {
                            let issued = result.map_err(|e| e.to_string())?;
                            let key = issued
                                .private_key
                                .as_ref()
                                .map(|k| k.expose().to_owned())
                                .ok_or("the response has no private key")?;
                            last = Some(Leaf {
                                certificate: issued.certificate,
                                key,
                                chain: issued.certificate_chain,
                            });
                        }
                        done += n;
                    }
                    last.ok_or_else(|| "nothing issued".to_owned())
                })
                .await
            }
        }
    })?;
    if let Some(dir) = &args.out {
        write_leaf(dir, &leaf)?;
    }
    let mode = match args.mode {
        Mode::Engine => "engine",
        Mode::Facade => "facade",
        Mode::FacadeBatch => "facade-batch",
    };
    let line = serde_json::json!({
        "peer": format!("certloop {mode}"),
        "store": if args.store.as_deref().is_some_and(|s| s.starts_with("postgres")) {
            "postgres"
        } else {
            "sqlite"
        },
        "leaves": args.count,
        "per_call": match args.mode {
            Mode::Engine => 0,
            Mode::Facade => 1,
            Mode::FacadeBatch => args.per_call,
        },
        "cpu_seconds": cpu,
        "wall_seconds": wall,
    });
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}").map_err(|e| format!("writing the result: {e}"))?;
    Ok(())
}

/// Run `work`, returning its result with the CPU and wall seconds it took.
async fn timed<F, Fut>(work: F) -> Result<(Leaf, f64, f64), String>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<Leaf, String>>,
{
    let cpu_start = thread_cpu_seconds()?;
    let wall_start = Instant::now();
    let leaf = work().await?;
    let wall = wall_start.elapsed().as_secs_f64();
    let cpu = thread_cpu_seconds()? - cpu_start;
    Ok((leaf, cpu, wall))
}

fn thread_cpu_seconds() -> Result<f64, String> {
    Ok(certloop_benches::thread_cpu_nanos() as f64 / 1e9)
}

/// Write the last leaf into `dir`; the key file is created with mode 0600.
fn write_leaf(dir: &std::path::Path, leaf: &Leaf) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for (name, text, mode) in [
        ("cert.pem", &leaf.certificate, 0o644),
        ("chain.pem", &leaf.chain, 0o644),
        ("key.pem", &leaf.key, 0o600),
    ] {
        let path = dir.join(name);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
        #[cfg(not(unix))]
        let _ = mode;
        options
            .open(&path)
            .and_then(|mut file| file.write_all(text.as_bytes()))
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

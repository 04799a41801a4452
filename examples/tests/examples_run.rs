//! Each README example runs and does what it says.

use std::process::Command;

fn run(bin: &str, args: &[&str]) -> String {
    let out = Command::new(bin).args(args).output().expect("example runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{bin} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn quickstart_writes_a_chain_openssl_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let (state, out) = (dir.path().join("state"), dir.path().join("out"));
    let stdout = run(
        env!("CARGO_BIN_EXE_quickstart"),
        &[state.to_str().unwrap(), out.to_str().unwrap(), "example.internal"],
    );
    assert!(stdout.starts_with("issued "), "{stdout}");
    let verify = Command::new("openssl")
        .args(["verify", "-partial_chain", "-CAfile", "chain.pem", "cert.pem"])
        .current_dir(&out)
        .output()
        .unwrap();
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stderr));
    assert!(out.join("key.pem").is_file());
}

#[test]
fn custom_policy_accepts_one_and_refuses_the_other() {
    let stdout = run(env!("CARGO_BIN_EXE_custom_policy"), &[]);
    assert!(stdout.contains("accepted: shop.acme.example"), "{stdout}");
    assert!(
        stdout.contains("attributes.commonName") && stdout.contains("attributes.ttl"),
        "{stdout}"
    );
}

#[test]
fn renewal_sweep_renews_the_long_one_and_reports_the_expired_one() {
    let stdout = run(env!("CARGO_BIN_EXE_renewal_sweep"), &[]);
    assert!(stdout.contains("2 certificate(s) due"), "{stdout}");
    assert!(stdout.contains("long.internal: daysBeforeExpiry"), "{stdout}");
    assert!(stdout.contains("short.internal: expired"), "{stdout}");
}

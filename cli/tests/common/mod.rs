//! What every CLI test needs: run the real `certloop` binary on a state directory.
// Each test file uses the part it needs.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// Run `certloop ARGS` with `CERTLOOP_HOME=home` and none of the secrets a developer's shell may
/// export.
pub fn certloop(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_certloop"))
        .args(args)
        .env("CERTLOOP_HOME", home)
        .env_remove("CERTLOOP_MASTER_KEY")
        .env_remove("CERTLOOP_KEYSTORE_PASSWORD")
        .output()
        .expect("certloop runs")
}

/// stdout then stderr, for failure messages.
pub fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// Run `certloop ARGS`, which must succeed; its stdout.
pub fn ok(home: &Path, args: &[&str]) -> String {
    let out = certloop(home, args);
    assert!(
        out.status.success(),
        "certloop {args:?} failed ({:?}):\n{}",
        out.status.code(),
        text(&out)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Parse JSON output, showing it when it is not JSON.
pub fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

//! Issue a certificate from the embedded default CA and write it to a directory.
//!
//! `cargo run -p certloop-examples --bin quickstart -- STATE_DIR OUT_DIR [COMMON_NAME]`

use std::path::PathBuf;

use certloop::Certloop;
use certloop::model::IssueRequest;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let state = PathBuf::from(args.next().unwrap_or_else(|| ".certloop".into()));
    let out = PathBuf::from(args.next().unwrap_or_else(|| "certs".into()));
    let common_name = args.next().unwrap_or_else(|| "demo.internal".into());

    let certloop = Certloop::open(&state).await?;
    certloop.init_default().await?;
    let request: IssueRequest = serde_json::from_value(serde_json::json!({
        "attributes": { "commonName": common_name, "ttl": "30d" }
    }))?;
    let issued = certloop.issue(request).await?;

    std::fs::create_dir_all(&out)?;
    std::fs::write(out.join("cert.pem"), &issued.certificate)?;
    std::fs::write(out.join("chain.pem"), &issued.certificate_chain)?;
    if let Some(key) = &issued.private_key {
        write_private(&out.join("key.pem"), key.expose())?;
    }
    println!("issued {} serial {}", issued.certificate_id, issued.serial_number);
    Ok(())
}

/// Write a private key readable by its owner only.
fn write_private(path: &std::path::Path, pem: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(pem.as_bytes())
}

//! Issue certificates, move an injected clock forward, and renew what is due, printing why.
//!
//! `cargo run -p certloop-examples --bin renewal_sweep`

use std::sync::Arc;

use certloop::Certloop;
use certloop::clock::FixedClock;
use certloop::model::IssueRequest;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let clock = Arc::new(FixedClock::new(time::OffsetDateTime::now_utc()));
    let certloop = Certloop::in_memory().await?.with_clock(clock.clone());
    certloop.init_default().await?;
    for (name, ttl) in [("short.internal", "10d"), ("long.internal", "90d")] {
        let request: IssueRequest = serde_json::from_value(serde_json::json!({
            "attributes": { "commonName": name, "ttl": ttl }
        }))?;
        certloop.issue(request).await?;
    }

    clock.advance(time::Duration::days(65));
    let due = certloop.renewals_due().await?;
    println!("{} certificate(s) due after 65 days", due.len());
    for item in due {
        let renewed = certloop.renew(&item.certificate.certificate_id).await;
        match renewed {
            Ok(issued) => println!(
                "{}: {} ({}) -> renewed as {}",
                item.certificate.common_name,
                item.reason.check,
                item.reason.message,
                issued.certificate_id
            ),
            Err(e) => println!(
                "{}: {} -> not renewed: {e}",
                item.certificate.common_name, item.reason.check
            ),
        }
    }
    Ok(())
}

//! A template that only allows `*.acme.example` for at most 30 days, a profile using it, one
//! request it accepts and one it refuses with every violation named.
//!
//! `cargo run -p certloop-examples --bin custom_policy`

use certloop::model::IssueRequest;
use certloop::policy::{CertificateProfile, CertificateTemplate};
use certloop::{Certloop, Error};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let certloop = Certloop::in_memory().await?;
    let setup = certloop.init_default().await?;
    let template: CertificateTemplate = serde_json::from_value(serde_json::json!({
        "slug": "acme-web",
        "subject": [{ "type": "common_name", "allowed": ["*.acme.example"], "required": true }],
        "sans": [{ "type": "DNS", "allowed": ["*.acme.example"] }],
        "validity": { "max": "30d" }
    }))?;
    certloop.save_template(template).await?;
    let profile: CertificateProfile = serde_json::from_value(serde_json::json!({
        "slug": "acme-web",
        "templateId": "acme-web",
        "issuer": { "type": "internalCa", "caId": setup.issuing_ca.id },
        "apiConfig": { "autoRenew": true, "renewBeforeDays": 7 }
    }))?;
    certloop.save_profile(profile).await?;

    let good: IssueRequest = serde_json::from_value(serde_json::json!({
        "profileId": "acme-web", "attributes": { "commonName": "shop.acme.example" }
    }))?;
    let issued = certloop.issue(good).await?;
    println!("accepted: shop.acme.example -> {}", issued.certificate_id);

    let bad: IssueRequest = serde_json::from_value(serde_json::json!({
        "profileId": "acme-web",
        "attributes": { "commonName": "shop.evil.example", "ttl": "90d" }
    }))?;
    match certloop.issue(bad).await {
        Err(Error::PolicyViolation { violations }) => {
            println!("refused with {} violations:", violations.len());
            for violation in violations {
                println!("  {violation}");
            }
            Ok(())
        }
        Ok(_) => Err("the template should have refused shop.evil.example".into()),
        Err(other) => Err(other.into()),
    }
}

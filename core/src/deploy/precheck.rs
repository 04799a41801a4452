//! Step 1 of a deployment: check the bundle itself before any file changes. A server's own
//! config test does not always catch a bad bundle (`nginx -t` accepts a key that does not
//! match the certificate and then fails every handshake).

use time::OffsetDateTime;

use crate::crypto::{CertificateInfo, inspect_certificate};
use crate::error::{Error, Result};
use crate::keystore::KeystoreBundle;

/// Check that the private key matches the leaf, each certificate is signed by the next one up
/// the chain, and every certificate is within its validity at `now`. Every problem is listed.
pub fn check_bundle(bundle: &KeystoreBundle, now: OffsetDateTime) -> Result<()> {
    let mut problems = Vec::new();
    let leaf = inspect_certificate(&bundle.certificate)?;
    let chain: Vec<CertificateInfo> =
        bundle.chain.iter().map(|der| inspect_certificate(der)).collect::<Result<_>>()?;
    match &bundle.private_key {
        Some(key) if key.public_key().spki_der() != leaf.spki_der() => problems.push(format!(
            "the private key ({}) does not match the certificate's public key ({:?} {} bits)",
            key.algorithm(),
            leaf.key_family,
            leaf.key_bits
        )),
        Some(_) => {}
        None => problems.push("there is no private key to deploy".to_owned()),
    }
    let mut all = vec![&leaf];
    all.extend(chain.iter());
    for pair in all.windows(2) {
        let (child, parent) = (pair[0], pair[1]);
        let linked = child.issuer_dn == parent.subject_dn
            && parent.public_key().and_then(|key| child.verify_signed_by(&key)).is_ok();
        if !linked {
            problems.push(format!(
                "{} is not signed by the next certificate of the chain ({})",
                child.subject_dn, parent.subject_dn
            ));
        }
    }
    if let Some(top) = all.last()
        && chain.is_empty()
        && top.issuer_dn != top.subject_dn
    {
        problems.push(format!("the chain up to {} is missing", top.issuer_dn));
    }
    for info in &all {
        if !info.is_valid_at(now) {
            problems.push(format!(
                "{} is not valid now (valid {} to {})",
                info.subject_dn, info.not_before, info.not_after
            ));
        }
    }
    if problems.is_empty() { Ok(()) } else { Err(Error::invalid("bundle", problems.join("; "))) }
}

//! Certificate and CRL inspection against certificates and CRLs made by the real `openssl`.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

use certloop::Error;
use certloop::crypto::{
    PrivateKey, fingerprint_sha256, inspect_certificate, inspect_certificates, inspect_crl,
    pem_decode_all, pem_encode,
};
use certloop::model::{
    ExtendedKeyUsage, KeyAlgorithm, KeyFamily, KeyUsage, RevocationReason, SignatureAlgorithm,
    SubjectAltName,
};

fn openssl(args: &[&str]) -> String {
    let out = Command::new("openssl").args(args).output().expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn path(dir: &Path, name: &str) -> String {
    dir.join(name).to_string_lossy().into_owned()
}

/// A CA-like self-signed certificate with every extension inspection reads.
fn make_ca(dir: &Path) -> (String, String) {
    let cert = path(dir, "ca.pem");
    let key = path(dir, "ca.key");
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        &key,
        "-out",
        &cert,
        "-days",
        "10",
        "-sha384",
        "-set_serial",
        "0x00ab12cd34ef",
        "-subj",
        "/C=NL/O=Test Org/OU=PKI/CN=Test CA",
        "-addext",
        "subjectAltName=DNS:ca.test,IP:127.0.0.1,email:pki@ca.test,URI:https://ca.test/",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
        "-addext",
        "extendedKeyUsage=serverAuth,1.3.6.1.4.1.99999.1",
        "-addext",
        "basicConstraints=critical,CA:TRUE,pathlen:1",
        "-addext",
        "crlDistributionPoints=URI:http://crl.ca.test/ca.crl",
        "-addext",
        "authorityInfoAccess=caIssuers;URI:http://ca.test/ca.cer",
        "-addext",
        "certificatePolicies=2.23.140.1.2.1",
    ]);
    (cert, key)
}

#[test]
fn openssl_certificate_inspects_with_every_field() {
    let dir = tempfile::tempdir().unwrap();
    let (cert_path, key_path) = make_ca(dir.path());
    let pem = std::fs::read(&cert_path).unwrap();
    let info = inspect_certificate(&pem).unwrap();

    assert_eq!(info.subject.common_name.as_deref(), Some("Test CA"));
    assert_eq!(info.subject.organizational_unit.as_deref(), Some("PKI"));
    assert_eq!(info.subject_dn, "C=NL, O=Test Org, OU=PKI, CN=Test CA");
    assert_eq!(info.issuer_dn, info.subject_dn);
    assert_eq!(info.serial_number, "ab12cd34ef");
    assert_eq!(
        openssl(&["x509", "-in", &cert_path, "-noout", "-serial"]).trim().to_ascii_lowercase(),
        format!("serial={}", info.serial_number)
    );
    assert_eq!(info.not_after - info.not_before, time::Duration::days(10));
    assert_eq!(
        info.alt_names,
        vec![
            SubjectAltName::dns("ca.test"),
            SubjectAltName::ip("127.0.0.1".parse().unwrap()),
            SubjectAltName::email("pki@ca.test"),
            SubjectAltName::uri("https://ca.test/"),
        ]
    );
    assert_eq!((info.key_family, info.key_bits), (KeyFamily::Rsa, 2048));
    assert_eq!(info.key_algorithm, Some(KeyAlgorithm::Rsa2048));
    assert_eq!(info.signature_algorithm, Some(SignatureAlgorithm::RsaSha384));
    assert_eq!(
        info.key_usages,
        vec![KeyUsage::DigitalSignature, KeyUsage::KeyCertSign, KeyUsage::CrlSign]
    );
    assert_eq!(
        info.extended_key_usages,
        vec![ExtendedKeyUsage::ServerAuth, ExtendedKeyUsage::Other("1.3.6.1.4.1.99999.1".into())]
    );
    assert!(info.is_ca);
    assert_eq!(info.path_length, Some(1));
    assert_eq!(info.subject_key_id.as_deref().map(str::len), Some(40));
    assert_eq!(info.authority_key_id, info.subject_key_id);
    assert_eq!(info.crl_distribution_points, vec!["http://crl.ca.test/ca.crl".to_owned()]);
    assert_eq!(info.ca_issuers, vec!["http://ca.test/ca.cer".to_owned()]);
    assert_eq!(info.policies, vec!["2.23.140.1.2.1".to_owned()]);

    let openssl_fp = openssl(&["x509", "-in", &cert_path, "-noout", "-fingerprint", "-sha256"]);
    let openssl_fp = openssl_fp.trim().rsplit('=').next().unwrap().replace(':', "").to_lowercase();
    assert_eq!(info.fingerprint_sha256, openssl_fp);
    assert_eq!(fingerprint_sha256(&info.der), openssl_fp);

    // JSON shape.
    let json = serde_json::to_value(&info).unwrap();
    assert_eq!(json["subjectDn"], "C=NL, O=Test Org, OU=PKI, CN=Test CA");
    assert_eq!(json["keyAlgorithm"], "RSA_2048");
    assert_eq!(json["altNames"][1]["type"], "IP");
    assert!(json["notAfter"].as_str().unwrap().ends_with('Z'));
    assert!(json.get("der").is_none());

    // The signature checks out with its own key and not with another.
    let key = PrivateKey::from_pem(&std::fs::read_to_string(&key_path).unwrap()).unwrap();
    assert_eq!(info.public_key().unwrap(), key.public_key());
    info.verify_signed_by(&key.public_key()).unwrap();
    let other = PrivateKey::generate(KeyAlgorithm::Rsa2048).unwrap();
    assert!(info.verify_signed_by(&other.public_key()).is_err());
}

#[test]
fn der_and_bundles_inspect() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, _) = make_ca(dir.path());
    let leaf = path(dir.path(), "leaf.pem");
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ed25519",
        "-nodes",
        "-keyout",
        &path(dir.path(), "leaf.key"),
        "-out",
        &leaf,
        "-days",
        "1",
        "-subj",
        "/CN=leaf.test",
    ]);
    let bundle = std::fs::read_to_string(&leaf).unwrap() + &std::fs::read_to_string(&ca).unwrap();
    let all = inspect_certificates(bundle.as_bytes()).unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].subject.common_name.as_deref(), Some("leaf.test"));
    assert_eq!(all[0].key_algorithm, Some(KeyAlgorithm::Ed25519));
    assert_eq!(all[0].signature_algorithm, Some(SignatureAlgorithm::Ed25519));
    assert_eq!(all[1].subject.common_name.as_deref(), Some("Test CA"));
    assert_eq!(inspect_certificate(bundle.as_bytes()).unwrap().der, all[0].der);

    let der = pem_decode_all(bundle.as_bytes(), "CERTIFICATE").unwrap().remove(1);
    assert_eq!(inspect_certificate(&der).unwrap().fingerprint_sha256, all[1].fingerprint_sha256);
}

#[test]
fn bad_certificates_are_invalid_input() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, _) = make_ca(dir.path());
    let der = pem_decode_all(&std::fs::read(&ca).unwrap(), "CERTIFICATE").unwrap().remove(0);
    let truncated = &der[..der.len() - 10];
    let wrong_label = pem_encode("X509 CRL", &der);
    for input in [&b""[..], b"\x00\x01garbage", truncated, wrong_label.as_bytes()] {
        let err = inspect_certificate(input).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidInput { field, .. } if field == "certificate"),
            "{err}"
        );
    }
    let garbage_pem = "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n";
    assert!(inspect_certificates(garbage_pem.as_bytes()).is_err());
}

#[test]
fn openssl_crl_inspects() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, key) = make_ca(dir.path());
    let index = path(dir.path(), "index.txt");
    std::fs::write(
        &index,
        "R\t301231235959Z\t240101000000Z,keyCompromise\t0A1B\tunknown\t/CN=one\n\
         R\t301231235959Z\t240202000000Z\t00FF\tunknown\t/CN=two\n",
    )
    .unwrap();
    std::fs::write(path(dir.path(), "crlnumber"), "1F\n").unwrap();
    let config = path(dir.path(), "ca.cnf");
    std::fs::write(
        &config,
        format!(
            "[ca]\ndefault_ca = test\n[test]\ndatabase = {index}\ncrlnumber = {}\n\
             default_md = sha256\ndefault_crl_days = 7\n",
            path(dir.path(), "crlnumber")
        ),
    )
    .unwrap();
    let crl_path = path(dir.path(), "ca.crl");
    openssl(&[
        "ca", "-gencrl", "-config", &config, "-cert", &ca, "-keyfile", &key, "-out", &crl_path,
    ]);

    let crl = inspect_crl(&std::fs::read(&crl_path).unwrap()).unwrap();
    assert_eq!(crl.issuer_dn, "C=NL, O=Test Org, OU=PKI, CN=Test CA");
    assert_eq!(crl.crl_number.as_deref(), Some("1f"));
    assert_eq!(crl.next_update.unwrap() - crl.this_update, time::Duration::days(7));
    assert_eq!(crl.revoked.len(), 2);
    let one = crl.revoked.iter().find(|r| r.serial_number == "0a1b").unwrap();
    assert_eq!(one.reason, Some(RevocationReason::KeyCompromise));
    assert_eq!(one.revoked_at, time::macros::datetime!(2024-01-01 00:00 UTC));
    let two = crl.revoked.iter().find(|r| r.serial_number == "ff").unwrap();
    assert_eq!(two.reason, None);

    let json = serde_json::to_value(&crl).unwrap();
    assert_eq!(json["crlNumber"], "1f");
    let entries = json["revoked"].as_array().unwrap();
    let one_json = entries.iter().find(|e| e["serialNumber"] == "0a1b").unwrap();
    assert_eq!(one_json["reason"], "keyCompromise");
    assert_eq!(one_json["revokedAt"], "2024-01-01T00:00:00Z");
    let err = inspect_crl(pem_encode("CERTIFICATE", &crl.der).as_bytes()).unwrap_err();
    assert!(matches!(&err, Error::InvalidInput { field, .. } if field == "crl"), "{err}");
}

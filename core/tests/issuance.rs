//! Issuance through the façade, checked with the real `openssl` binary.

mod common;

use certloop::model::{
    CertificateAttributes, IssueRequest, KeyAlgorithm, RevocationReason, SanType, Subject,
    SubjectAltName, Ttl,
};
use certloop::{Certloop, Error, ErrorKind};
use common::{Scratch, openssl, openssl_ok, pem_blocks};

fn request(cn: &str) -> IssueRequest {
    IssueRequest {
        attributes: CertificateAttributes {
            subject: Subject::common_name(cn),
            ..CertificateAttributes::default()
        },
        ..IssueRequest::default()
    }
}

async fn ready() -> Certloop {
    let certloop = Certloop::in_memory().await.expect("in-memory instance");
    certloop.init_default().await.expect("default set-up");
    certloop
}

#[tokio::test]
async fn init_default_is_idempotent() {
    let certloop = Certloop::in_memory().await.unwrap();
    let first = certloop.init_default().await.unwrap();
    let second = certloop.init_default().await.unwrap();
    assert!(first.created);
    assert!(!second.created);
    assert_eq!(first.issuing_ca.id, second.issuing_ca.id);
    assert_eq!(certloop.list_cas().await.unwrap().len(), 2);
    assert_eq!(first.issuing_ca.parent_id.as_deref(), Some(first.root_ca.id.as_str()));
}

#[tokio::test]
async fn generated_key_leaf_verifies_with_openssl_and_matches_its_key() {
    let certloop = ready().await;
    let mut req = request("api.internal");
    req.attributes.alt_names = Some(vec![
        SubjectAltName::dns("www.api.internal"),
        SubjectAltName::parse_tagged("IP:127.0.0.1").unwrap(),
    ]);
    let issued = certloop.issue(req).await.unwrap();
    let key = issued.private_key.as_ref().expect("a generated key is returned once");
    assert!(key.expose().starts_with("-----BEGIN PRIVATE KEY-----"));

    let chain = pem_blocks(&issued.certificate_chain);
    assert_eq!(chain.len(), 2, "issuing CA then root");
    assert_eq!(chain[0], issued.issuing_ca_certificate);
    let dir = Scratch::new();
    dir.write("leaf.pem", &issued.certificate);
    dir.write("issuing.pem", &chain[0]);
    dir.write("root.pem", &chain[1]);
    dir.write("key.pem", key.expose());
    let out = openssl_ok(
        dir.path(),
        &[
            "verify",
            "-x509_strict",
            "-purpose",
            "sslserver",
            "-CAfile",
            "root.pem",
            "-untrusted",
            "issuing.pem",
            "leaf.pem",
        ],
    );
    assert!(out.contains("leaf.pem: OK"), "{out}");

    let cert_pub = openssl_ok(dir.path(), &["x509", "-in", "leaf.pem", "-noout", "-pubkey"]);
    let key_pub = openssl_ok(dir.path(), &["pkey", "-in", "key.pem", "-pubout"]);
    assert_eq!(cert_pub, key_pub, "the returned key belongs to the certificate");

    let text = openssl_ok(dir.path(), &["x509", "-in", "leaf.pem", "-noout", "-text"]);
    assert!(text.contains("DNS:api.internal"), "CN copied into SANs:\n{text}");
    assert!(
        text.contains("DNS:www.api.internal") && text.contains("IP Address:127.0.0.1"),
        "{text}"
    );
    assert!(text.contains("CA:FALSE"), "{text}");
    assert!(text.contains("X509v3 Authority Key Identifier"), "{text}");
    assert!(text.contains("X509v3 Subject Key Identifier"), "{text}");
    assert!(text.contains("TLS Web Server Authentication"), "{text}");

    let serial = openssl_ok(dir.path(), &["x509", "-in", "leaf.pem", "-noout", "-serial"]);
    let serial = serial.trim().trim_start_matches("serial=").to_ascii_lowercase();
    assert_eq!(serial.trim_start_matches('0'), issued.serial_number.trim_start_matches('0'));
    assert!(serial.len() >= 16, "at least 64 bits of serial: {serial}");
}

#[tokio::test]
async fn csrs_made_by_openssl_are_accepted_for_every_key_type() {
    let certloop = ready().await;
    let dir = Scratch::new();
    let root = certloop.get_ca("certloop-root").await.unwrap();
    let issuing = certloop.get_ca("certloop-issuing").await.unwrap();
    dir.write("root.pem", &root.certificate);
    dir.write("issuing.pem", &issuing.certificate);
    let keys: [(&str, &[&str]); 4] = [
        (
            "rsa",
            &[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
                "-out",
                "rsa.key",
            ],
        ),
        (
            "p256",
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
                "p256.key",
            ],
        ),
        (
            "p384",
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-384",
                "-out",
                "p384.key",
            ],
        ),
        ("ed25519", &["genpkey", "-algorithm", "ED25519", "-out", "ed25519.key"]),
    ];
    for (name, genkey) in keys {
        openssl_ok(dir.path(), genkey);
        let cn = format!("{name}.svc.internal");
        let (key, csr, crt) = (format!("{name}.key"), format!("{name}.csr"), format!("{name}.crt"));
        openssl_ok(
            dir.path(),
            &[
                "req",
                "-new",
                "-key",
                &key,
                "-subj",
                &format!("/CN={cn}/O=Example"),
                "-addext",
                &format!("subjectAltName=DNS:{cn},DNS:alt.{cn}"),
                "-out",
                &csr,
            ],
        );
        let csr_pem = std::fs::read_to_string(dir.path().join(&csr)).unwrap();
        let issued = certloop
            .issue(IssueRequest { csr: Some(csr_pem), ..IssueRequest::default() })
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(issued.private_key.is_none(), "{name}: the caller kept the key");
        dir.write(&crt, &issued.certificate);
        let out = openssl_ok(
            dir.path(),
            &["verify", "-CAfile", "root.pem", "-untrusted", "issuing.pem", &crt],
        );
        assert!(out.contains("OK"), "{name}: {out}");
        let record = certloop.show(&issued.certificate_id).await.unwrap();
        assert_eq!(record.common_name, cn);
        assert!(record.alt_names.contains(&SubjectAltName::dns(format!("alt.{cn}"))), "{name}");
        let subject = openssl_ok(dir.path(), &["x509", "-in", &crt, "-noout", "-subject"]);
        assert!(subject.contains("O = Example"), "{name}: {subject}");
    }
}

#[tokio::test]
async fn a_csr_with_a_broken_signature_is_refused() {
    let certloop = ready().await;
    let dir = Scratch::new();
    openssl_ok(
        dir.path(),
        &["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "k.pem"],
    );
    openssl_ok(
        dir.path(),
        &[
            "req",
            "-new",
            "-key",
            "k.pem",
            "-subj",
            "/CN=tamper.internal",
            "-outform",
            "DER",
            "-out",
            "r.der",
        ],
    );
    let mut der = std::fs::read(dir.path().join("r.der")).unwrap();
    let last = der.len() - 3;
    der[last] ^= 0x55;
    let pem = certloop::crypto::pem_encode("CERTIFICATE REQUEST", &der);
    let err = certloop
        .issue(IssueRequest { csr: Some(pem), ..IssueRequest::default() })
        .await
        .unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::InvalidInput | ErrorKind::Crypto), "{err:?}");
    assert!(err.to_string().to_lowercase().contains("signature"), "{err}");
}

#[tokio::test]
async fn garbage_and_truncated_csrs_are_typed_errors_naming_the_field() {
    let certloop = ready().await;
    let garbage = "-----BEGIN CERTIFICATE REQUEST-----\nnot base64 at all!\n-----END CERTIFICATE REQUEST-----\n";
    let dir = Scratch::new();
    openssl_ok(
        dir.path(),
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "k.pem",
            "-subj",
            "/CN=t.internal",
            "-outform",
            "DER",
            "-out",
            "r.der",
        ],
    );
    let der = std::fs::read(dir.path().join("r.der")).unwrap();
    let truncated = certloop::crypto::pem_encode("CERTIFICATE REQUEST", &der[..der.len() / 2]);
    for bad in [garbage.to_owned(), truncated, "hello".to_owned()] {
        let err = certloop
            .issue(IssueRequest { csr: Some(bad), ..IssueRequest::default() })
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
        assert!(err.to_string().contains("csr"), "the error names the field: {err}");
    }
}

#[tokio::test]
async fn revocation_and_suspension_show_in_a_crl_openssl_verifies() {
    let certloop = ready().await;
    let revoked = certloop.issue(request("gone.internal")).await.unwrap();
    let held = certloop.issue(request("held.internal")).await.unwrap();
    let fine = certloop.issue(request("fine.internal")).await.unwrap();
    certloop.revoke(&revoked.certificate_id, RevocationReason::KeyCompromise).await.unwrap();
    certloop.suspend(&held.certificate_id).await.unwrap();

    let crl = certloop.crl(None).await.unwrap();
    let dir = Scratch::new();
    let chain = pem_blocks(&fine.certificate_chain);
    dir.write("crl.pem", &crl.pem);
    dir.write("issuing.pem", &chain[0]);
    dir.write("root.pem", &chain[1]);
    let verify = openssl(
        dir.path(),
        &["crl", "-in", "crl.pem", "-CAfile", "issuing.pem", "-noout", "-verify"],
    );
    assert!(
        verify.success && verify.stderr.contains("verify OK"),
        "{}{}",
        verify.stdout,
        verify.stderr
    );
    let text = openssl_ok(dir.path(), &["crl", "-in", "crl.pem", "-noout", "-text"]);
    let upper = |s: &str| s.to_ascii_uppercase();
    assert!(text.contains(&upper(&revoked.serial_number)), "{text}");
    assert!(text.contains("Key Compromise"), "{text}");
    assert!(
        text.contains(&upper(&held.serial_number)) && text.contains("Certificate Hold"),
        "{text}"
    );
    assert!(!text.contains(&upper(&fine.serial_number)), "{text}");

    // A relying party that checks the CRL rejects the revoked leaf and accepts the fine one.
    dir.write("both.pem", format!("{}{}", chain[1], crl.pem));
    dir.write("gone.pem", &revoked.certificate);
    dir.write("fine.pem", &fine.certificate);
    let gone = openssl(
        dir.path(),
        &["verify", "-crl_check", "-CAfile", "both.pem", "-untrusted", "issuing.pem", "gone.pem"],
    );
    assert!(
        !gone.success && (gone.stdout + &gone.stderr).contains("revoked"),
        "revoked leaf must fail"
    );
    let ok = openssl(
        dir.path(),
        &["verify", "-crl_check", "-CAfile", "both.pem", "-untrusted", "issuing.pem", "fine.pem"],
    );
    assert!(ok.success, "{}{}", ok.stdout, ok.stderr);

    // Lifting the hold drops it from the next CRL, whose number has gone up.
    certloop.unsuspend(&held.certificate_id).await.unwrap();
    let next = certloop.crl(None).await.unwrap();
    assert!(next.number > crl.number);
    dir.write("next.pem", &next.pem);
    let text = openssl_ok(dir.path(), &["crl", "-in", "next.pem", "-noout", "-text"]);
    assert!(!text.contains(&upper(&held.serial_number)), "{text}");
    assert!(text.contains(&upper(&revoked.serial_number)), "{text}");

    let err =
        certloop.revoke(&revoked.certificate_id, RevocationReason::Superseded).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidState);
}

#[tokio::test]
async fn renewal_reissues_the_same_names_with_a_new_key_and_links_both() {
    let certloop = ready().await;
    let mut req = request("renew.internal");
    req.attributes.ttl = Some(Ttl::from_days(30));
    let first = certloop.issue(req).await.unwrap();
    let second = certloop.renew(&first.certificate_id).await.unwrap();
    assert_ne!(first.serial_number, second.serial_number);
    assert_ne!(
        first.private_key.as_ref().unwrap().expose(),
        second.private_key.as_ref().unwrap().expose(),
        "renewal rotates the key"
    );
    let old = certloop.show(&first.certificate_id).await.unwrap();
    let new = certloop.show(&second.certificate_id).await.unwrap();
    assert_eq!(old.renewed_by.as_deref(), Some(second.certificate_id.as_str()));
    assert_eq!(new.renewed_from.as_deref(), Some(first.certificate_id.as_str()));
    assert_eq!(old.alt_names, new.alt_names);
    assert_eq!((new.not_after - new.not_before).whole_days(), 30);
}

#[tokio::test]
async fn unknown_profile_and_bad_attributes_are_typed_errors() {
    let certloop = ready().await;
    let mut req = request("x.internal");
    req.profile_id = Some("no-such-profile".into());
    assert_eq!(certloop.issue(req).await.unwrap_err().kind(), ErrorKind::NotFound);

    let bad_json =
        serde_json::json!({"attributes": {"commonName": "a.internal", "keyAlgorithm": "RSA_1000"}});
    let err = serde_json::from_value::<IssueRequest>(bad_json).unwrap_err();
    assert!(err.to_string().contains("RSA_1000"), "{err}");

    let bad_ttl =
        serde_json::json!({"attributes": {"commonName": "a.internal", "ttl": "ten days"}});
    assert!(serde_json::from_value::<IssueRequest>(bad_ttl).is_err());

    let mut empty_san = request("y.internal");
    empty_san.attributes.alt_names =
        Some(vec![SubjectAltName { kind: SanType::Dns, value: String::new() }]);
    let err = certloop.issue(empty_san).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("altNames[0]"), "{err}");
}

#[tokio::test]
async fn key_algorithms_and_signature_algorithms_are_honoured() {
    let certloop = ready().await;
    for alg in [KeyAlgorithm::EcP384, KeyAlgorithm::Ed25519, KeyAlgorithm::Rsa2048] {
        let mut req = request(&format!(
            "{}.keys.internal",
            alg.as_str().to_ascii_lowercase().replace('_', "-")
        ));
        req.attributes.key_algorithm = Some(alg);
        let issued = certloop.issue(req).await.unwrap_or_else(|e| panic!("{alg}: {e}"));
        let record = certloop.show(&issued.certificate_id).await.unwrap();
        assert_eq!(record.key_algorithm, Some(alg));
        let key =
            certloop::crypto::PrivateKey::from_pem(issued.private_key.unwrap().expose()).unwrap();
        assert_eq!(key.algorithm(), alg);
    }
    let err = certloop
        .issue(IssueRequest {
            attributes: CertificateAttributes {
                subject: Subject::common_name("sig.internal"),
                signature_algorithm: Some(certloop::model::SignatureAlgorithm::RsaSha256),
                ..CertificateAttributes::default()
            },
            ..IssueRequest::default()
        })
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidInput { .. } | Error::PolicyViolation { .. }),
        "an EC CA cannot sign RSA-SHA256: {err}"
    );
}

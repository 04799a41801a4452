//! CSRs against the real `openssl` binary: ours verify in OpenSSL, OpenSSL's inspect here, and a
//! tampered CSR is refused.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

use certloop::crypto::{PrivateKey, pem_encode};
use certloop::csr::{
    CsrBuilder, CsrMode, CsrOverrides, CsrSpec, DefaultCsrBuilder, KeyChoice, inspect_csr,
    prepare_csr,
};
use certloop::model::{
    ExtendedKeyUsage, KeyAlgorithm, KeyUsage, SignatureAlgorithm, Subject, SubjectAltName,
};
use certloop::{Error, ErrorKind};

fn openssl(args: &[&str]) -> String {
    let out = Command::new("openssl").args(args).output().expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

fn path(dir: &Path, name: &str) -> String {
    dir.join(name).to_string_lossy().into_owned()
}

fn full_spec() -> CsrSpec {
    CsrSpec {
        subject: Subject {
            country: Some("DE".into()),
            organization: Some("Example GmbH".into()),
            ..Subject::common_name("app.example.com")
        },
        alt_names: vec![
            SubjectAltName::dns("app.example.com"),
            SubjectAltName::dns("*.app.example.com"),
            SubjectAltName::ip("10.0.0.7".parse().unwrap()),
            SubjectAltName::ip("2001:db8::1".parse().unwrap()),
            SubjectAltName::email("ops@example.com"),
            SubjectAltName::uri("spiffe://example.com/app"),
        ],
        key_usages: vec![KeyUsage::DigitalSignature],
        extended_key_usages: vec![ExtendedKeyUsage::ServerAuth, ExtendedKeyUsage::ClientAuth],
        signature_algorithm: None,
    }
}

#[test]
fn our_csrs_verify_in_openssl_and_inspect_back() {
    let dir = tempfile::tempdir().unwrap();
    for alg in
        [KeyAlgorithm::EcP256, KeyAlgorithm::EcP384, KeyAlgorithm::Ed25519, KeyAlgorithm::Rsa2048]
    {
        let key = PrivateKey::generate(alg).unwrap();
        let csr = DefaultCsrBuilder.build(&key, &full_spec()).unwrap();
        let file = path(dir.path(), "req.pem");
        std::fs::write(&file, &csr.pem).unwrap();
        let text = openssl(&["req", "-in", &file, "-verify", "-noout", "-text"]);
        assert!(
            text.contains("verify OK")
                || text.contains("Certificate request self-signature verify OK"),
            "{alg}: {text}"
        );
        for needle in [
            "IP Address:10.0.0.7",
            "email:ops@example.com",
            "URI:spiffe://example.com/app",
            "DNS:*.app.example.com",
            "TLS Web Server Authentication",
        ] {
            assert!(text.contains(needle), "{alg}: {needle} missing in {text}");
        }

        let info = inspect_csr(csr.pem.as_bytes()).unwrap();
        assert_eq!(info.subject.common_name.as_deref(), Some("app.example.com"));
        assert_eq!(info.subject_dn, "C=DE, O=Example GmbH, CN=app.example.com");
        assert_eq!(info.alt_names, full_spec().alt_names);
        assert_eq!(info.key_usages, vec![KeyUsage::DigitalSignature]);
        assert_eq!(info.extended_key_usages, full_spec().extended_key_usages);
        assert_eq!(info.key_algorithm, Some(alg));
        assert_eq!(info.signature_algorithm, alg.default_signature());
        assert_eq!(info.public_key, key.public_key());
        assert_eq!(inspect_csr(&csr.der).unwrap().der, csr.der);
    }
}

#[test]
fn chosen_signature_algorithm_is_used() {
    let key = PrivateKey::generate(KeyAlgorithm::Rsa2048).unwrap();
    let spec = CsrSpec { signature_algorithm: Some(SignatureAlgorithm::RsaSha512), ..full_spec() };
    let csr = DefaultCsrBuilder.build(&key, &spec).unwrap();
    assert_eq!(inspect_csr(&csr.der).unwrap().signature_algorithm, SignatureAlgorithm::RsaSha512);
    let ec = PrivateKey::generate(KeyAlgorithm::EcP256).unwrap();
    let err = DefaultCsrBuilder.build(&ec, &spec).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}

#[test]
fn openssl_csrs_inspect_with_their_names() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&[&str], KeyAlgorithm); 4] = [
        (&["-newkey", "rsa:2048"], KeyAlgorithm::Rsa2048),
        (&["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"], KeyAlgorithm::EcP256),
        (&["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"], KeyAlgorithm::EcP384),
        (&["-newkey", "ed25519"], KeyAlgorithm::Ed25519),
    ];
    for (keyopts, alg) in cases {
        let req = path(dir.path(), "req.pem");
        let key = path(dir.path(), "key.pem");
        let mut args = vec!["req", "-new", "-nodes", "-keyout", &key, "-out", &req];
        args.extend_from_slice(keyopts);
        args.extend_from_slice(&[
            "-subj",
            "/O=Acme/CN=svc.acme.test",
            "-addext",
            "subjectAltName=DNS:svc.acme.test,DNS:alt.acme.test,IP:192.0.2.5",
            "-addext",
            "extendedKeyUsage=serverAuth",
        ]);
        openssl(&args);
        let info = inspect_csr(&std::fs::read(&req).unwrap()).unwrap();
        assert_eq!(info.subject.common_name.as_deref(), Some("svc.acme.test"), "{alg}");
        assert_eq!(info.subject.organization.as_deref(), Some("Acme"));
        assert_eq!(
            info.alt_names,
            vec![
                SubjectAltName::dns("svc.acme.test"),
                SubjectAltName::dns("alt.acme.test"),
                SubjectAltName::ip("192.0.2.5".parse().unwrap()),
            ]
        );
        assert_eq!(info.extended_key_usages, vec![ExtendedKeyUsage::ServerAuth]);
        assert_eq!(info.key_algorithm, Some(alg));
        // The key OpenSSL wrote is the one in the CSR.
        let private = PrivateKey::from_pem(&std::fs::read_to_string(&key).unwrap()).unwrap();
        assert_eq!(private.public_key(), info.public_key);
    }
}

#[test]
fn tampered_csrs_are_refused() {
    let key = PrivateKey::generate(KeyAlgorithm::EcP256).unwrap();
    let csr = DefaultCsrBuilder.build(&key, &full_spec()).unwrap();

    let mut bad_sig = csr.der.clone();
    let last = bad_sig.len() - 1;
    bad_sig[last] ^= 0x01;
    let err = inspect_csr(&bad_sig).unwrap_err();
    assert!(
        matches!(&err, Error::InvalidInput { field, message } if field == "csr" && message.contains("does not verify")),
        "{err}"
    );
    assert!(inspect_csr(pem_encode("CERTIFICATE REQUEST", &bad_sig).as_bytes()).is_err());

    // Changing a byte of the subject (inside CertificationRequestInfo) breaks it too.
    let mut bad_subject = csr.der.clone();
    let at = bad_subject.windows(3).position(|w| w == b"app").unwrap();
    bad_subject[at] = b'b';
    let err = inspect_csr(&bad_subject).unwrap_err();
    assert!(err.to_string().contains("does not verify"), "{err}");
}

#[test]
fn garbage_and_truncated_csrs_are_invalid_input() {
    let key = PrivateKey::generate(KeyAlgorithm::Ed25519).unwrap();
    let csr = DefaultCsrBuilder.build(&key, &full_spec()).unwrap();
    let truncated = &csr.der[..csr.der.len() / 2];
    let wrong_label = pem_encode("CERTIFICATE", &csr.der);
    let bad_base64 =
        "-----BEGIN CERTIFICATE REQUEST-----\n@@@@\n-----END CERTIFICATE REQUEST-----\n";
    for input in [&b""[..], b"hello", truncated, wrong_label.as_bytes(), bad_base64.as_bytes()] {
        let err = inspect_csr(input).unwrap_err();
        assert!(matches!(&err, Error::InvalidInput { field, .. } if field == "csr"), "{err}");
    }
    let new_label = pem_encode("NEW CERTIFICATE REQUEST", &csr.der);
    assert!(inspect_csr(new_label.as_bytes()).is_ok());
}

/// A self-signed certificate and its key from OpenSSL, the identity the modes start from.
fn existing_identity(dir: &Path) -> (String, PrivateKey) {
    let cert = path(dir, "cert.pem");
    let key = path(dir, "key.pem");
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        &key,
        "-out",
        &cert,
        "-days",
        "30",
        "-subj",
        "/C=US/O=Acme/CN=www.acme.test",
        "-addext",
        "subjectAltName=DNS:www.acme.test,DNS:acme.test",
        "-addext",
        "keyUsage=digitalSignature",
        "-addext",
        "extendedKeyUsage=serverAuth",
    ]);
    (
        std::fs::read_to_string(cert).unwrap(),
        PrivateKey::from_pem(&std::fs::read_to_string(key).unwrap()).unwrap(),
    )
}

#[test]
fn reuse_identity_keeps_names_and_optionally_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = existing_identity(dir.path());

    let same = prepare_csr(
        CsrMode::ReuseIdentity {
            certificate_pem: cert.clone(),
            key: KeyChoice::Existing(key.clone()),
        },
        &DefaultCsrBuilder,
    )
    .unwrap();
    assert!(!same.key_generated);
    let info = inspect_csr(&same.csr.der).unwrap();
    assert_eq!(info.public_key, key.public_key());
    assert_eq!(info.subject_dn, "C=US, O=Acme, CN=www.acme.test");
    assert_eq!(
        info.alt_names,
        vec![SubjectAltName::dns("www.acme.test"), SubjectAltName::dns("acme.test")]
    );
    assert_eq!(info.key_usages, vec![KeyUsage::DigitalSignature]);
    assert_eq!(info.extended_key_usages, vec![ExtendedKeyUsage::ServerAuth]);

    let fresh = prepare_csr(
        CsrMode::ReuseIdentity {
            certificate_pem: cert.clone(),
            key: KeyChoice::New(KeyAlgorithm::EcP384),
        },
        &DefaultCsrBuilder,
    )
    .unwrap();
    assert!(fresh.key_generated);
    assert_eq!(inspect_csr(&fresh.csr.der).unwrap().key_algorithm, Some(KeyAlgorithm::EcP384));

    let stranger = PrivateKey::generate(KeyAlgorithm::EcP256).unwrap();
    let err = prepare_csr(
        CsrMode::ReuseIdentity { certificate_pem: cert, key: KeyChoice::Existing(stranger) },
        &DefaultCsrBuilder,
    )
    .unwrap_err();
    assert!(matches!(&err, Error::InvalidInput { field, .. } if field == "privateKey"), "{err}");
}

#[test]
fn partial_and_full_override() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, _) = existing_identity(dir.path());
    let overrides: CsrOverrides = serde_json::from_str(
        r#"{"commonName": "new.acme.test", "altNames": [{"type": "DNS", "value": "new.acme.test"}],
            "keyAlgorithm": "RSA_2048", "signatureAlgorithm": "RSA-SHA384"}"#,
    )
    .unwrap();
    let prepared = prepare_csr(
        CsrMode::PartialOverride { certificate_pem: cert.clone(), overrides },
        &DefaultCsrBuilder,
    )
    .unwrap();
    assert!(prepared.key_generated);
    let info = inspect_csr(&prepared.csr.der).unwrap();
    assert_eq!(info.subject_dn, "C=US, O=Acme, CN=new.acme.test");
    assert_eq!(info.alt_names, vec![SubjectAltName::dns("new.acme.test")]);
    assert_eq!(info.key_algorithm, Some(KeyAlgorithm::Rsa2048));
    assert_eq!(info.signature_algorithm, SignatureAlgorithm::RsaSha384);

    // No key change asked: a new key of the certificate's algorithm.
    let same_alg = prepare_csr(
        CsrMode::PartialOverride { certificate_pem: cert, overrides: CsrOverrides::default() },
        &DefaultCsrBuilder,
    )
    .unwrap();
    assert_eq!(same_alg.key.algorithm(), KeyAlgorithm::EcP256);

    let full = prepare_csr(
        CsrMode::FullOverride { spec: full_spec(), key_algorithm: KeyAlgorithm::Ed25519 },
        &DefaultCsrBuilder,
    )
    .unwrap();
    assert_eq!(inspect_csr(full.csr.pem.as_bytes()).unwrap().alt_names, full_spec().alt_names);
    let err = prepare_csr(
        CsrMode::FullOverride { spec: CsrSpec::default(), key_algorithm: KeyAlgorithm::EcP256 },
        &DefaultCsrBuilder,
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}

#[test]
fn small_rsa_csr_is_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let req = path(dir.path(), "small.csr");
    openssl(&[
        "req",
        "-new",
        "-newkey",
        "rsa:1024",
        "-nodes",
        "-keyout",
        &path(dir.path(), "k.pem"),
        "-out",
        &req,
        "-subj",
        "/CN=small.test",
    ]);
    let err = inspect_csr(&std::fs::read(&req).unwrap()).unwrap_err();
    assert!(
        matches!(&err, Error::InvalidInput { field, message } if field == "csr" && message.contains("1024 bits")),
        "{err}"
    );
}

/// What the CA engineer does: sign a certificate for a CSR's public key with a `PrivateKey`
/// through rcgen, and check it with OpenSSL and with `verify_signed_by`.
#[test]
fn rcgen_signs_a_certificate_for_a_csr_key() {
    use certloop::crypto::inspect_certificate;
    let dir = tempfile::tempdir().unwrap();
    for (ca_alg, leaf_alg) in [
        (KeyAlgorithm::EcP384, KeyAlgorithm::Rsa2048),
        (KeyAlgorithm::Rsa2048, KeyAlgorithm::Ed25519),
        (KeyAlgorithm::Ed25519, KeyAlgorithm::EcP256),
    ] {
        let ca_key = PrivateKey::generate(ca_alg).unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.distinguished_name.push(rcgen::DnType::CommonName, "Test Root");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();

        let leaf_key = PrivateKey::generate(leaf_alg).unwrap();
        let csr = DefaultCsrBuilder.build(&leaf_key, &full_spec()).unwrap();
        let info = inspect_csr(&csr.der).unwrap();
        let leaf_params =
            rcgen::CertificateParams::new(vec!["app.example.com".to_owned()]).unwrap();
        let issuer = rcgen::Issuer::new(ca_params.clone(), &ca_key);
        let leaf = leaf_params.signed_by(&info.public_key, &issuer).unwrap();

        let leaf_info = inspect_certificate(leaf.der()).unwrap();
        assert_eq!(leaf_info.public_key().unwrap(), leaf_key.public_key());
        assert_eq!(leaf_info.signature_algorithm, Some(ca_alg.default_signature()));
        leaf_info.verify_signed_by(&ca_key.public_key()).unwrap();
        assert!(leaf_info.verify_signed_by(&leaf_key.public_key()).is_err());

        let ca_file = path(dir.path(), "ca.pem");
        let leaf_file = path(dir.path(), "leaf.pem");
        std::fs::write(&ca_file, ca_cert.pem()).unwrap();
        std::fs::write(&leaf_file, leaf.pem()).unwrap();
        let out = openssl(&["verify", "-CAfile", &ca_file, &leaf_file]);
        assert!(out.contains(": OK"), "{ca_alg}->{leaf_alg}: {out}");
    }
}

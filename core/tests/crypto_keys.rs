//! Private keys against the real `openssl` binary: ours load in OpenSSL, OpenSSL's load in ours.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

use certloop::crypto::PrivateKey;
use certloop::model::{KeyAlgorithm, KeyFamily, SignatureAlgorithm};
use certloop::{Error, ErrorKind};

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

#[test]
fn generated_keys_load_in_openssl() {
    let dir = tempfile::tempdir().unwrap();
    for (alg, needle) in [
        (KeyAlgorithm::EcP256, "prime256v1"),
        (KeyAlgorithm::EcP384, "secp384r1"),
        (KeyAlgorithm::Ed25519, "ED25519"),
        (KeyAlgorithm::Rsa2048, "2048 bit"),
    ] {
        let key = PrivateKey::generate(alg).unwrap();
        let file = path(dir.path(), "key.pem");
        std::fs::write(&file, key.to_pkcs8_pem().expose()).unwrap();
        let text = openssl(&["pkey", "-in", &file, "-noout", "-text"]);
        assert!(text.contains(needle), "{alg}: {text}");
        // The public key OpenSSL derives equals ours.
        let pub_pem = openssl(&["pkey", "-in", &file, "-pubout"]);
        assert_eq!(pub_pem, key.public_key().to_pem(), "{alg}");
    }
}

#[test]
fn encrypted_pkcs8_decrypts_with_openssl_and_back() {
    let dir = tempfile::tempdir().unwrap();
    let key = PrivateKey::generate(KeyAlgorithm::EcP256).unwrap();
    let file = path(dir.path(), "enc.pem");
    std::fs::write(&file, key.to_encrypted_pkcs8_pem(b"s3cret pass").unwrap()).unwrap();
    let plain = openssl(&["pkey", "-in", &file, "-passin", "pass:s3cret pass"]);
    assert_eq!(PrivateKey::from_pem(&plain).unwrap().public_key(), key.public_key());
    let wrong = Command::new("openssl")
        .args(["pkey", "-in", &file, "-passin", "pass:nope"])
        .output()
        .unwrap();
    assert!(!wrong.status.success());

    // And an OpenSSL-encrypted key decrypts here.
    let out = path(dir.path(), "openssl-enc.pem");
    let clear = path(dir.path(), "clear.pem");
    std::fs::write(&clear, key.to_pkcs8_pem().expose()).unwrap();
    openssl(&[
        "pkcs8",
        "-topk8",
        "-in",
        &clear,
        "-out",
        &out,
        "-v2",
        "aes-256-cbc",
        "-passout",
        "pass:abc",
    ]);
    let pem = std::fs::read_to_string(&out).unwrap();
    let back = PrivateKey::from_encrypted_pem(&pem, b"abc").unwrap();
    assert_eq!(back.public_key(), key.public_key());
    let err = PrivateKey::from_pem(&pem).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("passphrase"));
}

#[test]
fn traditional_pkcs1_and_sec1_keys_import() {
    let dir = tempfile::tempdir().unwrap();
    let rsa = path(dir.path(), "rsa.pem");
    openssl(&["genrsa", "-traditional", "-out", &rsa, "2048"]);
    let pem = std::fs::read_to_string(&rsa).unwrap();
    assert!(pem.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
    let key = PrivateKey::from_pem(&pem).unwrap();
    assert_eq!(key.algorithm(), KeyAlgorithm::Rsa2048);
    assert_eq!(key.public_key().to_pem(), openssl(&["pkey", "-in", &rsa, "-pubout"]));

    for (curve, alg) in [("prime256v1", KeyAlgorithm::EcP256), ("secp384r1", KeyAlgorithm::EcP384)]
    {
        let ec = path(dir.path(), "ec.pem");
        openssl(&["ecparam", "-name", curve, "-genkey", "-noout", "-out", &ec]);
        let pem = std::fs::read_to_string(&ec).unwrap();
        assert!(pem.starts_with("-----BEGIN EC PRIVATE KEY-----"));
        let key = PrivateKey::from_pem(&pem).unwrap();
        assert_eq!(key.algorithm(), alg);
        assert_eq!(key.public_key().to_pem(), openssl(&["pkey", "-in", &ec, "-pubout"]));
    }

    let ed = path(dir.path(), "ed.pem");
    openssl(&["genpkey", "-algorithm", "ed25519", "-out", &ed]);
    let key = PrivateKey::from_pem(&std::fs::read_to_string(&ed).unwrap()).unwrap();
    assert_eq!(key.algorithm(), KeyAlgorithm::Ed25519);
    assert_eq!(key.public_key().to_pem(), openssl(&["pkey", "-in", &ed, "-pubout"]));
}

#[test]
fn unsupported_and_garbage_keys_are_invalid_input() {
    let dir = tempfile::tempdir().unwrap();
    let small = path(dir.path(), "small.pem");
    openssl(&["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024", "-out", &small]);
    let err = PrivateKey::from_pem(&std::fs::read_to_string(&small).unwrap()).unwrap_err();
    assert!(err.to_string().contains("unsupported RSA key size 1024"), "{err}");

    for bad in ["", "not a key", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"] {
        let err = PrivateKey::from_pem(bad).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidInput { field, .. } if field == "privateKey"),
            "{bad:?}: {err}"
        );
    }
    let der = PrivateKey::generate(KeyAlgorithm::EcP256).unwrap().to_pkcs8_der();
    assert!(PrivateKey::from_pkcs8_der(&der[..der.len() - 3]).is_err());
}

#[test]
fn rsa_keys_sign_through_ring_with_a_chosen_hash() {
    let key = PrivateKey::generate(KeyAlgorithm::Rsa2048).unwrap();
    assert_eq!(key.signature_algorithm(), SignatureAlgorithm::RsaSha256);
    let sha384 = key.with_signature(SignatureAlgorithm::RsaSha384).unwrap();
    let sig = rcgen::SigningKey::sign(&sha384, b"message").unwrap();
    let public = key.public_key();
    assert_eq!((public.family(), public.bits()), (KeyFamily::Rsa, 2048));
    public.verify(SignatureAlgorithm::RsaSha384, b"message", &sig).unwrap();
    let err = public.verify(SignatureAlgorithm::RsaSha256, b"message", &sig).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Crypto);
}

#[test]
fn rsa_4096_defaults_to_sha384() {
    let key = PrivateKey::generate(KeyAlgorithm::Rsa4096).unwrap();
    assert_eq!(key.algorithm(), KeyAlgorithm::Rsa4096);
    assert_eq!(key.signature_algorithm(), SignatureAlgorithm::RsaSha384);
    assert_eq!(key.public_key().bits(), 4096);
}

//! Orders end to end and the protocol checks on the way: replayed nonces, wrong URLs and
//! content types, unknown accounts, another account's order, finalize before validation, a CSR
//! for other names, a failed HTTP-01 check; download, ARI and revocation by the key.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_errors_are_problems_and_the_server_keeps_serving() {
    let acme = Acme::start(1).await;
    let key = ClientKey::new();
    let new_account = acme.url("new-account");
    let payload = json!({"termsOfServiceAgreed": true});

    // A replayed nonce: badNonce, with a fresh nonce to retry with.
    let nonce = acme.nonce().await;
    let body = key.sign(&new_account, &nonce, None, Some(&payload));
    let first = acme.send(Method::POST, &new_account, "application/jose+json", body.clone()).await;
    assert_eq!(first.status, StatusCode::CREATED);
    let kid = first.header("location");
    let replayed = acme.send(Method::POST, &new_account, "application/jose+json", body).await;
    assert_eq!(
        (replayed.status, replayed.problem().as_str()),
        (StatusCode::BAD_REQUEST, "badNonce")
    );
    assert_eq!(replayed.header("content-type"), "application/problem+json");
    assert!(!replayed.header("replay-nonce").is_empty(), "a badNonce answer carries a new nonce");
    // The same key again is the same account (200, same URL).
    let again = acme.post(&key, None, &new_account, Some(&payload)).await;
    assert_eq!((again.status, again.header("location")), (StatusCode::OK, kid.clone()));

    // Wrong content type, a body that is not a JWS, a URL that is not this one.
    let nonce = acme.nonce().await;
    let wrong_type = acme
        .send(
            Method::POST,
            &new_account,
            "application/json",
            key.sign(&new_account, &nonce, None, Some(&payload)),
        )
        .await;
    assert_eq!(wrong_type.problem(), "malformed");
    let garbage =
        acme.send(Method::POST, &new_account, "application/jose+json", b"{not json".to_vec()).await;
    assert_eq!(garbage.problem(), "malformed");
    let nonce = acme.nonce().await;
    let elsewhere = key.sign(&acme.url("new-order"), &nonce, Some(&kid), Some(&payload));
    let wrong_url = acme.send(Method::POST, &new_account, "application/jose+json", elsewhere).await;
    assert_eq!(
        (wrong_url.status, wrong_url.problem().as_str()),
        (StatusCode::FORBIDDEN, "unauthorized")
    );

    // An account URL nobody registered, and a signature by another key.
    let unknown = acme
        .post(
            &key,
            Some(&acme.url("account/0123")),
            &acme.url("new-order"),
            Some(&json!({"identifiers": []})),
        )
        .await;
    assert_eq!(unknown.problem(), "accountDoesNotExist");
    let intruder = ClientKey::new();
    let forged = acme
        .post(
            &intruder,
            Some(&kid),
            &acme.url("new-order"),
            Some(&json!({"identifiers": [{"type": "dns", "value": "a.acme.test"}]})),
        )
        .await;
    assert_eq!(forged.problem(), "malformed", "a signature by another key does not verify");

    // Identifiers this server will not validate.
    let bad_name = acme
        .post(
            &key,
            Some(&kid),
            &acme.url("new-order"),
            Some(&json!({"identifiers": [{"type": "dns", "value": "bad..name.acme.test"}]})),
        )
        .await;
    assert_eq!(bad_name.problem(), "rejectedIdentifier");
    let email = acme
        .post(
            &key,
            Some(&kid),
            &acme.url("new-order"),
            Some(&json!({"identifiers": [{"type": "email", "value": "a@acme.test"}]})),
        )
        .await;
    assert_eq!(email.problem(), "unsupportedIdentifier");

    // Finalize before validation; another account reading the order.
    let (order_url, order) = acme.order(&key, &kid, &["a.acme.test"]).await;
    let finalize = order["finalize"].as_str().expect("finalize URL").to_owned();
    let early = acme
        .post(&key, Some(&kid), &finalize, Some(&json!({"csr": b64(&csr_der(&["a.acme.test"]))})))
        .await;
    assert_eq!((early.status, early.problem().as_str()), (StatusCode::FORBIDDEN, "orderNotReady"));
    let other = ClientKey::new();
    let other_kid = acme.account(&other).await;
    let peek = acme.post(&other, Some(&other_kid), &order_url, None).await;
    assert_eq!(peek.problem(), "unauthorized");

    // HTTP-01 against a port where nothing listens: the challenge and the order turn invalid.
    let authz = order["authorizations"][0].as_str().expect("authz URL").to_owned();
    let challenge = acme.post(&key, Some(&kid), &authz, None).await.json()["challenges"][0]["url"]
        .as_str()
        .expect("challenge URL")
        .to_owned();
    let responded = acme.post(&key, Some(&kid), &challenge, Some(&json!({}))).await;
    assert_eq!(responded.status, StatusCode::OK);
    assert!(responded.header("link").contains("rel=\"up\""), "a challenge links its authorization");
    let settled = acme.settled(&key, &kid, &authz).await;
    assert_eq!(settled["status"], "invalid", "{settled}");
    assert!(
        settled["challenges"][0]["error"]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("a.acme.test"))
    );
    assert_eq!(acme.post(&key, Some(&kid), &order_url, None).await.json()["status"], "invalid");

    // Still serving: a directory and a new nonce.
    let directory = acme.send(Method::GET, &acme.url("directory"), "text/plain", vec![]).await;
    assert_eq!(directory.status, StatusCode::OK);
    assert!(directory.json()["newOrder"].as_str().is_some_and(|u| u.ends_with("/new-order")));
    let none = acme
        .send(
            Method::GET,
            &format!("{}/acme/nope/directory", acme.root.trim_end_matches("/acme/acme")),
            "text/plain",
            vec![],
        )
        .await;
    assert_eq!(none.problem(), "malformed", "a profile that is not ACME-enrolled has no directory");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_is_validated_finalized_downloaded_and_revoked_by_its_key() {
    let key = ClientKey::new();
    let port = responder(key.thumbprint()).await;
    let acme = Acme::start(port).await;
    let kid = acme.account(&key).await;
    let names = ["a.acme.test", "b.acme.test"];
    let (order_url, order) = acme.order(&key, &kid, &names).await;
    for authz in order["authorizations"].as_array().expect("authorizations") {
        let authz = authz.as_str().expect("authz URL");
        let challenge =
            acme.post(&key, Some(&kid), authz, None).await.json()["challenges"][0]["url"]
                .as_str()
                .expect("challenge URL")
                .to_owned();
        acme.post(&key, Some(&kid), &challenge, Some(&json!({}))).await;
        assert_eq!(acme.settled(&key, &kid, authz).await["status"], "valid");
    }
    assert_eq!(acme.post(&key, Some(&kid), &order_url, None).await.json()["status"], "ready");

    // A CSR for other names is refused and the order stays ready for a right one.
    let finalize = order["finalize"].as_str().expect("finalize URL").to_owned();
    let wrong = acme
        .post(
            &key,
            Some(&kid),
            &finalize,
            Some(&json!({"csr": b64(&csr_der(&["a.acme.test", "c.acme.test"]))})),
        )
        .await;
    assert_eq!(wrong.problem(), "badCSR");
    let (csr, certificate_key) = csr_and_key(&names);
    let done = acme.post(&key, Some(&kid), &finalize, Some(&json!({"csr": b64(&csr)}))).await;
    assert_eq!(done.json()["status"], "valid", "{}", String::from_utf8_lossy(&done.body));
    let cert_url = done.json()["certificate"].as_str().expect("certificate URL").to_owned();
    let chain = acme.post(&key, Some(&kid), &cert_url, None).await;
    assert_eq!(chain.header("content-type"), "application/pem-certificate-chain");
    let certs = certloop::crypto::inspect_certificates(&chain.body).expect("a PEM chain");
    assert_eq!(certs.len(), 2, "leaf and issuing CA");
    let leaf = &certs[0];
    let mut sans: Vec<_> = leaf.alt_names.iter().map(|n| n.value.as_str()).collect();
    sans.sort();
    assert_eq!(sans, names);
    leaf.verify_signed_by(&certs[1].public_key().expect("CA key"))
        .expect("signed by the issuing CA");

    // ARI: the window is the profile's (30 days before notAfter) and in the future.
    let aki = leaf.authority_key_id.clone().expect("AKI").replace(':', "");
    let aki = (0..aki.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&aki[i..i + 2], 16).expect("hex"))
        .collect::<Vec<_>>();
    let serial = leaf.serial_number.replace(':', "");
    let serial = format!("{}{serial}", if serial.len() % 2 == 1 { "0" } else { "" });
    let serial = (0..serial.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&serial[i..i + 2], 16).expect("hex"))
        .collect::<Vec<_>>();
    let ari_url = acme.url(&format!("renewal-info/{}.{}", b64(&aki), b64(&serial)));
    let ari = acme.send(Method::GET, &ari_url, "text/plain", vec![]).await;
    assert_eq!(ari.status, StatusCode::OK, "{}", String::from_utf8_lossy(&ari.body));
    let end = ari.json()["suggestedWindow"]["end"].as_str().expect("end").to_owned();
    let end = time::OffsetDateTime::parse(&end, &time::format_description::well_known::Rfc3339)
        .expect("RFC 3339");
    assert_eq!(end, leaf.not_after - time::Duration::days(30));

    // Revocation signed by the certificate's own key is refused for a different key...
    let revoke = acme.url("revoke-cert");
    let payload = json!({"certificate": b64(&leaf.der), "reason": 1});
    let stranger = acme.post(&ClientKey::new(), None, &revoke, Some(&payload)).await;
    assert_eq!(stranger.problem(), "unauthorized");
    // ...and accepted with the certificate's key; from the account then, it is alreadyRevoked.
    let certificate_key = ClientKey::from_pkcs8(&certificate_key);
    let revoked = acme.post(&certificate_key, None, &revoke, Some(&payload)).await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", String::from_utf8_lossy(&revoked.body));
    let twice = acme.post(&key, Some(&kid), &revoke, Some(&payload)).await;
    assert_eq!(twice.problem(), "alreadyRevoked");
    let record = acme.certloop.list(&Default::default()).await.expect("list");
    let record = record
        .iter()
        .find(|r| r.fingerprint_sha256 == certloop::crypto::fingerprint_sha256(&leaf.der))
        .expect("in the inventory");
    assert_eq!(record.state, certloop::model::CertificateState::Revoked);
    let ari = acme.send(Method::GET, &ari_url, "text/plain", vec![]).await.json();
    let end = ari["suggestedWindow"]["end"].as_str().expect("end").to_owned();
    let end = time::OffsetDateTime::parse(&end, &time::format_description::well_known::Rfc3339)
        .expect("RFC 3339");
    assert!(end <= time::OffsetDateTime::now_utc(), "a revoked certificate's window is open now");
}

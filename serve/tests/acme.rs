//! The ACME server over real HTTP on loopback, signed by hand with ring so each protocol
//! check can be hit on purpose: replayed nonces, wrong URLs and content types, unknown
//! accounts, another account's order, finalize before validation, a CSR for other names, a
//! failed HTTP-01 check, then a whole order through download, ARI and revocation by the
//! certificate's key. certbot and lego drive the happy paths in stage 56-acme-server.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use base64::Engine as _;
use bytes::Bytes;
use certloop::Certloop;
use certloop::acme_server::ValidationOptions;
use certloop_serve::ServeOptions;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// An ACME client key (P-256, ES256).
struct ClientKey {
    pair: EcdsaKeyPair,
}

impl ClientKey {
    fn new() -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .expect("key generation");
        Self::from_pkcs8(pkcs8.as_ref())
    }

    fn from_pkcs8(pkcs8: &[u8]) -> Self {
        let rng = SystemRandom::new();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8, &rng)
            .expect("a P-256 PKCS#8 key");
        Self { pair }
    }

    fn jwk(&self) -> Value {
        let point = self.pair.public_key().as_ref();
        json!({"kty": "EC", "crv": "P-256", "x": b64(&point[1..33]), "y": b64(&point[33..65])})
    }

    fn thumbprint(&self) -> String {
        let jwk = self.jwk();
        let canonical = format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
            jwk["x"].as_str().unwrap_or_default(),
            jwk["y"].as_str().unwrap_or_default()
        );
        b64(ring::digest::digest(&ring::digest::SHA256, canonical.as_bytes()).as_ref())
    }

    /// A flattened JWS; `payload` None is POST-as-GET.
    fn sign(&self, url: &str, nonce: &str, kid: Option<&str>, payload: Option<&Value>) -> Vec<u8> {
        let mut header = json!({"alg": "ES256", "nonce": nonce, "url": url});
        match kid {
            Some(kid) => header["kid"] = kid.into(),
            None => header["jwk"] = self.jwk(),
        }
        let protected = b64(header.to_string().as_bytes());
        let payload = payload.map(|p| b64(p.to_string().as_bytes())).unwrap_or_default();
        let input = format!("{protected}.{payload}");
        let signature = self.pair.sign(&SystemRandom::new(), input.as_bytes()).expect("signing");
        json!({"protected": protected, "payload": payload, "signature": b64(signature.as_ref())})
            .to_string()
            .into_bytes()
    }
}

struct Answer {
    status: StatusCode,
    headers: hyper::HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// The problem type's last part (`badNonce`).
    fn problem(&self) -> String {
        let kind = self.json()["type"].as_str().unwrap_or_default().to_owned();
        kind.trim_start_matches("urn:ietf:params:acme:error:").to_owned()
    }

    /// Every value of header `name`, joined with `, `.
    fn header(&self, name: &str) -> String {
        let values: Vec<&str> =
            self.headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).collect();
        values.join(", ")
    }
}

struct Acme {
    root: String,
    certloop: Certloop,
    client: Client<HttpConnector, Full<Bytes>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Acme {
    async fn start(http01_port: u16) -> Self {
        Self::start_with(http01_port, None).await
    }

    /// Stop this server and serve the same inventory again, validating with `dns_server`.
    async fn restart_with_dns(&mut self, dns_server: SocketAddr) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let port = 1;
        let next = Self::serve(self.certloop.clone(), port, Some(dns_server)).await;
        self.root = next.0;
        self.stop = Some(next.1);
    }

    async fn start_with(http01_port: u16, dns_server: Option<SocketAddr>) -> Self {
        let certloop = Certloop::in_memory().await.expect("in-memory certloop");
        certloop.init_default().await.expect("default set-up");
        let profile: certloop::policy::CertificateProfile = serde_json::from_value(json!({
            "slug": "acme", "templateId": "tls-server",
            "issuer": {"type": "internalCa", "caId": "certloop-issuing"},
            "enrollmentType": "ACME", "apiConfig": {"autoRenew": true, "renewBeforeDays": 30},
        }))
        .expect("profile");
        certloop.save_profile(profile).await.expect("save profile");
        let (root, stop) = Self::serve(certloop.clone(), http01_port, dns_server).await;
        Self {
            root,
            certloop,
            client: Client::builder(TokioExecutor::new()).build_http(),
            stop: Some(stop),
        }
    }

    async fn serve(
        certloop: Certloop,
        http01_port: u16,
        dns_server: Option<SocketAddr>,
    ) -> (String, tokio::sync::oneshot::Sender<()>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr: SocketAddr = listener.local_addr().expect("address");
        let mut validation = ValidationOptions { http01_port, ..Default::default() };
        for name in ["a.acme.test", "b.acme.test"] {
            validation.resolve.insert(name.into(), IpAddr::V4(Ipv4Addr::LOCALHOST));
        }
        validation.timeout = std::time::Duration::from_secs(5);
        validation.dns_server = dns_server;
        let options = ServeOptions { acme_validation: validation, ..Default::default() };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(certloop_serve::serve(listener, certloop, options, async {
            let _ = stopped.await;
        }));
        (format!("http://{addr}/acme/acme"), stop)
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.root)
    }

    async fn send(&self, method: Method, url: &str, content_type: &str, body: Vec<u8>) -> Answer {
        let request = Request::builder()
            .method(method)
            .uri(url)
            .header("content-type", content_type)
            .body(Full::new(Bytes::from(body)))
            .expect("request");
        let response = self.client.request(request).await.expect("the server answers");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.expect("body").to_bytes().to_vec();
        Answer { status, headers, body }
    }

    async fn nonce(&self) -> String {
        let answer = self.send(Method::HEAD, &self.url("new-nonce"), "text/plain", vec![]).await;
        assert_eq!(answer.status, StatusCode::OK);
        answer.header("replay-nonce")
    }

    /// POST a signed request to `url` with a fresh nonce.
    async fn post(
        &self,
        key: &ClientKey,
        kid: Option<&str>,
        url: &str,
        payload: Option<&Value>,
    ) -> Answer {
        let nonce = self.nonce().await;
        let body = key.sign(url, &nonce, kid, payload);
        self.send(Method::POST, url, "application/jose+json", body).await
    }

    async fn account(&self, key: &ClientKey) -> String {
        let url = self.url("new-account");
        let answer = self.post(key, None, &url, Some(&json!({"termsOfServiceAgreed": true}))).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&answer.body));
        answer.header("location")
    }

    async fn order(&self, key: &ClientKey, kid: &str, names: &[&str]) -> (String, Value) {
        let identifiers: Vec<Value> =
            names.iter().map(|n| json!({"type": "dns", "value": n})).collect();
        let payload = json!({"identifiers": identifiers});
        let answer = self.post(key, Some(kid), &self.url("new-order"), Some(&payload)).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&answer.body));
        (answer.header("location"), answer.json())
    }

    /// POST-as-GET `url` until its status leaves `pending`/`processing` (bounded: 5 s).
    async fn settled(&self, key: &ClientKey, kid: &str, url: &str) -> Value {
        for _ in 0..100 {
            let answer = self.post(key, Some(kid), url, None).await;
            let body = answer.json();
            if !matches!(body["status"].as_str(), Some("pending" | "processing")) {
                return body;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("{url} did not settle within 5 s");
    }
}

impl Drop for Acme {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// An HTTP-01 responder on a free loopback port that answers every challenge path with
/// `token.thumbprint` (what a client's standalone server does), for a bounded number of
/// connections.
async fn responder(thumbprint: String) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("address").port();
    tokio::spawn(async move {
        for _ in 0..64 {
            let Ok((mut stream, _)) = listener.accept().await else { return };
            let mut buf = vec![0u8; 4096];
            let n = stream.read(&mut buf).await.unwrap_or(0);
            let head = String::from_utf8_lossy(&buf[..n]).to_string();
            let token = head
                .split_whitespace()
                .nth(1)
                .and_then(|path| path.strip_prefix("/.well-known/acme-challenge/"))
                .unwrap_or_default()
                .to_owned();
            let body = format!("{token}.{thumbprint}");
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes()).await;
        }
    });
    port
}

fn csr_der(names: &[&str]) -> Vec<u8> {
    csr_and_key(names).0
}

/// A CSR for `names` and its key (PKCS#8 DER).
fn csr_and_key(names: &[&str]) -> (Vec<u8>, Vec<u8>) {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
    let mut params =
        rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .expect("params");
    params.distinguished_name = rcgen::DistinguishedName::new();
    (params.serialize_request(&key).expect("csr").der().to_vec(), key.serialize_der())
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_account_binding_is_required_and_checked() {
    let acme = Acme::start(1).await;
    let mut profile = acme.certloop.get_profile("acme").await.expect("profile");
    profile.acme_config =
        Some(certloop::policy::AcmeEnrollmentConfig { external_account_required: true });
    acme.certloop.save_profile(profile).await.expect("save");
    let directory = acme.send(Method::GET, &acme.url("directory"), "text/plain", vec![]).await;
    assert_eq!(directory.json()["meta"]["externalAccountRequired"], true);

    let created = acme.certloop.acme_server_create_eab("acme").await.expect("EAB key");
    assert!(!format!("{created:?}").contains(created.hmac_key.expose()), "Debug hides the key");
    let hmac_key = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(created.hmac_key.expose())
        .expect("base64url");
    let url = acme.url("new-account");
    let key = ClientKey::new();
    let binding = |mac_key: &[u8], kid: &str, bound: &Value| {
        let protected = b64(json!({"alg": "HS256", "kid": kid, "url": url}).to_string().as_bytes());
        let payload = b64(bound.to_string().as_bytes());
        let mac = ring::hmac::sign(
            &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, mac_key),
            format!("{protected}.{payload}").as_bytes(),
        );
        json!({"protected": protected, "payload": payload, "signature": b64(mac.as_ref())})
    };

    let none = acme.post(&key, None, &url, Some(&json!({"termsOfServiceAgreed": true}))).await;
    assert_eq!(none.problem(), "externalAccountRequired");
    let wrong_mac = binding(b"not the key", &created.kid, &key.jwk());
    let refused =
        acme.post(&key, None, &url, Some(&json!({"externalAccountBinding": wrong_mac}))).await;
    assert_eq!(refused.problem(), "unauthorized");
    let other_key = binding(&hmac_key, &created.kid, &ClientKey::new().jwk());
    let refused =
        acme.post(&key, None, &url, Some(&json!({"externalAccountBinding": other_key}))).await;
    assert_eq!(refused.problem(), "unauthorized", "the binding must carry this account's key");
    let unknown = binding(&hmac_key, "eab_nobody", &key.jwk());
    let refused =
        acme.post(&key, None, &url, Some(&json!({"externalAccountBinding": unknown}))).await;
    assert_eq!(refused.problem(), "unauthorized");
    let good = binding(&hmac_key, &created.kid, &key.jwk());
    let bound = acme.post(&key, None, &url, Some(&json!({"externalAccountBinding": good}))).await;
    assert_eq!(bound.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&bound.body));
    let events = acme.certloop.audit_log(&Default::default()).await.expect("audit");
    assert!(events.iter().any(|e| e.detail.contains(&format!("bound to EAB key {}", created.kid))));
    let text = serde_json::to_string(&events).expect("json");
    assert!(!text.contains(created.hmac_key.expose()), "the HMAC key is never audited");
}

/// pebble-challtestsrv on free loopback ports: its DNS server (TXT records set through its
/// management API) and the management address. Killed on drop.
struct ChallTestSrv {
    child: std::process::Child,
    dns: SocketAddr,
    management: SocketAddr,
}

impl ChallTestSrv {
    fn free_port() -> u16 {
        let socket = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        socket.local_addr().expect("address").port()
    }

    async fn start() -> Self {
        let (dns, management) = (Self::free_port(), Self::free_port());
        let child = std::process::Command::new("pebble-challtestsrv")
            .args(["-dns01", &format!("127.0.0.1:{dns}"), "-management"])
            .arg(format!("127.0.0.1:{management}"))
            .args(["-http01", "", "-https01", "", "-tlsalpn01", ""])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("pebble-challtestsrv runs (Debian package pebble; scripts/test installs it)");
        // Built before waiting, so a panic below still kills the child (Drop).
        let server = Self {
            child,
            dns: ([127, 0, 0, 1], dns).into(),
            management: ([127, 0, 0, 1], management).into(),
        };
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(server.management).await.is_ok() {
                return server;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("pebble-challtestsrv did not listen within 5 s");
    }

    async fn set_txt(&self, host: &str, value: &str) {
        let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
        let body = json!({"host": host, "value": value}).to_string();
        let request = Request::post(format!("http://{}/set-txt", self.management))
            .body(Full::new(Bytes::from(body)))
            .expect("request");
        let answer = client.request(request).await.expect("management API");
        assert!(answer.status().is_success(), "set-txt: {}", answer.status());
    }
}

impl Drop for ChallTestSrv {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns01_proves_a_wildcard_through_a_real_dns_server() {
    let dns = ChallTestSrv::start().await;
    let key = ClientKey::new();
    let mut acme = Acme::start(1).await;
    acme.restart_with_dns(dns.dns).await;
    let kid = acme.account(&key).await;
    let (order_url, order) = acme.order(&key, &kid, &["*.w.acme.test", "v.acme.test"]).await;
    let mut challenges = Vec::new();
    for authz_url in order["authorizations"].as_array().expect("authorizations") {
        let authz =
            acme.post(&key, Some(&kid), authz_url.as_str().expect("url"), None).await.json();
        let kinds: Vec<&str> = authz["challenges"]
            .as_array()
            .expect("challenges")
            .iter()
            .filter_map(|c| c["type"].as_str())
            .collect();
        let dns01 = authz["challenges"]
            .as_array()
            .expect("challenges")
            .iter()
            .find(|c| c["type"] == "dns-01")
            .expect("a dns-01 challenge")
            .clone();
        if authz["wildcard"] == true {
            assert_eq!(kinds, ["dns-01"], "a wildcard is proven in DNS only");
            assert_eq!(authz["identifier"]["value"], "w.acme.test");
        } else {
            assert_eq!(kinds, ["http-01", "dns-01"]);
        }
        challenges.push((
            authz_url.as_str().expect("url").to_owned(),
            authz["identifier"]["value"].as_str().expect("name").to_owned(),
            dns01,
        ));
    }
    // The wildcard's record is right; v.acme.test's record holds another value.
    for (authz_url, name, challenge) in &challenges {
        let token = challenge["token"].as_str().expect("token");
        let key_authz = format!("{token}.{}", key.thumbprint());
        let digest =
            b64(ring::digest::digest(&ring::digest::SHA256, key_authz.as_bytes()).as_ref());
        let value = if name == "w.acme.test" { digest } else { "not-the-digest".to_owned() };
        dns.set_txt(&format!("_acme-challenge.{name}."), &value).await;
        acme.post(&key, Some(&kid), challenge["url"].as_str().expect("url"), Some(&json!({})))
            .await;
        let settled = acme.settled(&key, &kid, authz_url).await;
        if name == "w.acme.test" {
            assert_eq!(settled["status"], "valid", "{settled}");
        } else {
            assert_eq!(settled["status"], "invalid", "{settled}");
            let detail = settled["challenges"][1]["error"]["detail"].as_str().unwrap_or_default();
            assert!(detail.contains("not-the-digest"), "{detail}");
        }
    }
    assert_eq!(acme.post(&key, Some(&kid), &order_url, None).await.json()["status"], "invalid");

    // A wildcard alone: valid DNS, finalized, the certificate names *.w.acme.test.
    let (order_url, order) = acme.order(&key, &kid, &["*.w.acme.test"]).await;
    let authz_url = order["authorizations"][0].as_str().expect("url").to_owned();
    let authz = acme.post(&key, Some(&kid), &authz_url, None).await.json();
    let challenge = authz["challenges"][0].clone();
    let key_authz = format!("{}.{}", challenge["token"].as_str().expect("token"), key.thumbprint());
    dns.set_txt(
        "_acme-challenge.w.acme.test.",
        &b64(ring::digest::digest(&ring::digest::SHA256, key_authz.as_bytes()).as_ref()),
    )
    .await;
    acme.post(&key, Some(&kid), challenge["url"].as_str().expect("url"), Some(&json!({}))).await;
    assert_eq!(acme.settled(&key, &kid, &authz_url).await["status"], "valid");
    assert_eq!(acme.post(&key, Some(&kid), &order_url, None).await.json()["status"], "ready");
    let finalize = order["finalize"].as_str().expect("finalize").to_owned();
    let done = acme
        .post(&key, Some(&kid), &finalize, Some(&json!({"csr": b64(&csr_der(&["*.w.acme.test"]))})))
        .await;
    assert_eq!(done.json()["status"], "valid", "{}", String::from_utf8_lossy(&done.body));
    let chain =
        acme.post(&key, Some(&kid), done.json()["certificate"].as_str().expect("url"), None).await;
    let leaf = &certloop::crypto::inspect_certificates(&chain.body).expect("PEM")[0];
    assert_eq!(
        leaf.alt_names.iter().map(|n| n.value.as_str()).collect::<Vec<_>>(),
        ["*.w.acme.test"]
    );
}

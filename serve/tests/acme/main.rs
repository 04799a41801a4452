//! The ACME server over real HTTP on loopback, signed by hand with ring so each protocol
//! check can be hit on purpose: replayed nonces, wrong URLs and content types, unknown
//! accounts, another account's order, finalize before validation, a CSR for other names, a
//! failed HTTP-01 check, then a whole order through download, ARI and revocation by the
//! certificate's key. certbot and lego drive the happy paths in stage 56-acme-server.
//!
//! This file is the hand-signing client and the test servers; the tests are in `orders`
//! (protocol checks and a whole order) and `accounts_dns` (EAB, DNS-01).

mod accounts_dns;
mod orders;

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

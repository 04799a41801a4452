//! External account binding, and DNS-01 for a wildcard through pebble-challtestsrv's real DNS
//! server.

use super::*;

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

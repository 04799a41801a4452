//! The REST API over real HTTP on loopback: a server from `certloop_serve::serve` on a free
//! port, driven by hyper's client.

use std::net::SocketAddr;

use bytes::Bytes;
use certloop::Certloop;
use certloop::model::{AuditAction, AuditOutcome, TokenAction, TokenSpec};
use certloop::store::AuditQuery;
use certloop_serve::ServeOptions;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

struct Server {
    base: String,
    certloop: Certloop,
    client: Client<HttpConnector, Full<Bytes>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

struct Answer {
    status: StatusCode,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    fn code(&self) -> String {
        self.json()["error"]["code"].as_str().unwrap_or_default().to_owned()
    }
}

impl Server {
    async fn start(options: ServeOptions) -> Self {
        let certloop = Certloop::in_memory().await.expect("in-memory certloop");
        certloop.init_default().await.expect("default set-up");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr: SocketAddr = listener.local_addr().expect("address");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task =
            tokio::spawn(certloop_serve::serve(listener, certloop.clone(), options, async {
                let _ = stopped.await;
            }));
        let client = Client::builder(TokioExecutor::new()).build_http();
        Self {
            base: format!("http://{addr}"),
            certloop,
            client,
            stop: Some(stop),
            task: Some(task),
        }
    }

    async fn token(&self, name: &str, profiles: &[&str], actions: &[TokenAction]) -> String {
        let spec = TokenSpec {
            name: name.to_owned(),
            profiles: profiles.iter().map(|p| p.to_string()).collect(),
            actions: actions.to_vec(),
            ttl: None,
        };
        self.certloop.create_token(spec).await.expect("token").token.expose().to_owned()
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        content_type: Option<&str>,
        body: impl Into<Bytes>,
    ) -> Answer {
        let mut request = Request::builder().method(method).uri(format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let request = request.body(Full::new(body.into())).expect("request");
        let response = self.client.request(request).await.expect("the server answers");
        let status = response.status();
        let body = response.into_body().collect().await.expect("body").to_bytes().to_vec();
        Answer { status, body }
    }

    async fn post(&self, path: &str, token: &str, body: &Value) -> Answer {
        let text = serde_json::to_vec(body).expect("json");
        self.send(Method::POST, path, Some(token), Some("application/json"), text).await
    }

    async fn get(&self, path: &str, token: &str) -> Answer {
        self.send(Method::GET, path, Some(token), None, Bytes::new()).await
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task").expect("server ran");
        }
    }
}

const CERTS: &str = "/api/v1/cert-manager/certificates";
const PROFILES: &str = "/api/v1/cert-manager/certificate-profiles";

/// Infisical's documented issue body, as its documentation prints it.
fn infisical_issue_body(profile: &str) -> Value {
    json!({
        "profileId": profile,
        "attributes": {
            "commonName": "service.acme.com",
            "ttl": "1y",
            "signatureAlgorithm": "RSA-SHA256",
            "keyAlgorithm": "RSA_2048",
            "keyUsages": ["digital_signature", "key_encipherment"],
            "extendedKeyUsages": ["server_auth"],
            "altNames": [
                {"type": "DNS", "value": "service.acme.com"},
                {"type": "DNS", "value": "www.service.acme.com"}
            ]
        }
    })
}

/// Profiles `web-a` and `web-b` on an RSA issuing CA (Infisical's body asks for RSA-SHA256),
/// created through the API with Infisical's profile body.
async fn two_profiles(server: &Server, admin: &str) -> String {
    let spec: certloop::ca::CaSpec = serde_json::from_value(json!({
        "name": "rsa-issuing",
        "subject": {"commonName": "certloop RSA Issuing CA"},
        "keyAlgorithm": "RSA_2048",
        "parent": certloop::defaults::ROOT_CA,
        "pathLength": 0
    }))
    .expect("CA spec");
    let ca = server.certloop.create_ca(spec).await.expect("RSA CA");
    for slug in ["web-a", "web-b"] {
        let answer = server
            .post(
                PROFILES,
                admin,
                &json!({
                    "projectId": "65f0a4b0-c123-4567-8901-23456789abcd",
                    "caId": ca.id,
                    "certificateTemplateId": certloop::defaults::PROFILE,
                    "slug": slug,
                    "description": "Certificate profile for API enrollment",
                    "enrollmentType": "API",
                    "apiConfig": {"autoRenew": true, "renewBeforeDays": 7}
                }),
            )
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&answer.body));
        assert_eq!(answer.json()["certificateProfile"]["slug"], slug);
    }
    ca.id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn infisical_requests_issue_renew_revoke_and_read_back() {
    let server = Server::start(ServeOptions::default()).await;
    let admin = server.token("admin", &["*"], &TokenAction::ALL).await;
    two_profiles(&server, &admin).await;

    // Issue with Infisical's body verbatim: the key is generated and returned once.
    let answer = server.post(CERTS, &admin, &infisical_issue_body("web-a")).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&answer.body));
    let issued = answer.json();
    let certificate = &issued["certificate"];
    for field in ["certificate", "certificateChain", "issuingCaCertificate", "serialNumber"] {
        assert!(certificate[field].as_str().is_some_and(|v| !v.is_empty()), "{field} in {issued}");
    }
    assert!(certificate["privateKey"].as_str().is_some_and(|k| k.contains("BEGIN PRIVATE KEY")));
    assert!(issued["certificateRequestId"].as_str().is_some_and(|v| !v.is_empty()));
    assert!(certificate.get("certificateRequestId").is_none(), "beside the certificate, not in it");
    let id = certificate["certificateId"].as_str().expect("certificateId").to_owned();
    let record = server.certloop.show(&id).await.expect("in the inventory");
    assert_eq!(record.common_name, "service.acme.com");
    let names: Vec<&str> = record.alt_names.iter().map(|n| n.value.as_str()).collect();
    assert_eq!(names, ["service.acme.com", "www.service.acme.com"]);
    assert_eq!(record.key_algorithm, Some(certloop::model::KeyAlgorithm::Rsa2048));

    // The same record through the API, then its certificate and chain.
    let shown = server.get(&format!("{CERTS}/{id}"), &admin).await;
    assert_eq!(shown.status, StatusCode::OK);
    assert_eq!(shown.json()["certificate"]["serialNumber"], record.serial_number);
    let body = server.get(&format!("{CERTS}/{id}/certificate"), &admin).await.json();
    assert_eq!(body["certificate"], certificate["certificate"]);
    assert_eq!(body["certificateChain"], certificate["certificateChain"]);

    // Renew by id: a new certificate, no key in the inventory, the old one marked.
    let renewed = server.post(&format!("{CERTS}/{id}/renew"), &admin, &json!({})).await;
    assert_eq!(renewed.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&renewed.body));
    let new_id = renewed.json()["certificate"]["certificateId"].as_str().expect("id").to_owned();
    assert_ne!(new_id, id);
    assert_eq!(server.certloop.show(&id).await.expect("old").renewed_by.as_deref(), Some(&*new_id));

    // Revoke with a reason; the CRL of the issuing CA lists it.
    let revoked = server
        .post(
            &format!("{CERTS}/{new_id}/revoke"),
            &admin,
            &json!({"revocationReason": "keyCompromise"}),
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", String::from_utf8_lossy(&revoked.body));
    assert_eq!(revoked.json()["certificate"]["state"], "revoked");
    let crl = server.get("/api/v1/cert-manager/cas/rsa-issuing/crl", &admin).await;
    assert_eq!(crl.status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&crl.body).contains("BEGIN X509 CRL"));

    // List and search.
    let listed =
        server.get(&format!("{CERTS}?commonName=service.acme&state=revoked"), &admin).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", String::from_utf8_lossy(&listed.body));
    let listed = listed.json();
    assert_eq!(listed["totalCount"], 1);
    assert_eq!(listed["certificates"][0]["certificateId"], new_id.as_str());

    // With a CSR: the caller keeps its key, none comes back.
    let key = rcgen_free_csr();
    let with_csr = server
        .post(
            CERTS,
            &admin,
            &json!({"profileId": "web-a", "csr": key, "attributes": {"ttl": "30d"}}),
        )
        .await;
    assert_eq!(with_csr.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&with_csr.body));
    assert!(with_csr.json()["certificate"].get("privateKey").is_none());

    // Every request is in the audit log under the token's name.
    let events = server.certloop.audit_log(&AuditQuery::default()).await.expect("audit");
    let requests: Vec<_> = events.iter().filter(|e| e.action == AuditAction::ApiRequest).collect();
    assert!(requests.len() >= 10, "{} request events", requests.len());
    assert!(requests.iter().all(|e| e.actor == "token:admin"));
    let issued_events: Vec<_> = events.iter().filter(|e| e.action == AuditAction::Issued).collect();
    assert!(issued_events.iter().all(|e| e.actor == "token:admin"), "façade events name the token");
    server.stop().await;
}

/// A CSR made by openssl, the way a pipeline makes one.
fn rcgen_free_csr() -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = dir.path().join("key.pem");
    let csr = dir.path().join("csr.pem");
    let status = std::process::Command::new("openssl")
        .args(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"])
        .args([
            "-subj",
            "/CN=csr.service.acme.com",
            "-addext",
            "subjectAltName=DNS:csr.service.acme.com",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&csr)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl runs");
    assert!(status.success(), "openssl made a CSR");
    std::fs::read_to_string(csr).expect("CSR")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_for_profile_a_is_refused_on_profile_b_and_the_refusal_is_audited() {
    let server = Server::start(ServeOptions::default()).await;
    let admin = server.token("admin", &["*"], &TokenAction::ALL).await;
    two_profiles(&server, &admin).await;
    let ci_a = server.token("ci-a", &["web-a"], &[TokenAction::Issue, TokenAction::Read]).await;

    let on_b = server.post(CERTS, &ci_a, &infisical_issue_body("web-b")).await;
    assert_eq!(on_b.status, StatusCode::FORBIDDEN);
    assert_eq!(on_b.code(), "FORBIDDEN");
    assert!(on_b.json()["error"]["message"].as_str().is_some_and(|m| m.contains("web-b")));
    let on_a = server.post(CERTS, &ci_a, &infisical_issue_body("web-a")).await;
    assert_eq!(on_a.status, StatusCode::CREATED);
    let a_id = on_a.json()["certificate"]["certificateId"].as_str().expect("id").to_owned();

    // B's certificate is invisible to A's token, in a list and by id; A may not renew its own.
    let b = server.post(CERTS, &admin, &infisical_issue_body("web-b")).await.json();
    let b_id = b["certificate"]["certificateId"].as_str().expect("id").to_owned();
    assert_eq!(server.get(&format!("{CERTS}/{b_id}"), &ci_a).await.status, StatusCode::FORBIDDEN);
    let listed = server.get(CERTS, &ci_a).await.json();
    assert_eq!(listed["totalCount"], 1);
    assert_eq!(listed["certificates"][0]["certificateId"], a_id.as_str());
    let everything = server.get(CERTS, &admin).await.json();
    assert_eq!(everything["totalCount"], 2);
    let renew = server.post(&format!("{CERTS}/{a_id}/renew"), &ci_a, &json!({})).await;
    assert_eq!(renew.status, StatusCode::FORBIDDEN, "no renew action");
    let profile = server
        .post(
            PROFILES,
            &ci_a,
            &json!({"slug": "web-a", "templateId": "tls-server", "issuer": {"type": "selfSigned"}}),
        )
        .await;
    assert_eq!(profile.status, StatusCode::FORBIDDEN, "no manageProfiles action");
    // With the action for web-a only, it cannot take over web-b by its id.
    let owner = server.token("owner-a", &["web-a"], &[TokenAction::ManageProfiles]).await;
    let b_profile = server.certloop.get_profile("web-b").await.expect("web-b");
    let takeover = json!({"id": b_profile.id, "slug": "web-a", "templateId": "tls-server", "issuer": {"type": "selfSigned"}});
    assert_eq!(server.post(PROFILES, &owner, &takeover).await.status, StatusCode::FORBIDDEN);
    assert_eq!(server.certloop.get_profile(&b_profile.id).await.expect("unchanged").slug, "web-b");
    let profiles = server.get(PROFILES, &ci_a).await.json();
    let slugs: Vec<&str> = profiles["certificateProfiles"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|p| p["slug"].as_str())
        .collect();
    assert_eq!(slugs, ["web-a"]);

    // Revoked: refused as unauthenticated from then on.
    server.certloop.revoke_token("ci-a").await.expect("revoke");
    let after = server.post(CERTS, &ci_a, &infisical_issue_body("web-a")).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
    assert_eq!(after.code(), "UNAUTHENTICATED");

    let events = server.certloop.audit_log(&AuditQuery::default()).await.expect("audit");
    let refusal = events
        .iter()
        .find(|e| e.action == AuditAction::ApiRequest && e.detail.contains(" 403"))
        .expect("the 403 is audited");
    assert_eq!(refusal.actor, "token:ci-a");
    assert_eq!(refusal.outcome, AuditOutcome::Failure);
    assert!(
        refusal.detail.starts_with("POST /api/v1/cert-manager/certificates"),
        "{}",
        refusal.detail
    );
    assert!(
        events.iter().any(|e| e.action == AuditAction::ApiRequest
            && e.actor == "anonymous"
            && e.detail.ends_with(" 401")),
        "the revoked token's request is audited too"
    );
    // No secret in any event or listing.
    let secret_part = ci_a.rsplit('_').next().expect("secret");
    let log = serde_json::to_string(&events).expect("json");
    assert!(!log.contains(secret_part));
    let listed =
        serde_json::to_string(&server.certloop.list_tokens().await.expect("list")).expect("json");
    assert!(!listed.contains(secret_part));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_typed_errors_and_the_server_keeps_serving() {
    let server =
        Server::start(ServeOptions { max_body_bytes: 4096, ..ServeOptions::default() }).await;
    let token = server.token("ci", &["*"], &TokenAction::ALL).await;
    let json_type = Some("application/json");

    let malformed =
        server.send(Method::POST, CERTS, Some(&token), json_type, "{\"profileId\": ").await;
    assert_eq!(
        (malformed.status, malformed.code().as_str()),
        (StatusCode::BAD_REQUEST, "MALFORMED_JSON")
    );

    let unknown =
        server.post(CERTS, &token, &json!({"profileId": "tls-server", "colour": "red"})).await;
    assert_eq!(
        (unknown.status, unknown.code().as_str()),
        (StatusCode::BAD_REQUEST, "INVALID_INPUT")
    );
    assert_eq!(unknown.json()["error"]["field"], "colour", "{}", unknown.json());

    // A secret sent in the wrong field is refused by name, and not echoed back.
    let misplaced = server
        .post(CERTS, &token, &json!({"profileId": "tls-server", "manageKey": "s3cret"}))
        .await;
    assert_eq!(misplaced.code(), "INVALID_INPUT");
    assert_eq!(misplaced.json()["error"]["field"], "manageKey", "{}", misplaced.json());
    assert!(!misplaced.json().to_string().contains("s3cret"), "{}", misplaced.json());

    let wrong_type = server.send(Method::POST, CERTS, Some(&token), Some("text/plain"), "{}").await;
    assert_eq!(wrong_type.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(wrong_type.code(), "UNSUPPORTED_MEDIA_TYPE");

    let huge = format!("{{\"profileId\": \"{}\"}}", "x".repeat(10_000));
    let oversized = server.send(Method::POST, CERTS, Some(&token), json_type, huge).await;
    assert_eq!(
        (oversized.status, oversized.code().as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE")
    );

    let wrong_value = server.post(CERTS, &token, &json!({"attributes": {"ttl": "-3d"}})).await;
    assert_eq!(wrong_value.status, StatusCode::BAD_REQUEST, "{}", wrong_value.json());

    let policy = server
        .post(CERTS, &token, &json!({"attributes": {"commonName": "a.example", "ttl": "20y"}}))
        .await;
    assert_eq!(
        (policy.status, policy.code().as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "POLICY_VIOLATION")
    );
    assert!(policy.json()["error"]["violations"].as_array().is_some_and(|v| !v.is_empty()));

    let missing = server.get(&format!("{CERTS}/no-such-id"), &token).await;
    assert_eq!((missing.status, missing.code().as_str()), (StatusCode::NOT_FOUND, "NOT_FOUND"));
    let bad_query = server.get(&format!("{CERTS}?limit=none"), &token).await;
    assert_eq!(bad_query.status, StatusCode::BAD_REQUEST);
    let unknown_param = server.get(&format!("{CERTS}?colour=red"), &token).await;
    assert_eq!(unknown_param.status, StatusCode::BAD_REQUEST);
    let bad_state = server.get(&format!("{CERTS}?state=sleeping"), &token).await;
    assert_eq!(bad_state.json()["error"]["field"], "state");

    let no_token = server.send(Method::GET, CERTS, None, None, Bytes::new()).await;
    assert_eq!(
        (no_token.status, no_token.code().as_str()),
        (StatusCode::UNAUTHORIZED, "UNAUTHENTICATED")
    );
    let forged = server.get(CERTS, &format!("{}x", &token[..token.len() - 1])).await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
    let nowhere = server.get("/api/v1/nowhere", &token).await;
    assert_eq!(nowhere.status, StatusCode::NOT_FOUND);

    // Still serving, and still issuing.
    let health = server.send(Method::GET, "/healthz", None, None, Bytes::new()).await;
    assert_eq!((health.status, health.body.as_slice()), (StatusCode::OK, b"ok".as_slice()));
    let fine =
        server.post(CERTS, &token, &json!({"attributes": {"commonName": "ok.example"}})).await;
    assert_eq!(fine.status, StatusCode::CREATED, "{}", fine.json());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_certificates_by_state_and_renewals() {
    let server = Server::start(ServeOptions::default()).await;
    let token = server.token("ci", &["*"], &TokenAction::ALL).await;
    let mut ids = Vec::new();
    for name in ["m1.example", "m2.example", "m3.example"] {
        let issued =
            server.post(CERTS, &token, &json!({"attributes": {"commonName": name}})).await.json();
        ids.push(issued["certificate"]["certificateId"].as_str().expect("id").to_owned());
    }
    assert_eq!(
        server.post(&format!("{CERTS}/{}/renew", ids[0]), &token, &json!({})).await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        server.post(&format!("{CERTS}/{}/revoke", ids[1]), &token, &json!({})).await.status,
        StatusCode::OK
    );

    let metrics = server.send(Method::GET, "/metrics", None, None, Bytes::new()).await;
    assert_eq!(metrics.status, StatusCode::OK);
    let text = String::from_utf8(metrics.body).expect("text");
    let value = |line: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(line).and_then(|rest| rest.trim().parse().ok()))
            .unwrap_or_else(|| panic!("{line} in\n{text}"))
    };
    // Three issued, one renewed (its successor issued), one revoked.
    assert_eq!(value("certloop_certificates{state=\"issued\"}"), 3.0);
    assert_eq!(value("certloop_certificates{state=\"revoked\"}"), 1.0);
    assert_eq!(value("certloop_renewals_total{result=\"succeeded\"}"), 1.0);
    assert_eq!(value("certloop_certificates_expiring{within_days=\"1\"}"), 0.0);
    assert!(value("certloop_certificates_expiring{within_days=\"90\"}") >= 3.0);
    assert!(value("certloop_certificate_soonest_expiry_days") > 1.0);
    assert!(value("certloop_http_requests_total{status=\"2xx\"}") >= 5.0);
    // A second scrape counts nothing twice.
    let again = server.send(Method::GET, "/metrics", None, None, Bytes::new()).await;
    let again = String::from_utf8(again.body).expect("text");
    assert!(again.contains("certloop_renewals_total{result=\"succeeded\"} 1\n"), "{again}");
    server.stop().await;
}

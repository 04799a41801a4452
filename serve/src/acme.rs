//! The ACME server (RFC 8555) on the internal CA: one directory per ACME-enrolled profile at
//! `/acme/{profile}/directory`. This module is HTTP only (nonces, headers, problem documents,
//! routing); the protocol's state and checks are the façade's `acme_server_*` methods.
//!
//! | Resource | Method |
//! |---|---|
//! | `directory` | GET |
//! | `new-nonce` | HEAD (200), GET (204) |
//! | `new-account`, `account/{id}`, `account/{id}/orders` | POST |
//! | `new-order`, `order/{id}`, `order/{id}/finalize` | POST |
//! | `authz/{order}/{index}`, `chall/{order}/{index}/{type}` | POST |
//! | `cert/{id}` | POST-as-GET: `application/pem-certificate-chain` |
//! | `revoke-cert` | POST |
//! | `renewal-info/{certID}` | GET (RFC 9773) |
//!
//! Every answer carries a fresh `Replay-Nonce`; a nonce is good for one request, so a replayed
//! one is `badNonce` (clients retry with the nonce of that answer).

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use certloop::acme_server::jws::{self, SignedRequest};
use certloop::acme_server::{AcmeUrls, Problem, ProblemType, ServerAccount, ServerOrder, rfc3339};
use certloop::policy::CertificateProfile;

use crate::AppState;

/// How many unused nonces are remembered; the oldest are forgotten first (their requests then
/// get `badNonce` and retry).
const NONCES_KEPT: usize = 100_000;

/// Nonces handed out and not used yet, and the order they were handed out in (for eviction).
#[derive(Default)]
pub(crate) struct Nonces {
    inner: Mutex<(HashSet<String>, VecDeque<String>)>,
}

impl Nonces {
    fn issue(&self) -> Result<String, Problem> {
        let nonce = certloop::crypto::random_base64url::<16>()?;
        let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let (set, order) = &mut *guard;
        if order.len() >= NONCES_KEPT
            && let Some(oldest) = order.pop_front()
        {
            set.remove(&oldest);
        }
        set.insert(nonce.clone());
        order.push_back(nonce.clone());
        Ok(nonce)
    }

    /// Use `nonce` up: `true` the first time for a nonce this server issued.
    fn take(&self, nonce: &str) -> bool {
        // The issue queue may still list it: evicting a used nonce later is a no-op.
        let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        guard.0.remove(nonce)
    }
}

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/acme/{profile}/directory", get(directory))
        .route("/acme/{profile}/new-nonce", get(new_nonce).head(new_nonce))
        .route("/acme/{profile}/renewal-info/{id}", get(renewal_info))
        .route("/acme/{profile}/{*resource}", post(dispatch))
}

/// An answer with the headers every ACME answer has.
struct Acme {
    status: StatusCode,
    location: Option<String>,
    body: AcmeBody,
    links: Vec<String>,
}

enum AcmeBody {
    Json(serde_json::Value),
    Pem(String),
    Empty,
}

impl Acme {
    fn json(status: StatusCode, body: serde_json::Value) -> Self {
        Self { status, location: None, body: AcmeBody::Json(body), links: Vec::new() }
    }

    fn at(mut self, location: String) -> Self {
        self.location = Some(location);
        self
    }

    fn finish(self, app: &AppState, urls: &AcmeUrls) -> Response {
        let mut headers = HeaderMap::new();
        // Without randomness there is no nonce to give; the client's next request then fails
        // with badNonce (and the server log has the error) rather than getting a guessable one.
        match app.nonces.issue() {
            Ok(nonce) => insert(&mut headers, "replay-nonce", &nonce),
            Err(p) => tracing::error!(target: "certloop::serve", "no ACME nonce: {}", p.detail),
        }
        insert(&mut headers, "cache-control", "no-store");
        let mut links = vec![format!("<{}>;rel=\"index\"", urls.at("directory"))];
        links.extend(self.links);
        for link in links {
            if let Ok(value) = HeaderValue::from_str(&link) {
                headers.append(header::LINK, value);
            }
        }
        if let Some(location) = &self.location {
            insert(&mut headers, "location", location);
        }
        match self.body {
            AcmeBody::Json(body) => {
                insert(&mut headers, "content-type", "application/json");
                (self.status, headers, body.to_string()).into_response()
            }
            AcmeBody::Pem(pem) => {
                insert(&mut headers, "content-type", "application/pem-certificate-chain");
                (self.status, headers, pem).into_response()
            }
            AcmeBody::Empty => (self.status, headers).into_response(),
        }
    }
}

fn insert(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(name, value);
    }
}

/// A problem document answer.
fn problem(app: &AppState, urls: &AcmeUrls, problem: &Problem) -> Response {
    if problem.kind == ProblemType::ServerInternal {
        tracing::error!(target: "certloop::serve", "ACME request failed: {}", problem.detail);
    }
    let status = StatusCode::from_u16(problem.kind.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = Acme::json(status, problem.to_json()).finish(app, urls);
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
    response
}

/// The profile's ACME root URL as clients reach it: the configured public URL, else the
/// request's `Host` with this server's scheme.
fn urls_for(app: &AppState, headers: &HeaderMap, profile: &str) -> AcmeUrls {
    let root = match &app.options.public_url {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => {
            let host =
                headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
            format!("{}://{host}", app.scheme)
        }
    };
    AcmeUrls { base: format!("{root}/acme/{profile}") }
}

async fn profile(app: &AppState, slug: &str) -> Result<CertificateProfile, Problem> {
    app.certloop.acme_server_profile(slug).await.map_err(|e| match e {
        certloop::Error::NotFound { .. } => {
            Problem::malformed(format!("no ACME-enrolled profile {slug:?} here"))
        }
        other => Problem::from(other),
    })
}

async fn directory(
    State(app): State<AppState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
) -> Response {
    let urls = urls_for(&app, &headers, &slug);
    match profile(&app, &slug).await {
        Ok(profile) => {
            let meta = serde_json::json!({
                "externalAccountRequired": certloop::external_account_required(&profile),
                "profiles": { profile.slug.clone(): profile.description.clone().unwrap_or_default() },
            });
            Acme::json(StatusCode::OK, urls.directory(meta)).finish(&app, &urls)
        }
        Err(p) => problem(&app, &urls, &p),
    }
}

async fn new_nonce(
    State(app): State<AppState>,
    Path(slug): Path<String>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let urls = urls_for(&app, &headers, &slug);
    if let Err(p) = profile(&app, &slug).await {
        return problem(&app, &urls, &p);
    }
    let status = if method == Method::HEAD { StatusCode::OK } else { StatusCode::NO_CONTENT };
    Acme { status, location: None, body: AcmeBody::Empty, links: Vec::new() }.finish(&app, &urls)
}

async fn renewal_info(
    State(app): State<AppState>,
    Path((slug, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let urls = urls_for(&app, &headers, &slug);
    let answer = async {
        profile(&app, &slug).await?;
        let window = app.certloop.acme_server_renewal_info(&id).await?;
        Ok::<_, Problem>(serde_json::json!({
            "suggestedWindow": { "start": rfc3339(window.start), "end": rfc3339(window.end) },
        }))
    };
    match answer.await {
        Ok(body) => {
            let mut response = Acme::json(StatusCode::OK, body).finish(&app, &urls);
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("21600"));
            response
        }
        Err(p) => problem(&app, &urls, &p),
    }
}

/// Every POST: check the content type, the JWS, its URL and nonce, then route on the path.
async fn dispatch(
    State(app): State<AppState>,
    Path((slug, resource)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let urls = urls_for(&app, &headers, &slug);
    match handle(&app, &urls, &slug, &resource, &headers, &body).await {
        Ok(answer) => answer.finish(&app, &urls),
        Err(p) => problem(&app, &urls, &p),
    }
}

async fn handle(
    app: &AppState,
    urls: &AcmeUrls,
    slug: &str,
    resource: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Acme, Problem> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    if content_type.map(|c| c.split(';').next().unwrap_or("").trim())
        != Some("application/jose+json")
    {
        return Err(Problem::malformed("send the request as Content-Type: application/jose+json"));
    }
    let profile = profile(app, slug).await?;
    let request = jws::parse(body, &urls.at(resource))?;
    if !app.nonces.take(&request.nonce) {
        return Err(Problem::new(
            ProblemType::BadNonce,
            "the nonce is unknown or was used already; retry with this answer's Replay-Nonce",
        ));
    }
    let certloop = &app.certloop;
    let segments: Vec<&str> = resource.split('/').collect();
    match segments.as_slice() {
        ["new-account"] => {
            let (account, created) = certloop.acme_server_new_account(&profile, &request).await?;
            let status = if created { StatusCode::CREATED } else { StatusCode::OK };
            Ok(Acme::json(status, account_json(&account, urls)).at(urls.account(&account.id)))
        }
        ["revoke-cert"] => {
            certloop.acme_server_revoke(urls, &profile, &request).await?;
            Ok(Acme {
                status: StatusCode::OK,
                location: None,
                body: AcmeBody::Empty,
                links: vec![],
            })
        }
        _ => {
            let account = certloop.acme_server_signer(urls, &profile, &request).await?;
            signed(app, urls, account, &segments, &request).await
        }
    }
}

/// The requests an account signs with its `kid`.
async fn signed(
    app: &AppState,
    urls: &AcmeUrls,
    account: ServerAccount,
    segments: &[&str],
    request: &SignedRequest,
) -> Result<Acme, Problem> {
    let certloop = &app.certloop;
    let own = |id: &str| {
        if id == account.id {
            Ok(())
        } else {
            Err(Problem::unauthorized("an account may only read and change itself"))
        }
    };
    match segments {
        ["account", id] => {
            own(id)?;
            let account = certloop.acme_server_update_account(account.clone(), request).await?;
            Ok(Acme::json(StatusCode::OK, account_json(&account, urls))
                .at(urls.account(&account.id)))
        }
        ["account", id, "orders"] => {
            own(id)?;
            let orders = certloop.acme_server_orders(&account).await?;
            let links: Vec<String> =
                orders.iter().map(|o| urls.at(&format!("order/{}", o.id))).collect();
            Ok(Acme::json(StatusCode::OK, serde_json::json!({ "orders": links })))
        }
        ["new-order"] => {
            let order = certloop.acme_server_new_order(&account, request).await?;
            Ok(order_answer(StatusCode::CREATED, &order, urls))
        }
        ["order", id] => {
            let order = certloop.acme_server_order(&account, id).await?;
            Ok(order_answer(StatusCode::OK, &order, urls))
        }
        ["order", id, "finalize"] => {
            let order = certloop.acme_server_finalize(&account, id, request).await?;
            Ok(order_answer(StatusCode::OK, &order, urls))
        }
        ["authz", order_id, index] => {
            let index = index_of(index)?;
            let order = certloop.acme_server_order(&account, order_id).await?;
            let authz = order
                .authorization_json(index, urls)
                .ok_or_else(|| Problem::malformed(format!("no authorization {index}")))?;
            Ok(Acme::json(StatusCode::OK, authz))
        }
        ["chall", order_id, index, kind] => {
            let index = index_of(index)?;
            let (order, job) = if request.is_post_as_get() {
                (certloop.acme_server_order(&account, order_id).await?, None)
            } else {
                certloop.acme_server_respond(&account, order_id, index, kind).await?
            };
            if let Some(job) = job {
                let (certloop, options) = (certloop.clone(), app.options.acme_validation.clone());
                tokio::spawn(async move {
                    if let Err(e) = certloop.acme_server_validate(job, &options).await {
                        tracing::error!(target: "certloop::serve", error = %e, "saving an ACME validation failed");
                    }
                });
            }
            let authz = order
                .authorization_json(index, urls)
                .ok_or_else(|| Problem::malformed(format!("no authorization {index}")))?;
            let challenge = authz["challenges"]
                .as_array()
                .and_then(|all| all.iter().find(|c| c["type"] == *kind))
                .cloned()
                .ok_or_else(|| Problem::malformed(format!("no {kind} challenge")))?;
            let mut answer = Acme::json(StatusCode::OK, challenge);
            answer
                .links
                .push(format!("<{}>;rel=\"up\"", urls.at(&format!("authz/{order_id}/{index}"))));
            Ok(answer)
        }
        ["cert", id] => {
            let pem = certloop.acme_server_certificate(&account, id).await?;
            Ok(Acme {
                status: StatusCode::OK,
                location: None,
                body: AcmeBody::Pem(pem),
                links: vec![],
            })
        }
        _ => Err(Problem::malformed(format!("no ACME resource {}", segments.join("/")))),
    }
}

fn index_of(text: &str) -> Result<usize, Problem> {
    text.parse().map_err(|_| Problem::malformed(format!("{text:?} is not an authorization index")))
}

fn order_answer(status: StatusCode, order: &ServerOrder, urls: &AcmeUrls) -> Acme {
    Acme::json(status, order.to_json(urls)).at(urls.at(&format!("order/{}", order.id)))
}

fn account_json(account: &ServerAccount, urls: &AcmeUrls) -> serde_json::Value {
    serde_json::json!({
        "status": account.status,
        "contact": account.contact,
        "orders": urls.at(&format!("account/{}/orders", account.id)),
        "createdAt": rfc3339(account.created_at),
    })
}

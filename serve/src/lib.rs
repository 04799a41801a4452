//! `certloop serve`: the REST API pipelines reach certloop through, over the same façade and
//! store as the CLI and the agent.
//!
//! The endpoints and JSON shapes are Infisical's certificate API (`/api/v1/cert-manager/...`):
//!
//! | Method and path | Action | Answer |
//! |---|---|---|
//! | `POST /api/v1/cert-manager/certificate-profiles` | `manageProfiles` | `{"certificateProfile": {...}}` |
//! | `GET /api/v1/cert-manager/certificate-profiles[/{idOrSlug}]` | `read` | `{"certificateProfiles": [...]}` / `{"certificateProfile": {...}}` |
//! | `POST /api/v1/cert-manager/certificates` | `issue` | `{"certificate": {...}, "certificateRequestId": "..."}` |
//! | `GET /api/v1/cert-manager/certificates?commonName=&san=&state=&profileId=&expiringBefore=&limit=&offset=` | `read` | `{"certificates": [...], "totalCount": n}` |
//! | `GET /api/v1/cert-manager/certificates/{id}` | `read` | `{"certificate": {record}}` |
//! | `GET /api/v1/cert-manager/certificates/{id}/certificate` | `read` | `{"certificate", "certificateChain", "serialNumber"}` |
//! | `POST /api/v1/cert-manager/certificates/{id}/renew` | `renew` | as issue |
//! | `POST /api/v1/cert-manager/certificates/{id}/revoke` | `revoke` | `{"certificate": {record}}` |
//! | `GET /api/v1/cert-manager/cas/{idOrName}/crl` | `read` (token for `*`) | PEM, or DER for `Accept: application/pkix-crl` |
//! | `GET /metrics` | none | Prometheus text |
//! | `GET /healthz` | none | `ok` |
//!
//! Every `/api` request carries `Authorization: Bearer <token>` (see
//! [`Certloop::create_token`]); a token may only do its actions on its profiles (403 otherwise),
//! and every request, refused ones included, is an `apiRequest` audit event whose actor is
//! `token:<name>` (`anonymous` without a valid token). Errors are JSON with a stable code:
//! `{"error": {"code": "POLICY_VIOLATION", "message": "...", "field": ..., "violations": [...]},
//! "statusCode": 422}`.

mod acme;
mod api;
mod auth;
mod error;
mod metrics;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use certloop::Certloop;

pub use error::ApiError;

/// How the server behaves.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// The largest request body accepted (413 above it).
    pub max_body_bytes: usize,
    /// Log one line per request (at `info`, target `certloop::serve`).
    pub request_log: bool,
    /// The URL clients reach this server at (`https://ca.example:8443`), for the ACME
    /// directory's links; without one they are built from the request's `Host` over HTTP.
    pub public_url: Option<String>,
    /// How the ACME server reaches the names it validates.
    pub acme_validation: certloop::acme_server::ValidationOptions,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            max_body_bytes: 64 * 1024,
            request_log: false,
            public_url: None,
            acme_validation: Default::default(),
        }
    }
}

/// What every handler shares.
#[derive(Clone)]
struct AppState {
    certloop: Certloop,
    options: Arc<ServeOptions>,
    metrics: Arc<metrics::Metrics>,
    nonces: Arc<acme::Nonces>,
    /// The scheme clients reach this server with (for ACME URLs without a public URL).
    scheme: &'static str,
}

/// The whole API as an axum router over `certloop`.
pub fn router(certloop: Certloop, options: ServeOptions) -> Router {
    router_over(certloop, options, "http")
}

fn router_over(certloop: Certloop, options: ServeOptions, scheme: &'static str) -> Router {
    let max_body = options.max_body_bytes;
    let state = AppState {
        certloop,
        options: Arc::new(options),
        metrics: Arc::new(metrics::Metrics::default()),
        nonces: Arc::new(acme::Nonces::default()),
        scheme,
    };
    let api = api::routes().route_layer(axum::middleware::from_fn_with_state(
        state.clone(),
        auth::authenticate_and_audit,
    ));
    Router::new()
        .merge(api)
        .merge(acme::routes())
        .merge(metrics::routes())
        .fallback(error::not_found)
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(state)
}

/// Serve `router(certloop, options)` on `listener` until `shutdown` completes; requests in
/// flight then finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    certloop: Certloop,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(certloop, options)).with_graceful_shutdown(shutdown).await
}

/// The TLS settings of [`serve_tls`] from a PEM certificate chain (leaf first) and its PEM
/// private key (PKCS#8, SEC1 or PKCS#1), each error naming the file.
pub fn tls_config(
    chain_file: &std::path::Path,
    key_file: &std::path::Path,
) -> certloop::Result<Arc<rustls::ServerConfig>> {
    use rustls_pki_types::pem::PemObject as _;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let bad = |file: &std::path::Path, why: String| {
        certloop::Error::invalid(file.display().to_string(), why)
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(chain_file)
        .map_err(|e| bad(chain_file, format!("cannot read certificates: {e}")))?
        .collect::<Result<_, _>>()
        .map_err(|e| bad(chain_file, format!("not a PEM certificate chain: {e}")))?;
    if chain.is_empty() {
        return Err(bad(chain_file, "holds no certificate".into()));
    }
    let key = PrivateKeyDer::from_pem_file(key_file)
        .map_err(|e| bad(key_file, format!("not a PEM private key: {e}")))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| certloop::Error::crypto(format!("TLS versions: {e}")))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| bad(key_file, format!("does not go with the certificate: {e}")))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// [`serve`] over TLS: each connection's handshake (10 s at most) then HTTP/1.1. On
/// `shutdown` no new connection is accepted and open ones finish their request in flight.
pub async fn serve_tls(
    listener: tokio::net::TcpListener,
    certloop: Certloop,
    options: ServeOptions,
    tls: Arc<rustls::ServerConfig>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router_over(certloop, options, "https");
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(target: "certloop::serve", error = %e, "accept failed");
                    continue;
                }
            },
        };
        let (acceptor, app, mut stopped) = (acceptor.clone(), app.clone(), stopped.clone());
        connections.spawn(async move {
            let handshake = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream));
            let tls = match handshake.await {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    tracing::debug!(target: "certloop::serve", %peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => return,
            };
            let service = hyper_util::service::TowerToHyperService::new(app);
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(tls), service);
            let mut connection = std::pin::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                _ = stopped.changed() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
        });
        while connections.try_join_next().is_some() {}
    }
    let _ = stop.send(true);
    while connections.join_next().await.is_some() {}
    Ok(())
}

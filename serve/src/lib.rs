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
}

/// The whole API as an axum router over `certloop`.
pub fn router(certloop: Certloop, options: ServeOptions) -> Router {
    let max_body = options.max_body_bytes;
    let state = AppState {
        certloop,
        options: Arc::new(options),
        metrics: Arc::new(metrics::Metrics::default()),
        nonces: Arc::new(acme::Nonces::default()),
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

//! Lifecycle notifications: what the agent tells people when something needs them (a renewal
//! or deployment failed, an endpoint serves the wrong certificate, a certificate expires soon).
//!
//! [`Notifier`] is the small trait the engine calls; [`WebhookNotifier`] POSTs the JSON of a
//! [`Notification`] to a URL (HTTP or HTTPS, system roots) with a timeout and bounded retries.
//! Notifications never hold a key or a secret; a webhook's own header value (a bearer token)
//! is a [`SecretString`] that appears in no log, error or `Debug` output.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::crypto::SecretString;
use crate::error::{Error, Result};

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum NotificationKind {
    /// A renewal failed and will not be retried before the next regular check.
    RenewalFailed,
    /// A deployment failed (and was rolled back when rollback is on).
    DeployFailed,
    /// An endpoint does not serve the expected certificate.
    PinMismatch,
    /// The certificate in service expires soon.
    ExpirySoon,
}

/// The JSON body POSTed. Never holds a key or a secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    /// What happened.
    pub kind: NotificationKind,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The managed certificate's id.
    pub managed_id: String,
    /// Its name.
    pub name: String,
    /// The certificate concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_id: Option<String>,
    /// Its notAfter, for `expirySoon`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub not_after: Option<OffsetDateTime>,
    /// What happened, for people.
    pub message: String,
}

/// Sends notifications somewhere. Object-safe.
#[async_trait::async_trait]
pub trait Notifier: Send + Sync + fmt::Debug {
    /// Deliver one notification.
    async fn notify(&self, notification: &Notification) -> Result<()>;
}

/// Drops notifications (the default when none is configured).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoNotifier;

#[async_trait::async_trait]
impl Notifier for NoNotifier {
    async fn notify(&self, _notification: &Notification) -> Result<()> {
        Ok(())
    }
}

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// POSTs each notification as JSON to a URL; 2xx is delivered. Retries connection errors,
/// timeouts, 408, 429 and 5xx (`attempts` in all, doubling the delay); other answers fail at
/// once.
pub struct WebhookNotifier {
    url: hyper::Uri,
    /// The URL without userinfo or query, for messages.
    shown: String,
    header: Option<(hyper::header::HeaderName, SecretString)>,
    timeout: Duration,
    attempts: u32,
    base_delay: Duration,
    client: HttpsClient,
}

impl WebhookNotifier {
    /// A notifier for `url` (`http` or `https` with a host). `InvalidInput` (`webhook.url`)
    /// otherwise. HTTPS verifies the server against the system's roots.
    pub fn new(url: &str) -> Result<Self> {
        let bad = |why: &str| Error::invalid("webhook.url", why.to_owned());
        let uri: hyper::Uri = url.parse().map_err(|_| bad("not a URL"))?;
        match uri.scheme_str() {
            Some("http" | "https") => {}
            _ => return Err(bad("use an http:// or https:// URL")),
        }
        let host =
            uri.host().filter(|h| !h.is_empty()).ok_or_else(|| bad("the URL has no host"))?;
        let shown = format!(
            "{}://{}{}{}",
            uri.scheme_str().unwrap_or("http"),
            host,
            uri.port().map(|p| format!(":{p}")).unwrap_or_default(),
            uri.path()
        );
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .try_with_platform_verifier()
            .map_err(|e| Error::io("the system's TLS roots", e))?
            .https_or_http()
            .enable_http1()
            .build();
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Ok(Self {
            url: uri,
            shown,
            header: None,
            timeout: Duration::from_secs(10),
            attempts: 3,
            base_delay: Duration::from_millis(500),
            client,
        })
    }

    /// Give up on one attempt after `timeout` (default 10 s).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Try `attempts` times in all (at least 1), waiting `base_delay`, then twice that, ...
    pub fn with_retry(mut self, attempts: u32, base_delay: Duration) -> Self {
        self.attempts = attempts.max(1);
        self.base_delay = base_delay;
        self
    }

    /// Send `name: value` with every request (e.g. `Authorization`); the value is a secret.
    pub fn with_header(mut self, name: &str, value: SecretString) -> Result<Self> {
        let name = hyper::header::HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
            Error::invalid("webhook.header", format!("{name:?} is not a header name"))
        })?;
        if hyper::header::HeaderValue::from_str(value.expose()).is_err() {
            return Err(Error::invalid("webhook.header", "the value is not a valid header value"));
        }
        self.header = Some((name, value));
        Ok(self)
    }

    /// One POST: `Ok` when delivered, else whether a retry may help and what happened.
    async fn post(&self, body: &Bytes) -> std::result::Result<(), (bool, String)> {
        let mut request = hyper::Request::post(self.url.clone())
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(hyper::header::USER_AGENT, concat!("certloop/", env!("CARGO_PKG_VERSION")));
        if let Some((name, value)) = &self.header {
            request = request.header(name, value.expose());
        }
        let request = request
            .body(Full::new(body.clone()))
            .map_err(|e| (false, format!("cannot build the request: {e}")))?;
        let response = tokio::time::timeout(self.timeout, self.client.request(request))
            .await
            .map_err(|_| (true, format!("no answer within {:?}", self.timeout)))?
            .map_err(|e| (true, format!("cannot connect: {}", error_chain(&e))))?;
        let status = response.status();
        // Drain (bounded by the timeout) so the connection can be reused.
        let _ = tokio::time::timeout(self.timeout, response.into_body().collect()).await;
        if status.is_success() {
            return Ok(());
        }
        let retryable = status.is_server_error()
            || status == hyper::StatusCode::REQUEST_TIMEOUT
            || status == hyper::StatusCode::TOO_MANY_REQUESTS;
        Err((retryable, format!("answered {status}")))
    }
}

#[async_trait::async_trait]
impl Notifier for WebhookNotifier {
    async fn notify(&self, notification: &Notification) -> Result<()> {
        let body = Bytes::from(
            serde_json::to_vec(notification)
                .map_err(|e| Error::invalid("notification", e.to_string()))?,
        );
        let mut delay = self.base_delay;
        let mut last = String::new();
        for attempt in 1..=self.attempts {
            match self.post(&body).await {
                Ok(()) => return Ok(()),
                Err((retryable, message)) => {
                    last = message;
                    if !retryable {
                        break;
                    }
                    if attempt < self.attempts {
                        tokio::time::sleep(delay).await;
                        delay *= 2;
                    }
                }
            }
        }
        Err(Error::io(format!("webhook {}", self.shown), last))
    }
}

impl fmt::Debug for WebhookNotifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookNotifier")
            .field("url", &self.shown)
            .field("header", &self.header.as_ref().map(|(name, _)| name.as_str()))
            .field("timeout", &self.timeout)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

/// An error with its sources, one line (hyper's top-level message alone says little).
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

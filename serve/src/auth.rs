//! Bearer tokens: who is calling, what they may do, and the audit event of every request.

use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use certloop::model::{ANY_PROFILE, ApiToken, CertificateRecord, TokenAction};
use certloop::policy::CertificateProfile;
use certloop::{Certloop, Error};

use crate::{ApiError, AppState};

/// The authenticated caller of one request: its token and a façade handle whose audit events
/// name it (`token:<name>`).
#[derive(Clone)]
pub(crate) struct Caller {
    pub(crate) token: ApiToken,
    pub(crate) certloop: Certloop,
}

impl Caller {
    /// 403 unless the token may do `action` on `profile`.
    pub(crate) fn require(
        &self,
        action: TokenAction,
        profile: &CertificateProfile,
    ) -> Result<(), ApiError> {
        if self.token.allows(action, &profile.id, &profile.slug) {
            return Ok(());
        }
        Err(ApiError::forbidden(format!(
            "token {} may not {} under profile {}",
            self.token.name,
            action.as_str(),
            profile.slug
        )))
    }

    /// The certificate `id` (id or serial), if the token may do `action` on it (see
    /// [`require_for`](Self::require_for)).
    pub(crate) async fn certificate(
        &self,
        action: TokenAction,
        id: &str,
    ) -> Result<CertificateRecord, ApiError> {
        let record = self.certloop.show(id).await?;
        self.require_for(action, &record).await?;
        Ok(record)
    }

    /// 403 unless the token may do `action` on the profile `record` was issued under; a record
    /// without a profile (discovered, imported) needs a token for every profile (`*`).
    pub(crate) async fn require_for(
        &self,
        action: TokenAction,
        record: &CertificateRecord,
    ) -> Result<(), ApiError> {
        if let Some(profile_id) = &record.profile_id {
            match self.certloop.get_profile(profile_id).await {
                Ok(profile) => return self.require(action, &profile),
                Err(Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.require_everything(action)
    }

    /// 403 unless the token may do `action` on some profile.
    pub(crate) fn require_action(&self, action: TokenAction) -> Result<(), ApiError> {
        if self.token.may(action) {
            return Ok(());
        }
        Err(ApiError::forbidden(format!("token {} may not {}", self.token.name, action.as_str())))
    }

    /// 403 unless the token may do `action` on every profile.
    pub(crate) fn require_everything(&self, action: TokenAction) -> Result<(), ApiError> {
        if self.token.may(action) && self.token.profiles.iter().any(|p| p == ANY_PROFILE) {
            return Ok(());
        }
        Err(ApiError::forbidden(format!(
            "token {} may not {} outside its profiles",
            self.token.name,
            action.as_str()
        )))
    }

    /// Whether the token names every profile.
    pub(crate) fn sees_everything(&self) -> bool {
        self.token.profiles.iter().any(|p| p == ANY_PROFILE)
    }
}

/// Authenticate the bearer token, run the handler with its [`Caller`], then write the
/// request's `apiRequest` audit event (refusals too) and, with `-v`, one log line. The token
/// text is never logged.
pub(crate) async fn authenticate_and_audit(
    State(app): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let caller = match bearer(&request) {
        Some(text) => match app.certloop.authenticate_token(text).await {
            Ok(Some(token)) => {
                let certloop = app.certloop.clone().with_actor(format!("token:{}", token.name));
                Some(Caller { token, certloop })
            }
            Ok(None) => None,
            Err(e) => return ApiError::from(e).into_response(),
        },
        None => None,
    };
    let (response, handle) = match caller {
        Some(caller) => {
            let handle = caller.certloop.clone();
            request.extensions_mut().insert(caller);
            (next.run(request).await, handle)
        }
        None => (
            ApiError::unauthenticated().into_response(),
            app.certloop.clone().with_actor("anonymous"),
        ),
    };
    let status = response.status();
    let detail = format!("{method} {path} {}", status.as_u16());
    if let Err(e) = handle.audit_api_request(detail, status.is_success()).await {
        tracing::error!(target: "certloop::serve", error = %e, "the audit event of a request could not be written");
        return ApiError::from(e).into_response();
    }
    app.metrics.request(status);
    if app.options.request_log {
        tracing::info!(
            target: "certloop::serve",
            %method,
            path,
            status = status.as_u16(),
            ms = started.elapsed().as_millis() as u64,
            "request"
        );
    }
    response
}

/// The token text of `Authorization: Bearer <token>`.
fn bearer(request: &Request) -> Option<&str> {
    let value = request.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

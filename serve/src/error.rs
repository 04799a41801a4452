//! Errors as JSON with stable codes, and the extractors that turn malformed requests into them.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use certloop::{Error, ErrorKind, Violation};
use serde::de::DeserializeOwned;

/// An error answer: `{"error": {"code", "message", "field"?, "violations"?}, "statusCode"}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    field: Option<String>,
    violations: Vec<Violation>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), field: None, violations: Vec::new() }
    }

    /// 401: no token, or one that is unknown, revoked or expired.
    pub(crate) fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "send an active API token as `Authorization: Bearer <token>`",
        )
    }

    /// 403: the token may not do this.
    pub(crate) fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "FORBIDDEN", message)
    }

    /// 400 naming the field.
    pub(crate) fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::from(Error::invalid(field, message))
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        let kind = error.kind();
        let status = match kind {
            ErrorKind::InvalidInput | ErrorKind::Crypto => StatusCode::BAD_REQUEST,
            ErrorKind::PolicyViolation | ErrorKind::Unsupported => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::AlreadyExists | ErrorKind::InvalidState => StatusCode::CONFLICT,
            ErrorKind::Ca => StatusCode::BAD_GATEWAY,
            ErrorKind::PendingValidation => StatusCode::ACCEPTED,
            // Store, I/O, deployment, pin mismatch, and kinds added later.
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let field = match &error {
            Error::InvalidInput { field, .. } => Some(field.clone()),
            _ => None,
        };
        // Store and I/O messages name server-side paths and URLs: the log has them, the caller
        // gets the kind only.
        let message = if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::warn!(target: "certloop::serve", error = %error, "request failed");
            "the server could not complete the request; its log says why".to_owned()
        } else {
            error.to_string()
        };
        Self { status, code: kind.code(), message, field, violations: error.violations().to_vec() }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = serde_json::json!({ "code": self.code, "message": self.message });
        if let Some(field) = self.field {
            error["field"] = field.into();
        }
        if !self.violations.is_empty() {
            error["violations"] = serde_json::to_value(&self.violations).unwrap_or_default();
        }
        let body = serde_json::json!({ "error": error, "statusCode": self.status.as_u16() });
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            let bearer = axum::http::HeaderValue::from_static("Bearer");
            response.headers_mut().insert(header::WWW_AUTHENTICATE, bearer);
        }
        response
    }
}

/// 404 for every path the API does not have.
pub(crate) async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "NOT_FOUND", "no such endpoint")
}

/// A JSON body whose problems are [`ApiError`]s: 415 without `Content-Type: application/json`,
/// 413 above the size limit, 400 for malformed JSON or a wrong or unknown field (named).
pub(crate) struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        // axum checks the content type, the size and the syntax; the core reads the shape,
        // naming the field by its path and never repeating a value (a password sent in the
        // wrong field must not come back in the answer).
        let axum::Json(value) = axum::Json::<serde_json::Value>::from_request(request, state)
            .await
            .map_err(json_rejection)?;
        match certloop::wire::from_value(value, "") {
            Ok(value) => Ok(Self(value)),
            Err(Error::InvalidInput { field, message }) => Err(ApiError {
                field: (!field.is_empty()).then_some(field),
                ..ApiError::new(StatusCode::BAD_REQUEST, "INVALID_INPUT", message)
            }),
            Err(other) => Err(other.into()),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            "send the body as `Content-Type: application/json`",
        ),
        JsonRejection::JsonSyntaxError(e) => {
            ApiError::new(StatusCode::BAD_REQUEST, "MALFORMED_JSON", source_text(&e))
        }
        JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                "the request body is larger than the server accepts",
            )
        }
        other => ApiError::new(other.status(), "INVALID_INPUT", other.body_text()),
    }
}

/// serde's message without axum's prefix ("Failed to deserialize the JSON body into the target
/// type: ").
fn source_text(error: &dyn std::error::Error) -> String {
    let mut inner: &dyn std::error::Error = error;
    while let Some(next) = inner.source() {
        inner = next;
    }
    inner.to_string()
}

/// [`Body`] when the request has one: no body (no or a zero `Content-Length`, no
/// `Transfer-Encoding`) is `None`.
pub(crate) struct OptionalBody<T>(pub Option<T>);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for OptionalBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let headers = request.headers();
        let length = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok());
        let chunked = headers.contains_key(header::TRANSFER_ENCODING);
        if !chunked && length.is_none_or(|l| l.trim() == "0") {
            return Ok(Self(None));
        }
        Body::from_request(request, state).await.map(|Body(value)| Self(Some(value)))
    }
}

/// Query parameters whose problems are 400 [`ApiError`]s.
pub(crate) struct Params<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Self(value)),
            Err(QueryRejection::FailedToDeserializeQueryString(e)) => {
                Err(ApiError::new(StatusCode::BAD_REQUEST, "INVALID_INPUT", source_text(&e)))
            }
            Err(other) => Err(ApiError::new(other.status(), "INVALID_INPUT", other.body_text())),
        }
    }
}

/// A path parameter whose problems are 400 [`ApiError`]s.
pub(crate) struct Segment(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Segment {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<String>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Self(value)),
            Err(rejection) => Err(path_rejection(rejection)),
        }
    }
}

fn path_rejection(rejection: PathRejection) -> ApiError {
    ApiError::new(rejection.status(), "INVALID_INPUT", rejection.body_text())
}

//! The one error type every handler returns, and its JSON shape:
//! `{"error":{"code":"...","message":"...","field":"..."}}`.
//!
//! Internal causes (database errors, panics) are logged here and never sent to the client.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed (bad JSON syntax, bad query string).
    #[error("{message}")]
    BadRequest {
        message: String,
        field: Option<String>,
    },
    /// A field is well-formed but not acceptable.
    #[error("{message}")]
    Validation { message: String, field: String },
    #[error("authentication required")]
    Unauthorized(&'static str),
    #[error("forbidden")]
    Forbidden,
    /// The request's `Host` is not one this server answers for (`AppState::host_allowed`).
    #[error(
        "this server does not answer for that Host name: add it to MCP_ALLOWED_HOSTS (comma-separated) to reach it by that name"
    )]
    HostNotAllowed,
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    #[error("request body too large")]
    PayloadTooLarge,
    #[error("the request target is too long")]
    UriTooLong,
    #[error("the request headers are too large")]
    HeadersTooLarge,
    #[error("the request body did not arrive in time")]
    RequestTimeout,
    #[error("unsupported media type: send the body as Content-Type: application/json, in UTF-8, uncompressed")]
    UnsupportedMediaType,
    #[error("method not allowed")]
    MethodNotAllowed,
    /// A dependency (the database) is down; the client may retry.
    #[error("service unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// Too many requests from this user; retry after this many seconds.
    #[error("too many requests: retry in {0} s")]
    TooManyRequests(u64),
    /// The user holds as many of something (open streams) as one may; retrying will not
    /// help until one is given up.
    #[error("{0}")]
    TooMany(String),
    /// A service this one depends on answered something unusable (the chat's model).
    #[error("{0}")]
    BadGateway(String),
    /// A service this one depends on did not answer in time (the chat's model).
    #[error("{0}")]
    GatewayTimeout(String),
    /// Anything else: logged with its cause, answered as a bare 500.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Validation {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn bad_request(field: Option<&str>, message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            field: field.map(str::to_owned),
            message: message.into(),
        }
    }

    /// A query parameter that is not acceptable: 400 naming it.
    pub fn bad_query(e: crate::domain::Invalid) -> Self {
        ApiError::BadRequest {
            field: Some(e.field),
            message: e.message,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Validation { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden | ApiError::HostNotAllowed => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UriTooLong => StatusCode::URI_TOO_LONG,
            ApiError::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ApiError::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::TooManyRequests(_) | ApiError::TooMany(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::BadGateway(_) => StatusCode::BAD_GATEWAY,
            ApiError::GatewayTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::BadRequest { .. } => ErrorCode::BadRequest,
            ApiError::Validation { .. } => ErrorCode::ValidationFailed,
            ApiError::Unauthorized(_) => ErrorCode::Unauthorized,
            ApiError::Forbidden | ApiError::HostNotAllowed => ErrorCode::Forbidden,
            ApiError::NotFound => ErrorCode::NotFound,
            ApiError::Conflict(_) => ErrorCode::Conflict,
            ApiError::PayloadTooLarge => ErrorCode::PayloadTooLarge,
            ApiError::UriTooLong => ErrorCode::UriTooLong,
            ApiError::HeadersTooLarge => ErrorCode::HeadersTooLarge,
            ApiError::RequestTimeout => ErrorCode::RequestTimeout,
            ApiError::UnsupportedMediaType => ErrorCode::UnsupportedMediaType,
            ApiError::MethodNotAllowed => ErrorCode::MethodNotAllowed,
            ApiError::Unavailable(_) => ErrorCode::ServiceUnavailable,
            ApiError::TooManyRequests(_) | ApiError::TooMany(_) => ErrorCode::TooManyRequests,
            ApiError::BadGateway(_) => ErrorCode::BadGateway,
            ApiError::GatewayTimeout(_) => ErrorCode::GatewayTimeout,
            ApiError::Internal(_) => ErrorCode::InternalError,
        }
    }

    fn public_message(&self) -> String {
        match self {
            ApiError::Unauthorized(why) => format!("authentication required: {why}"),
            ApiError::Forbidden => "the token does not grant access to this user's tasks".into(),
            ApiError::NotFound => "not found".into(),
            ApiError::Unavailable(_) => {
                "the service is temporarily unavailable; retry later".into()
            }
            ApiError::Internal(_) => "internal error".into(),
            other => other.to_string(),
        }
    }

    fn field(&self) -> Option<&str> {
        match self {
            ApiError::BadRequest { field, .. } => field.as_deref(),
            ApiError::Validation { field, .. } => Some(field),
            _ => None,
        }
    }
}

/// What went wrong, for programs: `error.code` of every error answer.
// The OpenAPI document lists these variants, so a client can match on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadRequest,
    ValidationFailed,
    Unauthorized,
    Forbidden,
    NotFound,
    Conflict,
    PayloadTooLarge,
    UriTooLong,
    HeadersTooLarge,
    RequestTimeout,
    UnsupportedMediaType,
    MethodNotAllowed,
    ServiceUnavailable,
    TooManyRequests,
    BadGateway,
    GatewayTimeout,
    InternalError,
}

/// The body of every error answer (and of an MCP tool error).
#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({"error": {"code": "validation_failed", "message": "title must not be empty", "field": "title"}}))]
pub struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail<'a> {
    code: ErrorCode,
    /// What went wrong, for people.
    message: String,
    /// The body field (`title`, `tags[2]`) or query parameter (`page_size`) at fault, when
    /// one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, value_type = Option<String>)]
    field: Option<&'a str>,
}

impl ApiError {
    /// The error's JSON, `{"error":{"code","message","field"?}}`, as every answer carries
    /// it (an MCP tool error too); internal causes are logged here, never put in it.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            ApiError::Internal(cause) => tracing::error!(error = ?cause, "internal error"),
            ApiError::Unavailable(cause) => {
                tracing::warn!(error = %cause, "dependency unavailable")
            }
            _ => {}
        }
        self.body()
    }

    /// The same JSON without logging the cause: for an error that is only shown, never
    /// answered (the OpenAPI document's examples).
    pub(crate) fn body(&self) -> serde_json::Value {
        serde_json::to_value(ErrorBody {
            error: ErrorDetail {
                code: self.code(),
                message: self.public_message(),
                field: self.field(),
            },
        })
        .expect("the error body serialises")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut response = (status, axum::Json(self.to_json())).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                "www-authenticate",
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        if let ApiError::TooManyRequests(seconds) = self {
            response
                .headers_mut()
                .insert("retry-after", axum::http::HeaderValue::from(seconds));
        }
        if let ApiError::TooMany(_) = self {
            // Until one is given up, which this server cannot foresee: a while.
            response
                .headers_mut()
                .insert("retry-after", axum::http::HeaderValue::from_static("5"));
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert("retry-after", axum::http::HeaderValue::from_static("5"));
        }
        response
    }
}

/// A body field that is not acceptable: 422 naming it. (A query parameter is a 400:
/// `ApiError::bad_query`.)
impl From<crate::domain::Invalid> for ApiError {
    fn from(e: crate::domain::Invalid) -> Self {
        ApiError::Validation {
            field: e.field,
            message: e.message,
        }
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(err: crate::store::StoreError) -> Self {
        use crate::store::StoreError;
        match err {
            StoreError::Unavailable(e) => ApiError::Unavailable(e),
            StoreError::Invalid(e) => e.into(),
            StoreError::Conflict(msg) => ApiError::Conflict(msg),
            // Validation lets nothing through that the database refuses: a gap there is
            // the server's fault.
            StoreError::Refused(e) | StoreError::Other(e) => ApiError::Internal(e),
        }
    }
}

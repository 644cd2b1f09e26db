//! Errors: [`ServeError`] for starting the server, [`ApiError`] for one request.
//!
//! Contract for [`ApiError`]: every variant maps to one HTTP status and a JSON body
//! `{"error": "...", "field"?: "...", "row"?: n}`. Anything a client can cause (bad JSON, wrong types, unknown
//! model or version, oversized bodies, bad credentials) is a 4xx that names what was wrong; 5xx is reserved for
//! faults of the server itself, so a monitoring alert on 5xx means "page someone", not "a client sent junk".

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// Why the server could not start or stopped abnormally.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("no models configured: pass --model NAME=PATH or --model-dir DIR")]
    NoModels,

    #[error("invalid --model `{spec}`: {reason}")]
    BadModelSpec { spec: String, reason: String },

    #[error("model directory {path}: {source}")]
    ModelDir { path: String, source: std::io::Error },

    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: std::net::SocketAddr, source: std::io::Error },

    #[error("server failed: {0}")]
    Io(#[from] std::io::Error),

    #[error("background task failed: {0}")]
    Task(String),
}

/// A request that cannot be answered with scores, and why.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("malformed JSON: {0}")]
    MalformedJson(String),

    /// The request is well-formed JSON but not a valid request; `field` / `row` locate the problem.
    #[error("{message}")]
    BadRequest { message: String, field: Option<String>, row: Option<usize> },

    #[error("unknown model `{0}`")]
    UnknownModel(String),

    #[error("model `{name}` has no version {version}")]
    UnknownVersion { name: String, version: String },

    #[error("model `{name}` version {version} is not ready: {reason}")]
    NotReady { name: String, version: u64, reason: String },

    #[error("missing or invalid API key (send `Authorization: Bearer <key>`)")]
    Unauthorized,

    #[error("request body is larger than the limit of {limit} bytes")]
    TooLarge { limit: usize },

    #[error("no such endpoint: {0}")]
    NoRoute(String),

    #[error("method not allowed on this endpoint")]
    MethodNotAllowed,

    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// A 400 naming the offending field (and row, when the request has rows).
    pub(crate) fn field(field: &str, row: Option<usize>, message: impl std::fmt::Display) -> ApiError {
        let message = match row {
            Some(r) => format!("row {r}, field `{field}`: {message}"),
            None => format!("field `{field}`: {message}"),
        };
        ApiError::BadRequest { message, field: Some(field.to_string()), row }
    }

    /// A 400 about a whole row.
    pub(crate) fn row(row: usize, message: impl std::fmt::Display) -> ApiError {
        ApiError::BadRequest { message: format!("row {row}: {message}"), field: None, row: Some(row) }
    }

    /// A 400 about the request as a whole.
    pub(crate) fn bad(message: impl Into<String>) -> ApiError {
        ApiError::BadRequest { message: message.into(), field: None, row: None }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::MalformedJson(_) | ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::UnknownModel(_) | ApiError::UnknownVersion { .. } | ApiError::NoRoute(_) => StatusCode::NOT_FOUND,
            ApiError::NotReady { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<fraudstream_model::ModelError> for ApiError {
    /// The server validates every value before it reaches the model, so a model error is the server's fault —
    /// except `BadInput`, which still names a client-supplied input.
    fn from(e: fraudstream_model::ModelError) -> ApiError {
        match e {
            fraudstream_model::ModelError::BadInput { name, message } => ApiError::field(&name, None, message),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut body = serde_json::Map::new();
        body.insert("error".into(), self.to_string().into());
        if let ApiError::BadRequest { field, row, .. } = &self {
            if let Some(f) = field {
                body.insert("field".into(), f.clone().into());
            }
            if let Some(r) = row {
                body.insert("row".into(), (*r).into());
            }
        }
        let mut resp = (status, axum::Json(serde_json::Value::Object(body))).into_response();
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

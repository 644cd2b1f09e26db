//! API-key authentication.
//!
//! Contract: with no keys configured everything is open. With keys, every request except the KServe health
//! probes (`/v2/health/live`, `/v2/health/ready`, which orchestrators call without credentials) must carry
//! `Authorization: Bearer <key>` matching one of them, else 401 with a JSON error and `WWW-Authenticate: Bearer`.
//! Keys are compared in constant time so response timing does not leak key prefixes.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::AppState;

/// Paths that never need a key.
fn is_open(path: &str) -> bool {
    matches!(path, "/v2/health/live" | "/v2/health/ready")
}

pub(crate) async fn require_key(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    if state.api_keys.is_empty() || is_open(req.uri().path()) {
        return next.run(req).await;
    }
    let presented = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim);
    let ok = presented
        .is_some_and(|k| state.api_keys.iter().fold(false, |acc, key| acc | ct_eq(key.as_bytes(), k.as_bytes())));
    if ok {
        next.run(req).await
    } else {
        ApiError::Unauthorized.into_response()
    }
}

/// Constant-time equality for equal lengths (length itself is not secret enough to matter here).
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_compare() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
    }
}

//! The request path every scoring protocol shares: resolve the model version, score inline or on a blocking
//! thread, record metrics, mirror default traffic to the shadow version.
//!
//! Why inline for small bodies: a single row scores in microseconds, far less than a hop to the blocking pool
//! costs; bodies above [`INLINE_LIMIT`] (hundreds of rows) go to `spawn_blocking` so one large batch cannot stall
//! the async workers that keep accepting single-row requests.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use fraudstream_model::BinaryScores;

use crate::error::ApiError;
use crate::metrics::{self, Endpoint};
use crate::registry::LoadedModel;
use crate::AppState;

/// Bodies up to this size are parsed and scored on the async worker.
pub(crate) const INLINE_LIMIT: usize = 32 * 1024;

/// Most shadow requests in flight; beyond it shadow work is dropped (and counted), never queued without bound.
const MAX_SHADOW_IN_FLIGHT: usize = 64;

/// Parses and scores a request body for one model version; `X` carries protocol details the reply needs. The
/// `usize` is the number of reason codes asked for outside the body (a query parameter; 0: none).
pub(crate) type ScoreFn<X> = fn(&LoadedModel, &[u8], usize) -> Result<(BinaryScores, X), ApiError>;

/// A scored request.
pub(crate) struct Outcome<X> {
    pub model: Arc<LoadedModel>,
    pub scores: BinaryScores,
    pub extra: X,
}

/// The body, or the error the extractor's rejection stands for (413 for the body limit).
pub(crate) fn body(state: &AppState, body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|r| {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge { limit: state.body_limit }
        } else {
            ApiError::bad(format!("cannot read the request body: {}", r.body_text()))
        }
    })
}

/// Parses a JSON body, naming the position of a syntax error.
pub(crate) fn parse_json(body: &[u8]) -> Result<serde_json::Value, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::MalformedJson(e.to_string()))
}

/// Resolves the model, scores `body` with `score`, records metrics and starts shadow scoring.
pub(crate) async fn run<X: Send + 'static>(
    state: &Arc<AppState>,
    endpoint: Endpoint,
    name: Option<&str>,
    version: Option<u64>,
    body: Bytes,
    score: ScoreFn<X>,
    reasons: usize,
) -> Result<Outcome<X>, ApiError> {
    let start = Instant::now();
    let registry = state.registry();
    let (model, is_default) = registry.resolve(name, version)?;
    let shadow =
        if is_default { registry.get(&model.name).ok().and_then(|mv| mv.shadow_for(model.version)) } else { None };
    drop(registry);

    // Explaining costs far more than scoring: any request asking for reasons leaves the async workers.
    let result = if body.len() <= INLINE_LIMIT && reasons == 0 {
        score(&model, &body, reasons)
    } else {
        let m = model.clone();
        let b = body.clone();
        tokio::task::spawn_blocking(move || score(&m, &b, reasons))
            .await
            .unwrap_or_else(|e| Err(ApiError::Internal(format!("scoring task failed: {e}"))))
    };
    let elapsed = start.elapsed().as_secs_f64();
    match result {
        Ok((scores, extra)) => {
            model.metrics.record(endpoint, true, scores.labels.len(), elapsed);
            if let Some(shadow) = shadow {
                spawn_shadow(state, &model, shadow, body, scores.labels.clone(), score);
            }
            Ok(Outcome { model, scores, extra })
        }
        Err(e) => {
            model.metrics.record(endpoint, false, 0, elapsed);
            Err(e)
        }
    }
}

/// Scores the same body with the shadow version on the blocking pool; only logs and metrics see the result.
fn spawn_shadow<X: Send + 'static>(
    state: &Arc<AppState>,
    primary: &LoadedModel,
    shadow: Arc<LoadedModel>,
    body: Bytes,
    primary_labels: Vec<i64>,
    score: ScoreFn<X>,
) {
    if state.shadow_in_flight.fetch_add(1, Ordering::Relaxed) >= MAX_SHADOW_IN_FLIGHT {
        state.shadow_in_flight.fetch_sub(1, Ordering::Relaxed);
        metrics::shadow_skipped(&primary.name);
        return;
    }
    let state = state.clone();
    let primary_version = primary.version;
    tokio::task::spawn_blocking(move || {
        match score(&shadow, &body, 0) {
            Ok((s, _)) => {
                let disagreements = s.labels.iter().zip(&primary_labels).filter(|(a, b)| a != b).count();
                metrics::shadow_result(&shadow.name, primary_version, shadow.version, s.labels.len(), disagreements);
                if disagreements > 0 {
                    tracing::info!(
                        model = %shadow.name, version = primary_version, shadow_version = shadow.version,
                        rows = s.labels.len(), disagreements, "shadow disagrees"
                    );
                }
            }
            Err(e) => {
                tracing::warn!(model = %shadow.name, shadow_version = shadow.version, "shadow scoring failed: {e}")
            }
        }
        state.shadow_in_flight.fetch_sub(1, Ordering::Relaxed);
    });
}

/// Serialises a reply body as JSON with the right content type.
pub(crate) fn json_bytes(bytes: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], bytes).into_response()
}

/// `GET /metrics`.
pub(crate) async fn metrics_text(State(state): State<Arc<AppState>>) -> Response {
    let text = state.prometheus.as_ref().map(|h| h.render()).unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

pub(crate) async fn no_route(uri: Uri) -> ApiError {
    ApiError::NoRoute(uri.path().to_string())
}

pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// The endpoint label of a path, for `http_errors_total`.
fn endpoint_label(path: &str) -> &'static str {
    if path.starts_with("/score") {
        "score"
    } else if path.starts_with("/v2/models/") && path.ends_with("/infer") {
        "v2_infer"
    } else if path.starts_with("/v2") {
        "v2"
    } else if path.starts_with("/v1/") {
        "v1"
    } else if path.starts_with("/admin") {
        "admin"
    } else {
        "other"
    }
}

/// Counts every error response (including 401, 404, 413 that never reach a model).
pub(crate) async fn count_errors(req: Request, next: Next) -> Response {
    let label = endpoint_label(req.uri().path());
    let resp = next.run(req).await;
    let status = resp.status();
    if status.is_client_error() || status.is_server_error() {
        metrics::http_error(label, status.as_u16());
    }
    resp
}

//! Prometheus metrics, rendered at `GET /metrics`.
//!
//! Contract (all names prefixed `fraudstream_serve_`):
//! - `requests_total{endpoint,model,version}` — scoring requests that reached a model version;
//! - `errors_total{endpoint,model,version}` — of those, how many were answered with an error;
//! - `http_errors_total{endpoint,status}` — every error response, including ones with no model (404, 401, 413);
//! - `rows_total{endpoint,model,version}` — rows scored;
//! - `request_duration_seconds{endpoint,model,version}` — histogram of handler latency (parse + score + encode);
//! - `shadow_requests_total` / `shadow_disagreements_total{model,version,shadow_version}` — challenger scoring;
//! - `shadow_skipped_total{model}` — shadow work dropped because too much was already in flight;
//! - `model_load_failing{model,version}` — gauge, 1 while a version's files on disk do not load (the version then
//!   serves its last good load, or is not ready), 0 once they load; `model_load_errors_total{model,version}` —
//!   failed loads, one per change of the files.
//!
//! The recorder is process-wide (a `metrics` recorder can be installed once), so several servers in one process
//! (tests) share it. Per model version the counter handles are registered once at load, so the hot path does no
//! label formatting.

use std::sync::OnceLock;

use metrics::{Counter, Histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Latency buckets in seconds: sub-millisecond resolution where single-row scoring lives.
const BUCKETS: &[f64] =
    &[0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process-wide recorder on first call; `None` when another recorder was installed by the host.
pub(crate) fn install() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = match PrometheusBuilder::new().set_buckets(BUCKETS) {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!("metrics buckets rejected: {e}");
                    PrometheusBuilder::new()
                }
            };
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            match metrics::set_global_recorder(recorder) {
                Ok(()) => Some(handle),
                Err(e) => {
                    tracing::warn!("a metrics recorder is already installed; /metrics will be empty: {e}");
                    None
                }
            }
        })
        .clone()
}

/// Which protocol a scoring request came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Score,
    V2Infer,
    V1Predict,
}

impl Endpoint {
    pub(crate) const ALL: [Endpoint; 3] = [Endpoint::Score, Endpoint::V2Infer, Endpoint::V1Predict];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Endpoint::Score => "score",
            Endpoint::V2Infer => "v2_infer",
            Endpoint::V1Predict => "v1_predict",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Pre-registered handles for one endpoint of one model version.
#[derive(Clone)]
struct EndpointMetrics {
    requests: Counter,
    errors: Counter,
    rows: Counter,
    latency: Histogram,
}

/// Metric handles of one model version.
#[derive(Clone)]
pub(crate) struct ModelMetrics {
    per_endpoint: Vec<EndpointMetrics>,
}

impl std::fmt::Debug for ModelMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ModelMetrics")
    }
}

impl ModelMetrics {
    pub(crate) fn new(model: &str, version: u64) -> ModelMetrics {
        let per_endpoint = Endpoint::ALL
            .iter()
            .map(|e| {
                let labels = [
                    ("endpoint", e.as_str().to_string()),
                    ("model", model.to_string()),
                    ("version", version.to_string()),
                ];
                EndpointMetrics {
                    requests: metrics::counter!("fraudstream_serve_requests_total", &labels),
                    errors: metrics::counter!("fraudstream_serve_errors_total", &labels),
                    rows: metrics::counter!("fraudstream_serve_rows_total", &labels),
                    latency: metrics::histogram!("fraudstream_serve_request_duration_seconds", &labels),
                }
            })
            .collect();
        ModelMetrics { per_endpoint }
    }

    /// Records one finished request: `rows` scored (0 on error), its outcome and latency.
    pub(crate) fn record(&self, endpoint: Endpoint, ok: bool, rows: usize, seconds: f64) {
        let Some(m) = self.per_endpoint.get(endpoint.index()) else { return };
        m.requests.increment(1);
        if ok {
            m.rows.increment(rows as u64);
        } else {
            m.errors.increment(1);
        }
        m.latency.record(seconds);
    }
}

/// Counts an error response by endpoint and status (cheap enough: errors are the exception).
pub(crate) fn http_error(endpoint: &'static str, status: u16) {
    metrics::counter!("fraudstream_serve_http_errors_total", "endpoint" => endpoint, "status" => status.to_string())
        .increment(1);
}

/// Counts one shadow comparison.
pub(crate) fn shadow_result(model: &str, version: u64, shadow_version: u64, rows: usize, disagreements: usize) {
    let labels = [
        ("model", model.to_string()),
        ("version", version.to_string()),
        ("shadow_version", shadow_version.to_string()),
    ];
    metrics::counter!("fraudstream_serve_shadow_requests_total", &labels).increment(1);
    metrics::counter!("fraudstream_serve_shadow_rows_total", &labels).increment(rows as u64);
    metrics::counter!("fraudstream_serve_shadow_disagreements_total", &labels).increment(disagreements as u64);
}

/// Counts shadow work dropped under load.
pub(crate) fn shadow_skipped(model: &str) {
    metrics::counter!("fraudstream_serve_shadow_skipped_total", "model" => model.to_string()).increment(1);
}

/// Records whether loading a model version's current files worked (see the module contract).
pub(crate) fn model_load(model: &str, version: u64, ok: bool) {
    let labels = [("model", model.to_string()), ("version", version.to_string())];
    metrics::gauge!("fraudstream_serve_model_load_failing", &labels).set(if ok { 0.0 } else { 1.0 });
    metrics::counter!("fraudstream_serve_model_load_errors_total", &labels).increment(u64::from(!ok));
}

/// Clears the failing gauge of a version whose files were removed, so no alert outlives the version.
pub(crate) fn model_removed(model: &str, version: u64) {
    let labels = [("model", model.to_string()), ("version", version.to_string())];
    metrics::gauge!("fraudstream_serve_model_load_failing", &labels).set(0.0);
}

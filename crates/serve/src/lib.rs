//! fraudstream-serve: the model scoring server behind `fraudstream serve`.
//!
//! A drop-in for the reference team's Azure ML managed endpoint that Confluent Flink's `ML_PREDICT` called, plus
//! the KServe protocols, in one process over the native ONNX engine:
//!
//! | endpoint | protocol |
//! |---|---|
//! | `POST /score`, `/score/{name}`, `/score/{name}${version}` | Azure ML (`AZUREML-PANDAS-DATAFRAME`, as `ML_PREDICT` sends it) → `[labels]` or `?output=probability` |
//! | `GET /v2/health/live`, `/v2/health/ready` | KServe v2 health (never needs an API key) |
//! | `GET /v2/models/{name}[/versions/{v}][/ready]`, `POST …/infer` | KServe v2 Open Inference Protocol |
//! | `POST /v1/models/{name}[/versions/{v}]:predict` | KServe v1 → `{"predictions": [p, …]}` |
//! | `GET /admin/models`, `PUT /admin/models/{name}/default` | versions, load errors, default switch |
//! | `GET /metrics`, `GET /openapi.json` | Prometheus text; the OpenAPI 3 description of all of the above |
//!
//! Modules: [`registry`] (models, versions, defaults, hot reload), [`inputs`] (JSON rows → model inputs, the same
//! rules as batch scoring), `names` (the 400s for unknown, repeated or absent input names), `azureml`, `kserve`, `v1` (protocols), `scoring` (shared request path: resolve,
//! score inline or on a blocking thread, metrics, shadow), `auth`, `admin`, `metrics`, `openapi`, [`error`].
//!
//! Entry points: [`serve`] on the caller's runtime, [`serve_blocking`] with its own 2-worker runtime and
//! Ctrl-C/SIGTERM handling (what the CLI calls), and [`start_background`] for embedding and tests (binds `config.addr`; port 0 picks a free one).

mod admin;
mod auth;
mod azureml;
pub mod error;
pub mod inputs;
mod kserve;
mod metrics;
mod names;
mod openapi;
mod reasons;
pub mod registry;
mod scoring;
mod v1;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::routing::{any, get, post, put};
use axum::Router;
use tokio::sync::watch;

pub use error::{ApiError, ServeError};
pub use registry::Registry;

/// Default request body limit: 8 MiB (about 3,000 rows of the 75-column seed model).
pub const DEFAULT_BODY_LIMIT: usize = 8 << 20;

/// Everything `fraudstream serve` can be told.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// `--model NAME=PATH`, repeatable; repeating a NAME adds versions 1, 2, … in order.
    pub models: Vec<(String, PathBuf)>,
    /// `--model-dir DIR` with `NAME/VERSION/model.onnx` (+ `model.json`) and optional `NAME/default`.
    pub model_dir: Option<PathBuf>,
    pub addr: SocketAddr,
    /// When non-empty, every endpoint except `/v2/health/*` needs `Authorization: Bearer <one of these>`.
    pub api_keys: Vec<String>,
    /// Largest accepted request body in bytes (larger → 413).
    pub body_limit: usize,
    /// How often the model sources are re-scanned for new/changed/removed versions; zero disables reloading.
    pub reload_interval: Duration,
    /// `--shadow NAME=VERSION`: score default-version traffic of NAME also with VERSION in the background and
    /// count disagreements (results never reach the client).
    pub shadows: Vec<(String, u64)>,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            models: Vec::new(),
            model_dir: None,
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            api_keys: Vec::new(),
            body_limit: DEFAULT_BODY_LIMIT,
            reload_interval: Duration::from_secs(5),
            shadows: Vec::new(),
        }
    }
}

impl ServeConfig {
    /// Parses `NAME=PATH` as `--model` takes it.
    pub fn parse_model_spec(spec: &str) -> Result<(String, PathBuf), ServeError> {
        let bad = |reason: &str| ServeError::BadModelSpec { spec: spec.to_string(), reason: reason.to_string() };
        let (name, path) = spec.split_once('=').ok_or_else(|| bad("expected NAME=PATH"))?;
        if !registry::valid_model_name(name) {
            return Err(bad("NAME may contain only letters, digits, `_`, `-` and `.`"));
        }
        if path.is_empty() {
            return Err(bad("PATH is empty"));
        }
        Ok((name.to_string(), PathBuf::from(path)))
    }

    /// Parses `NAME=VERSION` as `--shadow` takes it.
    pub fn parse_shadow_spec(spec: &str) -> Result<(String, u64), ServeError> {
        let bad = |reason: &str| ServeError::BadModelSpec { spec: spec.to_string(), reason: reason.to_string() };
        let (name, v) = spec.split_once('=').ok_or_else(|| bad("expected NAME=VERSION"))?;
        let v = v.parse::<u64>().map_err(|_| bad("VERSION must be an integer"))?;
        Ok((name.to_string(), v))
    }

    fn sources(&self) -> Result<registry::Sources, ServeError> {
        if self.models.is_empty() && self.model_dir.is_none() {
            return Err(ServeError::NoModels);
        }
        for (name, path) in &self.models {
            if !registry::valid_model_name(name) {
                return Err(ServeError::BadModelSpec {
                    spec: format!("{name}={}", path.display()),
                    reason: "invalid NAME".into(),
                });
            }
        }
        if let Some(dir) = &self.model_dir {
            std::fs::read_dir(dir)
                .map_err(|source| ServeError::ModelDir { path: dir.display().to_string(), source })?;
        }
        Ok(registry::Sources { fixed: self.models.clone(), dir: self.model_dir.clone(), shadows: self.shadows.clone() })
    }
}

/// Shared state of one server.
pub struct AppState {
    registry: RwLock<Arc<Registry>>,
    sources: registry::Sources,
    api_keys: Vec<String>,
    body_limit: usize,
    prometheus: Option<metrics_exporter_prometheus::PrometheusHandle>,
    shadow_in_flight: AtomicUsize,
}

impl AppState {
    /// The current registry snapshot (cheap: one read lock and an `Arc` clone).
    pub fn registry(&self) -> Arc<Registry> {
        self.registry.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn replace_registry(&self, f: impl FnOnce(&Registry) -> Result<Registry, ApiError>) -> Result<(), ApiError> {
        let mut guard = self.registry.write().unwrap_or_else(|e| e.into_inner());
        let next = f(&guard)?;
        *guard = Arc::new(next);
        Ok(())
    }

    /// Re-scans the sources and swaps in the result (blocking: file I/O and model compilation).
    fn reload_blocking(&self) {
        let current = self.registry();
        let mut next = registry::build(&self.sources, &current);
        let _ = self.replace_registry(|now| {
            next.keep_admin_defaults(now);
            Ok(std::mem::take(&mut next))
        });
    }
}

/// Loads the models and builds the shared state (blocking).
fn load_state(config: &ServeConfig) -> Result<Arc<AppState>, ServeError> {
    let sources = config.sources()?;
    let prometheus = metrics::install();
    let registry = registry::build(&sources, &Registry::default());
    if registry.models().next().is_none() {
        tracing::warn!("no model versions found yet; the server is not ready until one appears");
    }
    Ok(Arc::new(AppState {
        registry: RwLock::new(Arc::new(registry)),
        sources,
        api_keys: config.api_keys.iter().filter(|k| !k.is_empty()).cloned().collect(),
        body_limit: config.body_limit,
        prometheus,
        shadow_in_flight: AtomicUsize::new(0),
    }))
}

/// All routes over `state`.
pub fn router(state: Arc<AppState>) -> Router {
    let body_limit = state.body_limit;
    Router::new()
        .route("/score", post(azureml::score_default))
        .route("/score/{target}", post(azureml::score_named))
        .route("/v2", get(kserve::server_metadata))
        .route("/v2/health/live", get(kserve::live))
        .route("/v2/health/ready", get(kserve::ready))
        .route("/v2/models/{name}", get(kserve::metadata_default))
        .route("/v2/models/{name}/ready", get(kserve::ready_default))
        .route("/v2/models/{name}/infer", post(kserve::infer_default))
        .route("/v2/models/{name}/versions/{version}", get(kserve::metadata_version))
        .route("/v2/models/{name}/versions/{version}/ready", get(kserve::ready_version))
        .route("/v2/models/{name}/versions/{version}/infer", post(kserve::infer_version))
        .route("/v1/models/{*rest}", any(v1::dispatch))
        .route("/admin/models", get(admin::list))
        .route("/admin/models/{name}/default", put(admin::set_default))
        .route("/metrics", get(scoring::metrics_text))
        .route("/openapi.json", get(openapi::document))
        .fallback(scoring::no_route)
        .method_not_allowed_fallback(scoring::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::require_key))
        .layer(axum::middleware::from_fn(scoring::count_errors))
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}

/// Serves until `shutdown` completes, on the caller's tokio runtime.
pub async fn serve(config: ServeConfig, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), ServeError> {
    let cfg = config.clone();
    let state =
        tokio::task::spawn_blocking(move || load_state(&cfg)).await.map_err(|e| ServeError::Task(e.to_string()))??;
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .map_err(|source| ServeError::Bind { addr: config.addr, source })?;
    tracing::info!(addr = %listener.local_addr()?, "fraudstream-serve listening");
    serve_on(listener, state, config.reload_interval, shutdown).await
}

async fn serve_on(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    reload_interval: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let (stop_tx, stop_rx) = watch::channel(false);
    if !reload_interval.is_zero() {
        tokio::spawn(reload_loop(state.clone(), reload_interval, stop_rx.clone()));
    }
    if let Some(handle) = state.prometheus.clone() {
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            loop {
                tokio::select! {
                    _ = tick.tick() => handle.run_upkeep(),
                    _ = stop.changed() => break,
                }
            }
        });
    }
    let app = router(state);
    let result = axum::serve(listener, app).with_graceful_shutdown(shutdown).await;
    let _ = stop_tx.send(true);
    result.map_err(ServeError::Io)
}

async fn reload_loop(state: Arc<AppState>, every: Duration, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await; // the first tick fires at once; the initial load just happened
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let s = state.clone();
                if let Err(e) = tokio::task::spawn_blocking(move || s.reload_blocking()).await {
                    tracing::error!("model reload failed: {e}");
                }
            }
            _ = stop.changed() => break,
        }
    }
}

/// Runs the server on its own multi-threaded runtime with `workers` threads (2 is the sizing target) until
/// Ctrl-C or SIGTERM. This is what `fraudstream serve` calls.
pub fn serve_blocking(config: ServeConfig, workers: usize) -> Result<(), ServeError> {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(workers.max(1)).enable_all().build()?;
    rt.block_on(serve(config, shutdown_signal()))
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}

/// A server running on its own thread and runtime; dropped → shut down.
pub struct ServerHandle {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Result<(), ServeError>>>,
}

impl ServerHandle {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Stops the server and waits for it.
    pub fn shutdown(mut self) -> Result<(), ServeError> {
        self.stop_and_join()
    }

    fn stop_and_join(&mut self) -> Result<(), ServeError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.thread.take() {
            Some(t) => t.join().map_err(|_| ServeError::Task("server thread panicked".into()))?,
            None => Ok(()),
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        let _ = self.stop_and_join();
    }
}

/// Starts a server on a background thread with a 2-worker runtime, returning once it listens (models loaded) —
/// for embedding the server in another command (`fraudstream demo`) and in tests.
/// Bind `config.addr` to `127.0.0.1:0` to get a free port; see [`ServerHandle::addr`].
pub fn start_background(config: ServeConfig) -> Result<ServerHandle, ServeError> {
    let state = load_state(&config)?;
    let std_listener =
        std::net::TcpListener::bind(config.addr).map_err(|source| ServeError::Bind { addr: config.addr, source })?;
    std_listener.set_nonblocking(true)?;
    let addr = std_listener.local_addr()?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let reload_interval = config.reload_interval;
    let thread = std::thread::Builder::new().name("fraudstream-serve".into()).spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(std_listener)?;
            serve_on(listener, state, reload_interval, async {
                let _ = stop_rx.await;
            })
            .await
        })
    })?;
    Ok(ServerHandle { addr, stop: Some(stop_tx), thread: Some(thread) })
}

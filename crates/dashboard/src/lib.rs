//! fraudstream-dashboard: the live browser view of a running `fraudstream run` / `fraudstream demo` job.
//!
//! The job owns the numbers; this crate only shows them. The job creates a [`Dashboard`] and, from its own
//! (non-async) thread, calls [`Dashboard::update`] with a [`Snapshot`] about once per second,
//! [`Dashboard::alert`] for each [`Alert`], optionally [`Dashboard::update_monitoring`] with each model's online
//! quality and drift ([`Monitoring`]), and [`Dashboard::finish`] (or [`Dashboard::fail`]) at the end. Each
//! call takes one short mutex and never waits for a browser, so the dashboard cannot slow the job down.
//!
//! ```no_run
//! use fraudstream_dashboard::{Dashboard, DashboardInfo, Snapshot};
//!
//! let dashboard = Dashboard::new(DashboardInfo {
//!     title: "fraudstream demo".into(),
//!     model_name: "pipeline_75".into(),
//!     model_version: "1".into(),
//!     threshold: 0.5,
//! });
//! let server = fraudstream_dashboard::serve(dashboard.clone(), "127.0.0.1:0".parse().unwrap()).unwrap();
//! println!("dashboard: {}", server.url());
//! dashboard.update(Snapshot { elapsed_seconds: 1.0, scored: 20_000, ..Snapshot::default() });
//! dashboard.finish("20,000 transactions scored");
//! server.shutdown().unwrap();
//! ```
//!
//! Browsers get a self-contained page (HTML, CSS and JS compiled into the binary: no CDN, no fonts, nothing fetched
//! from elsewhere) that follows `GET /events` (Server-Sent Events) and reconnects when the stream drops. The same
//! data is available as JSON for scripts: see [`router`] for the endpoints. Serve them with [`serve`] (own thread
//! and runtime) or mount [`router`] in an existing axum server.

mod error;
mod http;
mod model;
mod monitoring;
mod server;
mod state;

pub use error::DashboardError;
pub use http::{router, MAX_ALERTS_PER_BATCH, MIN_BATCH_GAP};
pub use model::{Alert, DashboardInfo, Driver, Quality, RunState, Snapshot};
pub use monitoring::{DriftView, InputDrift, ModelMonitoring, ModelRole, Monitoring};
pub use server::{serve, RunningDashboard};
pub use state::{Dashboard, HistoryPoint, StoredAlert, DEFAULT_ALERT_CAPACITY, HISTORY_SECONDS};

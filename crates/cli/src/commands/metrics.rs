//! `--metrics-addr`: the job's metrics in Prometheus text format on `/metrics`, served from a background thread.

use std::net::SocketAddr;

use anyhow::Context;
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusBuilder;

/// Latency buckets in seconds, from sub-millisecond inference to multi-second join waits.
const BUCKETS: &[f64] = &[0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

/// Installs the process-wide recorder and serves it at `http://addr/metrics` until the process exits.
pub fn serve_prometheus(addr: SocketAddr) -> anyhow::Result<()> {
    let recorder = PrometheusBuilder::new().set_buckets(BUCKETS).context("metric buckets")?.build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).context("installing the metrics recorder")?;
    let listener = std::net::TcpListener::bind(addr).with_context(|| format!("binding --metrics-addr {addr}"))?;
    listener.set_nonblocking(true).context("configuring the metrics listener")?;
    std::thread::Builder::new().name("fraudstream-metrics".into()).spawn(move || {
        let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(rt) => rt,
            Err(e) => return tracing::error!("metrics endpoint not started: {e}"),
        };
        runtime.block_on(async move {
            let app = axum::Router::new().route("/metrics", get(move || std::future::ready(handle.render())));
            match tokio::net::TcpListener::from_std(listener) {
                Ok(l) => {
                    if let Err(e) = axum::serve(l, app).await {
                        tracing::error!("metrics endpoint stopped: {e}");
                    }
                }
                Err(e) => tracing::error!("metrics endpoint not started: {e}"),
            }
        });
    })?;
    eprintln!("metrics on http://{addr}/metrics");
    Ok(())
}

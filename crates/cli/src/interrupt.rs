//! Ctrl-C / SIGTERM handling for long-running commands: the first signal asks the job to stop cleanly (final flush,
//! offset commit, summary) — so `systemctl stop` or a Kubernetes pod shutdown is not a crash; a second one exits at
//! once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A flag set by the first Ctrl-C. Waiting for the signal runs on a small thread of its own, so the job loop only
/// reads an atomic.
pub fn stop_on_ctrl_c() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let spawned = std::thread::Builder::new().name("ctrl-c".into()).spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
        rt.block_on(async {
            if signalled().await {
                eprintln!("\nstopping: finishing in-flight work (Ctrl-C again to quit at once)");
                flag.store(true, Ordering::SeqCst);
            }
            if signalled().await {
                std::process::exit(130);
            }
        });
    });
    if let Err(e) = spawned {
        tracing::warn!("Ctrl-C will not stop the job cleanly: {e}");
    }
    stop
}

/// Waits for Ctrl-C (SIGINT) or SIGTERM; `false` if no handler could be installed.
async fn signalled() -> bool {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut term) = signal(SignalKind::terminate()) else { return tokio::signal::ctrl_c().await.is_ok() };
        tokio::select! {
            r = tokio::signal::ctrl_c() => r.is_ok(),
            r = term.recv() => r.is_some(),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await.is_ok()
    }
}

//! Ctrl-C handling for long-running commands: the first interrupt asks the job to stop cleanly (final flush,
//! offset commit, summary); a second one exits at once.

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
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("\nstopping: finishing in-flight work (Ctrl-C again to quit at once)");
                flag.store(true, Ordering::SeqCst);
            }
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        });
    });
    if let Err(e) = spawned {
        tracing::warn!("Ctrl-C will not stop the job cleanly: {e}");
    }
    stop
}

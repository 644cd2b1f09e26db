//! The dashboard on its own server: one background thread with a single-threaded tokio runtime, so a job that is
//! not async (and has its own threads busy) gets a dashboard without sharing an executor or adding worker threads.

use std::net::SocketAddr;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::watch;

use crate::error::DashboardError;
use crate::http::router_with_stop;
use crate::state::Dashboard;

/// After asking the server to stop, how long open connections get to finish before the runtime is dropped.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// A dashboard server running in the background. Dropping it shuts it down (and waits for the thread).
#[derive(Debug)]
pub struct RunningDashboard {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    thread: Option<JoinHandle<Result<(), DashboardError>>>,
}

/// Starts serving [`crate::router`] for `dashboard` on `addr` and returns once the socket is bound, so bind errors
/// come back here and the address is known (bind `127.0.0.1:0` for a free port, see [`RunningDashboard::addr`]).
pub fn serve(dashboard: Dashboard, addr: SocketAddr) -> Result<RunningDashboard, DashboardError> {
    let listener = std::net::TcpListener::bind(addr).map_err(|source| DashboardError::Bind { addr, source })?;
    listener.set_nonblocking(true)?;
    let local = listener.local_addr()?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let app = router_with_stop(dashboard, stop_rx.clone());
    let thread = std::thread::Builder::new().name("fraudstream-dashboard".into()).spawn(move || {
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener)?;
            let mut graceful = stop_rx.clone();
            let server = axum::serve(listener, app).with_graceful_shutdown(async move {
                let _ = graceful.wait_for(|stop| *stop).await;
            });
            let mut deadline = stop_rx;
            tokio::select! {
                result = server => result.map_err(DashboardError::Io),
                _ = async {
                    let _ = deadline.wait_for(|stop| *stop).await;
                    tokio::time::sleep(SHUTDOWN_GRACE).await;
                } => {
                    tracing::warn!("dashboard connections still open {SHUTDOWN_GRACE:?} after shutdown; dropping them");
                    Ok(())
                }
            }
        })
    })?;
    tracing::info!(addr = %local, "dashboard listening");
    Ok(RunningDashboard { addr: local, stop: stop_tx, thread: Some(thread) })
}

impl RunningDashboard {
    /// The bound address (the real port when 0 was asked for).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR/`, the page's URL, to print for the user.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Ends the event streams, stops accepting connections and waits for the server thread (at most a few
    /// seconds, however many browsers are connected).
    pub fn shutdown(mut self) -> Result<(), DashboardError> {
        self.stop_and_join()
    }

    fn stop_and_join(&mut self) -> Result<(), DashboardError> {
        self.stop.send_replace(true);
        match self.thread.take() {
            Some(thread) => thread.join().map_err(|_| DashboardError::Panicked)?,
            None => Ok(()),
        }
    }
}

impl Drop for RunningDashboard {
    fn drop(&mut self) {
        if let Err(e) = self.stop_and_join() {
            tracing::warn!("dashboard shutdown: {e}");
        }
    }
}

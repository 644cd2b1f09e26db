//! Errors of starting and stopping the dashboard's own server.

use std::net::SocketAddr;

/// Why [`crate::serve`] or [`crate::RunningDashboard::shutdown`] failed.
#[derive(Debug, thiserror::Error)]
pub enum DashboardError {
    /// The address is taken or not ours; the job can go on without a dashboard.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// The runtime, thread or socket failed after binding.
    #[error("dashboard server: {0}")]
    Io(#[from] std::io::Error),
    /// The server thread panicked; reported at shutdown.
    #[error("dashboard server thread panicked")]
    Panicked,
}

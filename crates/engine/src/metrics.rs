//! The job's metrics, emitted through the `metrics` facade: the library only counts, the binary decides where the
//! numbers go (`fraudstream run --metrics-addr` serves them in Prometheus text format). Handles are registered once
//! per job, so the hot path increments without name lookups.

use metrics::{counter, gauge, histogram, Counter, Gauge, Histogram};

use crate::join::JoinStats;

/// Every metric the job loop updates.
pub(crate) struct JobMetrics {
    pub records_in: [Counter; 2],
    pub scored: Counter,
    pub alerts: Counter,
    pub dead_letters: Counter,
    pub model_errors: Counter,
    matched: Counter,
    unmatched: Counter,
    late_transactions: Counter,
    pub state_size: Gauge,
    pub watermark_lag_seconds: Gauge,
    pub inference_seconds: Histogram,
    pub end_to_end_seconds: Histogram,
}

impl JobMetrics {
    pub fn new() -> JobMetrics {
        JobMetrics {
            records_in: [
                counter!("fraudstream_records_in_total", "input" => "transactions"),
                counter!("fraudstream_records_in_total", "input" => "identities"),
            ],
            scored: counter!("fraudstream_scored_total"),
            alerts: counter!("fraudstream_alerts_total"),
            dead_letters: counter!("fraudstream_dead_letters_total"),
            model_errors: counter!("fraudstream_model_errors_total"),
            matched: counter!("fraudstream_join_matched_total"),
            unmatched: counter!("fraudstream_join_unmatched_total"),
            late_transactions: counter!("fraudstream_join_late_transactions_total"),
            state_size: gauge!("fraudstream_join_state_entries"),
            watermark_lag_seconds: gauge!("fraudstream_watermark_lag_seconds"),
            inference_seconds: histogram!("fraudstream_inference_seconds"),
            end_to_end_seconds: histogram!("fraudstream_end_to_end_latency_seconds"),
        }
    }

    /// Publishes the join's running totals.
    pub fn join(&self, stats: &JoinStats) {
        self.matched.absolute(stats.matched);
        self.unmatched.absolute(stats.unmatched);
        self.late_transactions.absolute(stats.late_transactions);
    }
}

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
    pub client_entities: Gauge,
    pub watermark_lag_seconds: Gauge,
    pub inference_seconds: Histogram,
    pub end_to_end_seconds: Histogram,
    quality_auc: Gauge,
    quality_precision: Gauge,
    quality_recall: Gauge,
    quality_labels: Counter,
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
            client_entities: gauge!("fraudstream_client_state_entities"),
            watermark_lag_seconds: gauge!("fraudstream_watermark_lag_seconds"),
            inference_seconds: histogram!("fraudstream_inference_seconds"),
            end_to_end_seconds: histogram!("fraudstream_end_to_end_latency_seconds"),
            quality_auc: gauge!("fraudstream_quality_roc_auc"),
            quality_precision: gauge!("fraudstream_quality_precision"),
            quality_recall: gauge!("fraudstream_quality_recall"),
            quality_labels: counter!("fraudstream_quality_labels_total"),
        }
    }

    /// Publishes the rolling quality (NaN where a measure is undefined, e.g. no fraud in the window yet).
    pub fn quality(&self, q: &crate::quality::QualitySnapshot) {
        self.quality_auc.set(q.roc_auc.unwrap_or(f64::NAN));
        self.quality_precision.set(q.precision.unwrap_or(f64::NAN));
        self.quality_recall.set(q.recall.unwrap_or(f64::NAN));
        self.quality_labels.absolute(q.labels_received);
    }

    /// Publishes the join's running totals.
    pub fn join(&self, stats: &JoinStats) {
        self.matched.absolute(stats.matched);
        self.unmatched.absolute(stats.unmatched);
        self.late_transactions.absolute(stats.late_transactions);
    }
}

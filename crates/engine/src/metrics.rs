//! The job's metrics, emitted through the `metrics` facade: the library only counts, the binary decides where the
//! numbers go (`fraudstream run --metrics-addr` serves them in Prometheus text format). Handles are registered once
//! per job, so the hot path increments without name lookups.
//!
//! Two groups, one per half of the job: what the event-time and join half counts ([`JoinMetrics`]) and what the
//! scoring half counts ([`ScoringMetrics`]). The two stages of the repartitioned Kafka topology each own one.

use metrics::{counter, gauge, histogram, Counter, Gauge, Histogram};

use crate::join::JoinStats;

/// What the event-time and join half of a job updates.
pub(crate) struct JoinMetrics {
    /// Records read, by input (transactions, identities).
    pub records_in: [Counter; 2],
    matched: Counter,
    unmatched: Counter,
    late_transactions: Counter,
    pub state_size: Gauge,
    pub watermark_lag_seconds: Gauge,
}

impl JoinMetrics {
    pub fn new() -> JoinMetrics {
        JoinMetrics {
            records_in: [
                counter!("fraudstream_records_in_total", "input" => "transactions"),
                counter!("fraudstream_records_in_total", "input" => "identities"),
            ],
            matched: counter!("fraudstream_join_matched_total"),
            unmatched: counter!("fraudstream_join_unmatched_total"),
            late_transactions: counter!("fraudstream_join_late_transactions_total"),
            state_size: gauge!("fraudstream_join_state_entries"),
            watermark_lag_seconds: gauge!("fraudstream_watermark_lag_seconds"),
        }
    }

    /// Publishes the join's running totals.
    pub fn join(&self, stats: &JoinStats) {
        self.matched.absolute(stats.matched);
        self.unmatched.absolute(stats.unmatched);
        self.late_transactions.absolute(stats.late_transactions);
    }
}

/// What the scoring half of a job (features, model, write) updates.
pub(crate) struct ScoringMetrics {
    pub scored: Counter,
    pub alerts: Counter,
    pub dead_letters: Counter,
    pub model_errors: Counter,
    pub client_entities: Gauge,
    pub end_to_end_seconds: Histogram,
    quality_auc: Gauge,
    quality_precision: Gauge,
    quality_recall: Gauge,
    quality_labels: Counter,
}

impl ScoringMetrics {
    pub fn new() -> ScoringMetrics {
        ScoringMetrics {
            scored: counter!("fraudstream_scored_total"),
            alerts: counter!("fraudstream_alerts_total"),
            dead_letters: counter!("fraudstream_dead_letters_total"),
            model_errors: counter!("fraudstream_model_errors_total"),
            client_entities: gauge!("fraudstream_client_state_entities"),
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
}

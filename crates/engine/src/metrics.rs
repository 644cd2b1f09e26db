//! The job's metrics, emitted through the `metrics` facade: the library only counts, the binary decides where the
//! numbers go (`fraudstream run --metrics-addr` serves them in Prometheus text format). Handles are registered once
//! per job, so the hot path increments without name lookups.
//!
//! Two groups, one per half of the job: what the event-time and join half counts ([`JoinMetrics`]) and what the
//! scoring half counts ([`ScoringMetrics`]). The two stages of the repartitioned Kafka topology each own one.

use metrics::{counter, gauge, histogram, Counter, Gauge, Histogram};

use crate::join::JoinStats;
use crate::monitor::{LabelCounts, ModelHealth};

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
    /// Transactions whose TransactionID was already scored in this run (bounded input), so an upstream
    /// re-send shows on a dashboard instead of only in the end-of-run summary.
    pub duplicate_transactions: Counter,
    pub client_entities: Gauge,
    pub end_to_end_seconds: Histogram,
}

impl ScoringMetrics {
    pub fn new() -> ScoringMetrics {
        ScoringMetrics {
            scored: counter!("fraudstream_scored_total"),
            alerts: counter!("fraudstream_alerts_total"),
            dead_letters: counter!("fraudstream_dead_letters_total"),
            model_errors: counter!("fraudstream_model_errors_total"),
            duplicate_transactions: counter!("fraudstream_duplicate_transactions_total"),
            client_entities: gauge!("fraudstream_client_state_entities"),
            end_to_end_seconds: histogram!("fraudstream_end_to_end_latency_seconds"),
        }
    }

    /// Publishes every monitored model's rolling quality (NaN where a measure is undefined, e.g. no fraud in the
    /// window yet) and drift, labelled by `model` (its role: `champion`, `challenger`), and what became of labels.
    /// Called about twice a second; drift gauges are looked up by name then, not on the hot path.
    pub fn monitoring(&self, models: &[ModelHealth], labels: Option<&LabelCounts>) {
        for m in models {
            let role = m.role.as_str();
            if let Some(q) = &m.quality {
                gauge!("fraudstream_quality_roc_auc", "model" => role).set(q.roc_auc.unwrap_or(f64::NAN));
                gauge!("fraudstream_quality_pr_auc", "model" => role).set(q.pr_auc.unwrap_or(f64::NAN));
                gauge!("fraudstream_quality_precision", "model" => role).set(q.precision.unwrap_or(f64::NAN));
                gauge!("fraudstream_quality_recall", "model" => role).set(q.recall.unwrap_or(f64::NAN));
                counter!("fraudstream_quality_labels_total", "model" => role).absolute(q.labels_received);
            }
            if let Some(d) = &m.drift {
                for input in &d.inputs {
                    gauge!("fraudstream_drift_psi", "model" => role, "input" => input.name.clone()).set(input.psi);
                }
                if let Some(score) = &d.score {
                    gauge!("fraudstream_drift_score_psi", "model" => role).set(score.psi);
                }
                let alerting = d.alerting().count() as f64;
                gauge!("fraudstream_drift_alerting_inputs", "model" => role).set(alerting);
                counter!("fraudstream_drift_alerts_total", "model" => role).absolute(m.drift_alerts);
            }
        }
        if let Some(c) = labels {
            for (outcome, n) in [
                ("joined", c.joined),
                ("unmatched", c.unmatched),
                ("expired", c.expired),
                ("not_tracked", c.not_tracked),
            ] {
                counter!("fraudstream_labels_total", "outcome" => outcome).absolute(n);
            }
            gauge!("fraudstream_labels_awaiting_scores").set(c.awaiting as f64);
            gauge!("fraudstream_labels_early").set(c.early as f64);
        }
    }
}

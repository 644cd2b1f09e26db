//! Quality measures for a fraud model on held-out rows: ROC AUC (ranking), PR AUC (ranking where positives are
//! rare), and the recall reachable at a fixed false-positive rate (what an alert budget buys).
//!
//! Tied scores are one threshold: they are counted together (ROC AUC counts a tied pair as half), never split by an
//! arbitrary order, so the figures do not depend on row order.

use serde::{Deserialize, Serialize};

/// The held-out figures written to `model.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Area under the ROC curve.
    pub valid_auc: f64,
    /// Area under the precision-recall curve (average precision, as scikit-learn computes it).
    pub valid_pr_auc: f64,
    /// Share of fraud caught when at most 1 % of legitimate rows are flagged.
    pub recall_at_1pct_fpr: f64,
    /// Share of fraud caught when at most 5 % of legitimate rows are flagged.
    pub recall_at_5pct_fpr: f64,
    /// Mean binary log-loss.
    pub valid_log_loss: f64,
    /// Held-out rows.
    pub valid_rows: usize,
    /// Fraud rows among them.
    pub valid_positives: usize,
}

impl Metrics {
    /// All figures for probabilities `p` and labels; `None` without both classes.
    pub fn compute(p: &[f64], labels: &[bool]) -> Option<Metrics> {
        let curve = Curve::new(p, labels)?;
        let eps = 1e-15;
        let log_loss = p
            .iter()
            .zip(labels)
            .map(|(&p, &y)| {
                let p = p.clamp(eps, 1.0 - eps);
                -(if y { p.ln() } else { (1.0 - p).ln() })
            })
            .sum::<f64>()
            / p.len() as f64;
        Some(Metrics {
            valid_auc: curve.roc_auc(),
            valid_pr_auc: curve.average_precision(),
            recall_at_1pct_fpr: curve.recall_at_fpr(0.01),
            recall_at_5pct_fpr: curve.recall_at_fpr(0.05),
            valid_log_loss: log_loss,
            valid_rows: p.len(),
            valid_positives: curve.positives() as usize,
        })
    }
}

use fraudstream_model::quality::Curve;
/// Area under the ROC curve (re-exported: one implementation, below the trainer and the engine).
pub use fraudstream_model::quality::{average_precision, recall_at_fpr, roc_auc};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_count_rows_and_positives() {
        let s = [0.9, 0.8, 0.3, 0.2, 0.1];
        let y = [true, false, true, false, false];
        let m = Metrics::compute(&s, &y).expect("metrics");
        assert_eq!((m.valid_rows, m.valid_positives), (5, 2));
        assert_eq!(Some(m.valid_auc), roc_auc(&s, &y));
    }
}

//! Model quality measures computed from scores and labels: offline ([`roc_auc`], [`average_precision`]) and online
//! ([`QualityWindow`]), over labels that come back as delayed feedback the way chargebacks do.

use std::collections::VecDeque;

/// Area under the ROC curve (ties count half); `None` without both classes. One implementation for the trainer's
/// held-out metrics, batch scoring and the stream's summaries and online quality.
pub use fraudstream_model::quality::{average_precision, roc_auc};

/// Rolling quality over the most recently labelled transactions.
///
/// Labels reach it in the order they become known (see [`crate::monitor::labels`]); it keeps the last `window` of
/// them as (score, label) and computes ROC AUC, PR AUC (average precision), and precision and recall at the alert
/// threshold over them. One per model, so a champion and a challenger are judged on the same labels.
#[derive(Debug, Clone)]
pub struct QualityWindow {
    window: usize,
    threshold: f64,
    /// Labelled, most recent last: (score, label).
    labelled: VecDeque<(f64, bool)>,
    labels_received: u64,
}

/// The rolling measures at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct QualitySnapshot {
    /// Labels joined to a score of this model in the whole run.
    pub labels_received: u64,
    /// Labelled transactions the measures below cover (at most the window).
    pub window: u64,
    pub positives: u64,
    pub negatives: u64,
    pub roc_auc: Option<f64>,
    /// Area under the precision-recall curve (average precision); `None` without a fraud in the window.
    pub pr_auc: Option<f64>,
    /// Share of alerts in the window that were fraud.
    pub precision: Option<f64>,
    /// Share of frauds in the window that raised an alert.
    pub recall: Option<f64>,
}

impl QualityWindow {
    /// Measures over the last `window` labels (at least 1), alerts at `threshold`.
    pub fn new(window: usize, threshold: f64) -> QualityWindow {
        QualityWindow { window: window.max(1), threshold, labelled: VecDeque::new(), labels_received: 0 }
    }

    /// A label arrived for a transaction this model scored `score`.
    pub fn push(&mut self, score: f64, label: bool) {
        if self.labelled.len() == self.window {
            self.labelled.pop_front();
        }
        self.labelled.push_back((score, label));
        self.labels_received += 1;
    }

    /// The window's (score, label) pairs, oldest first, and the labels received in all: what a snapshot keeps.
    pub fn state(&self) -> (Vec<(f64, bool)>, u64) {
        (self.labelled.iter().copied().collect(), self.labels_received)
    }

    /// Replaces the window with a [`QualityWindow::state`] (its newest `window` pairs, if it held more).
    pub fn restore(&mut self, labelled: &[(f64, bool)], labels_received: u64) {
        let keep = labelled.len().saturating_sub(self.window);
        self.labelled = labelled[keep..].iter().copied().collect();
        self.labels_received = labels_received;
    }

    /// The measures over the current window (O(window · log window): call it about once a second).
    pub fn snapshot(&self) -> QualitySnapshot {
        let (scores, labels): (Vec<f64>, Vec<bool>) = self.labelled.iter().copied().unzip();
        let positives = labels.iter().filter(|&&l| l).count() as u64;
        let (mut tp, mut alerts) = (0u64, 0u64);
        for &(score, label) in &self.labelled {
            if score >= self.threshold {
                alerts += 1;
                tp += u64::from(label);
            }
        }
        QualitySnapshot {
            labels_received: self.labels_received,
            window: self.labelled.len() as u64,
            positives,
            negatives: self.labelled.len() as u64 - positives,
            roc_auc: roc_auc(&scores, &labels),
            pr_auc: if positives > 0 { average_precision(&scores, &labels) } else { None },
            precision: (alerts > 0).then(|| tp as f64 / alerts as f64),
            recall: (positives > 0).then(|| tp as f64 / positives as f64),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::QualityWindow;

    #[test]
    fn the_window_keeps_the_most_recent_labels_and_measures_at_the_threshold() {
        let mut q = QualityWindow::new(3, 0.5);
        q.push(0.9, true);
        let s = q.snapshot();
        assert_eq!((s.labels_received, s.window, s.positives, s.negatives), (1, 1, 1, 0));
        assert_eq!((s.roc_auc, s.precision, s.recall), (None, Some(1.0), Some(1.0)));
        q.push(0.2, false);
        q.push(0.7, false);
        q.push(0.4, true);
        let s = q.snapshot();
        // Window of 3: the first (0.9, fraud) fell out; left (0.2, ok), (0.7, ok), (0.4, fraud).
        assert_eq!((s.labels_received, s.window, s.positives), (4, 3, 1));
        assert_eq!(s.roc_auc, Some(0.5));
        // Ranked 0.7 (ok), 0.4 (fraud): the fraud is found at precision 1/2.
        assert_eq!(s.pr_auc, Some(0.5));
        assert_eq!((s.precision, s.recall), (Some(0.0), Some(0.0)));
    }
}

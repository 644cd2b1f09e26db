//! Model quality measures computed from scores and labels: offline ([`roc_auc`]) and online ([`OnlineQuality`]),
//! where labels come back as delayed feedback the way chargebacks do.

use std::collections::VecDeque;

use fraudstream_data::EventTime;

/// Area under the ROC curve (ties count half); `None` without both classes. One implementation for the trainer's
/// held-out metrics, batch scoring and the stream's summaries and online quality.
pub use fraudstream_model::quality::{average_precision, roc_auc};

/// Rolling quality from delayed labels.
///
/// In production the truth about a payment (a chargeback, an analyst's decision) arrives days after it was scored.
/// The job holds each scored transaction's label back until the stream's event time has moved `label_delay` past
/// the transaction, then counts it in a window of the `window` most recently labelled transactions, over which
/// ROC AUC, precision and recall at the alert threshold are computed. Memory is bounded by the window plus the
/// transactions scored within one label delay, capped at [`MAX_PENDING`] (beyond that — e.g. 7 days at thousands
/// of transactions a second — new transactions are not tracked until earlier labels have arrived, so the window
/// then covers a sample).
/// Transactions waiting for their label at most (24 bytes each: 96 MiB).
pub const MAX_PENDING: usize = 4 << 20;

#[derive(Debug)]
pub struct OnlineQuality {
    label_delay_ms: i64,
    window: usize,
    threshold: f64,
    /// Scored, label not yet "arrived": (event time, score, label), in scoring order.
    pending: VecDeque<(i64, f64, bool)>,
    /// Labelled, most recent last: (score, label).
    labelled: VecDeque<(f64, bool)>,
    labels_received: u64,
}

/// The rolling measures at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct QualitySnapshot {
    pub labels_received: u64,
    pub window: u64,
    pub positives: u64,
    pub negatives: u64,
    pub roc_auc: Option<f64>,
    pub precision: Option<f64>,
    pub recall: Option<f64>,
}

impl OnlineQuality {
    pub fn new(label_delay: std::time::Duration, window: usize, threshold: f64) -> OnlineQuality {
        OnlineQuality {
            label_delay_ms: i64::try_from(label_delay.as_millis()).unwrap_or(i64::MAX),
            window: window.max(1),
            threshold,
            pending: VecDeque::new(),
            labelled: VecDeque::with_capacity(window.max(1)),
            labels_received: 0,
        }
    }

    /// Records a scored, labelled transaction; its label becomes known `label_delay` later in event time.
    pub fn scored(&mut self, event_time: EventTime, score: f64, label: bool) {
        if self.pending.len() < MAX_PENDING {
            self.pending.push_back((event_time.millis(), score, label));
        }
    }

    /// Moves the labels whose delay has passed at event time `now` into the window.
    pub fn advance(&mut self, now: EventTime) {
        let due = now.millis().saturating_sub(self.label_delay_ms);
        // Scoring order is close to event-time order; a label is released once it and everything before it are due.
        while let Some(&(t, score, label)) = self.pending.front() {
            if t > due {
                break;
            }
            self.pending.pop_front();
            if self.labelled.len() == self.window {
                self.labelled.pop_front();
            }
            self.labelled.push_back((score, label));
            self.labels_received += 1;
        }
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
            precision: (alerts > 0).then(|| tp as f64 / alerts as f64),
            recall: (positives > 0).then(|| tp as f64 / positives as f64),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn online_quality_counts_labels_only_after_their_delay_in_a_bounded_window() {
        use super::{EventTime, OnlineQuality};
        let day = 86_400_000;
        let mut q = OnlineQuality::new(std::time::Duration::from_secs(86_400), 3, 0.5);
        q.scored(EventTime(0), 0.9, true);
        q.scored(EventTime(day / 2), 0.2, false);
        q.advance(EventTime(day - 1));
        assert_eq!(q.snapshot().labels_received, 0, "no label before a day has passed");
        q.advance(EventTime(day));
        let s = q.snapshot();
        assert_eq!((s.labels_received, s.window, s.positives, s.negatives), (1, 1, 1, 0));
        assert_eq!((s.roc_auc, s.precision, s.recall), (None, Some(1.0), Some(1.0)));
        q.scored(EventTime(day), 0.7, false);
        q.scored(EventTime(day + 1), 0.4, true);
        q.advance(EventTime(3 * day));
        let s = q.snapshot();
        // Window of 3: the first (0.9, fraud) fell out; left (0.2, ok), (0.7, ok), (0.4, fraud).
        assert_eq!((s.labels_received, s.window, s.positives), (4, 3, 1));
        assert_eq!(s.roc_auc, Some(0.5));
        assert_eq!((s.precision, s.recall), (Some(0.0), Some(0.0)));
    }
}

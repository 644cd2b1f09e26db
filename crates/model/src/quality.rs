//! Quality measures of a fraud model's scores against labels: ROC AUC (ranking), PR AUC (ranking where positives
//! are rare), and the recall reachable at a fixed false-positive rate (what an alert budget buys).
//!
//! One implementation for the trainer's held-out figures, batch scoring, and the stream's summaries and online
//! quality. Tied scores are one threshold: they are counted together (ROC AUC counts a tied pair as half), never
//! split by an arbitrary order, so the figures do not depend on row order.

use rayon::prelude::*;

/// Area under the ROC curve (ties count half); `None` without both classes.
pub fn roc_auc(scores: &[f64], labels: &[bool]) -> Option<f64> {
    Curve::new(scores, labels).map(|c| c.roc_auc())
}

/// Average precision (area under the precision-recall curve); `None` without both classes.
pub fn average_precision(scores: &[f64], labels: &[bool]) -> Option<f64> {
    Curve::new(scores, labels).map(|c| c.average_precision())
}

/// The highest recall (true-positive rate) at a threshold whose false-positive rate is at most `max_fpr`; `None`
/// without both classes.
pub fn recall_at_fpr(scores: &[f64], labels: &[bool], max_fpr: f64) -> Option<f64> {
    Curve::new(scores, labels).map(|c| c.recall_at_fpr(max_fpr))
}

/// The ROC/PR curve as cumulative (positives, negatives) per distinct score, highest score first.
pub struct Curve {
    /// `(positives, negatives)` at each distinct score, descending.
    groups: Vec<(u64, u64)>,
    positives: u64,
    negatives: u64,
}

impl Curve {
    /// The curve of `scores` against `labels`; `None` without both classes.
    pub fn new(scores: &[f64], labels: &[bool]) -> Option<Curve> {
        assert_eq!(scores.len(), labels.len(), "one label per score");
        let mut pairs: Vec<(f64, bool)> = scores.iter().copied().zip(labels.iter().copied()).collect();
        pairs.par_sort_unstable_by(|a, b| b.0.total_cmp(&a.0));
        let mut groups: Vec<(u64, u64)> = Vec::new();
        let mut last = None;
        for (s, y) in pairs {
            if last != Some(s.to_bits()) {
                groups.push((0, 0));
                last = Some(s.to_bits());
            }
            if let Some(g) = groups.last_mut() {
                if y {
                    g.0 += 1;
                } else {
                    g.1 += 1;
                }
            }
        }
        let positives: u64 = groups.iter().map(|g| g.0).sum();
        let negatives: u64 = groups.iter().map(|g| g.1).sum();
        (positives > 0 && negatives > 0).then_some(Curve { groups, positives, negatives })
    }

    /// Positive labels counted.
    pub fn positives(&self) -> u64 {
        self.positives
    }

    /// Area under the ROC curve.
    pub fn roc_auc(&self) -> f64 {
        // Each negative beats the positives below it; a tie counts half.
        let mut negatives_above = 0u64;
        let mut wins = 0.0f64;
        for &(p, n) in &self.groups {
            wins += p as f64 * (negatives_above as f64 + 0.5 * n as f64);
            negatives_above += n;
        }
        1.0 - wins / (self.positives as f64 * self.negatives as f64)
    }

    /// Average precision, as scikit-learn computes it.
    pub fn average_precision(&self) -> f64 {
        let (mut tp, mut fp, mut ap) = (0u64, 0u64, 0.0f64);
        for &(p, n) in &self.groups {
            tp += p;
            fp += n;
            if p > 0 {
                ap += (p as f64 / self.positives as f64) * (tp as f64 / (tp + fp) as f64);
            }
        }
        ap
    }

    /// The highest recall at a threshold whose false-positive rate is at most `max_fpr`.
    pub fn recall_at_fpr(&self, max_fpr: f64) -> f64 {
        let (mut tp, mut fp, mut best) = (0u64, 0u64, 0.0f64);
        for &(p, n) in &self.groups {
            tp += p;
            fp += n;
            if fp as f64 / self.negatives as f64 <= max_fpr {
                best = best.max(tp as f64 / self.positives as f64);
            } else {
                break;
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roc_auc_perfect_inverted_tied_and_hand_computed() {
        let labels = [false, false, true, true];
        assert_eq!(roc_auc(&[0.1, 0.2, 0.8, 0.9], &labels), Some(1.0));
        assert_eq!(roc_auc(&[0.9, 0.8, 0.2, 0.1], &labels), Some(0.0));
        assert_eq!(roc_auc(&[0.5; 4], &labels), Some(0.5));
        // Pairs (pos, neg): (0.8,0.3) win, (0.8,0.8) tie, (0.4,0.3) win, (0.4,0.8) loss -> 2.5 / 4.
        assert_eq!(roc_auc(&[0.3, 0.8, 0.8, 0.4], &labels), Some(0.625));
        assert_eq!(roc_auc(&[0.1, 0.2], &[true, true]), None);
    }

    #[test]
    fn average_precision_matches_scikit_learn() {
        // sklearn.metrics.average_precision_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.8333...
        let ap = average_precision(&[0.1, 0.4, 0.35, 0.8], &[false, false, true, true]).expect("ap");
        assert!((ap - 5.0 / 6.0).abs() < 1e-12, "{ap}");
    }

    #[test]
    fn recall_at_fpr_stops_at_the_budget() {
        // 10 negatives, 4 positives; scores put 3 positives above all negatives, 1 below 2 negatives.
        let mut s = vec![0.9, 0.8, 0.7, 0.2];
        let mut y = vec![true, true, true, true];
        for i in 0..10 {
            s.push(0.6 - 0.05 * i as f64);
            y.push(false);
        }
        assert_eq!(recall_at_fpr(&s, &y, 0.0), Some(0.75));
        assert_eq!(recall_at_fpr(&s, &y, 0.05), Some(0.75));
        assert_eq!(recall_at_fpr(&s, &y, 0.5), Some(0.75));
        assert_eq!(recall_at_fpr(&s, &y, 0.9), Some(1.0));
        assert_eq!(Curve::new(&s, &y).map(|c| c.positives()), Some(4));
    }
}

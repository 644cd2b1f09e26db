//! Joining labels to the scores the job wrote.
//!
//! The truth about a payment arrives long after it was scored: a chargeback weeks later, an analyst's decision, or
//! — for most payments — the end of the dispute window. [`LabelJoin`] keeps each written score (one per monitored
//! model) until its label comes or its horizon passes, and hands every joined (scores, label) pair to the quality
//! windows.
//!
//! # When a label joins
//! A label joins a transaction's scores when it becomes known no later than `horizon` after the transaction (event
//! time): `label_time − transaction time ≤ horizon`. Labels become known in event time: a label is applied once the
//! stream's event time has reached its `label_time` (so replaying a file does not use the future), or at the end
//! of a bounded run, when the feed is finished. The rule does not depend on batch timing, so an offline computation
//! over the same scores and labels gives the same figures.
//!
//! What does not join is counted, never dropped silently: a score whose horizon passed without a label
//! (`expired`), a label for a transaction without a score within its horizon or a second label for one already
//! joined (`unmatched`), and scores not kept because the state was full (`not_tracked`, see [`MAX_AWAITING`]).
//!
//! # Memory
//! About 70 bytes per score awaiting its label (hash entry plus an eviction queue entry), bounded by the horizon
//! and by [`MAX_AWAITING`]; labels waiting for their time cost about 40 bytes each.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};

use fraudstream_data::labels::Label;
use fraudstream_data::EventTime;
use serde::{Deserialize, Serialize};

/// Scores awaiting their label at most (about 280 MiB); beyond it, new scores are counted as not tracked until
/// labels or the horizon free room.
pub const MAX_AWAITING: usize = 4 << 20;

/// Models a transaction can be scored by at once (a champion and a challenger).
pub const MAX_MODELS: usize = 2;

/// One transaction's scores, waiting for the label.
#[derive(Debug, Clone, Copy)]
struct Awaiting {
    /// Transaction event time, ms.
    time: i64,
    /// Score per monitored model (NaN: that model did not score it).
    scores: [f64; MAX_MODELS],
}

/// What became of scores and labels, for the summary and the metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelCounts {
    /// Labels that became known.
    pub received: u64,
    /// Labels joined to a score.
    pub joined: u64,
    /// Labels without a score within their horizon (never scored, scored too long before, or labelled twice).
    pub unmatched: u64,
    /// Scores whose horizon passed without a label.
    pub expired: u64,
    /// Scores not kept because [`MAX_AWAITING`] were already waiting.
    pub not_tracked: u64,
    /// Scores waiting for their label now.
    pub awaiting: u64,
    /// Labels known but whose transaction is not scored yet, waiting for it.
    pub early: u64,
}

/// Scores awaiting labels, and labels awaiting their time (see the module docs).
#[derive(Debug)]
pub struct LabelJoin {
    horizon_ms: i64,
    awaiting: HashMap<i64, Awaiting>,
    /// (transaction time, TransactionID) in the order scored, for expiry at the horizon.
    order: VecDeque<(i64, i64)>,
    /// Labels not yet known at the stream's event time: (label time, TransactionID, is fraud), earliest first.
    pending: BinaryHeap<Reverse<(i64, i64, bool)>>,
    /// Labels known before their transaction was scored: TransactionID → (label time, is fraud).
    early: HashMap<i64, (i64, bool)>,
    /// `early` in label-time order, for expiry.
    early_order: VecDeque<(i64, i64)>,
    counts: LabelCounts,
}

impl LabelJoin {
    /// A join that keeps scores for `horizon` of event time.
    pub fn new(horizon: std::time::Duration) -> LabelJoin {
        LabelJoin {
            horizon_ms: i64::try_from(horizon.as_millis()).unwrap_or(i64::MAX),
            awaiting: HashMap::new(),
            order: VecDeque::new(),
            pending: BinaryHeap::new(),
            early: HashMap::new(),
            early_order: VecDeque::new(),
            counts: LabelCounts::default(),
        }
    }

    /// A label from the feed; it becomes known when the stream's event time reaches its `label_time`.
    pub fn label(&mut self, label: &Label) {
        self.pending.push(Reverse((label.label_time.millis(), label.transaction_id, label.is_fraud)));
    }

    /// Labels from the feed not yet known.
    pub fn pending_labels(&self) -> usize {
        self.pending.len()
    }

    /// A transaction was written with `scores` (one per model, NaN where a model gave none). A label that came
    /// first joins at once, through `joined`.
    pub fn scored(
        &mut self,
        id: i64,
        time: EventTime,
        scores: [f64; MAX_MODELS],
        joined: &mut impl FnMut(&[f64], bool),
    ) {
        let time = time.millis();
        if let Some((label_time, fraud)) = self.early.remove(&id) {
            if label_time.saturating_sub(time) <= self.horizon_ms {
                self.counts.joined += 1;
                joined(&scores, fraud);
            } else {
                self.counts.unmatched += 1;
            }
            return;
        }
        if self.awaiting.len() >= MAX_AWAITING {
            self.counts.not_tracked += 1;
            return;
        }
        if self.awaiting.insert(id, Awaiting { time, scores }).is_none() {
            self.order.push_back((time, id));
        }
    }

    /// Applies the labels known at event time `now` (all of them with `None`: the feed is finished), then expires
    /// scores and early labels whose horizon has passed. Each joined pair goes to `joined`.
    pub fn advance(&mut self, now: Option<EventTime>, joined: &mut impl FnMut(&[f64], bool)) {
        let now_ms = now.map_or(i64::MAX, EventTime::millis);
        while let Some(&Reverse((label_time, id, fraud))) = self.pending.peek() {
            if label_time > now_ms {
                break;
            }
            self.pending.pop();
            self.counts.received += 1;
            match self.awaiting.remove(&id) {
                Some(a) if label_time.saturating_sub(a.time) <= self.horizon_ms => {
                    self.counts.joined += 1;
                    joined(&a.scores, fraud);
                }
                Some(_) => {
                    // Came after the horizon: the score had expired (a streaming run evicts it first).
                    self.counts.unmatched += 1;
                    self.counts.expired += 1;
                }
                None if now.is_some() && !self.early.contains_key(&id) => {
                    // Not scored yet (it may still be in the join): wait for it within the horizon.
                    self.early.insert(id, (label_time, fraud));
                    self.early_order.push_back((label_time, id));
                }
                None => self.counts.unmatched += 1,
            }
        }
        let expire_before = now.map_or(i64::MAX, |n| n.millis().saturating_sub(self.horizon_ms));
        while let Some(&(time, id)) = self.order.front() {
            if time >= expire_before {
                break;
            }
            self.order.pop_front();
            if matches!(self.awaiting.get(&id), Some(a) if a.time == time) {
                self.awaiting.remove(&id);
                self.counts.expired += 1;
            }
        }
        while let Some(&(label_time, id)) = self.early_order.front() {
            if label_time >= expire_before {
                break;
            }
            self.early_order.pop_front();
            if matches!(self.early.get(&id), Some(&(t, _)) if t == label_time) {
                self.early.remove(&id);
                self.counts.unmatched += 1;
            }
        }
    }

    /// Counts so far, with the current state sizes.
    pub fn counts(&self) -> LabelCounts {
        LabelCounts { awaiting: self.awaiting.len() as u64, early: self.early.len() as u64, ..self.counts }
    }
}

/// A [`LabelJoin`]'s state as plain data (see [`LabelJoin::state`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelJoinState {
    /// Scores awaiting their label, in the order scored: (TransactionID, transaction time, score per model as its
    /// bits: exact through JSON, NaN included).
    awaiting: Vec<(i64, i64, [u64; MAX_MODELS])>,
    /// Labels not yet known: (label time, TransactionID, is fraud).
    pending: Vec<(i64, i64, bool)>,
    /// Labels known before their score, in label-time order: (label time, TransactionID, is fraud).
    early: Vec<(i64, i64, bool)>,
    counts: LabelCounts,
}

impl LabelJoin {
    /// Everything the join holds and has counted, for a snapshot (the Kafka scoring stage's recovery).
    pub fn state(&self) -> LabelJoinState {
        LabelJoinState {
            awaiting: self
                .order
                .iter()
                .filter_map(|&(time, id)| {
                    self.awaiting.get(&id).filter(|a| a.time == time).map(|a| (id, time, a.scores))
                })
                .map(|(id, time, scores)| (id, time, scores.map(f64::to_bits)))
                .collect(),
            pending: self.pending.iter().map(|Reverse(p)| *p).collect(),
            early: self
                .early_order
                .iter()
                .filter_map(|&(time, id)| match self.early.get(&id) {
                    Some(&(t, fraud)) if t == time => Some((time, id, fraud)),
                    _ => None,
                })
                .collect(),
            counts: self.counts,
        }
    }

    /// Replaces what the join holds and has counted with a [`LabelJoin::state`] (the horizon stays this join's).
    pub fn restore(&mut self, state: LabelJoinState) {
        self.awaiting.clear();
        self.order.clear();
        for (id, time, scores) in state.awaiting {
            if self.awaiting.insert(id, Awaiting { time, scores: scores.map(f64::from_bits) }).is_none() {
                self.order.push_back((time, id));
            }
        }
        self.pending = state.pending.into_iter().map(Reverse).collect();
        self.early.clear();
        self.early_order.clear();
        for (time, id, fraud) in state.early {
            self.early.insert(id, (time, fraud));
            self.early_order.push_back((time, id));
        }
        self.counts = LabelCounts { awaiting: 0, early: 0, ..state.counts };
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use fraudstream_data::labels::{Label, LabelSource};
    use fraudstream_data::EventTime;

    use super::{LabelCounts, LabelJoin};

    const DAY: i64 = 86_400_000;

    fn label(id: i64, fraud: bool, at: i64) -> Label {
        Label { transaction_id: id, is_fraud: fraud, label_time: EventTime(at), source: LabelSource::Chargeback }
    }

    #[test]
    fn labels_join_when_known_within_the_horizon_and_everything_else_is_counted() {
        let mut join = LabelJoin::new(Duration::from_millis(10 * DAY as u64));
        let got = std::cell::RefCell::new(Vec::new());
        let mut sink = |s: &[f64], l: bool| got.borrow_mut().push((s[0], l));
        for (id, at) in [(1, 0), (2, 0), (3, 0), (4, DAY)] {
            join.scored(id, EventTime(at), [id as f64 / 10.0, f64::NAN], &mut sink);
        }
        join.label(&label(1, true, 5 * DAY)); // joins at day 5
        join.label(&label(2, false, 11 * DAY)); // after its horizon (day 10): unmatched
        join.label(&label(9, true, 2 * DAY)); // never scored: waits, then unmatched
        join.advance(Some(EventTime(4 * DAY)), &mut sink);
        assert!(got.borrow().is_empty(), "no label is known before its time");
        join.advance(Some(EventTime(5 * DAY)), &mut sink);
        assert_eq!(*got.borrow(), vec![(0.1, true)]);
        join.advance(Some(EventTime(10 * DAY + 1)), &mut sink);
        // 2 and 3 expired at day 10; 4 (day 1) still awaits.
        let c = join.counts();
        assert_eq!((c.expired, c.awaiting, c.early), (2, 1, 1));
        join.advance(Some(EventTime(13 * DAY)), &mut sink);
        // Label 9's horizon passed; label 2 came after its score expired, which looks like a score still to come.
        let c = join.counts();
        assert_eq!((c.received, c.joined, c.unmatched, c.expired, c.early), (3, 1, 1, 3, 1));
        join.advance(None, &mut sink);
        assert_eq!(
            join.counts(),
            LabelCounts { received: 3, joined: 1, unmatched: 2, expired: 3, not_tracked: 0, awaiting: 0, early: 0 }
        );
    }

    #[test]
    fn a_label_before_its_score_joins_when_the_score_comes_and_the_end_applies_every_label() {
        let mut join = LabelJoin::new(Duration::from_millis(DAY as u64));
        let got = std::cell::RefCell::new(Vec::new());
        let mut sink = |s: &[f64], l: bool| got.borrow_mut().push((s[0], s[1], l));
        join.label(&label(7, true, 100));
        join.advance(Some(EventTime(100)), &mut sink);
        join.scored(7, EventTime(90), [0.9, 0.8], &mut sink);
        assert_eq!(*got.borrow(), vec![(0.9, 0.8, true)]);
        join.scored(8, EventTime(200), [0.3, 0.2], &mut sink);
        join.label(&label(8, false, 200 + DAY));
        join.advance(None, &mut sink);
        assert_eq!(got.borrow().last(), Some(&(0.3, 0.2, false)), "the finished feed's labels are all applied");
        assert_eq!(join.counts().joined, 2);
    }

    #[test]
    fn a_join_restored_from_its_state_goes_on_exactly_as_the_one_that_never_stopped() {
        let steps = |join: &mut LabelJoin, from: i64, to: i64, out: &mut Vec<(u64, u64, bool)>| {
            let mut sink = |s: &[f64], l: bool| out.push((s[0].to_bits(), s[1].to_bits(), l));
            for day in from..to {
                for k in 0..5 {
                    let id = day * 10 + k;
                    // Some labels come before their score, some never come, one score has no challenger score.
                    if k == 4 {
                        join.label(&label(id, day % 3 == 0, day * DAY - 1));
                        join.advance(Some(EventTime(day * DAY - 1)), &mut sink);
                    }
                    let challenger = if k == 2 { f64::NAN } else { k as f64 / 7.0 };
                    join.scored(id, EventTime(day * DAY), [k as f64 / 5.0, challenger], &mut sink);
                    if k != 3 {
                        join.label(&label(id, (day + k) % 4 == 0, (day + 2 + k) * DAY));
                    }
                }
                join.advance(Some(EventTime(day * DAY)), &mut sink);
            }
        };
        let (mut whole, mut before) = (Vec::new(), Vec::new());
        let mut uninterrupted = LabelJoin::new(Duration::from_millis(3 * DAY as u64));
        steps(&mut uninterrupted, 1, 40, &mut whole);
        let mut first = LabelJoin::new(Duration::from_millis(3 * DAY as u64));
        steps(&mut first, 1, 17, &mut before);
        let saved = serde_json::to_string(&first.state()).expect("state");
        let mut restored = LabelJoin::new(Duration::from_millis(3 * DAY as u64));
        restored.restore(serde_json::from_str(&saved).expect("state"));
        assert_eq!(restored.counts(), first.counts());
        steps(&mut restored, 17, 40, &mut before);
        assert_eq!(before, whole, "the same pairs, in the same order, NaN scores included");
        assert_eq!(restored.counts(), uninterrupted.counts());
        assert!(whole.len() > 50 && uninterrupted.counts().expired > 0 && uninterrupted.counts().awaiting > 0);
    }
}

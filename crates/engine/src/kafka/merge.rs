//! Merging the partitions a consumer reads into event-time order.
//!
//! A Kafka consumer hands over records in fetch-sized runs per partition: replaying a backlog, it delivers hundreds
//! of one partition's records, then hundreds of another's, days apart in event time. The join copes (its watermark
//! is the minimum over partitions), but everything downstream that depends on arrival order — which identities are
//! still buffered, which past transactions a client feature sees — would differ from a replay of the same data in
//! event-time order. [`EventTimeMerge`] buffers what the consumer delivered, per partition in offset order, and
//! releases the earliest head first, as long as no partition that still has records to fetch is empty; live, where
//! partitions are caught up, records pass straight through.
//!
//! Each partition's records leave in the order they came in: offset order for the input topics, so the positions the
//! job commits stay contiguous and nothing held here is ever behind a committed offset. (Records of the internal
//! topic come in already put in event-time order by `order`; the Kafka source keeps commits below those of them not
//! handed out yet.)

use std::collections::{HashMap, VecDeque};

use crate::flow::SourceEvent;

/// An input partition: (input, partition number), as in the watermarks.
pub type PartitionKey = (u8, i32);

/// Records held for event-time order, per partition (a partition is known from its first record on).
#[derive(Debug, Default)]
pub struct EventTimeMerge {
    queues: HashMap<PartitionKey, VecDeque<(i64, SourceEvent)>>,
    held: usize,
}

impl EventTimeMerge {
    /// Holds `event` of `partition`; `order` is its event time in milliseconds (`i64::MIN` for what has none, such as
    /// a dead letter, which then leaves as soon as it is at its partition's head).
    pub fn push(&mut self, partition: PartitionKey, order: i64, event: SourceEvent) {
        self.queues.entry(partition).or_default().push_back((order, event));
        self.held += 1;
    }

    /// Holds `event` of `partition` ahead of the held events of that partition with a later time: for identities
    /// stamped with their transaction's time (see `identity_time`), which come out of offset order. Pushed behind
    /// later ones, such an identity would wait for them while the other partitions move the watermark past its
    /// transaction, and arrive late. Positions stay below every held offset (`held_offsets`), so commits are safe.
    pub fn push_by_time(&mut self, partition: PartitionKey, order: i64, event: SourceEvent) {
        let queue = self.queues.entry(partition).or_default();
        let at = queue.iter().position(|(o, _)| *o > order).unwrap_or(queue.len());
        queue.insert(at, (order, event));
        self.held += 1;
    }

    /// How many events are held.
    pub fn held(&self) -> usize {
        self.held
    }

    /// How many events `partition` holds.
    pub fn held_in(&self, partition: PartitionKey) -> usize {
        self.queues.get(&partition).map_or(0, VecDeque::len)
    }

    /// The partitions that hold events.
    pub fn holding(&self) -> impl Iterator<Item = PartitionKey> + '_ {
        self.queues.iter().filter(|(_, q)| !q.is_empty()).map(|(p, _)| *p)
    }

    /// The held event with the earliest time among the partitions' heads — unless a partition `has_more` says still
    /// has records to fetch is empty here (its next record may be earlier), or `force` is set.
    pub fn pop(&mut self, has_more: impl Fn(PartitionKey) -> bool, force: bool) -> Option<SourceEvent> {
        if !force && self.queues.iter().any(|(p, q)| q.is_empty() && has_more(*p)) {
            return None;
        }
        let (&partition, _) = self
            .queues
            .iter()
            .filter_map(|(p, q)| q.front().map(|(order, _)| (p, *order)))
            .min_by_key(|&(p, order)| (order, *p))?;
        let (_, event) = self.queues.get_mut(&partition)?.pop_front()?;
        self.held -= 1;
        Some(event)
    }

    /// The offsets of the events `partition` holds that came from Kafka (positions must not be committed past them).
    pub fn held_offsets(&self, partition: PartitionKey) -> impl Iterator<Item = i64> + '_ {
        self.queues.get(&partition).into_iter().flatten().filter_map(|(_, event)| {
            let origin = match event {
                SourceEvent::Record { origin, .. } => origin,
                SourceEvent::DeadLetter(d) => &d.origin,
                SourceEvent::Joined(j) | SourceEvent::Seen(j) => &j.origin,
                SourceEvent::Idle | SourceEvent::End | SourceEvent::PartitionEnd(_) => return None,
            };
            match origin {
                crate::flow::Origin::Kafka { offset, .. } => Some(*offset),
                crate::flow::Origin::File { .. } => None,
            }
        })
    }

    /// Drops everything held (a rebalance: every partition restarts from its committed offset).
    pub fn clear(&mut self) {
        self.queues.clear();
        self.held = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(n: i64) -> SourceEvent {
        SourceEvent::DeadLetter(crate::flow::DeadLetter {
            kind: crate::flow::DeadLetterKind::Unreadable,
            reason: n.to_string(),
            origin: crate::flow::Origin::Kafka { topic: "t".into(), partition: 0, offset: n },
            payload: Vec::new(),
            key: None,
        })
    }

    #[test]
    fn an_identity_stamped_out_of_order_leaves_before_later_ones_of_its_partition() {
        let mut m = EventTimeMerge::default();
        m.push((1, 0), 900, ev(1));
        m.push((0, 0), 100, ev(2));
        m.push_by_time((1, 0), 150, ev(3));
        m.push((0, 0), 500, ev(4));
        let order: Vec<_> = std::iter::from_fn(|| id(m.pop(|_| false, false))).collect();
        assert_eq!(order, [2, 3, 4, 1], "the stamped identity does not wait behind the later one");
    }

    fn id(e: Option<SourceEvent>) -> Option<i64> {
        match e {
            Some(SourceEvent::DeadLetter(d)) => d.reason.parse().ok(),
            _ => None,
        }
    }

    #[test]
    fn runs_of_two_partitions_come_out_in_event_time_order() {
        let mut m = EventTimeMerge::default();
        for t in [10, 20, 30] {
            m.push((0, 0), t, ev(t));
        }
        for t in [15, 25] {
            m.push((0, 1), t, ev(t));
        }
        let all_fetched = |_| false;
        let out: Vec<_> = std::iter::from_fn(|| id(m.pop(all_fetched, false))).collect();
        assert_eq!(out, [10, 15, 20, 25, 30]);
        assert_eq!(m.held(), 0);
    }

    #[test]
    fn an_empty_partition_with_records_to_fetch_holds_the_others_back() {
        let mut m = EventTimeMerge::default();
        m.push((0, 1), 5, ev(5));
        assert_eq!(id(m.pop(|_| true, false)), Some(5));
        m.push((0, 0), 50, ev(50));
        assert_eq!(id(m.pop(|p| p == (0, 1), false)), None, "partition 1 may bring something earlier");
        assert_eq!(id(m.pop(|_| false, false)), Some(50), "caught up: nothing to wait for");
        m.push((0, 0), 60, ev(60));
        assert_eq!(id(m.pop(|p| p == (0, 1), true)), Some(60), "forced after waiting long enough");
    }

    #[test]
    fn a_partition_keeps_its_offset_order() {
        let mut m = EventTimeMerge::default();
        m.push((0, 0), 30, ev(1));
        m.push((0, 0), 10, ev(2)); // out of order within the partition: still after offset 1
        m.push((1, 0), 20, ev(3));
        let out: Vec<_> = std::iter::from_fn(|| id(m.pop(|_| false, false))).collect();
        assert_eq!(out, [3, 1, 2]);
    }
}

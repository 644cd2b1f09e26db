//! Putting each partition of the internal topic back into event-time order across the join stages writing it.
//!
//! Each internal partition interleaves the output of every join stage (one per instance), and each runs at its own
//! pace: replaying a backlog, one may be days of event time ahead of another. Client features count a card's past
//! transactions, so consumed in offset order such a partition would count them wrongly. Every record and progress
//! marker carries its join stage's [`Progress`]: the latest event time it has read (its frontier). [`ProducerOrder`]
//! holds a partition's records and releases the earliest first, once every other join stage writing to the
//! partition has read past it — the same rule by which a Flink operator waits for the watermarks of all its input
//! channels, applied to the frontier instead of the watermark so live records wait at most one progress interval,
//! not the watermark delay.
//!
//! A join stage stops counting when it says it has finished or is idle, or when the partition has heard nothing from
//! it for [`SILENT_PRODUCER`] of the writers' own clocks (it was killed; the hosts' clocks must agree to well within
//! that, as NTP keeps them). Decisions depend on what the partition holds, so replaying the same offsets
//! (rebuilding client state after a restart) releases records in nearly the same order: what is still held when the
//! replay reaches the committed offsets is released then. Two safety valves keep memory and latency bounded: at most
//! [`MAX_HELD`] records wait per partition (beyond, the earliest leaves anyway), and a partition that has been
//! silent for [`SILENT_PRODUCER`] of local time releases everything it holds.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use super::repartition::Progress;
use crate::flow::Joined;
use crate::flow::Origin;

/// How long a join stage may stay silent before the scoring stage stops waiting for it. Live, each writes progress
/// every 200 ms, so this is many missed reports; a restarted stage writes under a new identity.
pub const SILENT_PRODUCER: Duration = Duration::from_secs(3);
/// Records held per partition at most; beyond, the earliest is released without waiting.
pub const MAX_HELD: usize = 20_000;

/// What a partition knows of one join stage.
#[derive(Debug, Clone, Copy)]
struct Producer {
    frontier_ms: i64,
    written_us: i64,
}

/// One internal partition's join stages and held records.
#[derive(Default)]
struct PartitionOrder {
    producers: HashMap<u64, Producer>,
    /// The latest write time seen in the partition (µs): the writers' clock, by which silence is judged.
    clock_us: i64,
    /// Held records by (event time ms, offset): earliest first. Offsets are unique within a partition.
    held: BTreeMap<(i64, i64), Box<Joined>>,
    /// When this partition last delivered anything (local time).
    last_heard: Option<Instant>,
}

impl PartitionOrder {
    fn hear(&mut self, progress: &Progress, now: Instant) {
        self.clock_us = self.clock_us.max(progress.written_us);
        self.last_heard = Some(now);
        let p = self.producers.entry(progress.producer).or_insert(Producer { frontier_ms: i64::MIN, written_us: 0 });
        // The latest report counts (one stage writes its reports in order): an idle stage that reads again is
        // waited for again.
        if progress.written_us >= p.written_us {
            p.frontier_ms = progress.frontier_ms;
            p.written_us = progress.written_us;
        }
    }

    /// Whether no join stage still counted may write something earlier than `time_ms`.
    fn may_release(&mut self, time_ms: i64) -> bool {
        let silent_after = self.clock_us.saturating_sub(SILENT_PRODUCER.as_micros() as i64);
        // Finished and silent stages are forgotten: they write nothing more (a returning one is heard again).
        self.producers.retain(|_, p| p.frontier_ms != Progress::FINISHED && p.written_us >= silent_after);
        self.producers.values().all(|p| p.frontier_ms >= time_ms)
    }

    fn release(&mut self, force_all: bool, out: &mut dyn FnMut(Box<Joined>)) {
        while let Some((&(time_ms, _), _)) = self.held.first_key_value() {
            if !(force_all || self.held.len() > MAX_HELD || self.may_release(time_ms)) {
                break;
            }
            if let Some((_, joined)) = self.held.pop_first() {
                out(joined);
            }
        }
    }
}

/// Event-time order per internal partition across the join stages writing it (see the module docs).
#[derive(Default)]
pub struct ProducerOrder {
    partitions: HashMap<i32, PartitionOrder>,
    /// Hand records out in offset order instead (see [`ProducerOrder::offset_order`]).
    offset_order: bool,
}

impl ProducerOrder {
    /// Passes every record straight through, in offset order. Exactly-once mode needs this: it commits input
    /// positions with its output and has no read-back, so a record handed out ahead of a lower offset still held
    /// would be read and scored again after a restart.
    pub(crate) fn offset_order() -> ProducerOrder {
        ProducerOrder { offset_order: true, ..ProducerOrder::default() }
    }

    /// Takes a joined record of `partition`; hands every record that may now leave to `out`, earliest first.
    /// Records without progress (written by an older version) are not held.
    pub fn record(
        &mut self,
        partition: i32,
        joined: Box<Joined>,
        progress: Option<Progress>,
        now: Instant,
        out: &mut dyn FnMut(Box<Joined>),
    ) {
        let order = self.partitions.entry(partition).or_default();
        let Some(progress) = progress.filter(|_| !self.offset_order) else {
            order.last_heard = Some(now);
            return out(joined);
        };
        order.hear(&progress, now);
        let offset = match &joined.origin {
            Origin::Kafka { offset, .. } => *offset,
            Origin::File { line, .. } => *line as i64,
        };
        order.held.insert((joined.transaction.event_time().millis(), offset), joined);
        order.release(false, out);
    }

    /// Takes a progress marker of `partition`; hands on what may now leave.
    pub fn marker(&mut self, partition: i32, progress: Progress, now: Instant, out: &mut dyn FnMut(Box<Joined>)) {
        let order = self.partitions.entry(partition).or_default();
        order.hear(&progress, now);
        order.release(false, out);
    }

    /// Releases everything held, earliest first per partition: the end of a topic read in full (a test's
    /// uninterrupted pass).
    pub fn release_all(&mut self, out: &mut dyn FnMut(Box<Joined>)) {
        for order in self.partitions.values_mut() {
            order.release(true, out);
        }
    }

    /// Releases everything held by partitions silent for [`SILENT_PRODUCER`] of local time: nobody is writing to
    /// them any more, so waiting longer cannot improve the order.
    pub(crate) fn release_silent(&mut self, now: Instant, out: &mut dyn FnMut(Box<Joined>)) {
        for order in self.partitions.values_mut() {
            if !order.held.is_empty() && order.last_heard.is_none_or(|t| now.duration_since(t) >= SILENT_PRODUCER) {
                order.release(true, out);
            }
        }
    }

    /// The offsets of the records `partition` holds (input positions must not be committed past them).
    pub(crate) fn held_offsets(&self, partition: i32) -> impl Iterator<Item = i64> + '_ {
        self.partitions.get(&partition).into_iter().flat_map(|o| o.held.keys().map(|&(_, offset)| offset))
    }

    /// How many records are held.
    pub fn held(&self) -> usize {
        self.partitions.values().map(|o| o.held.len()).sum()
    }

    /// Forgets everything (a rebalance: each partition is read again from its committed offset).
    pub(crate) fn clear(&mut self) {
        self.partitions.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fraudstream_data::{Row, Table, Transaction};

    /// A joined record at `dt` seconds of TransactionDT, at `offset`.
    fn joined(dt: i64, offset: i64) -> Box<Joined> {
        let catalog = Table::Transaction.catalog();
        let mut row = Row::empty(catalog);
        row.nums[fraudstream_data::record::ID_SLOT] = offset as f64;
        row.nums[catalog.col("TransactionDT").slot] = dt as f64;
        Box::new(Joined {
            transaction: Transaction { row },
            identity: None,
            origin: Origin::Kafka { topic: "j".into(), partition: 0, offset },
            arrived: Instant::now(),
            join_wait: Duration::ZERO,
            client: Box::default(),
        })
    }

    fn ms(dt: i64) -> i64 {
        fraudstream_data::EventTime::from_transaction_dt(dt).millis()
    }

    fn progress(producer: u64, dt: i64, written_s: i64) -> Progress {
        Progress { producer, frontier_ms: ms(dt), written_us: written_s * 1_000_000 }
    }

    /// Feeds `(producer, dt of the record or None for a marker, frontier dt, written s)` in offset order.
    fn feed(order: &mut ProducerOrder, items: &[(u64, Option<i64>, i64, i64)]) -> Vec<i64> {
        let now = Instant::now();
        let mut released = Vec::new();
        for (offset, &(producer, dt, frontier, written)) in items.iter().enumerate() {
            let mut out = |j: Box<Joined>| released.push(j.transaction.id());
            match dt {
                Some(dt) => order.record(
                    0,
                    joined(dt, offset as i64),
                    Some(progress(producer, frontier, written)),
                    now,
                    &mut out,
                ),
                None => order.marker(0, progress(producer, frontier, written), now, &mut out),
            }
        }
        released
    }

    #[test]
    fn a_stage_ahead_waits_for_the_one_behind() {
        let mut order = ProducerOrder::default();
        // Stage 1 races ahead to day 5 while stage 2 is at day 1; stage 2 then catches up.
        let released = feed(
            &mut order,
            &[
                (2, Some(86_400), 86_400, 1),
                (1, Some(86_500), 86_500, 1),
                (1, Some(432_000), 432_000, 1),
                (2, Some(90_000), 90_000, 2),
                (2, Some(400_000), 400_000, 2),
            ],
        );
        // Offsets in release order: by event time across both stages, not by offset.
        assert_eq!(released, [0, 1, 3, 4]);
        assert_eq!(order.held(), 1);
        // Stage 2 reports having read past day 5.
        assert_eq!(feed(&mut order, &[(2, None, 500_000, 3)]), [2]);
        assert_eq!(order.held(), 0);
    }

    #[test]
    fn one_stage_alone_passes_straight_through() {
        let mut order = ProducerOrder::default();
        let released = feed(&mut order, &[(7, Some(100), 100, 1), (7, Some(50), 120, 1), (7, Some(130), 130, 1)]);
        assert_eq!(released, [0, 1, 2]);
        assert_eq!(order.held(), 0);
    }

    #[test]
    fn a_finished_or_silent_stage_is_no_longer_waited_for() {
        let mut order = ProducerOrder::default();
        let released = feed(&mut order, &[(1, None, 0, 1), (2, Some(1_000), 1_000, 1), (1, None, 0, 2)]);
        assert!(released.is_empty(), "stage 1 has read nothing yet");
        let mut released = Vec::new();
        order.marker(
            0,
            Progress { producer: 1, frontier_ms: Progress::FINISHED, written_us: 3_000_000 },
            Instant::now(),
            &mut |j| released.push(j.transaction.id()),
        );
        assert_eq!(released, [1]);

        // A killed stage: silent while the other writes on for longer than SILENT_PRODUCER.
        let mut order = ProducerOrder::default();
        let released = feed(&mut order, &[(1, None, 0, 10), (2, Some(1_000), 1_000, 11), (2, None, 2_000, 12)]);
        assert!(released.is_empty());
        let released = feed(&mut order, &[(2, None, 3_000, 10 + SILENT_PRODUCER.as_secs() as i64 + 1)]);
        assert_eq!(released, [1]);
    }

    #[test]
    fn a_silent_partition_releases_everything_and_a_full_one_its_earliest() {
        let mut order = ProducerOrder::default();
        feed(&mut order, &[(1, None, 0, 1), (2, Some(1_000), 1_000, 1)]);
        let mut released = Vec::new();
        order.release_silent(Instant::now(), &mut |j| released.push(j.transaction.id()));
        assert!(released.is_empty(), "heard just now");
        order.release_silent(Instant::now() + SILENT_PRODUCER, &mut |j| released.push(j.transaction.id()));
        assert_eq!(released, [1]);

        let mut order = ProducerOrder::default();
        let mut items = vec![(1, None, 0, 1)];
        items.extend((0..=MAX_HELD as i64).map(|i| (2, Some(1_000 + i), 1_000 + i, 1)));
        let released = feed(&mut order, &items);
        assert_eq!(released, [1], "the earliest leaves once the partition holds more than MAX_HELD");
        assert_eq!(order.held(), MAX_HELD);
    }
}

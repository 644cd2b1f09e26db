//! Event-time watermarks, tracked per input partition.
//!
//! Each input partition (a Kafka partition of either topic, or one CSV file in embedded mode) reports the event
//! times it delivers. Its watermark is the highest event time it has delivered minus the allowed out-of-orderness;
//! the job's watermark is the minimum over all partitions of both inputs, so no partition's stragglers are declared
//! late because another partition runs ahead. A partition that has delivered nothing for `idle_timeout` of
//! processing time stops holding the watermark back (Flink's `withIdleness`), until it delivers again — but only
//! if the source is not behind on it ([`WatermarkTracker::set_behind`]): a partition that is silent because the
//! consumer has not fetched its backlog yet is not idle, or a slow catch-up would declare its records late. A
//! partition that has ended (end of file) no longer counts either.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use fraudstream_data::EventTime;

/// Identifies one input partition: the input (transactions or identities) and the partition.
pub type PartitionId = crate::flow::InputPartition;

#[derive(Debug, Clone, Copy)]
struct PartitionState {
    /// `None` for a partition known to exist that has delivered nothing yet: it holds the watermark back (until
    /// idle), since its first record may be older than anything seen elsewhere.
    max_event_time: Option<EventTime>,
    last_active: Instant,
    finished: bool,
}

/// The combined watermark of all input partitions.
#[derive(Debug)]
pub struct WatermarkTracker {
    out_of_orderness: Duration,
    idle_timeout: Duration,
    partitions: HashMap<PartitionId, PartitionState>,
    /// Partitions the source has undelivered records of: never idle.
    behind: Vec<PartitionId>,
}

impl WatermarkTracker {
    pub fn new(out_of_orderness: Duration, idle_timeout: Duration) -> WatermarkTracker {
        WatermarkTracker { out_of_orderness, idle_timeout, partitions: HashMap::new(), behind: Vec::new() }
    }

    /// Declares a partition that exists before it delivers anything (e.g. every assigned Kafka partition), so the
    /// watermark waits for it — up to the idle timeout.
    pub fn register(&mut self, partition: PartitionId, now: Instant) {
        self.partitions.entry(partition).or_insert(PartitionState {
            max_event_time: None,
            last_active: now,
            finished: false,
        });
    }

    /// Records that `partition` delivered a record with event time `t` at processing time `now`.
    pub fn observe(&mut self, partition: PartitionId, t: EventTime, now: Instant) {
        let p = self.partitions.entry(partition).or_insert(PartitionState {
            max_event_time: Some(t),
            last_active: now,
            finished: false,
        });
        p.max_event_time = Some(p.max_event_time.map_or(t, |m| m.max(t)));
        p.last_active = now;
        p.finished = false;
    }

    /// The partitions the source is behind on (see [`crate::source::Source::backlog`]): until the next call, they
    /// hold the watermark back however long they stay silent.
    pub fn set_behind(&mut self, behind: &[PartitionId]) {
        self.behind.clear();
        self.behind.extend_from_slice(behind);
    }

    /// Declares that a partition will deliver nothing more (end of a bounded input).
    pub fn finish(&mut self, partition: PartitionId) {
        if let Some(p) = self.partitions.get_mut(&partition) {
            p.finished = true;
        }
    }

    /// The watermark at processing time `now`: every event at or before it is considered complete. `None` until some
    /// partition has delivered something; `EventTime(i64::MAX)` once every partition has finished.
    pub fn current(&self, now: Instant) -> Option<EventTime> {
        let delay = self.out_of_orderness.as_millis() as i64;
        let mut min: Option<EventTime> = None;
        let mut any = false;
        let mut all_finished = true;
        for (key, p) in &self.partitions {
            any = true;
            if p.finished {
                continue;
            }
            all_finished = false;
            if now.duration_since(p.last_active) >= self.idle_timeout && !self.behind.contains(key) {
                continue;
            }
            // An active partition that has delivered nothing yet: nothing is complete.
            let w = p.max_event_time?.plus_millis(-delay);
            min = Some(min.map_or(w, |m| m.min(w)));
        }
        if any && all_finished {
            return Some(EventTime(i64::MAX));
        }
        // When every active partition is idle, the furthest progress stands.
        min.or_else(|| {
            self.partitions
                .values()
                .filter(|p| !p.finished)
                .filter_map(|p| p.max_event_time)
                .map(|t| t.plus_millis(-delay))
                .max()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fraudstream_data::Table::{Identity as ID, Transaction as TX};

    const S: i64 = 1000;

    #[test]
    fn watermark_is_the_slowest_partition_minus_the_delay() {
        let now = Instant::now();
        let mut w = WatermarkTracker::new(Duration::from_secs(20), Duration::from_secs(60));
        assert_eq!(w.current(now), None);
        w.observe((TX, 0), EventTime(100 * S), now);
        w.observe((ID, 0), EventTime(50 * S), now);
        assert_eq!(w.current(now), Some(EventTime(30 * S)));
        w.observe((ID, 0), EventTime(40 * S), now); // out of order: never moves the watermark back
        assert_eq!(w.current(now), Some(EventTime(30 * S)));
        w.observe((ID, 0), EventTime(120 * S), now);
        assert_eq!(w.current(now), Some(EventTime(80 * S)));
    }

    #[test]
    fn an_idle_partition_stops_holding_the_watermark_back() {
        let t0 = Instant::now();
        let mut w = WatermarkTracker::new(Duration::from_secs(20), Duration::from_secs(5));
        w.observe((TX, 0), EventTime(100 * S), t0);
        w.observe((ID, 0), EventTime(10 * S), t0);
        let later = t0 + Duration::from_secs(6);
        w.observe((TX, 0), EventTime(200 * S), later);
        assert_eq!(w.current(later), Some(EventTime(180 * S)));
        // It counts again as soon as it delivers.
        w.observe((ID, 0), EventTime(150 * S), later);
        assert_eq!(w.current(later), Some(EventTime(130 * S)));
    }

    #[test]
    fn a_registered_partition_holds_the_watermark_until_it_delivers_or_idles() {
        let t0 = Instant::now();
        let mut w = WatermarkTracker::new(Duration::from_secs(20), Duration::from_secs(5));
        w.register((ID, 0), t0);
        w.observe((TX, 0), EventTime(100 * S), t0);
        assert_eq!(w.current(t0), None, "identities may still bring older times");
        // Once everything is idle, the progress made so far stands.
        assert_eq!(w.current(t0 + Duration::from_secs(5)), Some(EventTime(80 * S)));
        w.observe((TX, 0), EventTime(200 * S), t0 + Duration::from_secs(5));
        assert_eq!(w.current(t0 + Duration::from_secs(5)), Some(EventTime(180 * S)));
        w.observe((ID, 0), EventTime(150 * S), t0 + Duration::from_secs(5));
        assert_eq!(w.current(t0 + Duration::from_secs(5)), Some(EventTime(130 * S)));
    }

    #[test]
    fn a_partition_the_source_is_behind_on_is_never_idle() {
        let t0 = Instant::now();
        let mut w = WatermarkTracker::new(Duration::from_secs(20), Duration::from_secs(5));
        w.observe((TX, 0), EventTime(100 * S), t0);
        w.observe((ID, 0), EventTime(10 * S), t0);
        let later = t0 + Duration::from_secs(60);
        w.observe((TX, 0), EventTime(500 * S), later);
        w.set_behind(&[(ID, 0)]);
        assert_eq!(w.current(later), Some(EventTime(-10 * S)), "silent, but its records are still to come");
        w.set_behind(&[]);
        assert_eq!(w.current(later), Some(EventTime(480 * S)), "caught up and silent: idle");
    }

    #[test]
    fn finished_inputs_release_everything() {
        let now = Instant::now();
        let mut w = WatermarkTracker::new(Duration::from_secs(20), Duration::from_secs(60));
        w.observe((TX, 0), EventTime(100 * S), now);
        w.observe((ID, 0), EventTime(10 * S), now);
        w.finish((ID, 0));
        assert_eq!(w.current(now), Some(EventTime(80 * S)));
        w.finish((TX, 0));
        assert_eq!(w.current(now), Some(EventTime(i64::MAX)));
    }
}

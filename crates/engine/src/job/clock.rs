//! The event-time step: when a record may enter (pacing), and how far event time has progressed (watermarks).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use fraudstream_data::EventTime;

use crate::flow::InputPartition;
use crate::pacing::{Pacer, Pacing};
use crate::watermark::WatermarkTracker;

/// Pacing plus the per-partition watermarks of one job.
pub(crate) struct EventClock {
    pacer: Pacer,
    watermarks: WatermarkTracker,
    max_out_of_orderness: Duration,
    idle_timeout: Duration,
    /// Every partition seen or announced: a restart waits for each of them again.
    partitions: HashSet<InputPartition>,
    /// The newest event time read.
    newest: EventTime,
}

impl EventClock {
    pub fn new(pacing: Pacing, max_out_of_orderness: Duration, idle_timeout: Duration) -> EventClock {
        EventClock {
            pacer: Pacer::new(pacing),
            watermarks: WatermarkTracker::new(max_out_of_orderness, idle_timeout),
            max_out_of_orderness,
            idle_timeout,
            partitions: HashSet::new(),
            newest: EventTime(i64::MIN),
        }
    }

    /// Declares partitions that exist before they deliver anything: the watermark waits for each of them.
    pub fn register(&mut self, partitions: impl IntoIterator<Item = InputPartition>, now: Instant) {
        for p in partitions {
            self.watermarks.register(p, now);
            self.partitions.insert(p);
        }
    }

    /// When a record with event time `t` is due under the pacing (now, unless replaying at a set speed).
    pub fn release_at(&mut self, t: EventTime, now: Instant) -> Instant {
        now + self.pacer.delay(t, now)
    }

    /// A record of `partition` at `t` entered; returns the watermark.
    pub fn observe(&mut self, partition: InputPartition, t: EventTime, now: Instant) -> Option<EventTime> {
        self.newest = self.newest.max(t);
        self.partitions.insert(partition);
        self.watermarks.observe(partition, t, now);
        self.watermarks.current(now)
    }

    /// A record that is already joined entered (the scoring stage of the repartitioned topology).
    pub fn observe_joined(&mut self, t: EventTime) {
        self.newest = self.newest.max(t);
    }

    /// The watermark now (idle partitions stop holding it back).
    pub fn watermark(&self, now: Instant) -> Option<EventTime> {
        self.watermarks.current(now)
    }

    /// The partitions the source is behind on: not idle however long they are silent.
    pub fn set_behind(&mut self, behind: &[InputPartition]) {
        self.watermarks.set_behind(behind);
    }

    /// `partition` will deliver nothing more.
    pub fn finish(&mut self, partition: InputPartition) {
        self.watermarks.finish(partition);
    }

    /// Every partition ends (end of input): the watermark goes to the end of time.
    pub fn finish_all(&mut self) {
        for p in &self.partitions {
            self.watermarks.finish(*p);
        }
    }

    /// Forgets every partition's progress and waits for all of them again (input re-read after a rebalance).
    pub fn restart(&mut self, now: Instant) {
        self.watermarks = WatermarkTracker::new(self.max_out_of_orderness, self.idle_timeout);
        for p in &self.partitions {
            self.watermarks.register(*p, now);
        }
    }

    pub fn newest(&self) -> Option<EventTime> {
        (self.newest.millis() > i64::MIN).then_some(self.newest)
    }

    pub fn max_out_of_orderness(&self) -> Duration {
        self.max_out_of_orderness
    }
}

//! Resuming a partition exactly at its committed offset, on brokers that return less than Kafka does.

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::{Offset, TopicPartitionList};
use std::sync::Mutex;

/// Where reading must resume on each newly assigned partition (its committed offset), until the first record of
/// that partition has been checked against it.
///
/// A Kafka broker answers a fetch from offset `o` with the record batch that *contains* `o`, and the client skips
/// the records before `o`. tansu 0.6.0 instead returns the batches that *start* at or after `o` (fixed upstream in
/// commit 87db6ea, "return the batch containing a mid-batch fetch offset"), so a consumer resuming from a committed
/// offset inside a batch silently loses the rest of that batch — which the kill -9 test caught as lost scores.
/// The source therefore checks the first record of every resumed partition: when it lies beyond the resume point, it
/// seeks back (64, 128, … records before it) until the broker returns a batch that covers the resume point, and
/// drops records before it. On a broker that behaves like Kafka the first record is the resume point and nothing
/// else happens.
pub(super) type ResumePoints = std::collections::HashMap<(String, i32), Resume>;

#[derive(Debug, Clone, Copy)]
pub(super) struct Resume {
    /// The committed offset: the first record the job must see.
    pub(super) at: i64,
    /// How far before `at` the last seek went (0: no seek yet).
    back: i64,
    /// A record before `at` arrived since the seek: the broker's batch covered `at`, so a later first offset
    /// beyond `at` is a real gap in the partition.
    covered: bool,
    /// When the partition was assigned, last sought or last delivered a record: a probe waits for a quiet second.
    active: Instant,
}

/// How long a partition with a pending resume point may stay silent before the probe checks its end.
const RESUME_QUIET: Duration = Duration::from_secs(1);

/// What to do with a record of a partition that has a pending resume point.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum ResumeStep {
    /// Before the resume point, read again after seeking back: processed before the restart.
    Drop,
    /// Process it; the resume point is settled.
    Accept,
    /// Drop it and read again from this offset.
    SeekTo(i64),
}

impl Resume {
    pub(super) fn new(at: i64, now: Instant) -> Resume {
        Resume { at, back: 0, covered: false, active: now }
    }

    /// Steps further back: 64 records before `at`, then twice as far each time, down to offset 0.
    fn step_back(&mut self, now: Instant) -> i64 {
        self.back = (self.back * 2).max(64).min(self.at);
        self.active = now;
        self.at - self.back
    }

    /// The partition has been silent; the last fetch response said it ends at `high`. A broker that skips the
    /// batch holding the resume point returns nothing at all when that batch is the partition's last.
    pub(super) fn on_idle(&mut self, high: i64, now: Instant) -> Option<i64> {
        let quiet = now.saturating_duration_since(self.active) >= RESUME_QUIET;
        if !quiet || high <= self.at || self.covered || self.back >= self.at {
            return None;
        }
        Some(self.step_back(now))
    }

    pub(super) fn on_record(&mut self, offset: i64, now: Instant) -> ResumeStep {
        self.active = now;
        if offset < self.at {
            if self.back == 0 {
                // Not sought back, yet before the commit: the consumer restarted the partition elsewhere (an offset
                // reset after the log was truncated or the topic recreated). Everything from here is new.
                return ResumeStep::Accept;
            }
            // Read again after seeking back: the broker's batch covers the resume point.
            self.covered = true;
            return ResumeStep::Drop;
        }
        if offset == self.at || self.covered || self.back >= self.at {
            // At the resume point, or nothing before it left to try (the gap is real: retention, compaction).
            return ResumeStep::Accept;
        }
        ResumeStep::SeekTo(self.step_back(now))
    }
}

/// Replaces the resume points with those of `committed` (every partition of a new assignment that has a committed
/// offset; assignments are eager, so the partitions of the previous one are gone).
pub(super) fn note_resume_points(resume: &Mutex<ResumePoints>, committed: &TopicPartitionList) {
    let mut points = resume.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    points.clear();
    let now = Instant::now();
    for e in committed.elements() {
        if let Offset::Offset(at) = e.offset() {
            points.insert((e.topic().to_string(), e.partition()), Resume::new(at, now));
        }
    }
}

/// Seeks a partition back to `from`; `false` (with a warning) when that fails, e.g. because a rebalance just took
/// the partition away: the caller then drops its resume point.
pub(super) fn seek_back<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    topic: &str,
    partition: i32,
    from: i64,
) -> bool {
    match consumer.seek(topic, partition, Offset::Offset(from), Duration::from_secs(15)) {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!("{topic}[{partition}]: seeking back to offset {from} failed: {e}");
            false
        }
    }
}

/// Whether this is the first delivery of `offset` of `partition` (input, partition number) since the partition was
/// assigned; `delivered` holds the next offset expected. Seeking back to a resume point can let records fetched
/// before the seek arrive after it as well: each offset is processed once.
pub(super) fn first_delivery(
    delivered: &mut std::collections::HashMap<(u8, i32), i64>,
    partition: (u8, i32),
    offset: i64,
) -> bool {
    let next = delivered.entry(partition).or_insert(offset);
    if offset < *next {
        return false;
    }
    *next = offset + 1;
    true
}

#[cfg(test)]
mod tests {
    use super::{first_delivery, Resume, ResumeStep};
    use std::time::{Duration, Instant};

    fn at(offset: i64) -> (Resume, Instant) {
        let t0 = Instant::now();
        (Resume::new(offset, t0), t0)
    }

    #[test]
    fn a_resume_point_inside_a_batch_is_found_by_seeking_back() {
        // tansu 0.6.0: fetching 1000 returns the batch starting at 1100; the batch holding 1000 starts at 900.
        let (mut r, t) = at(1000);
        assert_eq!(r.on_record(1100, t), ResumeStep::SeekTo(936));
        assert_eq!(r.on_record(1100, t), ResumeStep::SeekTo(872), "still past it: twice as far back");
        assert_eq!(r.on_record(900, t), ResumeStep::Drop, "processed before the restart");
        assert_eq!(r.on_record(999, t), ResumeStep::Drop);
        assert_eq!(r.on_record(1000, t), ResumeStep::Accept);
    }

    #[test]
    fn a_resume_point_in_the_last_batch_is_found_when_nothing_arrives() {
        let (mut r, t0) = at(1000);
        let later = |s: u64| t0 + Duration::from_secs(s);
        assert_eq!(r.on_idle(1011, t0 + Duration::from_millis(300)), None, "not silent for long yet");
        assert_eq!(r.on_idle(1000, later(2)), None, "nothing after the resume point: idle is the end");
        assert_eq!(r.on_idle(1011, later(2)), Some(936));
        assert_eq!(r.on_idle(1011, later(2)), None, "the seek gets its quiet second");
        assert_eq!(r.on_idle(1011, later(4)), Some(872));
        assert_eq!(r.on_record(900, later(4)), ResumeStep::Drop);
        assert_eq!(r.on_idle(1011, later(6)), None, "the batch covering it is arriving");
        assert_eq!(r.on_record(1000, later(6)), ResumeStep::Accept);
    }

    #[test]
    fn a_broker_that_starts_at_the_resume_point_costs_nothing() {
        let (mut r, t) = at(42);
        assert_eq!(r.on_record(42, t), ResumeStep::Accept);
    }

    #[test]
    fn records_before_the_commit_without_a_seek_are_new_input() {
        // The topic was recreated under the same group: the consumer resets to its start, all of it unprocessed.
        let (mut r, t) = at(5000);
        assert_eq!(r.on_record(0, t), ResumeStep::Accept);
    }

    #[test]
    fn a_real_gap_is_accepted_once_the_batch_before_it_was_seen_or_offset_zero_was_tried() {
        let (mut r, t) = at(1000);
        assert_eq!(r.on_record(1005, t), ResumeStep::SeekTo(936));
        assert_eq!(r.on_record(990, t), ResumeStep::Drop);
        assert_eq!(r.on_record(1005, t), ResumeStep::Accept, "records up to 990 then 1005: 991-1004 do not exist");
        let (mut r, t) = at(100);
        assert_eq!(r.on_record(500, t), ResumeStep::SeekTo(36));
        assert_eq!(r.on_record(500, t), ResumeStep::SeekTo(0));
        assert_eq!(r.on_record(500, t), ResumeStep::Accept, "nothing before 500 exists any more");
    }

    #[test]
    fn records_delivered_again_after_a_seek_are_processed_once() {
        let mut delivered = std::collections::HashMap::new();
        assert!(first_delivery(&mut delivered, (0, 3), 10));
        assert!(first_delivery(&mut delivered, (0, 3), 11));
        assert!(!first_delivery(&mut delivered, (0, 3), 10));
        assert!(!first_delivery(&mut delivered, (0, 3), 11));
        assert!(first_delivery(&mut delivered, (1, 3), 10), "another input's partition 3");
        assert!(first_delivery(&mut delivered, (0, 3), 14), "gaps are fine");
    }
}

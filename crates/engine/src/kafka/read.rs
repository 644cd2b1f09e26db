//! Reading a topic back: how a restarted job learns what its outputs already hold, and how the scoring stage
//! rebuilds client state from the internal topic.

use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};

use super::{c_topic, KafkaSettings};
use crate::error::EngineError;

/// How long a read waits for a partition that should have records before reading it again from further back.
const STALL: Duration = Duration::from_millis(200);

/// One partition to read: from where, and to where (exclusive; `None`: its end when reading starts).
struct Range {
    next: i64,
    end: Option<i64>,
    /// A start offset not yet seen covered: tansu 0.6.0 answers a fetch from offset `o` only with the record
    /// batches that start at or after `o`, skipping the rest of the batch holding `o`. Until a record at or before
    /// the start arrives, a first record past it means reading again from further back (64, 128, … records before
    /// it; the records before the start are read too, which a read-back does not mind). A Kafka broker returns the
    /// start itself first, and nothing else happens.
    start: Option<(i64, i64)>,
}

impl Range {
    fn new(next: i64, end: Option<i64>) -> Range {
        Range { next, end, start: (next > 0).then_some((next, 0)) }
    }

    /// A record at `offset` arrived: where to read again from, when it shows the start was skipped.
    fn seek_back(&mut self, offset: i64) -> Option<i64> {
        let (start, back) = self.start?;
        if offset <= start || back >= start {
            self.start = None;
            return None;
        }
        Some(self.step_back(start, back))
    }

    /// Nothing arrived for a while although the partition ends past where reading is: the start lies in the
    /// partition's last batch, which tansu 0.6.0 does not return at all. Where to read again from.
    fn stalled(&mut self) -> Option<i64> {
        let (start, back) = self.start?;
        if back >= start || self.end.is_none_or(|end| self.next >= end) {
            return None;
        }
        Some(self.step_back(start, back))
    }

    fn step_back(&mut self, start: i64, back: i64) -> i64 {
        let back = (back * 2).max(64).min(start);
        self.start = Some((start, back));
        self.next = start - back;
        self.next
    }
}

impl KafkaSettings {
    /// Reads every message of `topic`, from the start of each partition up to its end, handing each to `f`.
    ///
    /// The end is the partition's high watermark as the first fetch response reports it (and no sooner than
    /// `settle` after the start), and it stays there: messages written meanwhile by others — the other instances of
    /// a job writing the same topic — are not chased. (Chasing them kept a restarting join stage reading back the
    /// internal topic for as long as another instance was writing it.)
    pub fn read_to_end(
        &self,
        topic: &str,
        settle: Duration,
        f: impl FnMut(&rdkafka::message::BorrowedMessage<'_>) -> Result<(), EngineError>,
    ) -> Result<u64, EngineError> {
        let Some(partitions) = self.partition_counts(&[topic])?[0] else { return Ok(0) };
        let ranges = (0..partitions).map(|p| (p, Range::new(0, None))).collect();
        self.read_ranges(topic, ranges, settle, f)
    }

    /// Reads `topic` from the given offsets (partition → start) to the end of each partition, as
    /// [`KafkaSettings::read_to_end`] does.
    pub fn read_from(
        &self,
        topic: &str,
        starts: &std::collections::HashMap<i32, i64>,
        f: impl FnMut(&rdkafka::message::BorrowedMessage<'_>) -> Result<(), EngineError>,
    ) -> Result<u64, EngineError> {
        let ranges = starts.iter().map(|(&p, &start)| (p, Range::new(start.max(0), None))).collect();
        self.read_ranges(topic, ranges, Duration::ZERO, f)
    }

    /// Reads the messages of `topic` in the given ranges (partition → (start, end exclusive)), handing each to
    /// `f`; records before a start may be handed over too (see `Range`).
    pub fn read_between(
        &self,
        topic: &str,
        ranges: &std::collections::HashMap<i32, (i64, i64)>,
        f: impl FnMut(&rdkafka::message::BorrowedMessage<'_>) -> Result<(), EngineError>,
    ) -> Result<u64, EngineError> {
        let ranges = ranges
            .iter()
            .filter(|(_, (start, end))| start < end)
            .map(|(&p, &(start, end))| (p, Range::new(start.max(0), Some(end))))
            .collect();
        self.read_ranges(topic, ranges, Duration::ZERO, f)
    }

    /// Reads each partition of `ranges` from its start to its end (see [`KafkaSettings::read_to_end`]).
    fn read_ranges(
        &self,
        topic: &str,
        mut ranges: std::collections::HashMap<i32, Range>,
        settle: Duration,
        mut f: impl FnMut(&rdkafka::message::BorrowedMessage<'_>) -> Result<(), EngineError>,
    ) -> Result<u64, EngineError> {
        use rdkafka::message::Message;
        use rdkafka::{Offset, TopicPartitionList};
        if ranges.is_empty() {
            return Ok(0);
        }
        let consumer: BaseConsumer = self
            .consumer_config(&[("group.id", "fraudstream-reader"), ("auto.offset.reset", "earliest")])
            .create()
            .map_err(|e| EngineError::kafka("creating a reader", e))?;
        let mut tpl = TopicPartitionList::new();
        for (&p, range) in &ranges {
            tpl.add_partition_offset(topic, p, Offset::Offset(range.next))
                .map_err(|e| EngineError::kafka(format!("assigning {topic}[{p}]"), e))?;
        }
        consumer.assign(&tpl).map_err(|e| EngineError::kafka(format!("assigning {topic}"), e))?;
        let c_topic = c_topic(topic)?;
        // Only ends given by the caller may turn out to lie beyond a partition's end; one taken from the broker's
        // high watermark is there, and a stall before it is an error, not the end.
        let ends_given = ranges.values().all(|r| r.end.is_some());
        let mut read = 0u64;
        let started = std::time::Instant::now();
        let mut last_message = started;
        let deadline = started + Duration::from_secs(300);
        loop {
            if std::time::Instant::now() > deadline {
                return Err(EngineError::Config(format!("reading {topic} to its end took more than 300 s")));
            }
            match consumer.poll(Duration::from_millis(20)) {
                Some(msg) => {
                    let msg = msg.map_err(|e| EngineError::kafka(format!("reading {topic}"), e))?;
                    let Some(range) = ranges.get_mut(&msg.partition()) else { continue };
                    if let Some(from) = range.seek_back(msg.offset()) {
                        let p = msg.partition();
                        consumer
                            .seek(topic, p, Offset::Offset(from), Duration::from_secs(15))
                            .map_err(|e| EngineError::kafka(format!("seeking {topic}[{p}] back to {from}"), e))?;
                        continue;
                    }
                    range.next = range.next.max(msg.offset() + 1);
                    if range.end.is_none_or(|end| msg.offset() < end) {
                        f(&msg)?;
                        read += 1;
                    }
                    last_message = std::time::Instant::now();
                }
                None if ends_given && last_message.elapsed() >= Duration::from_secs(10) => {
                    // The partition ends before the offset asked for (recreated or truncated since).
                    tracing::warn!("{topic}: nothing more arrived for 10 s before the offsets asked for; read {read}");
                    return Ok(read);
                }
                None if last_message.elapsed() >= STALL => {
                    for (&p, range) in ranges.iter_mut() {
                        if let Some(from) = range.stalled() {
                            consumer
                                .seek(topic, p, Offset::Offset(from), Duration::from_secs(15))
                                .map_err(|e| EngineError::kafka(format!("seeking {topic}[{p}] back to {from}"), e))?;
                        }
                    }
                    last_message = std::time::Instant::now();
                }
                None => {}
            }
            let settled = started.elapsed() >= settle;
            let mut at_end = true;
            for (&p, range) in ranges.iter_mut() {
                if range.end.is_none() && settled {
                    // The end as the first fetch response reports it (see `fetched_high_watermark`), then fixed.
                    range.end = fetched_high_watermark(&consumer, &c_topic, p);
                }
                at_end &= range.end.is_some_and(|end| range.next >= end);
            }
            if at_end {
                return Ok(read);
            }
        }
    }
}

/// The partition's high watermark as the last fetch response reported it (`None` before any).
///
/// Not the ListOffsets answer (`fetch_watermarks`): tansu 0.6.0 answers "latest" with the most recently written
/// batch, which after concurrent writes can lie below the true end; its fetch responses carry the true end.
pub(crate) fn fetched_high_watermark<C: rdkafka::consumer::ConsumerContext>(
    consumer: &BaseConsumer<C>,
    topic: &std::ffi::CStr,
    partition: i32,
) -> Option<i64> {
    fetched_watermarks(consumer, topic, partition).map(|(_, high)| high)
}

/// The partition's low and high watermarks as the last fetch response reported them (`None` before any).
pub(crate) fn fetched_watermarks<C: rdkafka::consumer::ConsumerContext>(
    consumer: &BaseConsumer<C>,
    topic: &std::ffi::CStr,
    partition: i32,
) -> Option<(i64, i64)> {
    let (mut low, mut high) = (-1i64, -1i64);
    // SAFETY: the client pointer is valid for the consumer's lifetime, the topic is a NUL-terminated string that
    // outlives the call, and librdkafka only writes the two offsets (it reads its cached fetch state, no I/O).
    let err = unsafe {
        rdkafka::bindings::rd_kafka_get_watermark_offsets(
            consumer.client().native_ptr(),
            topic.as_ptr(),
            partition,
            &mut low,
            &mut high,
        )
    };
    (err == rdkafka::bindings::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR && high >= 0)
        .then_some((low.max(0), high))
}

#[cfg(test)]
mod tests {
    use super::Range;

    #[test]
    fn a_skipped_start_is_found_by_reading_again_from_further_back() {
        // tansu: asked for 1000, the first batch returned starts at 1100.
        let mut r = Range::new(1000, None);
        assert_eq!(r.seek_back(1100), Some(936));
        assert_eq!(r.seek_back(1100), Some(872), "still past it: twice as far back");
        assert_eq!(r.seek_back(900), None, "a record before the start: covered");
        assert_eq!(r.seek_back(5000), None, "covered for good");
    }

    #[test]
    fn a_start_in_the_last_batch_is_found_when_nothing_arrives() {
        let mut r = Range::new(1000, None);
        assert_eq!(r.stalled(), None, "the end is not known yet");
        r.end = Some(1010);
        assert_eq!(r.stalled(), Some(936));
        assert_eq!(r.seek_back(900), None, "the batch holding the start arrived");
        assert_eq!(r.stalled(), None);
        let mut at_end = Range::new(1000, Some(1000));
        assert_eq!(at_end.stalled(), None, "nothing after the start: idle is the end");
    }

    #[test]
    fn a_broker_that_starts_at_the_start_costs_nothing() {
        let mut r = Range::new(1000, None);
        assert_eq!(r.seek_back(1000), None);
        assert_eq!(Range::new(0, None).seek_back(5), None, "from the start of the partition nothing is skipped");
    }
}

//! Consumer-group membership: the consumer both Kafka sources read through, how partitions are given to it
//! (group rebalances or a static assignment), where each assigned partition resumes, and committing offsets.
//!
//! Offsets are never auto-committed: the job commits what it has fully processed (see `checkpoint`), which is
//! what makes at-least-once and, with idempotent output, exactly-once possible.

use std::collections::HashMap;
use std::ffi::CString;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, ConsumerGroupMetadata, Rebalance};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::ClientContext;
use rdkafka::{Offset, TopicPartitionList};

use super::resume::{first_delivery, note_resume_points, seek_back, Resume, ResumePoints, ResumeStep};
use super::{c_topic, KafkaSettings, Positions};
use crate::error::EngineError;

/// Which topics to read and as which group.
#[derive(Debug, Clone)]
pub struct KafkaSourceConfig {
    pub kafka: KafkaSettings,
    /// Consumer group: membership (with [`Assignment::Group`]) and where offsets are committed (always).
    pub group: String,
    pub transactions_topic: String,
    pub identities_topic: String,
    pub assignment: Assignment,
    /// Decode only these columns (plus the required ones) of values written with our own schema; the others read
    /// as missing. `None`: all. The job needs a few dozen of the 394 (see [`crate::job::needed_columns`]).
    pub columns: Option<Vec<String>>,
    /// Columns the run cannot do without: a writer schema without one stops the run at its first record, unless
    /// allowed (see [`crate::source::required`]).
    pub required: crate::source::required::RequiredColumns,
}

/// How input partitions are given to this instance.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Assignment {
    /// Consumer-group membership: the group coordinator shares partitions among instances and rebalances.
    #[default]
    Group,
    /// These partition numbers of both topics (co-partitioned by TransactionID), no group membership.
    Static(Vec<i32>),
    /// Every partition of both topics, no group membership.
    All,
}

impl std::str::FromStr for Assignment {
    type Err = String;

    /// `group`, `all`, or a comma-separated list of partition numbers such as `0,1`.
    fn from_str(s: &str) -> Result<Assignment, String> {
        match s.trim() {
            "group" => Ok(Assignment::Group),
            "all" => Ok(Assignment::All),
            list => list
                .split(',')
                .map(|p| {
                    p.trim().parse::<i32>().ok().filter(|p| *p >= 0).ok_or_else(|| {
                        format!("`{p}` is not a partition number (expected `group`, `all` or a list such as `0,1`)")
                    })
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Assignment::Static),
        }
    }
}

impl Assignment {
    pub(super) fn includes(&self, partition: i32) -> bool {
        match self {
            Assignment::Group | Assignment::All => true,
            Assignment::Static(list) => list.contains(&partition),
        }
    }
}

/// Notes partition assignments, so the job can recover what other instances already scored.
pub(super) struct RebalanceContext {
    reassigned: Arc<AtomicBool>,
    resume: Arc<Mutex<ResumePoints>>,
    assigned: Arc<Mutex<Assigned>>,
}

/// The partitions of the current assignment, each with its committed offset (where reading starts; `None`: from
/// the earliest record).
type Assigned = HashMap<(String, i32), Option<i64>>;

/// Replaces the noted assignment with `committed` (every partition of the new one, with its committed offset).
fn note_assigned(assigned: &Mutex<Assigned>, committed: &TopicPartitionList) {
    let mut assigned = assigned.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    assigned.clear();
    for e in committed.elements() {
        let start = match e.offset() {
            Offset::Offset(at) => Some(at),
            _ => None,
        };
        assigned.insert((e.topic().to_string(), e.partition()), start);
    }
}

impl ClientContext for RebalanceContext {
    /// librdkafka's periodic statistics carry each assigned partition's lag (high watermark − position): exported
    /// as `fraudstream_consumer_lag{topic, partition}`. Partitions not assigned here report −1 and are skipped.
    fn stats(&self, statistics: rdkafka::Statistics) {
        for (topic, t) in &statistics.topics {
            for (partition, p) in &t.partitions {
                if *partition >= 0 && p.consumer_lag >= 0 {
                    metrics::gauge!("fraudstream_consumer_lag", "topic" => topic.clone(), "partition" => partition.to_string())
                        .set(p.consumer_lag as f64);
                }
            }
        }
    }
}

impl ConsumerContext for RebalanceContext {
    fn post_rebalance(&self, base: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(tpl) = rebalance {
            tracing::info!("assigned {} input partitions", tpl.count());
            match base.committed_offsets((*tpl).clone(), Duration::from_secs(15)) {
                Ok(committed) => {
                    tracing::info!("resuming from the group's offsets: {}", describe_offsets(&committed));
                    note_resume_points(&self.resume, &committed);
                    note_assigned(&self.assigned, &committed);
                }
                Err(e) => {
                    tracing::warn!("could not read the group's committed offsets: {e}");
                    note_assigned(&self.assigned, tpl);
                }
            }
            self.reassigned.store(true, Ordering::SeqCst);
        }
    }
}

/// What one poll of the consumer gave.
pub(super) enum Polled<'c> {
    /// A message to process, with its input index and topic.
    Message(u8, Arc<str>, BorrowedMessage<'c>),
    /// A message already processed (delivered again after a seek back).
    Skipped,
    /// Nothing within the timeout.
    Nothing,
}

/// The consumer of one Kafka source, with what it needs to resume correctly after every assignment.
pub struct GroupConsumer {
    consumer: BaseConsumer<RebalanceContext>,
    reassigned: Arc<AtomicBool>,
    resume: Arc<Mutex<ResumePoints>>,
    /// The topics read, by input index (the position in the list given to [`GroupConsumer::connect`]).
    topics: Vec<Arc<str>>,
    /// The same names as C strings, for librdkafka's cached watermarks: looked up per record while the merge waits.
    c_topics: Vec<CString>,
    /// Next offset expected per (input index, partition).
    delivered: HashMap<(u8, i32), i64>,
    /// When pending resume points were last checked against the partitions' ends.
    last_probe: Instant,
    /// The assignment as librdkafka's callbacks noted it, and as last taken over (see `take_reassigned`): each
    /// partition with where reading started.
    assigned: Arc<Mutex<Assigned>>,
    partitions: Vec<((u8, i32), Option<i64>)>,
    /// Partitions whose fetching is paused (see [`GroupConsumer::pause`]).
    paused: Vec<(u8, i32)>,
}

impl GroupConsumer {
    /// Creates the consumer and subscribes to, or assigns, `topics`; returns their partition counts.
    pub(super) fn connect(
        config: &KafkaSourceConfig,
        topics: &[&str],
    ) -> Result<(GroupConsumer, Vec<Option<i32>>), EngineError> {
        let reassigned = Arc::new(AtomicBool::new(false));
        let resume = Arc::new(Mutex::new(ResumePoints::new()));
        let assigned = Arc::new(Mutex::new(Assigned::new()));
        let consumer: BaseConsumer<RebalanceContext> = config
            .kafka
            .consumer_config(&[
                ("group.id", config.group.as_str()),
                ("auto.offset.reset", "earliest"),
                // Per-partition consumer lag for the metrics (see `RebalanceContext::stats`).
                ("statistics.interval.ms", "5000"),
            ])
            .create_with_context(RebalanceContext {
                reassigned: reassigned.clone(),
                resume: resume.clone(),
                assigned: assigned.clone(),
            })
            .map_err(|e| EngineError::kafka("creating a consumer", e))?;
        let counts = config.kafka.partition_counts(topics)?;
        if config.assignment == Assignment::Group {
            consumer.subscribe(topics).map_err(|e| EngineError::kafka("subscribing to the input topics", e))?;
        } else {
            assign_statically(&consumer, &config.assignment, topics, &counts, &resume, &assigned)?;
            // Recover what the output already holds, as after a group assignment.
            reassigned.store(true, Ordering::SeqCst);
        }
        let group = GroupConsumer {
            consumer,
            reassigned,
            resume,
            topics: topics.iter().map(|t| Arc::from(*t)).collect(),
            c_topics: topics.iter().map(|t| c_topic(t)).collect::<Result<_, _>>()?,
            delivered: HashMap::new(),
            last_probe: Instant::now(),
            assigned,
            partitions: Vec::new(),
            paused: Vec::new(),
        };
        Ok((group, counts))
    }

    /// The name of input `input`.
    pub(super) fn topic(&self, input: u8) -> Arc<str> {
        self.topics[usize::from(input)].clone()
    }

    /// Whether partitions were assigned since the last [`GroupConsumer::take_reassigned`]: nothing of them is
    /// read until the job has acknowledged it (and recovered).
    pub(super) fn reassigned(&self) -> bool {
        self.reassigned.load(Ordering::SeqCst)
    }

    /// True once after new partitions were assigned. A new assignment restarts partitions from their committed
    /// offsets, legitimately below what was delivered before.
    pub(super) fn take_reassigned(&mut self) -> bool {
        let reassigned = self.reassigned.swap(false, Ordering::SeqCst);
        if reassigned {
            self.delivered.clear();
            // A new assignment fetches every partition again.
            self.paused.clear();
            let assigned = self.assigned.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            self.partitions = assigned
                .iter()
                .filter_map(|((topic, partition), start)| {
                    let input = self.topics.iter().position(|t| **t == **topic)? as u8;
                    Some(((input, *partition), *start))
                })
                .collect();
        }
        reassigned
    }

    /// The partitions of the current assignment (as last taken over), by (input index, partition).
    pub(super) fn assigned_partitions(&self) -> impl Iterator<Item = (u8, i32)> + '_ {
        self.partitions.iter().map(|(key, _)| *key)
    }

    /// Stops fetching `partition` until [`GroupConsumer::resume`]: its records wait in the merge already.
    pub(super) fn pause(&mut self, partition: (u8, i32)) -> Result<(), EngineError> {
        if !self.paused.contains(&partition) {
            tracing::debug!("pausing {:?}", partition);
            self.consumer.pause(&self.one(partition)?).map_err(|e| EngineError::kafka("pausing a partition", e))?;
            self.paused.push(partition);
        }
        Ok(())
    }

    /// Fetches `partition` again. librdkafka fetches a resumed partition from the record after the last one it
    /// handed over, so the first record is checked against that offset as after an assignment (see `resume`): a
    /// broker that answers with the next batch instead (tansu 0.6.0) would otherwise skip records.
    pub(super) fn resume(&mut self, partition: (u8, i32)) -> Result<(), EngineError> {
        if let Some(i) = self.paused.iter().position(|p| *p == partition) {
            if let Some(&next) = self.delivered.get(&partition) {
                let mut points = self.resume.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                points.insert((self.topic(partition.0).to_string(), partition.1), Resume::new(next, Instant::now()));
            }
            self.consumer.resume(&self.one(partition)?).map_err(|e| EngineError::kafka("resuming a partition", e))?;
            self.paused.swap_remove(i);
        }
        Ok(())
    }

    /// The partitions whose fetching is paused.
    pub(super) fn paused(&self) -> &[(u8, i32)] {
        &self.paused
    }

    fn one(&self, (input, partition): (u8, i32)) -> Result<TopicPartitionList, EngineError> {
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition(&self.topic(input), partition);
        Ok(tpl)
    }

    /// The assigned partitions that still have records to fetch (consumer lag > 0), or whose end is not known
    /// yet (no fetch response since the assignment): the source is behind on them.
    pub(super) fn lagging(&self) -> impl Iterator<Item = (u8, i32)> + '_ {
        self.partitions.iter().filter(|(key, start)| self.lag(*key, *start) != Some(0)).map(|(key, _)| *key)
    }

    /// Records of a partition not yet delivered: the fetched high watermark minus the next offset to deliver
    /// (where reading started, for a partition that has delivered nothing); `None` before any fetch response.
    fn lag(&self, (input, partition): (u8, i32), start: Option<i64>) -> Option<i64> {
        let topic = self.c_topics.get(usize::from(input))?;
        let (low, high) = super::read::fetched_watermarks(&self.consumer, topic, partition)?;
        let next = self.delivered.get(&(input, partition)).copied().or(start).unwrap_or(low).max(low);
        Some((high - next).max(0))
    }

    /// The next message within `timeout`: a new one with its input index, or one skipped because it was read
    /// before (while resuming, see `resume`).
    pub(super) fn next(&mut self, timeout: Duration) -> Result<Polled<'_>, EngineError> {
        self.probe_resume_points();
        let Some(msg) = self.consumer.poll(timeout) else { return Ok(Polled::Nothing) };
        let msg = msg.map_err(|e| EngineError::kafka("consuming", e))?;
        if !check_resume_point(&self.consumer, &self.resume, msg.topic(), msg.partition(), msg.offset()) {
            return Ok(Polled::Skipped);
        }
        let input = self.topics.iter().position(|t| **t == *msg.topic()).unwrap_or(0) as u8;
        if !first_delivery(&mut self.delivered, (input, msg.partition()), msg.offset()) {
            tracing::debug!("{}[{}]@{} delivered again; already processed", msg.topic(), msg.partition(), msg.offset());
            return Ok(Polled::Skipped);
        }
        Ok(Polled::Message(input, self.topics[usize::from(input)].clone(), msg))
    }

    /// Whether a partition has records still to fetch (one that delivered nothing yet does not count).
    pub(super) fn has_more(&self, input: u8, partition: i32) -> bool {
        let (Some(&next), Some(topic)) =
            (self.delivered.get(&(input, partition)), self.c_topics.get(usize::from(input)))
        else {
            return false;
        };
        super::read::fetched_high_watermark(&self.consumer, topic, partition).is_some_and(|high| next < high)
    }

    /// The committed offsets of the assigned partitions (partition → offset, where one is committed and > 0).
    pub(super) fn committed_positions(&self) -> Result<HashMap<i32, i64>, EngineError> {
        let assignment =
            self.consumer.assignment().map_err(|e| EngineError::kafka("listing assigned partitions", e))?;
        let committed = self
            .consumer
            .committed_offsets(assignment, Duration::from_secs(15))
            .map_err(|e| EngineError::kafka("reading the group's committed offsets", e))?;
        Ok(committed
            .elements()
            .iter()
            .filter_map(|e| match e.offset() {
                Offset::Offset(end) if end > 0 => Some((e.partition(), end)),
                _ => None,
            })
            .collect())
    }

    /// The group's identity, for committing offsets inside an output transaction.
    pub(super) fn group_metadata(&self) -> Option<ConsumerGroupMetadata> {
        self.consumer.group_metadata()
    }

    /// Commits `positions` (synchronously); false when the commit failed. A failure is logged, not fatal: a
    /// rebalance moved partitions away, and the new owner continues from the last good commit.
    pub(super) fn commit(&self, positions: &Positions) -> Result<bool, EngineError> {
        let tpl = offsets_list(positions)?;
        if tpl.count() == 0 {
            return Ok(false);
        }
        match self.consumer.commit(&tpl, CommitMode::Sync) {
            Ok(()) => {
                tracing::debug!("committed {}", describe_offsets(&tpl));
                Ok(true)
            }
            Err(e) => {
                tracing::warn!("committing offsets failed (will retry at the next checkpoint): {e}");
                Ok(false)
            }
        }
    }

    /// Where each assigned partition ends, as the last fetch response reported it; `None` until every one has.
    pub(super) fn ends(&self) -> Option<Positions> {
        self.partitions
            .iter()
            .map(|&((input, partition), _)| {
                let topic = self.c_topics.get(usize::from(input))?;
                let (_, high) = super::read::fetched_watermarks(&self.consumer, topic, partition)?;
                Some(((self.topic(input), partition), high))
            })
            .collect()
    }

    /// The committed positions of the current assignment (partitions with no committed offset are left out).
    pub(super) fn committed(&self) -> Positions {
        self.partitions
            .iter()
            .filter_map(|((input, partition), start)| Some(((self.topic(*input), *partition), (*start)?)))
            .collect()
    }

    /// While resume points are pending, checks (at most twice a second) whether a partition that has been silent
    /// holds records the broker is not returning, and seeks back if so (see `resume`).
    fn probe_resume_points(&mut self) {
        let mut points = self.resume.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if points.is_empty() || self.last_probe.elapsed() < Duration::from_millis(500) {
            return;
        }
        let now = Instant::now();
        self.last_probe = now;
        points.retain(|(topic, partition), r| {
            let Some(high) = c_topic(topic)
                .ok()
                .and_then(|t| super::read::fetched_high_watermark(&self.consumer, &t, *partition))
            else {
                return true;
            };
            let Some(from) = r.on_idle(high, now) else { return true };
            tracing::warn!(
                "{topic}[{partition}]: resuming at offset {} but the broker returns nothing although the partition ends \
                 at {high}; reading again from {from}",
                r.at
            );
            seek_back(&self.consumer, topic, *partition, from)
        });
    }
}

/// Assigns the partitions of `topics` that `assignment` names, starting from the group's committed offsets
/// (earliest where there are none).
fn assign_statically(
    consumer: &BaseConsumer<RebalanceContext>,
    assignment: &Assignment,
    topics: &[&str],
    counts: &[Option<i32>],
    resume: &Mutex<ResumePoints>,
    assigned: &Mutex<Assigned>,
) -> Result<(), EngineError> {
    if let Assignment::Static(wanted) = assignment {
        let available = counts.iter().flatten().copied().min().unwrap_or(0);
        if let Some(missing) = wanted.iter().find(|p| **p >= available) {
            return Err(EngineError::Config(format!(
                "partition {missing} was assigned, but the input topics have {available} partitions"
            )));
        }
    }
    let mut tpl = TopicPartitionList::new();
    for (topic, count) in topics.iter().zip(counts) {
        for partition in (0..count.unwrap_or(0)).filter(|p| assignment.includes(*p)) {
            tpl.add_partition_offset(topic, partition, Offset::Stored)
                .map_err(|e| EngineError::kafka("building the partition assignment", e))?;
        }
    }
    consumer.assign(&tpl).map_err(|e| EngineError::kafka("assigning the input partitions", e))?;
    tracing::info!("statically assigned {} input partitions", tpl.count());
    let committed = consumer
        .committed_offsets(tpl, Duration::from_secs(15))
        .map_err(|e| EngineError::kafka("reading the group's committed offsets", e))?;
    tracing::info!("resuming from the group's offsets: {}", describe_offsets(&committed));
    note_resume_points(resume, &committed);
    note_assigned(assigned, &committed);
    Ok(())
}

/// Whether a record at `offset` may be processed, given the partition's resume point (see `resume`); seeks back
/// when the broker started after the resume point.
fn check_resume_point<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    resume: &Mutex<ResumePoints>,
    topic: &str,
    partition: i32,
    offset: i64,
) -> bool {
    let mut points = resume.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if points.is_empty() {
        return true;
    }
    let key = (topic.to_string(), partition);
    let Some(r) = points.get_mut(&key) else { return true };
    match r.on_record(offset, Instant::now()) {
        ResumeStep::Drop => false,
        ResumeStep::Accept => {
            tracing::debug!("{topic}[{partition}]: resumed at offset {offset} (committed {})", r.at);
            points.remove(&key);
            true
        }
        ResumeStep::SeekTo(from) => {
            tracing::warn!(
                "{topic}[{partition}]: resuming at offset {} but the broker's first record is {offset}; reading \
                 again from {from} so the records in between are not skipped",
                r.at
            );
            if !seek_back(consumer, topic, partition, from) {
                points.remove(&key);
            }
            false
        }
    }
}

/// `positions` as librdkafka's offset list.
pub(super) fn offsets_list(positions: &Positions) -> Result<TopicPartitionList, EngineError> {
    let mut tpl = TopicPartitionList::new();
    for ((topic, partition), offset) in positions {
        tpl.add_partition_offset(topic, *partition, Offset::Offset(*offset))
            .map_err(|e| EngineError::kafka("building the offsets to commit", e))?;
    }
    Ok(tpl)
}

/// `topic[partition]@offset, ...` for logs.
fn describe_offsets(tpl: &TopicPartitionList) -> String {
    let parts: Vec<String> = tpl
        .elements()
        .iter()
        .map(|e| match e.offset() {
            Offset::Offset(o) => format!("{}[{}]@{o}", e.topic(), e.partition()),
            other => format!("{}[{}]@{other:?}", e.topic(), e.partition()),
        })
        .collect();
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::Assignment;

    #[test]
    fn assignments_parse() {
        assert_eq!("group".parse(), Ok(Assignment::Group));
        assert_eq!("all".parse(), Ok(Assignment::All));
        assert_eq!("0, 3".parse(), Ok(Assignment::Static(vec![0, 3])));
        let err = "0,x".parse::<Assignment>().unwrap_err();
        assert!(err.contains("`x`"), "{err}");
        assert!("-1".parse::<Assignment>().is_err());
    }
}

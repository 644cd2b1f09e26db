//! The Kafka source: the `transactions` and `identities` topics, Avro values resolved through the Schema Registry.
//!
//! By default the consumer joins a consumer group, so several job instances share partitions and a failed
//! instance's partitions move to the survivors. With a static [`Assignment`] it reads fixed partitions instead
//! (like Flink's Kafka source), still committing offsets under the group id: for fixed deployments, and for
//! brokers whose group coordinator does not expire dead members. Offsets are not auto-committed:
//! the caller commits what it has fully processed (see [`KafkaSource::commit`]), which is what makes at-least-once
//! and, with idempotent output, exactly-once possible. Messages that do not decode become dead letters carrying
//! their original bytes and coordinates; an unreachable registry is an error, not a dead letter, because the data
//! itself is fine.

use std::sync::Arc;
use std::time::{Duration, Instant};

use fraudstream_data::avro::{decode_value, split_framed};
use fraudstream_data::registry::SchemaRegistry;
use fraudstream_data::{DataError, Identity, Record, Table, Transaction};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::message::Message;
use rdkafka::ClientContext;
use rdkafka::{Offset, TopicPartitionList};

use super::{DeadLetter, Origin, Positions, Source, SourceEvent};
use crate::error::EngineError;
use crate::kafka::{c_topic, KafkaSettings};
use crate::repartition::Internal;

/// Which topics to read and as which group.
#[derive(Debug, Clone)]
pub struct KafkaSourceConfig {
    pub kafka: KafkaSettings,
    /// Consumer group: membership (with [`Assignment::Group`]) and where offsets are committed (always).
    pub group: String,
    pub transactions_topic: String,
    pub identities_topic: String,
    pub assignment: Assignment,
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

/// Notes partition assignments, so the job can recover what other instances already scored.
struct RebalanceContext {
    reassigned: Arc<AtomicBool>,
    resume: Arc<Mutex<ResumePoints>>,
}

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
type ResumePoints = std::collections::HashMap<(String, i32), Resume>;

#[derive(Debug, Clone, Copy)]
struct Resume {
    /// The committed offset: the first record the job must see.
    at: i64,
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
enum ResumeStep {
    /// Before the resume point, read again after seeking back: processed before the restart.
    Drop,
    /// Process it; the resume point is settled.
    Accept,
    /// Drop it and read again from this offset.
    SeekTo(i64),
}

impl Resume {
    fn new(at: i64, now: Instant) -> Resume {
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
    fn on_idle(&mut self, high: i64, now: Instant) -> Option<i64> {
        let quiet = now.saturating_duration_since(self.active) >= RESUME_QUIET;
        if !quiet || high <= self.at || self.covered || self.back >= self.at {
            return None;
        }
        Some(self.step_back(now))
    }

    fn on_record(&mut self, offset: i64, now: Instant) -> ResumeStep {
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
fn note_resume_points(resume: &Mutex<ResumePoints>, committed: &TopicPartitionList) {
    let mut points = resume.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    points.clear();
    let now = Instant::now();
    for e in committed.elements() {
        if let Offset::Offset(at) = e.offset() {
            points.insert((e.topic().to_string(), e.partition()), Resume::new(at, now));
        }
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
                }
                Err(e) => tracing::warn!("could not read the group's committed offsets: {e}"),
            }
            self.reassigned.store(true, Ordering::SeqCst);
        }
    }
}

/// Consumes the two input topics as one [`Source`] — or, for the scoring stage of the repartitioned topology, the
/// internal topic of joined records ([`KafkaSource::joined`]).
pub struct KafkaSource {
    consumer: BaseConsumer<RebalanceContext>,
    reassigned: Arc<AtomicBool>,
    resume: Arc<Mutex<ResumePoints>>,
    kafka: KafkaSettings,
    /// Decodes the input topics (`None` for the internal topic, whose encoding is our own).
    registry: Option<SchemaRegistry>,
    transactions_topic: Arc<str>,
    identities_topic: Arc<str>,
    joined_topic: Option<Arc<str>>,
    partitions: Vec<(Table, i32)>,
    /// Next offset expected per (input: 0 transactions, 1 identities, 2 joined; partition).
    delivered: std::collections::HashMap<(u8, i32), i64>,
    /// When pending resume points were last checked against the partitions' ends.
    last_probe: Instant,
    /// The topic names as C strings, by input (transactions, identities, joined), for librdkafka's cached
    /// watermarks: looked up per record while the merge waits.
    c_topics: Vec<std::ffi::CString>,
    /// Delivered records held for event-time order, and since when the merge has been waiting for a partition.
    merge: super::merge::EventTimeMerge,
    blocked_since: Option<Instant>,
    /// Internal topic only: each partition's records in event-time order across the join stages writing it.
    order: super::order::ProducerOrder,
    /// Internal topic only: the committed offsets the current assignment started from (see `history`).
    history_ends: std::collections::HashMap<i32, i64>,
}

impl KafkaSource {
    /// Reads the `transactions` and `identities` topics.
    pub fn new(config: &KafkaSourceConfig, registry: SchemaRegistry) -> Result<KafkaSource, EngineError> {
        let topics = [config.transactions_topic.as_str(), config.identities_topic.as_str()];
        let (mut source, counts) = KafkaSource::connect(config, &topics)?;
        for (table, count) in [Table::Transaction, Table::Identity].into_iter().zip(&counts) {
            let all = 0..count.unwrap_or(0);
            source.partitions.extend(all.filter(|p| config.assignment.includes(*p)).map(|p| (table, p)));
        }
        source.registry = Some(registry);
        Ok(source)
    }

    /// Reads the internal topic of joined records `topic` (see [`crate::repartition`]), as `config.group` with
    /// `config.assignment`; the input topics named in `config` are not read. With `event_time_order` each partition
    /// is put in event-time order across the join stages writing it (see `source::order`); without, records
    /// leave in offset order, as exactly-once mode requires.
    pub fn joined(config: &KafkaSourceConfig, topic: &str, event_time_order: bool) -> Result<KafkaSource, EngineError> {
        let (mut source, _) = KafkaSource::connect(config, &[topic])?;
        if !event_time_order {
            source.order = super::order::ProducerOrder::offset_order();
        }
        source.joined_topic = Some(topic.into());
        source.c_topics.push(c_topic(topic)?);
        Ok(source)
    }

    /// Creates the consumer and subscribes to, or assigns, `topics`; returns their partition counts.
    fn connect(config: &KafkaSourceConfig, topics: &[&str]) -> Result<(KafkaSource, Vec<Option<i32>>), EngineError> {
        let reassigned = Arc::new(AtomicBool::new(false));
        let resume = Arc::new(Mutex::new(ResumePoints::new()));
        let consumer: BaseConsumer<RebalanceContext> = config
            .kafka
            .client_config(&[
                ("group.id", config.group.as_str()),
                ("enable.auto.commit", "false"),
                ("auto.offset.reset", "earliest"),
                ("enable.partition.eof", "false"),
                // Per-partition consumer lag for the metrics (see `RebalanceContext::stats`).
                ("statistics.interval.ms", "5000"),
            ])
            .create_with_context(RebalanceContext { reassigned: reassigned.clone(), resume: resume.clone() })
            .map_err(|e| EngineError::kafka("creating a consumer", e))?;
        let counts = config.kafka.partition_counts(topics)?;
        if config.assignment == Assignment::Group {
            consumer.subscribe(topics).map_err(|e| EngineError::kafka("subscribing to the input topics", e))?;
        } else {
            if let Assignment::Static(wanted) = &config.assignment {
                let available = counts.iter().flatten().copied().min().unwrap_or(0);
                if let Some(missing) = wanted.iter().find(|p| **p >= available) {
                    return Err(EngineError::Config(format!(
                        "partition {missing} was assigned, but the input topics have {available} partitions"
                    )));
                }
            }
            // Start from the group's committed offsets (earliest where there are none).
            let mut tpl = TopicPartitionList::new();
            for (topic, count) in topics.iter().zip(&counts) {
                for partition in (0..count.unwrap_or(0)).filter(|p| config.assignment.includes(*p)) {
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
            note_resume_points(&resume, &committed);
            // Recover what the output already holds, as after a group assignment.
            reassigned.store(true, Ordering::SeqCst);
        }
        let source = KafkaSource {
            consumer,
            reassigned,
            resume,
            kafka: config.kafka.clone(),
            registry: None,
            transactions_topic: config.transactions_topic.as_str().into(),
            identities_topic: config.identities_topic.as_str().into(),
            joined_topic: None,
            partitions: Vec::new(),
            delivered: std::collections::HashMap::new(),
            last_probe: Instant::now(),
            c_topics: vec![c_topic(&config.transactions_topic)?, c_topic(&config.identities_topic)?],
            merge: Default::default(),
            blocked_since: None,
            order: Default::default(),
            history_ends: Default::default(),
        };
        Ok((source, counts))
    }

    /// Commits the offsets of everything polled so far (synchronously).
    pub fn commit(&self) -> Result<(), EngineError> {
        match self.consumer.commit_consumer_state(CommitMode::Sync) {
            Ok(()) => Ok(()),
            // Nothing consumed yet since the last commit.
            Err(rdkafka::error::KafkaError::ConsumerCommit(rdkafka::types::RDKafkaErrorCode::NoOffset)) => Ok(()),
            Err(e) => Err(EngineError::kafka("committing offsets", e)),
        }
    }

    /// Whether a record at `offset` may be processed, given the partition's resume point (see [`ResumePoints`]);
    /// seeks back when the broker started after the resume point.
    fn check_resume_point(&self, topic: &str, partition: i32, offset: i64) -> Result<bool, EngineError> {
        let mut points = self.resume.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if points.is_empty() {
            return Ok(true);
        }
        let key = (topic.to_string(), partition);
        let Some(r) = points.get_mut(&key) else { return Ok(true) };
        match r.on_record(offset, Instant::now()) {
            ResumeStep::Drop => Ok(false),
            ResumeStep::Accept => {
                tracing::debug!("{topic}[{partition}]: resumed at offset {offset} (committed {})", r.at);
                points.remove(&key);
                Ok(true)
            }
            ResumeStep::SeekTo(from) => {
                tracing::warn!(
                    "{topic}[{partition}]: resuming at offset {} but the broker's first record is {offset}; reading \
                     again from {from} so the records in between are not skipped",
                    r.at
                );
                if !seek_back(&self.consumer, topic, partition, from) {
                    points.remove(&key);
                }
                Ok(false)
            }
        }
    }

    /// While resume points are pending, checks (at most twice a second) whether a partition that has been silent
    /// holds records the broker is not returning, and seeks back if so (see [`Resume::on_idle`]).
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
                .and_then(|t| crate::kafka::fetched_high_watermark(&self.consumer, &t, *partition))
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

    fn decode(&self, table: Table, payload: &[u8]) -> Result<Record, DataError> {
        let (schema_id, datum) = split_framed(payload)?;
        let registry = self.registry.as_ref().ok_or_else(|| DataError::Registry {
            url: String::new(),
            message: "no Schema Registry configured for the input topics".into(),
        })?;
        let schema = registry.schema_by_id(schema_id)?;
        let (row, event_time) = decode_value(table, datum, &schema)?;
        Ok(match table {
            Table::Transaction => Record::Transaction(Transaction { row }),
            Table::Identity => Record::Identity(Identity { row, event_time }),
        })
    }
}

/// Seeks a partition back to `from`; `false` (with a warning) when that fails, e.g. because a rebalance just took
/// the partition away: the caller then drops its resume point.
fn seek_back<C: ConsumerContext>(consumer: &BaseConsumer<C>, topic: &str, partition: i32, from: i64) -> bool {
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
fn first_delivery(
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

impl Assignment {
    fn includes(&self, partition: i32) -> bool {
        match self {
            Assignment::Group | Assignment::All => true,
            Assignment::Static(list) => list.contains(&partition),
        }
    }
}

impl Source for KafkaSource {
    fn take_reassigned(&mut self) -> bool {
        let reassigned = self.reassigned.swap(false, Ordering::SeqCst);
        if reassigned {
            // A new assignment restarts partitions from their committed offsets, legitimately below what was
            // delivered before; what the merge held was never handed out, so it is read again too.
            self.delivered.clear();
            self.merge.clear();
            self.blocked_since = None;
            self.order.clear();
            self.history_ends.clear();
        }
        reassigned
    }

    /// Every partition this instance may read: all of both topics in a group (each instance reads only some of
    /// them; the others stop holding the watermark back after the idle timeout), or the static assignment.
    fn partitions(&self) -> Vec<(Table, i32)> {
        self.partitions.clone()
    }

    fn group_metadata(&self) -> Option<rdkafka::consumer::ConsumerGroupMetadata> {
        self.consumer.group_metadata()
    }

    fn replayable(&self) -> bool {
        true
    }

    /// The joined records before the committed offsets of the assigned partitions of the internal topic, read
    /// with a consumer of its own (nothing for the input topics, whose state the join rebuilds by re-reading).
    fn history(&mut self, f: &mut dyn FnMut(crate::join::Joined)) -> Result<u64, EngineError> {
        let Some(topic) = self.joined_topic.clone() else { return Ok(0) };
        let assignment =
            self.consumer.assignment().map_err(|e| EngineError::kafka("listing assigned partitions", e))?;
        let committed = self
            .consumer
            .committed_offsets(assignment, Duration::from_secs(15))
            .map_err(|e| EngineError::kafka("reading the group's committed offsets", e))?;
        let ends: std::collections::HashMap<i32, i64> = committed
            .elements()
            .iter()
            .filter_map(|e| match e.offset() {
                Offset::Offset(end) if end > 0 => Some((e.partition(), end)),
                _ => None,
            })
            .collect();
        let mut replayed = 0u64;
        let order = &mut self.order;
        // Through the same ordering as live records, so the state is rebuilt in the order it was built. Records
        // still held at the end are handed out live, after the recovery.
        let mut release = |joined: Box<crate::join::Joined>| {
            f(*joined);
            replayed += 1;
        };
        self.kafka.read_partitions_until(&topic, &ends, |msg| {
            let origin = Origin::Kafka { topic: topic.clone(), partition: msg.partition(), offset: msg.offset() };
            let now = Instant::now();
            // What does not decode went to the dead letters when it was first read.
            match crate::repartition::decode_internal(msg.payload().unwrap_or_default(), origin) {
                Ok(Internal::Joined(joined, progress)) => {
                    order.record(msg.partition(), joined, progress, now, &mut release)
                }
                Ok(Internal::Marker(progress)) => order.marker(msg.partition(), progress, now, &mut release),
                Err(_) => {}
            }
            Ok(())
        })?;
        // What is still held was released, in the run that committed, by progress reports at or past the committed
        // offsets: it is released when they are read again, as then. Positions are never committed below these.
        self.history_ends = ends;
        Ok(replayed)
    }

    fn limit_positions(&self, positions: &mut Positions) {
        let Some(topic) = &self.joined_topic else { return };
        for ((t, partition), position) in positions.iter_mut() {
            if t != topic {
                continue;
            }
            // Records before the offsets this assignment started from were processed before it; the ones of them
            // the ordering hands out again after the replay must not move the commit back.
            let start = self.history_ends.get(partition).copied().unwrap_or(0);
            *position = (*position).max(start);
            // Records leave the ordering out of offset order: commit no further than the lowest not handed out.
            let held = self.order.held_offsets(*partition).chain(self.merge.held_offsets((JOINED, *partition)));
            if let Some(lowest) = held.filter(|&offset| offset >= start).min() {
                *position = (*position).min(lowest);
            }
        }
    }

    fn holds_records(&self) -> bool {
        self.order.held() > 0
    }

    fn commit(&mut self, positions: &Positions) -> Result<(), EngineError> {
        let mut tpl = TopicPartitionList::new();
        for ((topic, partition), offset) in positions {
            tpl.add_partition_offset(topic, *partition, Offset::Offset(*offset))
                .map_err(|e| EngineError::kafka("building the offsets to commit", e))?;
        }
        if tpl.count() == 0 {
            return Ok(());
        }
        match self.consumer.commit(&tpl, CommitMode::Sync) {
            Ok(()) => {
                tracing::debug!("committed {}", describe_offsets(&tpl));
                Ok(())
            }
            // A rebalance moved partitions away: the new owner continues from the last good commit.
            Err(e) => {
                tracing::warn!("committing offsets failed (will retry at the next checkpoint): {e}");
                Ok(())
            }
        }
    }

    /// The next event in event-time order across the partitions (see [`super::merge`]).
    fn poll(&mut self, timeout: Duration) -> Result<SourceEvent, EngineError> {
        let deadline = Instant::now() + timeout;
        loop {
            if self.reassigned.load(Ordering::SeqCst) {
                // Let the job recover before anything of the new assignment is read.
                return Ok(SourceEvent::Idle);
            }
            self.probe_resume_points();
            let now = Instant::now();
            let merge = &mut self.merge;
            self.order.release_silent(now, &mut |joined| push_joined(merge, joined));
            let force = self.merge.held() >= MAX_HELD || self.blocked_since.is_some_and(|t| now - t >= MERGE_WAIT);
            let (consumer, delivered, c_topics) = (&self.consumer, &self.delivered, &self.c_topics);
            // Whether a partition has records still to fetch (one that delivered nothing yet does not hold others).
            let has_more = |(input, partition): (u8, i32)| {
                let (Some(&next), Some(topic)) = (delivered.get(&(input, partition)), c_topics.get(usize::from(input)))
                else {
                    return false;
                };
                crate::kafka::fetched_high_watermark(consumer, topic, partition).is_some_and(|high| next < high)
            };
            if let Some(event) = self.merge.pop(has_more, force) {
                self.blocked_since = None;
                return Ok(event);
            }
            if self.merge.held() > 0 {
                self.blocked_since.get_or_insert(now);
            }
            let wait = if self.merge.held() > 0 { Duration::from_millis(5) } else { deadline - now.min(deadline) };
            if !self.pull(wait)? && Instant::now() >= deadline {
                return Ok(SourceEvent::Idle);
            }
        }
    }
}

/// An internal-topic message: a record goes through `order` (which hands what may leave to the merge), a
/// marker updates it, what does not decode is a dead letter.
fn pull_joined(
    order: &mut super::order::ProducerOrder,
    merge: &mut super::merge::EventTimeMerge,
    msg: &rdkafka::message::BorrowedMessage<'_>,
    topic: Arc<str>,
) {
    let (partition, offset) = (msg.partition(), msg.offset());
    let origin = Origin::Kafka { topic, partition, offset };
    let payload = msg.payload().unwrap_or_default();
    let mut release = |joined: Box<crate::join::Joined>| push_joined(merge, joined);
    match crate::repartition::decode_internal(payload, origin.clone()) {
        Ok(Internal::Joined(joined, progress)) => {
            order.record(partition, joined, progress, Instant::now(), &mut release)
        }
        Ok(Internal::Marker(progress)) => order.marker(partition, progress, Instant::now(), &mut release),
        Err(e) => {
            let dead = DeadLetter { reason: e.to_string(), origin, payload: payload.to_vec() };
            merge.push((JOINED, partition), i64::MIN, SourceEvent::DeadLetter(dead));
        }
    }
}

/// Hands a record released by `order` to the merge, in its internal partition.
fn push_joined(merge: &mut super::merge::EventTimeMerge, joined: Box<crate::join::Joined>) {
    let partition = match &joined.origin {
        Origin::Kafka { partition, .. } => *partition,
        Origin::File { .. } => 0,
    };
    let time = joined.transaction.event_time().millis();
    merge.push((JOINED, partition), time, SourceEvent::Joined(joined));
}

/// The inputs a message can belong to, as in the merge's and `delivered`'s partition keys.
const TRANSACTIONS: u8 = 0;
const IDENTITIES: u8 = 1;
const JOINED: u8 = 2;

/// Events held for event-time order at most; beyond, the earliest leaves without waiting for empty partitions.
const MAX_HELD: usize = 100_000;
/// How long the merge waits for an empty partition that still has records to fetch before releasing anyway.
const MERGE_WAIT: Duration = Duration::from_millis(200);

impl KafkaSource {
    /// One message from the consumer, decoded and handed to the merge (internal-topic records through `order`);
    /// false when nothing arrived within `timeout`.
    fn pull(&mut self, timeout: Duration) -> Result<bool, EngineError> {
        let Some(msg) = self.consumer.poll(timeout) else { return Ok(false) };
        let msg = msg.map_err(|e| EngineError::kafka("consuming", e))?;
        if !self.check_resume_point(msg.topic(), msg.partition(), msg.offset())? {
            return Ok(true);
        }
        let input = if msg.topic() == &*self.transactions_topic {
            TRANSACTIONS
        } else if msg.topic() == &*self.identities_topic {
            IDENTITIES
        } else {
            JOINED
        };
        if !first_delivery(&mut self.delivered, (input, msg.partition()), msg.offset()) {
            tracing::debug!("{}[{}]@{} delivered again; already processed", msg.topic(), msg.partition(), msg.offset());
            return Ok(true);
        }
        if let (JOINED, Some(topic)) = (input, self.joined_topic.clone()) {
            pull_joined(&mut self.order, &mut self.merge, &msg, topic);
            return Ok(true);
        }
        let event = self.decode_message(&msg, input)?;
        let order = match &event {
            SourceEvent::Record { record, .. } => record.event_time().millis(),
            _ => i64::MIN,
        };
        self.merge.push((input, msg.partition()), order, event);
        Ok(true)
    }

    /// A message as a record, a joined record or a dead letter.
    fn decode_message(
        &self,
        msg: &rdkafka::message::BorrowedMessage<'_>,
        input: u8,
    ) -> Result<SourceEvent, EngineError> {
        let (table, topic) = match input {
            TRANSACTIONS => (Table::Transaction, self.transactions_topic.clone()),
            _ => (Table::Identity, self.identities_topic.clone()),
        };
        let origin = Origin::Kafka { topic, partition: msg.partition(), offset: msg.offset() };
        let payload = msg.payload().unwrap_or_default();
        if payload.is_empty() {
            let reason = "empty message value (tombstone)".to_string();
            return Ok(SourceEvent::DeadLetter(DeadLetter { reason, origin, payload: Vec::new() }));
        }
        match self.decode(table, payload) {
            Ok(record) => Ok(SourceEvent::Record { record, origin }),
            Err(e @ (DataError::Avro { .. } | DataError::UnknownSchemaId { .. })) => {
                Ok(SourceEvent::DeadLetter(DeadLetter { reason: e.to_string(), origin, payload: payload.to_vec() }))
            }
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{first_delivery, Assignment, Resume, ResumeStep};
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

//! The Kafka sources: the input topics (`transactions` and `identities`, Avro values resolved through the Schema
//! Registry), and the internal topic of joined records that the scoring stage of the repartitioned topology reads.
//!
//! Both read through a [`GroupConsumer`](super::group) — a consumer-group member by default, so several job
//! instances share partitions and a failed instance's partitions move to the survivors, or a static assignment —
//! and both hand records on in event-time order across their partitions (`merge`). They differ in what a message
//! is ([`Topics`]): an Avro record of one of the two tables ([`InputTopics`]), or a joined record or progress
//! marker of a join stage, which first goes through the per-partition ordering across join stages
//! ([`JoinedTopic`], see [`super::order`]).
//!
//! Messages that do not decode become dead letters carrying their original bytes and coordinates; an unreachable
//! registry is an error, not a dead letter, because the data itself is fine.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fraudstream_data::avro::{decode_value, split_framed};
use fraudstream_data::registry::SchemaRegistry;
use fraudstream_data::{DataError, Identity, Record, Table, Transaction};
use rdkafka::consumer::ConsumerGroupMetadata;
use rdkafka::message::{BorrowedMessage, Message};

pub use super::group::{Assignment, KafkaSourceConfig};
use super::group::{GroupConsumer, Polled};
use super::merge::EventTimeMerge;
use super::order::ProducerOrder;
use super::repartition::{decode_internal, Internal};
use super::{KafkaSettings, Positions};
use crate::error::EngineError;
use crate::flow::{DeadLetter, InputPartition, Joined, Origin, SourceEvent};
use crate::source::Source;

/// Events held for event-time order at most; beyond, the earliest leaves without waiting for empty partitions.
const MAX_HELD: usize = 100_000;
/// How long the merge waits for an empty partition that still has records to fetch before releasing anyway.
const MERGE_WAIT: Duration = Duration::from_millis(200);

/// What the messages of a source's topics are, and how they enter the merge: [`InputTopics`] or [`JoinedTopic`].
pub trait Topics: sealed::TopicsImpl {}

impl Topics for InputTopics {}
impl Topics for JoinedTopic {}

/// The workings of [`Topics`], private to this module.
mod sealed {
    use super::*;

    pub trait TopicsImpl: Send {
        /// Takes one message of input `input` (its index in the topic list) and hands what it becomes to `merge`.
        fn accept(
            &mut self,
            input: u8,
            msg: &BorrowedMessage<'_>,
            topic: Arc<str>,
            merge: &mut EventTimeMerge,
        ) -> Result<(), EngineError>;
        /// Before the merge is asked for the next event: hands on what has waited long enough elsewhere.
        fn release(&mut self, _now: Instant, _merge: &mut EventTimeMerge) {}
        /// Whether records are held that later polls will deliver.
        fn holds_records(&self) -> bool {
            false
        }
        /// Forgets what is held (a new assignment restarts every partition from its committed offset).
        fn clear(&mut self) {}
    }
}

/// Consumes Kafka topics as one event-time-ordered [`Source`]: the input topics ([`KafkaSource::new`]) or the
/// internal topic of joined records ([`KafkaSource::joined`]).
pub struct KafkaSource<T> {
    group: GroupConsumer,
    kafka: KafkaSettings,
    /// Delivered records held for event-time order, and since when the merge has been waiting for a partition.
    merge: EventTimeMerge,
    blocked_since: Option<Instant>,
    partitions: Vec<InputPartition>,
    topics: T,
}

/// The `transactions` and `identities` topics: Avro values decoded with the writer's schema from the registry.
pub struct InputTopics {
    registry: SchemaRegistry,
}

/// The internal topic of joined records: each partition put back in event-time order across the join stages
/// writing it ([`ProducerOrder`]).
pub struct JoinedTopic {
    order: ProducerOrder,
    /// The committed offsets the current assignment started from (see [`KafkaSource::history`]).
    history_ends: HashMap<i32, i64>,
}

impl KafkaSource<InputTopics> {
    /// Reads the `transactions` and `identities` topics.
    pub fn new(config: &KafkaSourceConfig, registry: SchemaRegistry) -> Result<KafkaSource<InputTopics>, EngineError> {
        let topics = [config.transactions_topic.as_str(), config.identities_topic.as_str()];
        let (group, counts) = GroupConsumer::connect(config, &topics)?;
        let mut partitions = Vec::new();
        for (table, count) in [Table::Transaction, Table::Identity].into_iter().zip(&counts) {
            let all = 0..count.unwrap_or(0);
            partitions.extend(all.filter(|p| config.assignment.includes(*p)).map(|p| (table, p)));
        }
        Ok(KafkaSource::with(group, config, partitions, InputTopics { registry }))
    }
}

impl KafkaSource<JoinedTopic> {
    /// Reads the internal topic of joined records `topic` (see [`super::repartition`]), as `config.group` with
    /// `config.assignment`; the input topics named in `config` are not read. With `event_time_order` each partition
    /// is put in event-time order across the join stages writing it (see [`super::order`]); without, records
    /// leave in offset order, as exactly-once mode requires.
    pub fn joined(
        config: &KafkaSourceConfig,
        topic: &str,
        event_time_order: bool,
    ) -> Result<KafkaSource<JoinedTopic>, EngineError> {
        let (group, _) = GroupConsumer::connect(config, &[topic])?;
        let order = if event_time_order { ProducerOrder::default() } else { ProducerOrder::offset_order() };
        Ok(KafkaSource::with(group, config, Vec::new(), JoinedTopic { order, history_ends: HashMap::new() }))
    }

    /// Hands every joined record before the committed offsets of the assigned partitions to `f`, oldest first per
    /// partition, and returns how many: how the scoring stage rebuilds client state after a restart or rebalance.
    /// Read with a consumer of its own, through the same ordering as live records, so the state is rebuilt in the
    /// order it was built. Records still held at the end are handed out live, after the recovery.
    pub(crate) fn history(&mut self, f: &mut dyn FnMut(Joined)) -> Result<u64, EngineError> {
        let topic = self.group.topic(0);
        let ends = self.group.committed_positions()?;
        let mut replayed = 0u64;
        let order = &mut self.topics.order;
        let mut release = |joined: Box<Joined>| {
            f(*joined);
            replayed += 1;
        };
        self.kafka.read_partitions_until(&topic, &ends, |msg| {
            let origin = Origin::Kafka { topic: topic.clone(), partition: msg.partition(), offset: msg.offset() };
            let now = Instant::now();
            // What does not decode went to the dead letters when it was first read.
            match decode_internal(msg.payload().unwrap_or_default(), origin) {
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
        self.topics.history_ends = ends;
        Ok(replayed)
    }

    /// Lowers `positions` of the internal topic below records read but not handed out in offset order (held for
    /// event-time order): committing past them would lose them on a restart.
    pub(crate) fn limit_positions(&self, positions: &mut Positions) {
        let topic = self.group.topic(0);
        for ((t, partition), position) in positions.iter_mut() {
            if *t != topic {
                continue;
            }
            // Records before the offsets this assignment started from were processed before it; the ones of them
            // the ordering hands out again after the replay must not move the commit back.
            let start = self.topics.history_ends.get(partition).copied().unwrap_or(0);
            *position = (*position).max(start);
            // Records leave the ordering out of offset order: commit no further than the lowest not handed out.
            let held = self.topics.order.held_offsets(*partition).chain(self.merge.held_offsets((0, *partition)));
            if let Some(lowest) = held.filter(|&offset| offset >= start).min() {
                *position = (*position).min(lowest);
            }
        }
    }
}

impl<T: Topics> KafkaSource<T> {
    fn with(group: GroupConsumer, config: &KafkaSourceConfig, partitions: Vec<InputPartition>, topics: T) -> Self {
        KafkaSource {
            group,
            kafka: config.kafka.clone(),
            merge: EventTimeMerge::default(),
            blocked_since: None,
            partitions,
            topics,
        }
    }

    /// True once after the source was given new partitions (a consumer-group rebalance, or the start): records
    /// from them may already have been processed by another instance. Nothing of them is delivered until this has
    /// been called, so the caller can recover (read its output back, rebuild state) before the first new record.
    pub fn take_reassigned(&mut self) -> bool {
        let reassigned = self.group.take_reassigned();
        if reassigned {
            // What the merge held was never handed out: it is read again too.
            self.merge.clear();
            self.blocked_since = None;
            self.topics.clear();
        }
        reassigned
    }

    /// The consumer group's identity, for committing input offsets inside an output transaction.
    pub(crate) fn group_metadata(&self) -> Option<ConsumerGroupMetadata> {
        self.group.group_metadata()
    }

    /// Whether records are held back that later polls will deliver, so an idle-looking input is not at its end.
    pub(crate) fn holds_records(&self) -> bool {
        self.topics.holds_records()
    }

    /// Records that everything before `positions` is fully processed.
    pub(crate) fn commit(&mut self, positions: &Positions) -> Result<(), EngineError> {
        self.group.commit(positions)
    }

    /// One message from the consumer into the merge; false when nothing arrived within `timeout`.
    fn pull(&mut self, timeout: Duration) -> Result<bool, EngineError> {
        let (input, topic, msg) = match self.group.next(timeout)? {
            Polled::Message(input, topic, msg) => (input, topic, msg),
            Polled::Skipped => return Ok(true),
            Polled::Nothing => return Ok(false),
        };
        self.topics.accept(input, &msg, topic, &mut self.merge)?;
        Ok(true)
    }
}

impl<T: Topics> Source for KafkaSource<T> {
    /// Every partition this instance may read: all of both topics in a group (each instance reads only some of
    /// them; the others stop holding the watermark back after the idle timeout), or the static assignment. The
    /// internal topic's records arrive joined: none.
    fn partitions(&self) -> Vec<InputPartition> {
        self.partitions.clone()
    }

    /// The next event in event-time order across the partitions (see `merge`).
    fn poll(&mut self, timeout: Duration) -> Result<SourceEvent, EngineError> {
        let deadline = Instant::now() + timeout;
        loop {
            if self.group.reassigned() {
                // Let the job recover before anything of the new assignment is read.
                return Ok(SourceEvent::Idle);
            }
            let now = Instant::now();
            self.topics.release(now, &mut self.merge);
            let force = self.merge.held() >= MAX_HELD || self.blocked_since.is_some_and(|t| now - t >= MERGE_WAIT);
            let group = &self.group;
            if let Some(event) = self.merge.pop(|(input, partition)| group.has_more(input, partition), force) {
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

impl sealed::TopicsImpl for InputTopics {
    fn accept(
        &mut self,
        input: u8,
        msg: &BorrowedMessage<'_>,
        topic: Arc<str>,
        merge: &mut EventTimeMerge,
    ) -> Result<(), EngineError> {
        let event = self.decode_message(input, msg, topic)?;
        let order = match &event {
            SourceEvent::Record { record, .. } => record.event_time().millis(),
            _ => i64::MIN,
        };
        merge.push((input, msg.partition()), order, event);
        Ok(())
    }
}

impl InputTopics {
    /// A message as a record or a dead letter.
    fn decode_message(
        &self,
        input: u8,
        msg: &BorrowedMessage<'_>,
        topic: Arc<str>,
    ) -> Result<SourceEvent, EngineError> {
        let table = if input == 0 { Table::Transaction } else { Table::Identity };
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

    fn decode(&self, table: Table, payload: &[u8]) -> Result<Record, DataError> {
        let (schema_id, datum) = split_framed(payload)?;
        let schema = self.registry.schema_by_id(schema_id)?;
        let (row, event_time) = decode_value(table, datum, &schema)?;
        Ok(match table {
            Table::Transaction => Record::Transaction(Transaction { row }),
            Table::Identity => Record::Identity(Identity { row, event_time }),
        })
    }
}

impl sealed::TopicsImpl for JoinedTopic {
    /// A record goes through the ordering (which hands what may leave to the merge), a marker updates it, what
    /// does not decode is a dead letter.
    fn accept(
        &mut self,
        input: u8,
        msg: &BorrowedMessage<'_>,
        topic: Arc<str>,
        merge: &mut EventTimeMerge,
    ) -> Result<(), EngineError> {
        let (partition, offset) = (msg.partition(), msg.offset());
        let origin = Origin::Kafka { topic, partition, offset };
        let payload = msg.payload().unwrap_or_default();
        let mut release = |joined: Box<Joined>| push_joined(merge, input, joined);
        match decode_internal(payload, origin.clone()) {
            Ok(Internal::Joined(joined, progress)) => {
                self.order.record(partition, joined, progress, Instant::now(), &mut release)
            }
            Ok(Internal::Marker(progress)) => self.order.marker(partition, progress, Instant::now(), &mut release),
            Err(e) => {
                let dead = DeadLetter { reason: e.to_string(), origin, payload: payload.to_vec() };
                merge.push((input, partition), i64::MIN, SourceEvent::DeadLetter(dead));
            }
        }
        Ok(())
    }

    fn release(&mut self, now: Instant, merge: &mut EventTimeMerge) {
        self.order.release_silent(now, &mut |joined| push_joined(merge, 0, joined));
    }

    fn holds_records(&self) -> bool {
        self.order.held() > 0
    }

    fn clear(&mut self) {
        self.order.clear();
        self.history_ends.clear();
    }
}

/// Hands a record released by the ordering to the merge, in its internal partition.
fn push_joined(merge: &mut EventTimeMerge, input: u8, joined: Box<Joined>) {
    let partition = match &joined.origin {
        Origin::Kafka { partition, .. } => *partition,
        Origin::File { .. } => 0,
    };
    let time = joined.transaction.event_time().millis();
    merge.push((input, partition), time, SourceEvent::Joined(joined));
}

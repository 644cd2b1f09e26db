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

use fraudstream_data::avro::split_framed;
use fraudstream_data::avro_projected::OwnDecoder;
use fraudstream_data::registry::SchemaRegistry;
use fraudstream_data::{DataError, Record, Row, Table};
use rdkafka::consumer::ConsumerGroupMetadata;
use rdkafka::message::{BorrowedMessage, Message};

pub use super::group::{Assignment, KafkaSourceConfig};
use super::group::{GroupConsumer, Polled};
use super::identity_time::TimelessIdentities;
use super::input_decode::{DecodeAhead, DecodeContext, Decoded, Decoding};
use super::merge::EventTimeMerge;
use super::order::ProducerOrder;
use super::placement::Placement;
use super::repartition::{decode_internal, Internal};
use super::stage::KafkaInput;
use super::{KafkaSettings, Positions};
use crate::error::EngineError;
use crate::flow::{DeadLetter, DeadLetterKind, InputPartition, Joined, Origin, SourceEvent};
use crate::source::recycle::{Recycler, RowPool};
use crate::source::required::RequiredColumns;
use crate::source::{Backlog, Source};

/// Events held for event-time order at most; beyond, the earliest leaves without waiting for empty partitions.
const MAX_HELD: usize = 100_000;
/// How long the merge waits for an empty partition that still has records to fetch before releasing anyway: a
/// backstop against a broker that stops answering for one partition (memory is bounded by pausing, below).
const MERGE_WAIT: Duration = Duration::from_secs(2);
/// A partition holding this many records in the merge stops being fetched until it holds [`RESUME_AT`]: so the
/// merge holds a bounded amount however far apart in event time the partitions are, and the fetches go to the
/// partitions it waits for. (A broker that fills each fetch response from the first partitions it lists, as tansu
/// does, would otherwise starve the others.)
const PAUSE_AT: usize = 20_000;
const RESUME_AT: usize = 5_000;
/// How often the backlog is worked out again (a processing-time decision is made in seconds).
const BACKLOG_REFRESH: Duration = Duration::from_millis(20);

/// What the messages of a source's topics are, and how they enter the merge: [`InputTopics`] or [`JoinedTopic`].
pub trait Topics: sealed::TopicsImpl {}

impl Topics for InputTopics {}
impl Topics for JoinedTopic {}

/// The workings of [`Topics`], private to this module.
mod sealed {
    use super::*;

    pub trait TopicsImpl: Send {
        /// Takes a run of messages, in the order the consumer delivered them, and hands what they become to
        /// `merge`, now or (decoding ahead) through later [`settle`](Self::settle) calls; returns a buffer for the
        /// next run.
        fn accept(&mut self, batch: Vec<Raw>, merge: &mut EventTimeMerge) -> Result<Vec<Raw>, EngineError>;
        /// Hands runs decoded ahead to `merge` in the order they were accepted: those already decoded, and with
        /// `block` at least the next one; whether any was.
        fn settle(&mut self, _merge: &mut EventTimeMerge, _block: bool) -> Result<bool, EngineError> {
            Ok(false)
        }
        /// Whether another run can be accepted now (decoding ahead is bounded).
        fn has_room(&self) -> bool {
            true
        }
        /// Whether runs are being decoded.
        fn decoding(&self) -> bool {
            false
        }
        /// The partitions with messages being decoded: they have more records, and are behind.
        fn decoding_in(&self) -> Vec<(u8, i32)> {
            Vec::new()
        }
        /// Whether messages of `partition` are being decoded.
        fn decoding_holds(&self, _partition: (u8, i32)) -> bool {
            false
        }
        /// Before the merge is asked for the next event: hands on what has waited long enough elsewhere.
        fn release(&mut self, _now: Instant, _group: &GroupConsumer, _merge: &mut EventTimeMerge) {}
        /// Partitions were assigned (after `clear`): the topics learn which.
        fn assigned(&mut self, _group: &GroupConsumer) {}
        /// Whether records are held that later polls will deliver.
        fn holds_records(&self) -> bool {
            false
        }
        /// Forgets what is held (a new assignment restarts every partition from its committed offset).
        fn clear(&mut self) {}
        /// The table of input `input`, for topics whose records are joined: none for the internal topic.
        fn table(input: u8) -> Option<Table>;
        /// See [`KafkaSource::history`]: nothing for the input topics, whose state the join rebuilds by re-reading.
        fn history(
            &mut self,
            _kafka: &KafkaSettings,
            _group: &GroupConsumer,
            _from: &HashMap<i32, i64>,
            _f: &mut dyn FnMut(Joined),
        ) -> Result<u64, EngineError> {
            Ok(0)
        }
        /// See [`KafkaSource::limit_positions`]: the input topics hand records out in offset order.
        fn limit_positions(&self, _group: &GroupConsumer, _merge: &EventTimeMerge, _positions: &mut Positions) {}
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
    /// Where the source is behind, and when that was last worked out (it asks librdkafka per partition).
    backlog: Backlog,
    backlog_at: Option<Instant>,
    /// The run of messages being handed over (buffers reused).
    batch: Vec<Raw>,
}

/// The `transactions` and `identities` topics: Avro values decoded with the writer's schema from the registry.
///
/// Values written with our own schema take the fast path ([`OwnDecoder`], only the columns the job reads); any
/// other producer's are decoded by a [`ValueDecoder`] mapping fields by name (numeric widening, `""` as missing,
/// TransactionID from the key when the value lacks it, event time from TransactionDT, never a wall-clock field).
/// A schema that cannot be the topic's table is refused with where it is registered (a dead letter per record); one
/// that lacks a column the model reads stops the run (see [`RequiredColumns`]). Identities without an event time
/// take their transaction's ([`super::identity_time`]). A run over some of the partitions checks that the topics
/// are co-partitioned ([`super::placement`]).
pub struct InputTopics {
    topics: [String; 2],
    counts: [i32; 2],
    /// The writer schemas' decoders and the registry, shared with the runs being decoded.
    ctx: Arc<DecodeContext>,
    /// Runs of messages being decoded while the job works (see [`super::input_decode`]).
    ahead: DecodeAhead,
    /// Key schema ids already fetched from the registry (the registry client caches their plans).
    key_schemas: std::collections::HashSet<u32>,
    required: RequiredColumns,
    timeless: TimelessIdentities,
    /// Whether this instance reads only some of the partitions: then the topics must be co-partitioned.
    partial: bool,
    /// The co-partitioning check, made at the first records read while `partial`.
    placement: Option<Placement>,
    /// Rows the job has handed back for reuse, once it asked for a [`KafkaSource::recycler`].
    pool: Option<RowPool>,
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
        let columns = config.columns.as_deref();
        let own = [OwnDecoder::new(Table::Transaction, columns), OwnDecoder::new(Table::Identity, columns)];
        let input = InputTopics {
            topics: topics.map(str::to_string),
            counts: [counts[0].unwrap_or(0), counts[1].unwrap_or(0)],
            ctx: Arc::new(DecodeContext { decoders: HashMap::new(), own, registry }),
            ahead: DecodeAhead::default(),
            key_schemas: Default::default(),
            required: config.required.clone(),
            timeless: TimelessIdentities::default(),
            partial: false,
            placement: None,
            pool: None,
        };
        Ok(KafkaSource::with(group, config, partitions, input))
    }
}

impl KafkaSource<InputTopics> {
    /// The way for the job to hand back the rows of records it has written, which the source then decodes the
    /// next records into (see [`crate::source::recycle`]; rows of our own schema only, whose decoder overwrites
    /// every column the job reads). One per source: a second call replaces the first.
    pub fn recycler(&mut self) -> Recycler {
        let (recycler, pool) = crate::source::recycle::pool();
        self.topics.pool = Some(pool);
        recycler
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
            backlog: Backlog::default(),
            backlog_at: None,
            batch: Vec::new(),
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
            // The backlog cached before the assignment says nothing of the new partitions.
            self.backlog_at = None;
            self.topics.clear();
            self.topics.assigned(&self.group);
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

    /// Records that everything before `positions` is fully processed; false when the commit failed.
    pub(crate) fn commit(&mut self, positions: &Positions) -> Result<bool, EngineError> {
        self.group.commit(positions)
    }

    /// Hands every record from `from` (partition → offset; the partition's start where not given) to the
    /// committed offsets of the assigned partitions to `f`, oldest first per partition, and returns how many: how
    /// the scoring stage rebuilds client state after a restart or rebalance. Read with a consumer of its own,
    /// through the same ordering as live records, so the state is rebuilt in the order it was built. Records still
    /// held at the end are handed out live, after the recovery. The input topics have no such history.
    pub(crate) fn history(&mut self, from: &HashMap<i32, i64>, f: &mut dyn FnMut(Joined)) -> Result<u64, EngineError> {
        self.topics.history(&self.kafka, &self.group, from, f)
    }

    /// Lowers `positions` below records read but not handed out in offset order (the internal topic's, held for
    /// event-time order): committing past them would lose them on a restart.
    pub(crate) fn limit_positions(&self, positions: &mut Positions) {
        self.topics.limit_positions(&self.group, &self.merge, positions)
    }

    /// The committed positions of the current assignment, where reading started.
    pub(crate) fn committed(&self) -> Positions {
        self.group.committed()
    }

    /// Where each assigned partition ends, as the fetch responses report it; `None` until they all have.
    pub(crate) fn input_ends(&self) -> Option<Positions> {
        self.group.ends()
    }

    /// Messages from the consumer into the merge: the first one waits up to `timeout`, then whatever the consumer
    /// has already fetched, up to [`BATCH`]; runs decoded ahead are handed on as they are ready. False when nothing
    /// arrived.
    fn pull(&mut self, timeout: Duration) -> Result<bool, EngineError> {
        let mut progressed = self.topics.settle(&mut self.merge, false)?;
        if self.topics.has_room() {
            let wait = if progressed || self.topics.decoding() { Duration::ZERO } else { timeout };
            let taken = self.take(wait)?;
            if taken > 0 {
                let mut batch = std::mem::take(&mut self.batch);
                batch.truncate(taken);
                self.batch = self.topics.accept(batch, &mut self.merge)?;
                progressed = true;
            }
        }
        if !progressed && self.topics.decoding() {
            // Nothing new from the consumer, or no room: the next decoded run is what comes next.
            progressed = self.topics.settle(&mut self.merge, true)?;
        }
        if progressed {
            let merge = &self.merge;
            for partition in merge.holding().filter(|&p| merge.held_in(p) >= PAUSE_AT) {
                self.group.pause(partition)?;
            }
        }
        Ok(progressed)
    }

    /// Fills the message buffer from the consumer (see [`KafkaSource::pull`]); how many it took.
    fn take(&mut self, timeout: Duration) -> Result<usize, EngineError> {
        let mut taken = 0;
        let mut wait = timeout;
        while taken < BATCH {
            match self.group.next(wait)? {
                Polled::Message(input, topic, msg) => {
                    if self.batch.len() == taken {
                        self.batch.push(Raw::default());
                    }
                    self.batch[taken].fill(input, topic, &msg);
                    taken += 1;
                }
                Polled::Skipped => {}
                Polled::Nothing => break,
            }
            wait = Duration::ZERO;
        }
        Ok(taken)
    }
}

/// Messages taken from the consumer at once, decoded in parallel: catching up, the consumer hands over runs of
/// records it has already fetched, and decoding is most of the per-record work.
const BATCH: usize = 512;
/// Below this many messages a run is decoded on the calling thread (the hand-over would cost more).
const PARALLEL_FROM: usize = 64;

/// One consumed message, copied out of the consumer's buffer so a run of them can be decoded at once.
#[derive(Debug, Default)]
pub struct Raw {
    pub(super) input: u8,
    topic: Arc<str>,
    pub(super) partition: i32,
    offset: i64,
    pub(super) payload: Vec<u8>,
    /// The message key (another producer's value may hold no TransactionID, so the key's is used).
    pub(super) key: Option<Vec<u8>>,
}

impl Raw {
    fn fill(&mut self, input: u8, topic: Arc<str>, msg: &BorrowedMessage<'_>) {
        self.input = input;
        self.topic = topic;
        self.partition = msg.partition();
        self.offset = msg.offset();
        self.payload.clear();
        self.payload.extend_from_slice(msg.payload().unwrap_or_default());
        match (msg.key(), &mut self.key) {
            (None, key) => *key = None,
            (Some(k), Some(key)) => {
                key.clear();
                key.extend_from_slice(k);
            }
            (Some(k), key) => *key = Some(k.to_vec()),
        }
    }

    /// A dead letter of this message: its value and key as they came.
    pub(super) fn dead_letter(&self, kind: DeadLetterKind, reason: String) -> SourceEvent {
        let (payload, key) = (self.payload.clone(), self.key.clone());
        SourceEvent::DeadLetter(DeadLetter { kind, reason, origin: self.origin(), payload, key })
    }

    pub(super) fn origin(&self) -> Origin {
        Origin::Kafka { topic: self.topic.clone(), partition: self.partition, offset: self.offset }
    }
}

/// `f` over `batch`, in parallel on the rayon pool when the run is long enough; results in order.
fn decode_all<R: Send>(batch: &[Raw], f: impl Fn(&Raw) -> R + Sync + Send) -> Vec<R> {
    if batch.len() < PARALLEL_FROM {
        return batch.iter().map(f).collect();
    }
    use rayon::prelude::*;
    batch.par_iter().map(f).collect()
}

impl<T: Topics> Source for KafkaSource<T> {
    /// Every partition this instance may read: all of both topics in a group (each instance reads only some of
    /// them; the others stop holding the watermark back after the idle timeout), or the static assignment. The
    /// internal topic's records arrive joined: none.
    fn partitions(&self) -> Vec<InputPartition> {
        self.partitions.clone()
    }

    /// Input partitions with consumer lag or records held in the merge, worked out at most every
    /// [`BACKLOG_REFRESH`]. The internal topic's partitions are none: its records arrive joined.
    fn backlog(&mut self) -> Backlog {
        let now = Instant::now();
        if self.backlog_at.is_none_or(|at| now.duration_since(at) >= BACKLOG_REFRESH) {
            self.backlog_at = Some(now);
            let mut behind: Vec<(u8, i32)> =
                self.group.lagging().chain(self.merge.holding()).chain(self.topics.decoding_in()).collect();
            behind.sort_unstable();
            behind.dedup();
            self.backlog.behind = behind.into_iter().filter_map(|(input, p)| Some((T::table(input)?, p))).collect();
        }
        self.backlog.clone()
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
            self.topics.release(now, &self.group, &mut self.merge);
            let force = self.merge.held() >= MAX_HELD || self.blocked_since.is_some_and(|t| now - t >= MERGE_WAIT);
            for i in (0..self.group.paused().len()).rev() {
                let partition = self.group.paused()[i];
                if self.merge.held_in(partition) <= RESUME_AT {
                    self.group.resume(partition)?;
                }
            }
            let (group, topics) = (&self.group, &self.topics);
            let has_more =
                |(input, partition)| group.has_more(input, partition) || topics.decoding_holds((input, partition));
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

impl sealed::TopicsImpl for InputTopics {
    fn table(input: u8) -> Option<Table> {
        Some(table_of(input))
    }

    fn accept(&mut self, batch: Vec<Raw>, _merge: &mut EventTimeMerge) -> Result<Vec<Raw>, EngineError> {
        // Writer schemas (and key schemas, where the values need the key's id) are looked up, and fetched from the
        // registry when new, here on the job thread; the decoding itself runs ahead on the pool.
        for raw in &batch {
            self.prepare(raw)?;
        }
        // Rows to decode into: ones the job has finished with when it hands them back (see `recycler`), so a
        // catch-up does not allocate (and page in) a full-width row per record.
        let rows: Vec<Row> = match &mut self.pool {
            Some(pool) => batch.iter().map(|raw| pool.take(table_of(raw.input))).collect(),
            None => batch.iter().map(|raw| Row::empty(table_of(raw.input).catalog())).collect(),
        };
        self.ahead.submit(self.ctx.clone(), batch, rows);
        Ok(self.ahead.buffer())
    }

    fn settle(&mut self, merge: &mut EventTimeMerge, mut block: bool) -> Result<bool, EngineError> {
        let mut any = false;
        while let Some((batch, decoded)) = self.ahead.next(block) {
            let applied = self.apply(&batch, decoded, merge);
            self.ahead.reuse(batch);
            applied?;
            any = true;
            block = false;
        }
        Ok(any)
    }

    fn has_room(&self) -> bool {
        self.ahead.has_room()
    }

    fn decoding(&self) -> bool {
        self.ahead.running() > 0
    }

    fn decoding_in(&self) -> Vec<(u8, i32)> {
        self.ahead.partitions().collect()
    }

    fn decoding_holds(&self, partition: (u8, i32)) -> bool {
        self.ahead.holds(partition)
    }

    fn release(&mut self, now: Instant, group: &GroupConsumer, merge: &mut EventTimeMerge) {
        if !self.timeless.holds() {
            return;
        }
        // Identities wait for their transaction only while transactions may still come.
        let transactions_behind = group.lagging().any(|(input, _)| input == 0)
            || merge.holding().any(|(input, _)| input == 0)
            || self.ahead.partitions().any(|(input, _)| input == 0);
        if !transactions_behind {
            let mut expired = Vec::new();
            self.timeless.give_up(now, &mut expired);
            for (partition, order, event) in expired {
                merge.push(partition, order, event);
            }
        }
    }

    fn holds_records(&self) -> bool {
        self.timeless.holds() || self.decoding()
    }

    fn clear(&mut self) {
        self.ahead.clear();
        self.timeless.clear();
        self.placement = None;
    }

    fn assigned(&mut self, group: &GroupConsumer) {
        let mut assigned = [0i32; 2];
        for (input, _) in group.assigned_partitions() {
            assigned[usize::from(input.min(1))] += 1;
        }
        self.partial = assigned.iter().zip(&self.counts).any(|(a, c)| a < c);
    }

    /// Held identities (see [`super::identity_time`]) and identities handed to the merge out of offset order keep
    /// the identity partitions' positions below them.
    fn limit_positions(&self, group: &GroupConsumer, merge: &EventTimeMerge, positions: &mut Positions) {
        if !self.timeless.holds() && merge.held() == 0 {
            return;
        }
        let topic = group.topic(1);
        for ((t, partition), position) in positions.iter_mut() {
            if *t == topic {
                let held = self.timeless.held_offsets(*partition).chain(merge.held_offsets((1, *partition)));
                if let Some(lowest) = held.min() {
                    *position = (*position).min(lowest);
                }
            }
        }
    }
}

impl InputTopics {
    /// Hands a decoded run to `merge`: identities without an event time wait for their transaction, every message
    /// is checked against the co-partitioning (when reading some partitions), records enter in event time.
    fn apply(
        &mut self,
        batch: &[Raw],
        decoded: Vec<Result<Decoded, EngineError>>,
        merge: &mut EventTimeMerge,
    ) -> Result<(), EngineError> {
        let mut stamped = Vec::new();
        let now = Instant::now();
        for (raw, decoded) in batch.iter().zip(decoded) {
            let event = match decoded? {
                Decoded::Event(event) => event,
                Decoded::Timeless(row) => {
                    self.check_placement(raw, Some(row.nums[fraudstream_data::record::ID_SLOT] as i64))?;
                    let key = raw.key.as_deref();
                    if let Some(s) = self.timeless.identity(row, raw.origin(), &raw.payload, key, now) {
                        stamped.push(s);
                    }
                    continue;
                }
            };
            let order = match &event {
                SourceEvent::Record { record, .. } => {
                    self.check_placement(raw, Some(record.transaction_id()))?;
                    if let Record::Transaction(tx) = record {
                        self.timeless.transaction(tx.id(), tx.event_time(), &mut stamped);
                    }
                    record.event_time().millis()
                }
                _ => {
                    self.check_placement(raw, None)?;
                    i64::MIN
                }
            };
            merge.push((raw.input, raw.partition), order, event);
            for (partition, order, event) in stamped.drain(..) {
                merge.push_by_time(partition, order, event);
            }
        }
        for (partition, order, event) in stamped {
            merge.push_by_time(partition, order, event);
        }
        Ok(())
    }

    /// Looks up how `raw`'s value is decoded, and its key schema where the value needs the key's id. Errors only
    /// where the data is not at fault (an unreachable registry), or the input lacks columns the model reads.
    fn prepare(&mut self, raw: &Raw) -> Result<(), EngineError> {
        let Ok((id, _)) = split_framed(&raw.payload) else { return Ok(()) };
        let table = table_of(raw.input);
        if !self.ctx.decoders.contains_key(&(raw.input, id)) {
            let decoding = match self.ctx.registry.value_decoder(table, id) {
                Ok(d) if d.is_own_schema() => Decoding::Own,
                Ok(d) => {
                    self.timeless.watch();
                    let absent: Vec<&str> = self
                        .required
                        .names
                        .iter()
                        .filter(|n| table.catalog().get(n).is_some_and(|c| !d.has_column(c)))
                        .map(String::as_str)
                        .collect();
                    let input = format!("{} (writer schema id {id})", self.topics[usize::from(raw.input)]);
                    self.required.check(&input, &absent)?;
                    Decoding::Foreign(d)
                }
                Err(e @ DataError::Avro { .. }) => Decoding::Refused(e.to_string()),
                // Decoding says so in the dead letter; asked again with the next batch, in case it is registered.
                Err(DataError::UnknownSchemaId { .. }) => return Ok(()),
                Err(e) => return Err(e.into()),
            };
            // A new writer schema: runs being decoded keep the context they were handed.
            Arc::make_mut(&mut self.ctx).decoders.insert((raw.input, id), decoding);
        }
        if let (Some(Decoding::Foreign(d)), Some(key)) = (self.ctx.decoders.get(&(raw.input, id)), &raw.key) {
            let key_schema = split_framed(key).ok().map(|(key_id, _)| key_id);
            if let Some(key_id) = key_schema.filter(|k| d.needs_key() && !self.key_schemas.contains(k)) {
                match self.ctx.registry.key_transaction_id(key) {
                    Err(e @ (DataError::Registry { .. } | DataError::Io { .. })) => return Err(e.into()),
                    // Known now (the registry client caches the plan); a bad key is the record's dead letter.
                    _ => self.key_schemas.insert(key_id),
                };
            }
        }
        Ok(())
    }

    /// While this instance reads only some partitions: checks that `raw` is where co-partitioned input puts it.
    fn check_placement(&mut self, raw: &Raw, transaction_id: Option<i64>) -> Result<(), EngineError> {
        if !self.partial {
            return Ok(());
        }
        let placement = match &mut self.placement {
            Some(p) => p,
            None => self.placement.insert(Placement::new(self.topics.clone(), self.counts)?),
        };
        placement.check(raw.input, raw.partition, raw.offset, raw.key.as_deref(), transaction_id)
    }
}

/// The table of input `input` of the input topics.
pub(super) fn table_of(input: u8) -> Table {
    if input == 0 {
        Table::Transaction
    } else {
        Table::Identity
    }
}

impl sealed::TopicsImpl for JoinedTopic {
    /// Hands every joined record from `from` (partition → offset; the partition's start where not given) to the
    /// committed offsets of the assigned partitions to `f`, oldest first per partition, and returns how many: how
    /// the scoring stage rebuilds client state after a restart or rebalance. Read with a consumer of its own,
    /// through the same ordering as live records, so the state is rebuilt in the order it was built. Records still
    /// held at the end are handed out live, after the recovery.
    fn history(
        &mut self,
        kafka: &KafkaSettings,
        group: &GroupConsumer,
        from: &HashMap<i32, i64>,
        f: &mut dyn FnMut(Joined),
    ) -> Result<u64, EngineError> {
        let topic = group.topic(0);
        let ends = group.committed_positions()?;
        let mut replayed = 0u64;
        let order = &mut self.order;
        let mut release = |joined: Box<Joined>| {
            f(*joined);
            replayed += 1;
        };
        let ranges = ends.iter().map(|(&p, &end)| (p, (from.get(&p).copied().unwrap_or(0), end))).collect();
        kafka.read_between(&topic, &ranges, |msg| {
            // Reading may begin before a start (see `read_between`); what precedes it the state already holds.
            if from.get(&msg.partition()).is_some_and(|&start| msg.offset() < start) {
                return Ok(());
            }
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
        self.history_ends = ends;
        Ok(replayed)
    }

    /// Lowers `positions` of the internal topic below records read but not handed out in offset order (held for
    /// event-time order): committing past them would lose them on a restart.
    fn limit_positions(&self, group: &GroupConsumer, merge: &EventTimeMerge, positions: &mut Positions) {
        let topic = group.topic(0);
        for ((t, partition), position) in positions.iter_mut() {
            if *t != topic {
                continue;
            }
            // Records before the offsets this assignment started from were processed before it; the ones of them
            // the ordering hands out again after the replay must not move the commit back.
            let start = self.history_ends.get(partition).copied().unwrap_or(0);
            *position = (*position).max(start);
            // Records leave the ordering out of offset order: commit no further than the lowest not handed out.
            let held = self.order.held_offsets(*partition).chain(merge.held_offsets((0, *partition)));
            if let Some(lowest) = held.filter(|&offset| offset >= start).min() {
                *position = (*position).min(lowest);
            }
        }
    }

    fn table(_input: u8) -> Option<Table> {
        None
    }

    /// A record goes through the ordering (which hands what may leave to the merge), a marker updates it, what
    /// does not decode is a dead letter.
    fn accept(&mut self, batch: Vec<Raw>, merge: &mut EventTimeMerge) -> Result<Vec<Raw>, EngineError> {
        let decoded = decode_all(&batch, |raw| decode_internal(&raw.payload, raw.origin()));
        for (raw, internal) in batch.iter().zip(decoded) {
            let (input, partition) = (raw.input, raw.partition);
            let ends = &self.history_ends;
            let mut release = |joined: Box<Joined>| push_joined(merge, input, joined, ends);
            match internal {
                Ok(Internal::Joined(joined, progress)) => {
                    self.order.record(partition, joined, progress, Instant::now(), &mut release)
                }
                Ok(Internal::Marker(progress)) => self.order.marker(partition, progress, Instant::now(), &mut release),
                Err(e) => {
                    let dead = raw.dead_letter(DeadLetterKind::Unreadable, e.to_string());
                    merge.push((input, partition), i64::MIN, dead);
                }
            }
        }
        Ok(batch)
    }

    fn release(&mut self, now: Instant, _group: &GroupConsumer, merge: &mut EventTimeMerge) {
        let ends = &self.history_ends;
        self.order.release_silent(now, &mut |joined| push_joined(merge, 0, joined, ends));
    }

    fn holds_records(&self) -> bool {
        self.order.held() > 0
    }

    fn clear(&mut self) {
        self.order.clear();
        self.history_ends.clear();
    }
}

/// Hands a record released by the ordering to the merge, in its internal partition. A record before the offsets
/// the assignment started from (`history_ends`) was scored before the restart — every record below a committed
/// offset was, since commits stay below what the ordering holds — and is only still held because the replay
/// released less than the run that committed: it goes on to update client state, not to be scored again.
fn push_joined(merge: &mut EventTimeMerge, input: u8, joined: Box<Joined>, history_ends: &HashMap<i32, i64>) {
    let (partition, offset) = match &joined.origin {
        Origin::Kafka { partition, offset, .. } => (*partition, *offset),
        Origin::File { .. } => (0, i64::MAX),
    };
    let time = joined.transaction.event_time().millis();
    let scored_before = history_ends.get(&partition).is_some_and(|&end| offset < end);
    merge.push(
        (input, partition),
        time,
        if scored_before { SourceEvent::Seen(joined) } else { SourceEvent::Joined(joined) },
    );
}

impl<T: Topics> KafkaInput for KafkaSource<T> {
    fn take_reassigned(&mut self) -> bool {
        KafkaSource::take_reassigned(self)
    }
    fn group_metadata(&self) -> Option<ConsumerGroupMetadata> {
        KafkaSource::group_metadata(self)
    }
    fn holds_records(&self) -> bool {
        KafkaSource::holds_records(self)
    }
    fn commit(&mut self, positions: &Positions) -> Result<bool, EngineError> {
        KafkaSource::commit(self, positions)
    }
    fn committed(&self) -> Positions {
        KafkaSource::committed(self)
    }
    fn input_ends(&self) -> Option<Positions> {
        KafkaSource::input_ends(self)
    }
    fn limit_positions(&self, positions: &mut Positions) {
        KafkaSource::limit_positions(self, positions)
    }
    fn history(&mut self, from: &HashMap<i32, i64>, f: &mut dyn FnMut(Joined)) -> Result<u64, EngineError> {
        KafkaSource::history(self, from, f)
    }
}

//! The join stage's output in the repartitioned topology: joined records to the internal topic, partitioned by
//! card1, each carrying the stage's progress; progress markers where it has written nothing lately; dead letters
//! to the dead-letters topic (see [`super::repartition`]).

use std::collections::HashSet;
use std::hash::BuildHasher;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use rdkafka::message::Message;
use rdkafka::producer::BaseRecord;

use super::repartition::MARKER_KEY;
use super::repartition::{encode_joined, encode_marker, key_of, partition_for, transaction_id_of_key, Progress};
use super::sink::KafkaSinks;
use super::stage::KafkaStage;
use super::stage::ReadBack;
use crate::error::EngineError;
use crate::flow::{DeadLetter, Joined};
use crate::job::Downstream;
use crate::observe::{JobStatus, RunProgress, RunSummary};
use crate::sink::Sink;

/// How often a join stage reports its progress to the internal topic's partitions (bounds how long a scoring stage
/// waits to order records of two join stages, live).
const PROGRESS_INTERVAL: Duration = Duration::from_millis(200);
/// A join stage without input for this long, and caught up, reports itself idle, so the scoring stages stop waiting
/// for it.
const IDLE_PROGRESS: Duration = Duration::from_secs(1);
/// A join stage without input for this long reports itself idle even though its consumer says it is behind: a
/// partition whose lag never reaches 0 (a transactional topic's last commit marker, a partition no fetch response
/// comes from) must not hold the scoring stages back for good. Long enough for a starting consumer's first fetch.
const IDLE_WHILE_BEHIND: Duration = Duration::from_secs(5);

/// The join stage's [`Downstream`]: the internal topic and the dead letters.
pub(super) struct Forward<'p> {
    sinks: KafkaSinks,
    topic: String,
    partitions: i32,
    /// This run's random identity in progress reports: a restarted join stage must not inherit the progress its
    /// killed predecessor reported.
    producer: u64,
    /// When each partition was last written (a record or a marker): markers go only where nothing went lately.
    last_write: Vec<Instant>,
    value: Vec<u8>,
    /// TransactionIDs the internal topic already holds (forwarded before a restart): not forwarded again.
    already_forwarded: HashSet<i64>,
    forwarded: u64,
    dead_letters: u64,
    by_kind: std::collections::BTreeMap<crate::flow::DeadLetterKind, u64>,
    progress: &'p RunProgress,
    dead_letters_metric: metrics::Counter,
    last_report: Instant,
    /// Since when no input has arrived.
    idle_since: Option<Instant>,
    reported_idle: bool,
}

impl<'p> Forward<'p> {
    /// Forwards into `topic` (created with `partitions` partitions if missing) through `sinks`' producer, and tells
    /// the scoring stages at once that this stage has read nothing yet (they wait for it from now on).
    pub fn new(
        sinks: KafkaSinks,
        topic: &str,
        partitions: i32,
        progress: &'p RunProgress,
    ) -> Result<Forward<'p>, EngineError> {
        let config = sinks.config();
        let counts = config.kafka.ensure_topics(&[topic], partitions, config.replication)?;
        sinks.watch(topic, counts[0])?;
        let producer = std::collections::hash_map::RandomState::new().hash_one((std::process::id(), Instant::now()));
        let mut forward = Forward {
            sinks,
            topic: topic.to_string(),
            partitions: counts[0],
            producer,
            last_write: vec![Instant::now(); counts[0].max(0) as usize],
            value: Vec::with_capacity(2048),
            already_forwarded: HashSet::new(),
            forwarded: 0,
            dead_letters: 0,
            by_kind: Default::default(),
            progress,
            dead_letters_metric: metrics::counter!("fraudstream_dead_letters_total"),
            last_report: Instant::now(),
            idle_since: None,
            reported_idle: false,
        };
        forward.write_progress(i64::MIN, Duration::ZERO)?;
        Ok(forward)
    }

    pub fn sinks(&mut self) -> &mut KafkaSinks {
        &mut self.sinks
    }

    /// Reads back which transactions the internal topic holds from `from` on (they are not forwarded again).
    pub fn read_back(&mut self, from: &ReadBack) -> Result<(), EngineError> {
        self.already_forwarded.clear();
        if *from == ReadBack::Nothing {
            return Ok(());
        }
        let reading = Instant::now();
        let ids = &mut self.already_forwarded;
        super::recovery::read_back(&self.sinks.config().kafka, &self.topic, from, |msg| {
            ids.extend(msg.key().and_then(transaction_id_of_key));
            Ok(())
        })?;
        tracing::info!(
            "the internal topic already holds {} joined records (read back in {:.1} s); they are not forwarded again",
            self.already_forwarded.len(),
            reading.elapsed().as_secs_f64()
        );
        Ok(())
    }

    /// After each input event: tells the scoring stages where this stage stands, a few times a second, from the
    /// start. A stopping stage (at the end, idle, or interrupted) writes nothing more under this identity; an idle
    /// one (no input for [`IDLE_PROGRESS`] while `caught_up`, or for [`IDLE_WHILE_BEHIND`] at all, and nothing
    /// waiting in the join) says so once, then stays quiet until it reads again. A stage that is only behind (a
    /// consumer before its first fetch) is not idle: its records are still to come, and earlier than the others'.
    pub fn report_progress(
        &mut self,
        now: Instant,
        input_idle: bool,
        caught_up: bool,
        waiting: bool,
        frontier: &dyn Fn() -> i64,
        done: bool,
    ) -> Result<(), EngineError> {
        if input_idle {
            self.idle_since.get_or_insert(now);
        } else {
            self.idle_since = None;
        }
        if !done && now.duration_since(self.last_report) < PROGRESS_INTERVAL {
            return Ok(());
        }
        let idle = self.idle_since.is_some_and(|since| {
            let silent = now.duration_since(since);
            silent >= IDLE_PROGRESS && (caught_up || silent >= IDLE_WHILE_BEHIND)
        }) && !waiting;
        if done {
            self.write_progress(Progress::FINISHED, Duration::ZERO)?;
        } else if idle && !self.reported_idle {
            self.write_progress(Progress::IDLE, Duration::ZERO)?;
        } else if !idle {
            // Only to partitions this stage has written nothing to lately: its records carry its progress.
            self.write_progress(frontier(), PROGRESS_INTERVAL)?;
        }
        self.reported_idle = idle;
        self.last_report = now;
        Ok(())
    }

    /// Tells the partitions this stage has written nothing to for `quiet_for` (all of them with zero) where it
    /// stands (`frontier_ms`, or [`Progress::IDLE`] / [`Progress::FINISHED`]).
    fn write_progress(&mut self, frontier_ms: i64, quiet_for: Duration) -> Result<(), EngineError> {
        self.value.clear();
        encode_marker(&Progress::now(self.producer, frontier_ms), &mut self.value);
        let now = Instant::now();
        for (partition, at) in self.last_write.iter_mut().enumerate() {
            if quiet_for.is_zero() || now.duration_since(*at) >= quiet_for {
                *at = now;
                let rec = BaseRecord::to(self.topic.as_str())
                    .key(MARKER_KEY)
                    .payload(&self.value[..])
                    .partition(partition as i32);
                self.sinks.send(rec)?;
            }
        }
        Ok(())
    }
}

impl Downstream for Forward<'_> {
    /// Writes a joined record to its card's partition, with `frontier` as this stage's progress.
    fn joined(&mut self, joined: Box<Joined>, frontier: &dyn Fn() -> i64) -> Result<(), EngineError> {
        let tx = &joined.transaction;
        // Forwarded before a restart: the internal topic already has it.
        if self.already_forwarded.remove(&tx.id()) {
            return Ok(());
        }
        self.value.clear();
        encode_joined(&joined, &Progress::now(self.producer, frontier()), &mut self.value)?;
        let key = key_of(tx.id());
        let partition = partition_for(tx, self.partitions);
        if let Some(at) = self.last_write.get_mut(partition as usize) {
            *at = Instant::now();
        }
        let rec = BaseRecord::to(self.topic.as_str())
            .key(&key[..])
            .payload(&self.value[..])
            .partition(partition)
            .timestamp(tx.event_time().millis());
        self.sinks.send(rec)?;
        self.forwarded += 1;
        Ok(())
    }

    fn dead_letter(&mut self, dead: &DeadLetter) -> Result<(), EngineError> {
        self.dead_letters += 1;
        *self.by_kind.entry(dead.kind).or_default() += 1;
        self.dead_letters_metric.increment(1);
        self.progress.dead_letters.fetch_add(1, Ordering::Relaxed);
        self.sinks.write_dead_letter(dead)
    }

    fn tick(&mut self, _now: Instant) -> Result<(), EngineError> {
        Ok(())
    }

    fn drain(&mut self) -> Result<(), EngineError> {
        Ok(())
    }

    fn flush(&mut self) -> Result<(), EngineError> {
        self.sinks.flush()
    }

    fn report(&mut self, _status: &mut JobStatus) {}

    fn summarize(&mut self, summary: &mut RunSummary) {
        summary.forwarded = self.forwarded;
        summary.dead_letters += self.dead_letters;
        for (kind, n) in &self.by_kind {
            *summary.dead_letters_by_kind.entry(*kind).or_default() += n;
        }
    }
}

impl KafkaStage for Forward<'_> {
    fn sinks(&mut self) -> &mut KafkaSinks {
        Forward::sinks(self)
    }

    fn read_back(&mut self, from: &ReadBack) -> Result<(), EngineError> {
        Forward::read_back(self, from)
    }

    fn report_progress(
        &mut self,
        now: Instant,
        input_idle: bool,
        caught_up: bool,
        waiting: bool,
        frontier: &dyn Fn() -> i64,
        done: bool,
    ) -> Result<(), EngineError> {
        Forward::report_progress(self, now, input_idle, caught_up, waiting, frontier, done)
    }
}

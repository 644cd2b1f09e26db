//! Running one stage on Kafka: the consumer loop around a [`Job`].
//!
//! Each turn polls the source; recovers first when partitions were assigned (`recovery`); moves the event through
//! the job; lets processing time tick; lets a join stage report its progress; checkpoints every commit interval
//! (`checkpoint`). A stage ends when it is stopped (Ctrl-C), when its input has been idle for `stop_after_idle`
//! (bounded runs over a stream), or when the other stage of the topology failed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rdkafka::consumer::ConsumerGroupMetadata;

use super::checkpoint::{Checkpoints, ReadBack};
use super::forward::Forward;
use super::sink::KafkaSinks;
use super::source::{KafkaSource, Topics};
use super::{checkpoint, recovery, Positions};
use crate::error::EngineError;
use crate::features::FeatureStep;
use crate::flow::{DeadLetterKind, Joined, SourceEvent};
use crate::job::{Downstream, Job, ScoringStage};
use crate::observe::RunSummary;
use crate::source::Source;

/// A run whose first this-many input messages all fail to decode stops before committing them (see
/// [`Unreadable`]).
pub(super) const UNREADABLE_START: u64 = 1_000;

/// Watches the start of a run: when every one of the first [`UNREADABLE_START`] messages is unreadable, the input
/// is not what the job can read (another producer's format, the wrong topic) — stopping with the first reason
/// before a commit lets a fixed job read them again, instead of dead-lettering the topic and committing past it.
#[derive(Debug, Default)]
struct Unreadable {
    seen: u64,
    first_reason: Option<String>,
    settled: bool,
}

impl Unreadable {
    fn observe(&mut self, event: &SourceEvent) -> Result<(), EngineError> {
        if self.settled {
            return Ok(());
        }
        match event {
            SourceEvent::DeadLetter(d) if d.kind == DeadLetterKind::Unreadable => {
                self.seen += 1;
                self.first_reason.get_or_insert_with(|| format!("{}: {}", d.origin, d.reason));
            }
            SourceEvent::Record { .. } | SourceEvent::Joined(_) => self.settled = true,
            _ => {}
        }
        if self.seen >= UNREADABLE_START {
            return Err(EngineError::Config(format!(
                "the first {UNREADABLE_START} messages of the input could not be read, so nothing was committed: \
                 is this input written in a format the job reads (see docs/avro-schemas.md)? The first: {}",
                self.first_reason.as_deref().unwrap_or_default()
            )));
        }
        Ok(())
    }
}

/// How often the job learns where the source is behind (processing-time decisions are made in seconds).
const BACKLOG_EVERY: Duration = Duration::from_millis(20);

/// What the driver needs of a Kafka source beyond [`Source`].
pub(super) trait KafkaInput: Source {
    /// True once after partitions were assigned (see [`KafkaSource::take_reassigned`]).
    fn take_reassigned(&mut self) -> bool;
    /// The consumer group's identity, for committing offsets inside an output transaction.
    fn group_metadata(&self) -> Option<ConsumerGroupMetadata>;
    /// Whether records are held that later polls will deliver.
    fn holds_records(&self) -> bool;
    /// Commits `positions`; false when the commit failed (it is retried at the next checkpoint).
    fn commit(&mut self, positions: &Positions) -> Result<bool, EngineError>;
    /// The committed positions of the current assignment.
    fn committed(&self) -> Positions;
    /// Where each assigned partition ends, as the fetch responses report it; `None` until they all have.
    fn input_ends(&self) -> Option<Positions>;
    /// Lowers `positions` below records read but not handed out in offset order.
    fn limit_positions(&self, _positions: &mut Positions) {}
    /// Hands every record from `from` (partition → offset; the start where not given) to the committed offsets
    /// to `f` (how client state is rebuilt); sources without such a history hand over nothing.
    fn history(&mut self, _from: &HashMap<i32, i64>, _f: &mut dyn FnMut(Joined)) -> Result<u64, EngineError> {
        Ok(0)
    }
}

/// What the driver needs of a stage's downstream beyond [`Downstream`].
pub(super) trait KafkaStage: Downstream {
    /// The output topics' producer (checkpoints commit through it).
    fn sinks(&mut self) -> &mut KafkaSinks;
    /// Reads back what the output already holds from where `from` says, so it is not written again.
    fn read_back(&mut self, from: &ReadBack) -> Result<(), EngineError>;
    /// The client-feature state, rebuilt after an assignment (scoring stages of models with client features).
    fn features(&mut self) -> Option<&mut FeatureStep> {
        None
    }
    /// After each input event (see [`Forward::report_progress`]); only a join stage reports.
    fn report_progress(
        &mut self,
        _now: Instant,
        _input_idle: bool,
        _waiting: bool,
        _frontier: &dyn Fn() -> i64,
        _done: bool,
    ) -> Result<(), EngineError> {
        Ok(())
    }
}

/// What one stage of the repartitioned topology knows of the other.
#[derive(Debug, Default)]
pub(super) struct Peer {
    /// The other stage has ended. The scoring stage's idle stop waits for this: until the join stage ends, idle
    /// input only means it has not forwarded anything lately.
    pub done: AtomicBool,
    /// The other stage failed: stop too.
    pub failed: AtomicBool,
}

/// How a stage ends and checkpoints.
pub(super) struct Control<'a> {
    /// Set from outside (Ctrl-C) to stop after a final flush and commit.
    pub stop: &'a AtomicBool,
    /// Stop once no input has arrived for this long after the first record or partition assignment.
    pub stop_after_idle: Option<Duration>,
    /// How often to flush the sinks and commit input positions.
    pub commit_interval: Duration,
    /// The other stage of the repartitioned topology, when this run is one of them.
    pub peer: Option<&'a Peer>,
}

/// Runs `job` over `source` until it is stopped, idle or its peer failed (see the module docs); `checkpoints` are
/// the stage's.
pub(super) fn drive<S: KafkaInput, D: KafkaStage>(
    source: &mut S,
    mut job: Job<'_, D>,
    mut checkpoints: Checkpoints,
    control: Control<'_>,
) -> Result<RunSummary, EngineError> {
    job.register(source.partitions(), Instant::now());
    let mut positions = Positions::new();
    // Idleness counts from the first record or partition assignment, so waiting to join a consumer group is not
    // mistaken for idle input.
    let mut last_input: Option<Instant> = None;
    let mut last_commit = Instant::now();
    let mut peer_was_done = control.peer.is_none();
    let mut recovering = Duration::ZERO;
    let mut last_backlog = Instant::now() - BACKLOG_EVERY;
    let mut unreadable = Unreadable::default();
    loop {
        let event = source.poll(Duration::from_millis(50))?;
        if source.take_reassigned() {
            // New partitions, before anything of them is processed: another instance (or a killed predecessor)
            // may have handled some of their records.
            let started = Instant::now();
            recovery::recover(source, &mut job, &mut checkpoints)?;
            recovering += started.elapsed();
            // Every record past the committed offsets is delivered again: start the join and the positions over,
            // or re-read transactions would be emitted twice.
            let now = Instant::now();
            job.restart(now);
            positions.clear();
            // Idleness also counts from an assignment, but only from the end of the recovery: reading back a
            // large output is not idle input.
            last_input = Some(now);
        }
        let now = Instant::now();
        let input_idle = matches!(event, SourceEvent::Idle);
        if matches!(event, SourceEvent::Record { .. } | SourceEvent::Joined(_)) {
            last_input = Some(now);
        }
        unreadable.observe(&event)?;
        checkpoint::advance(&mut positions, &event);
        let end = matches!(event, SourceEvent::End);
        if now.duration_since(last_backlog) >= BACKLOG_EVERY || input_idle {
            job.set_backlog(&source.backlog());
            last_backlog = now;
        }
        job.process(event)?;
        let peer_done = control.peer.is_none_or(|p| p.done.load(Ordering::Relaxed));
        if peer_done && !peer_was_done {
            // The join stage's last records may still be on their way: idleness counts from its end.
            peer_was_done = true;
            last_input = Some(now);
        }
        let idle_stop = peer_done
            && !source.holds_records()
            && control.stop_after_idle.is_some_and(|d| last_input.is_some_and(|last| now.duration_since(last) >= d));
        let peer_failed = control.peer.is_some_and(|p| p.failed.load(Ordering::Relaxed));
        let interrupted = !end && !idle_stop && (control.stop.load(Ordering::Relaxed) || peer_failed);
        let done = end || idle_stop || interrupted;
        if done && !interrupted {
            // The end of a bounded run: transactions still waiting for an identity are emitted. An interrupted
            // run leaves them: the checkpoint commits no further than the oldest of them, so the next run reads
            // them again and can still join them.
            job.finish(now)?;
        } else {
            job.tick(now)?;
        }
        let waiting = job.waiting();
        {
            let (stage, frontier) = job.downstream_and_frontier(now);
            stage.report_progress(now, input_idle, waiting, &frontier, done)?;
        }
        // While the input has given only unreadable messages, nothing is committed (see `Unreadable`).
        let undecided = !unreadable.settled && unreadable.seen > 0 && !done;
        if !undecided && (done || now.duration_since(last_commit) >= control.commit_interval) {
            checkpoint::checkpoint(source, &mut job, &positions, &mut checkpoints)?;
            last_commit = now;
        }
        job.report(now, done);
        if done {
            return Ok(RunSummary { recovery: recovering, ..job.summary() });
        }
    }
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

impl KafkaStage for ScoringStage<'_, '_, '_, KafkaSinks> {
    fn sinks(&mut self) -> &mut KafkaSinks {
        self.sink()
    }

    fn read_back(&mut self, from: &ReadBack) -> Result<(), EngineError> {
        let written = recovery::read_back_scores(self.sink(), from)?;
        self.note_written(written);
        Ok(())
    }

    fn features(&mut self) -> Option<&mut FeatureStep> {
        ScoringStage::features(self)
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
        waiting: bool,
        frontier: &dyn Fn() -> i64,
        done: bool,
    ) -> Result<(), EngineError> {
        Forward::report_progress(self, now, input_idle, waiting, frontier, done)
    }
}

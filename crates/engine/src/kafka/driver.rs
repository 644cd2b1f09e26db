//! Running one stage on Kafka: the consumer loop around a [`Job`].
//!
//! Each turn polls the source; recovers first when partitions were assigned (`recovery`); moves the event through
//! the job; lets processing time tick; lets a join stage report its progress; checkpoints every commit interval
//! (`checkpoint`). A stage ends when it is stopped (Ctrl-C), when its input has been idle for `stop_after_idle`
//! (bounded runs over a stream), or when the other stage of the topology failed.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::checkpoint::Checkpoints;
use super::stage::{Control, KafkaInput, KafkaStage};
use super::{checkpoint, recovery, Positions};
use crate::error::EngineError;
use crate::flow::{DeadLetterKind, SourceEvent};
use crate::job::Job;
use crate::observe::RunSummary;

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
        // Whether the source has delivered all it knows of (fresh whenever the input is idle): a join stage whose
        // consumer is still behind (before its first fetch, or with records held back) will write earlier records,
        // which the scoring stages must wait for (see `Forward::report_progress`).
        let mut caught_up = false;
        if now.duration_since(last_backlog) >= BACKLOG_EVERY || input_idle {
            let backlog = source.backlog();
            caught_up = backlog.caught_up();
            job.set_backlog(&backlog);
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
            stage.report_progress(now, input_idle, caught_up, waiting, &frontier, done)?;
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

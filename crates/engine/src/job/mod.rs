//! The streaming job: **read → event time → join → features → score → write**, and checkpoints around it.
//!
//! [`Job`] holds the operators in the order records pass them and moves each input event forward through them:
//!
//! 1. *event time* ([`clock`]): pacing (replay at a speed-up or a rate) and per-partition watermarks;
//! 2. *join* ([`crate::join`]): the event-time LEFT interval join of transactions with identities;
//! 3. what the join emits goes to the job's [`Downstream`]: normally the scoring half, [`ScoringStage`] —
//!    *features* ([`crate::features`]), *score* ([`crate::model_stage`]) and *write* ([`crate::write`]) into a
//!    [`crate::sink::Sink`]; in the join stage of the repartitioned Kafka topology, the internal topic.
//!
//! The job never reads input or commits on its own: a driver owns the source and calls [`Job::process`] for each
//! event, [`Job::tick`] as processing time passes, and [`Job::finish`] at the end of the input. The embedded driver
//! ([`embedded`]) runs the CSV files to their end; the Kafka driver (`crate::kafka`) adds what a consumer group
//! needs — recovery after partitions are assigned, checkpoints that commit input offsets only for durable output.
//!
//! Both modes therefore run the same operator code on every record.

mod clock;
pub mod embedded;
mod scoring;

pub use embedded::{run_embedded, run_embedded_until, RunConfig};
pub use scoring::ScoringStage;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use fraudstream_data::{EventTime, Record, Table};

use crate::error::EngineError;
use crate::flow::{DeadLetter, InputPartition, JoinOutput, Joined, Origin, SourceEvent};
use crate::join::{IntervalJoin, JoinConfig};
use crate::metrics::JoinMetrics;
use crate::model_stage::OnModelError;
use crate::observe::{JobStatus, RunProgress, RunSummary};
use crate::pacing::Pacing;
use crate::source::Backlog;
use clock::EventClock;

/// The operator settings shared by both modes.
#[derive(Debug, Clone)]
pub struct JobConfig {
    pub join: JoinConfig,
    pub max_out_of_orderness: Duration,
    pub idle_timeout: Duration,
    pub pacing: Pacing,
    pub batch_size: usize,
    pub batch_timeout: Duration,
    /// Scores at or above this raise an alert and get label 1.
    pub threshold: f64,
    /// Model monitoring: online quality from labels, drift, a challenger beside the champion (see
    /// [`crate::monitor`]).
    pub monitor: Option<crate::monitor::MonitorSetup>,
    /// Compute client (velocity) features on every joined record (needed when the model reads them).
    pub client_features: Option<fraudstream_features::ClientConfig>,
    /// Batches scored concurrently by a remote model (1: one at a time; in-process models use every core per batch).
    pub max_in_flight: usize,
    pub on_model_error: OnModelError,
}

/// The input columns a run must parse: the model's inputs (and what client features are computed from), the
/// columns alerts carry, and the label (for quality).
/// Everything else can be skipped by the source ([`crate::source::files::FileSourceConfig::columns`]).
pub fn needed_columns(model_inputs: &[String]) -> Vec<String> {
    let mut columns: Vec<String> = model_inputs.to_vec();
    if model_inputs.iter().any(|n| fraudstream_features::ClientFeature::by_name(n).is_some()) {
        columns.extend(fraudstream_features::client::SOURCE_COLUMNS.iter().map(|c| c.to_string()));
    }
    columns.extend(crate::sink::files::ALERT_COLUMNS.iter().map(|c| c.to_string()));
    columns.push("isFraud".to_string());
    columns
}

/// Where the join's output goes: the scoring half ([`ScoringStage`]), or, in the join stage of the repartitioned
/// Kafka topology, the internal topic.
pub trait Downstream {
    /// A joined record. `frontier` tells how far the job has read (the internal topic carries it; see
    /// [`Job::frontier`]); it is computed only when called.
    fn joined(&mut self, joined: Box<Joined>, frontier: &dyn Fn() -> i64) -> Result<(), EngineError>;
    /// A joined record scored before a restart, delivered again only for the state it feeds (see
    /// [`SourceEvent::Seen`]): counted, never scored or written.
    fn seen(&mut self, _joined: &Joined) {}
    /// Input the job could not use.
    fn dead_letter(&mut self, dead: &DeadLetter) -> Result<(), EngineError>;
    /// Processing time moved on: send batches that are due, write answers that are in.
    fn tick(&mut self, now: Instant) -> Result<(), EngineError>;
    /// Writes everything pending (before a checkpoint, at the end).
    fn drain(&mut self) -> Result<(), EngineError>;
    /// Makes everything written durable.
    fn flush(&mut self) -> Result<(), EngineError>;
    /// Adds this half's part to the status (about twice a second) and shows it to the observer, if any.
    fn report(&mut self, status: &mut JobStatus);
    /// Adds this half's totals to the summary.
    fn summarize(&mut self, summary: &mut RunSummary);
}

/// A borrowed downstream, so a driver can keep the stage and look into it after the job is done.
impl<D: Downstream + ?Sized> Downstream for &mut D {
    fn joined(&mut self, joined: Box<Joined>, frontier: &dyn Fn() -> i64) -> Result<(), EngineError> {
        (**self).joined(joined, frontier)
    }
    fn seen(&mut self, joined: &Joined) {
        (**self).seen(joined)
    }
    fn dead_letter(&mut self, dead: &DeadLetter) -> Result<(), EngineError> {
        (**self).dead_letter(dead)
    }
    fn tick(&mut self, now: Instant) -> Result<(), EngineError> {
        (**self).tick(now)
    }
    fn drain(&mut self) -> Result<(), EngineError> {
        (**self).drain()
    }
    fn flush(&mut self) -> Result<(), EngineError> {
        (**self).flush()
    }
    fn report(&mut self, status: &mut JobStatus) {
        (**self).report(status)
    }
    fn summarize(&mut self, summary: &mut RunSummary) {
        (**self).summarize(summary)
    }
}

/// How often the status is reported and the metrics published.
const REPORT_INTERVAL: Duration = Duration::from_millis(500);

/// One job: the event-time and join steps, and what follows them (see the module docs).
pub struct Job<'p, D> {
    clock: EventClock,
    /// `None` in the scoring stage of the repartitioned topology, whose records arrive joined.
    join: Option<IntervalJoin>,
    out: Vec<JoinOutput>,
    downstream: D,
    progress: &'p RunProgress,
    metrics: JoinMetrics,
    started: Instant,
    last_report: Instant,
    /// The source has delivered everything it knows of: processing time may release transactions (`--max-wait`).
    caught_up: bool,
}

impl<'p, D: Downstream> Job<'p, D> {
    /// A whole job: event time, join, then `downstream`.
    pub fn new(config: &JobConfig, progress: &'p RunProgress, downstream: D) -> Job<'p, D> {
        let now = Instant::now();
        Job {
            clock: EventClock::new(config.pacing, config.max_out_of_orderness, config.idle_timeout),
            join: Some(IntervalJoin::new(config.join)),
            out: Vec::new(),
            downstream,
            progress,
            metrics: JoinMetrics::new(),
            started: now,
            last_report: now,
            caught_up: true,
        }
    }

    /// A job whose records arrive joined ([`SourceEvent::Joined`]): no join step.
    pub fn without_join(config: &JobConfig, progress: &'p RunProgress, downstream: D) -> Job<'p, D> {
        Job { join: None, ..Job::new(config, progress, downstream) }
    }

    /// Declares the input partitions before they deliver anything: the watermark waits for each of them.
    pub fn register(&mut self, partitions: impl IntoIterator<Item = InputPartition>, now: Instant) {
        self.clock.register(partitions, now);
    }

    /// Where the source is behind: those partitions are not idle for the watermark, and no transaction leaves the
    /// join by processing time (`--max-wait`) until the source has caught up (see [`Backlog`]).
    pub fn set_backlog(&mut self, backlog: &Backlog) {
        self.clock.set_behind(&backlog.behind);
        self.caught_up = backlog.caught_up();
    }

    pub fn downstream(&mut self) -> &mut D {
        &mut self.downstream
    }

    /// Moves one input event forward: through event time and the join, then downstream.
    /// [`SourceEvent::End`] is the driver's to act on ([`Job::finish`]).
    pub fn process(&mut self, event: SourceEvent) -> Result<(), EngineError> {
        match event {
            SourceEvent::Record { record, origin } => self.read(record, origin)?,
            SourceEvent::Joined(joined) => {
                self.clock.observe_joined(joined.transaction.event_time());
                self.out.push(JoinOutput::Joined(joined));
            }
            SourceEvent::Seen(joined) => self.downstream.seen(&joined),
            SourceEvent::DeadLetter(d) => self.out.push(JoinOutput::DeadLetter(d)),
            SourceEvent::PartitionEnd(partition) => {
                self.clock.finish(partition);
                self.advance_watermark(Instant::now());
            }
            SourceEvent::Idle => self.advance_watermark(Instant::now()),
            SourceEvent::End => {}
        }
        self.forward()
    }

    /// A record enters when the pacing says so; its event time moves the watermark; the join takes it.
    fn read(&mut self, record: Record, origin: Origin) -> Result<(), EngineError> {
        // While waiting for the record's replay time, keep partial batches and join timeouts moving.
        let release = self.clock.release_at(record.event_time(), Instant::now());
        while Instant::now() < release {
            std::thread::sleep((release - Instant::now()).min(Duration::from_millis(5)));
            self.tick(Instant::now())?;
        }
        let now = Instant::now();
        self.progress.records_in.fetch_add(1, Ordering::Relaxed);
        let table = record.table();
        self.metrics.records_in[usize::from(table == Table::Identity)].increment(1);
        let partition = match &origin {
            Origin::Kafka { partition, .. } => *partition,
            Origin::File { .. } => 0,
        };
        let watermark = self.clock.observe((table, partition), record.event_time(), now);
        let join = self.join.as_mut().ok_or_else(|| {
            EngineError::Config(format!("{origin}: this job reads joined records, not raw {} rows", table.name()))
        })?;
        match record {
            Record::Transaction(tx) => join.on_transaction(tx, origin, now, &mut self.out),
            Record::Identity(identity) => join.on_identity(identity, origin, now, &mut self.out),
        }
        if let Some(w) = watermark {
            join.on_watermark(w, now, &mut self.out);
        }
        Ok(())
    }

    /// Nothing arrived (or a partition ended): idle partitions may have stopped holding the watermark back.
    fn advance_watermark(&mut self, now: Instant) {
        if let (Some(join), Some(w)) = (self.join.as_mut(), self.clock.watermark(now)) {
            join.on_watermark(w, now, &mut self.out);
        }
    }

    /// Hands what the join emitted downstream.
    fn forward(&mut self) -> Result<(), EngineError> {
        let (clock, join, now) = (&self.clock, &self.join, Instant::now());
        // Asked for only by a join stage's internal topic, and then once per hand-over.
        let cached = std::cell::OnceCell::new();
        let frontier = || *cached.get_or_init(|| join.as_ref().map_or(i64::MIN, |join| frontier(clock, join, now)));
        for output in self.out.drain(..) {
            match output {
                JoinOutput::Joined(joined) => self.downstream.joined(joined, &frontier)?,
                JoinOutput::DeadLetter(dead) => self.downstream.dead_letter(&dead)?,
            }
        }
        Ok(())
    }

    /// Processing time moved on: transactions that waited `--max-wait` leave the join, due batches are scored.
    pub fn tick(&mut self, now: Instant) -> Result<(), EngineError> {
        match (&mut self.join, self.caught_up) {
            (Some(join), true) => join.on_processing_time(now, &mut self.out),
            (Some(join), false) => join.forget_departed(),
            (None, _) => {}
        }
        self.forward()?;
        self.downstream.tick(now)
    }

    /// The end of the input: every partition ends, transactions still waiting are emitted unmatched, identities
    /// still waiting are dead-lettered, and everything is scored and written.
    pub fn finish(&mut self, now: Instant) -> Result<(), EngineError> {
        self.clock.finish_all();
        if let Some(join) = &mut self.join {
            join.finish(now, &mut self.out);
        }
        self.tick(now)?;
        self.downstream.drain()
    }

    /// Scores and writes everything that has left the join (before a checkpoint).
    pub fn drain(&mut self) -> Result<(), EngineError> {
        self.forward()?;
        self.downstream.drain()
    }

    /// Makes everything written durable.
    pub fn flush(&mut self) -> Result<(), EngineError> {
        self.downstream.flush()
    }

    /// Origins of the records the join still holds: input positions before the oldest of them must not be
    /// committed yet.
    pub fn held(&self) -> impl Iterator<Item = &Origin> {
        self.join.iter().flat_map(IntervalJoin::in_flight)
    }

    /// Whether a transaction is still waiting in the join for its identity.
    pub fn waiting(&self) -> bool {
        self.join.as_ref().is_some_and(|j| j.oldest_pending().is_some())
    }

    /// How far this job has read, as a join stage reports it to the scoring stages (see [`frontier`]).
    pub fn frontier(&self, now: Instant) -> i64 {
        self.join.as_ref().map_or(i64::MIN, |join| frontier(&self.clock, join, now))
    }

    /// The downstream, with how far the job has read (computed only when called): a join stage reports it.
    pub fn downstream_and_frontier(&mut self, now: Instant) -> (&mut D, impl Fn() -> i64 + '_) {
        let (clock, join) = (&self.clock, &self.join);
        (&mut self.downstream, move || join.as_ref().map_or(i64::MIN, |join| frontier(clock, join, now)))
    }

    /// Starts the join and event time over, keeping the counters: after a consumer-group rebalance every record
    /// past the committed offsets is delivered again.
    pub fn restart(&mut self, now: Instant) {
        if let Some(join) = &mut self.join {
            join.reset();
        }
        self.clock.restart(now);
    }

    /// About twice a second (and when `force`d, at the end): publishes metrics and shows the observer the status.
    pub fn report(&mut self, now: Instant, force: bool) {
        if !force && now.duration_since(self.last_report) < REPORT_INTERVAL {
            return;
        }
        self.last_report = now;
        let newest = self.clock.newest();
        let progress = self.progress;
        let mut status = JobStatus {
            elapsed: self.started.elapsed(),
            records_in: progress.records_in.load(Ordering::Relaxed),
            scored: progress.scored.load(Ordering::Relaxed),
            alerts: progress.alerts.load(Ordering::Relaxed),
            dead_letters: progress.dead_letters.load(Ordering::Relaxed),
            event_time: newest,
            ..JobStatus::default()
        };
        if let Some(join) = &self.join {
            let size = join.state_size() as u64;
            progress.state_size.store(size, Ordering::Relaxed);
            self.metrics.join(join.stats());
            self.metrics.state_size.set(size as f64);
            if let (Some(w), Some(newest)) = (join.watermark().filter(|w| w.millis() < i64::MAX / 2), newest) {
                status.watermark_lag_seconds = (newest.millis() - w.millis()) as f64 / 1000.0;
                self.metrics.watermark_lag_seconds.set(status.watermark_lag_seconds);
            }
        }
        status.join_state = progress.state_size.load(Ordering::Relaxed);
        self.downstream.report(&mut status);
    }

    /// The final account.
    pub fn summary(mut self) -> RunSummary {
        let mut summary = RunSummary {
            join: self.join.as_ref().map(|j| j.stats().clone()).unwrap_or_default(),
            elapsed: self.started.elapsed(),
            ..RunSummary::default()
        };
        self.downstream.summarize(&mut summary);
        summary
    }
}

/// How far a join stage has read, as it reports it to the scoring stages: the watermark plus the allowed
/// out-of-orderness, i.e. the latest event time every (non-idle) input partition has reached, but no further than
/// the earliest transaction the join still holds (it may emit that one later). Not the newest event time read:
/// one partition running ahead (a fetch-sized run of identities) must not make the stage look further along than
/// its slowest partition.
fn frontier(clock: &EventClock, join: &IntervalJoin, now: Instant) -> i64 {
    let read = clock
        .watermark(now)
        .map_or(i64::MIN, |w| w.millis().saturating_add(clock.max_out_of_orderness().as_millis() as i64));
    join.oldest_pending().map_or(read, |pending: EventTime| read.min(pending.millis()))
}

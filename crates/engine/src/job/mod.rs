//! The streaming job: sources → event time + watermarks → interval join → features → model → sinks.
//!
//! One operator code path serves both modes:
//! - **embedded** ([`run_embedded`]): the CSV files, replayed in event-time order through the same [`FileSource`]
//!   the ingest uses (read ahead on its own thread), into `scores.csv`, `alerts.jsonl`, `dead_letters.jsonl`;
//! - **Kafka** ([`run_kafka`]): the `transactions` / `identities` topics as a consumer group, into the `scores`,
//!   `alerts` and `dead-letters` topics.
//!
//! The join emits transactions (with or without identity); the model stage collects them into micro-batches of up
//! to `batch_size` rows, flushed when full or when the oldest row has waited `batch_timeout`, and scores them with
//! a [`Scorer`]. Everything the job cannot use goes to the dead-letter output with a reason.
//!
//! # Delivery guarantee on Kafka
//! Input offsets are committed only after the sinks have flushed (every produced message acknowledged), and only up
//! to the oldest record still held in the join — so after a crash, nothing that was not durably scored is skipped
//! (at least once). Whenever it is assigned partitions (on start, and when a consumer-group rebalance moves
//! partitions from a failed instance), the job reads back which TransactionIDs the `scores` topic already holds and
//! does not write them again — so the scores topic holds each transaction once, on brokers with only an idempotent
//! producer (no Kafka transactions needed).
//!
//! With Kafka transactions (`KafkaSinkConfig::transactional_id`), each checkpoint instead commits the output written
//! since the previous one together with the input offsets in one transaction (consume-transform-produce); a crash
//! aborts the open transaction, and `read_committed` consumers see every score once without any read-back.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use fraudstream_data::Record;

use crate::error::EngineError;
use crate::join::{IntervalJoin, JoinConfig, JoinOutput, JoinStats};
use crate::pacing::{Pacer, Pacing};
use crate::quality::OnlineQuality;
use crate::repartition::Progress;
use crate::scorer::Scorer;
use crate::sink::files::FileSinks;
use crate::sink::kafka::KafkaSinkConfig;
use crate::sink::Sink;
use crate::source::files::{FileSource, FileSourceConfig};
use crate::source::kafka::KafkaSourceConfig;
use crate::source::prefetch::Prefetch;
use crate::source::{Origin, Positions, Source, SourceEvent};
use crate::stage::{ModelStage, OnModelError, StageConfig};
use crate::watermark::WatermarkTracker;
use fraudstream_features::ClientFeatures;

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
    /// Online quality: hold labels (isFraud) back this long in event time, then measure over a rolling window.
    pub quality: Option<QualityConfig>,
    /// Compute client (velocity) features on every joined record (needed when the model reads them).
    pub client_features: Option<fraudstream_features::ClientConfig>,
    /// Batches scored concurrently by a remote model (1: one at a time; in-process models use every core per batch).
    pub max_in_flight: usize,
    pub on_model_error: OnModelError,
}

/// How labels come back as delayed feedback for online quality.
#[derive(Debug, Clone, Copy)]
pub struct QualityConfig {
    /// Event time between a transaction and its label (chargebacks take days).
    pub label_delay: Duration,
    /// Most recent labelled transactions the rolling measures cover.
    pub window: usize,
}

/// Everything an embedded run needs.
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub files: FileSourceConfig,
    pub job: JobConfig,
    pub out_dir: std::path::PathBuf,
    /// Model name for the outputs (e.g. the file stem).
    pub model_name: String,
}
/// Live counters for a status line.
#[derive(Debug, Default)]
pub struct RunProgress {
    pub records_in: AtomicU64,
    pub scored: AtomicU64,
    pub alerts: AtomicU64,
    pub dead_letters: AtomicU64,
    pub state_size: AtomicU64,
}

/// The final account of a bounded run.
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub scored: u64,
    /// Transactions not written again because the output already held them (Kafka restart).
    pub skipped_already_scored: u64,
    /// Joined records handed to the scoring stage (the join stage of the repartitioned topology).
    pub forwarded: u64,
    /// Transactions written with a null score because the model failed (`--on-model-error skip`).
    pub model_errors: u64,
    pub alerts: u64,
    pub dead_letters: u64,
    pub join: JoinStats,
    pub elapsed: Duration,
    /// Arrival → score latency percentiles in milliseconds: p50, p99, max (over a uniform sample of 2 Mi beyond
    /// that many transactions, as is the ROC AUC).
    pub latency_ms: (f64, f64, f64),
    /// ROC AUC of the scores against `isFraud`, when the input is labelled.
    pub auc: Option<f64>,
    /// Rolling online quality at the end (with [`JobConfig::quality`]).
    pub quality: Option<crate::quality::QualitySnapshot>,
}

/// How often a join stage reports its progress to the internal topic's partitions (bounds how long a scoring stage
/// waits to order records of two join stages, live).
const PROGRESS_INTERVAL: Duration = Duration::from_millis(200);
/// A join stage without input for this long reports itself idle, so the scoring stages stop waiting for it.
const IDLE_PROGRESS: Duration = Duration::from_secs(1);

/// Inputs 0 and 1 of the watermark tracker.
const TRANSACTIONS: u8 = 0;
const IDENTITIES: u8 = 1;

/// The input columns a run must parse: the model's inputs (and what client features are computed from), the
/// columns alerts carry, and the label (for quality).
/// Everything else can be skipped by the source ([`FileSourceConfig::columns`]).
pub fn needed_columns(model_inputs: &[String]) -> Vec<String> {
    let mut columns: Vec<String> = model_inputs.to_vec();
    if model_inputs.iter().any(|n| fraudstream_features::ClientFeature::by_name(n).is_some()) {
        columns.extend(fraudstream_features::client::SOURCE_COLUMNS.iter().map(|c| c.to_string()));
    }
    columns.extend(crate::sink::files::ALERT_COLUMNS.iter().map(|c| c.to_string()));
    columns.push("isFraud".to_string());
    columns
}

/// How a run ends and checkpoints.
pub struct Control<'a> {
    /// Set from outside (Ctrl-C) to stop after a final flush and commit.
    pub stop: &'a AtomicBool,
    /// Stop once no input has arrived for this long after the first record or partition assignment (bounded runs
    /// over unbounded sources).
    pub stop_after_idle: Option<Duration>,
    /// How often to flush the sinks and commit input positions.
    pub commit_interval: Duration,
    /// TransactionIDs the output already holds; they are not written again.
    pub already_scored: HashSet<i64>,
    /// Sees every written score and a status about twice a second (a dashboard, a report).
    pub observer: Option<&'a mut dyn RunObserver>,
    /// Which part of the job this run is.
    pub role: Role,
    /// The other stage of the repartitioned topology, when this run is one of them.
    pub peer: Option<&'a Peer>,
}

/// Which part of the job a run does: all of it, or one stage of the repartitioned Kafka topology (see
/// [`crate::repartition`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Role {
    /// Join, features, model, outputs.
    #[default]
    Whole,
    /// Join only: joined records go to [`Sink::write_joined`] (the internal topic).
    Join,
    /// Client features, model and outputs over joined records the source delivers ([`SourceEvent::Joined`]).
    Score,
}

/// What one stage of the repartitioned topology knows of the other.
#[derive(Debug, Default)]
pub struct Peer {
    /// The other stage has ended. The scoring stage's idle stop (`stop_after_idle`) waits for this: until the
    /// join stage ends, idle input only means it has not forwarded anything lately.
    pub done: AtomicBool,
    /// The other stage failed: stop too.
    pub failed: AtomicBool,
}

/// The job's state as an observer sees it about twice a second.
#[derive(Debug, Clone, Default)]
pub struct JobStatus {
    pub elapsed: Duration,
    pub records_in: u64,
    pub scored: u64,
    pub alerts: u64,
    pub dead_letters: u64,
    pub join_state: u64,
    /// Newest event time seen minus the watermark, in seconds.
    pub watermark_lag_seconds: f64,
    /// Newest event time seen.
    pub event_time: Option<fraudstream_data::EventTime>,
    /// Rolling quality from delayed labels (when [`JobConfig::quality`] is set).
    pub quality: Option<crate::quality::QualitySnapshot>,
}

/// Hooks into a running job, called on the job thread: keep them cheap.
pub trait RunObserver {
    /// A score was written.
    fn scored(&mut self, _scored: &crate::sink::Scored<'_>) {}
    /// About twice a second, and once at the end.
    fn status(&mut self, _status: &JobStatus) {}
}

/// Runs the job over the files to their end, scoring with `scorer`.
pub fn run_embedded(
    config: &RunConfig,
    scorer: &mut dyn Scorer,
    progress: &RunProgress,
) -> Result<RunSummary, EngineError> {
    run_embedded_until(config, scorer, progress, &AtomicBool::new(false), None)
}

/// [`run_embedded`] that also ends, with everything read so far scored and written, once `stop` is set (Ctrl-C),
/// and reports to `observer`.
pub fn run_embedded_until<'a>(
    config: &RunConfig,
    scorer: &mut dyn Scorer,
    progress: &RunProgress,
    stop: &'a AtomicBool,
    observer: Option<&'a mut dyn RunObserver>,
) -> Result<RunSummary, EngineError> {
    let mut sinks = FileSinks::create(&config.out_dir, &config.model_name)?;
    // Parsing overlaps with the join and the model on the other core.
    let mut source = Prefetch::start(FileSource::open(&config.files)?, Duration::from_millis(100));
    let control = Control {
        stop,
        stop_after_idle: None,
        commit_interval: Duration::MAX,
        already_scored: HashSet::new(),
        observer,
        role: Role::Whole,
        peer: None,
    };
    run_job(&mut source, &mut sinks, scorer, &config.job, progress, control)
}

/// The input (0 = transactions, 1 = identities) and partition a record counts toward for watermarks.
fn watermark_partition(record: &Record, origin: &Origin) -> (u8, i32) {
    let input = match record {
        Record::Transaction(_) => TRANSACTIONS,
        Record::Identity(_) => IDENTITIES,
    };
    match origin {
        Origin::Kafka { partition, .. } => (input, *partition),
        Origin::File { .. } => (input, 0),
    }
}

/// The operator loop shared by both modes.
pub fn run_job(
    source: &mut dyn Source,
    sinks: &mut dyn Sink,
    scorer: &mut dyn Scorer,
    config: &JobConfig,
    progress: &RunProgress,
    control: Control<'_>,
) -> Result<RunSummary, EngineError> {
    let started = Instant::now();
    let stage_config = StageConfig {
        batch_size: config.batch_size,
        threshold: config.threshold,
        max_in_flight: config.max_in_flight,
        on_error: config.on_model_error,
    };
    let mut stage = ModelStage::new(scorer, stage_config, control.already_scored);
    stage.observer = control.observer;
    stage.recycler = source.recycler();
    stage.quality = config.quality.map(|q| OnlineQuality::new(q.label_delay, q.window, config.threshold));
    if let Some(client) = &config.client_features {
        stage.client = Some(ClientFeatures::new(*client).map_err(|e| EngineError::Config(e.to_string()))?);
    }
    let mut join = IntervalJoin::new(config.join);
    let mut watermarks = WatermarkTracker::new(config.max_out_of_orderness, config.idle_timeout);
    let mut seen_partitions: HashSet<(u8, i32)> = HashSet::new();
    for (table, partition) in source.partitions() {
        let input = if table == fraudstream_data::Table::Transaction { TRANSACTIONS } else { IDENTITIES };
        watermarks.register((input, partition), started);
        seen_partitions.insert((input, partition));
    }
    let mut pacer = Pacer::new(config.pacing);
    let mut out = Vec::new();
    let mut routing = Routing { role: control.role, forwarded: 0, dead_letters: 0 };
    // Next offset to read per topic-partition (Kafka only).
    let mut positions = Positions::new();
    let mut newest = fraudstream_data::EventTime(i64::MIN);
    // Idleness counts from the first record or partition assignment, so waiting to join a consumer group is not
    // mistaken for idle input.
    let mut last_input: Option<Instant> = None;
    let mut last_commit = Instant::now();
    let mut last_metrics = Instant::now();
    let mut done = false;
    // The join stage tells the scoring stages where it stands a few times a second (see `repartition`), from the
    // start: until it has read something, they wait for it. Without input for a while it reports itself idle.
    let mut last_progress = Instant::now();
    let mut idle_since: Option<Instant> = None;
    let mut reported_idle = false;
    if control.role == Role::Join {
        sinks.write_progress(i64::MIN, Duration::ZERO)?;
    }
    let scoring = control.role == Role::Score;
    let mut peer_was_done = control.peer.is_none();
    while !done {
        let event = source.poll(Duration::from_millis(50))?;
        if source.take_reassigned() {
            // New partitions, before anything of them is processed: another instance (or a killed predecessor)
            // may have handled some of their records. Make our own output durable, read back what the output
            // holds, and rebuild the client state the scoring stage keeps for them.
            recover(source, sinks, &mut stage, config, progress)?;
            // Every record past the committed offsets is delivered again (the commits never pass a record the join
            // still holds): start the join and the positions over, or re-read transactions would be emitted twice.
            join.reset();
            positions.clear();
            let now = Instant::now();
            watermarks = WatermarkTracker::new(config.max_out_of_orderness, config.idle_timeout);
            for &(input, partition) in &seen_partitions {
                watermarks.register((input, partition), now);
            }
            // Idleness also counts from an assignment (so a job whose input is all processed can still stop), but
            // only from the end of the recovery: reading back a large output is not idle input.
            last_input = Some(now);
        }
        let now = Instant::now();
        if !matches!(event, SourceEvent::Idle) {
            idle_since = None;
        }
        match event {
            SourceEvent::Joined(joined) => {
                last_input = Some(now);
                if let Origin::Kafka { topic, partition, offset } = &joined.origin {
                    let next = positions.entry((topic.clone(), *partition)).or_insert(offset + 1);
                    *next = (*next).max(offset + 1);
                }
                newest = newest.max(joined.transaction.event_time());
                out.push(JoinOutput::Joined(joined));
            }
            SourceEvent::Record { record, origin } => {
                last_input = Some(now);
                // While waiting for the record's replay time, keep partial batches and join timeouts moving.
                let release = now + pacer.delay(record.event_time(), now);
                while Instant::now() < release {
                    std::thread::sleep((release - Instant::now()).min(Duration::from_millis(5)));
                    let now = Instant::now();
                    join.on_processing_time(now, &mut out);
                    routing.drain(&mut out, &mut stage, sinks, progress, &|| {
                        frontier(&watermarks, &join, now, config.max_out_of_orderness)
                    })?;
                    if stage.due(config.batch_timeout, now) {
                        stage.flush(sinks, progress)?;
                    }
                }
                let now = Instant::now();
                progress.records_in.fetch_add(1, Ordering::Relaxed);
                if let Origin::Kafka { topic, partition, offset } = &origin {
                    let next = positions.entry((topic.clone(), *partition)).or_insert(offset + 1);
                    *next = (*next).max(offset + 1);
                }
                let partition = watermark_partition(&record, &origin);
                stage.metrics.records_in[usize::from(partition.0)].increment(1);
                newest = newest.max(record.event_time());
                seen_partitions.insert(partition);
                watermarks.observe(partition, record.event_time(), now);
                match record {
                    Record::Transaction(tx) => join.on_transaction(tx, origin, now, &mut out),
                    Record::Identity(identity) => join.on_identity(identity, origin, now, &mut out),
                }
                if let Some(w) = watermarks.current(now) {
                    join.on_watermark(w, now, &mut out);
                }
            }
            SourceEvent::DeadLetter(d) => {
                if let Origin::Kafka { topic, partition, offset } = &d.origin {
                    let next = positions.entry((topic.clone(), *partition)).or_insert(offset + 1);
                    *next = (*next).max(offset + 1);
                }
                out.push(JoinOutput::DeadLetter(d))
            }
            SourceEvent::Idle => {
                idle_since.get_or_insert(now);
                if let Some(w) = watermarks.current(now) {
                    join.on_watermark(w, now, &mut out);
                }
            }
            SourceEvent::End => done = true,
        }
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
        let interrupted = !done && !idle_stop && (control.stop.load(Ordering::Relaxed) || peer_failed);
        if idle_stop || interrupted {
            done = true;
        }
        // At the end of the input (or of a bounded run over a stream), transactions still waiting for an identity
        // are emitted. An interrupted run over a replayable source (Kafka) leaves them: the checkpoint commits no
        // further than the oldest of them, so the next run reads them again and can still join them.
        if done && !(interrupted && source.replayable()) {
            for p in &seen_partitions {
                watermarks.finish(*p);
            }
            join.finish(now, &mut out);
        }
        join.on_processing_time(now, &mut out);
        routing.drain(&mut out, &mut stage, sinks, progress, &|| {
            frontier(&watermarks, &join, now, config.max_out_of_orderness)
        })?;
        if control.role == Role::Join && (done || now.duration_since(last_progress) >= PROGRESS_INTERVAL) {
            // A stopping join stage (at the end, idle, or interrupted) writes nothing more under this identity. An
            // idle one (no input, nothing pending) says so once, then stays quiet until it reads again.
            let idle = idle_since.is_some_and(|since| now.duration_since(since) >= IDLE_PROGRESS)
                && join.oldest_pending().is_none();
            if done {
                sinks.write_progress(Progress::FINISHED, Duration::ZERO)?;
            } else if idle && !reported_idle {
                sinks.write_progress(Progress::IDLE, Duration::ZERO)?;
            } else if !idle {
                // Only to partitions this stage has written nothing to lately: its records carry its progress.
                let frontier = frontier(&watermarks, &join, now, config.max_out_of_orderness);
                sinks.write_progress(frontier, PROGRESS_INTERVAL)?;
            }
            reported_idle = idle;
            last_progress = now;
        }
        if done {
            stage.drain(sinks, progress)?;
        } else if stage.due(config.batch_timeout, Instant::now()) {
            stage.flush(sinks, progress)?;
        } else {
            stage.poll(sinks, progress)?;
        }
        if done || now.duration_since(last_commit) >= control.commit_interval {
            checkpoint(&mut stage, source, sinks, progress, &join, &positions)?;
            last_commit = now;
        }
        if !scoring {
            progress.state_size.store(join.state_size() as u64, Ordering::Relaxed);
        }
        if done || now.duration_since(last_metrics) >= Duration::from_millis(500) {
            last_metrics = now;
            if !scoring {
                stage.metrics.join(join.stats());
                stage.metrics.state_size.set(join.state_size() as f64);
            }
            if let Some(c) = &stage.client {
                stage.metrics.client_entities.set(c.entities() as f64);
            }
            stage.metrics.dead_letters.absolute(routing.dead_letters + stage.totals.model_errors);
            let mut status = JobStatus {
                elapsed: started.elapsed(),
                records_in: progress.records_in.load(Ordering::Relaxed),
                scored: progress.scored.load(Ordering::Relaxed),
                alerts: progress.alerts.load(Ordering::Relaxed),
                dead_letters: routing.dead_letters + stage.totals.model_errors,
                join_state: progress.state_size.load(Ordering::Relaxed),
                event_time: (newest.millis() > i64::MIN).then_some(newest),
                ..JobStatus::default()
            };
            if let Some(w) = join.watermark().filter(|w| w.millis() > i64::MIN / 2 && w.millis() < i64::MAX / 2) {
                status.watermark_lag_seconds = (newest.millis() - w.millis()) as f64 / 1000.0;
                stage.metrics.watermark_lag_seconds.set(status.watermark_lag_seconds);
            }
            if let Some(q) = &mut stage.quality {
                q.advance(newest);
                let snapshot = q.snapshot();
                stage.metrics.quality(&snapshot);
                status.quality = Some(snapshot);
            }
            if let Some(observer) = stage.observer.as_deref_mut() {
                observer.status(&status);
            }
        }
    }
    let totals = &mut stage.totals;
    let auc = if totals.all_labelled {
        let (scores, labels): (Vec<f64>, Vec<bool>) = totals.labelled.items().iter().copied().unzip();
        crate::quality::roc_auc(&scores, &labels)
    } else {
        None
    };
    let latency_ms = percentiles(totals.latencies.items_mut());
    Ok(RunSummary {
        scored: totals.written,
        skipped_already_scored: totals.skipped_already_scored,
        forwarded: routing.forwarded,
        model_errors: totals.model_errors,
        alerts: totals.alerts,
        dead_letters: routing.dead_letters,
        join: join.stats().clone(),
        elapsed: started.elapsed(),
        latency_ms,
        auc,
        quality: stage.quality.as_ref().map(OnlineQuality::snapshot),
    })
}

/// Makes the output durable, then commits input positions no further than the oldest record still in the join.
fn checkpoint(
    stage: &mut ModelStage<'_, '_>,
    source: &mut dyn Source,
    sinks: &mut dyn Sink,
    progress: &RunProgress,
    join: &IntervalJoin,
    positions: &Positions,
) -> Result<(), EngineError> {
    stage.drain(sinks, progress)?;
    let mut safe = positions.clone();
    source.limit_positions(&mut safe);
    for origin in join.in_flight() {
        if let Origin::Kafka { topic, partition, offset } = origin {
            if let Some(p) = safe.get_mut(&(topic.clone(), *partition)) {
                *p = (*p).min(*offset);
            }
        }
    }
    // Exactly-once mode: output and input offsets in one Kafka transaction.
    if let Some(group) = source.group_metadata() {
        if sinks.commit_in_transaction(&safe, &group)? {
            return Ok(());
        }
    }
    sinks.flush()?;
    if safe.is_empty() {
        return Ok(());
    }
    source.commit(&safe)
}

/// After new partitions were assigned: makes the output durable, reads back which transactions it already holds,
/// and rebuilds the client state from the source's history (the scoring stage's internal topic).
fn recover(
    source: &mut dyn Source,
    sinks: &mut dyn Sink,
    stage: &mut ModelStage<'_, '_>,
    config: &JobConfig,
    progress: &RunProgress,
) -> Result<(), EngineError> {
    stage.drain(sinks, progress)?;
    sinks.flush()?;
    let reading = Instant::now();
    if let Some(written) = sinks.already_written()? {
        tracing::info!(
            "the output already holds {} transactions and {} alerts (read back in {:.1} s); they are not written again",
            written.scored.len(),
            written.alerted.len(),
            reading.elapsed().as_secs_f64()
        );
        stage.already_scored.extend(written.scored);
        stage.already_alerted.extend(written.alerted);
    }
    if let (Some(client), Some(client_config)) = (&mut stage.client, &config.client_features) {
        // Start empty and replay everything before the committed offsets: what this instance observed beyond them
        // is delivered again and observed then, so each record counts once.
        *client = ClientFeatures::new(*client_config).map_err(|e| EngineError::Config(e.to_string()))?;
        let rebuilding = Instant::now();
        let replayed = source.history(&mut |joined| {
            client.observe_boxed(&joined.feature_row());
        })?;
        if replayed > 0 {
            tracing::info!(
                "rebuilt client state from {replayed} earlier records in {:.1} s ({} entities)",
                rebuilding.elapsed().as_secs_f64(),
                client.entities()
            );
        }
    }
    Ok(())
}

/// How far a join stage has read, as it reports it to the scoring stages: the watermark plus the allowed
/// out-of-orderness, i.e. the latest event time every (non-idle) input partition has reached, but no further than
/// the earliest transaction the join still holds (it may emit that one later). Not the newest event time read:
/// one partition running ahead (a fetch-sized run of identities) must not make the stage look further along than
/// its slowest partition.
fn frontier(watermarks: &WatermarkTracker, join: &IntervalJoin, now: Instant, max_out_of_orderness: Duration) -> i64 {
    let read = watermarks
        .current(now)
        .map_or(i64::MIN, |w| w.millis().saturating_add(max_out_of_orderness.as_millis() as i64));
    join.oldest_pending().map_or(read, |pending| read.min(pending.millis()))
}

/// Where the join's outputs go, and what was counted on the way.
struct Routing {
    role: Role,
    forwarded: u64,
    dead_letters: u64,
}

impl Routing {
    /// Routes the join's outputs: joined records to the model stage (or, in the join stage, to the internal topic,
    /// with the stage's frontier, asked for only then), dead letters to their sink.
    fn drain(
        &mut self,
        out: &mut Vec<JoinOutput>,
        stage: &mut ModelStage<'_, '_>,
        sinks: &mut dyn Sink,
        progress: &RunProgress,
        frontier: &dyn Fn() -> i64,
    ) -> Result<(), EngineError> {
        let mut frontier_ms = None;
        for o in out.drain(..) {
            match o {
                JoinOutput::Joined(j) if self.role == Role::Join => {
                    // Forwarded before a restart: the internal topic already has it.
                    if stage.already_scored.remove(&j.transaction.id()).is_none() {
                        sinks.write_joined(&j, *frontier_ms.get_or_insert_with(frontier))?;
                        self.forwarded += 1;
                    }
                }
                JoinOutput::Joined(j) => stage.push(*j),
                JoinOutput::DeadLetter(d) => {
                    self.dead_letters += 1;
                    progress.dead_letters.fetch_add(1, Ordering::Relaxed);
                    sinks.write_dead_letter(&d)?;
                }
            }
        }
        Ok(())
    }
}

/// p50, p99 and max of a sample (zeros when empty).
fn percentiles(v: &mut [f32]) -> (f64, f64, f64) {
    if v.is_empty() {
        return (0.0, 0.0, 0.0);
    }
    v.sort_unstable_by(f32::total_cmp);
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize] as f64;
    (at(0.5), at(0.99), at(1.0))
}

/// Everything a run on Kafka needs.
#[derive(Debug, Clone)]
pub struct KafkaRunConfig {
    pub source: crate::source::kafka::KafkaSourceConfig,
    pub sinks: crate::sink::kafka::KafkaSinkConfig,
    pub registry_url: String,
    pub registry_auth: Option<String>,
    pub job: JobConfig,
    /// How often output is flushed and input offsets committed.
    pub commit_interval: Duration,
    /// Stop once no input arrived for this long (`None`: run until stopped).
    pub stop_after_idle: Option<Duration>,
}

/// Runs the job as a member of a consumer group until `stop` is set (or input stays idle, if configured).
///
/// When the job computes client features it runs as two stages on two threads (see [`crate::repartition`]): the
/// join, as `group`, writes joined records to the internal topic `<group>-joined`, partitioned by card1; the
/// scoring stage, as `<group>-score`, reads that topic, computes client features and scores. Each stage commits
/// its own input offsets after its output is durable, so the exactly-once argument holds for each.
pub fn run_kafka<'a>(
    config: &KafkaRunConfig,
    scorer: &mut dyn Scorer,
    progress: &RunProgress,
    stop: &'a AtomicBool,
    observer: Option<&'a mut dyn RunObserver>,
) -> Result<RunSummary, EngineError> {
    use crate::sink::kafka::KafkaSinks;
    use crate::source::kafka::KafkaSource;
    use fraudstream_data::registry::SchemaRegistry;

    let registry = SchemaRegistry::new(&config.registry_url, config.registry_auth.as_deref())?;
    fn control<'c>(
        config: &KafkaRunConfig,
        stop: &'c AtomicBool,
        role: Role,
        peer: Option<&'c Peer>,
        observer: Option<&'c mut dyn RunObserver>,
    ) -> Control<'c> {
        Control {
            stop,
            stop_after_idle: config.stop_after_idle,
            commit_interval: config.commit_interval,
            already_scored: HashSet::new(),
            observer,
            role,
            peer,
        }
    }
    if config.job.client_features.is_none() {
        let mut sinks = KafkaSinks::new(config.sinks.clone(), &registry)?;
        // What the scores topic already holds is read back when partitions are assigned (see `run_job`).
        let mut source = KafkaSource::new(&config.source, registry)?;
        return run_job(
            &mut source,
            &mut sinks,
            scorer,
            &config.job,
            progress,
            control(config, stop, Role::Whole, None, observer),
        );
    }
    let joined_topic = internal_topic(&config.source.group);
    let partitions = config.source.kafka.partition_counts(&[config.source.transactions_topic.as_str()])?[0]
        .unwrap_or(config.sinks.partitions);
    let join_job = JobConfig { client_features: None, ..config.job.clone() };
    // What each stage tells the other. The join stage's idle stop does not wait for the scoring stage.
    let join_status = Peer::default();
    let scoring_status = Peer { done: AtomicBool::new(true), failed: AtomicBool::new(false) };
    std::thread::scope(|scope| {
        let join_stage = std::thread::Builder::new()
            .name("join-stage".into())
            .spawn_scoped(scope, || {
                // Tells the scoring stage how this one ended, a panic included (it would otherwise wait for it).
                let mut ended = PeerGuard { peer: &join_status, ok: false };
                let result = (|| {
                    // Each stage's producer needs a transactional id of its own: one would fence the other.
                    let sinks_config = KafkaSinkConfig {
                        transactional_id: config.sinks.transactional_id.as_ref().map(|id| format!("{id}-join")),
                        ..config.sinks.clone()
                    };
                    let mut sinks =
                        KafkaSinks::new(sinks_config, &registry)?.with_joined_topic(&joined_topic, partitions)?;
                    let mut source = KafkaSource::new(&config.source, registry.clone())?;
                    let control = control(config, stop, Role::Join, Some(&scoring_status), None);
                    run_job(&mut source, &mut sinks, &mut NoModel, &join_job, progress, control)
                })();
                ended.ok = result.is_ok();
                drop(ended);
                result
            })
            .map_err(|e| EngineError::Config(format!("starting the join stage: {e}")))?;
        let scored = (|| {
            let mut sinks = KafkaSinks::new(config.sinks.clone(), &registry)?;
            // The topic may not exist before the join stage has started.
            config.source.kafka.ensure_topics(&[joined_topic.as_str()], partitions, config.sinks.replication)?;
            let source_config =
                KafkaSourceConfig { group: format!("{}-score", config.source.group), ..config.source.clone() };
            // Exactly-once mode has no read-back to skip what a restart reads again: offset order there.
            let event_time_order = config.sinks.transactional_id.is_none();
            let mut source = KafkaSource::joined(&source_config, &joined_topic, event_time_order)?;
            // The observer's borrow narrowed to this scope, where the stage statuses live.
            let observer = observer.map(|o| -> &mut dyn RunObserver { o });
            let control = control(config, stop, Role::Score, Some(&join_status), observer);
            run_job(&mut source, &mut sinks, scorer, &config.job, progress, control)
        })();
        if scored.is_err() {
            // Stop the join stage too: nothing would score what it forwards.
            scoring_status.failed.store(true, Ordering::Relaxed);
        }
        let joined = join_stage.join().map_err(|_| EngineError::Config("the join stage panicked".into()))?;
        let (mut summary, joined) = (scored?, joined?);
        summary.join = joined.join;
        summary.dead_letters += joined.dead_letters;
        summary.forwarded = joined.forwarded;
        Ok(summary)
    })
}

/// Marks a stage done when it ends, and failed unless it set `ok` (an error or a panic).
struct PeerGuard<'a> {
    peer: &'a Peer,
    ok: bool,
}

impl Drop for PeerGuard<'_> {
    fn drop(&mut self) {
        self.peer.failed.store(!self.ok, Ordering::Relaxed);
        self.peer.done.store(true, Ordering::Relaxed);
    }
}

/// The internal topic of joined records of the consumer group `group` (see [`crate::repartition`]).
pub fn internal_topic(group: &str) -> String {
    format!("{group}-joined")
}

/// The join stage's scorer: it forwards joined records and never scores.
struct NoModel;

impl Scorer for NoModel {
    fn score(
        &mut self,
        _rows: &[crate::join::Joined],
        _out: &mut crate::scorer::BatchScores,
    ) -> Result<(), EngineError> {
        Err(EngineError::Config("the join stage does not score".into()))
    }
}

//! The streaming job in embedded mode: CSV files → event time + watermarks → interval join → features → model →
//! file sinks, in one process with no broker.
//!
//! Records are replayed in event-time order through the same [`FileSource`] the ingest uses, as fast as possible or
//! paced (`--speedup`). The join emits transactions (with or without identity); the model stage collects them into
//! micro-batches of up to `batch_size` rows, flushed when full or when the oldest row has waited `batch_timeout`,
//! and scores them with a [`Scorer`] (in-process: the shared input mapping and the ONNX engine). Everything the job cannot use is written to
//! `dead_letters.jsonl` with a reason; nothing is dropped silently.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use fraudstream_data::Record;

use crate::error::EngineError;
use crate::join::{IntervalJoin, JoinConfig, JoinOutput, JoinStats, Joined};
use crate::pacing::{Pacer, Pacing};
use crate::scorer::{BatchScores, Scorer};
use crate::sink::files::{FileSinks, Scored};
use crate::source::files::{FileSource, FileSourceConfig};
use crate::source::prefetch::Prefetch;
use crate::source::{Source, SourceEvent};
use crate::watermark::WatermarkTracker;

/// Everything an embedded run needs.
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub files: FileSourceConfig,
    pub join: JoinConfig,
    pub max_out_of_orderness: Duration,
    pub idle_timeout: Duration,
    pub pacing: Pacing,
    pub batch_size: usize,
    pub batch_timeout: Duration,
    /// Scores at or above this raise an alert and get label 1.
    pub threshold: f64,
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
    pub alerts: u64,
    pub dead_letters: u64,
    pub join: JoinStats,
    pub elapsed: Duration,
    /// Arrival → score latency percentiles in milliseconds: p50, p99, max.
    pub latency_ms: (f64, f64, f64),
    /// ROC AUC of the scores against `isFraud`, when the input is labelled.
    pub auc: Option<f64>,
}

/// Inputs 0 and 1 of the watermark tracker.
const TRANSACTIONS: u8 = 0;
const IDENTITIES: u8 = 1;

/// The model stage: micro-batches joined records and scores them.
struct ModelStage<'s> {
    scorer: &'s mut dyn Scorer,
    rows: Vec<Joined>,
    batch_scores: BatchScores,
    oldest: Option<Instant>,
    threshold: f64,
    latencies: Vec<f32>,
    scores: Vec<f64>,
    labels: Vec<bool>,
    all_labelled: bool,
    alerts: u64,
}

impl ModelStage<'_> {
    fn push(&mut self, joined: Joined) {
        self.oldest.get_or_insert(joined.arrived);
        self.rows.push(joined);
    }

    fn due(&self, batch_size: usize, timeout: Duration, now: Instant) -> bool {
        self.rows.len() >= batch_size || self.oldest.is_some_and(|t| now.duration_since(t) >= timeout)
    }

    fn flush(&mut self, sinks: &mut FileSinks, progress: &RunProgress) -> Result<(), EngineError> {
        if self.rows.is_empty() {
            return Ok(());
        }
        self.batch_scores.clear();
        self.scorer.score(&self.rows, &mut self.batch_scores)?;
        let now = Instant::now();
        for (joined, &score) in self.rows.iter().zip(&self.batch_scores.p) {
            let latency_ms = now.duration_since(joined.arrived).as_secs_f64() * 1000.0;
            let label = score >= self.threshold;
            self.alerts += u64::from(label);
            self.latencies.push(latency_ms as f32);
            match joined.transaction.is_fraud() {
                Some(l) => {
                    self.scores.push(score);
                    self.labels.push(l);
                }
                None => self.all_labelled = false,
            }
            sinks.write_score(&Scored { joined, score, label, latency_ms })?;
        }
        progress.scored.fetch_add(self.rows.len() as u64, Ordering::Relaxed);
        progress.alerts.store(self.alerts, Ordering::Relaxed);
        self.rows.clear();
        self.oldest = None;
        Ok(())
    }
}

/// Runs the job over the files to their end, scoring with `scorer`.
pub fn run_embedded(
    config: &RunConfig,
    scorer: &mut dyn Scorer,
    progress: &RunProgress,
) -> Result<RunSummary, EngineError> {
    let started = Instant::now();
    let mut sinks = FileSinks::create(&config.out_dir, &config.model_name)?;
    let mut stage = ModelStage {
        scorer,
        rows: Vec::with_capacity(config.batch_size),
        batch_scores: BatchScores::default(),
        oldest: None,
        threshold: config.threshold,
        latencies: Vec::new(),
        scores: Vec::new(),
        labels: Vec::new(),
        all_labelled: true,
        alerts: 0,
    };
    // Parsing overlaps with the join and the model on the other core.
    let mut source = Prefetch::start(FileSource::open(&config.files)?, Duration::from_millis(100));
    let mut join = IntervalJoin::new(config.join);
    let mut watermarks = WatermarkTracker::new(config.max_out_of_orderness, config.idle_timeout);
    let mut pacer = Pacer::new(config.pacing);
    let mut out = Vec::new();
    let mut dead_letters = 0u64;
    let mut done = false;
    while !done {
        let now = Instant::now();
        match source.poll(Duration::ZERO)? {
            SourceEvent::Record { record, origin } => {
                // While waiting for the record's replay time, keep partial batches and join timeouts moving.
                let release = now + pacer.delay(record.event_time(), now);
                while Instant::now() < release {
                    std::thread::sleep((release - Instant::now()).min(Duration::from_millis(5)));
                    let now = Instant::now();
                    join.on_processing_time(now, &mut out);
                    drain(&mut out, &mut stage, &mut sinks, progress, &mut dead_letters)?;
                    if stage.due(config.batch_size, config.batch_timeout, now) {
                        stage.flush(&mut sinks, progress)?;
                    }
                }
                let now = Instant::now();
                progress.records_in.fetch_add(1, Ordering::Relaxed);
                match record {
                    Record::Transaction(tx) => {
                        watermarks.observe((TRANSACTIONS, 0), tx.event_time(), now);
                        join.on_transaction(tx, origin, now, &mut out);
                    }
                    Record::Identity(identity) => {
                        watermarks.observe((IDENTITIES, 0), identity.event_time, now);
                        join.on_identity(identity, origin, now, &mut out);
                    }
                }
                if let Some(w) = watermarks.current(now) {
                    join.on_watermark(w, now, &mut out);
                }
            }
            SourceEvent::DeadLetter(d) => out.push(JoinOutput::DeadLetter(d)),
            SourceEvent::Idle => {}
            SourceEvent::End => {
                watermarks.finish((TRANSACTIONS, 0));
                watermarks.finish((IDENTITIES, 0));
                join.finish(now, &mut out);
                done = true;
            }
        }
        join.on_processing_time(now, &mut out);
        drain(&mut out, &mut stage, &mut sinks, progress, &mut dead_letters)?;
        if done || stage.due(config.batch_size, config.batch_timeout, Instant::now()) {
            stage.flush(&mut sinks, progress)?;
        }
        progress.state_size.store(join.state_size() as u64, Ordering::Relaxed);
    }
    sinks.flush()?;
    let auc = if stage.all_labelled { crate::quality::roc_auc(&stage.scores, &stage.labels) } else { None };
    let latency_ms = percentiles(&mut stage.latencies);
    Ok(RunSummary {
        scored: stage.latencies.len() as u64,
        alerts: stage.alerts,
        dead_letters,
        join: join.stats().clone(),
        elapsed: started.elapsed(),
        latency_ms,
        auc,
    })
}

/// Routes the join's outputs: joined records to the model stage, dead letters to their sink.
fn drain(
    out: &mut Vec<JoinOutput>,
    stage: &mut ModelStage<'_>,
    sinks: &mut FileSinks,
    progress: &RunProgress,
    dead_letters: &mut u64,
) -> Result<(), EngineError> {
    for o in out.drain(..) {
        match o {
            JoinOutput::Joined(j) => stage.push(*j),
            JoinOutput::DeadLetter(d) => {
                *dead_letters += 1;
                progress.dead_letters.fetch_add(1, Ordering::Relaxed);
                sinks.write_dead_letter(&d)?;
            }
        }
    }
    Ok(())
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
